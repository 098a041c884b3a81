// @ts-check
// The series preview: every frame of every instance, stepped with the keyboard, the wheel or
// the slider; the neighbours are fetched ahead.
import { api, enc, renderedUrl } from '../../api.js';
import { $ } from '../../lib/dom.js';
import { reportError } from '../../lib/errors.js';

/** @typedef {import('../../api.js').InstanceRow} InstanceRow */
/** @typedef {{ sop: string, frame: number | null }} Step */

/** @type {HTMLDialogElement} */
const dlg = $('#preview-dialog');
/** @type {HTMLImageElement} */
const image = $('#preview-image');
/** @type {HTMLInputElement} */
const slider = $('#preview-slider');

/** @type {Step[]} */
let steps = [];
let pos = 0;
let gen = 0;
/** Images fetched ahead, by address (at most 40). @type {Map<string, HTMLImageElement>} */
const cache = new Map();

/** @param {Step} st */
const url = (st) => renderedUrl(st.sop, st.frame);

/** @param {string} [t] */
function message(t) {
  const m = $('#preview-message');
  m.textContent = t || '';
  m.hidden = !t;
}

/**
 * Opens the preview on a series' first image.
 * @param {string} seriesUid
 * @param {string} title
 */
export async function openPreview(seriesUid, title) {
  const g = ++gen;
  steps = [];
  pos = 0;
  $('#preview-title').textContent = title || 'Preview';
  image.removeAttribute('src');
  message('Loading…');
  $('#preview-pos').textContent = '';
  if (!dlg.open) dlg.showModal();
  $('#preview-stage').focus();
  try {
    const list = await api(`/api/series/${enc(seriesUid)}/instances`);
    if (g !== gen) return;
    /** @type {InstanceRow[]} */
    const inst = Array.isArray(list) ? list : (list && list.instances) || [];
    for (const x of inst) {
      const frames = Math.max(1, Math.min(2000, Number(x.NumberOfFrames) || 1));
      for (let f = 1; f <= frames && steps.length < 20000; f++) steps.push({ sop: x.SOPInstanceUID, frame: frames > 1 ? f : null });
    }
    if (!steps.length) { message('This series has no local instance.'); return; }
    slider.min = '1';
    slider.max = String(steps.length);
    show(0);
  } catch (e) {
    reportError(e, 'Preview');
    message('Could not load: ' + (e instanceof Error ? e.message : String(e)));
  }
}

/**
 * Shows the i-th image (clamped), and fetches its neighbours.
 * @param {number} i
 */
function show(i) {
  const n = steps.length;
  if (!n) return;
  i = Math.max(0, Math.min(n - 1, i));
  pos = i;
  image.src = url(steps[i]);
  image.alt = `Image ${i + 1} of ${n}`;
  slider.value = String(i + 1);
  $('#preview-pos').textContent = `${i + 1} / ${n}`;
  for (const d of [1, -1, 2, 3, -2]) {
    const j = i + d;
    if (j < 0 || j >= n) continue;
    const u = url(steps[j]);
    if (cache.has(u)) continue;
    const pre = new Image();
    pre.src = u;
    cache.set(u, pre);
    if (cache.size > 40) cache.delete(/** @type {string} */ (cache.keys().next().value));
  }
}

const KEY_STEPS = /** @type {Record<string, number | undefined>} */ ({ ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1, PageDown: 10, PageUp: -10 });
const SLIDER_KEYS = ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End', 'PageUp', 'PageDown'];

export function initPreview() {
  image.addEventListener('load', () => message(''));
  image.addEventListener('error', () => { if (image.getAttribute('src')) message('This image cannot be rendered.'); });
  slider.addEventListener('input', () => show(Number(slider.value) - 1));
  $('#preview-prev').addEventListener('click', () => show(pos - 1));
  $('#preview-next').addEventListener('click', () => show(pos + 1));
  let wheelAcc = 0;
  $('#preview-stage').addEventListener('wheel', (e) => {
    e.preventDefault();
    wheelAcc += e.deltaY;
    if (Math.abs(wheelAcc) >= 40 || e.deltaMode !== 0) { show(pos + (wheelAcc > 0 || (e.deltaMode !== 0 && e.deltaY > 0) ? 1 : -1)); wheelAcc = 0; }
  }, { passive: false });
  dlg.addEventListener('keydown', (e) => {
    if (e.target === slider && SLIDER_KEYS.includes(e.key)) return;
    const step = KEY_STEPS[e.key];
    if (step) { e.preventDefault(); show(pos + step); }
    else if (e.key === 'Home') { e.preventDefault(); show(0); }
    else if (e.key === 'End') { e.preventDefault(); show(steps.length - 1); }
  });
  dlg.addEventListener('close', () => { gen++; image.removeAttribute('src'); cache.clear(); });
}
