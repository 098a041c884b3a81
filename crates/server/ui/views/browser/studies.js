// @ts-check
// A study on the page, however it is laid out (a row under its patient, or a worklist row):
// the parts every layout has (selection box, expand toggle, menu, source badges, counts), its
// expansion to its series' tiles, and leaving the page.
import { h } from '../../lib/dom.js';
import { fmtDA, fmtNum, plural } from '../../lib/format.js';
import { dropEntry, ensureEntry, entries, isSelected, removeGroup, setExpandState, setSelected } from '../../state/browser.js';
import { defaultSource } from '../../state/nodes.js';
import { loadSeries, seriesStatusText } from '../../state/series.js';
import { openMenu } from '../menu.js';
import { menuItems } from './actions.js';
import { renderSeriesGrid } from './tiles.js';

/** @typedef {import('../../api.js').StudyRow} StudyRow */
/** @typedef {import('../../state/browser.js').StudyEntry} StudyEntry */
/** @typedef {import('../../state/browser.js').Target} Target */
/** @typedef {import('../../state/browser.js').BrowserChange} BrowserChange */
/**
 * A study's elements, in any layout: `root` holds it all, `area` its series (status line and
 * tile grid); `draw` writes its fields again.
 * @typedef {{
 *   root: HTMLElement, toggle: HTMLButtonElement, check: HTMLInputElement, status: HTMLElement, grid: HTMLElement,
 *   area: HTMLElement, draw: (e: StudyEntry) => void,
 * }} StudyEls
 */

/** @param {Event} ev */
export const checked = (ev) => /** @type {HTMLInputElement} */ (ev.target).checked;

/**
 * The target of a study's actions (made once).
 * @param {StudyEntry} e
 * @returns {Target}
 */
export function studyTarget(e) {
  if (!e.target) e.target = { level: 'study', entry: e };
  return e.target;
}

/**
 * The parts of a study every layout has: the selection box, the expand toggle, the menu button,
 * and the series area.
 * @param {StudyEntry} e
 */
export function studyParts(e) {
  const target = studyTarget(e);
  const d = e.data;
  const toggle = h('button', { type: 'button', class: 'study-toggle', testid: 'study-toggle', 'aria-expanded': String(!!e.expanded),
    'aria-label': 'Show series', onclick: () => setExpanded(e, !e.expanded) });
  const check = h('input', { type: 'checkbox', 'aria-label': `Select study ${d.StudyDescription || fmtDA(d.StudyDate) || ''}`,
    checked: isSelected(target), onchange: (/** @type {Event} */ ev) => setSelected(target, checked(ev)) });
  const menu = h('button', { type: 'button', class: 'menu-button', testid: 'menu-button', 'aria-haspopup': 'menu',
    'aria-expanded': 'false', 'aria-label': 'Study actions' }, '⋮');
  menu.addEventListener('click', () => openMenu(menu, 'Study', menuItems(target)));
  const status = h('div', { class: 'series-status', 'aria-live': 'polite' });
  const grid = h('div', { class: 'series-grid' });
  const area = h('div', { class: 'series-area' }, status, grid);
  return { toggle, check, menu, status, grid, area };
}

/**
 * Shows a study made by a layout: fields, expansion, series, and loading them when it comes
 * into view expanded.
 * @param {StudyEntry} e
 * @param {StudyEls} els
 */
export function showStudy(e, els) {
  e.els = els;
  els.draw(e);
  applyExpanded(e, els);
  if (e.seriesLoaded) renderSeriesGrid(e);
  studyObserver.observe(els.root);
}

/**
 * A study's modalities.
 * @param {Partial<StudyRow>} d
 * @returns {string[]}
 */
export function modalitiesOf(d) {
  const mods = d.ModalitiesInStudy || [];
  return (typeof mods === 'string' ? mods.split('\\') : mods).filter(Boolean);
}

/** @param {Partial<StudyRow>} d */
export const modalityBadges = (d) => modalitiesOf(d).map((m) => h('span', { class: 'badge modality' }, m));

/**
 * Where a study is: local, and each node it was found on.
 * @param {StudyEntry} e
 */
export function sourceBadges(e) {
  // Of several nodes, the one a retrieval uses unless another is picked is starred.
  const first = e.remote.size > 1 ? defaultSource(e.remote.keys()) : null;
  return [
    e.local ? h('span', { class: 'badge local', testid: 'source-badge', 'data-source': 'local' }, 'local') : null,
    [...e.remote.keys()].map((n) => h('span', { class: 'badge node', testid: 'source-badge', 'data-source': n,
      'data-default': n === first ? 'true' : null, title: n === first ? `Found on ${n}; retrieved from here unless you pick another` : `Found on ${n}` },
    (n === first ? '★ ' : '☁ ') + n)),
  ];
}

