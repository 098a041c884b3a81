// @ts-check
// Stored values to screen grey: the modality rescale, then the VOI window as PS3.3 C.11.2.1.2
// defines the linear function, through a table over the slice's value range (so a drag of the
// window redraws a 512×512 slice in about a millisecond), into the pixels of a canvas.

/** The largest value range drawn through a table; wider ranges are computed pixel by pixel. */
const MAX_TABLE = 1 << 17;

/**
 * The display grey (0–255) of modality value `x` in window (center, width): PS3.3 C.11.2.1.2.1.
 * @param {number} x
 * @param {number} center
 * @param {number} width
 */
export function linearWindow(x, center, width) {
  const w = Math.max(1, width);
  if (x <= center - 0.5 - (w - 1) / 2) return 0;
  if (x > center - 0.5 + (w - 1) / 2) return 255;
  return Math.round(((x - (center - 0.5)) / (w - 1) + 0.5) * 255);
}

/**
 * @typedef {{ center: number, width: number, invert: boolean }} Windowing
 */

/**
 * Fills `image` (RGBA, the slice's size) with the windowed greys of `pixels`.
 * @param {ImageData} image
 * @param {{ data: ArrayLike<number>, min: number, max: number }} pixels
 * @param {{ slope: number, intercept: number }} rescale
 * @param {Windowing} windowing
 */
export function paintGrey(image, pixels, rescale, windowing) {
  const out = new Uint32Array(image.data.buffer);
  const { data, min, max } = pixels;
  const { slope, intercept } = rescale;
  const { center, width, invert } = windowing;
  // RGBA bytes as one little-endian word: opaque grey g is 0xFF000000 | g * 0x010101.
  const word = (/** @type {number} */ g) => (0xff000000 | ((invert ? 255 - g : g) * 0x010101)) >>> 0;
  const n = Math.min(out.length, data.length);
  if (max - min < MAX_TABLE) {
    const table = new Uint32Array(max - min + 1);
    for (let v = min; v <= max; v++) table[v - min] = word(linearWindow(v * slope + intercept, center, width));
    for (let i = 0; i < n; i++) out[i] = table[data[i] - min];
  } else {
    for (let i = 0; i < n; i++) out[i] = word(linearWindow(data[i] * slope + intercept, center, width));
  }
}

/**
 * A window that shows the whole range of values present (the "automatic" preset), in modality
 * units.
 * @param {{ min: number, max: number }} pixels
 * @param {{ slope: number, intercept: number }} rescale
 */
export function fullRange(pixels, rescale) {
  const a = pixels.min * rescale.slope + rescale.intercept;
  const b = pixels.max * rescale.slope + rescale.intercept;
  const low = Math.min(a, b);
  const high = Math.max(a, b);
  return { center: (low + high + 1) / 2, width: Math.max(1, high - low + 1) };
}

/** Windows every CT viewer offers (center, width in HU). */
export const CT_PRESETS = [
  { name: 'Soft tissue', center: 40, width: 400 },
  { name: 'Lung', center: -600, width: 1500 },
  { name: 'Bone', center: 400, width: 1800 },
  { name: 'Brain', center: 40, width: 80 },
  { name: 'Liver', center: 60, width: 160 },
  { name: 'Mediastinum', center: 50, width: 350 },
];
