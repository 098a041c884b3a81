// @ts-check
// The node form (add or edit a node): checked here first, then by the server, whose errors
// land on their field.
import { statusOf } from '../api.js';
import { $, $$, h } from '../lib/dom.js';
import { recordError, reportError } from '../lib/errors.js';
import { toast } from '../lib/toast.js';
import { loadNodes, saveNode } from '../state/nodes.js';

/** @typedef {import('../api.js').Node} Node */
/** @typedef {import('../api.js').NodeAuth} NodeAuth */

/** @type {HTMLDialogElement} */
const dlg = $('#node-dialog');
const form = $('#node-form');
/** The node edited (null: a new one). @type {Node | null} */
let editing = null;

/** @param {string} sel */
const input = (sel) => /** @type {HTMLInputElement} */ ($(sel));
/** @param {string} sel */
const value = (sel) => input(sel).value;

/** The input of each field the server may name. @type {Record<string, string>} */
const FIELD_INPUTS = {
  name: '#node-name', ae_title: '#node-ae-title', host: '#node-host', port: '#node-port', calling_ae_title: '#node-calling',
  retrieve_method: '#node-retrieve', move_destination: '#node-move-dest', url: '#node-url', auth: '#node-auth',
  user: '#node-user', password: '#node-password', token: '#node-token', timeout_seconds: '#node-timeout', type: '#node-type',
};

/**
 * Opens the form, for a node or a new one.
 * @param {Node | null} n
 */
export function openNodeForm(n) {
  editing = n;
  $('#node-dialog-title').textContent = n ? `Edit node ${n.name}` : 'Add node';
  const web = !!(n && n.dicomweb);
  /** @type {NodeAuth} */
  const auth = (n && n.dicomweb && n.dicomweb.auth) || { kind: 'none' };
  input('#node-name').value = n ? n.name : '';
  input('#node-type').value = web ? 'dicomweb' : 'dimse';
  input('#node-ae-title').value = n && !web ? n.ae_title || '' : '';
  input('#node-host').value = n && !web ? n.host || '' : '';
  input('#node-port').value = n && !web ? String(n.port || '') : '104';
  input('#node-calling').value = (n && n.calling_ae_title) || '';
  input('#node-retrieve').value = (n && n.retrieve_method) || 'c-get';
  input('#node-move-dest').value = (n && n.move_destination) || '';
  input('#node-url').value = web && n && n.dicomweb ? n.dicomweb.url || '' : '';
  input('#node-auth').value = auth.kind || 'none';
  input('#node-user').value = ('user' in auth && auth.user) || '';
  input('#node-password').value = '';
  input('#node-token').value = '';
  input('#node-timeout').value = String((n && n.timeout_seconds) || 30);
  input('#node-qr').checked = n ? !!n.query_retrieve : true;
  input('#node-send').checked = n ? !!n.send_target : true;
  input('#node-preferred').checked = !!(n && n.preferred);
  clearErrors();
  sync();
  dlg.showModal();
  input('#node-name').focus();
}

/** Shows the fields of the node's type and authentication. */
function sync() {
  const web = value('#node-type') === 'dicomweb';
  form.classList.toggle('web', web);
  form.classList.toggle('auth-basic', web && value('#node-auth') === 'basic');
  form.classList.toggle('auth-bearer', web && value('#node-auth') === 'bearer');
  input('#node-move-dest').disabled = value('#node-retrieve') !== 'c-move';
}

function clearErrors() {
  for (const e of $$('.field-error', form)) e.remove();
  for (const i of $$('[aria-invalid]', form)) { i.removeAttribute('aria-invalid'); i.removeAttribute('aria-describedby'); }
  $('#node-form-error').textContent = '';
}

/**
 * Shows an error under its field's input (or above the buttons when the field is not shown);
 * returns the input, to focus.
 * @param {string | null} field
 * @param {string} msg
 * @returns {HTMLInputElement | null}
 */
function showError(field, msg) {
  const sel = field ? FIELD_INPUTS[field] : undefined;
  const inp = sel ? input(sel) : null;
  if (!inp || inp.closest('[hidden]') || getComputedStyle(inp.closest('.field') || inp).display === 'none') {
    $('#node-form-error').textContent = field ? `${field}: ${msg}` : msg;
    return null;
  }
  const id = 'err-' + field;
  const old = document.getElementById(id);
  if (old) old.remove();
  const err = h('div', { class: 'field-error', testid: 'field-error', 'data-field': field, id, role: 'alert' }, msg);
  /** @type {HTMLElement} */ (inp.closest('.field')).appendChild(err);
  inp.setAttribute('aria-invalid', 'true');
  inp.setAttribute('aria-describedby', id);
  return inp;
}

