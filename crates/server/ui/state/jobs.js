// @ts-check
// The jobs the page knows of: merged from listings, single fetches and the event stream, and
// indexed by the series and studies that retrievals concern.
import { api, enc, jobLimit, post, statusOf } from '../api.js';
import { recordError, reportError } from '../lib/errors.js';
import { toast } from '../lib/toast.js';
import { Emitter } from '../lib/util.js';

/** @typedef {import('../api.js').Job} Job */
/** @typedef {import('../api.js').JobEvent} JobEvent */
/** @typedef {import('../api.js').JobSpec} JobSpec */
/** @typedef {import('../api.js').JobState} JobState */
/**
 * A job as the page knows it. `_handled`: the reactions to its end have run; `_evAt`: when an
 * event last changed it (a fetch that started before does not undo that); `_endedAt`: when an
 * event said it ended (performance.now()).
 * @typedef {Job & { _handled: boolean, _evAt?: number, _endedAt?: number }} JobRecord
 */
/** @typedef {{ silent?: boolean, fetchedAt?: number, event?: boolean }} MergeOptions */

/** @type {ReadonlySet<string | undefined>} */
export const ACTIVE = new Set(['queued', 'running', 'waiting_retry']);
/** @type {ReadonlySet<string | undefined>} */
export const TERMINAL = new Set(['completed', 'failed', 'canceled']);

/** @type {Map<number, JobRecord>} */
const jobs = new Map();
/** SeriesInstanceUID → ids of the retrievals of that series. @type {Map<string, Set<number>>} */
const bySeries = new Map();
/** StudyInstanceUID → ids of the retrievals of that whole study. @type {Map<string, Set<number>>} */
const byStudy = new Map();

/** A job changed (with its state before). @type {Emitter<[JobRecord, JobState | undefined]>} */
export const jobChanges = new Emitter();
/** A job's log line, as it happens. @type {Emitter<[JobEvent]>} */
export const jobLogs = new Emitter();
/** Jobs were forgotten (cleared). @type {Emitter<[]>} */
export const jobsForgotten = new Emitter();

/**
 * A retrieval of previews only (not the whole series).
 * @param {JobSpec | undefined} sp
 */
export const isPreviewSpec = (sp) => !!(sp && (sp.preview_first || sp.preview_only || sp.sop_instance_uid));

/** @param {number} id */
export const getJob = (id) => jobs.get(id);

/** Every job known. */
export const allJobs = () => jobs.values();

/**
 * The retrievals of a series or of its whole study, newest first.
 * @param {string} seriesUid
 * @param {string} studyUid
 */
export function retrieveJobsFor(seriesUid, studyUid) {
  const ids = new Set([...(bySeries.get(seriesUid) || []), ...(byStudy.get(studyUid) || [])]);
  /** @type {JobRecord[]} */
  const out = [];
  for (const id of ids) { const j = jobs.get(id); if (j) out.push(j); }
  out.sort((a, b) => b.id - a.id);
  return out;
}

/** @param {JobRecord} rec */
function indexJob(rec) {
  const sp = rec.spec;
  if (rec.kind !== 'retrieve' || !sp) return;
  /** @param {Map<string, Set<number>>} m @param {string} k */
  const add = (m, k) => { let s = m.get(k); if (!s) m.set(k, (s = new Set())); s.add(rec.id); };
  if (sp.series_uid) add(bySeries, sp.series_uid);
  else if (sp.study_uid) add(byStudy, sp.study_uid);
}

/**
 * Merges what we learnt about a job; `silent` records a job from a listing without side effects.
 * @param {Partial<Job> & { id: number }} partial
 * @param {MergeOptions} [opts]
 */
