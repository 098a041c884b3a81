// @ts-check
// The table layout: one row per study with its patient, sortable by any column (the local
// list is sorted by the server; the remote block's rows here, the same way), a row expanding to
// its series' tiles, and keyboard navigation (arrows, Home/End, Page Up/Down; Right/Left or
// Enter expand and collapse, Space selects).
import { h, setChildren } from '../../lib/dom.js';
import { fmtDA, fmtNum, fmtPN, fmtTM } from '../../lib/format.js';
import { entries, expandState, setSelected } from '../../state/browser.js';
import { listSort, sortBy } from '../../state/display.js';
import {
  modalitiesOf, modalityBadges, remoteCounts, seriesCount, setExpanded, showStudy, sourceBadges, studyParts, studyTarget,
} from './studies.js';

/** @typedef {import('../../api.js').StudyRow} StudyRow */
/** @typedef {import('../../state/browser.js').StudyEntry} StudyEntry */
/** @typedef {import('../../state/display.js').SortColumn} SortColumn */
/** @typedef {import('../../state/display.js').Sort} Sort */
/** @typedef {{ table: HTMLTableElement, where: 'local' | 'remote' }} Worklist */

/** The columns, in order; `sort` null: not sortable. @type {{ sort: SortColumn | null, label: string, cls?: string }[]} */
const COLUMNS = [
  { sort: 'patient_name', label: 'Patient' },
  { sort: 'patient_id', label: 'Patient ID' },
  { sort: 'birth_date', label: 'Born' },
  { sort: 'study_date', label: 'Study date' },
  { sort: 'description', label: 'Description' },
  { sort: 'modalities', label: 'Modalities' },
  { sort: 'accession', label: 'Accession' },
  { sort: 'series', label: 'Series', cls: 'num' },
  { sort: 'instances', label: 'Instances', cls: 'num' },
  { sort: null, label: 'Sources' },
];
/** The cells before the columns (selection, toggle) and after them (menu). */
const SPAN = COLUMNS.length + 3;

/**
 * An empty worklist table, its head showing the sort in effect.
 * @param {'local' | 'remote'} where
 * @returns {Worklist}
 */
export function newWorklist(where) {
  const sort = listSort();
  const head = h('tr', null,
    h('th', { class: 'wl-select' }, h('span', { class: 'sr-only' }, 'Select')),
    h('th', { class: 'wl-toggle' }, h('span', { class: 'sr-only' }, 'Series')),
    COLUMNS.map((c) => {
      const on = c.sort === sort.column;
      const ariaSort = on ? (sort.dir === 'asc' ? 'ascending' : 'descending') : (c.sort ? 'none' : null);
      return h('th', { class: [c.cls, c.sort && 'wl-c-' + c.sort].filter(Boolean).join(' ') || null, 'aria-sort': ariaSort },
        c.sort ? h('button', { type: 'button', class: 'sort-button', testid: 'sort-' + c.sort,
          title: `Sort by ${c.label.toLowerCase()}`, onclick: () => sortBy(/** @type {SortColumn} */ (c.sort)) },
        c.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, on ? (sort.dir === 'asc' ? '▲' : '▼') : '')) : c.label);
    }),
    h('th', { class: 'wl-menu' }, h('span', { class: 'sr-only' }, 'Actions')));
  const table = h('table', { class: 'worklist', testid: 'worklist', 'data-where': where,
    'aria-label': where === 'local' ? 'Studies in the local store' : 'Studies on remote nodes' },
  h('thead', null, head));
  table.addEventListener('keydown', onKey);
  return { table, where };
}

/**
 * Adds a study's row at the end of a worklist (collapsed, unless the user left it expanded).
 * @param {Worklist} w
 * @param {StudyEntry} e
 */
