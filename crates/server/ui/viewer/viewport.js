// @ts-check
// One viewport: an image set on a canvas, the slice shown, its window, zoom, pan, rotation and
// flips, the measurements drawn on each slice, and its four corners of text. The page holds one
// to four of them; the tools and the keys act on the active one.
import { h, setChildren } from '../lib/dom.js';
import { isColour, sliceKey, SliceLoader } from './loader.js';
import { fullRange, paintGrey } from './render.js';
import { slicePosition } from './series.js';

/**
 * @typedef {{ a: [number, number], b: [number, number] }} Measurement
 * @typedef {{ zoom: number, panX: number, panY: number, rotation: number, flipH: boolean, flipV: boolean }} Placement
 */

let firstSliceMarked = false;
let allLoadedMarked = false;

export class Viewport {
  /**
   * @param {{
   *   onChange: (v: Viewport) => void, onActivate: (v: Viewport) => void,
   *   onPoint?: (v: Viewport, point: [number, number]) => void,
   * }} hooks onPoint: the crosshair tool picked an image point
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.canvas = h('canvas', { class: 'viewer-canvas', testid: 'viewer-canvas' });
    this.corners = {
      tl: h('div', { class: 'corner tl', testid: 'corner-tl' }),
      tr: h('div', { class: 'corner tr', testid: 'corner-tr' }),
      bl: h('div', { class: 'corner bl', testid: 'corner-bl' }),
      br: h('div', { class: 'corner br', testid: 'corner-br' }),
    };
    this.message = h('div', { class: 'viewer-message', testid: 'viewer-message', hidden: true });
    this.bar = h('div', { class: 'load-bar' }, h('div', { class: 'load-fill' }));
    this.slider = h('input', {
      type: 'range', class: 'slice-slider', testid: 'slice-slider', min: '0', max: '0', value: '0', 'aria-label': 'Slice',
      oninput: () => this.show(Number(this.slider.value)),
    });
    this.header = h('div', { class: 'viewport-header' });
    this.stage = h('div', { class: 'viewport-stage' }, this.canvas, ...Object.values(this.corners), this.message);
    this.el = h('div', { class: 'viewport', testid: 'viewport', tabindex: '-1', onpointerdown: () => this.hooks.onActivate(this) },
      this.header,
      this.stage,
      h('div', { class: 'viewport-footer' }, this.slider, this.bar));
    this.ctx = /** @type {CanvasRenderingContext2D} */ (this.canvas.getContext('2d'));
    /** The slice drawn at its own size, before placement on the canvas. */
    this.image = document.createElement('canvas');
    this.imageCtx = /** @type {CanvasRenderingContext2D} */ (this.image.getContext('2d', { willReadFrequently: true }));
    /** @type {import('./series.js').ImageSet | null} */
    this.set = null;
    /** @type {import('./series.js').SeriesInfo | null} */
    this.info = null;
    /** Where the slices' pixels come from: fetched, or computed (a reformat). @type {SliceLoader | import('./mpr.js').ReformatSource | null} */
    this.loader = null;
    /** Where the other planes of an MPR cross this one, in image coordinates. @type {{ col: number, row: number } | null} */
    this.crosshair = null;
    this.index = 0;
    /** @type {{ center: number, width: number, invert: boolean, name: string } | null} */
    this.windowing = null;
    /** @type {Placement} */
    this.placement = { zoom: 1, panX: 0, panY: 0, rotation: 0, flipH: false, flipV: false };
    this.fitted = true;
    /** The measurements of each slice, by its key (instance and frame). @type {Map<string, Measurement[]>} */
    this.measurements = new Map();
    /** @type {Measurement | null} */
    this.drawing = null;
    this.probe = '';
    this.paintedKey = '';
    this.frameRequested = false;
    /** @type {number | null} */
    this.cine = null;
    this.cineRate = 10;
    /** Instances on their way (a retrieval's total), when more are coming than are listed. @type {number | null} */
    this.expected = null;
    /** Showing one instance ahead of its series' whole listing. */
    this.provisional = false;
    /** More of the set is on its way (a retrieval runs). */
    this.incoming = false;
    new ResizeObserver(() => this.resize()).observe(this.canvas);
  }

  /**
   * Shows `set` (of a series described by `info`), fetching its pixels from `study`/`series`.
   * @param {string} study
   * @param {string} series
   * @param {import('./series.js').ImageSet} set
   * @param {import('./series.js').SeriesInfo} info
   * @param {(onLoaded: (index: number) => void) => import('./mpr.js').ReformatSource} [computed]
   *   the slices' pixels are computed (a reformat) rather than fetched
   */
  open(study, series, set, info, computed) {
    this.stopCine();
    if (this.loader) this.loader.stop();
    this.set = set;
    this.info = info;
    this.index = 0;
    this.windowing = null;
    this.measurements = new Map();
    this.drawing = null;
    this.paintedKey = '';
    this.fitted = true;
    this.placement = { zoom: 1, panX: 0, panY: 0, rotation: 0, flipH: false, flipV: false };
    this.cineRate = set.slices[0].frameRate || 10;
    this.slider.max = String(set.slices.length - 1);
    this.slider.value = '0';
    this.setMessage('');
    this.crosshair = null;
    this.loader = computed
      ? computed((i) => this.loaded(i))
      : new SliceLoader(study, series, set.slices, (i) => this.loaded(i), (i, e) => this.failed(i, e));
    this.loader.focus(0);
    this.changed();
  }

  /**
   * Shows `set`, a newer listing of the set shown (more of it has arrived), keeping the slice
   * shown, the window, the view and the pixels already fetched.
   * @param {import('./series.js').ImageSet} set
   * @param {import('./series.js').SeriesInfo} info
   */
  update(set, info) {
    if (!this.set || !(this.loader instanceof SliceLoader)) return;
    const shown = this.slice ? sliceKey(this.slice) : '';
    const previous = this.loader;
    previous.stop();
    this.set = set;
    this.info = info;
    const at = set.slices.findIndex((s) => sliceKey(s) === shown);
    this.index = at >= 0 ? at : Math.min(this.index, set.slices.length - 1);
    this.slider.max = String(set.slices.length - 1);
    this.slider.value = String(this.index);
    this.paintedKey = '';
    this.loader = new SliceLoader(previous.study, previous.series, set.slices, (i) => this.loaded(i), (i, e) => this.failed(i, e));
    this.loader.adopt(previous);
    this.loader.focus(this.index);
    this.requestDraw();
    this.changed();
  }

  get total() { return this.set ? this.set.slices.length : 0; }
  get loadedCount() { return this.loader ? this.loader.loaded : 0; }
  get slice() { return this.set ? this.set.slices[this.index] : null; }
  get pixels() { return this.loader ? this.loader.pixels[this.index] : null; }

  /** @param {string} text */
  setMessage(text) {
    this.message.textContent = text;
    this.message.hidden = !text;
  }

  /** @param {number} index */
  loaded(index) {
    if (!this.windowing) this.initialWindow(index);
    this.checkAllLoaded();
    if (index === this.index) this.requestDraw();
    this.changed();
  }

  /** For benchmarks: marks when the first whole set became scrollable (all of it here). */
  checkAllLoaded() {
    if (!allLoadedMarked && !this.provisional && !this.incoming && this.loader && this.loader.loaded === this.total) {
      performance.mark('lightbox:all-loaded');
      allLoadedMarked = true;
    }
  }

  /** @param {number} index @param {Error} error */
  failed(index, error) {
    if (index === this.index) this.setMessage(error.message);
    this.changed();
  }

  /** The window the first slice to arrive brings: its own VOI, else all its values. @param {number} index */
  initialWindow(index) {
    const s = this.set && this.set.slices[index];
    const p = this.loader && this.loader.pixels[index];
    if (!s || !p) return;
    const invert = s.photometric === 'MONOCHROME1';
    if (s.windows.length) {
      const w = s.windows[0];
      this.windowing = { center: w.center, width: w.width, invert, name: w.name };
    } else if (p.kind === 'grey') {
      this.windowing = { ...fullRange(p, s), invert, name: 'Full range' };
    } else {
      this.windowing = { center: 128, width: 256, invert: false, name: '' };
    }
  }

  /** @param {number} index */
  show(index) {
    if (!this.set) return;
    const clamped = Math.max(0, Math.min(this.total - 1, Math.round(index)));
    if (clamped === this.index && this.slider.value === String(clamped)) return;
    this.index = clamped;
    this.slider.value = String(clamped);
    if (this.loader) {
      this.loader.focus(clamped);
      const error = this.loader.errors[clamped];
      this.setMessage(error || '');
    }
    this.probe = '';
    this.requestDraw();
    this.changed();
  }

  /** @param {number} step */
  step(step) { this.show(this.index + step); }

  /**
   * @param {number} center
   * @param {number} width
   * @param {string} [name]
   */
  setWindow(center, width, name = 'Custom') {
    const invert = this.windowing ? this.windowing.invert : this.slice?.photometric === 'MONOCHROME1';
    this.windowing = { center, width: Math.max(1, width), invert, name };
    this.requestDraw();
    this.changed();
  }

  /** The window of all values of the slice shown. */
  autoWindow() {
    const s = this.slice;
    const p = this.pixels;
    if (s && p && p.kind === 'grey') {
      const w = fullRange(p, s);
      this.setWindow(w.center, w.width, 'Full range');
    }
  }

  toggleInvert() {
    if (!this.windowing) return;
    this.windowing = { ...this.windowing, invert: !this.windowing.invert };
    this.requestDraw();
    this.changed();
  }

  /** @param {Partial<Placement>} change */
  place(change) {
    this.placement = { ...this.placement, ...change };
    if ('zoom' in change || 'panX' in change || 'panY' in change) this.fitted = false;
    this.requestDraw();
    this.changed();
  }

  /** Rotates by quarter turns (clockwise for positive `turns`), keeping a fitted view fitted. @param {number} turns */
  rotate(turns) {
    this.placement = { ...this.placement, rotation: (((this.placement.rotation + turns) % 4) + 4) % 4 };
    this.requestDraw();
    this.changed();
  }

  /** The zoom at which the slice, as rotated, fills the canvas. */
  fittedZoom() {
    const s = this.slice;
    if (!s) return 1;
    const aspect = this.aspect();
    const quarter = this.placement.rotation % 2 === 1;
    const w = quarter ? s.rows * aspect : s.columns;
    const hgt = quarter ? s.columns : s.rows * aspect;
    return Math.min(this.canvas.width / w, this.canvas.height / hgt) || 1;
  }

  /** Fits the slice to the canvas, and keeps it fitted as the canvas changes size. */
  fit() {
    this.fitted = true;
    this.requestDraw();
    this.changed();
  }

  /** One stored pixel to one device pixel. */
  actualSize() {
    this.place({ zoom: 1 });
  }

  /** How much taller than wide a pixel is (Pixel Spacing is row spacing, then column spacing). */
  aspect() {
    const sp = this.slice && this.slice.spacing;
    return sp && sp[0] > 0 && sp[1] > 0 ? sp[0] / sp[1] : 1;
  }

  /** Image (column, row) to canvas coordinates, as drawn. */
  matrix() {
    const s = this.slice;
    const p = this.placement;
    const m = new DOMMatrix();
    if (!s) return m;
    // Whole device pixels: at 1:1 (and any whole zoom) stored pixels fall on screen pixels.
    return m.translate(Math.round(this.canvas.width / 2 + p.panX), Math.round(this.canvas.height / 2 + p.panY))
      .rotate(p.rotation * 90)
      .scale(p.flipH ? -1 : 1, p.flipV ? -1 : 1)
      .scale(p.zoom, p.zoom * this.aspect())
      .translate(-s.columns / 2, -s.rows / 2);
  }

  /**
   * The image point under a pointer event.
   * @param {{ clientX: number, clientY: number }} event
   * @returns {[number, number]}
   */
  imagePoint(event) {
    const r = this.canvas.getBoundingClientRect();
    const scale = this.canvas.width / (r.width || 1);
    const point = this.matrix().inverse().transformPoint(new DOMPoint((event.clientX - r.left) * scale, (event.clientY - r.top) * scale));
    return [point.x, point.y];
  }

  /** The value under `point`, in modality units, as the corner shows it. @param {[number, number]} point */
  probeAt(point) {
    const s = this.slice;
    const p = this.pixels;
    const col = Math.floor(point[0]);
    const row = Math.floor(point[1]);
    if (!s || !p || col < 0 || row < 0 || col >= s.columns || row >= s.rows) {
      this.probe = '';
    } else if (p.kind === 'grey') {
      const value = p.data[row * s.columns + col] * s.slope + s.intercept;
      const shown = Number.isInteger(value) ? String(value) : value.toFixed(2);
      this.probe = `(${col}, ${row}) ${shown}${s.units ? ' ' + s.units : ''}`;
    } else {
      const rgb = this.imageCtx.getImageData(col, row, 1, 1).data;
      this.probe = `(${col}, ${row}) RGB ${rgb[0]} ${rgb[1]} ${rgb[2]}`;
    }
    this.renderCorners();
  }

  /**
   * A measurement's length in mm (in pixels when the slice has no Pixel Spacing).
   * @param {Measurement} m
   * @returns {{ value: number, unit: string }}
   */
  length(m) {
    const sp = this.slice && this.slice.spacing;
    const dx = m.b[0] - m.a[0];
    const dy = m.b[1] - m.a[1];
    if (!sp) return { value: Math.hypot(dx, dy), unit: 'px' };
    return { value: Math.hypot(dx * sp[1], dy * sp[0]), unit: 'mm' };
  }

  /** The measurements of the slice shown. */
  currentMeasurements() {
    return (this.slice && this.measurements.get(sliceKey(this.slice))) || [];
  }

  /** @param {Measurement} m */
  addMeasurement(m) {
    if (!this.slice) return;
    const key = sliceKey(this.slice);
    const list = this.measurements.get(key) || [];
    list.push(m);
    this.measurements.set(key, list);
    this.requestDraw();
    this.changed();
  }

  removeLastMeasurement() {
    const list = this.slice && this.measurements.get(sliceKey(this.slice));
    if (list && list.length) list.pop();
    this.requestDraw();
    this.changed();
  }

  /** @param {number} rate frames per second */
  playCine(rate) {
    this.stopCine();
    this.cineRate = Math.max(0.5, Math.min(120, rate || this.cineRate));
    let last = performance.now();
    let carried = 0;
    const tick = (/** @type {number} */ now) => {
      if (this.cine === null) return;
      carried += ((now - last) / 1000) * this.cineRate;
      last = now;
      const steps = Math.floor(carried);
      if (steps > 0 && this.total > 1) {
        carried -= steps;
        const next = (this.index + steps) % this.total;
        // A slice still on its way holds the loop there, rather than flashing a blank.
        if (this.loader && this.loader.pixels[next]) this.show(next);
      }
      this.cine = requestAnimationFrame(tick);
    };
    this.cine = requestAnimationFrame(tick);
    this.changed();
  }

  stopCine() {
    if (this.cine !== null) cancelAnimationFrame(this.cine);
    this.cine = null;
  }

  get playing() { return this.cine !== null; }

  resize() {
    const r = this.canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(r.width * ratio));
    const hgt = Math.max(1, Math.round(r.height * ratio));
    if (w === this.canvas.width && hgt === this.canvas.height) return;
    this.canvas.width = w;
    this.canvas.height = hgt;
    this.requestDraw();
  }

  requestDraw() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      this.draw();
    });
  }

  /** Paints the slice at its own size when it or the window changed. */
  paintImage() {
    const s = this.slice;
    const p = this.pixels;
    if (!s || !p) return false;
    const w = this.windowing;
    const key = `${this.index}|${w ? `${w.center}|${w.width}|${w.invert}` : ''}`;
    if (key === this.paintedKey) return true;
    if (this.image.width !== s.columns || this.image.height !== s.rows) {
      this.image.width = s.columns;
      this.image.height = s.rows;
    }
    if (p.kind === 'grey') {
      const data = this.imageCtx.createImageData(s.columns, s.rows);
      paintGrey(data, p, s, w || { ...fullRange(p, s), invert: false });
      this.imageCtx.putImageData(data, 0, 0);
    } else {
      this.imageCtx.clearRect(0, 0, s.columns, s.rows);
      this.imageCtx.drawImage(p.bitmap, 0, 0, s.columns, s.rows);
    }
    this.paintedKey = key;
    return true;
  }

  draw() {
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (this.fitted && this.slice) {
      this.placement = { ...this.placement, zoom: this.fittedZoom(), panX: 0, panY: 0 };
    }
    if (!this.paintImage()) {
      this.renderCorners();
      return;
    }
    if (!firstSliceMarked) {
      // For benchmarks and tests: when the page first showed an image.
      performance.mark('lightbox:first-slice');
      firstSliceMarked = true;
      // The server's rendering shown until now gives way to the slice itself.
      document.getElementById('first-slice')?.remove();
    }
    const m = this.matrix();
    ctx.setTransform(m);
    ctx.imageSmoothingEnabled = this.placement.zoom < 3;
    ctx.drawImage(this.image, 0, 0);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    const ratio = window.devicePixelRatio || 1;
    const s = /** @type {import('./series.js').Slice} */ (this.slice);
    if (this.crosshair) {
      ctx.strokeStyle = '#4dd0e1';
      ctx.lineWidth = ratio;
      for (const [a, b] of [[[this.crosshair.col + 0.5, 0], [this.crosshair.col + 0.5, s.rows]], [[0, this.crosshair.row + 0.5], [s.columns, this.crosshair.row + 0.5]]]) {
        const p = m.transformPoint(new DOMPoint(a[0], a[1]));
        const q = m.transformPoint(new DOMPoint(b[0], b[1]));
        ctx.beginPath();
        ctx.moveTo(p.x, p.y);
        ctx.lineTo(q.x, q.y);
        ctx.stroke();
      }
    }
    const lines = [...this.currentMeasurements(), ...(this.drawing ? [this.drawing] : [])];
    ctx.lineWidth = 1.5 * ratio;
    ctx.strokeStyle = '#ffd54a';
    ctx.fillStyle = '#ffd54a';
    ctx.font = `${12 * ratio}px sans-serif`;
    for (const line of lines) {
      const a = m.transformPoint(new DOMPoint(line.a[0], line.a[1]));
      const b = m.transformPoint(new DOMPoint(line.b[0], line.b[1]));
      ctx.beginPath();
      ctx.moveTo(a.x, a.y);
      ctx.lineTo(b.x, b.y);
      ctx.stroke();
      const len = this.length(line);
      ctx.fillText(`${len.value.toFixed(1)} ${len.unit}`, b.x + 6 * ratio, b.y - 6 * ratio);
    }
    this.renderCorners();
  }

  renderCorners() {
    const s = this.slice;
    const i = this.info;
    const line = (/** @type {string[]} */ ...parts) => h('div', null, parts.filter(Boolean).join('  '));
    if (!s || !i) {
      Object.values(this.corners).forEach((c) => setChildren(c));
      return;
    }
    setChildren(this.corners.tl,
      line(i.patientName), line(i.patientId, [i.birthDate, i.sex].filter(Boolean).join(' ')), line(i.institution));
    setChildren(this.corners.tr,
      line(i.studyDescription), line(i.studyDate),
      line(i.seriesNumber ? `Series ${i.seriesNumber}` : '', i.seriesDescription, i.modality));
    const pos = this.set ? slicePosition(s, this.set.normal) : null;
    const frame = s.frames > 1 ? `frame ${s.frame}/${s.frames}` : '';
    setChildren(this.corners.bl,
      h('div', { testid: 'slice-label' }, `Slice ${this.index + 1}/${this.total}`),
      line(pos !== null ? `Pos ${pos.toFixed(1)} mm` : '', s.thickness !== null ? `Thick ${s.thickness} mm` : '', frame),
      h('div', { testid: 'probe' }, this.probe),
      ...this.currentMeasurements().map((m) => {
        const len = this.length(m);
        return h('div', { testid: 'measurement' }, `${len.value.toFixed(1)} ${len.unit}`);
      }));
    const w = this.windowing;
    const p = this.placement;
    const turns = p.rotation ? `rot ${p.rotation * 90}°` : '';
    const flips = [p.flipH ? 'flip H' : '', p.flipV ? 'flip V' : ''].filter(Boolean).join(' ');
    setChildren(this.corners.br,
      h('div', { testid: 'window-label' }, w && !isColour(s) ? `W ${Math.round(w.width)} L ${Math.round(w.center)}${w.invert ? ' inv' : ''}` : ''),
      h('div', { testid: 'zoom-label' }, `Zoom ${Math.round(p.zoom * 100)}%`, turns ? `  ${turns}` : '', flips ? `  ${flips}` : ''),
      line(this.playing ? `Cine ${this.cineRate} fps` : ''));
  }

  changed() {
    const fill = /** @type {HTMLElement} */ (this.bar.firstChild);
    const total = this.total;
    const coming = Math.max(total, this.expected || 0);
    fill.style.width = coming ? `${(100 * this.loadedCount) / coming}%` : '0';
    this.bar.hidden = coming > 0 && this.loadedCount >= coming;
    this.bar.title = coming ? `${this.loadedCount} of ${coming}` : '';
    if (this.expected) this.el.dataset.expected = String(this.expected);
    this.el.dataset.loaded = String(this.loadedCount);
    this.el.dataset.total = String(total);
    this.el.dataset.slice = String(this.index);
    this.hooks.onChange(this);
  }
}
