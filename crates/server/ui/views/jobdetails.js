// @ts-check
// A job's details, beside the Jobs page: its record, error, what it does and did (in words and
// tables, see joboutput.js; the raw record folded away) and its live log.
import { api, enc } from '../api.js';
import { $, h, setChildren } from '../lib/dom.js';
import { reportError } from '../lib/errors.js';
import { fmtBytes, fmtNum, fullTime } from '../lib/format.js';
import { ACTIVE, cancelJob, retryJob } from '../state/jobs.js';
import { childSummary, describeOutput, describeSpec, pairs } from './joboutput.js';

/** @typedef {import('../api.js').Job} Job */
/** @typedef {import('../api.js').JobEvent} JobEvent */
/** @typedef {import('../api.js').JobLogLine} JobLogLine */
/** @typedef {import('../state/jobs.js').JobRecord} JobRecord */

/** @type {HTMLDialogElement} */
const dlg = $('#job-dialog');
/** @type {number | null} */
let shownId = null;
/** @type {ReturnType<typeof setTimeout> | 0} */
let timer = 0;
/** @type {HTMLElement | null} */
let logEl = null;

/** @param {number} id */
export async function openJobDetails(id) {
  shownId = id;
  $('#job-dialog-title').textContent = `Job ${id}`;
  setChildren($('#job-dialog-body'), h('p', { class: 'muted' }, 'Loading…'));
  if (!dlg.open) dlg.show();
  $('.close-dialog', dlg).focus();
  await load();
}

async function load() {
  const id = shownId;
  try {
    const j = await api(`/api/jobs/${enc(String(id))}`);
    if (id !== shownId || !dlg.open) return;
    render(j);
  } catch (e) {
    reportError(e, 'Job details');
    setChildren($('#job-dialog-body'), h('p', { class: 'error-text' }, 'Could not load: ' + (e instanceof Error ? e.message : String(e))));
  }
}

/** @param {Job} j */
function render(j) {
  const p = j.progress || {};
  const err = j.error;
  const active = ACTIVE.has(j.state);
  const kids = j.children;
  logEl = h('div', { class: 'log', testid: 'job-log' }, (j.log || []).map((l) => logLine(l)));
  $('#job-dialog-title').textContent = `Job ${j.id}: ${j.kind}`;
  const spec = describeSpec(j);
  const output = describeOutput(j);
  // Activities are records of what a peer did: they are not cancelled or retried from here.
  const runnable = j.kind !== 'receive';
  setChildren($('#job-dialog-body'),
    h('div', { class: 'toolbar' },
      h('span', { class: 'state-pill state-' + j.state }, String(j.state || '').replace('_', ' ')),
      active && runnable ? h('button', { type: 'button', class: 'small', testid: 'job-cancel', onclick: () => cancelJob(j.id).catch((e) => reportError(e, 'Cancel')) }, 'Cancel') : null,
      runnable && (j.state === 'failed' || j.state === 'canceled') ? h('button', { type: 'button', class: 'small', testid: 'job-retry', onclick: () => retryJob(j.id).catch((e) => reportError(e, 'Retry')) }, 'Retry') : null),
    pairs([
      ['Title', j.title || ''], ['Node', j.node || ''], ['Priority', runnable ? j.priority || '' : ''],
      ['Attempts', runnable && j.attempts != null ? `${j.attempts}${j.max_retries != null ? ' (up to ' + (j.max_retries + 1) + ')' : ''}` : ''],
      ['Progress', p.items_total || p.items_done ? `${fmtNum(p.items_done || 0)}${p.items_total ? ' / ' + fmtNum(p.items_total) : ''} items, ${fmtBytes(p.bytes_done || 0)}` : ''],
      ['Created', fullTime(j.created_at)], ['Started', fullTime(j.started_at)], ['Finished', fullTime(j.finished_at)],
      ['Retry at', fullTime(j.retry_at)], ['Depends on', (j.depends_on || []).join(', ')],
      ['Part of', j.parent != null ? h('button', { type: 'button', class: 'link', testid: 'job-parent', onclick: () => openJobDetails(Number(j.parent)) }, `job ${j.parent}`) : null],
      ['Its jobs', kids && kids.total ? childSummary(kids) : ''],
    ]),
    err ? [h('h3', null, 'Error'), h('p', { class: 'error-text', testid: 'job-error' }, `${err.category ? err.category + ': ' : ''}${err.message || ''}`)] : null,
    spec != null ? [h('h3', null, 'What it does'), h('div', { testid: 'job-spec' }, spec)] : null,
    output != null ? [h('h3', null, 'What it did'), h('div', { testid: 'job-output' }, output)] : null,
    h('h3', null, 'Log'), logEl,
    h('details', { class: 'raw-record' }, h('summary', null, 'The record as JSON'),
      h('pre', { testid: 'job-json' }, JSON.stringify({ spec: j.spec, output: j.output }, null, 2))));
}

/** @param {JobLogLine} l */
function logLine(l) {
  return h('div', { class: 'mono small-text' }, h('span', { class: 'muted' }, l.at ? new Date(l.at).toLocaleTimeString() + '  ' : ''), l.message || '');
}

/**
 * A log line as it happens, for the job shown.
 * @param {JobEvent} ev
 */
export function onJobLog(ev) {
  if (!dlg.open || ev.id !== shownId || !logEl) return;
  logEl.appendChild(logLine({ at: Date.now(), message: ev.message }));
}

/**
 * The job shown changed: read it again (at most every 0.7 s).
 * @param {JobRecord} j
 */
export function onJobChange(j) {
  if (!dlg.open || j.id !== shownId || timer) return;
  timer = setTimeout(() => { timer = 0; load(); }, 700);
}

/** Closes the details (leaving the Jobs page). */
export function closeJobDetails() {
  if (dlg.open) dlg.close();
}

export function initJobDetails() {
  dlg.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); dlg.close(); } });
}
