// @ts-check
// The one row menu (patients, studies, series share it), placed under its button.
import { $, $$, clear, h, setChildren } from '../lib/dom.js';
import { reportError } from '../lib/errors.js';

/**
 * An entry: a link (`href`; `download` to save what it names) or an action (`run`); a disabled
 * one says `why`.
 * @typedef {{ label: string, testid?: string, disabled?: boolean, why?: string, danger?: boolean, href?: string, download?: boolean, run?: () => unknown }} MenuItem
 */

const el = $('#row-menu');
/** @type {HTMLElement | null} */
let anchor = null;

/** Whether the menu is open. */
export const menuOpen = () => !el.hidden;

/**
 * Opens the menu under `button`.
 * @param {HTMLElement} button
 * @param {string} title
 * @param {MenuItem[]} items
 */
export function openMenu(button, title, items) {
  closeMenu(false);
  anchor = button;
  /** @type {HTMLElement[]} */
  const children = [h('div', { class: 'menu-title', text: title })];
  for (const it of items) {
    let node;
    if (it.href && !it.disabled) {
      node = h('a', { class: 'menu-item', role: 'menuitem', href: it.href, download: it.download ? '' : null, testid: it.testid, tabindex: '-1',
        onclick: () => closeMenu(true) }, it.label);
    } else {
      node = h('button', { type: 'button', class: 'menu-item' + (it.danger ? ' danger' : ''), role: 'menuitem', testid: it.testid,
        tabindex: '-1', 'aria-disabled': it.disabled ? 'true' : null, title: it.disabled ? it.why || 'Not available' : null,
        onclick: () => { if (it.disabled) return; closeMenu(true); Promise.resolve().then(it.run).catch((e) => reportError(e, it.label)); } }, it.label);
    }
    children.push(node);
  }
  setChildren(el, children);
  el.hidden = false;
  const r = button.getBoundingClientRect();
  const w = el.offsetWidth, hgt = el.offsetHeight;
  let left = Math.min(r.right - w, window.innerWidth - w - 8);
  left = Math.max(8, left);
  let top = r.bottom + 4;
  if (top + hgt > window.innerHeight - 8) top = Math.max(8, r.top - hgt - 4);
  el.style.left = left + 'px';
  el.style.top = top + 'px';
  button.setAttribute('aria-expanded', 'true');
  const first = $('.menu-item:not([aria-disabled])', el) || $('.menu-item', el);
  if (first) first.focus();
}

/**
 * Closes the menu (`refocus`: back to its button).
 * @param {boolean} refocus
 */
export function closeMenu(refocus) {
  if (el.hidden) return;
  el.hidden = true;
  clear(el);
  if (anchor) {
    anchor.setAttribute('aria-expanded', 'false');
    if (refocus && anchor.isConnected) anchor.focus();
  }
  anchor = null;
}

export function initMenu() {
  el.addEventListener('keydown', (e) => {
    const items = $$('.menu-item', el);
    const i = items.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    if (e.key === 'ArrowDown') { e.preventDefault(); items[(i + 1) % items.length].focus(); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); items[(i - 1 + items.length) % items.length].focus(); }
    else if (e.key === 'Home') { e.preventDefault(); items[0].focus(); }
    else if (e.key === 'End') { e.preventDefault(); items[items.length - 1].focus(); }
    else if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); closeMenu(true); }
    else if (e.key === 'Tab') closeMenu(false);
  });
  window.addEventListener('resize', () => closeMenu(false));
  window.addEventListener('scroll', () => closeMenu(false), { passive: true });
}

/**
 * Whether a press at `target` is outside the menu and its button (then it closes the menu).
 * @param {EventTarget | null} target
 */
export const outsideMenu = (target) => !el.contains(/** @type {Node | null} */ (target)) && target !== anchor;
