// @ts-check
// Orthogonal reformats of an image set that is a regular volume (every slice here, one size,
// evenly spaced along the normal): coronal and sagittal stacks whose slices are computed from
// the axial ones when shown, a few kept at a time, so the volume is never copied whole.
import { cross } from './series.js';

/**
 * The stack as a volume: the slices' samples in order along the normal.
 * @typedef {{
 *   set: import('./series.js').ImageSet, samples: import('./loader.js').Pixels[],
 *   rows: number, columns: number, count: number, rowSpacing: number, columnSpacing: number,
 *   sliceSpacing: number, min: number, max: number,
 * }} Volume
 */
/** @typedef {'coronal' | 'sagittal'} Plane */

/** Reformatted slices kept at once, per plane. */
const KEPT = 24;

/**
 * The volume `set` makes with the pixels `pixels` (its loader's), or why it makes none.
 * @param {import('./series.js').ImageSet} set
 * @param {(import('./loader.js').Pixels | null)[]} pixels
 * @returns {{ volume: Volume } | { reason: string }}
 */
export function volumeOf(set, pixels) {
  const slices = set.slices;
  if (slices.length < 3) return { reason: 'MPR needs a stack of at least 3 slices.' };
  if (pixels.some((p) => !p)) return { reason: 'MPR waits for every slice of the set to arrive.' };
  const samples = /** @type {import('./loader.js').Pixels[]} */ (pixels);
  if (samples.some((p) => p.kind !== 'grey')) return { reason: 'MPR is for greyscale images.' };
  const s0 = slices[0];
  if (!s0.spacing || !s0.orientation || slices.some((s) => !s.position)) {
    return { reason: 'MPR needs each slice\'s position, orientation and pixel spacing.' };
  }
  const normal = set.normal || cross(s0.orientation.slice(0, 3), s0.orientation.slice(3, 6));
  const along = slices.map((s) => {
    const p = /** @type {number[]} */ (s.position);
    return p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2];
  });
  const steps = along.slice(1).map((a, i) => a - along[i]);
  const mean = steps.reduce((a, b) => a + b, 0) / steps.length;
  if (!(mean > 0) || steps.some((d) => Math.abs(d - mean) > 0.01 * mean + 0.01)) {
    return { reason: 'MPR needs evenly spaced slices; these are not.' };
  }
  let min = Infinity;
  let max = -Infinity;
  for (const p of samples) {
    if (p.kind !== 'grey') continue;
    if (p.min < min) min = p.min;
    if (p.max > max) max = p.max;
  }
  return {
    volume: {
      set, samples, rows: s0.rows, columns: s0.columns, count: slices.length,
      rowSpacing: s0.spacing[0], columnSpacing: s0.spacing[1], sliceSpacing: mean, min, max,
    },
  };
}

/**
 * The reformatted stack of `plane`: a slice per row (coronal) or column (sagittal) of the axial
 * images, the top of each the end of the stack farthest along its normal.
 * @param {Volume} v
 * @param {Plane} plane
 * @returns {import('./series.js').ImageSet}
 */
export function reformatSet(v, plane) {
  const s0 = v.set.slices[0];
  const o = /** @type {number[]} */ (s0.orientation);
  const normal = /** @type {number[]} */ (v.set.normal || cross(o.slice(0, 3), o.slice(3, 6)));
  const down = normal.map((x) => -x);
  const coronal = plane === 'coronal';
  const count = coronal ? v.rows : v.columns;
  const across = coronal ? o.slice(0, 3) : o.slice(3, 6);
  const stepDir = coronal ? o.slice(3, 6) : o.slice(0, 3);
  const step = coronal ? v.rowSpacing : v.columnSpacing;
  const top = /** @type {number[]} */ (v.set.slices[v.count - 1].position);
  const slices = [];
  for (let i = 0; i < count; i++) {
    slices.push({
      ...s0,
      sop: `${plane}`, frame: i + 1, frames: count, instanceNumber: i + 1,
      rows: v.count, columns: coronal ? v.columns : v.rows,
      spacing: /** @type {[number, number]} */ ([v.sliceSpacing, coronal ? v.columnSpacing : v.rowSpacing]),
      thickness: step,
      orientation: [...across, ...down],
      position: top.map((p, k) => p + stepDir[k] * step * i),
      localizer: false, temporal: null, frameRate: null,
    });
  }
  return { key: `mpr|${plane}|${v.set.key}`, label: `${count} images · ${plane} reformat`, slices, normal: stepDir };
}

/** The samples of a reformatted slice, computed from the volume's. */
export class ReformatSource {
  /**
   * @param {Volume} volume
   * @param {Plane} plane
   * @param {import('./series.js').Slice[]} slices the reformatted set's
   * @param {(index: number) => void} onLoaded
   */
  constructor(volume, plane, slices, onLoaded) {
    this.volume = volume;
    this.plane = plane;
    this.slices = slices;
    /** @type {(import('./loader.js').Pixels | null)[]} */
    this.pixels = slices.map(() => null);
    /** @type {(string | null)[]} */
    this.errors = slices.map(() => null);
    this.loaded = 0;
    /** Computed slices, oldest first. @type {number[]} */
    this.kept = [];
    this.onLoaded = onLoaded;
  }

  /** Computes slice `index` (and keeps the few most recent). @param {number} index */
  focus(index) {
    if (this.pixels[index]) return;
    this.pixels[index] = { kind: 'grey', data: this.compute(index), min: this.volume.min, max: this.volume.max };
    this.loaded++;
    this.kept.push(index);
    while (this.kept.length > KEPT) {
      const old = /** @type {number} */ (this.kept.shift());
      this.pixels[old] = null;
      this.loaded--;
    }
    this.onLoaded(index);
  }

  stop() {}

  /** @param {number} index */
  compute(index) {
    const v = this.volume;
    const first = /** @type {{ data: Int16Array }} */ (v.samples[0]).data;
    const Samples = /** @type {any} */ (first.constructor);
    if (this.plane === 'coronal') {
      const out = new Samples(v.count * v.columns);
      for (let j = 0; j < v.count; j++) {
        const source = /** @type {{ data: Int16Array }} */ (v.samples[v.count - 1 - j]).data;
        out.set(source.subarray(index * v.columns, (index + 1) * v.columns), j * v.columns);
      }
      return out;
    }
    const out = new Samples(v.count * v.rows);
    for (let j = 0; j < v.count; j++) {
      const source = /** @type {{ data: Int16Array }} */ (v.samples[v.count - 1 - j]).data;
      for (let r = 0; r < v.rows; r++) out[j * v.rows + r] = source[r * v.columns + index];
    }
    return out;
  }
}
