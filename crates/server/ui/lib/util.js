// @ts-check
// Small timing and concurrency helpers, and the subscribe/notify mechanism of the state modules.

/**
 * Calls `fn` once `ms` have passed without another call.
 * @template {unknown[]} A
 * @param {(...args: A) => void} fn
 * @param {number} ms
 * @returns {(...args: A) => void}
 */
export function debounce(fn, ms) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

/**
 * Runs at most `n` of the tasks given to it at once, the others in order as places free up.
 * @param {number} n
 * @returns {<T>(fn: () => T | Promise<T>) => Promise<T>}
 */
export function limiter(n) {
  let active = 0;
  /** @type {{ fn: () => any, res: (v: any) => void, rej: (e: unknown) => void }[]} */
  const q = [];
  const next = () => {
    if (active >= n || !q.length) return;
    active++;
    const { fn, res, rej } = /** @type {typeof q[number]} */ (q.shift());
    Promise.resolve().then(fn).then(res, rej).finally(() => { active--; next(); });
  };
  return (fn) => new Promise((res, rej) => { q.push({ fn, res, rej }); next(); });
}

/**
 * Listeners called in the order they subscribed, synchronously; a listener's exception
 * reaches the code that notified.
 * @template {unknown[]} A
 */
export class Emitter {
  constructor() {
    /** @type {((...args: A) => void)[]} */
    this.listeners = [];
  }

  /**
   * @param {(...args: A) => void} fn
   * @returns {() => void} unsubscribes
   */
  subscribe(fn) {
    this.listeners.push(fn);
    return () => { this.listeners = this.listeners.filter((x) => x !== fn); };
  }

  /** @param {A} args */
  notify(...args) {
    for (const fn of this.listeners) fn(...args);
  }
}
