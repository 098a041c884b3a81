// @ts-check
// The pages and their tabs (the location's hash names the page).
import { $ } from '../lib/dom.js';
import { Emitter } from '../lib/util.js';

/** @typedef {'browser' | 'jobs' | 'nodes' | 'routes' | 'import'} Page */

/** @type {Page[]} */
const PAGES = ['browser', 'jobs', 'nodes', 'routes', 'import'];
/** @type {Page | null} */
let current = null;

/** A page was shown (each time, also when it already was). @type {Emitter<[Page]>} */
export const pageShown = new Emitter();

/** The page shown now. */
export const currentPage = () => current;

/**
 * Shows a page (an unknown name: the browser).
 * @param {string} name
 * @param {boolean} [push] record it in the location's hash
 */
export function showPage(name, push = true) {
  const page = /** @type {Page} */ (PAGES.includes(/** @type {Page} */ (name)) ? name : 'browser');
  current = page;
  for (const p of PAGES) {
    $('#page-' + p).hidden = p !== page;
    const tab = $('#tab-' + p);
    tab.setAttribute('aria-selected', String(p === page));
    tab.tabIndex = 0;
  }
  if (push && location.hash !== '#/' + page) history.replaceState(null, '', '#/' + page);
  pageShown.notify(page);
}

/** The page the location's hash names. */
export const pageInHash = () => location.hash.replace(/^#\/?/, '');

export function initPages() {
  for (const p of PAGES) $('#tab-' + p).addEventListener('click', () => showPage(p));
  $('.tabs').addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
    const i = PAGES.indexOf(/** @type {Page} */ (current));
    const n = PAGES[(i + (e.key === 'ArrowRight' ? 1 : PAGES.length - 1)) % PAGES.length];
    showPage(n);
    $('#tab-' + n).focus();
  });
  window.addEventListener('hashchange', () => showPage(pageInHash(), false));
}
