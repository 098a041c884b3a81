// @ts-check
// The local list: studies of the local store under the filters, grouped by patient, loaded a
// page at a time as the end comes into view.
import { api } from '../../api.js';
import { $, clear, h, setChildren } from '../../lib/dom.js';
import { reportError } from '../../lib/errors.js';
import { fmtNum, plural } from '../../lib/format.js';
import { PAGE_SIZE, currentList, dropLocalEntries, entries, patientKey, remoteOnlyCount, startList } from '../../state/browser.js';
import { listSort, listView } from '../../state/display.js';
import { getStatus } from '../../state/status.js';
import { currentPage, showPage } from '../pages.js';
import { filtersActive, localQuery, readFilters, sourceLocal } from './form.js';
import { addStudyToGroup, newGroup } from './groups.js';
import { entryFor } from './studies.js';
import { addStudyToWorklist, newWorklist } from './worklist.js';

/** @typedef {import('../../api.js').StudiesPage} StudiesPage */
/** @typedef {import('../../api.js').StudyRow} StudyRow */
/** @typedef {import('../../state/browser.js').ListState} ListState */
/** @typedef {import('../../state/browser.js').Filters} Filters */

export const resultsEl = $('#results');
const listStatus = $('#list-status');
const countAllButton = /** @type {HTMLButtonElement} */ ($('#count-all'));

/** Starts the list again under the filters shown. */
export function resetList() {
  const f = readFilters();
  dropLocalEntries();
  newList(f);
  listStatus.textContent = '';
  updateResultCount();
  if (!sourceLocal()) {
    resultsEl.appendChild(h('p', { class: 'muted empty' }, 'The local store is not searched (Local is unchecked in Sources).'));
    markReady();
    return;
  }
  loadNextPage();
}

/**
 * A new list under these filters, laid out and sorted as the user chose, in place of the old.
 * @param {Filters} f
 */
function newList(f) {
  const view = listView();
  const L = startList(f, view, view === 'table' ? listSort() : null);
  clear(resultsEl);
  return L;
}

/** Loads the list's next page (one at a time). */
async function loadNextPage() {
  const L = currentList();
  if (!L || L.loading || L.done || !sourceLocal()) return;
  L.loading = true;
  const gen = L.gen;
  listStatus.textContent = L.offset ? 'Loading more…' : 'Loading…';
  try {
    /** @type {StudiesPage} */
    const r = await api(localQuery(L.filters, L.sort, L.offset, PAGE_SIZE, L.countAll));
    if (gen !== L.gen || currentList() !== L) return;
    const rows = (r && r.studies) || [];
    L.offset += rows.length;
    keepTotal(L, r);
    appendStudies(L, rows);
    if (L.total === 0) renderEmptyList(L);
    updateResultCount();
    listStatus.textContent = L.done && L.count > PAGE_SIZE ? 'End of the list.' : '';
    markReady();
    resultsRendered();
  } catch (err) {
    if (gen !== L.gen) return;
    L.done = true;
    L.error = true;
    reportError(err, 'Loading studies');
    setChildren(listStatus, `Could not load studies (${err instanceof Error ? err.message : String(err)}). `,
      h('button', { type: 'button', class: 'small', onclick: () => { L.done = false; L.error = false; loadNextPage(); } }, 'Retry'));
  } finally {
    if (gen === L.gen) {
      L.loading = false;
      markReady();
      maybeLoadMore();
    }
  }
}

/**
 * Keeps the count of matches a page of the search came with, and whether the list is loaded
 * to its end. When the server stopped counting ("more than"), only an empty page ends the
 * list: the count grows with the pages, and is exact once the list ends before its bound.
 * @param {ListState} L
 * @param {StudiesPage} r
 */
export function keepTotal(L, r) {
  const rows = (r && r.studies) || [];
  L.total = r.total != null ? r.total : L.offset;
  L.totalExact = r.total_exact !== false;
  L.done = rows.length === 0 || (L.totalExact && L.offset >= L.total);
}

/** Tells tests and benchmarks that the first page is shown (once). */
function markReady() {
  if (document.body.dataset.ready === '1') return;
  document.body.dataset.ready = '1';
  try { performance.mark('lightbox-ready'); } catch (_) { /* old browsers */ }
}

/** Tells tests and benchmarks that a page of results is in the DOM. */
const resultsRendered = () => document.dispatchEvent(new CustomEvent('lightbox:results'));

/**
 * Loads the next page when the end of the list is near (on the browser page). The observer is
 * asked for the end's place afresh: it reports changes only, and a page's rows can push the
 * end away and a scroll bring it back between two frames; the end then stays in view, and no
 * change would ever load the next page.
 */
export function maybeLoadMore() {
  const L = currentList();
  if (!L || L.done || L.loading || currentPage() !== 'browser') return;
  const sentinel = $('#sentinel');
  sentinelObserver.unobserve(sentinel);
  sentinelObserver.observe(sentinel);
}

const sentinelObserver = new IntersectionObserver((es) => {
  if (es.some((x) => x.isIntersecting)) loadNextPage();
}, { rootMargin: '800px 0px' });

export function initList() {
  sentinelObserver.observe($('#sentinel'));
  countAllButton.addEventListener('click', () => { countAllMatches(); });
}

