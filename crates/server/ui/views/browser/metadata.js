// @ts-check
// The metadata explorer: a series' instances one at a time, their elements as a tree of
// sequences and items, searchable by tag, keyword, name or value.
import { api, enc } from '../../api.js';
import { $, clear, h, setChildren } from '../../lib/dom.js';
import { reportError } from '../../lib/errors.js';
import { plural } from '../../lib/format.js';
import { debounce } from '../../lib/util.js';

/** @typedef {import('../../api.js').InstanceRow} InstanceRow */
/** @typedef {import('../../api.js').MetadataElement} MetadataElement */
/**
 * A row of the tree: an element (`el`), or an item of a sequence (`isItem`, its number).
 * `hay` is what the search looks in.
 * @typedef {{
 *   el?: MetadataElement, item?: number, level: number, parent: TreeNode | null, isSeq?: boolean, isItem?: boolean,
 *   expanded?: boolean, row: HTMLElement, hay?: string, tag?: string, fold?: HTMLButtonElement,
 * }} TreeNode
 */

/** @type {HTMLDialogElement} */
const dlg = $('#metadata-dialog');
const tree = $('#metadata-tree');
/** @type {HTMLInputElement} */
const search = $('#metadata-search');
/** @type {HTMLInputElement} */
const indexInput = $('#metadata-index');

/** @type {InstanceRow[]} */
let instances = [];
let index = 0;
/** @type {TreeNode[]} */
let nodes = [];
let gen = 0;

/** @param {unknown} e */
const messageOf = (e) => (e instanceof Error ? e.message : String(e));

/**
 * Opens the explorer on a series' first instance.
 * @param {string} seriesUid
 * @param {string} title
 */
export async function openMetadata(seriesUid, title) {
  instances = [];
  index = 0;
  $('#metadata-title').textContent = `Metadata: ${title}`;
  setChildren(tree, h('div', { class: 'muted empty' }, 'Loading…'));
  if (!dlg.open) dlg.showModal();
  search.focus();
  try {
    const list = await api(`/api/series/${enc(seriesUid)}/instances`);
    instances = Array.isArray(list) ? list : (list && list.instances) || [];
    if (!instances.length) { setChildren(tree, h('div', { class: 'muted empty' }, 'This series has no local instance.')); nav(); return; }
    await show(0);
  } catch (e) {
    reportError(e, 'Metadata');
    setChildren(tree, h('div', { class: 'error-text empty' }, 'Could not load: ' + messageOf(e)));
  }
}

function nav() {
  const n = instances.length;
  /** @type {HTMLButtonElement} */ ($('#metadata-prev')).disabled = index <= 0;
  /** @type {HTMLButtonElement} */ ($('#metadata-next')).disabled = index >= n - 1;
  indexInput.max = String(Math.max(1, n));
  indexInput.value = String(index + 1);
  $('#metadata-of').textContent = `/ ${n}`;
}

/**
 * Shows the i-th instance (clamped).
 * @param {number} i
 */
async function show(i) {
  const n = instances.length;
  if (!n) return;
  i = Math.max(0, Math.min(n - 1, i));
  index = i;
  nav();
  const inst = instances[i];
  const g = ++gen;
  $('#metadata-sop').textContent = `SOP Instance UID ${inst.SOPInstanceUID}${inst.InstanceNumber != null ? ` · Instance Number ${inst.InstanceNumber}` : ''}`;
  try {
    const md = await api(`/api/instances/${enc(inst.SOPInstanceUID)}/metadata`);
    if (g !== gen) return;
    render((md && md.elements) || []);
  } catch (e) {
    if (g !== gen) return;
    reportError(e, 'Metadata');
    setChildren(tree, h('div', { class: 'error-text empty' }, 'Could not load: ' + messageOf(e)));
  }
}

/** @param {MetadataElement[]} elements */
function render(elements) {
  /** @type {TreeNode[]} */
  const all = [];
  /** @param {MetadataElement[]} els @param {number} level @param {TreeNode | null} parent */
  const build = (els, level, parent) => {
    for (const el of els) {
      const isSeq = Array.isArray(el.items);
      const node = /** @type {TreeNode} */ ({ el, level, parent, isSeq, expanded: level < 1,
        hay: [el.keyword, el.name, isSeq ? '' : el.value].map((x) => String(x || '').toLowerCase()).join('\u0000'),
        tag: String(el.tag || '').toUpperCase() });
      all.push(node);
      makeRow(node);
      if (isSeq) {
        (el.items || []).forEach((item, i) => {
          const itemNode = /** @type {TreeNode} */ ({ item: i + 1, level, parent: node, isItem: true });
          all.push(itemNode);
          makeRow(itemNode);
          build(Array.isArray(item) ? item : [], level + 1, itemNode);
        });
      }
    }
  };
  build(elements, 0, null);
  nodes = all;
  apply();
}

/**
 * Puts the rows to show (and only those) in the tree.
 * @param {(nd: TreeNode) => boolean} visible
 */
