// @ts-check
// The theme toggle and the thumbnail size buttons.
import { $, $$ } from '../lib/dom.js';
import { chosenTheme, effectiveTheme, setThumbSize, thumbSize, toggleTheme } from '../state/display.js';

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

export function initAppearance() {
  $('#theme-toggle').addEventListener('click', toggleTheme);
  for (const b of $$('.segmented [data-size]')) {
    b.addEventListener('click', () => setThumbSize(b.dataset.size || ''));
  }
}
