// @ts-check
// The Jobs page (every job, a page of them at a time, filtered on the server, the first page
// live) and the count of active jobs on its tab. Unfiltered, it lists activities: the jobs of
// an activity (a job's follow-ups, the thumbnails of what an association brought) fold under
// its row.
import { $, $$, clear, h } from '../lib/dom.js';
import { reportError } from '../lib/errors.js';
import { fmtBytes, fmtNum, fullTime, plural, relTime } from '../lib/format.js';
import { toast } from '../lib/toast.js';
import { debounce } from '../lib/util.js';
import {
  ACTIVE, PRIORITIES, TERMINAL, allJobs, cancelJob, clearFinishedJobs, forgetJobs, jobsForgotten, listJobs, mergeJob, retryJob,
  setJobPriority,
} from '../state/jobs.js';
import { openJobDetails } from './jobdetails.js';
import { childSummary } from './joboutput.js';

/** @typedef {import('../state/jobs.js').JobRecord} JobRecord */

/** Jobs per page. */
const PAGE = 100;
const body = $('#jobs-body');
/** @type {HTMLSelectElement} */
const stateFilter = $('#jobs-state');
/** @type {HTMLSelectElement} */
const kindFilter = $('#jobs-kind');
/** @type {HTMLInputElement} */
const textFilter = $('#jobs-text');

let loaded = false;
let loading = false;
/** The page shown: its first job's position among those the filters match, and how many match. */
let offset = 0;
let total = 0;
/** Jobs that came after the first page was read, while another page is shown. */
let newer = 0;
/** The newest job the filters matched when the page was read: any later one is new. */
let newestId = 0;
/** Job id → its row. @type {Map<number, HTMLTableRowElement>} */
const rows = new Map();
/**
 * Activities whose jobs are unfolded: the row holding them, its rows by job, and how many the
 * activity has.
 * @typedef {{ row: HTMLTableRowElement, body: HTMLElement, rows: Map<number, HTMLTableRowElement>, total: number }} Unfolded
 */
/** @type {Map<number, Unfolded>} */
const unfolded = new Map();
/** Activities the user unfolded (kept across reloads of the page). @type {Set<number>} */
const unfoldedIds = new Set();

/** Unfiltered, the page lists activities only; a filter finds matching jobs wherever they are. */
const activitiesOnly = () => !stateFilter.value && !kindFilter.value && !textFilter.value.trim();

/** Whether the page has been loaded once (it then follows every job change). */
export const jobsLoaded = () => loaded;

/** @param {JobRecord} j */
const jobText = (j) => [j.id, j.kind, j.state, j.node, j.title, j.error && j.error.message].join(' ').toLowerCase();

// ---------------------------------------------------------------- the tab's badge

let badgeQueued = false;
export function updateBadge() {
  if (badgeQueued) return;
  badgeQueued = true;
  requestAnimationFrame(() => {
    badgeQueued = false;
    let n = 0;
    for (const j of allJobs()) if (j.state === 'queued' || j.state === 'running') n++;
    const b = $('#jobs-badge');
    b.textContent = String(n);
    b.hidden = n === 0;
    b.setAttribute('aria-label', `${n} active jobs`);
  });
}

// ---------------------------------------------------------------- the table

/** Whether a load was asked for while one ran (it runs again after). */
let again = false;

/**
 * Reads a page of jobs under the filters (`at`: the first job's position; the page shown when
 * absent).
 * @param {number} [at]
 */
