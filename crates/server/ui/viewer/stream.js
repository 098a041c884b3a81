// @ts-check
// A series that is on a node and not (fully) here: its retrieval is queued at the highest
// priority (an equal one already queued is raised to it), and the job's events tell the viewer
// how far it got, so that each instance can be shown as soon as it is stored.
import { api, EVENTS_URL, post } from '../api.js';

/** @typedef {import('../api.js').JobProgress} JobProgress */
/** @typedef {import('../api.js').JobState} JobState */

/**
 * @typedef {{
 *   onProgress: (progress: JobProgress) => void,
 *   onEnd: (state: JobState, message: string) => void,
 * }} StreamHooks
 */

const TERMINAL = new Set(['completed', 'failed', 'canceled']);

/**
 * Retrieves series `series` of study `study` from `node`, calling `hooks` as it goes; returns
 * the job's id and a function that stops listening (the retrieval goes on).
 * @param {string} node
 * @param {string} study
 * @param {string} series
 * @param {StreamHooks} hooks
 */
export async function streamSeries(node, study, series, hooks) {
  // Listening first: no event of the job can be missed between its queueing and the stream.
  const events = new EventSource(EVENTS_URL);
  /** @type {number | null} */
  let job = null;
  /** @type {{ event: string, id: number, [key: string]: any }[]} */
  const early = [];
  let ended = false;
  const end = (/** @type {JobState} */ state, /** @type {any} */ error) => {
    if (ended) return;
    ended = true;
    events.close();
    hooks.onEnd(state, error && error.message ? String(error.message) : '');
  };
  const handle = (/** @type {{ event: string, id: number, [key: string]: any }} */ e) => {
    if (e.id !== job) return;
    if (e.event === 'progress' && e.progress) hooks.onProgress(e.progress);
    if (e.event === 'state' && TERMINAL.has(e.state)) end(e.state, e.error);
  };
  events.addEventListener('job', (message) => {
    try {
      const e = JSON.parse(/** @type {MessageEvent} */ (message).data);
      if (job === null) early.push(e); else handle(e);
    } catch { /* a malformed event is not ours */ }
  });
  const spec = { kind: 'retrieve', node, study_uid: study, series_uid: series };
  try {
    const queued = await post('/api/jobs', { spec, priority: 'highest' });
    job = Number(queued.id);
    if (queued.merged) await post(`/api/jobs/${job}/priority`, { priority: 'highest' });
  } catch (e) {
    events.close();
    throw e;
  }
  early.splice(0).forEach(handle);
  // It may have ended before the stream was listening to it.
  const record = await api(`/api/jobs/${job}`).catch(() => null);
  if (record && record.progress) hooks.onProgress(record.progress);
  if (record && TERMINAL.has(record.state)) end(record.state, record.error);
  return { job, stop: () => events.close() };
}
