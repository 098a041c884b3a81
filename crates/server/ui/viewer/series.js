// @ts-check
// A series' DICOM JSON metadata turned into what the viewer draws: its slices (a frame of an
// instance each, so that a multi-frame instance is a stack of its frames), split into image
// sets (same orientation, size and spacing; localizers apart; one set per temporal position)
// and each set ordered along its normal rather than by instance number.
import { fmtDA, fmtPN } from '../lib/format.js';

/** @typedef {Record<string, { vr?: string, Value?: any[], BulkDataURI?: string }>} DicomJson */

/**
 * One window of an instance (its own VOI, or one the viewer proposes).
 * @typedef {{ center: number, width: number, name: string }} VoiWindow
 */
/**
 * One drawable image: a frame of an instance, with what drawing and measuring it needs.
 * @typedef {{
 *   sop: string, frame: number, frames: number, instanceNumber: number,
 *   rows: number, columns: number, bitsAllocated: number, bitsStored: number,
 *   signed: boolean, samples: number, photometric: string,
 *   slope: number, intercept: number, units: string, windows: VoiWindow[],
 *   position: number[] | null, orientation: number[] | null,
 *   spacing: [number, number] | null, thickness: number | null,
 *   localizer: boolean, temporal: number | null, frameRate: number | null,
 * }} Slice
 */
/**
 * A stack the viewer scrolls through.
 * @typedef {{ key: string, label: string, slices: Slice[], normal: number[] | null }} ImageSet
 */
/**
 * What the corners show of the patient, study and series.
 * @typedef {{
 *   patientName: string, patientId: string, birthDate: string, sex: string,
 *   studyDescription: string, studyDate: string, seriesNumber: string,
 *   seriesDescription: string, modality: string, institution: string,
 * }} SeriesInfo
 */

/**
 * The first value of a tag, if any.
 * @param {DicomJson | undefined} ds
 * @param {string} tag
 * @returns {any}
 */
export function first(ds, tag) {
  const v = ds && ds[tag] && ds[tag].Value;
  return v && v.length ? v[0] : undefined;
}

/**
 * Every value of a tag.
 * @param {DicomJson | undefined} ds
 * @param {string} tag
 * @returns {any[]}
 */
function all(ds, tag) {
  const v = ds && ds[tag] && ds[tag].Value;
  return Array.isArray(v) ? v : [];
}

/**
 * A tag's value as text (a person name by its alphabetic form).
 * @param {DicomJson | undefined} ds
 * @param {string} tag
 */
export function text(ds, tag) {
  const v = first(ds, tag);
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return String(v.Alphabetic || v.Ideographic || '');
  return String(v);
}

/**
 * A number, or `fallback` when absent or not a number.
 * @param {unknown} v
 * @param {number} fallback
 */
function num(v, fallback) {
  const n = typeof v === 'number' ? v : parseFloat(String(v));
  return Number.isFinite(n) ? n : fallback;
}

/**
 * Numbers of a multi-valued tag, or null unless there are `count` of them.
 * @param {DicomJson | undefined} ds
 * @param {string} tag
 * @param {number} count
 * @returns {number[] | null}
 */
function numbers(ds, tag, count) {
  const v = all(ds, tag).map((x) => num(x, NaN));
  return v.length === count && v.every(Number.isFinite) ? v : null;
}

/**
 * The first item of a sequence.
 * @param {DicomJson | undefined} ds
 * @param {string} tag
 * @returns {DicomJson | undefined}
 */
function item(ds, tag) {
  return first(ds, tag);
}

/**
 * A functional group's macro for one frame: the per-frame one, else the shared one.
 * @param {DicomJson | undefined} perFrame
 * @param {DicomJson | undefined} shared
 * @param {string} tag
 */
function group(perFrame, shared, tag) {
  return item(perFrame, tag) || item(shared, tag);
}

