// @ts-check
// What the browser page's form says: the filters, the sources, the prefetch policy.
import { $, $$ } from '../../lib/dom.js';
import { ymd } from '../../lib/format.js';

/** @typedef {import('../../state/browser.js').Filters} Filters */
/** @typedef {'patient_name' | 'patient_id' | 'study_description' | 'series_description' | 'accession'} TextFilter */

/** Each text filter and its input. @type {[TextFilter, string][]} */
export const TEXT_FILTERS = [
  ['patient_name', '#f-patient-name'], ['patient_id', '#f-patient-id'], ['study_description', '#f-study-description'],
  ['series_description', '#f-series-description'], ['accession', '#f-accession'],
];

/** @param {string} sel */
export const inputAt = (sel) => /** @type {HTMLInputElement} */ ($(sel));

/** The study date filter: a DICOM date, a range (A-B, A-, -B) or ''. */
function dateRange() {
  const sel = inputAt('#f-date').value;
  const t = new Date();
  /** @param {number} days */
  const back = (days) => ymd(new Date(t.getFullYear(), t.getMonth(), t.getDate() - days));
  switch (sel) {
    case 'today': return ymd(t);
    case 'yesterday': return back(1);
    case '7d': return `${back(7)}-${ymd(t)}`;
    case '30d': return `${back(30)}-${ymd(t)}`;
    case '1y': return `${ymd(new Date(t.getFullYear() - 1, t.getMonth(), t.getDate()))}-${ymd(t)}`;
    case 'custom': {
      let a = inputAt('#f-date-from').value.replace(/-/g, '');
      let b = inputAt('#f-date-to').value.replace(/-/g, '');
      if (a && b && a > b) [a, b] = [b, a];
      if (!a && !b) return '';
      if (a && b) return a === b ? a : `${a}-${b}`;
      return a ? `${a}-` : `-${b}`;
    }
    default: return '';
  }
}

/** The modalities ticked in the dropdown. */
export function selectedModalities() {
  return $$('#modality-panel input[data-modality]').map((c) => /** @type {HTMLInputElement} */ (c))
    .filter((c) => c.checked).map((c) => c.dataset.modality || '');
}

/** @returns {Filters} */
export function readFilters() {
  /** @type {Record<string, any>} */
  const f = {};
  for (const [k, sel] of TEXT_FILTERS) f[k] = inputAt(sel).value.trim();
  f.date = dateRange();
  f.modality = selectedModalities();
  return /** @type {Filters} */ (f);
}

/**
 * Whether any filter is set.
 * @param {Filters} f
 */
export const filtersActive = (f) => !!(TEXT_FILTERS.some(([k]) => f[k]) || f.date || f.modality.length);

/**
 * The local list's query: by patient, or by the worklist's sort.
 * @param {Filters} f
 * @param {import('../../state/display.js').Sort | null} sort
 * @param {number} offset
 * @param {number} limit
 * @param {boolean} [countAll] every match counted, not only up to the server's bound
 */
export function localQuery(f, sort, offset, limit, countAll = false) {
  const p = new URLSearchParams();
  p.set('order', sort ? sort.column : 'patient');
  if (sort) p.set('dir', sort.dir);
  p.set('limit', String(limit));
  p.set('offset', String(offset));
  for (const [k] of TEXT_FILTERS) if (f[k]) p.set(k, f[k]);
  if (f.date) p.set('date', f.date);
  for (const m of f.modality) p.append('modality', m);
  if (countAll) p.set('count', 'all');
  return '/api/studies?' + p.toString();
}

/**
 * The filters a remote search takes (nodes are asked at the study level).
 * @param {Filters} f
 * @returns {import('../../api.js').RemoteFilters}
 */
export function remoteFilters(f) {
  return { patient_name: f.patient_name, patient_id: f.patient_id, date: f.date, modality: f.modality,
    study_description: f.study_description, accession: f.accession };
}

/** Whether the local store is searched (Local ticked under Sources). */
export const sourceLocal = () => inputAt('#source-local').checked;

/** The nodes ticked under Sources. */
export function chosenNodes() {
  return $$('#source-nodes input[type=checkbox]').map((c) => /** @type {HTMLInputElement} */ (c))
    .filter((c) => c.checked).map((c) => c.dataset.node || '');
}

/** The prefetch policy for remote series: 'none', 'thumbnails' or 'series'. */
export const prefetchPolicy = () => inputAt('#prefetch').value;
