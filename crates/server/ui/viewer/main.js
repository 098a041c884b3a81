// @ts-check
// The viewer page, /view/{StudyInstanceUID}/{SeriesInstanceUID}: one to four viewports over
// the series of a study, the toolbar and the keys, which act on the active viewport. The root
// element carries the testing contract: data-testid="viewer" with data-loaded, data-total and
// data-slice of the active viewport.
import '../lib/errors.js';
import { slicerUrl } from '../api.js';
import { reportError } from '../lib/errors.js';
import { toast } from '../lib/toast.js';
import { $, h, setChildren } from '../lib/dom.js';
import { FetchError, instanceMetadata, instancesOfSeries, seriesMetadata, seriesOfStudy } from './dicomweb.js';
import { CT_PRESETS } from './render.js';
import { imageSets, seriesInfo, text } from './series.js';
import { reformatSet, ReformatSource, volumeOf } from './mpr.js';
import { streamSeries } from './stream.js';
import { attachTools } from './tools.js';
import { Viewport } from './viewport.js';

/** @typedef {import('./tools.js').Tool} Tool */
/** @typedef {{ uid: string, label: string }} SeriesChoice */

const [, , rawStudy, rawSeries] = location.pathname.split('/');
const studyUid = decodeURIComponent(rawStudy || '');
const firstSeries = decodeURIComponent(rawSeries || '');
const params = new URLSearchParams(location.search);
/** The node the series is retrieved from while it is shown (`?node=NAME`). */
const node = params.get('node');
/** The image set to show first: the one holding this instance (`?instance=UID`, from a set's thumbnail in the browser). */
const firstInstance = params.get('instance');

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
/** The series of the study with instances here. @type {Set<string>} */
const localSeries = new Set();
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
    const rows = await seriesOfStudy(studyUid);
    studySeries = rows.map((r) => ({
      uid: text(r, '0020000E'),
      label: [text(r, '00200011') && `#${text(r, '00200011')}`, text(r, '00080060'), text(r, '0008103E')].filter(Boolean).join(' ') || text(r, '0020000E'),
    })).sort((a, b) => a.label.localeCompare(b.label, undefined, { numeric: true }));
    studySeries.forEach((s) => localSeries.add(s.uid));
  } catch (e) {
    // A refusal leaves the choosers with this series alone; a failure to reach the server is said.
    if (!(e instanceof FetchError)) reportError(e, 'Series of the study');
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
  viewport.setMessage(streaming && uid === firstSeries ? `Retrieving from ${node}…` : 'Loading…');
  try {
    const { sets, info } = await loadSeries(uid);
    if (!sets.length) {
      if (!(streaming && uid === firstSeries)) viewport.setMessage('This series has no images to show.');
      return;
    }
    let index = Math.min(setIndex, sets.length - 1);
    if (uid === firstSeries && firstInstance && !viewport.el.dataset.chosenSet) {
      const holding = sets.findIndex((s) => s.slices.some((slice) => slice.sop === firstInstance));
      if (holding >= 0) { index = holding; viewport.el.dataset.chosenSet = '1'; }
    }
    // The instance shown ahead of the listing stays, now in its place, when it is of the set
    // to show (not, say, a localizer ahead of the stack).
    const ahead = viewport.provisional && viewport.set ? viewport.set.key : null;
    viewport.provisional = false;
    const grown = ahead !== null && sets[index].key === ahead ? index : -1;
    renderChoosers(viewport, uid, sets, index);
    viewport.el.dataset.series = uid;
    viewport.el.dataset.sets = String(sets.length);
    if (uid === firstSeries) document.title = [info.patientName, info.seriesDescription, 'Lightbox'].filter(Boolean).join(' · ');
    viewport.incoming = retrievalRunning && uid === firstSeries;
    if (grown >= 0) viewport.update(sets[index], info);
    else viewport.open(studyUid, uid, sets[index], info);
    if (viewport === active) renderToolbar();
  } catch (e) {
    // While it is retrieved, a series with nothing stored yet is no error: it is on its way.
    if (streaming && uid === firstSeries && e instanceof FetchError && e.status === 404) return;
    viewport.setMessage(e instanceof Error ? e.message : String(e));
    reportError(e, 'Opening the series');
  }
}

