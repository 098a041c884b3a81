// @ts-check
// The Nodes page: this server's identity, and the remote nodes with their verification.
import { $, h, setChildren } from '../lib/dom.js';
import { reportError } from '../lib/errors.js';
import { toast } from '../lib/toast.js';
import { getNodes, getVerification, loadNodes, nodeAddress, removeNode, verifyNode } from '../state/nodes.js';
import { getStatus } from '../state/status.js';
import { confirmDialog } from './dialogs.js';
import { openNodeForm } from './nodeform.js';

/** @typedef {import('../api.js').Node} Node */

export function renderNodes() {
  const body = $('#nodes-body');
  const nodes = getNodes();
  const status = getStatus();
  setChildren(body, nodes.map((n) => {
    const v = getVerification(n.name);
    const cell = h('td', { testid: 'node-verify-result', 'data-node': n.name, 'aria-live': 'polite' });
    if (!v) cell.appendChild(h('span', { class: 'muted' }, 'unknown'));
    else if ('pending' in v) cell.appendChild(h('span', { class: 'muted' }, 'verifying…'));
    else if (v.ok) cell.appendChild(h('span', { class: 'verify-ok' }, `✓ ${v.ms < 10 ? Number(v.ms).toFixed(1).replace(/\.0$/, '') : Math.round(v.ms)} ms`));
    else cell.appendChild(h('span', { class: 'verify-fail', title: v.error }, `✗ ${v.error}`));
    const web = !!n.dicomweb;
    return h('tr', { testid: 'node-row', 'data-node': n.name },
      h('td', null, h('b', null, n.name),
        n.preferred ? h('span', { class: 'badge preferred', testid: 'node-preferred-badge', title: 'Retrieved from first when a study is on several nodes' }, '★ preferred') : null),
      h('td', null, h('span', { class: 'badge' }, web ? 'DICOMweb' : 'DIMSE'), ' ',
        ...(n.tls ? [h('span', { class: 'badge', title: 'Associations over TLS' }, 'TLS'), ' '] : []), h('span', { class: 'mono' }, nodeAddress(n))),
      h('td', null, web ? 'WADO-RS' : (n.retrieve_method === 'c-move' ? `C-MOVE → ${n.move_destination || (status && status.ae_title) || 'us'}` : 'C-GET')),
      h('td', null, n.query_retrieve ? '✓' : '—'),
      h('td', null, n.send_target ? '✓' : '—'),
      cell,
      h('td', { class: 'actions' },
        h('button', { type: 'button', class: 'small', testid: 'node-verify', 'aria-label': `Verify ${n.name}`, onclick: () => verifyNode(n.name) }, 'Verify'),
        h('button', { type: 'button', class: 'small', testid: 'node-edit', 'aria-label': `Edit ${n.name}`, onclick: () => openNodeForm(n) }, 'Edit'),
        h('button', { type: 'button', class: 'small danger', testid: 'node-remove', 'aria-label': `Remove ${n.name}`, onclick: () => remove(n) }, 'Remove')));
  }));
  $('#nodes-empty').hidden = nodes.length > 0;
}

/** @param {Node} n */
async function remove(n) {
  const ok = await confirmDialog({ title: 'Remove node', ok: 'Remove',
    body: h('p', null, `Remove the node ${n.name} (${nodeAddress(n)})? Its jobs stay in the history.`) });
  if (!ok) return;
  try {
    await removeNode(n.name);
    toast(`Removed ${n.name}.`, 'ok');
  } catch (e) { reportError(e, 'Remove node'); }
  await loadNodes();
}

/** "This server": its AE title, DIMSE address and listener, HTTP address, version. */
export function renderThisServer() {
  const s = getStatus();
  const box = $('#this-server');
  if (!s) { setChildren(box, h('h2', null, 'This server'), h('span', { class: 'muted' }, 'Status unavailable.')); return; }
  const d = s.dimse || {};
  /** @param {string} k @param {string} v @param {string} testid */
  const kv = (k, v, testid) => h('div', { class: 'kv' }, h('span', { class: 'k' }, k), h('span', { class: 'mono', testid }, v));
  setChildren(box, h('h2', null, 'This server'),
    kv('AE title', s.ae_title || '', 'server-ae-title'),
    kv('DIMSE address', d.address || '', 'server-dimse-address'),
    kv('DIMSE listener', d.running ? 'running' : 'not running', 'server-dimse-status'),
    kv('HTTP', s.http || location.origin, 'server-http'),
    kv('Version', s.version || '', 'server-version'));
}

export function initNodes() {
  $('#node-add').addEventListener('click', () => openNodeForm(null));
}