export async function loadJobs(at) {
  if (at != null) offset = Math.max(0, at);
  if (loading) { again = true; return; }
  loading = true;
  try {
    const filter = {
      state: stateFilter.value, kind: kindFilter.value, text: textFilter.value.trim(),
      parent: activitiesOnly() ? /** @type {'top'} */ ('top') : undefined,
    };
    const r = await listJobs({ ...filter, offset, limit: PAGE });
    const head = offset > 0 ? await listJobs({ ...filter, limit: 1 }) : r;
    newestId = Math.max(0, ...((head && head.jobs) || []).slice(0, 1).map((j) => j.id));
    rows.clear();
    unfolded.clear();
    clear(body);
    loaded = true;
    total = r && r.total != null ? r.total : 0;
    // The filters match fewer jobs now than where this page was: back to the last page.
    if (offset > 0 && offset >= total) { offset = Math.max(0, Math.floor((total - 1) / PAGE) * PAGE); again = true; }
    if (offset === 0) newer = 0;
    for (const rec of (r && r.jobs) || []) {
      const full = mergeJob(rec, { silent: true, fetchedAt: performance.now() });
      if (!rows.has(full.id)) insert(full);
    }
    for (const id of unfoldedIds) if (rows.has(id)) unfold(id);
    updatePaging();
  } catch (e) {
    reportError(e, 'Loading jobs');
  } finally {
    loading = false;
    if (again) { again = false; loadJobs(); }
  }
}

/** "101–200 of 1,234 jobs", and the buttons to the newer and older pages. */
function updatePaging() {
  const shown = rows.size;
  $('#jobs-count').textContent = total ? `${fmtNum(offset + 1)}–${fmtNum(offset + shown)} of ${plural(total, 'job')}` : '';
  /** @type {HTMLButtonElement} */
  const newerButton = $('#jobs-newer');
  newerButton.disabled = offset === 0;
  newerButton.textContent = newer ? `Newer (${fmtNum(newer)} new)` : 'Newer';
  /** @type {HTMLButtonElement} */ ($('#jobs-older')).disabled = offset + shown >= total;
  $('#jobs-empty').hidden = rows.size > 0;
}

/** @param {JobRecord} j */
function matches(j) {
  const st = stateFilter.value, kd = kindFilter.value, q = textFilter.value.trim().toLowerCase();
  return (!st || j.state === st) && (!kd || j.kind === kd) && (!q || jobText(j).includes(q))
    && (!activitiesOnly() || j.parent == null);
}

/**
 * Puts a job's row in place (newest first).
 * @param {JobRecord} j
 */
function insert(j) {
  const old = rows.get(j.id);
  if (old) old.remove();
  const tr = renderRow(j);
  /** @type {Element | null} */
  let before = null;
  for (const row of /** @type {HTMLCollectionOf<HTMLElement>} */ (body.children)) if (Number(row.dataset.jobId) < j.id) { before = row; break; }
  body.insertBefore(tr, before);
  rows.set(j.id, tr);
  while (rows.size > PAGE) {
    const last = /** @type {HTMLElement} */ (body.lastElementChild);
    const id = Number(last.dataset.jobId || last.dataset.activity);
    if (last.dataset.jobId) rows.delete(id); else unfolded.delete(id);
    last.remove();
  }
}

/**
 * Shows an activity's jobs under its row, the newest first, a hundred at a time.
 * @param {number} id
 */
async function unfold(id) {
  const parentRow = rows.get(id);
  if (!parentRow || unfolded.has(id)) return;
  const childBody = h('tbody');
  const more = h('button', { type: 'button', class: 'small', testid: 'job-children-more', hidden: true }, 'More');
  const row = h('tr', { class: 'job-children-row', 'data-activity': String(id), testid: 'job-children-row' },
    h('td', { colspan: '10' },
      h('table', { class: 'jobs-table nested', 'aria-label': `Jobs of job ${id}` }, childBody), more));
  parentRow.after(row);
  /** @type {Unfolded} */
  const entry = { row, body: childBody, rows: new Map(), total: 0 };
  unfolded.set(id, entry);
  unfoldedIds.add(id);
  const load = async () => {
    try {
      const r = await listJobs({ parent: id, offset: entry.rows.size, limit: PAGE });
      if (unfolded.get(id) !== entry) return;
      entry.total = (r && r.total) || 0;
      for (const rec of (r && r.jobs) || []) {
        const full = mergeJob(rec, { silent: true, fetchedAt: performance.now() });
        if (!entry.rows.has(full.id)) {
          const tr = renderRow(full, true);
          entry.rows.set(full.id, tr);
          childBody.appendChild(tr);
        }
      }
      more.hidden = entry.rows.size >= entry.total;
      more.textContent = `More (${fmtNum(entry.total - entry.rows.size)} not shown)`;
    } catch (e) { reportError(e, 'Loading jobs'); }
  };
  more.addEventListener('click', load);
  await load();
}