/** Whether the first series is being retrieved from `node` while shown. */
let streaming = false;
/** Whether that retrieval still runs. */
let retrievalRunning = false;
/** @type {ReturnType<typeof setTimeout> | null} */
let refreshTimer = null;
let refreshing = false;
let refreshAgain = false;

/** Lists the streamed series again and shows what arrived, at most a few times a second. */
function scheduleRefresh() {
  if (refreshTimer) return;
  // The first instance is shown at once; after it, the listing is read again at most 4 times a second.
  const delay = viewports.some((v) => v.set) ? 250 : 0;
  refreshTimer = setTimeout(async () => {
    refreshTimer = null;
    if (refreshing) { refreshAgain = true; return; }
    refreshing = true;
    try { await refreshStreamed(); } finally {
      refreshing = false;
      if (refreshAgain) { refreshAgain = false; scheduleRefresh(); }
    }
  }, delay);
}

/** Every viewport showing the streamed series gets its newer listing. */
async function refreshStreamed() {
  if (!localSeries.has(firstSeries)) return;
  const listing = await streamedListing();
  // A received instance is indexed a moment after it is acknowledged: until the index lists
  // one, there is nothing to read yet.
  if (!listing) {
    setTimeout(scheduleRefresh, 100);
    return;
  }
  for (const v of viewports) {
    if (v.el.dataset.series !== firstSeries) continue;
    const current = v.set;
    const same = current && listing.sets.find((s) => s.key === current.key);
    // What arrived first may be a localizer: the stack takes its place once it is the larger,
    // unless the user chose a set.
    const better = current && !v.el.dataset.chosenSet && listing.sets[0].key !== current.key;
    if (!current || better) await openIn(v, firstSeries, 0);
    else if (same && same.slices.length !== current.slices.length) v.update(same, listing.info);
    const shown = v.set;
    const chosen = shown ? listing.sets.findIndex((s) => s.key === shown.key) : 0;
    const labels = [...v.header.querySelectorAll('option')].map((o) => o.textContent).join('\n');
    const wanted = [...studySeries.map((x) => x.label), ...listing.sets.map((x) => x.label)].join('\n');
    // Rebuilt only when something in them changed (an open chooser is not pulled away).
    if (labels !== wanted) renderChoosers(v, firstSeries, listing.sets, Math.max(0, chosen));
  }
}

/**
 * Shows one instance of the first series (the lowest Instance Number) as soon as the index names
 * it, ahead of the whole series' metadata, which takes longer for a large series.
 * @param {Viewport} viewport
 */
async function showOneAhead(viewport) {
  const rows = await instancesOfSeries(studyUid, firstSeries, ['00200013']);
  const number = (/** @type {import('./series.js').DicomJson} */ r) => Number(text(r, '00200013')) || Infinity;
  const firstRow = rows.reduce((best, r) => (number(r) < number(best) ? r : best), rows[0]);
  if (!firstRow || rows.length < 2 || viewport.set) return;
  const instance = await instanceMetadata(studyUid, firstSeries, text(firstRow, '00080018'));
  const sets = imageSets(instance);
  if (!sets.length || viewport.set) return;
  viewport.open(studyUid, firstSeries, sets[0], seriesInfo(instance[0]));
  viewport.provisional = true;
}

/** Every viewport's choosers, once the study's series are known. */
function refreshChoosers() {
  for (const v of viewports) {
    const uid = v.el.dataset.series;
    if (!uid || !v.set || v.provisional) continue;
    loadSeries(uid).then(({ sets }) => {
      const shown = v.set;
      const index = shown ? Math.max(0, sets.findIndex((s) => s.key === shown.key)) : 0;
      renderChoosers(v, uid, sets, index);
    }).catch(() => {});
  }
}

/** The metadata of the streamed series' instances read so far, by SOP Instance UID. @type {Map<string, import('./series.js').DicomJson>} */
const streamedInstances = new Map();

/**
 * The streamed series' listing, reading the metadata of only the instances the index lists
 * that were not read before (the whole series' metadata again at every refresh would make a
 * large retrieval quadratic); null while the index lists none.
 */
