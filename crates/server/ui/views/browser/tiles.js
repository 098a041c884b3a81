// @ts-check
// Series tiles: thumbnail (or the modality), counts, where the series is (local, remote,
// partial, retrieving with progress, failed with Retry), its menu; and the prefetch of remote
// series as their tiles come into view.
import { thumbnailUrl } from '../../api.js';
import { $$, h, setChildren } from '../../lib/dom.js';
import { recordError, reportError } from '../../lib/errors.js';
import { fmtBytes, plural } from '../../lib/format.js';
import { isSelected, markPrefetched, prefetched, seriesIndex, setSelected, unmarkPrefetched } from '../../state/browser.js';
import { thumbPixels } from '../../state/display.js';
import { getJob, mergeJob, postJob, retrieveJobsFor, retryJob } from '../../state/jobs.js';
import { defaultSource } from '../../state/nodes.js';
import {
  canThumb, previewCount, seriesDesc, seriesField, seriesFilterMatch, seriesProgress, seriesState, seriesTitle,
} from '../../state/series.js';
import { openMenu } from '../menu.js';
import { menuItems, openViewer, viewable } from './actions.js';
import { prefetchPolicy } from './form.js';
import { imageSetCount, renderImageSets } from './imagesets.js';
import { openPreview } from './preview.js';

/** @typedef {import('../../state/browser.js').SeriesEntry} SeriesEntry */
/** @typedef {import('../../state/browser.js').StudyEntry} StudyEntry */
/** @typedef {import('../../state/browser.js').Target} Target */
/** @typedef {import('../../state/browser.js').BrowserChange} BrowserChange */
/** @typedef {import('../../api.js').JobSpec} JobSpec */
/**
 * A tile's elements; `imgUrl` is the thumbnail shown ('' for the placeholder).
 * @typedef {{
 *   tile: HTMLElement, check: HTMLInputElement, thumb: HTMLButtonElement, icon: HTMLElement, modality: HTMLElement,
 *   title: HTMLElement, counts: HTMLElement, stateLine: HTMLElement, menuBtn: HTMLButtonElement,
 *   img: HTMLImageElement | null, imgUrl: string | null, sets: HTMLElement,
 * }} TileEls
 */

const ICONS = { local: '✓', remote: '☁', partial: '◐', retrieving: '⇣', failed: '!' };

/**
 * @param {SeriesEntry} s
 * @returns {TileEls}
 */
function createTile(s) {
  /** @type {Target} */
  const target = { level: 'series', series: s };
  s.target = target;
  const menuBtn = h('button', { type: 'button', class: 'menu-button', testid: 'menu-button', 'aria-haspopup': 'menu',
    'aria-expanded': 'false', 'aria-label': 'Series actions' }, '⋮');
  menuBtn.addEventListener('click', () => openMenu(menuBtn, 'Series', menuItems(target)));
  const check = h('input', { type: 'checkbox', onchange: (/** @type {Event} */ ev) => setSelected(target, /** @type {HTMLInputElement} */ (ev.target).checked) });
  // A click previews the series; a double click or Enter opens it in the viewer.
  const thumb = h('button', {
    type: 'button', class: 'thumb',
    onclick: (/** @type {MouseEvent} */ e) => { if (s.local && e.detail < 2) openPreview(s.uid, seriesTitle(s)); },
    ondblclick: () => { if (viewable(s)) openViewer(s); },
    onkeydown: (/** @type {KeyboardEvent} */ e) => { if (e.key === 'Enter' && viewable(s)) { e.preventDefault(); openViewer(s); } },
  });
  const title = h('div', { class: 'tile-title' });
  const counts = h('div', { class: 'tile-line' });
  const stateLine = h('div', { class: 'tile-line state-line' });
  const sets = h('div', { class: 'image-sets', testid: 'image-sets', role: 'group', 'aria-label': 'Image sets', hidden: true });
  /** @type {TileEls} */
  const els = {
    check, thumb, title, counts, stateLine, menuBtn, sets,
    icon: h('span', { class: 'state-icon', 'aria-hidden': 'true' }),
    modality: h('span', { class: 'badge modality' }),
    img: null,
    imgUrl: null,
    tile: h('div', { class: 'tile', testid: 'series', 'data-series-uid': s.uid },
      h('label', { class: 'tile-select' }, check),
      h('div', { class: 'thumb-wrap' }, thumb), sets,
      h('div', { class: 'tile-info' }, title, counts,
        h('div', { class: 'tile-actions' }, stateLine, menuBtn))),
  };
  els.thumb.appendChild(els.icon);
  s.els = els;
  return els;
}

/**
 * Draws a tile again from what is known of its series.
 * @param {SeriesEntry} s
 */
