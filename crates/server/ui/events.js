// @ts-check
// The server-sent event stream: connects, reconnects with a growing delay, and hands each
// event to its subscribers (in the order they subscribed).
import { EVENTS_URL } from './api.js';
import { recordError } from './lib/errors.js';
import { Emitter } from './lib/util.js';

/** @typedef {import('./api.js').JobEvent} JobEvent */
/** @typedef {import('./api.js').StoreTotals} StoreTotals */

/** Jobs' events. @type {Emitter<[JobEvent]>} */
export const jobEvents = new Emitter();
/** The store's totals, when they change. @type {Emitter<[StoreTotals]>} */
export const storeEvents = new Emitter();
/** Events were missed (a slow reader): what is shown must be reloaded. @type {Emitter<[]>} */
export const resyncEvents = new Emitter();
/** The stream is back after failing: what changed meanwhile must be reloaded. @type {Emitter<[]>} */
export const reconnectEvents = new Emitter();

/** @type {EventSource | null} */
let es = null;
let esFailures = 0;

/**
 * Parses an event's JSON and hands it on; a failure is recorded as "NAME event".
 * @template T
 * @param {string} name
 * @param {Emitter<[T]>} emitter
 * @returns {(e: MessageEvent) => void}
 */
const dispatch = (name, emitter) => (e) => {
  try { emitter.notify(JSON.parse(e.data)); } catch (err) { recordError(err, `${name} event`); }
};

/** Opens the stream (closing the one open). */
export function connectEvents() {
  if (es) es.close();
  const source = new EventSource(EVENTS_URL);
  es = source;
  source.addEventListener('open', () => {
    if (esFailures) reconnectEvents.notify();
    esFailures = 0;
  });
  source.addEventListener('job', dispatch('job', jobEvents));
  source.addEventListener('store', dispatch('store', storeEvents));
  source.addEventListener('resync', () => resyncEvents.notify());
  source.addEventListener('error', () => {
    esFailures++;
    if (es && es.readyState === EventSource.CLOSED) setTimeout(connectEvents, Math.min(30000, 2000 * esFailures));
  });
}
