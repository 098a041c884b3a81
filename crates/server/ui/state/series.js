// @ts-check
// Series of a study: what is known of each (local, on which nodes, retrieving), and loading
// them (the local store's and each node's, merged).
import { api, enc, netLimit, post, statusOf } from '../api.js';
import { recordError, reportError } from '../lib/errors.js';
import { plural } from '../lib/format.js';
import { browserChanges, currentList, hasPreviews, mergeSeries, stripEmpty } from './browser.js';
import { ACTIVE, isPreviewSpec, retrieveJobsFor } from './jobs.js';

/** @typedef {import('./browser.js').StudyEntry} StudyEntry */
/** @typedef {import('./browser.js').SeriesEntry} SeriesEntry */
/** @typedef {import('./jobs.js').JobRecord} JobRecord */
/** @typedef {import('../api.js').SeriesRow} SeriesRow */
/**
 * Where a series stands: 'local' (complete, as far as we know), 'remote' (nothing local),
 * 'partial', 'retrieving', 'failed' (its last retrieval, and it is not complete).
 * @typedef {{
 *   state: 'local' | 'remote' | 'partial' | 'retrieving' | 'failed', localCount: number, remoteCount: number | null,
 *   active: JobRecord | undefined, previewActive: boolean, failed: JobRecord | null,
 * }} SeriesState
 */

/** Modalities without pixels: no thumbnail is asked for. */
const NON_IMAGE = new Set(['SR', 'KO', 'PR', 'DOC', 'RTSTRUCT', 'RTPLAN', 'RTRECORD', 'ECG', 'AU', 'REG', 'FID', 'PLAN', 'HD', 'RESP', 'EPS', 'RWV']);

/**
 * The series' description, the local one first.
 * @param {SeriesEntry} s
 * @returns {string}
 */
export const seriesDesc = (s) => (s.local && s.local.SeriesDescription) || [...s.remote.values()].map((r) => r.SeriesDescription).find(Boolean) || '';

/**
 * A field of the series, the local row's first, else the first node's that has it.
 * @param {SeriesEntry} s
 * @param {string} k
 * @returns {any}
 */
export function seriesField(s, k) {
  if (s.local && s.local[k] != null && s.local[k] !== '') return s.local[k];
  for (const r of s.remote.values()) if (r[k] != null && r[k] !== '') return r[k];
  return null;
}

/**
 * "#3 Axial T1" (number and description; without a description, "#3 CT series").
 * @param {SeriesEntry} s
 */
export const seriesTitle = (s) => {
  const n = seriesField(s, 'SeriesNumber');
  const modality = seriesField(s, 'Modality');
  return `${n != null ? '#' + n + ' ' : ''}${seriesDesc(s) || (modality ? `${modality} series` : 'Series')}`;
};

/**
 * Whether a series description passes the list's series description filter (* and ? wildcards,
 * else a substring; case-insensitive).
 * @param {string} desc
 */