function place(visible) {
  const keepScroll = tree.scrollTop;
  const frag = document.createDocumentFragment();
  frag.appendChild(h('div', { class: 'md-row md-head', 'aria-hidden': 'true' },
    h('span', null, 'Tag'), h('span', null, 'Keyword'), h('span', null, 'VR'), h('span', null, 'Value')));
  let n = 0;
  for (const nd of nodes) if (visible(nd)) { frag.appendChild(nd.row); n++; }
  if (!n) frag.appendChild(h('div', { class: 'muted empty' }, nodes.length ? 'No element matches.' : 'No elements.'));
  clear(tree);
  tree.appendChild(frag);
  tree.scrollTop = keepScroll;
}

/** @param {TreeNode} node */
function makeRow(node) {
  const indent = (node.level * 2 + (node.isItem ? 1 : 0)) * 14;
  if (node.isItem) {
    const c = h('div', { class: 'md-tag' }, h('span', { class: 'md-fold-space' }), `Item #${node.item}`);
    c.style.paddingLeft = indent + 'px';
    node.row = h('div', { class: 'md-row md-item', role: 'treeitem', testid: 'metadata-item', 'aria-level': String(node.level * 2 + 2) }, c, h('span'), h('span'), h('span'));
    return;
  }
  const el = /** @type {MetadataElement} */ (node.el);
  const t = node.tag || '';
  const tagText = t.length === 8 ? `(${t.slice(0, 4)},${t.slice(4)})` : t;
  /** @type {HTMLElement} */
  let fold = h('span', { class: 'md-fold-space' });
  if (node.isSeq) {
    const button = h('button', { type: 'button', class: 'md-fold', 'aria-label': `Expand ${el.keyword || tagText}`,
      onclick: () => { node.expanded = !node.expanded; apply(); } });
    node.fold = button;
    fold = button;
  }
  const tagCell = h('div', { class: 'md-tag' }, fold, tagText);
  tagCell.style.paddingLeft = indent + 'px';
  node.row = h('div', { class: 'md-row', role: 'treeitem', testid: 'metadata-row', 'data-tag': t, 'aria-level': String(node.level * 2 + 1) },
    tagCell,
    h('div', { class: 'md-kw', title: el.name || '' }, el.keyword || (el.name ? el.name : '(private)')),
    h('div', { class: 'md-vr' }, el.vr || ''),
    h('div', { class: 'md-val' }, node.isSeq ? plural((el.items || []).length, 'item') : (el.value == null ? '' : String(el.value))));
}

/** Shows the rows the search (or, without one, the folding) lets through. */
function apply() {
  const raw = search.value.trim();
  const q = raw.toLowerCase();
  const tagQ = raw.replace(/[\s(),]/g, '').toUpperCase();
  const tagLike = /^[0-9A-F]{2,8}$/.test(tagQ) && /^[\s(),0-9a-fA-F]+$/.test(raw);
  if (!q) {
    for (const nd of nodes) {
      nd.row.classList.remove('match');
      if (nd.fold) {
        nd.fold.textContent = nd.expanded ? '▾' : '▸';
        nd.fold.disabled = false;
        nd.fold.setAttribute('aria-expanded', String(nd.expanded));
        nd.fold.setAttribute('aria-label', `${nd.expanded ? 'Collapse' : 'Expand'} ${(nd.el && nd.el.keyword) || nd.tag}`);
        nd.row.setAttribute('aria-expanded', String(nd.expanded));
      }
    }
    place((nd) => {
      for (let p = nd.parent; p; p = p.parent) if (p.isSeq && !p.expanded) return false;
      return true;
    });
    delete $('#metadata-sop').dataset.matches;
    return;
  }
  /** @type {Set<TreeNode>} */
  const shown = new Set();
  let matches = 0;
  for (const nd of nodes) {
    if (nd.isItem) continue;
    const m = (tagLike && (nd.tag || '').includes(tagQ)) || (nd.hay || '').includes(q);
    nd.row.classList.toggle('match', m);
    if (m) { matches++; for (let p = /** @type {TreeNode | null} */ (nd); p; p = p.parent) shown.add(p); }
  }
  for (const nd of nodes) {
    if (nd.fold) { nd.fold.textContent = '▾'; nd.fold.disabled = true; nd.fold.setAttribute('aria-expanded', 'true'); }
  }
  place((nd) => shown.has(nd));
  $('#metadata-sop').dataset.matches = String(matches);
}

/** @param {boolean} on */
function setAll(on) {
  for (const nd of nodes) if (nd.isSeq) nd.expanded = on;
  apply();
}

export function initMetadata() {
  search.addEventListener('input', debounce(() => apply(), 80));
  // Escape closes the explorer even from the search box (where it would only clear the text).
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.preventDefault(); dlg.close(); }
  });
  $('#metadata-prev').addEventListener('click', () => show(index - 1));
  $('#metadata-next').addEventListener('click', () => show(index + 1));
  indexInput.addEventListener('change', () => show(Number(indexInput.value || 1) - 1));
  $('#metadata-expand').addEventListener('click', () => setAll(true));
  $('#metadata-collapse').addEventListener('click', () => setAll(false));
}
