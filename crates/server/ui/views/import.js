// @ts-check
// The Import page: files and folders dropped or chosen are uploaded (see state/import.js); a
// path on the server is imported by a job, followed live.
import { post } from '../api.js';
import { $, h, setChildren } from '../lib/dom.js';
import { reportError } from '../lib/errors.js';
import { fmtBytes, fmtNum, plural } from '../lib/format.js';
import { toast } from '../lib/toast.js';
import { addUploads, cancelUploads, uploadTotals } from '../state/import.js';
import { ACTIVE, fetchJob, getJob, mergeJob } from '../state/jobs.js';
import { showPage } from './pages.js';

/** @typedef {import('../state/import.js').Batch} Batch */
/** @typedef {import('../state/import.js').ImportChange} ImportChange */
/** @typedef {import('../state/import.js').UploadItem} UploadItem */
/** @typedef {import('../state/jobs.js').JobRecord} JobRecord */

/** Each batch's summary card. @type {Map<Batch, HTMLElement>} */
const cards = new Map();
/** Import job id → its status line. @type {Map<number, HTMLElement>} */
const pathJobs = new Map();

/**
 * Uploads files as one batch.
 * @param {UploadItem[]} items
 */
function importFiles(items) {
  if (!items.length) { toast('No files found.'); return; }
  addUploads(items);
}

/** @param {ImportChange} change */
export function onImportChange(change) {
  if (change.type === 'batch-added') {
    const card = h('div', { class: 'summary-card', testid: 'import-batch' });
    cards.set(change.batch, card);
    $('#import-summary').prepend(card);
  } else if (change.type === 'batch') renderBatch(change.batch);
  else if (change.soon) renderProgressSoon();
  else renderProgress();
}

let progressQueued = false;
function renderProgressSoon() {
  if (progressQueued) return;
  progressQueued = true;
  requestAnimationFrame(() => { progressQueued = false; renderProgress(); });
}

function renderProgress() {
  const t = uploadTotals();
  const busy = t.doneFiles < t.files;
  const box = $('#upload-progress');
  box.hidden = t.files === 0;
  const bytes = t.sentBytes;
  const pct = t.bytes ? (100 * bytes) / t.bytes : (t.files ? (100 * t.doneFiles) / t.files : 0);
  $('#upload-bar').style.width = Math.min(100, pct) + '%';
  $('#upload-text').textContent = `${busy ? 'Uploading' : 'Uploaded'} ${fmtNum(t.doneFiles)} / ${plural(t.files, 'file')} · ${fmtBytes(bytes)} / ${fmtBytes(t.bytes)}`;
  $('#upload-cancel').hidden = !busy;
}

/** @param {Batch} b */
function renderBatch(b) {
  const card = /** @type {HTMLElement} */ (cards.get(b));
  const finished = b.done >= b.files;
  card.dataset.done = String(finished);
  if (!finished) {
    // Counts appear once the batch is done (the overall bar above shows the progress).
    setChildren(card, h('div', null, h('b', null, 'Uploading…'), ' ', h('span', { class: 'muted' }, 'results appear when every file is stored')));
    return;
  }
  setChildren(card,
    h('div', null, h('b', null, 'Upload finished'), ` — ${plural(b.files, 'file')} (${fmtBytes(b.bytes)}), ${new Date().toLocaleTimeString()}`),
    ...outcome(b.stored, b.duplicates, b.skipped, b.failed));
}

/**
 * What an import did, the same for an upload and a path: counts, then the files skipped (and
 * the uploads failed), each with its reason.
 * @param {number} stored
 * @param {number} duplicates
 * @param {{ name: string, reason: string }[]} skipped
 * @param {{ name: string, reason: string }[]} failed
 */
function outcome(stored, duplicates, skipped, failed) {
  /** @param {{ name: string, reason: string }[]} list */
  const items = (list) => h('ul', null, list.slice(0, 500).map((s) => h('li', { testid: 'import-skipped-file' }, h('span', { class: 'mono' }, s.name), ': ', s.reason)),
    list.length > 500 ? h('li', { class: 'muted' }, `and ${fmtNum(list.length - 500)} more`) : null);
  return [
    h('div', { class: 'counts' },
      h('span', { testid: 'import-stored' }, `${fmtNum(stored)} stored`),
      h('span', { testid: 'import-duplicates' }, `${fmtNum(duplicates)} duplicates`),
      h('span', { testid: 'import-skipped' }, `${fmtNum(skipped.length)} skipped`),
      failed.length ? h('span', { class: 'error-text', testid: 'import-failed' }, `${fmtNum(failed.length)} failed`) : null),
    skipped.length ? h('details', { open: skipped.length <= 10 ? true : null }, h('summary', null, 'Skipped files'), items(skipped)) : null,
    failed.length ? h('details', { open: true }, h('summary', null, 'Failed uploads'), items(failed)) : null,
  ];
}

/**
 * An import job's report, when it has one.
 * @param {unknown} output
 * @returns {{ imported: number, duplicates: number, skipped: { name: string, reason: string }[] } | null}
 */
function importReport(output) {
  if (!output || typeof output !== 'object') return null;
  const o = /** @type {{ imported?: unknown, duplicates?: unknown, skipped?: unknown }} */ (output);
  const skipped = Array.isArray(o.skipped) ? o.skipped.map((s) => ({ name: String(s && s.path || ''), reason: String(s && s.reason || '') })) : [];
  return { imported: Number(o.imported) || 0, duplicates: Number(o.duplicates) || 0, skipped };
}

function cancel() {
  if (cancelUploads()) toast('Upload canceled.');
  renderProgress();
}

/**
 * An import job of a path changed: its status line follows.
 * @param {JobRecord} j
 */
