// @ts-check
// The remote search: each node ticked under Sources is asked; studies also in the local store
// get the node's badge in the local list, the others are shown in the remote block.
import { api, enc, post } from '../../api.js';
import { $, clear, h } from '../../lib/dom.js';
import { recordError } from '../../lib/errors.js';
import { plural } from '../../lib/format.js';
import { toast } from '../../lib/toast.js';
import {
  addRemoteRows, checkLocal, clearRemoteIndex, dropEntry, entries, knownLocal, mergeSeries, patientKey, remoteGen,
  remoteIndex, setRemoteOnlyCount,
} from '../../state/browser.js';
import { listSort, listView } from '../../state/display.js';
import { jobChanges, TERMINAL } from '../../state/jobs.js';
import { loadSeries } from '../../state/series.js';
import { remoteFilters, sourceLocal } from './form.js';
import { updateResultCount } from './list.js';
import { addStudyToGroup, newGroup } from './groups.js';
import { detachEntry, entryFor, updateStudyRow } from './studies.js';
import { addStudyToWorklist, newWorklist, sortStudyRows } from './worklist.js';
import { renderSeriesGrid } from './tiles.js';

/** @typedef {import('../../api.js').StudyRow} StudyRow */
/** @typedef {import('../../state/browser.js').Filters} Filters */
/** @typedef {import('../../state/browser.js').Group} Group */

/** The nodes the last remote search asked (null when none was run, or it was reset). @type {string[] | null} */
let searchedNodes = null;

/** The nodes the remote search shown asked, to ask again when the filters change. */
export const remoteSearchNodes = () => searchedNodes;

/** Forgets the remote search: its results, and that there was one (Reset). */
export function forgetRemoteSearch() {
  searchedNodes = null;
  clearRemote();
}

/** Forgets the last remote search's results, and what they added to the page. */
export function clearRemote() {
  clearRemoteIndex();
  for (const e of [...entries.values()]) {
    if (e.where === 'remote') { detachEntry(e); continue; }
    if (e.remote.size) { e.remote = new Map(); e.remoteSeries = new Map(); mergeSeries(e, null); updateStudyRow(e); if (e.seriesLoaded) renderSeriesGrid(e); }
  }
  clear($('#remote-list'));
  $('#remote-block').hidden = true;
  clear($('#remote-status'));
  updateResultCount();
}

/**
 * Searches these nodes with the filters (each answer shown as it comes).
 * @param {string[]} nodes
 * @param {Filters} f
 */
export async function runRemote(nodes, f) {
  clearRemote();
  searchedNodes = nodes;
  const gen = remoteGen();
  const statusEl = $('#remote-status');
  /** @type {Map<string, HTMLElement>} */
  const spans = new Map();
  for (const n of nodes) {
    const sp = h('span', { testid: 'remote-status-' + n }, `${n}: searching…`);
    spans.set(n, sp);
    statusEl.appendChild(sp);
  }
  await Promise.all(nodes.map(async (node) => {
    const span = /** @type {HTMLElement} */ (spans.get(node));
    try {
      const r = await post('/api/remote/studies', { node, filters: remoteFilters(f) });
      if (gen !== remoteGen()) return;
      /** @type {StudyRow[]} */
      const rows = (r && r.studies) || [];
      addRemoteRows(node, rows);
      span.textContent = `${node}: ${plural(rows.length, 'study', 'studies')}`;
      span.className = '';
    } catch (err) {
      if (gen !== remoteGen()) return;
      const message = err instanceof Error ? err.message : String(err);
      recordError(err, `search on ${node}`);
      const data = /** @type {{ data?: { job?: number, retrying?: boolean } }} */ (err).data;
      span.textContent = `${node}: ✗ ${message}${data && data.retrying ? ' — trying again…' : ''}`;
      span.className = 'err';
      span.dataset.retrying = String(!!(data && data.retrying));
      // Said once; the engine's retries go on, and their outcome replaces this line.
      toast(`Search on ${node} failed: ${message}`, 'error');
      if (data && data.retrying && data.job != null) followRetries(node, data.job, gen, span);
    }
    await renderRemote(gen);
  }));
}

/**
 * A node's search that failed once and is tried again by the engine: when the job ends, its
 * matches (or its final failure) take the place of the first failure, if the search is still
 * the one shown.
 * @param {string} node
 * @param {number} id the query job
 * @param {number} gen the search's generation
 * @param {HTMLElement} span the node's status
 */
