// @ts-check
// The browser page's filter form: live filtering of the local list, the modality dropdown,
// the sources (Local and each node), Search (also the nodes), Reset, the prefetch policy.
import { $, $$, h, setChildren } from '../../lib/dom.js';
import { getSetting, setSetting } from '../../lib/settings.js';
import { debounce } from '../../lib/util.js';
import { currentList } from '../../state/browser.js';
import { getNodes } from '../../state/nodes.js';
import { openNodeForm } from '../nodeform.js';
import { showPage } from '../pages.js';
import { TEXT_FILTERS, chosenNodes, inputAt, prefetchPolicy, readFilters, selectedModalities } from './form.js';
import { resetList } from './list.js';
import { clearRemote, forgetRemoteSearch, remoteSearchNodes, runRemote } from './remote.js';
import { observeTilesForPrefetch } from './tiles.js';

const MODALITIES = ['CR', 'CT', 'DX', 'MG', 'MR', 'NM', 'PT', 'RF', 'SEG', 'SR', 'US', 'XA', 'OT'];
/** How long the live filter waits after a keystroke, in milliseconds. */
const FILTER_DELAY = 80;
/** How long a remote search waits after the filters last changed (a PACS is not asked per keystroke). */
const REMOTE_DELAY = 600;

const panel = $('#modality-panel');
const modalityButton = $('#f-modality');

/** Searches the local store, and the nodes ticked under Sources. */
function runSearch() {
  resetList();
  const nodes = chosenNodes();
  const L = currentList();
  if (nodes.length && L) runRemote(nodes, L.filters);
  else forgetRemoteSearch();
}

export function updateModalityLabel() {
  const m = selectedModalities();
  modalityButton.textContent = m.length ? m.join(', ') : 'Any';
}

/** Whether the modality dropdown is open. */
export const modalitiesOpen = () => !panel.hidden;

/**
 * Whether a press at `target` is outside the modality dropdown.
 * @param {EventTarget | null} target
 */
export const outsideModalities = (target) => !$('#modality-dropdown').contains(/** @type {Node | null} */ (target));

/**
 * Closes the modality dropdown (`refocus`: back to its button).
 * @param {boolean} refocus
 */
export function closeModalities(refocus) {
  panel.hidden = true;
  modalityButton.setAttribute('aria-expanded', 'false');
  if (refocus) modalityButton.focus();
}

/** The remote search shown is asked again with the filters as they now are. */
const remoteAgain = debounce(() => {
  const nodes = remoteSearchNodes();
  const L = currentList();
  if (nodes && nodes.length && L) runRemote(nodes, L.filters);
}, REMOTE_DELAY);

const liveRefreshDebounced = debounce(() => {
  const L = currentList();
  if (L && JSON.stringify(readFilters()) === JSON.stringify(L.filters) && !L.error) return;
  resetList();
  // Results of other filters never stay on screen: they go now, the new ones come shortly.
  if (remoteSearchNodes()) {
    clearRemote();
    remoteAgain();
  }
}, FILTER_DELAY);
function liveRefresh() { liveRefreshDebounced(); }

function buildModalities() {
  const any = h('label', { class: 'check any' },
    h('input', { type: 'checkbox', testid: 'modality-any', 'data-any': '1', checked: true }), ' Any');
  const boxes = MODALITIES.map((m) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', testid: 'modality-' + m, 'data-modality': m }), ' ' + m));
  setChildren(panel, any, boxes);
  panel.addEventListener('change', (e) => {
    const t = e.target;
    /** @type {HTMLInputElement} */
    const anyBox = $('[data-any]', panel);
    if (t === anyBox) {
      if (anyBox.checked) for (const c of $$('input[data-modality]', panel)) /** @type {HTMLInputElement} */ (c).checked = false;
      else anyBox.checked = selectedModalities().length === 0;
    } else {
      anyBox.checked = selectedModalities().length === 0;
    }
    updateModalityLabel();
    liveRefresh();
  });
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); closeModalities(true); }
  });
}