async function streamedListing() {
  const rows = await instancesOfSeries(studyUid, firstSeries).catch((e) => {
    if (e instanceof FetchError) return [];
    throw e;
  });
  const fresh = rows.map((r) => text(r, '00080018')).filter((sop) => sop && !streamedInstances.has(sop));
  for (let i = 0; i < fresh.length; i += 6) {
    await Promise.all(fresh.slice(i, i + 6).map(async (sop) => {
      // An instance the index lists but cannot be read yet is read at the next refresh.
      const [ds] = await instanceMetadata(studyUid, firstSeries, sop).catch(() => []);
      if (ds) streamedInstances.set(sop, ds);
    }));
  }
  const all = [...streamedInstances.values()];
  if (!all.length) return null;
  const listing = { sets: imageSets(all), info: seriesInfo(all[0]) };
  seriesCache.set(firstSeries, Promise.resolve(listing));
  return listing;
}

/** Retrieves the first series from `node` at the highest priority, showing it as it arrives. */
async function startStreaming() {
  if (!node) return;
  streaming = true;
  retrievalRunning = true;
  try {
    await streamSeries(node, studyUid, firstSeries, {
      onProgress: (progress) => {
        const total = Number(progress.items_total) || 0;
        if (Number(progress.items_done) > 0) localSeries.add(firstSeries);
        for (const v of viewports) {
          if (v.el.dataset.series === firstSeries && total) { v.expected = total; v.changed(); }
        }
        root.dataset.expected = String(total);
        scheduleRefresh();
      },
      onEnd: (state, message) => {
        performance.mark('lightbox:retrieved');
        retrievalRunning = false;
        for (const v of viewports) {
          v.incoming = false;
          v.checkAllLoaded();
        }
        if (state === 'completed') {
          localSeries.add(firstSeries);
          // The series' own description replaces its UID in the choosers.
          loadStudySeries().then(scheduleRefresh).catch((e) => reportError(e, 'Series of the study'));
        }
        root.dataset.retrieval = state;
        if (state !== 'completed') {
          reportError(new Error(message || state), `Retrieving from ${node}`);
        }
        scheduleRefresh();
      },
    });
  } catch (e) {
    reportError(e, `Retrieving from ${node}`);
  }
}

/**
 * The viewport's choosers of a series of the study and of an image set of it.
 * @param {Viewport} viewport
 * @param {string} uid the series shown
 * @param {import('./series.js').ImageSet[]} sets its image sets
 * @param {number} index the set shown
 */
function renderChoosers(viewport, uid, sets, index) {
  const seriesSelect = h('select', {
    class: 'small', testid: 'viewport-series', 'aria-label': 'Series',
    onchange: () => openIn(viewport, seriesSelect.value, 0),
  }, ...studySeries.map((s) => h('option', { value: s.uid, selected: s.uid === uid }, s.label)));
  const setSelect = h('select', {
    class: 'small', testid: 'image-set', 'aria-label': 'Image set', disabled: sets.length < 2,
    onchange: () => { viewport.el.dataset.chosenSet = '1'; openIn(viewport, uid, Number(setSelect.value)); },
  }, ...sets.map((s, i) => h('option', { value: String(i), selected: i === index }, s.label)));
  setChildren(viewport.header, seriesSelect, setSelect);
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
  leaveMpr();
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
    // A series with nothing here yet opens once its first instance has arrived.
    if (streaming && uid === firstSeries && !localSeries.has(uid)) v.setMessage(`Retrieving from ${node}…`);
    else openIn(v, uid, 0);
  }
  if (!active) activate(viewports[0]);
  // The server's rendering of the first slice, shown since the page's first paint, stays over
  // the first viewport's stage until the slice itself is drawn.
  const preview = document.getElementById('first-slice');
  if (preview && preview.parentElement !== viewports[0].stage) viewports[0].stage.appendChild(preview);
}

/**
 * The three planes of an MPR: the stack shown and its two reformats, and the volume.
 * @type {{ axial: Viewport, coronal: Viewport, sagittal: Viewport, volume: import('./mpr.js').Volume } | null}
 */
let mpr = null;

