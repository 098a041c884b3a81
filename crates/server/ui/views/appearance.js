// @ts-check
// The theme toggle, the thumbnail size buttons and the list layout buttons.
import { $, $$ } from '../lib/dom.js';
import { chosenTheme, effectiveTheme, listView, setListView, setThumbSize, thumbSize, toggleTheme } from '../state/display.js';

export function applyTheme() {
  const t = chosenTheme();
  if (t) document.documentElement.dataset.theme = t; else delete document.documentElement.dataset.theme;
  const eff = effectiveTheme();
  const btn = $('#theme-toggle');
  btn.setAttribute('aria-label', eff === 'dark' ? 'Switch to light theme' : 'Switch to dark theme');
  btn.dataset.theme = eff;
  $('#theme-icon').textContent = eff === 'dark' ? '☀' : '☾';
}

export function applySize() {
  const s = thumbSize();
  document.documentElement.dataset.size = s;
  for (const b of $$('[data-size]')) b.setAttribute('aria-pressed', String(b.dataset.size === s));
}

export function applyListView() {
  const v = listView();
  document.documentElement.dataset.view = v;
  for (const b of $$('[data-view]')) b.setAttribute('aria-pressed', String(b.dataset.view === v));
}

export function initAppearance() {
  // Sticky table heads sit under the top bar, however tall it wraps.
  const bar = $('.topbar');
  new ResizeObserver(() => document.documentElement.style.setProperty('--topbar-h', `${bar.offsetHeight}px`)).observe(bar);
  for (const b of $$('.segmented [data-view]')) {
    b.addEventListener('click', () => setListView(b.dataset.view === 'table' ? 'table' : 'tiles'));
  }
  $('#theme-toggle').addEventListener('click', toggleTheme);
  for (const b of $$('.segmented [data-size]')) {
    b.addEventListener('click', () => setThumbSize(b.dataset.size || ''));
  }
}