export function mergeJob(partial, opts = {}) {
  const id = partial.id;
  let rec = jobs.get(id);
  const prevState = rec ? rec.state : undefined;
  if (!rec) { rec = { id, progress: null, error: null, _handled: false }; jobs.set(id, rec); }
  const target = /** @type {Record<string, unknown>} */ (rec);
  const from = /** @type {Record<string, unknown>} */ (partial);
  for (const k of Object.keys(partial)) {
    if (from[k] === undefined || k === 'log') continue;
    if (opts.fetchedAt && (rec._evAt || 0) > opts.fetchedAt && (k === 'state' || k === 'progress' || k === 'error')) continue;
    target[k] = from[k];
  }
  if (!opts.fetchedAt && opts.event) {
    rec._evAt = performance.now();
    if (TERMINAL.has(rec.state) && !TERMINAL.has(prevState)) rec._endedAt = rec._evAt;
  }
  if (ACTIVE.has(rec.state)) rec._handled = false;
  if (opts.silent && TERMINAL.has(rec.state)) rec._handled = true;
  indexJob(rec);
  jobChanges.notify(rec, prevState);
  return rec;
}

/** @type {Set<number>} */
const fetching = new Set();
/** Jobs asked for again while a read of them was under way (it may be older than the ask). @type {Set<number>} */
const fetchAgain = new Set();

/**
 * Reads a job's whole record (once at a time; asked again meanwhile, once more after).
 * @param {number} id
 */
export async function fetchJob(id) {
  if (fetching.has(id)) { fetchAgain.add(id); return; }
  fetching.add(id);
  const t = performance.now();
  try {
    const rec = await api(`/api/jobs/${enc(id)}`);
    mergeJob(rec, { fetchedAt: t });
  } catch (e) {
    if (statusOf(e) !== 404) recordError(e, `job ${id}`);
  } finally {
    fetching.delete(id);
    if (fetchAgain.delete(id)) fetchJob(id);
  }
}

/**
 * An event of the job engine.
 * @param {JobEvent} ev
 */
export function onJobEvent(ev) {
  if (!ev || ev.id == null) return;
  const known = jobs.get(ev.id);
  switch (ev.event) {
    case 'queued':
      mergeJob({ id: ev.id, kind: ev.kind, title: ev.title, priority: ev.priority, parent: ev.parent,
        state: known ? known.state : 'queued', created_at: known ? known.created_at : Date.now() }, { event: true });
      if (!known || !known.spec) fetchJob(ev.id);
      if (ev.parent != null && !ev.merged) recountSoon(ev.parent);
      break;
    case 'state': {
      if (!known) { fetchJob(ev.id); break; }
      /** @type {Partial<Job> & { id: number }} */
      const f = { id: ev.id, state: ev.state, attempts: ev.attempts };
      if ('error' in ev) f.error = ev.error;
      else if (ev.state === 'queued' || ev.state === 'running') f.error = null;
      if ('retry_at' in ev) f.retry_at = ev.retry_at;
      if (ev.title) f.title = ev.title;
      if (ev.state === 'running' && !known.started_at) f.started_at = Date.now();
      if (TERMINAL.has(ev.state)) f.finished_at = Date.now();
      if (ACTIVE.has(ev.state)) f.finished_at = null;
      mergeJob(f, { event: true });
      // A start is read again too: where nodes share the queue, it says which node runs it.
      if (!known.spec || TERMINAL.has(ev.state) || ev.state === 'running') fetchJob(ev.id);
      if (known.parent != null) recountSoon(known.parent);
      break;
    }
    case 'progress':
      if (!known) { fetchJob(ev.id); break; }
      mergeJob({ id: ev.id, progress: ev.progress }, { event: true });
      break;
    case 'log':
      jobLogs.notify(ev);
      break;
    case 'priority':
      if (known) mergeJob({ id: ev.id, priority: ev.priority }, { event: true });
      break;
    default: break;
  }
}

/** Activities whose count of jobs is read again soon. @type {Set<number>} */
const recounting = new Set();

/**
 * One of an activity's jobs came or changed: the activity's counts are read again (at most
 * every half second, however many of its jobs change).
 * @param {number} id
 */
function recountSoon(id) {
  if (recounting.has(id)) return;
  recounting.add(id);
  setTimeout(() => { recounting.delete(id); if (jobs.has(id)) fetchJob(id); }, 500);
}

/** Reads the jobs that matter to the page: every active one, and the retrievals that failed. */
export async function seedJobs() {
  try {
    const [a, b] = await Promise.all([
      api('/api/jobs?state=queued&state=running&state=waiting_retry&state=failed&kind=retrieve&limit=500'),
      api('/api/jobs?state=queued&state=running&state=waiting_retry&limit=500'),
    ]);
    for (const r of [...(a && a.jobs) || [], ...(b && b.jobs) || []]) mergeJob(r, { silent: true, fetchedAt: performance.now() });
  } catch (e) { reportError(e, 'Loading jobs'); }
}

