// @ts-check
// Formatting for display: numbers, sizes, DICOM dates and person names, times.

/**
 * A count with thousands separators ('–' when unknown).
 * @param {number | string | null | undefined} n
 */
export const fmtNum = (n) => (n == null || isNaN(Number(n)) ? '–' : Number(n).toLocaleString('en-US'));

/**
 * A size in bytes: B, KB, MB, GB, TB (powers of 1024).
 * @param {number | string | null | undefined} value
 */
export function fmtBytes(value) {
  if (value == null || isNaN(Number(value))) return '';
  let n = Number(value);
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + u[i];
}

/** Dates in the browser's locale, the month in words (never ambiguous between locales). */
const DATE_FORMAT = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const TIME_FORMAT = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/**
 * A DICOM date (YYYYMMDD, or the old YYYY.MM.DD) in the browser's locale; anything else
 * unchanged.
 * @param {unknown} value
 */
export function fmtDA(value) {
  if (!value) return '';
  const s = String(value).trim();
  const m = /^(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(s);
  if (!m) return s;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(year, month - 1, day);
  // Not a day of the calendar (20231345): shown as it is written.
  if (date.getMonth() !== month - 1 || date.getDate() !== day) return s;
  date.setFullYear(year);
  return DATE_FORMAT.format(date);
}

/**
 * A DICOM time (HHMM[SS[.FFFFFF]], or the old HH:MM:SS) as hours and minutes in the browser's
 * locale; anything else unchanged.
 * @param {unknown} value
 */
export function fmtTM(value) {
  if (!value) return '';
  const s = String(value).trim();
  const m = /^(\d{2}):?(\d{2})/.exec(s);
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) return s;
  return TIME_FORMAT.format(new Date(2000, 0, 1, Number(m[1]), Number(m[2])));
}

/**
 * A person name for display: each component group "Family, Given Middle"; nothing else changes.
 * @param {unknown} s
 */
export function fmtPN(s) {
  if (!s) return '';
  return String(s).split('=').map((group) => {
    if (!group.includes('^')) return group;
    const [family = '', given = '', middle = '', prefix = '', suffix = ''] = group.split('^');
    const rest = [prefix, given, middle].filter(Boolean).join(' ');
    let out = [family, rest].filter(Boolean).join(', ');
    if (suffix) out += ' ' + suffix;
    return out;
  }).join('=');
}

/**
 * A local date as a DICOM date, YYYYMMDD.
 * @param {Date} d
 */
export function ymd(d) {
  return `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, '0')}${String(d.getDate()).padStart(2, '0')}`;
}

/**
 * "12 s ago", "in 3 min", "just now" ('' without a time).
 * @param {number | null | undefined} ms milliseconds since the epoch
 */
export function relTime(ms) {
  if (!ms) return '';
  const s = Math.round((Date.now() - ms) / 1000);
  const a = Math.abs(s);
  let t;
  if (a < 5) return 'just now';
  if (a < 60) t = `${a} s`;
  else if (a < 3600) t = `${Math.round(a / 60)} min`;
  else if (a < 86400) t = `${Math.round(a / 3600)} h`;
  else t = `${Math.round(a / 86400)} d`;
  return s >= 0 ? `${t} ago` : `in ${t}`;
}

/**
 * The local date and time ('' without a time).
 * @param {number | null | undefined} ms milliseconds since the epoch
 */
export const fullTime = (ms) => (ms ? new Date(ms).toLocaleString() : '');

/**
 * "1 study", "3 studies".
 * @param {number} n
 * @param {string} one
 * @param {string} [many] defaults to `one` + 's'
 */
export const plural = (n, one, many) => `${fmtNum(n)} ${n === 1 ? one : (many || one + 's')}`;
