// @ts-check
// The one toast: a short message at the bottom of the page, dismissed by its button or a timer.
import { $, h, setChildren } from './dom.js';

/** @typedef {'info' | 'ok' | 'error'} ToastKind */

/** @type {ReturnType<typeof setTimeout> | undefined} */
let toastTimer;

/**
 * @param {string} message
 * @param {ToastKind} [kind]
 * @param {number} [ms] how long it stays (default 4 s, 10 s for errors)
 */
export function toast(message, kind = 'info', ms) {
  const el = $('#toast');
  el.className = 'toast ' + kind;
  setChildren(el,
    h('span', { class: 'toast-text', text: message }),
    h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Dismiss message', onclick: () => { el.hidden = true; } }, '✕'));
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, ms || (kind === 'error' ? 10000 : 4000));
}