/** The stack of the active viewport with its coronal and sagittal reformats, crosshairs linked. */
function enterMpr() {
  const axial = active;
  if (!axial || !axial.set || !axial.loader || !axial.info) return false;
  const check = volumeOf(axial.set, axial.loader.pixels);
  if ('reason' in check) {
    toast(check.reason, 'error');
    return false;
  }
  const volume = check.volume;
  for (const v of viewports.filter((x) => x !== axial)) {
    v.stopCine();
    if (v.loader) v.loader.stop();
    v.el.remove();
  }
  viewports.splice(0, viewports.length, axial);
  grid.dataset.layout = 'mpr';
  const planes = /** @type {import('./mpr.js').Plane[]} */ (['coronal', 'sagittal']).map((plane) => {
    const v = new Viewport({ onChange: (x) => { mirror(x); linkCrosshairs(); }, onActivate: activate, onPoint: pointAt });
    attachTools(v, () => tool);
    viewports.push(v);
    grid.appendChild(v.el);
    const set = reformatSet(volume, plane);
    v.el.dataset.series = axial.el.dataset.series || '';
    v.el.dataset.plane = plane;
    setChildren(v.header, h('span', { class: 'small-text plane-label' }, set.label));
    v.open(studyUid, firstSeries, set, /** @type {import('./series.js').SeriesInfo} */ (axial.info), (onLoaded) => new ReformatSource(volume, plane, set.slices, onLoaded));
    if (axial.windowing) v.windowing = { ...axial.windowing };
    v.show(Math.floor(set.slices.length / 2));
    return v;
  });
  axial.el.dataset.plane = 'axial';
  axial.hooks.onPoint = pointAt;
  const prior = axial.hooks.onChange;
  axial.hooks.onChange = (x) => { prior(x); linkCrosshairs(); };
  mpr = { axial, coronal: planes[0], sagittal: planes[1], volume };
  linkCrosshairs();
  return true;
}

/** Back from MPR to the stack alone (the layout then adds what it wants). */
function leaveMpr() {
  if (!mpr) return;
  const { axial } = mpr;
  for (const v of [mpr.coronal, mpr.sagittal]) v.el.remove();
  viewports.splice(0, viewports.length, axial);
  axial.hooks.onPoint = undefined;
  axial.hooks.onChange = mirror;
  axial.crosshair = null;
  delete axial.el.dataset.plane;
  axial.requestDraw();
  mpr = null;
  activate(axial);
}

/** Each plane shows where the other two cross it. */
function linkCrosshairs() {
  if (!mpr) return;
  const { axial, coronal, sagittal, volume } = mpr;
  const top = volume.count - 1 - axial.index;
  const wanted = [
    [axial, { col: sagittal.index, row: coronal.index }],
    [coronal, { col: sagittal.index, row: top }],
    [sagittal, { col: coronal.index, row: top }],
  ];
  for (const [v, c] of /** @type {[Viewport, { col: number, row: number }][]} */ (wanted)) {
    if (!v.crosshair || v.crosshair.col !== c.col || v.crosshair.row !== c.row) {
      v.crosshair = c;
      v.requestDraw();
    }
  }
}

/**
 * The crosshair tool picked `point` in plane `v`: the other planes go through it.
 * @param {Viewport} v
 * @param {[number, number]} point
 */
function pointAt(v, point) {
  if (!mpr) return;
  const { axial, coronal, sagittal, volume } = mpr;
  const [x, y] = [Math.floor(point[0]), Math.floor(point[1])];
  if (v === axial) { coronal.show(y); sagittal.show(x); }
  if (v === coronal) { sagittal.show(x); axial.show(volume.count - 1 - y); }
  if (v === sagittal) { coronal.show(x); axial.show(volume.count - 1 - y); }
  linkCrosshairs();
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
  layoutSelect.addEventListener('change', () => {
    if (layoutSelect.value !== 'mpr') layout(Number(layoutSelect.value));
    else if (!enterMpr()) layoutSelect.value = String(viewports.length);
  });
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
    c: () => chooseTool('crosshair'),
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
  // For debugging from the console, and for the viewer benchmark's frame-rate loops.
  window.lightbox = { viewports };
  initToolbar();
  document.addEventListener('keydown', onKey);
  if (!studyUid || !firstSeries) {
    root.dataset.total = '0';
    setChildren(grid, h('p', { class: 'viewer-error' }, 'Open a series from the browser: /view/{study}/{series}.'));
    return;
  }
  document.title = 'Lightbox viewer';
  const retrieval = startStreaming();
  if (streaming) {
    await loadStudySeries();
    layout(1);
  } else {
    // The series (its whole metadata), one instance of it sooner, and the study's series for
    // the choosers, all at once.
    layout(1);
    showOneAhead(viewports[0]).catch(() => {});
    await loadStudySeries();
    refreshChoosers();
  }
  await retrieval;
}

start().catch((e) => reportError(e, 'Viewer'));