/** @param {number} id */
function fold(id) {
  const entry = unfolded.get(id);
  if (entry) entry.row.remove();
  unfolded.delete(id);
  unfoldedIds.delete(id);
}

/** @param {number} id */
function toggleChildren(id) {
  if (unfolded.has(id)) fold(id); else unfold(id);
  const tr = rows.get(id);
  const button = tr && tr.querySelector('[data-testid=job-children]');
  if (button) button.setAttribute('aria-expanded', String(unfolded.has(id)));
}

/**
 * One of an unfolded activity's jobs changed: its row is drawn again, or added at the top.
 * @param {JobRecord} j
 * @param {Unfolded} entry
 */
function onChildChange(j, entry) {
  const old = entry.rows.get(j.id);
  const tr = renderRow(j, true);
  if (old) old.replaceWith(tr);
  else if (!entry.rows.size || j.id > Math.max(...entry.rows.keys())) entry.body.prepend(tr);
  else return;
  entry.rows.set(j.id, tr);
}

/**
 * A job changed: its row is drawn again (keeping the focus), or added when it matches.
 * @param {JobRecord} j
 */
export function onJobChange(j) {
  updateBadge();
  if (!loaded) return;
  const entry = j.parent != null ? unfolded.get(j.parent) : undefined;
  if (entry) onChildChange(j, entry);
  const tr = rows.get(j.id);
  if (tr) {
    const active = /** @type {HTMLElement | null} */ (document.activeElement);
    const focused = active && tr.contains(active) ? active.dataset.testid : null;
    const nt = renderRow(j);
    tr.replaceWith(nt);
    rows.set(j.id, nt);
    if (focused) { const f = /** @type {HTMLElement | null} */ (nt.querySelector(`[data-testid="${focused}"]`)); if (f) f.focus(); }
  } else if (matches(j) && j.kind && j.id > newestId) {
    // A new job: on the first page it comes in at the top; on another, the Newer button counts it.
    newestId = j.id;
    total++;
    if (offset === 0) insert(j); else newer++;
    updatePaging();
  }
  $('#jobs-empty').hidden = rows.size > 0;
}

/**
 * A job's row (`child`: in the list of an activity's jobs).
 * @param {JobRecord} j
 * @param {boolean} [child]
 */
