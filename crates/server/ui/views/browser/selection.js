// @ts-check
// The selection's toolbar: how many are selected, and what to do with them.
import { $, $$ } from '../../lib/dom.js';
import { reportError } from '../../lib/errors.js';
import { clearSelection, selection, seriesIndex } from '../../state/browser.js';
import { actDelete, actDownload, actRetrieve, actSend } from './actions.js';

/** @typedef {import('../../state/browser.js').BrowserChange} BrowserChange */
/** @typedef {import('../../state/browser.js').Target} Target */

function updateSelectionBar() {
  const n = selection.size;
  $('#selection-bar').hidden = n === 0;
  $('#selection-count').textContent = `${n} selected`;
}

/**
 * The selection changed.
 * @param {BrowserChange} change
 */
export function onBrowserChange(change) {
  if (change.type === 'selection') updateSelectionBar();
  else if (change.type === 'selection-cleared') {
    for (const c of $$('#results input[type=checkbox], #remote-list input[type=checkbox]')) /** @type {HTMLInputElement} */ (c).checked = false;
    for (const s of seriesIndex.values()) if (s.els) s.els.tile.classList.remove('selected');
    updateSelectionBar();
  }
}

/** @type {Record<string, (targets: Target[]) => unknown>} */
const ACTIONS = {
  retrieve: actRetrieve, send: actSend, delete: actDelete, clear: clearSelection,
  download: (targets) => actDownload(targets), 'download-media': (targets) => actDownload(targets, true),
};

export function initSelection() {
  $('#selection-bar').addEventListener('click', (ev) => {
    const b = /** @type {HTMLElement | null} */ (/** @type {Element} */ (ev.target).closest('[data-sel-action]'));
    if (!b) return;
    const targets = [...selection.values()];
    const run = ACTIONS[b.dataset.selAction || ''];
    Promise.resolve().then(() => run(targets)).catch((e) => reportError(e, b.textContent || ''));
  });
}
