// @ts-check
// Errors: every one the page catches is recorded in window.lightboxErrors (the UI tests check
// that it stays empty); reported ones also show in the toast.
import { toast } from './toast.js';

window.lightboxErrors = [];

/**
 * The message of anything thrown.
 * @param {unknown} err
 */
function messageOf(err) {
  const m = err && typeof err === 'object' && 'message' in err ? err.message : null;
  return m ? String(m) : String(err);
}

/**
 * Records an error without showing it; returns its message.
 * @param {unknown} err
 * @param {string} [context]
 */
export function recordError(err, context) {
  const message = messageOf(err);
  window.lightboxErrors.push({ message, context: context || '', at: new Date().toISOString() });
  if (window.lightboxErrors.length > 1000) window.lightboxErrors.shift();
  return message;
}

/**
 * Records an error and shows it (an aborted request is neither).
 * @param {unknown} err
 * @param {string} [context]
 */
export function reportError(err, context) {
  if (err && typeof err === 'object' && 'name' in err && err.name === 'AbortError') return;
  const message = recordError(err, context);
  toast(context ? `${context}: ${message}` : message, 'error');
}

window.addEventListener('error', (e) => { recordError(e.error || e.message, 'uncaught'); });
window.addEventListener('unhandledrejection', (e) => { e.preventDefault(); reportError(e.reason, 'Unexpected error'); });