/** @returns {Record<string, string>} field → message */
function validate() {
  /** @type {Record<string, string>} */
  const errs = {};
  /** @param {string} v */
  const aeOk = (v) => v.length >= 1 && v.length <= 16 && /^[\x20-\x7e]+$/.test(v) && !v.includes('\\') && v.trim().length > 0;
  const name = value('#node-name').trim();
  if (!name) errs.name = 'Enter a name.';
  else if (/[/\\]/.test(name) || name.length > 64) errs.name = 'Use at most 64 characters, without slashes.';
  const web = value('#node-type') === 'dicomweb';
  if (!web) {
    const ae = value('#node-ae-title');
    if (!aeOk(ae)) errs.ae_title = 'AE title: 1 to 16 printable ASCII characters, no backslash.';
    if (!value('#node-host').trim()) errs.host = 'Enter a host name or IP address.';
    const port = value('#node-port').trim();
    if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) errs.port = 'Port: a number from 1 to 65535.';
    const calling = value('#node-calling');
    if (calling && !aeOk(calling)) errs.calling_ae_title = 'AE title: 1 to 16 printable ASCII characters, no backslash.';
    const dest = value('#node-move-dest');
    if (value('#node-retrieve') === 'c-move' && dest && !aeOk(dest)) errs.move_destination = 'AE title: 1 to 16 printable ASCII characters, no backslash.';
  } else {
    const url = value('#node-url').trim();
    if (!/^https?:\/\/[^\s/]+/i.test(url)) errs.url = 'The URL must start with http:// or https://.';
    const auth = value('#node-auth');
    if (auth === 'basic' && !value('#node-user').trim()) errs.user = 'Enter the user name.';
    const hadSecret = editing && editing.dicomweb && editing.dicomweb.auth && editing.dicomweb.auth.kind === auth;
    if (auth === 'basic' && !value('#node-password') && !hadSecret) errs.password = 'Enter the password.';
    if (auth === 'bearer' && !value('#node-token') && !hadSecret) errs.token = 'Enter the token.';
  }
  const t = value('#node-timeout').trim();
  if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 86400) errs.timeout_seconds = 'Timeout: a whole number of seconds, at least 1.';
  return errs;
}

/**
 * The node the form describes (a DICOMweb node keeps the DIMSE fields it had, or placeholders).
 * @returns {Node}
 */
function build() {
  const web = value('#node-type') === 'dicomweb';
  /** @type {Partial<Node>} */
  const prev = editing || {};
  /** @type {Node} */
  const n = {
    name: value('#node-name').trim(),
    ae_title: web ? (prev.dicomweb ? prev.ae_title : 'DICOMWEB') || 'DICOMWEB' : value('#node-ae-title'),
    host: web ? (prev.dicomweb ? prev.host : '-') || '-' : value('#node-host').trim(),
    port: web ? (prev.dicomweb ? prev.port : 1) || 1 : Number(value('#node-port')),
    calling_ae_title: !web && value('#node-calling') ? value('#node-calling') : null,
    retrieve_method: web ? prev.retrieve_method || 'c-get' : value('#node-retrieve'),
    move_destination: !web && value('#node-retrieve') === 'c-move' && value('#node-move-dest') ? value('#node-move-dest') : null,
    query_retrieve: input('#node-qr').checked,
    send_target: input('#node-send').checked,
    preferred: input('#node-preferred').checked,
    timeout_seconds: Number(value('#node-timeout')),
    // TLS is set from the command line (`nodes add --tls-ca`): an edit here keeps it.
    tls: !web && prev.tls ? prev.tls : null,
  };
  if (web) {
    const kind = value('#node-auth');
    /** @type {NodeAuth} */
    const auth = kind === 'basic' ? { kind, user: value('#node-user').trim(), password: value('#node-password') }
      : kind === 'bearer' ? { kind, token: value('#node-token') } : { kind: 'none' };
    n.dicomweb = { url: value('#node-url').trim(), auth };
  }
  return n;
}

async function submit() {
  clearErrors();
  const errs = validate();
  const keys = Object.keys(errs);
  if (keys.length) {
    /** @type {HTMLInputElement | null} */
    let first = null;
    for (const k of keys) { const i = showError(k, errs[k]); if (!first && i) first = i; }
    if (first) first.focus();
    return;
  }
  const node = build();
  /** @type {HTMLButtonElement} */
  const save = $('#node-save');
  save.disabled = true;
  try {
    await saveNode(node, editing ? editing.name : null);
    dlg.close();
    toast(`Saved node ${node.name}.`, 'ok');
    await loadNodes();
  } catch (e) {
    const status = statusOf(e);
    const message = e instanceof Error ? e.message : String(e);
    if (status === 400 || status === 422) {
      recordError(e, 'node form');
      const apiField = /** @type {{ field?: unknown }} */ (e).field;
      const field = apiField ? String(apiField).split('.').pop() || null : null;
      const mapped = field === 'timeout' ? 'timeout_seconds' : field;
      const inp = mapped ? showError(mapped, message) : null;
      if (inp) inp.focus(); else if (!mapped) $('#node-form-error').textContent = message;
    } else {
      reportError(e, 'Save node');
      $('#node-form-error').textContent = message;
    }
  } finally { save.disabled = false; }
}

export function initNodeForm() {
  $('#node-type').addEventListener('change', sync);
  $('#node-auth').addEventListener('change', sync);
  $('#node-retrieve').addEventListener('change', sync);
  form.addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  $('#node-cancel').addEventListener('click', () => dlg.close());
}
