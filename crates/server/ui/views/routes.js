// @ts-check
// The Routes page: the routing rules that send on what the storage listener receives, and the
// form that adds or edits one. The server checks each rule again (its node must exist).
import { api, enc } from '../api.js';
import { $, h, setChildren } from '../lib/dom.js';
import { reportError } from '../lib/errors.js';
import { toast } from '../lib/toast.js';
import { getNodes, loadNodes } from '../state/nodes.js';
import { checkedOptions, renderOptions } from './deidoptions.js';
import { confirmDialog } from './dialogs.js';

/**
 * A routing rule as the API keeps it.
 * @typedef {{
 *   name: string, to: string, level?: 'series' | 'study', modalities?: string[],
 *   calling_ae_titles?: string[], from_nodes?: string[], description?: string | null,
 *   study_description?: string | null, patient_name?: string | null, patient_id?: string | null,
 *   accession_number?: string | null, study_date?: string | null,
 *   deidentify?: string[] | null, enabled?: boolean,
 * }} Route
 */

/** @type {Route[]} */
let routes = [];
/** The rule edited (null: a new one). @type {Route | null} */
let editing = null;
/** @type {HTMLDialogElement} */
const dlg = $('#route-dialog');
/** @param {string} sel */
const input = (sel) => /** @type {HTMLInputElement} */ ($(sel));

/** "CT, MR" as a list. @param {string} text */
const list = (text) => text.split(',').map((t) => t.trim()).filter(Boolean);
/** A pattern field: empty is none. @param {string} sel */
const pattern = (sel) => input(sel).value.trim() || null;

/** Reads the rules and draws them. */
export async function loadRoutes() {
  try {
    const r = await api('/api/routes');
    routes = Array.isArray(r) ? r : [];
  } catch (e) { reportError(e, 'Loading routing rules'); }
  render();
}

/**
 * What a rule waits for, in words.
 * @param {Route} r
 */
function conditions(r) {
  const parts = [];
  if (r.modalities && r.modalities.length) parts.push(`modality ${r.modalities.join(' or ')}`);
  if (r.calling_ae_titles && r.calling_ae_titles.length) parts.push(`from AE ${r.calling_ae_titles.join(' or ')}`);
  if (r.from_nodes && r.from_nodes.length) parts.push(`from node ${r.from_nodes.join(' or ')}`);
  if (r.description) parts.push(`description ${r.description}`);
  if (r.study_description) parts.push(`study description ${r.study_description}`);
  if (r.patient_name) parts.push(`patient ${r.patient_name}`);
  if (r.patient_id) parts.push(`patient ID ${r.patient_id}`);
  if (r.accession_number) parts.push(`accession ${r.accession_number}`);
  if (r.study_date) parts.push(`study date ${r.study_date}`);
  return parts.length ? parts.join(', ') : 'anything received';
}

function render() {
  setChildren($('#routes-body'), routes.map((r) => h('tr', { testid: 'route-row', 'data-route': r.name, class: r.enabled === false ? 'disabled' : undefined },
    h('td', null, h('b', null, r.name), r.enabled === false ? h('span', { class: 'badge' }, 'disabled') : null),
    h('td', null, r.level === 'study' ? 'whole studies' : 'each series'),
    h('td', { testid: 'route-when' }, conditions(r)),
    h('td', { testid: 'route-to-cell' }, r.to, r.deidentify ? h('span', { class: 'badge', testid: 'route-deidentified',
      title: r.deidentify.length ? `options: ${r.deidentify.join(', ')}` : 'the basic profile' }, 'de-identified') : null),
    h('td', { class: 'actions' },
      h('button', { type: 'button', class: 'small', testid: 'route-edit', 'aria-label': `Edit ${r.name}`, onclick: () => openRouteForm(r) }, 'Edit'),
      h('button', { type: 'button', class: 'small danger', testid: 'route-remove', 'aria-label': `Remove ${r.name}`, onclick: () => remove(r) }, 'Remove')))));
  $('#routes-empty').hidden = routes.length > 0;
}