/**
 * For a study here and on nodes, how many instances each node has when that is not the local
 * count (a few preview instances here are not the study); null when there is nothing to add.
 * @param {StudyEntry} e
 */
export function remoteCounts(e) {
  const here = Number(e.data.NumberOfStudyRelatedInstances) || 0;
  const elsewhere = e.local ? [...e.remote].map(([node, row]) => ({ node, n: Number(row.NumberOfStudyRelatedInstances) }))
    .filter(({ n }) => Number.isFinite(n) && n > 0 && n !== here) : [];
  if (!elsewhere.length) return null;
  return h('span', { class: 'muted', testid: 'study-remote-count', title: 'Instances on each node that has the study' },
    `(${elsewhere.map(({ node, n }) => `${fmtNum(n)} on ${node}`).join(', ')})`);
}

/**
 * The number of series shown for a study (its series once read).
 * @param {StudyEntry} e
 */
export const seriesCount = (e) => (e.seriesLoaded ? e.series.size : e.data.NumberOfStudyRelatedSeries);

/**
 * Removes a study from the page (and its patient group when it becomes empty); forgets it
 * unless `keepEntry`.
 * @param {StudyEntry} e
 * @param {boolean} [keepEntry]
 */
export function detachEntry(e, keepEntry) {
  const g = e.group;
  if (e.els) { studyObserver.unobserve(e.els.root); e.els.root.remove(); }
  if (g) {
    g.entries = g.entries.filter((x) => x !== e);
    if (!g.entries.length) {
      g.el.remove();
      removeGroup(g);
    } else g.countEl.textContent = plural(g.entries.length, 'study', 'studies');
  }
  e.group = null;
  if (!keepEntry) dropEntry(e);
}

/**
 * The entry of a study to show `where` (taken from where it was shown before).
 * @param {StudyRow} row
 * @param {'local' | 'remote'} where
 */
export function entryFor(row, where) {
  const e = entries.get(row.StudyInstanceUID);
  if (e && e.where !== where) detachEntry(e, true);
  return ensureEntry(row, where);
}

/**
 * Draws a study's fields again: date, description, modalities, counts, where it is.
 * @param {StudyEntry} e
 */
export function updateStudyRow(e) {
  if (e.els) e.els.draw(e);
}

/** Draws every study's fields again (the nodes changed: which source is the default). */
export function redrawStudies() {
  for (const e of entries.values()) updateStudyRow(e);
}

/**
 * @param {StudyEntry} e
 * @param {StudyEls} els
 */
function applyExpanded(e, els) {
  els.root.classList.toggle('expanded', !!e.expanded);
  els.toggle.setAttribute('aria-expanded', String(!!e.expanded));
  els.toggle.setAttribute('aria-label', e.expanded ? 'Hide series' : 'Show series');
  els.area.hidden = !e.expanded;
}

/**
 * @param {StudyEntry} e
 * @param {boolean} on
 */
export function setExpanded(e, on) {
  e.expanded = on;
  setExpandState(e.uid, on);
  if (e.els) applyExpanded(e, e.els);
  if (on && !e.seriesLoaded) loadSeries(e);
}

/** Expanded studies load their series as they come near the viewport. */
const studyObserver = new IntersectionObserver((items) => {
  for (const it of items) {
    if (!it.isIntersecting) continue;
    const e = entries.get(/** @type {HTMLElement} */ (it.target).dataset.studyUid || '');
    if (e && e.expanded && !e.seriesLoaded && !e.seriesLoading) loadSeries(e);
  }
}, { rootMargin: '300px 0px' });

/**
 * The line above a study's series ('' hides it).
 * @param {StudyEntry} e
 * @param {string} text
 * @param {boolean} [isErr]
 */
function setSeriesStatus(e, text, isErr) {
  if (!e.els) return;
  e.els.status.textContent = text || '';
  e.els.status.hidden = !text;
  e.els.status.classList.toggle('err', !!isErr);
}

/**
 * What studies follow in the browser's state: series loading and loaded.
 * @param {BrowserChange} change
 */
export function onBrowserChange(change) {
  if (change.type === 'series-loading') setSeriesStatus(change.entry, 'Loading series…');
  else if (change.type === 'series-loaded') {
    const e = change.entry;
    // Gone from the store and found on no node: it leaves the list.
    if (!e.local && !e.remote.size && e.where === 'local') { detachEntry(e); return; }
    updateStudyRow(e);
    renderSeriesGrid(e);
    setSeriesStatus(e, seriesStatusText(e, change.errors), change.errors.length > 0);
  }
}
