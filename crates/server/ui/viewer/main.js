// @ts-check
// The viewer page, /view/{StudyInstanceUID}/{SeriesInstanceUID}: one to four viewports over
// the series of a study, the toolbar and the keys, which act on the active viewport. The root
// element carries the testing contract: data-testid="viewer" with data-loaded, data-total and
// data-slice of the active viewport.
import '../lib/errors.js';
import { slicerUrl } from '../api.js';
import { reportError } from '../lib/errors.js';
import { $, h, setChildren } from '../lib/dom.js';
import { seriesMetadata } from './dicomweb.js';
import { CT_PRESETS } from './render.js';
import { imageSets, seriesInfo, text } from './series.js';
import { attachTools } from './tools.js';
import { Viewport } from './viewport.js';

/** @typedef {import('./tools.js').Tool} Tool */
/** @typedef {{ uid: string, label: string }} SeriesChoice */

const [, , rawStudy, rawSeries] = location.pathname.split('/');
const studyUid = decodeURIComponent(rawStudy || '');
const firstSeries = decodeURIComponent(rawSeries || '');

const root = $('#viewer');
const grid = $('#viewports');
/** @type {Tool} */
let tool = 'window';
/** @type {Viewport[]} */
const viewports = [];
/** @type {Viewport | null} */
let active = null;
/** @type {SeriesChoice[]} */
let studySeries = [];
/** @type {Map<string, Promise<{ sets: import('./series.js').ImageSet[], info: import('./series.js').SeriesInfo }>>} */
const seriesCache = new Map();

/** The image sets and corner texts of a series, fetched once. @param {string} uid */
function loadSeries(uid) {
  let pending = seriesCache.get(uid);
  if (!pending) {
    pending = seriesMetadata(studyUid, uid).then((instances) => ({ sets: imageSets(instances), info: seriesInfo(instances[0]) }));
    seriesCache.set(uid, pending);
    pending.catch(() => seriesCache.delete(uid));
  }
  return pending;
}

/** The series of the study, for the viewports' choosers. */
async function loadStudySeries() {
  try {
    const response = await fetch(`/dicom-web/studies/${encodeURIComponent(studyUid)}/series`, { headers: { Accept: 'application/dicom+json' } });
    /** @type {import('./series.js').DicomJson[]} */
    const rows = response.ok && response.status !== 204 ? await response.json() : [];
    studySeries = rows.map((r) => ({
      uid: text(r, '0020000E'),
      label: [text(r, '00200011') && `#${text(r, '00200011')}`, text(r, '00080060'), text(r, '0008103E')].filter(Boolean).join(' ') || text(r, '0020000E'),
    })).sort((a, b) => a.label.localeCompare(b.label, undefined, { numeric: true }));
  } catch (e) {
    reportError(e, 'Series of the study');
  }
  if (!studySeries.some((s) => s.uid === firstSeries)) studySeries.unshift({ uid: firstSeries, label: firstSeries });
}

/**
 * Shows series `uid`, image set `setIndex`, in `viewport`, with choosers for both in its header.
 * @param {Viewport} viewport
 * @param {string} uid
 * @param {number} setIndex
 */
async function openIn(viewport, uid, setIndex) {
  viewport.setMessage('Loading…');
  try {
    const { sets, info } = await loadSeries(uid);
    if (!sets.length) {
      viewport.setMessage('This series has no images to show.');
      return;
    }
    const index = Math.min(setIndex, sets.length - 1);
    const seriesSelect = h('select', {
      class: 'small', testid: 'viewport-series', 'aria-label': 'Series',
      onchange: () => openIn(viewport, seriesSelect.value, 0),
    }, ...studySeries.map((s) => h('option', { value: s.uid, selected: s.uid === uid }, s.label)));
    const setSelect = h('select', {
      class: 'small', testid: 'image-set', 'aria-label': 'Image set', disabled: sets.length < 2,
      onchange: () => openIn(viewport, uid, Number(setSelect.value)),
    }, ...sets.map((s, i) => h('option', { value: String(i), selected: i === index }, s.label)));
    setChildren(viewport.header, seriesSelect, setSelect);
    viewport.el.dataset.series = uid;
    viewport.el.dataset.sets = String(sets.length);
    viewport.open(studyUid, uid, sets[index], info);
    if (viewport === active) renderToolbar();
  } catch (e) {
    viewport.setMessage(e instanceof Error ? e.message : String(e));
    reportError(e, 'Opening the series');
  }
}

