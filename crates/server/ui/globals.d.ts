// What the page puts on `window` for tests, benchmarks and debugging (type check only; not served).
interface Window {
  /** Every error the page caught or reported: the UI tests expect it empty. */
  lightboxErrors: { message: string; context: string; at: string }[];
  /** The live filter's debounce, in milliseconds (read by the UI benchmark). */
  lightboxFilterDelay: number;
  /** State handles, for debugging from the console. */
  lightbox: unknown;
}
