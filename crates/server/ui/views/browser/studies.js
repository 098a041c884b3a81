// @ts-check
// Patients and their studies, as rows: the patient's head, each study's row (expand to show
// its series), selection boxes and menus.
import { h, setChildren } from '../../lib/dom.js';
import { fmtDA, fmtNum, fmtPN, fmtTM, plural } from '../../lib/format.js';
import {
  dropEntry, ensureEntry, entries, expandState, isSelected, patientKey, removeGroup, setExpandState, setSelected,
} from '../../state/browser.js';
import { loadSeries, seriesStatusText } from '../../state/series.js';
import { openMenu } from '../menu.js';
import { menuItems } from './actions.js';
import { renderSeriesGrid } from './tiles.js';

/** @typedef {import('../../api.js').StudyRow} StudyRow */
/** @typedef {import('../../state/browser.js').StudyEntry} StudyEntry */
/** @typedef {import('../../state/browser.js').Group} Group */
/** @typedef {import('../../state/browser.js').Target} Target */
/** @typedef {import('../../state/browser.js').BrowserChange} BrowserChange */
/** @typedef {{ countEl: HTMLElement, check: HTMLInputElement, studiesEl: HTMLElement, el: HTMLElement }} GroupEls */
/**
 * A study's elements.
 * @typedef {{
 *   root: HTMLElement, toggle: HTMLButtonElement, check: HTMLInputElement, date: HTMLElement, desc: HTMLElement,
 *   meta: HTMLElement, badges: HTMLElement, status: HTMLElement, grid: HTMLElement, area: HTMLElement,
 * }} StudyEls
 */

/** @param {Event} ev */
const checked = (ev) => /** @type {HTMLInputElement} */ (ev.target).checked;

/**
 * A patient's head, for the studies that follow.
 * @param {StudyRow} row
 * @param {'local' | 'remote'} where
 * @returns {Group}
 */
export function newGroup(row, where) {
  /** @type {Target} */
  let target;
  const menuBtn = h('button', { type: 'button', class: 'menu-button', testid: 'menu-button', 'aria-haspopup': 'menu',
    'aria-expanded': 'false', 'aria-label': 'Patient actions' }, '⋮');
  menuBtn.addEventListener('click', () => openMenu(menuBtn, 'Patient', menuItems(target)));
  const countEl = h('span', { class: 'patient-count' });
  const check = h('input', { type: 'checkbox', 'aria-label': `Select patient ${fmtPN(row.PatientName) || row.PatientID || ''}`,
    onchange: (/** @type {Event} */ e) => setSelected(target, checked(e)) });
  const studiesEl = h('div', { class: 'patient-studies' });
  const el = h('section', { class: 'patient', testid: 'patient', 'data-patient-id': row.PatientID || '', 'aria-label': `Patient ${fmtPN(row.PatientName)}` },
    h('div', { class: 'patient-head' },
      check,
      h('span', { class: 'patient-name' + (row.PatientName ? '' : ' muted') }, fmtPN(row.PatientName) || '(no name)'),
      h('span', { class: 'patient-meta' },
        h('span', null, 'ID: ', h('b', null, row.PatientID || '—')),
        h('span', null, 'Born: ', h('b', null, fmtDA(row.PatientBirthDate) || '—')),
        h('span', null, 'Sex: ', h('b', null, row.PatientSex || '—')),
        countEl),
      h('div', { class: 'row-actions' }, menuBtn)),
    studiesEl);
  const g = /** @type {Group} */ (/** @type {unknown} */ ({ key: patientKey(row), where, entries: [], patient: {
    PatientName: row.PatientName, PatientID: row.PatientID, PatientBirthDate: row.PatientBirthDate, PatientSex: row.PatientSex },
  countEl, check, studiesEl, el }));
  target = { level: 'patient', group: g };
  g.target = target;
  return g;
}

/** @param {Group} g */
function updateGroupCount(g) {
  g.countEl.textContent = plural(g.entries.length, 'study', 'studies');
}

/**
 * Adds a study at the end of its patient's (the first two expanded, unless the user said).
 * @param {Group} g
 * @param {StudyEntry} e
 */
export function addStudyToGroup(g, e) {
  e.group = g;
  const index = g.entries.length;
  g.entries.push(e);
  if (!expandState.has(e.uid)) e.expanded = index < 2; else e.expanded = expandState.get(e.uid);
  const els = renderStudy(e);
  g.studiesEl.appendChild(els.root);
  updateGroupCount(g);
}

/**
 * Removes a study from its group (and the group when it becomes empty); forgets it unless
 * `keepEntry`.
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
    } else updateGroupCount(g);
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
 * @param {StudyEntry} e
 * @returns {StudyEls}
 */