export function updateTile(s) {
  const els = s.els;
  if (!els) return;
  const st = seriesState(s);
  const tile = els.tile;
  const selected = !!s.target && isSelected(s.target);
  tile.dataset.state = st.state;
  tile.classList.toggle('selected', selected);
  els.check.checked = selected;
  els.check.setAttribute('aria-label', 'Select series ' + seriesTitle(s));
  const mod = seriesField(s, 'Modality') || '?';
  els.modality.textContent = mod;
  els.title.textContent = seriesTitle(s);
  els.title.title = seriesTitle(s);
  const total = st.remoteCount != null ? Math.max(st.remoteCount, st.localCount) : st.localCount;
  const size = s.local && s.local.SeriesSize ? fmtBytes(s.local.SeriesSize) : '';
  const dims = s.local && s.local.Rows && s.local.Columns ? `${s.local.Columns}×${s.local.Rows}` : '';
  // Multi-frame instances count by their frames ("120 frames" for one ultrasound loop).
  const frames = s.local ? Number(s.local.NumberOfFrames) || 0 : 0;
  const count = frames > st.localCount && st.localCount >= total
    ? h('span', { testid: 'series-count', title: plural(st.localCount, 'instance') }, plural(frames, 'frame'))
    : h('span', { testid: 'series-count' }, plural(total, 'image'));
  setChildren(els.counts, els.modality, count,
    size ? h('span', null, size) : null, dims ? h('span', { title: 'Columns × Rows' }, dims) : null);

  // Thumbnail: only for series with local instances that have pixels; otherwise the modality text.
  // A series of several image sets shows its largest set's (not a localizer's), and each set's below.
  const url = canThumb(s) ? thumbnailUrl(s.uid, thumbPixels(), s.thumbV, imageSetCount(s) > 1 ? 0 : undefined) : null;
  renderImageSets(s, els.sets);
  if (url && s.thumbFailed !== url) {
    if (els.imgUrl !== url) {
      const img = h('img', { testid: 'series-thumbnail', alt: `Thumbnail of ${seriesTitle(s)}`, loading: 'lazy', decoding: 'async' });
      img.addEventListener('error', () => { s.thumbFailed = url; els.imgUrl = null; updateTile(s); });
      img.src = url;
      setChildren(els.thumb, img, els.icon);
      els.img = img;
      els.imgUrl = url;
    }
  } else if (els.imgUrl !== '' || !els.thumb.querySelector('.placeholder')) {
    setChildren(els.thumb, h('span', { class: 'placeholder', testid: 'series-placeholder' }, mod), els.icon);
    els.img = null;
    els.imgUrl = '';
  }
  els.thumb.disabled = !s.local;
  els.thumb.setAttribute('aria-label', s.local ? `Open preview of ${seriesTitle(s)}` : `${seriesTitle(s)} (not in the local store)`);

  els.icon.textContent = ICONS[st.state] + (st.previewActive && st.state !== 'retrieving' ? ' …' : '');
  els.icon.title = st.state;

  /** @type {(HTMLElement | null)[]} */
  let line;
  switch (st.state) {
    case 'local': line = [h('span', { class: 'state' }, 'local')]; break;
    case 'remote': line = [h('span', { class: 'state', title: `On ${[...s.remote.keys()].join(', ')}` }, '☁ remote'),
      st.previewActive ? h('span', { class: 'muted' }, 'preview…')
        : previewCount(s) ? h('span', { class: 'muted', testid: 'series-preview',
          title: 'An instance is here for the thumbnail only; the series is not local until it is retrieved' }, 'preview') : null];
      break;
    case 'partial': line = [h('span', { class: 'state', title: 'Instances in the local store, of those on the node' }, `partial ${st.localCount} of ${st.remoteCount}`)]; break;
    case 'retrieving': {
      const job = /** @type {NonNullable<typeof st.active>} */ (st.active);
      // A study's retrieval: this series' own count, against its total on the node.
      const own = seriesProgress(job, s.uid);
      const done = own ? own.done : 0;
      const tot = (own && own.total) || st.remoteCount || 0;
      const bar = h('div', { class: 'bar' });
      const prog = h('div', { class: 'progress' + (tot ? '' : ' indeterminate'), role: 'progressbar', testid: 'series-progress',
        'aria-label': 'Retrieving', 'aria-valuemin': '0', 'aria-valuemax': String(tot || 0), 'aria-valuenow': String(done),
        'data-done': String(done), 'data-total': String(tot) }, bar);
      bar.style.width = tot ? `${Math.min(100, (100 * done) / tot)}%` : '30%';
      line = [h('span', { class: 'state' }, job.state === 'queued' ? 'queued' : job.state === 'waiting_retry' ? 'retrying' : ''),
        prog, h('span', { class: 'mono' }, tot ? `${done}/${tot}` : String(done || ''))];
      break;
    }
    case 'failed': {
      const failed = /** @type {NonNullable<typeof st.failed>} */ (st.failed);
      const err = failed.error || {};
      const reason = err.message ? `${err.category ? err.category + ': ' : ''}${err.message}` : 'Retrieval failed';
      line = [h('span', { class: 'state', title: reason, testid: 'series-error' }, '✗ failed'),
        h('button', { type: 'button', class: 'small', testid: 'series-retry', title: reason, 'aria-label': `Retry: ${reason}`,
          onclick: () => retryJob(failed.id).catch((e2) => reportError(e2, 'Retry')) }, 'Retry'),
        // The reason on the tile itself (two lines; the whole of it on hover).
        h('div', { class: 'tile-reason', testid: 'series-error-reason', title: reason }, reason)];
      break;
    }
    default: line = [];
  }
  const stateBox = h('div', { class: 'tile-line' }, line);
  stateBox.title = st.state === 'failed' ? /** @type {HTMLElement} */ (line[0]).title : '';
  setChildren(els.stateLine, stateBox);
}

