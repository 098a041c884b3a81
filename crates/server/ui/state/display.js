// @ts-check
// Display preferences: the thumbnail size (S, M, L), the colour theme, and how the study list
// is shown (tiles or table) and sorted.
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

// ---------------------------------------------------------------- the list's view and sort

/** @typedef {'tiles' | 'table'} ListView */
/**
 * A worklist column the list can be sorted by (the API's `order` names).
 * @typedef {'patient_name' | 'patient_id' | 'birth_date' | 'study_date' | 'description' | 'modalities'
 *   | 'accession' | 'series' | 'instances'} SortColumn
 */
/** @typedef {{ column: SortColumn, dir: 'asc' | 'desc' }} Sort */

/** Each sortable column, and the way it goes first when chosen (dates and counts newest/most first). @type {Record<SortColumn, 'asc' | 'desc'>} */
export const SORT_COLUMNS = {
  patient_name: 'asc', patient_id: 'asc', birth_date: 'asc', study_date: 'desc', description: 'asc',
  modalities: 'asc', accession: 'asc', series: 'desc', instances: 'desc',
};
/** @type {Sort} */
const DEFAULT_SORT = { column: 'study_date', dir: 'desc' };

/** The list's view or sort changed. @type {Emitter<[]>} */
export const listViewChanges = new Emitter();

/** Patient groups with tiles, or the worklist table. @returns {ListView} */
export const listView = () => (getSetting('listView', /** @type {string} */ ('tiles')) === 'table' ? 'table' : 'tiles');

/** @param {ListView} v */
export function setListView(v) {
  if (v === listView()) return;
  setSetting('listView', v);
  listViewChanges.notify();
}

/** The worklist's sort. @returns {Sort} */
export function listSort() {
  /** @type {Partial<Sort>} */
  const s = getSetting('listSort', DEFAULT_SORT) || {};
  return s.column && s.column in SORT_COLUMNS && (s.dir === 'asc' || s.dir === 'desc')
    ? { column: s.column, dir: s.dir } : DEFAULT_SORT;
}

/**
 * Sorts by a column: the other way when it is the column already, else its first way.
 * @param {SortColumn} column
 */
export function sortBy(column) {
  const now = listSort();
  const dir = now.column === column ? (now.dir === 'asc' ? 'desc' : 'asc') : SORT_COLUMNS[column];
  setSetting('listSort', { column, dir });
  listViewChanges.notify();
}