export function addStudyToWorklist(w, e) {
  e.group = null;
  e.expanded = !!expandState.get(e.uid);
  const parts = studyParts(e);
  parts.toggle.tabIndex = -1;
  parts.check.tabIndex = -1;
  /** @param {SortColumn} column @param {string} [cls] @param {string} [testid] */
  const cell = (column, cls, testid) => h('td', { class: `wl-c-${column}${cls ? ' ' + cls : ''}`, testid });
  const patient = cell('patient_name', 'wl-patient'), id = cell('patient_id'), born = cell('birth_date');
  const date = cell('study_date', 'wl-date', 'study-date'), desc = cell('description', 'wl-desc');
  const mods = cell('modalities'), acc = cell('accession');
  const nSeries = cell('series', 'num', 'study-series-count'), nInst = cell('instances', 'num');
  const badges = h('td', { testid: 'study-sources' });
  const first = !w.table.querySelector('tr.wl-row');
  const row = h('tr', { class: 'wl-row', tabindex: first ? '0' : '-1', 'aria-expanded': String(!!e.expanded) },
    h('td', { class: 'wl-select' }, parts.check), h('td', { class: 'wl-toggle' }, parts.toggle),
    patient, id, born, date, desc, mods, acc, nSeries, nInst, badges, h('td', { class: 'wl-menu' }, parts.menu));
  row.addEventListener('focus', () => rove(w.table, row));
  row.addEventListener('click', (ev) => {
    if (!/** @type {Element} */ (ev.target).closest('button, input, a')) row.focus();
  });
  const root = h('tbody', { class: 'study wl-study', testid: 'study', 'data-study-uid': e.uid },
    row, h('tr', { class: 'wl-series' }, h('td', { colspan: String(SPAN) }, parts.area)));
  /** @param {StudyEntry} x */
  const draw = (x) => {
    const d = x.data;
    setChildren(patient, fmtPN(d.PatientName) || h('span', { class: 'muted' }, '(no name)'));
    id.textContent = d.PatientID || '';
    born.textContent = fmtDA(d.PatientBirthDate);
    date.textContent = fmtDA(d.StudyDate) || '—';
    date.title = d.StudyTime ? `${fmtDA(d.StudyDate)} ${fmtTM(d.StudyTime)}` : '';
    desc.textContent = d.StudyDescription || '';
    desc.title = d.StudyDescription || '';
    setChildren(mods, h('span', { class: 'badges' }, modalityBadges(d)));
    acc.textContent = d.AccessionNumber || '';
    const n = seriesCount(x);
    nSeries.textContent = n != null ? fmtNum(Number(n)) : '';
    const elsewhere = remoteCounts(x);
    setChildren(nInst, d.NumberOfStudyRelatedInstances != null ? fmtNum(Number(d.NumberOfStudyRelatedInstances)) : '',
      elsewhere ? ' ' : null, elsewhere);
    setChildren(badges, h('span', { class: 'badges' }, sourceBadges(x)));
    row.setAttribute('aria-expanded', String(!!x.expanded));
    row.setAttribute('aria-label', `${fmtPN(d.PatientName) || '(no name)'}, ${fmtDA(d.StudyDate) || 'no date'}, ${d.StudyDescription || 'no description'}`);
    root.dataset.local = String(!!x.local);
  };
  showStudy(e, { root, toggle: parts.toggle, check: parts.check, status: parts.status, grid: parts.grid, area: parts.area, draw });
  w.table.appendChild(root);
}

/**
 * The row of the table that Tab reaches is the one last focused.
 * @param {HTMLTableElement} table
 * @param {HTMLElement} row
 */
function rove(table, row) {
  for (const r of table.querySelectorAll('tr.wl-row[tabindex="0"]')) if (r !== row) r.setAttribute('tabindex', '-1');
  row.setAttribute('tabindex', '0');
}

/** @param {HTMLElement} row */
const studyOfRow = (row) => /** @type {HTMLElement} */ (row.parentElement);

/**
 * The study row `steps` rows away (clamped to the first and last).
 * @param {HTMLElement} row
 * @param {number} steps
 */