/**
 * Counts every match of the list's search, where the server stopped at its bound ("more than
 * 1,000"); the list's later pages and refreshes count them all too.
 */
async function countAllMatches() {
  const L = currentList();
  if (!L || L.totalExact) return;
  L.countAll = true;
  const gen = L.gen;
  countAllButton.disabled = true;
  countAllButton.textContent = 'Counting…';
  try {
    /** @type {StudiesPage} */
    const r = await api(localQuery(L.filters, L.sort, 0, 1, true));
    if (gen !== L.gen || currentList() !== L || r.total == null) return;
    L.total = r.total;
    L.totalExact = true;
    L.done = L.offset >= L.total;
  } catch (err) {
    if (gen === L.gen) L.countAll = false;
    reportError(err, 'Counting studies');
  } finally {
    countAllButton.disabled = false;
    countAllButton.textContent = 'Count all';
    if (gen === L.gen) {
      updateResultCount();
      maybeLoadMore();
    }
  }
}

/** "7 studies match (50 shown) · 2 remote-only studies". */
export function updateResultCount() {
  const L = currentList();
  const el = $('#result-count');
  const parts = [];
  if (!L || !sourceLocal()) parts.push('Local store not searched');
  else if (L.total == null) parts.push('Searching…');
  else parts.push(`${L.totalExact ? '' : 'More than '}${plural(L.total, 'study', 'studies')}`
    + `${filtersActive(L.filters) ? ' match' : ''}`
    + ((L.total > L.count || !L.totalExact) && L.count ? ` (${fmtNum(L.count)} shown)` : ''));
  const remoteOnly = remoteOnlyCount() || 0;
  if (remoteOnly) parts.push(`${plural(remoteOnly, 'remote-only study', 'remote-only studies')}`);
  el.textContent = parts.join(' · ');
  el.dataset.total = L && L.total != null ? String(L.total) : '';
  el.dataset.totalExact = L && !L.totalExact ? 'false' : 'true';
  countAllButton.hidden = !L || L.totalExact || L.total == null || !sourceLocal();
}

/**
 * An empty list: how to fill the store, or that nothing matches.
 * @param {ListState} L
 */
function renderEmptyList(L) {
  const status = getStatus();
  const storeEmpty = !filtersActive(L.filters) && (!status || !status.store || status.store.studies === 0 || L.total === 0);
  if (storeEmpty) {
    resultsEl.appendChild(h('div', { class: 'empty-store', testid: 'empty-store' },
      h('h2', null, 'The local store is empty'),
      h('p', null, 'Add DICOM data in any of these ways:'),
      h('ul', null,
        h('li', null, 'Drop files, folders or zip archives on the ',
          h('button', { type: 'button', class: 'small', onclick: () => showPage('import') }, 'Import page'), '.'),
        h('li', null, 'From a terminal: ', h('code', null, 'lightbox import PATH'), ' (add ', h('code', null, '--link'), ' to index files in place).'),
        h('li', null, 'Try it with synthetic data: ', h('code', null, 'lightbox serve --demo'), '.'),
        h('li', null, 'Add a PACS or DICOMweb server on the ',
          h('button', { type: 'button', class: 'small', onclick: () => { showPage('nodes'); } }, 'Nodes page'),
          ', tick it under Sources, then press Search to query and retrieve its studies.'))));
  } else {
    resultsEl.appendChild(h('p', { class: 'muted empty', testid: 'no-results' }, 'No local study matches these filters.'));
  }
}

/**
 * Appends a page of studies: rows of the worklist, or grouped by patient (a group goes on
 * across pages).
 * @param {ListState} L
 * @param {StudyRow[]} rows
 */
function appendStudies(L, rows) {
  for (const row of rows) {
    const uid = row.StudyInstanceUID;
    if (!uid) continue;
    const existing = entries.get(uid);
    if (existing && existing.where === 'local') continue; // shifted page: already shown
    if (L.view === 'table') {
      if (!L.worklist) {
        L.worklist = newWorklist('local');
        resultsEl.appendChild(L.worklist.table);
      }
      const e = entryFor(row, 'local');
      e.local = true;
      addStudyToWorklist(L.worklist, e);
      L.count++;
      continue;
    }
    let g = L.lastGroup;
    if (!g || g.key !== patientKey(row)) {
      g = newGroup(row, 'local');
      L.groups.push(g);
      resultsEl.appendChild(g.el);
      L.lastGroup = g;
    }
    const e = entryFor(row, 'local');
    e.local = true;
    addStudyToGroup(g, e);
    L.count++;
  }
}

/**
 * Starts the list again with rows read already (the first `rows.length` of it).
 * @param {StudiesPage} r
 */
export function resetListWithRows(r) {
  const old = /** @type {ListState} */ (currentList());
  dropLocalEntries();
  const L = newList(old.filters);
  L.countAll = old.countAll;
  const rows = (r && r.studies) || [];
  L.offset = rows.length;
  keepTotal(L, r);
  appendStudies(L, rows);
  if (L.total === 0) renderEmptyList(L);
  updateResultCount();
  resultsRendered();
  maybeLoadMore();
}