function renderRow(j, child = false) {
  const p = j.progress || {};
  const done = Number(p.items_done || 0), tot = Number(p.items_total || 0);
  const pct = j.state === 'completed' ? 100 : tot ? Math.min(100, (100 * done) / tot) : 0;
  const bar = h('div', { class: 'bar' });
  bar.style.width = pct + '%';
  const bytes = p.bytes_done ? fmtBytes(p.bytes_done) + (p.bytes_total ? ' / ' + fmtBytes(p.bytes_total) : '') : '';
  const active = ACTIVE.has(j.state);
  // An activity records what a peer does: it is not cancelled, retried or reprioritised here.
  const runnable = j.kind !== 'receive';
  /** @param {number | null | undefined} ms @param {string} label */
  const time = (ms, label) => h('td', { class: 'time', title: ms ? fullTime(ms) : '', 'data-ms': ms || '', 'aria-label': ms ? `${label} ${fullTime(ms)}` : '' }, relTime(ms));
  const err = j.error && j.error.message ? `${j.error.category ? j.error.category + ': ' : ''}${j.error.message}` : '';
  const kids = j.children && j.children.total ? j.children : null;
  return h('tr', { testid: child ? 'job-child-row' : 'job-row', 'data-job-id': String(j.id), 'data-state': j.state || '', 'data-kind': j.kind || '', 'data-text': jobText(j) },
    h('td', { class: 'mono' }, String(j.id)),
    h('td', null, j.kind || ''),
    h('td', null, h('span', { class: 'state-pill state-' + (j.state || 'queued'), testid: 'job-state' }, (j.state || '').replace('_', ' ')),
      j.state === 'waiting_retry' && j.retry_at ? h('div', { class: 'muted small-text' }, 'retry ' + relTime(j.retry_at)) : null,
      // Where nodes share the queue: which of them runs it.
      j.state === 'running' && j.claimed_by ? h('div', { class: 'muted small-text', testid: 'job-claimed-by' }, 'on ' + j.claimed_by) : null),
    h('td', null, h('div', { class: 'job-progress' },
      (tot || done || active) ? h('div', { class: 'progress' + (active && !tot && j.state === 'running' ? ' indeterminate' : ''), role: 'progressbar',
        'aria-label': 'Progress', 'aria-valuemin': '0', 'aria-valuemax': String(tot || 100), 'aria-valuenow': String(tot ? done : pct) }, bar) : null,
      (tot || done) ? h('span', null, `${fmtNum(done)}${tot ? ' / ' + fmtNum(tot) : ''} items${bytes ? ' · ' + bytes : ''}`) : (bytes ? h('span', null, bytes) : null))),
    h('td', null, j.node || (j.spec && j.spec.node) || ''),
    h('td', null, h('div', { class: 'job-title', title: j.title || '' }, j.title || ''), err ? h('div', { class: 'error-text small-text', title: err }, err) : null,
      kids && !child ? h('button', { type: 'button', class: 'link small-text', testid: 'job-children', 'aria-expanded': String(unfolded.has(j.id)),
        'aria-label': `Jobs of job ${j.id}: ${childSummary(kids)}`, onclick: () => toggleChildren(j.id) }, (unfolded.has(j.id) ? '▾ ' : '▸ ') + childSummary(kids)) : null),
    time(j.created_at, 'Created'), time(j.started_at, 'Started'), time(j.finished_at, 'Finished'),
    h('td', { class: 'actions' },
      // A pending job's priority (a running one keeps its worker).
      runnable && active && j.state !== 'running' ? priorityChooser(j) : null,
      runnable && active ? h('button', { type: 'button', class: 'small', testid: 'job-cancel', 'aria-label': `Cancel job ${j.id}`,
        onclick: () => cancelJob(j.id).catch((e) => reportError(e, 'Cancel')) }, 'Cancel') : null,
      runnable && (j.state === 'failed' || j.state === 'canceled') ? h('button', { type: 'button', class: 'small', testid: 'job-retry', 'aria-label': `Retry job ${j.id}`,
        onclick: () => retryJob(j.id).catch((e) => reportError(e, 'Retry')) }, 'Retry') : null,
      h('button', { type: 'button', class: 'small', testid: 'job-details', 'aria-label': `Details of job ${j.id}`, onclick: () => openJobDetails(j.id) }, 'Details')));
}

/** @param {JobRecord} j */
function priorityChooser(j) {
  const select = h('select', {
    class: 'small', testid: 'job-priority', 'aria-label': `Priority of job ${j.id}`,
    onchange: () => setJobPriority(j.id, select.value).catch((e) => reportError(e, 'Priority')),
  }, PRIORITIES.map((p) => h('option', { value: p, selected: p === (j.priority || 'normal') }, p)));
  return select;
}

function refreshTimes() {
  for (const td of $$('td.time', body)) { const ms = Number(td.dataset.ms); if (ms) td.textContent = relTime(ms); }
}

async function clearFinished() {
  try {
    const r = await clearFinishedJobs();
    toast(`Cleared ${plural((r && r.cleared) || 0, 'finished job')}.`, 'ok');
    await loadJobs();
    forgetJobs((j, id) => TERMINAL.has(j.state) && !rows.has(id));
    jobsForgotten.notify();
  } catch (e) { reportError(e, 'Clear finished'); }
}

export function initJobs() {
  stateFilter.addEventListener('change', () => loadJobs(0));
  kindFilter.addEventListener('change', () => loadJobs(0));
  textFilter.addEventListener('input', debounce(() => loadJobs(0), 200));
  $('#jobs-newer').addEventListener('click', () => loadJobs(offset - PAGE));
  $('#jobs-older').addEventListener('click', () => loadJobs(offset + PAGE));
  $('#jobs-clear').addEventListener('click', clearFinished);
  setInterval(refreshTimes, 15000);
}
