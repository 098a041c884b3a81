// @ts-check
// The viewer's client of this server's DICOMweb: a series' metadata, and frames as full-precision
// pixels (greyscale, windowed in the page) or rendered (colour and palette images, whose colour
// the server's codecs already get right).

const enc = encodeURIComponent;

/** The failure of a request, with the server's own sentence. */
export class FetchError extends Error {
  /** @param {string} message @param {number} status */
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/**
 * @param {Response} response
 * @param {string} what
 */
async function failure(response, what) {
  let message = `${what}: HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body && typeof body.error === 'string') message = `${what}: ${body.error}`;
  } catch { /* not JSON */ }
  return new FetchError(message, response.status);
}

/** @param {string} study @param {string} series */
export const seriesPath = (study, series) => `/dicom-web/studies/${enc(study)}/series/${enc(series)}`;

/**
 * A DICOM JSON answer; a search that matches nothing (204) is an empty list.
 * @param {string} url
 * @param {string} what
 * @returns {Promise<import('./series.js').DicomJson[]>}
 */
async function dicomJson(url, what) {
  const response = await fetch(url, { headers: { Accept: 'application/dicom+json' } });
  if (!response.ok) throw await failure(response, what);
  return response.status === 204 ? [] : response.json();
}

/** Every instance's metadata. @param {string} study @param {string} series */
export const seriesMetadata = (study, series) => dicomJson(`${seriesPath(study, series)}/metadata`, 'series metadata');

/** The series of a study (QIDO-RS). @param {string} study */
export const seriesOfStudy = (study) => dicomJson(`/dicom-web/studies/${enc(study)}/series`, 'series of the study');

/**
 * The instances of a series the index lists (QIDO-RS), with `fields` besides the defaults.
 * @param {string} study
 * @param {string} series
 * @param {string[]} [fields]
 */
export const instancesOfSeries = (study, series, fields = []) =>
  dicomJson(`${seriesPath(study, series)}/instances${fields.length ? `?includefield=${fields.join(',')}` : ''}`, 'instances of the series');

/** One instance's metadata. @param {string} study @param {string} series @param {string} sop */
export const instanceMetadata = (study, series, sop) =>
  dicomJson(`${seriesPath(study, series)}/instances/${enc(sop)}/metadata`, `metadata of ${sop}`);

/**
 * Where `pattern` starts in `bytes` at or after `from`, or -1.
 * @param {Uint8Array} bytes
 * @param {Uint8Array} pattern
 * @param {number} from
 */
function indexOf(bytes, pattern, from) {
  const firstByte = pattern[0];
  const last = bytes.length - pattern.length;
  outer: for (let i = bytes.indexOf(firstByte, from); i !== -1 && i <= last; i = bytes.indexOf(firstByte, i + 1)) {
    for (let j = 1; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * The bodies of a multipart/related answer (`expected` of them, when known).
 * @param {ArrayBuffer} buffer
 * @param {string} contentType
 * @param {number} [expected]
 * @returns {ArrayBuffer[]}
 */
export function multipartBodies(buffer, contentType, expected) {
  const match = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!match) throw new Error(`not a multipart answer: ${contentType}`);
  const bytes = new Uint8Array(buffer);
  const delimiter = new TextEncoder().encode(`--${match[1]}`);
  const headerEnd = new TextEncoder().encode('\r\n\r\n');
  /** @type {ArrayBuffer[]} */
  const parts = [];
  let at = indexOf(bytes, delimiter, 0);
  if (expected === 1 && at !== -1) {
    // One part (a frame a request, the usual case): it ends at the closing delimiter, found
    // from the end rather than by scanning the pixels for the boundary.
    const closing = new TextEncoder().encode(`\r\n--${match[1]}--`);
    const tail = indexOf(bytes, closing, Math.max(0, bytes.length - closing.length - 8));
    const headers = indexOf(bytes, headerEnd, at + delimiter.length);
    if (tail !== -1 && headers !== -1) return [buffer.slice(headers + headerEnd.length, tail)];
  }
  while (at !== -1) {
    const afterDelimiter = at + delimiter.length;
    if (bytes[afterDelimiter] === 0x2d && bytes[afterDelimiter + 1] === 0x2d) break; // "--": the end
    const headers = indexOf(bytes, headerEnd, afterDelimiter);
    if (headers === -1) break;
    const start = headers + headerEnd.length;
    const next = indexOf(bytes, delimiter, start);
    if (next === -1) break;
    // The CRLF before the next delimiter belongs to it.
    parts.push(buffer.slice(start, next - 2));
    at = next;
  }
  return parts;
}

/**
 * Frames of an instance decoded to native little-endian pixels, one buffer per frame.
 * @param {string} study
 * @param {string} series
 * @param {string} sop
 * @param {number[]} frames 1-based
 * @param {AbortSignal} [signal]
 * @returns {Promise<ArrayBuffer[]>}
 */
export async function nativeFrames(study, series, sop, frames, signal) {
  const url = `${seriesPath(study, series)}/instances/${enc(sop)}/frames/${frames.join(',')}`;
  const response = await fetch(url, { headers: { Accept: 'multipart/related; type="application/octet-stream"' }, signal });
  if (!response.ok) throw await failure(response, `frames of ${sop}`);
  const parts = multipartBodies(await response.arrayBuffer(), response.headers.get('content-type') || '', frames.length);
  if (parts.length !== frames.length) throw new Error(`frames of ${sop}: ${parts.length} parts for ${frames.length} frames`);
  return parts;
}

/**
 * One frame as the server renders it (PNG), for colour and palette images.
 * @param {string} study
 * @param {string} series
 * @param {string} sop
 * @param {number} frame 1-based
 * @param {AbortSignal} [signal]
 */
export async function renderedFrame(study, series, sop, frame, signal) {
  const url = `${seriesPath(study, series)}/instances/${enc(sop)}/frames/${frame}/rendered`;
  const response = await fetch(url, { headers: { Accept: 'image/png' }, signal });
  if (!response.ok) throw await failure(response, `rendering ${sop}`);
  return createImageBitmap(await response.blob());
}
