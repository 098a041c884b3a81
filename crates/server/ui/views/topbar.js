// @ts-check
// The top bar's status: the DICOM listener, and the store's totals.
import { $ } from '../lib/dom.js';
import { fmtBytes, plural } from '../lib/format.js';
import { getStatus } from '../state/status.js';

/** @typedef {import('../state/status.js').StatusChange} StatusChange */
/** @typedef {import('../api.js').StoreTotals} StoreTotals */

/** @param {StoreTotals} st */
function renderTotals(st) {
  $('#store-totals').textContent =
    `${plural(st.patients, 'patient')} · ${plural(st.studies, 'study', 'studies')} · ${plural(st.series, 'series', 'series')} · ${plural(st.instances, 'instance')} · ${fmtBytes(st.bytes)}`;
}

function renderListener() {
  const s = getStatus();
  if (!s) return;
  const el = $('#listener-status');
  const d = s.dimse || {};
  el.textContent = `${s.ae_title || '?'} @ ${d.address || '?'}`;
  el.className = 'listener-status ' + (d.running ? 'up' : 'down');
  el.title = d.running ? 'DICOM listener running' : 'DICOM listener not running';
  if (s.store) renderTotals(s.store);
}

/** @param {StatusChange} change */
export function onStatusChange(change) {
  if (change.type === 'loaded') renderListener();
  else if (change.type === 'store') renderTotals(change.store);
  else {
    $('#listener-status').textContent = 'status unavailable';
    $('#listener-status').className = 'listener-status down';
  }
}
