// @ts-check
// Uploads from the Import page: a queue of files, three at a time, counted by batch (the files
// of one drop or one choice) and in total.
import { upload } from '../api.js';
import { recordError } from '../lib/errors.js';
import { Emitter } from '../lib/util.js';

/** @typedef {{ file: File, name: string }} UploadItem */
/** @typedef {{ name: string, reason: string }} FileIssue */
/**
 * The files of one drop or one choice, and what became of them.
 * @typedef {{ id: number, files: number, bytes: number, done: number, stored: number, duplicates: number, skipped: FileIssue[], failed: FileIssue[] }} Batch
 */
/** @typedef {UploadItem & { batch: Batch, loaded: number }} QueuedUpload */
/**
 * 'batch-added' and 'batch': a batch began, or one of its files is done; 'progress': the
 * totals changed (`soon`: from an upload's progress, to draw at the next frame).
 * @typedef {{ type: 'batch-added', batch: Batch } | { type: 'batch', batch: Batch } | { type: 'progress', soon: boolean }} ImportChange
 */

const PARALLEL = 3;

/** @type {QueuedUpload[]} */
const queue = [];
let active = 0;
/** @type {Set<{ abort: () => void }>} */
const uploads = new Set();
/** @type {Batch[]} */
const batches = [];
let seq = 0;
const totals = { files: 0, bytes: 0, doneFiles: 0, doneBytes: 0 };
/** Uploads that have sent part of their file. @type {Set<QueuedUpload>} */
const inflight = new Set();

/** @type {Emitter<[ImportChange]>} */
export const importChanges = new Emitter();

/**
 * Queues files as one batch.
 * @param {UploadItem[]} items
 */
export function addUploads(items) {
  /** @type {Batch} */
  const batch = { id: ++seq, files: items.length, bytes: items.reduce((a, x) => a + (x.file.size || 0), 0), done: 0,
    stored: 0, duplicates: 0, skipped: [], failed: [] };
  importChanges.notify({ type: 'batch-added', batch });
  batches.push(batch);
  for (const it of items) queue.push({ ...it, batch, loaded: 0 });
  totals.files += items.length;
  totals.bytes += batch.bytes;
  importChanges.notify({ type: 'batch', batch });
  pump();
  importChanges.notify({ type: 'progress', soon: false });
}

function pump() {
  while (active < PARALLEL && queue.length) {
    const it = /** @type {QueuedUpload} */ (queue.shift());
    active++;
    send(it).finally(() => {
      active--;
      totals.doneFiles++;
      totals.doneBytes += it.file.size || 0;
      it.loaded = 0;
      it.batch.done++;
      importChanges.notify({ type: 'batch', batch: it.batch });
      importChanges.notify({ type: 'progress', soon: false });
      pump();
    });
  }
}

/**
 * Uploads one file; resolves when it is done, whatever the outcome (counted in its batch).
 * @param {QueuedUpload} it
 * @returns {Promise<void>}
 */
function send(it) {
  return new Promise((resolve) => {
    const handle = upload(it.name, it.file, {
      onProgress: (loaded) => { it.loaded = loaded; inflight.add(it); importChanges.notify({ type: 'progress', soon: true }); },
      onDone: (r) => {
        if (r.outcome === 'load') {
          const data = r.data;
          if (r.status >= 200 && r.status < 300 && data) {
            it.batch.stored += Number(data.stored || 0);
            it.batch.duplicates += Number(data.duplicates || 0);
            for (const s of data.skipped || []) it.batch.skipped.push({ name: s.name || it.name, reason: s.reason || 'skipped' });
          } else {
            const msg = r.status === 413 ? 'too large (the limit is 2 GiB)' : (data && data.error) || `HTTP ${r.status}`;
            it.batch.failed.push({ name: it.name, reason: msg });
            recordError(new Error(`${it.name}: ${msg}`), 'upload');
          }
        } else if (r.outcome === 'error') {
          it.batch.failed.push({ name: it.name, reason: 'network error' });
          recordError(new Error(`${it.name}: network error`), 'upload');
        } else {
          it.batch.failed.push({ name: it.name, reason: 'canceled' });
        }
        uploads.delete(handle);
        inflight.delete(it);
        resolve();
      },
    });
    uploads.add(handle);
  });
}

/**
 * Cancels the queued uploads and aborts those under way; true when a queued one was dropped
 * (aborted ones have left the set by the time this answers).
 */
export function cancelUploads() {
  const n = queue.length;
  for (const it of queue) { it.batch.failed.push({ name: it.name, reason: 'canceled' }); }
  const dropped = queue.splice(0);
  totals.doneFiles += dropped.length;
  totals.doneBytes += dropped.reduce((a, x) => a + (x.file.size || 0), 0);
  for (const it of dropped) { it.batch.done++; importChanges.notify({ type: 'batch', batch: it.batch }); }
  for (const x of [...uploads]) x.abort();
  return !!(n || uploads.size);
}

/** The totals since the page opened: files and bytes queued, done, and sent so far. */
export function uploadTotals() {
  let sent = totals.doneBytes;
  for (const it of inflight) sent += it.loaded || 0;
  return { files: totals.files, bytes: totals.bytes, doneFiles: totals.doneFiles, sentBytes: sent };
}

/** The batches so far, oldest first. @returns {readonly Batch[]} */
export const allBatches = () => batches;