/** @param {Route} r */
async function remove(r) {
  const ok = await confirmDialog({ title: 'Remove rule', ok: 'Remove', body: h('p', null, `Remove the routing rule ${r.name}? Sends it queued stay.`) });
  if (!ok) return;
  try {
    await api(`/api/routes/${enc(r.name)}`, { method: 'DELETE' });
    toast(`Removed ${r.name}.`, 'ok');
  } catch (e) { reportError(e, 'Remove rule'); }
  await loadRoutes();
}

/**
 * Opens the form for a rule, or a new one.
 * @param {Route | null} r
 */
async function openRouteForm(r) {
  editing = r;
  if (!getNodes().length) await loadNodes();
  $('#route-dialog-title').textContent = r ? `Edit rule ${r.name}` : 'Add rule';
  /** @type {HTMLSelectElement} */
  const to = $('#route-to');
  setChildren(to, getNodes().map((n) => h('option', { value: n.name, selected: !!r && r.to === n.name }, n.name)));
  input('#route-name').value = r ? r.name : '';
  /** @type {HTMLSelectElement} */ ($('#route-level')).value = (r && r.level) || 'series';
  input('#route-modalities').value = ((r && r.modalities) || []).join(', ');
  input('#route-calling').value = ((r && r.calling_ae_titles) || []).join(', ');
  input('#route-from-nodes').value = ((r && r.from_nodes) || []).join(', ');
  input('#route-description').value = (r && r.description) || '';
  input('#route-study-description').value = (r && r.study_description) || '';
  input('#route-patient-name').value = (r && r.patient_name) || '';
  input('#route-patient-id').value = (r && r.patient_id) || '';
  input('#route-accession').value = (r && r.accession_number) || '';
  input('#route-study-date').value = (r && r.study_date) || '';
  input('#route-enabled').checked = !r || r.enabled !== false;
  input('#route-deidentify').checked = !!(r && r.deidentify);
  renderOptions($('#route-deid-options'), 'route-deid-option', (r && r.deidentify) || []);
  showDeidOptions();
  $('#route-error').hidden = true;
  if (!dlg.open) dlg.showModal();
  input('#route-name').focus();
}

/** @param {Event} ev */
async function save(ev) {
  ev.preventDefault();
  const error = $('#route-error');
  /** @type {Route} */
  const route = {
    name: input('#route-name').value.trim(),
    to: /** @type {HTMLSelectElement} */ ($('#route-to')).value,
    level: /** @type {'series' | 'study'} */ (/** @type {HTMLSelectElement} */ ($('#route-level')).value),
    modalities: list(input('#route-modalities').value).map((m) => m.toUpperCase()),
    calling_ae_titles: list(input('#route-calling').value),
    from_nodes: list(input('#route-from-nodes').value),
    description: pattern('#route-description'),
    study_description: pattern('#route-study-description'),
    patient_name: pattern('#route-patient-name'),
    patient_id: pattern('#route-patient-id'),
    accession_number: pattern('#route-accession'),
    study_date: pattern('#route-study-date'),
    deidentify: input('#route-deidentify').checked ? checkedOptions($('#route-deid-options')) : null,
    enabled: input('#route-enabled').checked,
  };
  if (!route.name || !route.to) {
    error.textContent = !route.name ? 'A rule needs a name.' : 'Add a node first: a rule sends to one.';
    error.hidden = false;
    return;
  }
  try {
    await api(`/api/routes/${enc(route.name)}`, { method: 'PUT', body: route });
    if (editing && editing.name !== route.name) await api(`/api/routes/${enc(editing.name)}`, { method: 'DELETE' });
    dlg.close();
    toast(`Saved ${route.name}.`, 'ok');
    await loadRoutes();
  } catch (e) {
    error.textContent = e instanceof Error ? e.message : String(e);
    error.hidden = false;
  }
}

/** The profile's options, only for a rule that de-identifies. */
const showDeidOptions = () => { $('#route-deid-fieldset').hidden = !input('#route-deidentify').checked; };

export function initRoutes() {
  $('#route-deidentify').addEventListener('change', showDeidOptions);
  $('#route-add').addEventListener('click', () => openRouteForm(null));
  $('#route-form').addEventListener('submit', save);
  $('#route-cancel').addEventListener('click', () => dlg.close());
}
