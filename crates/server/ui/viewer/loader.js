// @ts-check
// Fetches the pixels of an image set's slices, nearest to the slice on screen first, a few
// requests at a time, and keeps them at their stored precision (2 bytes a pixel for a CT): the
// window is applied when drawing, so changing it needs no request.
import { nativeFrames, renderedFrame } from './dicomweb.js';

/**
 * A slice's pixels: greyscale samples with their range, or an image the server rendered.
 * @typedef {{ kind: 'grey', data: Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array, min: number, max: number }
 *   | { kind: 'rendered', bitmap: ImageBitmap }} Pixels
 */

/**
 * The smallest and largest of the first `count` samples.
 * @param {ArrayLike<number>} data
 * @param {number} count
 * @returns {[number, number]}
 */
function range(data, count) {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < count; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

/** Requests in flight at once (a browser opens six connections to one origin). */
const IN_FLIGHT = 6;
/** Frames of one multi-frame instance asked for in one request. */
const FRAMES_PER_REQUEST = 16;

/**
 * Samples of a native frame as the typed array its bits call for, with the bits above Bits
 * Stored cleared (or the sign carried down into them).
 * @param {ArrayBuffer} buffer
 * @param {import('./series.js').Slice} s
 * @returns {Pixels}
 */
export function greyPixels(buffer, s) {
  const count = s.rows * s.columns;
  let data;
  if (s.bitsAllocated <= 8) data = s.signed ? new Int8Array(buffer, 0, Math.min(count, buffer.byteLength)) : new Uint8Array(buffer, 0, Math.min(count, buffer.byteLength));
  else if (s.bitsAllocated <= 16) data = s.signed ? new Int16Array(buffer, 0, Math.min(count, buffer.byteLength >> 1)) : new Uint16Array(buffer, 0, Math.min(count, buffer.byteLength >> 1));
  else data = s.signed ? new Int32Array(buffer, 0, Math.min(count, buffer.byteLength >> 2)) : new Uint32Array(buffer, 0, Math.min(count, buffer.byteLength >> 2));
  if (data.length < count) throw new Error(`frame ${s.frame} of ${s.sop}: ${data.length} samples for ${s.columns}×${s.rows}`);
  const width = s.bitsAllocated <= 8 ? 8 : s.bitsAllocated <= 16 ? 16 : 32;
  const stored = Math.min(Math.max(1, s.bitsStored), width);
  let [min, max] = range(data, count);
  // Bits above Bits Stored are usually clear (or carry the sign already): only when a value
  // lies outside what the stored bits can hold are they cleared (or the sign carried) here.
  const low = s.signed ? -(2 ** (stored - 1)) : 0;
  const high = s.signed ? 2 ** (stored - 1) - 1 : 2 ** stored - 1;
  if (stored < width && width < 32 && (min < low || max > high)) {
    const shift = 32 - stored;
    const mask = (1 << stored) - 1;
    for (let i = 0; i < data.length; i++) data[i] = s.signed ? (data[i] << shift) >> shift : data[i] & mask;
    [min, max] = range(data, count);
  }
  return { kind: 'grey', data, min, max };
}

/** What identifies a slice across listings: its instance and frame. @param {import('./series.js').Slice} s */
export const sliceKey = (s) => `${s.sop}|${s.frame}`;

/** Whether a slice is drawn from the server's rendering rather than windowed here. */
export const isColour = (/** @type {import('./series.js').Slice} */ s) => s.samples !== 1 || s.photometric.startsWith('PALETTE');

export class SliceLoader {
  /**
   * @param {string} study
   * @param {string} series
   * @param {import('./series.js').Slice[]} slices
   * @param {(index: number) => void} onLoaded called as each slice's pixels arrive
   * @param {(index: number, error: Error) => void} onFailed
   */
  constructor(study, series, slices, onLoaded, onFailed) {
    this.study = study;
    this.series = series;
    this.slices = slices;
    /** @type {(Pixels | null)[]} */
    this.pixels = slices.map(() => null);
    /** @type {(string | null)[]} */
    this.errors = slices.map(() => null);
    /** @type {Set<number>} */
    this.pending = new Set();
    this.focusIndex = 0;
    this.inFlight = 0;
    this.loaded = 0;
    this.onLoaded = onLoaded;
    this.onFailed = onFailed;
    this.controller = new AbortController();
  }

  /**
   * Takes over the pixels `previous` (a loader of an earlier listing of the same series) has,
   * matched by instance and frame, so that a grown set does not fetch them again.
   * @param {SliceLoader} previous
   */
  adopt(previous) {
    /** @type {Map<string, Pixels>} */
    const had = new Map();
    previous.slices.forEach((s, i) => {
      const p = previous.pixels[i];
      if (p) had.set(sliceKey(s), p);
    });
    this.slices.forEach((s, i) => {
      const p = had.get(sliceKey(s));
      if (p && !this.pixels[i]) {
        this.pixels[i] = p;
        this.loaded++;
      }
    });
  }

  /** Fetches nearest to `index` from now on. @param {number} index */
  focus(index) {
    this.focusIndex = index;
    this.pump();
  }

  stop() {
    this.controller.abort();
  }

  /** The nearest slice not yet fetched nor being fetched, or -1. */
  next() {
    const n = this.slices.length;
    for (let d = 0; d < n; d++) {
      for (const i of [this.focusIndex + d, this.focusIndex - d]) {
        if (i >= 0 && i < n && !this.pixels[i] && !this.errors[i] && !this.pending.has(i)) return i;
      }
    }
    return -1;
  }

  pump() {
    while (this.inFlight < IN_FLIGHT && !this.controller.signal.aborted) {
      const index = this.next();
      if (index < 0) return;
      this.fetch(index);
    }
  }

  /**
   * Fetches slice `index`, with the neighbours that are frames of the same instance.
   * @param {number} index
   */
  async fetch(index) {
    const s = this.slices[index];
    /** @type {number[]} */
    const batch = [index];
    if (!isColour(s) && s.frames > 1) {
      for (let i = index + 1; i < this.slices.length && batch.length < FRAMES_PER_REQUEST; i++) {
        const t = this.slices[i];
        if (t.sop !== s.sop || this.pixels[i] || this.pending.has(i)) break;
        batch.push(i);
      }
    }
    batch.forEach((i) => this.pending.add(i));
    this.inFlight++;
    try {
      if (isColour(s)) {
        const bitmap = await renderedFrame(this.study, this.series, s.sop, s.frame, this.controller.signal);
        this.arrived(index, { kind: 'rendered', bitmap });
      } else {
        const frames = batch.map((i) => this.slices[i].frame);
        const buffers = await nativeFrames(this.study, this.series, s.sop, frames, this.controller.signal);
        batch.forEach((i, k) => this.arrived(i, greyPixels(buffers[k], this.slices[i])));
      }
    } catch (e) {
      if (this.controller.signal.aborted) return;
      const error = e instanceof Error ? e : new Error(String(e));
      for (const i of batch) {
        if (this.pixels[i]) continue;
        this.errors[i] = error.message;
        this.onFailed(i, error);
      }
    } finally {
      batch.forEach((i) => this.pending.delete(i));
      this.inFlight--;
      this.pump();
    }
  }

  /** @param {number} index @param {Pixels} pixels */
  arrived(index, pixels) {
    if (this.pixels[index]) return;
    this.pixels[index] = pixels;
    this.loaded++;
    this.onLoaded(index);
  }
}