function followRetries(node, id, gen, span) {
  const stop = jobChanges.subscribe((job) => {
    if (job.id !== id || !TERMINAL.has(job.state)) return;
    stop();
    if (gen !== remoteGen()) return;
    api(`/api/jobs/${enc(id)}`).then(async (record) => {
      if (gen !== remoteGen()) return;
      span.dataset.retrying = 'false';
      if (record.state === 'completed' && Array.isArray(record.output)) {
        addRemoteRows(node, record.output);
        span.textContent = `${node}: ${plural(record.output.length, 'study', 'studies')}`;
        span.className = '';
        await renderRemote(gen);
      } else {
        const reason = record.error && record.error.message ? record.error.message : record.state;
        span.textContent = `${node}: ✗ ${reason} (after ${plural(record.attempts || 1, 'attempt')})`;
      }
    }).catch((e) => recordError(e, `search on ${node}`));
  });
}

/** Draws the remote search's studies again (the layout or the sort changed). */
export function redrawRemote() {
  if (remoteIndex.size) renderRemote(remoteGen()).catch((e) => recordError(e, 'showing remote studies'));
}

/**
 * Shows the remote search's studies: badges on local rows, the others in the remote block.
 * @param {number} gen the search's generation
 */
export async function renderRemote(gen) {
  const uids = [...remoteIndex.keys()];
  await checkLocal(uids);
  if (gen !== remoteGen()) return;
  const showAll = !sourceLocal();
  /** @type {{ row: StudyRow, local: boolean }[]} */
  const rows = [];
  for (const uid of uids) {
    const m = /** @type {ReadonlyMap<string, StudyRow>} */ (remoteIndex.get(uid));
    const e = entries.get(uid);
    if (e && e.where === 'local') {
      // Found locally and remotely: one row with both badges.
      const added = [...m.keys()].some((n) => !e.remote.has(n));
      e.remote = new Map(m);
      if (added) {
        updateStudyRow(e);
        // A load under way started before this node was known: start again, with it.
        if (e.seriesLoaded || e.seriesLoading) { e.seriesLoaded = false; if (e.expanded) loadSeries(e, { force: true }); }
      }
      continue;
    }
    const local = knownLocal.has(uid);
    if (local && !showAll) continue; // in the local list (on a page not scrolled to yet)
    /** @type {Record<string, unknown>} */
    const merged = {};
    for (const row of m.values()) for (const k of Object.keys(row)) if (merged[k] == null || merged[k] === '') merged[k] = row[k];
    rows.push({ row: /** @type {StudyRow} */ (merged), local });
  }
  const table = listView() === 'table';
  if (table) sortStudyRows(rows, listSort(), (x) => x.row);
  else {
    rows.sort((a, b) => String(a.row.PatientName || '').localeCompare(String(b.row.PatientName || ''))
      || String(a.row.PatientID || '').localeCompare(String(b.row.PatientID || ''))
      || String(b.row.StudyDate || '').localeCompare(String(a.row.StudyDate || '')));
  }
  const list = $('#remote-list');
  for (const e of [...entries.values()]) if (e.where === 'remote') detachEntry(e, true);
  clear(list);
  const worklist = table && rows.length ? newWorklist('remote') : null;
  if (worklist) list.appendChild(worklist.table);
  /** @type {Set<string>} */
  const shown = new Set();
  /** @type {Group | null} */
  let g = null;
  for (const { row, local } of rows) {
    const e = entryFor(row, 'remote');
    e.local = local;
    if (e.seriesLoaded && [...e.remote.keys()].some((n) => !e.remoteSeries.has(n))) e.seriesLoaded = false;
    shown.add(e.uid);
    if (worklist) { addStudyToWorklist(worklist, e); continue; }
    const key = patientKey(row);
    if (!g || g.key !== key) { g = newGroup(row, 'remote'); list.appendChild(g.el); }
    addStudyToGroup(g, e);
  }
  for (const e of [...entries.values()]) if (e.where === 'remote' && !shown.has(e.uid)) dropEntry(e);
  setRemoteOnlyCount(rows.filter((x) => !x.local).length);
  $('#remote-block').hidden = rows.length === 0;
  $('#remote-block-count').textContent = `(${plural(rows.length, 'study', 'studies')} not shown in the local list)`;
  updateResultCount();
}
