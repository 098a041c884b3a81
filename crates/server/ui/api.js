// @ts-check
// THE API client: every request to /api goes through here (JSON in and out, failures thrown as
// ApiError with the server's message; uploads with their progress), and so do the addresses the
// page hands to the browser itself (images, downloads, the event stream).
import { limiter } from './lib/util.js';

/**
 * A study as the API lists it (DICOM keywords; any may be missing).
 * @typedef {{
 *   StudyInstanceUID: string, PatientName?: string, PatientID?: string, PatientBirthDate?: string,
 *   PatientSex?: string, StudyDate?: string, StudyTime?: string, StudyDescription?: string,
 *   AccessionNumber?: string, ModalitiesInStudy?: string[] | string,
 *   NumberOfStudyRelatedSeries?: number | string, NumberOfStudyRelatedInstances?: number | string,
 *   [key: string]: unknown,
 * }} StudyRow
 */
/**
 * A series as the API lists it, local or remote (Rows and Columns only for local ones).
 * @typedef {{
 *   SeriesInstanceUID: string, SeriesNumber?: number | string, SeriesDescription?: string,
 *   Modality?: string, NumberOfSeriesRelatedInstances?: number | string, SeriesSize?: number,
 *   Rows?: number | null, Columns?: number | null, ImageSets?: number, NumberOfFrames?: number,
 *   [key: string]: unknown,
 * }} SeriesRow
 */
/**
 * One image set of a local series (GET /api/series/{uid}/image-sets), with the instance in its
 * middle (its thumbnail's).
 * @typedef {{
 *   label: string, images: number, localizer: boolean, plane: string | null,
 *   temporal: number | null, instances: number, middle: string,
 * }} ImageSetRow
 */
/**
 * A page of the study search; `total_exact` false: more than `total` studies match (the server
 * stops counting there).
 * @typedef {{ studies?: StudyRow[], total?: number, total_exact?: boolean }} StudiesPage
 */
/** @typedef {{ study?: StudyRow, series?: SeriesRow[] }} StudyDetail */
/** @typedef {{ SOPInstanceUID: string, InstanceNumber?: number | string, NumberOfFrames?: number | string }} InstanceRow */
/**
 * One element of an instance's metadata; a sequence has items, each a list of elements.
 * @typedef {{ tag?: string, keyword?: string, name?: string, vr?: string, value?: unknown, items?: MetadataElement[][] }} MetadataElement
 */
/** @typedef {{ patients: number, studies: number, series: number, instances: number, bytes: number }} StoreTotals */
/**
 * GET /api/status.
 * @typedef {{ ae_title?: string, dimse?: { address?: string, running?: boolean }, store?: StoreTotals, http?: string, version?: string }} ServerStatus
 */
/** @typedef {'queued' | 'running' | 'waiting_retry' | 'failed' | 'canceled' | 'completed'} JobState */
/** @typedef {'import' | 'query' | 'retrieve' | 'send' | 'thumbnail' | 'echo' | 'delete' | 'receive' | 'modify' | 'anonymize'} JobKind */
/** @typedef {{ level: 'patient' | 'study' | 'series', uid: string }} DeleteTarget */
/** Where a de-identified copy goes. @typedef {{ to: 'local' } | { to: 'folder' | 'zip' | 'node', at: string }} AnonymizeDestination */
/** A pseudonym given for a source Patient ID. @typedef {{ source: string, patient_id: string, patient_name?: string }} PseudonymRow */
/**
 * What a job does (the fields its kind uses).
 * @typedef {{
 *   kind: JobKind | string, node?: string, study_uid?: string, series_uid?: string,
 *   sop_instance_uid?: string, preview_first?: boolean, preview_only?: boolean,
 *   target?: DeleteTarget, paths?: string[], link?: boolean, calling_ae_title?: string, peer?: string,
 *   set?: Record<string, string>, remove?: string[], new_uids?: boolean, keep_source?: boolean,
 *   options?: string[], destination?: AnonymizeDestination, pseudonym_rows?: PseudonymRow[],
 *   blank?: { x: number, y: number, width: number, height: number }[],
 * }} JobSpec
 */