/** The nodes under Sources (ticks kept; new ones as last left), and the hint when there are none. */
export function renderSources() {
  /** @type {Set<string>} */
  const on = new Set(getSetting('sourcesOn', []));
  const box = $('#source-nodes');
  const prev = new Map($$('input', box).map((c) => [c.dataset.node, /** @type {HTMLInputElement} */ (c).checked]));
  const nodes = getNodes();
  setChildren(box, nodes.filter((n) => n.query_retrieve).map((n) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', testid: 'source-' + n.name, 'data-node': n.name,
      checked: prev.has(n.name) ? prev.get(n.name) : on.has(n.name),
      onchange: (/** @type {Event} */ e) => {
        /** @type {Set<string>} */
        const s = new Set(getSetting('sourcesOn', []));
        if (/** @type {HTMLInputElement} */ (e.target).checked) s.add(n.name); else s.delete(n.name);
        setSetting('sourcesOn', [...s]);
      } }), ' ' + n.name)));
  const hint = $('#nodes-hint');
  if (!nodes.length) {
    setChildren(hint, 'No remote nodes yet: add a PACS (DIMSE) or a DICOMweb server to search and retrieve remote studies. ',
      h('button', { type: 'button', class: 'small', onclick: () => { showPage('nodes'); openNodeForm(null); } }, 'Add a node'));
    hint.hidden = false;
  } else hint.hidden = true;
}

/** Puts the cursor in the patient name filter ('/' anywhere on the page). */
export function focusSearch() {
  const f = inputAt('#f-patient-name');
  f.focus();
  f.select();
}

/**
 * On a narrow screen the filters fold to the patient name and Search; the toggle shows the
 * others, and says how many of them are set.
 */
function updateFiltersToggle() {
  const form = $('#filter-form');
  const folded = form.classList.contains('folded');
  const f = readFilters();
  const set = TEXT_FILTERS.filter(([k]) => k !== 'patient_name' && f[k]).length + (f.date ? 1 : 0) + (f.modality.length ? 1 : 0);
  const button = $('#filters-toggle');
  button.setAttribute('aria-expanded', String(!folded));
  button.textContent = (folded ? 'More filters' : 'Fewer filters') + (set ? ` (${set} set)` : '');
}

export function initFilters() {
  buildModalities();
  $('#filters-toggle').addEventListener('click', () => {
    $('#filter-form').classList.toggle('folded');
    updateFiltersToggle();
  });
  $('#filter-form').addEventListener('input', updateFiltersToggle);
  $('#filter-form').addEventListener('change', updateFiltersToggle);
  updateFiltersToggle();
  modalityButton.addEventListener('click', () => {
    const open = panel.hidden;
    panel.hidden = !open;
    modalityButton.setAttribute('aria-expanded', String(open));
    if (open) $('input', panel).focus();
  });
  $('#modality-dropdown').addEventListener('focusout', (e) => {
    if (!$('#modality-dropdown').contains(/** @type {Node | null} */ (e.relatedTarget)) && e.relatedTarget) closeModalities(false);
  });

  $('#f-date').addEventListener('change', () => {
    $('#date-range').hidden = inputAt('#f-date').value !== 'custom';
    liveRefresh();
  });
  for (const id of ['#f-date-from', '#f-date-to']) $(id).addEventListener('change', liveRefresh);
  window.lightboxFilterDelay = FILTER_DELAY;
  for (const [, sel] of TEXT_FILTERS) {
    $(sel).addEventListener('input', liveRefresh);
    $(sel).addEventListener('change', liveRefresh);
  }
  $('#filter-form').addEventListener('submit', (e) => {
    e.preventDefault();
    runSearch();
  });
  $('#reset-filters').addEventListener('click', () => {
    for (const [, sel] of TEXT_FILTERS) inputAt(sel).value = '';
    inputAt('#f-date').value = 'any';
    $('#date-range').hidden = true;
    inputAt('#f-date-from').value = '';
    inputAt('#f-date-to').value = '';
    for (const c of $$('#modality-panel input[data-modality]')) /** @type {HTMLInputElement} */ (c).checked = false;
    inputAt('#modality-panel [data-any]').checked = true;
    updateModalityLabel();
    updateFiltersToggle();
    forgetRemoteSearch();
    resetList();
  });
  $('#source-local').addEventListener('change', () => {
    setSetting('sourceLocal', inputAt('#source-local').checked);
    resetList();
  });
  inputAt('#prefetch').value = getSetting('prefetch', 'thumbnails');
  $('#prefetch').addEventListener('change', () => {
    setSetting('prefetch', prefetchPolicy());
    observeTilesForPrefetch();
  });
}