/** Makes `viewport` the one the toolbar and keys act on. @param {Viewport} viewport */
function activate(viewport) {
  if (active === viewport) return;
  active = viewport;
  viewports.forEach((v) => v.el.classList.toggle('active', v === viewport));
  mirror(viewport);
  renderToolbar();
}

/** The root's testing contract follows the active viewport. @param {Viewport} viewport */
function mirror(viewport) {
  if (viewport !== active) return;
  root.dataset.loaded = String(viewport.loadedCount);
  root.dataset.total = String(viewport.total);
  root.dataset.slice = String(viewport.index);
  const play = /** @type {HTMLButtonElement | null} */ (document.querySelector('#cine-play'));
  if (play) {
    play.textContent = viewport.playing ? '❚❚ Stop' : '▶ Cine';
    play.setAttribute('aria-pressed', String(viewport.playing));
  }
}

/**
 * Lays out `count` viewports (1, 2 or 4), keeping the ones there and filling new ones with the
 * study's next series.
 * @param {number} count
 */
function layout(count) {
  grid.dataset.layout = String(count);
  while (viewports.length > count) {
    const v = /** @type {Viewport} */ (viewports.pop());
    v.stopCine();
    if (v.loader) v.loader.stop();
    v.el.remove();
    if (v === active) active = null;
  }
  while (viewports.length < count) {
    const v = new Viewport({ onChange: mirror, onActivate: activate });
    attachTools(v, () => tool);
    viewports.push(v);
    grid.appendChild(v.el);
    const shown = new Set(viewports.map((x) => x.el.dataset.series).filter(Boolean));
    const next = studySeries.find((s) => !shown.has(s.uid)) || studySeries[0];
    const uid = viewports.length === 1 ? firstSeries : next ? next.uid : firstSeries;
    v.el.dataset.series = uid;
    openIn(v, uid, 0);
  }
  if (!active) activate(viewports[0]);
}

/** The window presets of the active viewport's slice. */
function presets() {
  const v = active;
  const s = v && v.slice;
  if (!s) return [];
  const own = s.windows.map((w) => ({ name: w.name, center: w.center, width: w.width }));
  const ct = s.units === 'HU' ? CT_PRESETS : [];
  return [...own, ...ct];
}

function renderToolbar() {
  const list = presets();
  const select = /** @type {HTMLSelectElement} */ ($('#window-preset'));
  setChildren(select,
    h('option', { value: '' }, 'Window…'),
    ...list.map((p, i) => h('option', { value: String(i) }, `${p.name} (${Math.round(p.width)}/${Math.round(p.center)})`)),
    h('option', { value: 'auto' }, 'Full range'));
  document.querySelectorAll('[data-tool]').forEach((b) => b.setAttribute('aria-pressed', String(b.getAttribute('data-tool') === tool)));
  const rate = /** @type {HTMLInputElement} */ ($('#cine-rate'));
  if (active && document.activeElement !== rate) rate.value = String(active.cineRate);
  if (active) mirror(active);
}

/** @param {Tool} chosen */
function chooseTool(chosen) {
  tool = chosen;
  renderToolbar();
}

function toggleCine() {
  if (!active) return;
  if (active.playing) active.stopCine();
  else active.playCine(Number(/** @type {HTMLInputElement} */ ($('#cine-rate')).value));
  mirror(active);
}

