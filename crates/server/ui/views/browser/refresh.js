// @ts-check
// Keeping the browser page current: after jobs (retrievals, thumbnails, deletions, imports)
// and store changes, counts and series are read again in place (scroll position, expansion
// and focus kept).
import { ApiError, api, enc, statusOf } from '../../api.js';
import { recordError } from '../../lib/errors.js';
import {
  PAGE_SIZE, checkLocal, currentList, entries, forgetKnownLocal, hasPreviews, knownLocal, markKnownLocal, mergeSeries,
  remoteGen, remoteIndex, setPreviewed,
  seriesIndex, stripEmpty,
} from '../../state/browser.js';
import { TERMINAL } from '../../state/jobs.js';
import { localQuery, sourceLocal } from './form.js';
import { maybeLoadMore, resetListWithRows, resultsEl, updateResultCount } from './list.js';
import { renderRemote } from './remote.js';
import { detachEntry, updateStudyRow } from './studies.js';
import { renderSeriesGrid, updateTileSoon } from './tiles.js';

/** @typedef {import('../../state/jobs.js').JobRecord} JobRecord */
/** @typedef {import('../../api.js').StudiesPage} StudiesPage */
/** @typedef {import('../../api.js').StudyDetail} StudyDetail */
/** @typedef {boolean | string} Bust */

/**
 * A job changed: its series' tiles follow it; when it ends, what it changed is read again.
 * @param {JobRecord} rec
 */
export function onJobChange(rec) {
  const sp = rec.spec;
  if (rec.kind === 'retrieve' && sp) {
    if (sp.series_uid) { const s = seriesIndex.get(sp.series_uid); if (s) updateTileSoon(s); }
    else if (sp.study_uid) { const e = entries.get(sp.study_uid); if (e) for (const s of e.series.values()) updateTileSoon(s); }
  }
  if (!TERMINAL.has(rec.state) || rec._handled || !sp) return;
  rec._handled = true;
  switch (rec.kind) {
    case 'retrieve':
      refreshStudySoon(sp.study_uid, sp.series_uid || true);
      break;
    case 'thumbnail': {
      const s = seriesIndex.get(sp.series_uid || '');
      if (s) { s.thumbV = Date.now(); s.thumbFailed = null; refreshStudySoon(s.studyUid, s.uid); }
      break;
    }
    case 'delete': {
      const t = sp.target || /** @type {Partial<import('../../api.js').DeleteTarget>} */ ({});
      if (t.level === 'study') refreshStudySoon(t.uid, true);
      else if (t.level === 'series') { const s = seriesIndex.get(t.uid || ''); if (s) refreshStudySoon(s.studyUid, true); }
      else scheduleListRefresh(true);
      break;
    }
    case 'import':
      scheduleListRefresh(true);
      break;
    default: break;
  }
}

/** @type {Map<string, { bust: Bust, t: ReturnType<typeof setTimeout> }>} */
const refreshTimers = new Map();

/**
 * Reads a study again shortly (several asks in a row: once).
 * @param {string | undefined} uid
 * @param {Bust} bust renew thumbnails (true: of series whose count changed; a UID: of that one too)
 */
function refreshStudySoon(uid, bust) {
  if (!uid || !entries.has(uid)) return;
  const prev = refreshTimers.get(uid);
  if (prev) { clearTimeout(prev.t); if (prev.bust && bust !== prev.bust) bust = true; }
  refreshTimers.set(uid, { bust, t: setTimeout(() => { refreshTimers.delete(uid); refreshStudy(uid, bust); }, 250) });
}

/**
 * Re-reads a study after a job: its fields, local series and tile thumbnails.
 * @param {string} uid
 * @param {Bust} bust
 */