export function onJobChange(j) {
  const el = pathJobs.get(j.id);
  if (!el) return;
  const p = j.progress || {};
  const prog = p.items_total ? `${fmtNum(p.items_done || 0)} / ${plural(p.items_total, 'file')}` : p.items_done ? `${plural(p.items_done, 'file')}` : '';
  const err = j.error && j.error.message ? ` — ${j.error.message}` : '';
  const report = importReport(j.output);
  const bar = h('div', { class: 'bar' });
  bar.style.width = (j.state === 'completed' ? 100 : p.items_total ? Math.min(100, (100 * (p.items_done || 0)) / p.items_total) : 0) + '%';
  setChildren(el, h('div', null, h('b', null, `Import job ${j.id}`), ': ', h('span', { class: 'state-pill state-' + j.state, testid: 'import-job-state' }, j.state),
    prog ? ` ${prog}` : '', err ? h('span', { class: 'error-text' }, err) : null),
    ACTIVE.has(j.state) ? h('div', { class: 'progress' + (p.items_total ? '' : ' indeterminate') }, bar) : null,
    ...(report ? outcome(report.imported, report.duplicates, report.skipped, []) : []));
  el.dataset.state = j.state;
  if (j.state === 'completed' && j.output == null && !el.dataset.fetched) { el.dataset.fetched = '1'; fetchJob(j.id); }
}

/**
 * The files of dropped entries, folders walked (names are paths inside the drop).
 * @param {FileSystemEntry[]} entries
 * @returns {Promise<UploadItem[]>}
 */
async function walkEntries(entries) {
  /** @type {UploadItem[]} */
  const out = [];
  /** @param {FileSystemDirectoryReader} reader @returns {Promise<FileSystemEntry[]>} */
  const readAll = (reader) => new Promise((res, rej) => reader.readEntries(res, rej));
  /** @param {FileSystemEntry} entry @param {string} prefix */
  const walk = async (entry, prefix) => {
    if (entry.isFile) {
      /** @type {File} */
      const file = await new Promise((res, rej) => /** @type {FileSystemFileEntry} */ (entry).file(res, rej));
      out.push({ file, name: prefix + entry.name });
    } else if (entry.isDirectory) {
      const reader = /** @type {FileSystemDirectoryEntry} */ (entry).createReader();
      for (;;) {
        const batch = await readAll(reader);
        if (!batch.length) break;
        for (const c of batch) await walk(c, prefix + entry.name + '/');
      }
    }
  };
  for (const e of entries) await walk(e, '');
  return out;
}

/** @param {DataTransfer} dt */
async function handleDrop(dt) {
  const items = dt.items ? Array.from(dt.items) : [];
  const entries = /** @type {FileSystemEntry[]} */ (items.map((i) => (i.kind === 'file' && i.webkitGetAsEntry ? i.webkitGetAsEntry() : null)).filter(Boolean));
  const files = entries.length ? await walkEntries(entries) : Array.from(dt.files || []).map((f) => ({ file: f, name: f.name }));
  importFiles(files);
}

/** @param {DragEvent} e */
const hasFiles = (e) => !!e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');

/** @param {SubmitEvent} e */
async function importPath(e) {
  e.preventDefault();
  /** @type {HTMLInputElement} */
  const pathInput = $('#import-path');
  const path = pathInput.value.trim();
  const statusBox = $('#import-path-status');
  if (!path) { pathInput.focus(); return; }
  /** @type {HTMLButtonElement} */
  const btn = $('#import-path-go');
  btn.disabled = true;
  try {
    const link = /** @type {HTMLInputElement} */ ($('#import-link')).checked;
    const r = await post('/api/import', { paths: [path], link });
    const line = h('div', { class: 'import-job', testid: 'import-job', 'data-job-id': String(r.id) }, `Import job ${r.id} queued.`);
    statusBox.prepend(line);
    pathJobs.set(r.id, line);
    const known = getJob(r.id);
    if (known) onJobChange(known);
    else mergeJob({ id: r.id, kind: 'import', spec: { kind: 'import', paths: [path], link }, state: 'queued', created_at: Date.now() });
  } catch (err) {
    reportError(err, 'Import');
    statusBox.prepend(h('div', { class: 'error-text', testid: 'import-error' }, `${path}: ${err instanceof Error ? err.message : String(err)}`));
  } finally { btn.disabled = false; }
}

export function initImport() {
  $('#upload-cancel').addEventListener('click', cancel);
  const dz = $('#drop-zone');
  dz.addEventListener('dragover', (e) => { if (hasFiles(e)) { e.preventDefault(); dz.classList.add('over'); } });
  dz.addEventListener('dragleave', () => dz.classList.remove('over'));
  dz.addEventListener('drop', (e) => {
    e.preventDefault();
    e.stopPropagation();
    dz.classList.remove('over');
    handleDrop(/** @type {DataTransfer} */ (e.dataTransfer)).catch((err) => reportError(err, 'Reading dropped files'));
  });
  dz.addEventListener('keydown', (e) => { if (e.target === dz && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); $('#import-files').click(); } });
  // Files dropped anywhere else: go to the Import page and import them there.
  window.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
  window.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    showPage('import');
    handleDrop(/** @type {DataTransfer} */ (e.dataTransfer)).catch((err) => reportError(err, 'Reading dropped files'));
  });
  for (const id of ['#import-files', '#import-folder']) {
    $(id).addEventListener('change', (e) => {
      const target = /** @type {HTMLInputElement} */ (e.target);
      const files = Array.from(target.files || []).map((f) => ({ file: f, name: f.webkitRelativePath || f.name }));
      target.value = '';
      importFiles(files);
    });
  }
  $('#import-path-form').addEventListener('submit', importPath);
}
