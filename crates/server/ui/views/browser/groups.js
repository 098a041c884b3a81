// @ts-check
// The tiles layout: studies under their patient's head, each study a row that expands to its
// series' tiles (a patient's first two studies expanded unless the user said otherwise).
import { h, setChildren } from '../../lib/dom.js';
import { fmtDA, fmtPN, fmtTM, plural } from '../../lib/format.js';
import { expandState, patientKey, setSelected } from '../../state/browser.js';
import { openMenu } from '../menu.js';
import { menuItems } from './actions.js';
import {
  checked, modalityBadges, remoteCounts, seriesCount, showStudy, sourceBadges, studyParts,
} from './studies.js';

/** @typedef {import('../../api.js').StudyRow} StudyRow */
/** @typedef {import('../../state/browser.js').StudyEntry} StudyEntry */
/** @typedef {import('../../state/browser.js').Group} Group */
/** @typedef {import('../../state/browser.js').Target} Target */
/** @typedef {{ countEl: HTMLElement, check: HTMLInputElement, studiesEl: HTMLElement, el: HTMLElement }} GroupEls */

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

/**
 * Adds a study at the end of its patient's (the first two expanded, unless the user said).
 * @param {Group} g
 * @param {StudyEntry} e
 */
export function addStudyToGroup(g, e) {
  e.group = g;
  const index = g.entries.length;
  g.entries.push(e);
  e.expanded = expandState.has(e.uid) ? expandState.get(e.uid) : index < 2;
  const parts = studyParts(e);
  const date = h('span', { class: 'study-date', testid: 'study-date' });
  const desc = h('span', { class: 'study-desc' });
  const meta = h('span', { class: 'study-meta' });
  const badges = h('span', { class: 'badges', testid: 'study-sources' });
  const root = h('div', { class: 'study', testid: 'study', 'data-study-uid': e.uid },
    h('div', { class: 'study-row' }, parts.check, parts.toggle, date, desc, meta, badges,
      h('div', { class: 'row-actions' }, parts.menu)),
    parts.area);
  /** @param {StudyEntry} x */
  const draw = (x) => {
    const d = x.data;
    date.textContent = fmtDA(d.StudyDate) || '—';
    date.title = d.StudyTime ? `${fmtDA(d.StudyDate)} ${fmtTM(d.StudyTime)}` : '';
    desc.textContent = d.StudyDescription || '(no description)';
    desc.className = 'study-desc' + (d.StudyDescription ? '' : ' none');
    const nSeries = seriesCount(x);
    const elsewhere = remoteCounts(x);
    setChildren(meta,
      d.AccessionNumber ? h('span', { title: 'Accession number' }, 'Acc: ' + d.AccessionNumber) : null,
      h('span', { class: 'badges' }, modalityBadges(d)),
      nSeries != null ? h('span', { testid: 'study-series-count' }, plural(Number(nSeries), 'series', 'series')) : null,
      d.NumberOfStudyRelatedInstances != null
        ? h('span', null, plural(Number(d.NumberOfStudyRelatedInstances), 'instance') + (elsewhere ? ' here' : '')) : null,
      elsewhere);
    setChildren(badges, sourceBadges(x));
    root.dataset.local = String(!!x.local);
  };
  showStudy(e, { root, toggle: parts.toggle, check: parts.check, status: parts.status, grid: parts.grid, area: parts.area, draw });
  g.studiesEl.appendChild(root);
  g.countEl.textContent = plural(g.entries.length, 'study', 'studies');
}
