// @ts-check
// The server's status (AE title, listener, version) and the store's totals.
import { api } from '../api.js';
import { reportError } from '../lib/errors.js';
import { Emitter } from '../lib/util.js';

/** @typedef {import('../api.js').ServerStatus} ServerStatus */
/** @typedef {import('../api.js').StoreTotals} StoreTotals */
/** @typedef {{ type: 'loaded' } | { type: 'failed' } | { type: 'store', store: StoreTotals }} StatusChange */

/** @type {ServerStatus | null} */
let info = null;

/** @type {Emitter<[StatusChange]>} */
export const statusChanges = new Emitter();

/** The last status read (null before the first). */
export const getStatus = () => info;

/** Reads the status; a failure is reported. */
export async function loadStatus() {
  try {
    info = await api('/api/status');
    statusChanges.notify({ type: 'loaded' });
  } catch (e) {
    statusChanges.notify({ type: 'failed' });
    reportError(e, 'Server status');
  }
}

/**
 * New store totals (from the event stream).
 * @param {StoreTotals} store
 */
export function setStoreTotals(store) {
  if (info) info.store = store;
  statusChanges.notify({ type: 'store', store });
}