/** @param {number[]} a @param {number[]} b */
export function cross(a, b) {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

/** @param {number[]} a @param {number[]} b */
export function dot(a, b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/**
 * The windows of a data set (or of a frame VOI macro), named by their explanations.
 * @param {DicomJson | undefined} ds
 * @returns {VoiWindow[]}
 */
function windowsOf(ds) {
  const centers = all(ds, '00281050').map((x) => num(x, NaN));
  const widths = all(ds, '00281051').map((x) => num(x, NaN));
  const names = all(ds, '00281055');
  /** @type {VoiWindow[]} */
  const out = [];
  centers.forEach((center, i) => {
    const width = widths[i];
    if (Number.isFinite(center) && Number.isFinite(width) && width >= 1) {
      out.push({ center, width, name: names[i] ? String(names[i]) : `Window ${i + 1}` });
    }
  });
  return out;
}

/**
 * Every slice of one instance.
 * @param {DicomJson} ds
 * @returns {Slice[]}
 */
function slicesOf(ds) {
  const frames = Math.max(1, Math.floor(num(first(ds, '00280008'), 1)));
  const perFrame = all(ds, '52009230');
  const shared = item(ds, '52009229');
  const imageType = all(ds, '00080008').map((t) => String(t).toUpperCase());
  const frameTime = num(first(ds, '00181063'), NaN);
  const rate = num(first(ds, '00182144'), num(first(ds, '00180040'), frameTime > 0 ? 1000 / frameTime : NaN));
  /** @type {Slice[]} */
  const out = [];
  for (let f = 0; f < frames; f++) {
    const pf = perFrame[f];
    const plane = group(pf, shared, '00209113');
    const orient = group(pf, shared, '00209116');
    const measures = group(pf, shared, '00289110');
    const transform = group(pf, shared, '00289145');
    const voi = group(pf, shared, '00289132');
    const content = item(pf, '00209111');
    const spacing = numbers(measures, '00280030', 2) || numbers(ds, '00280030', 2) || numbers(ds, '00181164', 2);
    const windows = windowsOf(voi);
    out.push({
      sop: text(ds, '00080018'),
      frame: f + 1,
      frames,
      instanceNumber: num(first(ds, '00200013'), 0),
      rows: num(first(ds, '00280010'), 0),
      columns: num(first(ds, '00280011'), 0),
      bitsAllocated: num(first(ds, '00280100'), 16),
      bitsStored: num(first(ds, '00280101'), num(first(ds, '00280100'), 16)),
      signed: num(first(ds, '00280103'), 0) === 1,
      samples: num(first(ds, '00280002'), 1),
      photometric: text(ds, '00280004').toUpperCase() || 'MONOCHROME2',
      slope: num(first(transform, '00281053'), num(first(ds, '00281053'), 1)) || 1,
      intercept: num(first(transform, '00281052'), num(first(ds, '00281052'), 0)),
      units: text(transform, '00281054') || text(ds, '00281054') || (text(ds, '00080060') === 'CT' ? 'HU' : ''),
      windows: windows.length ? windows : windowsOf(ds),
      position: numbers(plane, '00200032', 3) || (frames === 1 ? numbers(ds, '00200032', 3) : null),
      orientation: numbers(orient, '00200037', 6) || numbers(ds, '00200037', 6),
      spacing: spacing ? [spacing[0], spacing[1]] : null,
      thickness: Number.isFinite(num(first(measures, '00180050'), NaN)) ? num(first(measures, '00180050'), 0)
        : Number.isFinite(num(first(ds, '00180050'), NaN)) ? num(first(ds, '00180050'), 0) : null,
      localizer: imageType.includes('LOCALIZER'),
      temporal: Number.isFinite(num(first(content, '00209128'), NaN)) ? num(first(content, '00209128'), 0)
        : Number.isFinite(num(first(ds, '00200100'), NaN)) ? num(first(ds, '00200100'), 0) : null,
      frameRate: Number.isFinite(rate) && rate > 0 ? Math.round(rate * 100) / 100 : null,
    });
  }
  return out;
}

/** @param {number[] | null} v @param {number} digits */
const rounded = (v, digits) => (v ? v.map((x) => x.toFixed(digits)).join(',') : '-');

/**
 * What puts two slices in the same set: geometry, and whether it is a localizer.
 * @param {Slice} s
 */
function geometryKey(s) {
  return [s.localizer ? 'L' : 'S', s.rows, s.columns, s.samples, rounded(s.orientation, 2), rounded(s.spacing, 3)].join('|');
}

/**
 * The normal of a set's planes (row × column direction), if it has an orientation.
 * @param {Slice} s
 */
function normalOf(s) {
  return s.orientation ? cross(s.orientation.slice(0, 3), s.orientation.slice(3, 6)) : null;
}

/**
 * The plane a slice's orientation is closest to, for a set's label.
 * @param {number[] | null} normal
 */
function planeName(normal) {
  if (!normal) return '';
  const a = normal.map(Math.abs);
  if (a[2] >= a[0] && a[2] >= a[1]) return 'axial';
  if (a[1] >= a[0]) return 'coronal';
  return 'sagittal';
}

/**
 * Orders a set's slices along its normal (instance and frame number when positions are missing).
 * @param {Slice[]} slices
 * @param {number[] | null} normal
 */
function sortSlices(slices, normal) {
  const byNumber = (/** @type {Slice} */ a, /** @type {Slice} */ b) => a.instanceNumber - b.instanceNumber || a.frame - b.frame;
  if (!normal || slices.some((s) => !s.position)) return slices.sort(byNumber);
  // Head first: the slice farthest along the normal's superior (or anterior, or left) end last.
  return slices.sort((a, b) => dot(/** @type {number[]} */ (a.position), normal) - dot(/** @type {number[]} */ (b.position), normal) || byNumber(a, b));
}

/**
 * The series' image sets, largest first (localizers last).
 * @param {DicomJson[]} instances
 * @returns {ImageSet[]}
 */
export function imageSets(instances) {
  /** @type {Map<string, Slice[]>} */
  const groups = new Map();
  for (const ds of instances) {
    for (const s of slicesOf(ds)) {
      if (!s.rows || !s.columns) continue;
      const key = geometryKey(s);
      const list = groups.get(key);
      if (list) list.push(s); else groups.set(key, [s]);
    }
  }
  /** @type {ImageSet[]} */
  const sets = [];
  for (const [key, slices] of groups) {
    const normal = normalOf(slices[0]);
    // Several slices at one position with distinct temporal positions: one set per time point.
    const temporal = new Set(slices.map((s) => s.temporal));
    const positions = new Set(slices.map((s) => rounded(s.position, 2)));
    const split = temporal.size > 1 && positions.size < slices.length;
    const parts = split
      ? [...temporal].sort((a, b) => (a ?? 0) - (b ?? 0)).map((t) => ({ t, slices: slices.filter((s) => s.temporal === t) }))
      : [{ t: null, slices }];
    for (const part of parts) {
      const s0 = part.slices[0];
      const kind = s0.localizer ? 'localizer' : planeName(normal);
      const label = [
        `${part.slices.length} ${part.slices.length === 1 ? 'image' : 'images'}`,
        kind, `${s0.columns}×${s0.rows}`, part.t !== null ? `time ${part.t}` : '',
      ].filter(Boolean).join(' · ');
      sets.push({ key: `${key}|${part.t}`, label, slices: sortSlices(part.slices, normal), normal });
    }
  }
  sets.sort((a, b) => Number(a.slices[0].localizer) - Number(b.slices[0].localizer) || b.slices.length - a.slices.length);
  return sets;
}

/**
 * The patient, study and series lines of the corners.
 * @param {DicomJson | undefined} ds
 * @returns {SeriesInfo}
 */
export function seriesInfo(ds) {
  return {
    patientName: fmtPN(text(ds, '00100010')),
    patientId: text(ds, '00100020'),
    birthDate: fmtDA(text(ds, '00100030')),
    sex: text(ds, '00100040'),
    studyDescription: text(ds, '00081030'),
    studyDate: fmtDA(text(ds, '00080020')),
    seriesNumber: text(ds, '00200011'),
    seriesDescription: text(ds, '0008103E'),
    modality: text(ds, '00080060'),
    institution: text(ds, '00080080'),
  };
}

/**
 * Where a slice lies along its set's normal, in mm (for the corner), if known.
 * @param {Slice} s
 * @param {number[] | null} normal
 */
export function slicePosition(s, normal) {
  return s.position && normal ? dot(s.position, normal) : null;
}