/** @type {Set<SeriesEntry>} */
const pendingTiles = new Set();
let tilesQueued = false;

/**
 * Draws a tile again at the next frame (once however often asked).
 * @param {SeriesEntry} s
 */
export function updateTileSoon(s) {
  pendingTiles.add(s);
  if (tilesQueued) return;
  tilesQueued = true;
  requestAnimationFrame(() => {
    tilesQueued = false;
    const list = [...pendingTiles];
    pendingTiles.clear();
    for (const x of list) if (x.els && x.els.tile.isConnected) updateTile(x);
  });
}

/** Every tile drawn again at the next frame (the jobs known changed). */
export function updateAllTilesSoon() {
  for (const s of seriesIndex.values()) if (s.els) updateTileSoon(s);
}

/** Every tile drawn again now (the thumbnail size changed). */
export function updateAllTiles() {
  for (const s of seriesIndex.values()) if (s.els) updateTile(s);
}

/**
 * Shows a study's series (those the series description filter lets through), by number.
 * @param {StudyEntry} e
 */
export function renderSeriesGrid(e) {
  if (!e.els) return;
  const list = [...e.series.values()].filter((s) => seriesFilterMatch(seriesDesc(s)));
  list.sort((a, b) => {
    const na = Number(seriesField(a, 'SeriesNumber')), nb = Number(seriesField(b, 'SeriesNumber'));
    const fa = Number.isFinite(na) && seriesField(a, 'SeriesNumber') != null, fb = Number.isFinite(nb) && seriesField(b, 'SeriesNumber') != null;
    if (fa && fb && na !== nb) return na - nb;
    if (fa !== fb) return fa ? -1 : 1;
    return a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0;
  });
  const grid = e.els.grid;
  const want = new Set(list.map((s) => s.uid));
  for (const t of $$('.tile', grid)) if (!want.has(t.dataset.seriesUid || '')) { prefetchObserver.unobserve(t); t.remove(); }
  /** @type {ChildNode | null} */
  let prev = null;
  for (const s of list) {
    const els = s.els || createTile(s);
    updateTile(s);
    const t = els.tile;
    /** @type {ChildNode | null} */
    const expectedNext = prev ? prev.nextSibling : grid.firstChild;
    if (expectedNext !== t) grid.insertBefore(t, expectedNext);
    prev = t;
    prefetchObserver.observe(t);
  }
}

const prefetchObserver = new IntersectionObserver((items) => {
  for (const it of items) {
    if (!it.isIntersecting) continue;
    const s = seriesIndex.get(/** @type {HTMLElement} */ (it.target).dataset.seriesUid || '');
    if (!s) { prefetchObserver.unobserve(it.target); continue; }
    maybePrefetch(s);
  }
}, { rootMargin: '100px 0px' });

/** The prefetch policy changed: every tile shown is looked at again. */
export function observeTilesForPrefetch() {
  for (const s of seriesIndex.values()) if (s.els && s.els.tile.isConnected) prefetchObserver.observe(s.els.tile);
}

/**
 * Queues the retrieval of a remote series' previews (or of all of it), by the policy.
 * @param {SeriesEntry} s
 */
function maybePrefetch(s) {
  const policy = prefetchPolicy();
  if (policy === 'none') return;
  if (!s.study || !s.study.expanded) return;
  if (prefetched.has(s.uid)) return;
  if (s.local && Number(s.local.NumberOfSeriesRelatedInstances) + previewCount(s) > 0) {
    if (s.els) prefetchObserver.unobserve(s.els.tile);
    return;
  }
  if (!s.remote.size) return;
  if (retrieveJobsFor(s.uid, s.studyUid).length) { markPrefetched(s.uid); return; }
  const node = defaultSource(s.remote.keys());
  markPrefetched(s.uid);
  /** @type {JobSpec} */
  const spec = { kind: 'retrieve', node, study_uid: s.studyUid, series_uid: s.uid, preview_first: true };
  if (policy === 'thumbnails') spec.preview_only = true;
  postJob(spec).then((r) => {
    if (r && r.id != null && !getJob(r.id)) mergeJob({ id: r.id, kind: 'retrieve', spec, state: 'queued', created_at: Date.now() });
  }).catch((e) => { unmarkPrefetched(s.uid); recordError(e, 'prefetch'); });
}

/**
 * What the tiles follow in the browser's state: series that left, selection changes.
 * @param {BrowserChange} change
 */
export function onBrowserChange(change) {
  if (change.type === 'series-removed') {
    const s = change.series;
    if (s.els) { prefetchObserver.unobserve(s.els.tile); s.els.tile.remove(); }
  } else if (change.type === 'selection' && change.target && change.target.level === 'series') {
    updateTile(change.target.series);
  }
}
