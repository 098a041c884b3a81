// @ts-check
// The remote nodes (PACS over DIMSE, DICOMweb servers) and the last verification of each.
import { api, enc, post } from '../api.js';
import { reportError } from '../lib/errors.js';
import { Emitter } from '../lib/util.js';

/** @typedef {import('../api.js').Node} Node */
/** @typedef {{ pending: true } | { ok: true, ms: number } | { ok: false, error: string }} Verification */

/** @type {Node[]} */
let nodes = [];
/** @type {Map<string, Verification>} */
const verifications = new Map();

/** 'list': the nodes were (re)loaded; 'verify': a verification started or ended. @type {Emitter<['list' | 'verify']>} */
export const nodeChanges = new Emitter();

/** The nodes, by name. @returns {readonly Node[]} */
export const getNodes = () => nodes;

/** @param {string} name */
export const getVerification = (name) => verifications.get(name);

/**
 * Of the nodes that have something, the one to retrieve it from unless the user picks another:
 * a preferred node, else the first found.
 * @param {Iterable<string>} found node names, in the order they answered
 * @returns {string | undefined}
 */
export function defaultSource(found) {
  const names = [...found];
  const preferred = new Set(nodes.filter((n) => n.preferred).map((n) => n.name));
  return names.find((n) => preferred.has(n)) || names[0];
}

/**
 * Where a node is: its DICOMweb URL, or AE@host:port.
 * @param {Node} n
 */
export function nodeAddress(n) {
  if (n.dicomweb) return n.dicomweb.url;
  return `${n.ae_title}@${n.host}:${n.port}`;
}

/** Reads the nodes (a failure is reported; the list stays as it was). */
export async function loadNodes() {
  try {
    const list = await api('/api/nodes');
    /** @type {Node[]} */
    const all = Array.isArray(list) ? list : (list && list.nodes) || [];
    nodes = all.slice().sort((a, b) => a.name.localeCompare(b.name));
  } catch (e) { reportError(e, 'Loading nodes'); }
  nodeChanges.notify('list');
}

/**
 * A C-ECHO (or its DICOMweb equivalent) to a node.
 * @param {string} name
 */
export async function verifyNode(name) {
  verifications.set(name, { pending: true });
  nodeChanges.notify('verify');
  try {
    const r = await post(`/api/nodes/${enc(name)}/verify`);
    verifications.set(name, r && r.ok ? { ok: true, ms: Number(r.round_trip_ms || 0) } : { ok: false, error: (r && r.error) || 'failed' });
  } catch (e) {
    verifications.set(name, { ok: false, error: e instanceof Error ? e.message : String(e) });
  }
  nodeChanges.notify('verify');
}

/**
 * Saves a node (under a new name: the old one is removed); its verification is forgotten.
 * @param {Node} node
 * @param {string | null} previousName the name it was edited under
 */
export async function saveNode(node, previousName) {
  await api(`/api/nodes/${enc(node.name)}`, { method: 'PUT', body: node });
  if (previousName != null && previousName !== node.name) {
    await api(`/api/nodes/${enc(previousName)}`, { method: 'DELETE' });
    verifications.delete(previousName);
  }
  verifications.delete(node.name);
}

/** @param {string} name */
export async function removeNode(name) {
  await api(`/api/nodes/${enc(name)}`, { method: 'DELETE' });
  verifications.delete(name);
}
