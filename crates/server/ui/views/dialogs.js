// @ts-check
// The shared dialogs: a confirmation, and the choice of a node to send to.
import { $, $$, h, setChildren } from '../lib/dom.js';
import { getSetting, setSetting } from '../lib/settings.js';
import { getNodes } from '../state/nodes.js';

/** @typedef {import('../lib/dom.js').Child} Child */

/**
 * Asks to confirm; resolves true for OK.
 * @param {{ title: string, body: Child, ok?: string, danger?: boolean }} opts
 * @returns {Promise<boolean>}
 */
export function confirmDialog({ title, body, ok = 'Delete', danger = true }) {
  /** @type {HTMLDialogElement} */
  const dialog = $('#confirm-dialog');
  $('#confirm-title').textContent = title;
  setChildren($('#confirm-body'), body);
  const okBtn = $('#confirm-ok');
  okBtn.textContent = ok;
  okBtn.className = danger ? 'danger' : 'primary';
  return new Promise((resolve) => {
    let result = false;
    const onOk = () => { result = true; dialog.close(); };
    const onCancel = () => dialog.close();
    const onClose = () => {
      okBtn.removeEventListener('click', onOk);
      $('#confirm-cancel').removeEventListener('click', onCancel);
      dialog.removeEventListener('close', onClose);
      resolve(result);
    };
    okBtn.addEventListener('click', onOk);
    $('#confirm-cancel').addEventListener('click', onCancel);
    dialog.addEventListener('close', onClose);
    dialog.showModal();
    $('#confirm-cancel').focus();
  });
}

/**
 * Asks which node to send to (the send targets; the last one chosen first); resolves to its
 * name, or null when canceled.
 * @param {Child} description what is sent
 * @returns {Promise<string | null>}
 */
export function sendDialog(description) {
  /** @type {HTMLDialogElement} */
  const dlg = $('#send-dialog');
  const targets = getNodes().filter((n) => n.send_target);
  /** @type {HTMLSelectElement} */
  const sel = $('#send-node');
  setChildren(sel, targets.map((n) => h('option', { value: n.name }, n.name)));
  const last = getSetting('lastSendNode', '');
  if (targets.some((n) => n.name === last)) sel.value = last;
  setChildren($('#send-body'), description,
    targets.length ? null : h('p', { class: 'error-text' }, 'No node is configured as a send target. Add one on the Nodes page.'));
  /** @type {HTMLButtonElement} */ ($('#send-ok')).disabled = !targets.length;
  return new Promise((resolve) => {
    /** @type {string | null} */
    let result = null;
    const form = $('#send-form');
    /** @param {Event} e */
    const onSubmit = (e) => { e.preventDefault(); result = sel.value || null; dlg.close(); };
    const onCancel = () => dlg.close();
    const onClose = () => {
      form.removeEventListener('submit', onSubmit);
      $('#send-cancel').removeEventListener('click', onCancel);
      dlg.removeEventListener('close', onClose);
      if (result) setSetting('lastSendNode', result);
      resolve(result);
    };
    form.addEventListener('submit', onSubmit);
    $('#send-cancel').addEventListener('click', onCancel);
    dlg.addEventListener('close', onClose);
    dlg.showModal();
    (targets.length ? sel : $('#send-cancel')).focus();
  });
}

/** Every dialog's ✕ button closes it. */
export function initDialogs() {
  for (const btn of $$('.close-dialog')) {
    btn.addEventListener('click', () => /** @type {HTMLDialogElement} */ (btn.closest('dialog')).close());
  }
}
