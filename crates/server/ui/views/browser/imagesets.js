// @ts-check
// A series tile's image sets: a series that splits into several (a localizer and its stack,
// the time points of a 4D acquisition) shows a small thumbnail for each under its own, and
// each opens the viewer at that set (Slicer #8102).
import { imageSetsOf, thumbnailUrl } from '../../api.js';
import { h, setChildren } from '../../lib/dom.js';
import { recordError } from '../../lib/errors.js';
import { seriesTitle } from '../../state/series.js';
import { openViewer } from './actions.js';

/** @typedef {import('../../state/browser.js').SeriesEntry} SeriesEntry */
/** @typedef {import('../../api.js').ImageSetRow} ImageSetRow */

/** The size the set thumbnails are asked for (shown smaller; sharp on dense screens). */
const SET_THUMB_PIXELS = 96;

/** What was fetched per series, and for which state of it. @type {WeakMap<SeriesEntry, { version: string, sets: Promise<ImageSetRow[]> }>} */
const fetched = new WeakMap();

/**
 * How many image sets the local series has (1 when not known).
 * @param {SeriesEntry} s
 */
export const imageSetCount = (s) => (s.local ? Number(s.local.ImageSets) || 1 : 1);

/**
 * Draws the strip of a tile's image sets into `strip` (empty for a series of one set).
 * @param {SeriesEntry} s
 * @param {HTMLElement} strip
 */
export function renderImageSets(s, strip) {
  if (imageSetCount(s) < 2) {
    if (strip.childElementCount) setChildren(strip);
    strip.hidden = true;
    delete strip.dataset.version;
    return;
  }
  // Asked again only when the series changed (its count, or a thumbnail renewed).
  const version = `${s.local ? s.local.NumberOfSeriesRelatedInstances : 0}:${s.thumbV}`;
  if (strip.dataset.version === version) return;
  strip.dataset.version = version;
  strip.hidden = false;
  let entry = fetched.get(s);
  if (!entry || entry.version !== version) {
    entry = { version, sets: imageSetsOf(s.uid) };
    fetched.set(s, entry);
  }
  entry.sets.then((sets) => {
    if (strip.dataset.version !== version) return;
    setChildren(strip, ...sets.map((set, i) => setButton(s, set, i)));
  }, (e) => {
    fetched.delete(s);
    delete strip.dataset.version;
    recordError(e, `image sets of ${seriesTitle(s)}`);
  });
}

/**
 * One set's thumbnail: a click opens the viewer at that set.
 * @param {SeriesEntry} s
 * @param {ImageSetRow} set
 * @param {number} index
 */
function setButton(s, set, index) {
  const label = `${set.localizer ? 'Localizer' : 'Image set'} ${index + 1}: ${set.label}`;
  const img = h('img', { alt: '', loading: 'lazy', decoding: 'async' });
  img.src = thumbnailUrl(s.uid, SET_THUMB_PIXELS, s.thumbV, index);
  return h('button', {
    type: 'button', class: 'set-thumb', testid: 'image-set-thumbnail', 'data-set': String(index),
    title: label, 'aria-label': `Open ${label}`, onclick: () => openViewer(s, set.middle),
  }, img, h('span', { class: 'set-count' }, String(set.images)));
}