function rowAway(row, steps) {
  let body = studyOfRow(row);
  for (let i = 0; i < Math.abs(steps); i++) {
    const next = /** @type {HTMLElement | null} */ (steps > 0 ? body.nextElementSibling : body.previousElementSibling);
    if (!next || next.tagName !== 'TBODY') break;
    body = next;
  }
  return /** @type {HTMLElement} */ (body.firstElementChild);
}

/** @param {KeyboardEvent} ev */
function onKey(ev) {
  const row = /** @type {HTMLElement} */ (ev.target);
  if (!row.classList || !row.classList.contains('wl-row') || ev.altKey || ev.ctrlKey || ev.metaKey) return;
  const table = /** @type {HTMLTableElement} */ (ev.currentTarget);
  const body = studyOfRow(row);
  const rows = () => /** @type {HTMLElement[]} */ ([...table.querySelectorAll('tr.wl-row')]);
  /** @type {HTMLElement | null} */
  let to = null;
  switch (ev.key) {
    case 'ArrowDown': to = rowAway(row, 1); break;
    case 'ArrowUp': to = rowAway(row, -1); break;
    case 'PageDown': to = rowAway(row, 10); break;
    case 'PageUp': to = rowAway(row, -10); break;
    case 'Home': to = rows()[0]; break;
    case 'End': { const all = rows(); to = all[all.length - 1]; break; }
    case 'ArrowRight': case 'ArrowLeft': case 'Enter': {
      const e = entryOfBody(body);
      if (!e) return;
      const on = ev.key === 'Enter' ? !e.expanded : ev.key === 'ArrowRight';
      if (on !== !!e.expanded) setExpanded(e, on);
      break;
    }
    case ' ': {
      const e = entryOfBody(body);
      if (!e || !e.els) return;
      e.els.check.checked = !e.els.check.checked;
      setSelected(studyTarget(e), e.els.check.checked);
      break;
    }
    default: return;
  }
  ev.preventDefault();
  if (to && to !== row) to.focus();
}

/** @param {HTMLElement} body */
const entryOfBody = (body) => entries.get(body.dataset.studyUid || '');

/**
 * A study row's value in a column, as the server compares it (case folded; modalities as
 * their list).
 * @param {Partial<StudyRow>} r
 * @param {SortColumn} column
 * @returns {string | number}
 */
function sortValue(r, column) {
  switch (column) {
    case 'patient_name': return String(r.PatientName || '').toUpperCase();
    case 'patient_id': return String(r.PatientID || '');
    case 'birth_date': return String(r.PatientBirthDate || '');
    case 'study_date': return String(r.StudyDate || '');
    case 'description': return String(r.StudyDescription || '').toUpperCase();
    case 'modalities': { const m = modalitiesOf(r); return m.length ? `\\${[...m].sort().join('\\')}\\` : ''; }
    case 'accession': return String(r.AccessionNumber || '');
    case 'series': return Number(r.NumberOfStudyRelatedSeries) || 0;
    case 'instances': return Number(r.NumberOfStudyRelatedInstances) || 0;
    default: return '';
  }
}

/**
 * Sorts studies as the server sorts a page: by the column (empty values last), then newest
 * first.
 * @template T
 * @param {T[]} items
 * @param {Sort} sort
 * @param {(item: T) => Partial<StudyRow>} rowOf
 * @returns {T[]}
 */
export function sortStudyRows(items, sort, rowOf) {
  const sign = sort.dir === 'asc' ? 1 : -1;
  /** @param {string | number} a @param {string | number} b */
  const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  /** @param {Partial<StudyRow>} r */
  const newest = (r) => `${r.StudyDate || ''}${r.StudyTime || ''}`;
  return items.sort((x, y) => {
    const a = rowOf(x), b = rowOf(y);
    const va = sortValue(a, sort.column), vb = sortValue(b, sort.column);
    if (va === '' && vb !== '') return 1;
    if (vb === '' && va !== '') return -1;
    return sign * cmp(va, vb) || cmp(newest(b), newest(a));
  });
}
