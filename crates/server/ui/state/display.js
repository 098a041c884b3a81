// @ts-check
// Display preferences: the thumbnail size (S, M, L) and the colour theme.
import { getSetting, setSetting } from '../lib/settings.js';
import { Emitter } from '../lib/util.js';

/** @typedef {'S' | 'M' | 'L'} ThumbSize */
/** @typedef {'light' | 'dark'} Theme */

/** Thumbnail sizes in pixels. @type {Record<ThumbSize, number>} */
export const SIZES = { S: 128, M: 192, L: 256 };

/** The thumbnail size changed. @type {Emitter<[]>} */
export const sizeChanges = new Emitter();

/** @returns {ThumbSize} */
export function thumbSize() {
  const s = getSetting('thumbSize', 'S');
  return /** @type {Record<string, number | undefined>} */ (SIZES)[s] ? /** @type {ThumbSize} */ (s) : 'S';
}

/** The thumbnail size in pixels. */
export const thumbPixels = () => SIZES[thumbSize()];

/** @param {string} s */
export function setThumbSize(s) {
  setSetting('thumbSize', s);
  sizeChanges.notify();
}

const mqDark = window.matchMedia('(prefers-color-scheme: dark)');

/** The theme chosen (null: the system's). @returns {Theme | null} */
export const chosenTheme = () => getSetting('theme', null);

/** The theme in effect. @returns {Theme} */
export const effectiveTheme = () => chosenTheme() || (mqDark.matches ? 'dark' : 'light');

/** The theme changed (chosen, or the system's). @type {Emitter<[]>} */
export const themeChanges = new Emitter();

/** Switches between light and dark. */
export function toggleTheme() {
  setSetting('theme', effectiveTheme() === 'dark' ? 'light' : 'dark');
  themeChanges.notify();
}

if (mqDark.addEventListener) mqDark.addEventListener('change', () => themeChanges.notify());
