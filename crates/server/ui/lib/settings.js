// @ts-check
// Preferences kept in localStorage (as JSON, under "lightbox."); private mode keeps none.

/**
 * @template T
 * @param {string} k
 * @param {T} d the value when none is kept
 * @returns {T}
 */
export function getSetting(k, d) {
  try { const v = localStorage.getItem('lightbox.' + k); return v == null ? d : JSON.parse(v); } catch (_) { return d; }
}

/**
 * @param {string} k
 * @param {unknown} v
 */
export function setSetting(k, v) {
  try { localStorage.setItem('lightbox.' + k, JSON.stringify(v)); } catch (_) { /* private mode */ }
}