/** One series' instances done of its total (0: not known). @typedef {{ done: number, total: number }} SeriesProgress */
/**
 * A job's progress; `series`, for a retrieval of a whole study, per series.
 * @typedef {{
 *   items_done?: number, items_total?: number, bytes_done?: number, bytes_total?: number,
 *   series?: Record<string, SeriesProgress>,
 * }} JobProgress
 */
/** @typedef {{ category?: string, message?: string }} JobError */
/** The jobs of an activity, by state. @typedef {{ total: number, active: number, completed: number, failed: number, canceled: number }} ChildCounts */
/** @typedef {{ at?: number, message?: string }} JobLogLine */
/**
 * A job record as GET /api/jobs/{id} returns it (listings leave out the log).
 * @typedef {{
 *   id: number, kind?: JobKind, state?: JobState, title?: string, priority?: string, node?: string | null,
 *   spec?: JobSpec, progress?: JobProgress | null, error?: JobError | null, attempts?: number,
 *   max_retries?: number, created_at?: number, started_at?: number | null, finished_at?: number | null,
 *   retry_at?: number | null, depends_on?: number[], output?: unknown, log?: JobLogLine[],
 *   parent?: number | null, children?: ChildCounts, claimed_by?: string | null,
 * }} Job
 */
/**
 * An event of the job engine (the `job` server-sent event).
 * @typedef {{
 *   event: 'queued' | 'state' | 'progress' | 'log' | 'priority', id: number, kind?: JobKind, title?: string,
 *   priority?: string, merged?: boolean, state?: JobState, attempts?: number, error?: JobError | null,
 *   retry_at?: number | null, progress?: JobProgress, message?: string, parent?: number,
 * }} JobEvent
 */
/** @typedef {{ kind: 'none' } | { kind: 'basic', user?: string, password?: string } | { kind: 'bearer', token?: string }} NodeAuth */
/**
 * A remote node (a DIMSE peer, or a DICOMweb server when `dicomweb` is set).
 * @typedef {{
 *   name: string, ae_title: string, host: string, port: number, calling_ae_title?: string | null,
 *   retrieve_method?: 'c-get' | 'c-move' | string, move_destination?: string | null,
 *   query_retrieve?: boolean, send_target?: boolean, timeout_seconds?: number, preferred?: boolean,
 *   dicomweb?: { url: string, auth?: NodeAuth },
 *   tls?: { ca: string, certificate?: string | null, private_key?: string | null } | null,
 * }} Node
 */
/** @typedef {{ ok?: boolean, round_trip_ms?: number, error?: string }} VerifyResult */
/**
 * Filters of a remote study search.
 * @typedef {{ patient_name: string, patient_id: string, date: string, modality: string[], study_description: string, accession: string }} RemoteFilters
 */

export const enc = encodeURIComponent;

/**
 * The HTTP status of a thrown ApiError (undefined for anything else).
 * @param {unknown} err
 * @returns {number | undefined}
 */
export const statusOf = (err) => (err instanceof ApiError ? err.status : undefined);

export class ApiError extends Error {
  /**
   * @param {string} message the server's message (or what went wrong)
   * @param {number} status the HTTP status, 0 when the server could not be reached
   * @param {string} [field] the request field the server refused
   */
  constructor(message, status, field) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.field = field;
    /** @type {unknown} the error response's JSON body */
    this.data = undefined;
  }
}

/**
 * A JSON request to the API; resolves to the answer's JSON (null when empty).
 * @param {string} path
 * @param {{ method?: string, body?: unknown, signal?: AbortSignal }} [opts]
 * @returns {Promise<any>}
 */
export async function api(path, opts = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' };
  /** @type {RequestInit} */
  const init = { method: opts.method || 'GET', headers, signal: opts.signal };
  if (opts.body !== undefined) { headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(opts.body); }
  let res;
  try { res = await fetch(path, init); } catch (e) {
    if (e instanceof Error && e.name === 'AbortError') throw e;
    throw new ApiError('the server cannot be reached', 0);
  }
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch (_) { data = null; } }
  if (!res.ok) {
    const msg = (data && typeof data.error === 'string' && data.error) || `${res.status} ${res.statusText || 'error'}`;
    const err = new ApiError(msg, res.status, data && data.field);
    err.data = data;
    throw err;
  }
  return data;
}