/**
 * Reads one page of the job list.
 * @param {{ state?: string, kind?: string, text?: string, offset?: number, limit?: number, parent?: number | 'top' }} filter
 * @returns {Promise<{ jobs?: Job[], total?: number } | null>}
 */
export function listJobs(filter) {
  const p = new URLSearchParams();
  p.set('limit', String(filter.limit || 100));
  if (filter.offset) p.set('offset', String(filter.offset));
  if (filter.state) p.append('state', filter.state);
  if (filter.kind) p.append('kind', filter.kind);
  if (filter.text) p.set('text', filter.text);
  if (filter.parent != null) p.set('parent', String(filter.parent));
  return api('/api/jobs?' + p.toString());
}

/** @param {number} id */
export async function retryJob(id) {
  const r = await post(`/api/jobs/${enc(id)}/retry`);
  if (r && r.ok === false) toast(`Job ${id}: nothing to retry`);
}

/** The five priorities, lowest first. */
export const PRIORITIES = ['lowest', 'low', 'normal', 'high', 'highest'];

/**
 * Moves a pending job to another priority.
 * @param {number} id
 * @param {string} priority
 */
export async function setJobPriority(id, priority) {
  await post(`/api/jobs/${enc(id)}/priority`, { priority });
  mergeJob({ id, priority });
}

/** @param {number} id */
export async function cancelJob(id) {
  const r = await post(`/api/jobs/${enc(id)}/cancel`);
  if (r && r.ok === false) toast(`Job ${id}: nothing to cancel`);
}

/**
 * Queues a job (at most 4 submissions at once); resolves to the server's answer ({ id }).
 * @param {JobSpec} spec
 * @returns {Promise<{ id?: number } | null>}
 */
/** What the page knows of a job's subject, for its title (set by the browser view). @type {(spec: JobSpec) => object | null} */
let subjectOf = () => null;

/** @param {(spec: JobSpec) => object | null} describe */
export function setJobSubject(describe) { subjectOf = describe; }

/** Queues a job, with what the page knows of its subject. @param {JobSpec} spec */
export const postJob = (spec) => jobLimit(() => post('/api/jobs', { spec, about: subjectOf(spec) || {} }));

/**
 * Records a job just queued (the server may have merged it into a known one).
 * @param {{ id?: number } | null} r
 * @param {JobSpec} spec
 */
function recordQueued(r, spec) {
  if (r && r.id != null && !jobs.has(r.id)) mergeJob({ id: r.id, kind: /** @type {Job['kind']} */ (spec.kind), spec, state: 'queued', created_at: Date.now() });
  else if (r && r.id != null) {
    const j = /** @type {JobRecord} */ (jobs.get(r.id));
    if (!j.spec) { j.spec = spec; indexJob(j); jobChanges.notify(j, j.state); }
  }
}

/**
 * Queues jobs; failures are recorded and returned.
 * @param {JobSpec[]} specs
 * @returns {Promise<{ ok: number, failed: PromiseRejectedResult[] }>}
 */
export async function submitJobs(specs) {
  const results = await Promise.allSettled(specs.map((spec) => postJob(spec).then((r) => { recordQueued(r, spec); return r; })));
  const failed = /** @type {PromiseRejectedResult[]} */ (results.filter((x) => x.status === 'rejected'));
  for (const f of failed) recordError(f.reason, 'queueing a job');
  return { ok: results.length - failed.length, failed };
}

/**
 * Clears the finished jobs on the server, and forgets the finished ones that did not fail.
 * @returns {Promise<{ cleared?: number } | null>}
 */
export async function clearFinishedJobs() {
  const r = await post('/api/jobs/clear');
  forgetJobs((j) => TERMINAL.has(j.state) && j.state !== 'failed');
  return r;
}

/**
 * Forgets the jobs `pred` picks (without telling anyone: see jobsForgotten).
 * @param {(j: JobRecord, id: number) => boolean} pred
 */
export function forgetJobs(pred) {
  for (const [id, j] of jobs) if (pred(j, id)) jobs.delete(id);
}
