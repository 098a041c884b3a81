// @ts-check
// The text-only DOM helper: every value reaches the page through textContent or a non-URL
// attribute set here; nothing is ever parsed as HTML.

/** @typedef {Node | string | number | null | undefined | false} Leaf */
/** What h() and setChildren() take as children: leaves, and arrays of them (two levels deep). */
/** @typedef {Leaf | readonly (Leaf | readonly Leaf[])[]} Child */
/** @typedef {Record<string, any>} Attrs */

/**
 * The first element matching `sel`, typed as the caller says (the page's own, known elements).
 * @template {Element} [T=HTMLElement]
 * @param {string} sel
 * @param {ParentNode} [root]
 * @returns {T}
 */
export const $ = (sel, root = document) => /** @type {T} */ (root.querySelector(sel));

/**
 * Every element matching `sel`, as an array.
 * @template {Element} [T=HTMLElement]
 * @param {string} sel
 * @param {ParentNode} [root]
 * @returns {T[]}
 */
export const $$ = (sel, root = document) => /** @type {T[]} */ (Array.from(root.querySelectorAll(sel)));

const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'indeterminate', 'selected', 'title']);

/**
 * Builds an element. Strings among children become text nodes; never parsed as HTML.
 * Attributes: `class`, `text` (textContent), `testid` (data-testid), `style` (an object),
 * `on…` functions (listeners), a few properties (value, checked, …); others are set as
 * attributes (`true` as empty, `undefined`, `null` and `false` left out).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const k of Object.keys(attrs)) {
      const v = attrs[k];
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = String(v);
      else if (k === 'testid') el.setAttribute('data-testid', v);
      else if (k === 'style') Object.assign(el.style, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
      else if (PROPS.has(k)) /** @type {any} */ (el)[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  appendChildren(el, children);
  return el;
}

/**
 * @param {Node} el
 * @param {readonly unknown[]} children
 */
function appendChildren(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) appendChildren(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/**
 * Removes every child.
 * @template {Node} T
 * @param {T} el
 * @returns {T}
 */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/**
 * Replaces the children (same rules as h()).
 * @template {Node} T
 * @param {T} el
 * @param {...Child} children
 * @returns {T}
 */
export function setChildren(el, ...children) {
  clear(el);
  appendChildren(el, children);
  return el;
}
