// @ts-check
// The mouse on a viewport: the left button does what the chosen tool does (window/level, pan,
// zoom or measure), the middle button pans, the right button zooms, the wheel scrolls the stack
// (with Ctrl, zooms at the pointer), and hovering probes the value under the pointer.

/** @typedef {'window' | 'pan' | 'zoom' | 'measure' | 'crosshair'} Tool */

/**
 * @param {import('./viewport.js').Viewport} viewport
 * @param {() => Tool} currentTool
 */
export function attachTools(viewport, currentTool) {
  const canvas = viewport.canvas;
  /** @type {{ tool: Tool, x: number, y: number, center: number, width: number, zoom: number, panX: number, panY: number } | null} */
  let drag = null;

  canvas.addEventListener('contextmenu', (e) => e.preventDefault());

  canvas.addEventListener('pointerdown', (e) => {
    /** @type {Tool} */
    const tool = e.button === 1 ? 'pan' : e.button === 2 ? 'zoom' : currentTool();
    const w = viewport.windowing;
    const p = viewport.placement;
    drag = { tool, x: e.clientX, y: e.clientY, center: w ? w.center : 0, width: w ? w.width : 1, zoom: p.zoom, panX: p.panX, panY: p.panY };
    if (tool === 'measure') {
      const at = viewport.imagePoint(e);
      viewport.drawing = { a: at, b: at };
    }
    if (tool === 'crosshair' && viewport.hooks.onPoint) viewport.hooks.onPoint(viewport, viewport.imagePoint(e));
    canvas.setPointerCapture(e.pointerId);
    e.preventDefault();
  });

  canvas.addEventListener('pointermove', (e) => {
    if (!drag) {
      viewport.probeAt(viewport.imagePoint(e));
      return;
    }
    const ratio = window.devicePixelRatio || 1;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    switch (drag.tool) {
      case 'window': {
        // A full drag across the canvas spans about four times the window's own width.
        const sensitivity = Math.max(0.1, drag.width / 256);
        viewport.setWindow(drag.center + dy * sensitivity, drag.width + dx * sensitivity, 'Custom');
        break;
      }
      case 'pan':
        viewport.place({ panX: drag.panX + dx * ratio, panY: drag.panY + dy * ratio });
        break;
      case 'zoom':
        viewport.place({ zoom: Math.max(0.05, Math.min(64, drag.zoom * Math.exp(-dy / 150))) });
        break;
      case 'crosshair':
        if (viewport.hooks.onPoint) viewport.hooks.onPoint(viewport, viewport.imagePoint(e));
        break;
      case 'measure':
        if (viewport.drawing) {
          viewport.drawing = { a: viewport.drawing.a, b: viewport.imagePoint(e) };
          viewport.requestDraw();
        }
        break;
    }
  });

  const end = (/** @type {PointerEvent} */ e) => {
    if (!drag) return;
    if (drag.tool === 'measure' && viewport.drawing) {
      const m = { a: viewport.drawing.a, b: viewport.imagePoint(e) };
      viewport.drawing = null;
      if (Math.hypot(m.b[0] - m.a[0], m.b[1] - m.a[1]) > 0.5) viewport.addMeasurement(m);
      else viewport.requestDraw();
    }
    drag = null;
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);

  canvas.addEventListener('wheel', (e) => {
    e.preventDefault();
    if (e.ctrlKey || e.metaKey) {
      zoomAt(viewport, e, Math.exp(-e.deltaY / 300));
    } else if (e.deltaY !== 0) {
      viewport.step(e.deltaY > 0 ? 1 : -1);
    }
  }, { passive: false });
}

/**
 * Zooms by `factor` keeping the point under the pointer where it is.
 * @param {import('./viewport.js').Viewport} viewport
 * @param {MouseEvent} e
 * @param {number} factor
 */
function zoomAt(viewport, e, factor) {
  const r = viewport.canvas.getBoundingClientRect();
  const scale = viewport.canvas.width / (r.width || 1);
  const p = viewport.placement;
  const zoom = Math.max(0.05, Math.min(64, p.zoom * factor));
  const applied = zoom / p.zoom;
  // The pointer's offset from the canvas centre, in device pixels.
  const x = (e.clientX - r.left) * scale - viewport.canvas.width / 2;
  const y = (e.clientY - r.top) * scale - viewport.canvas.height / 2;
  viewport.place({ zoom, panX: x - (x - p.panX) * applied, panY: y - (y - p.panY) * applied });
}