/**
 * A JSON POST (an empty object when no body).
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export const post = (path, body) => api(path, { method: 'POST', body: body === undefined ? {} : body });

/** At most 4 series listings at once. */
export const netLimit = limiter(4);
/** At most 4 job submissions at once. */
export const jobLimit = limiter(4);

/**
 * @typedef {{ outcome: 'load', status: number, data: any } | { outcome: 'error' | 'abort' }} UploadResult
 */

/**
 * Uploads one file (POST /api/upload) with progress; XMLHttpRequest, for the upload's progress
 * events that fetch does not give. `onDone` is called once, from the request's own event (so
 * within abort() for an aborted upload).
 * @param {string} name the file's name (or path inside a dropped folder)
 * @param {Blob} file
 * @param {{ onProgress: (loaded: number) => void, onDone: (result: UploadResult) => void }} on
 * @returns {{ abort: () => void }}
 */
export function upload(name, file, on) {
  const xhr = new XMLHttpRequest();
  xhr.open('POST', `/api/upload?name=${enc(name)}`);
  xhr.setRequestHeader('Content-Type', 'application/octet-stream');
  xhr.upload.addEventListener('progress', (e) => on.onProgress(e.loaded));
  xhr.addEventListener('load', () => {
    let data = null;
    try { data = JSON.parse(xhr.responseText); } catch (_) { data = null; }
    on.onDone({ outcome: 'load', status: xhr.status, data });
  });
  xhr.addEventListener('error', () => on.onDone({ outcome: 'error' }));
  xhr.addEventListener('abort', () => on.onDone({ outcome: 'abort' }));
  xhr.send(file);
  return { abort: () => xhr.abort() };
}

/** The server-sent events of jobs and the store. */
export const EVENTS_URL = '/api/events';

/**
 * A series' thumbnail, or that of one of its image sets (`v` busts the cache after the series changed).
 * @param {string} seriesUid
 * @param {number} size
 * @param {number} [v]
 * @param {number} [set]
 */
export const thumbnailUrl = (seriesUid, size, v, set) =>
  `/api/series/${enc(seriesUid)}/thumbnail?size=${size}${set != null ? '&set=' + set : ''}${v ? '&v=' + v : ''}`;

/**
 * The image sets of a local series, largest first (localizers last).
 * @param {string} seriesUid
 * @returns {Promise<ImageSetRow[]>}
 */
export const imageSetsOf = (seriesUid) => api(`/api/series/${enc(seriesUid)}/image-sets`).then((r) => (r && r.sets) || []);

/**
 * An instance (or one frame of it) rendered for the preview.
 * @param {string} sop
 * @param {number | null} frame
 */
export const renderedUrl = (sop, frame) => `/api/instances/${enc(sop)}/rendered?size=768${frame ? '&frame=' + frame : ''}`;

/**
 * One zip of patients, studies and series; `media`: ISO 9660 names and a DICOMDIR.
 * @param {{ patient?: string[], study?: string[], series?: string[] }} what PatientIDs, Study and Series Instance UIDs
 * @param {boolean} [media]
 */
export function downloadUrl(what, media = false) {
  const p = new URLSearchParams();
  for (const level of /** @type {const} */ (['patient', 'study', 'series'])) for (const key of what[level] || []) p.append(level, key);
  if (media) p.set('dicomdir', '1');
  return `/api/download?${p.toString()}`;
}
/**
 * The viewer page of a series; with `node`, the series is retrieved from it while shown; with
 * `instance`, the image set holding that instance is shown first.
 * @param {string} studyUid
 * @param {string} seriesUid
 * @param {string | null} [node]
 * @param {string | null} [instance]
 */
export const viewerUrl = (studyUid, seriesUid, node, instance) => {
  const query = [node ? `node=${enc(node)}` : '', instance ? `instance=${enc(instance)}` : ''].filter(Boolean).join('&');
  return `/view/${enc(studyUid)}/${enc(seriesUid)}${query ? '?' + query : ''}`;
};
/**
 * The link that has 3D Slicer load a study from this server's DICOMweb, in the form Slicer's
 * DICOM module handles (`onURLReceived` in Modules/Scripted/DICOM/DICOM.py): whole studies only.
 * @param {string} studyUid
 */
export const slicerUrl = (studyUid) =>
  `slicer://viewer/?studyUID=${enc(studyUid)}&dicomweb_endpoint=${enc(`${location.origin}/dicom-web`)}`;