export function seriesFilterMatch(desc) {
  const L = currentList();
  const q = L ? L.filters.series_description : '';
  if (!q) return true;
  const d = String(desc || '').toLowerCase();
  if (/[*?]/.test(q)) {
    const re = new RegExp('^' + q.toLowerCase().replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
    return re.test(d);
  }
  return d.includes(q.toLowerCase());
}

/**
 * What a retrieval did of one series: the series' own count in a study's retrieval, else the
 * job's (null when a study's retrieval has not counted the series yet).
 * @param {JobRecord} job
 * @param {string} seriesUid
 * @returns {{ done: number, total: number } | null}
 */
export function seriesProgress(job, seriesUid) {
  const p = job.progress || {};
  if (job.spec && job.spec.series_uid) return { done: Number(p.items_done || 0), total: Number(p.items_total || 0) };
  const own = p.series && p.series[seriesUid];
  return own ? { done: Number(own.done || 0), total: Number(own.total || 0) } : null;
}

/**
 * @param {SeriesEntry} s
 * @returns {SeriesState}
 */
export function seriesState(s) {
  /** @type {number | null} */
  let remoteCount = null;
  for (const r of s.remote.values()) {
    const n = Number(r.NumberOfSeriesRelatedInstances);
    if (Number.isFinite(n) && n > 0) remoteCount = Math.max(remoteCount || 0, n);
  }
  const jobs = retrieveJobsFor(s.uid, s.studyUid);
  let active = jobs.find((j) => ACTIVE.has(j.state) && !isPreviewSpec(j.spec));
  const previewActive = jobs.some((j) => ACTIVE.has(j.state) && isPreviewSpec(j.spec));
  const latest = jobs[0];
  let localCount = s.local ? Number(s.local.NumberOfSeriesRelatedInstances || 0) : 0;
  // A retrieval's own count of this series is ahead of the local rows read before it stored
  // them: a series that a study's retrieval has finished, or a retrieval that has just ended,
  // is shown by that count until the rows are read again (never back to "remote" meanwhile).
  for (const j of jobs) {
    if (j.state === 'completed' && !isPreviewSpec(j.spec) && (j._endedAt || 0) > (s.localReadAt || 0)) {
      localCount = Math.max(localCount, seriesProgress(j, s.uid)?.done || 0);
    }
  }
  // A study's retrieval never fetches again what is stored: a series complete here is not in it.
  const own = active ? seriesProgress(active, s.uid) : null;
  const ownTotal = own ? own.total || remoteCount || 0 : 0;
  if (active && !active.spec?.series_uid) {
    if (own && ownTotal && own.done >= ownTotal) {
      localCount = Math.max(localCount, own.done);
      active = undefined;
    } else if (remoteCount != null && localCount >= remoteCount) {
      active = undefined;
    }
  }
  // Known to be complete only against a remote count: without one, a failed retrieval stays shown.
  const complete = localCount > 0 && remoteCount != null && localCount >= remoteCount;
  /** @type {SeriesState['state']} */
  let state;
  if (active) state = 'retrieving';
  else if (latest && latest.state === 'failed' && !complete) state = 'failed';
  else if (localCount === 0) state = 'remote';
  else if (remoteCount != null && localCount < remoteCount) state = 'partial';
  else state = 'local';
  return { state, localCount, remoteCount, active, previewActive, failed: state === 'failed' ? latest : null };
}

/**
 * The preview instances of the series here (fetched for its thumbnail; not counted as local).
 * @param {SeriesEntry} s
 */
export const previewCount = (s) => (s.local ? Number(s.local.PreviewInstances) || 0 : 0);

/**
 * Whether the series has instances here with pixels, previews too (a thumbnail can be rendered).
 * @param {SeriesEntry} s
 */
export function canThumb(s) {
  if (!s.local || !(Number(s.local.NumberOfSeriesRelatedInstances) + previewCount(s) > 0)) return false;
  const mod = seriesField(s, 'Modality');
  if (mod && NON_IMAGE.has(String(mod).toUpperCase())) return false;
  if ('Rows' in s.local && !s.local.Rows) return false;
  return true;
}

/**
 * Loads local series (GET /api/studies/{uid}) and remote series of each node the study was
 * found on; tells the views 'series-loading' and 'series-loaded'.
 * @param {StudyEntry} e
 * @param {{ force?: boolean, localOnly?: boolean, bust?: boolean | string }} [opts]
 * @returns {Promise<void>}
 */
export function loadSeries(e, opts = {}) {
  if (e.seriesLoading && !opts.force) return e.seriesLoading;
  const gen = ++e.seriesGen;
  if (!e.seriesLoaded) browserChanges.notify({ type: 'series-loading', entry: e });
  const loading = (async () => {
    /** @type {string[]} */
    const errors = [];
    /** @type {SeriesRow[] | null} */
    let localRows = null;
    const readAt = performance.now();
    /** @type {Promise<void>[]} */
    const tasks = [];
    // A remote study may have previews here (its series' thumbnails): asked too.
    if (e.local || hasPreviews(e.uid)) {
      tasks.push(netLimit(() => api(`/api/studies/${enc(e.uid)}`)).then((r) => {
        localRows = (r && r.series) || [];
        // A remote study's own fields stay the node's (its counts are the node's).
        if (r && r.study && e.local) e.data = Object.assign({}, e.data, stripEmpty(r.study));
      }, (err) => {
        if (statusOf(err) === 404) { e.local = false; localRows = []; } else errors.push(`local: ${err.message}`);
      }));
    }
    if (!opts.localOnly) {
      for (const node of e.remote.keys()) {
        if (e.remoteSeries.has(node)) continue;
        tasks.push(netLimit(() => post('/api/remote/series', { node, study: e.uid })).then((r) => {
          e.remoteSeries.set(node, (r && r.series) || []);
        }, (err) => { errors.push(`${node}: ${err.message}`); recordError(err, `series on ${node}`); }));
      }
    }
    await Promise.all(tasks);
    if (gen !== e.seriesGen) return;
    mergeSeries(e, localRows, opts.bust, readAt);
    e.seriesLoaded = true;
    browserChanges.notify({ type: 'series-loaded', entry: e, errors });
  })().catch((err) => reportError(err, 'Loading series')).finally(() => { if (gen === e.seriesGen) e.seriesLoading = null; });
  e.seriesLoading = loading;
  return loading;
}

/**
 * The status line under a study's series, once they are loaded.
 * @param {StudyEntry} e
 * @param {string[]} errors
 */
export function seriesStatusText(e, errors) {
  const hidden = [...e.series.values()].filter((s) => !seriesFilterMatch(seriesDesc(s))).length;
  const msgs = [];
  if (!e.series.size) msgs.push(errors.length ? '' : 'No series.');
  if (hidden) msgs.push(`${plural(hidden, 'series', 'series')} hidden by the series description filter.`);
  if (errors.length) msgs.push('Could not list series: ' + errors.join('; '));
  return msgs.filter(Boolean).join(' ');
}