/** @type {Record<string, () => void>} */
const actions = {
  fit: () => active?.fit(),
  actual: () => active?.actualSize(),
  invert: () => active?.toggleInvert(),
  rotate: () => active?.rotate(1),
  'flip-h': () => active && active.place({ flipH: !active.placement.flipH }),
  'flip-v': () => active && active.place({ flipV: !active.placement.flipV }),
  auto: () => active?.autoWindow(),
  cine: toggleCine,
};

function initToolbar() {
  document.querySelectorAll('[data-tool]').forEach((b) => b.addEventListener('click', () => chooseTool(/** @type {Tool} */ (b.getAttribute('data-tool')))));
  document.querySelectorAll('[data-action]').forEach((b) => b.addEventListener('click', () => {
    const action = actions[b.getAttribute('data-action') || ''];
    if (action) action();
  }));
  const select = /** @type {HTMLSelectElement} */ ($('#window-preset'));
  select.addEventListener('change', () => {
    if (!active) return;
    if (select.value === 'auto') active.autoWindow();
    else if (select.value !== '') {
      const p = presets()[Number(select.value)];
      if (p) active.setWindow(p.center, p.width, p.name);
    }
    select.value = '';
  });
  const rate = /** @type {HTMLInputElement} */ ($('#cine-rate'));
  rate.addEventListener('change', () => { if (active && active.playing) active.playCine(Number(rate.value)); else if (active) active.cineRate = Number(rate.value) || active.cineRate; });
  const layoutSelect = /** @type {HTMLSelectElement} */ ($('#layout'));
  layoutSelect.addEventListener('change', () => layout(Number(layoutSelect.value)));
  const back = /** @type {HTMLAnchorElement} */ ($('#back'));
  back.href = '/';
  /** @type {HTMLAnchorElement} */ ($('#open-slicer')).href = slicerUrl(studyUid);
}

/** Keys that act on the active viewport. @param {KeyboardEvent} e */
function onKey(e) {
  const target = /** @type {HTMLElement} */ (e.target);
  if (target && (target.tagName === 'INPUT' && target.getAttribute('type') !== 'range' || target.tagName === 'SELECT' || target.tagName === 'TEXTAREA')) return;
  const v = active;
  if (!v || e.ctrlKey || e.metaKey || e.altKey) return;
  const big = Math.max(1, Math.round(v.total / 10));
  /** @type {Record<string, () => void>} */
  const keys = {
    ArrowDown: () => v.step(1), ArrowRight: () => v.step(1), ArrowUp: () => v.step(-1), ArrowLeft: () => v.step(-1),
    PageDown: () => v.step(big), PageUp: () => v.step(-big), Home: () => v.show(0), End: () => v.show(v.total - 1),
    i: actions.invert, r: () => v.rotate(e.shiftKey ? -1 : 1), R: () => v.rotate(-1), h: actions['flip-h'], v: actions['flip-v'],
    f: actions.fit, 1: actions.actual, a: actions.auto, ' ': toggleCine,
    w: () => chooseTool('window'), p: () => chooseTool('pan'), z: () => chooseTool('zoom'), m: () => chooseTool('measure'),
    Delete: () => v.removeLastMeasurement(), Backspace: () => v.removeLastMeasurement(),
    Escape: () => { v.drawing = null; v.requestDraw(); },
  };
  const action = keys[e.key];
  if (action) {
    e.preventDefault();
    action();
  }
}

async function start() {
  initToolbar();
  document.addEventListener('keydown', onKey);
  if (!studyUid || !firstSeries) {
    root.dataset.total = '0';
    setChildren(grid, h('p', { class: 'viewer-error' }, 'Open a series from the browser: /view/{study}/{series}.'));
    return;
  }
  document.title = 'Lightbox viewer';
  await loadStudySeries();
  layout(1);
  loadSeries(firstSeries).then(({ info }) => {
    document.title = [info.patientName, info.seriesDescription, 'Lightbox'].filter(Boolean).join(' · ');
  }).catch(() => {});
}

start().catch((e) => reportError(e, 'Viewer'));