function renderStudy(e) {
  const d = e.data;
  /** @type {Target} */
  const target = { level: 'study', entry: e };
  e.target = target;
  const toggle = h('button', { type: 'button', class: 'study-toggle', testid: 'study-toggle', 'aria-expanded': String(!!e.expanded),
    'aria-label': 'Show series', onclick: () => setExpanded(e, !e.expanded) });
  const check = h('input', { type: 'checkbox', 'aria-label': `Select study ${d.StudyDescription || fmtDA(d.StudyDate) || ''}`,
    checked: isSelected(target), onchange: (/** @type {Event} */ ev) => setSelected(target, checked(ev)) });
  const menuBtn = h('button', { type: 'button', class: 'menu-button', testid: 'menu-button', 'aria-haspopup': 'menu',
    'aria-expanded': 'false', 'aria-label': 'Study actions' }, '⋮');
  menuBtn.addEventListener('click', () => openMenu(menuBtn, 'Study', menuItems(target)));
  const date = h('span', { class: 'study-date', testid: 'study-date' });
  const desc = h('span', { class: 'study-desc' });
  const meta = h('span', { class: 'study-meta' });
  const badges = h('span', { class: 'badges', testid: 'study-sources' });
  const status = h('div', { class: 'series-status', 'aria-live': 'polite' });
  const grid = h('div', { class: 'series-grid' });
  const area = h('div', { class: 'series-area' }, status, grid);
  const root = h('div', { class: 'study', testid: 'study', 'data-study-uid': e.uid },
    h('div', { class: 'study-row' }, check, toggle, date, desc, meta, badges,
      h('div', { class: 'row-actions' }, menuBtn)),
    area);
  /** @type {StudyEls} */
  const els = { root, toggle, check, date, desc, meta, badges, status, grid, area };
  e.els = els;
  updateStudyRow(e);
  applyExpanded(e, els);
  if (e.seriesLoaded) renderSeriesGrid(e);
  studyObserver.observe(els.root);
  return els;
}

/**
 * Draws a study's row again: date, description, modalities, counts, where it is.
 * @param {StudyEntry} e
 */
export function updateStudyRow(e) {
  if (!e.els) return;
  const d = e.data;
  const els = e.els;
  els.date.textContent = fmtDA(d.StudyDate) || '—';
  els.date.title = d.StudyTime ? `${fmtDA(d.StudyDate)} ${fmtTM(d.StudyTime)}` : '';
  els.desc.textContent = d.StudyDescription || '(no description)';
  els.desc.className = 'study-desc' + (d.StudyDescription ? '' : ' none');
  let mods = d.ModalitiesInStudy || [];
  if (typeof mods === 'string') mods = mods.split('\\');
  const nSeries = e.seriesLoaded ? e.series.size : d.NumberOfStudyRelatedSeries;
  // A study here and on nodes: how many instances each node has, beside the local count (a
  // few preview instances here are not the study).
  const here = Number(d.NumberOfStudyRelatedInstances) || 0;
  const elsewhere = e.local ? [...e.remote].map(([node, row]) => ({ node, n: Number(row.NumberOfStudyRelatedInstances) }))
    .filter(({ n }) => Number.isFinite(n) && n > 0 && n !== here) : [];
  setChildren(els.meta,
    d.AccessionNumber ? h('span', { title: 'Accession number' }, 'Acc: ' + d.AccessionNumber) : null,
    h('span', { class: 'badges' }, mods.filter(Boolean).map((m) => h('span', { class: 'badge modality' }, m))),
    nSeries != null ? h('span', { testid: 'study-series-count' }, plural(Number(nSeries), 'series', 'series')) : null,
    d.NumberOfStudyRelatedInstances != null ? h('span', null, plural(Number(d.NumberOfStudyRelatedInstances), 'instance') + (elsewhere.length ? ' here' : '')) : null,
    elsewhere.length ? h('span', { class: 'muted', testid: 'study-remote-count', title: 'Instances on each node that has the study' },
      `(${elsewhere.map(({ node, n }) => `${fmtNum(n)} on ${node}`).join(', ')})`) : null);
  setChildren(els.badges,
    e.local ? h('span', { class: 'badge local', testid: 'source-badge', 'data-source': 'local' }, 'local') : null,
    [...e.remote.keys()].map((n) => h('span', { class: 'badge node', testid: 'source-badge', 'data-source': n, title: `Found on ${n}` }, '☁ ' + n)));
  els.root.dataset.local = String(!!e.local);
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
function setExpanded(e, on) {
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
 * What the study rows follow in the browser's state: series loading and loaded.
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