async function refreshStudy(uid, bust) {
  const e = entries.get(uid);
  if (!e) return;
  /** @type {StudyDetail} */
  let r;
  const readAt = performance.now();
  try {
    forgetKnownLocal(uid);
    setPreviewed(uid, false);
    const checked = await checkLocal([uid]);
    if (checked && !knownLocal.has(uid) && !hasPreviews(uid)) throw new ApiError('gone', 404);
    r = await api(`/api/studies/${enc(uid)}`);
    // Here with previews only (thumbnails of a remote study): not local.
    if (!(Number(r.study && r.study.NumberOfStudyRelatedInstances) > 0)) {
      forgetKnownLocal(uid);
      if (!e.remote.size) throw new ApiError('previews only', 404);
      e.local = false;
      if (e.seriesLoaded) { mergeSeries(e, r.series || [], bust, readAt); renderSeriesGrid(e); }
      updateStudyRow(e);
      return;
    }
    markKnownLocal(uid);
  } catch (err) {
    if (statusOf(err) !== 404) { recordError(err, 'refreshing a study'); return; }
    e.local = false;
    for (const s of e.series.values()) s.local = null;
    if (!e.remote.size) {
      detachEntry(e);
      const L = currentList();
      if (L) { L.count = Math.max(0, L.count - 1); if (L.total) L.total--; }
      updateResultCount();
      return;
    }
    updateStudyRow(e);
    if (e.seriesLoaded) renderSeriesGrid(e);
    return;
  }
  e.local = true;
  if (e.where === 'remote') {
    // Local now: it moves from the remote block to the list.
    scheduleListRefresh(true);
  }
  e.data = Object.assign({}, e.data, stripEmpty(r.study || {}));
  if (e.seriesLoaded) {
    mergeSeries(e, r.series || [], bust, readAt);
    renderSeriesGrid(e);
  }
  updateStudyRow(e);
}

/** @type {ReturnType<typeof setTimeout> | 0} */
let listRefreshTimer = 0;

/**
 * The store changed: the list is read again within a second.
 * @param {boolean} [_force] asked after a job that changed the store (the refresh is the same)
 */
export function scheduleListRefresh(_force) {
  if (listRefreshTimer) return;
  listRefreshTimer = setTimeout(() => {
    listRefreshTimer = 0;
    refreshList().catch((e) => recordError(e, 'refreshing the list'));
  }, 1000);
}

/** Store changes: refresh counts in place, keep scroll position and expansion. */
async function refreshList() {
  const L = currentList();
  if (!L || !sourceLocal() || L.loading) return;
  const gen = L.gen;
  const showing = Math.max(L.offset, PAGE_SIZE);
  /** @type {StudiesPage} */
  const r = await api(localQuery(L.filters, L.sort, 0, Math.min(500, showing), L.countAll));
  if (currentList() !== L || gen !== L.gen) return;
  const rows = (r && r.studies) || [];
  const known = rows.filter((row) => { const e = entries.get(row.StudyInstanceUID); return !!e && e.where === 'local'; });
  const unknown = rows.length - known.length;
  const focusInside = resultsEl.contains(document.activeElement);
  // A small list with new studies (an import into an empty or short list): rebuild it in one go.
  if ((unknown > 0 || L.count === 0) && L.offset <= 100 && !focusInside) {
    const y = window.scrollY;
    resetListWithRows(r);
    window.scrollTo(0, y);
    // Remote results that are local now (previews, retrievals) move to the local list.
    if (remoteIndex.size) await renderRemote(remoteGen());
    return;
  }
  for (const row of known) {
    const e = /** @type {import('../../state/browser.js').StudyEntry} */ (entries.get(row.StudyInstanceUID));
    const before = e.data.NumberOfStudyRelatedInstances;
    e.data = Object.assign({}, e.data, stripEmpty(row));
    updateStudyRow(e);
    if (e.seriesLoaded && before !== row.NumberOfStudyRelatedInstances) refreshStudySoon(e.uid, true);
  }
  // A "more than" count below the one the list has (which counted to further down) says less.
  const saysLess = r.total_exact === false && L.total != null && r.total != null && r.total <= L.total;
  if (r.total != null && !saysLess && (r.total !== L.total || (r.total_exact !== false) !== L.totalExact)) {
    L.total = r.total;
    L.totalExact = r.total_exact !== false;
    if (L.offset < L.total || !L.totalExact) L.done = false;
    updateResultCount();
    maybeLoadMore();
  }
}
