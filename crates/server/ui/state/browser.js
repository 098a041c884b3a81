// @ts-check
// The browser page's data: the studies shown (local list and remote block) with their series,
// the current list and its paging, the last remote search, the selection. The views keep their
// elements on the entries (`els`), and change the store only through the functions here.
import { api, enc } from '../api.js';
import { Emitter } from '../lib/util.js';

/** @typedef {import('../api.js').StudyRow} StudyRow */
/** @typedef {import('../api.js').SeriesRow} SeriesRow */
/** @typedef {import('../views/browser/studies.js').StudyEls} StudyEls */
/** @typedef {import('../views/browser/groups.js').GroupEls} GroupEls */
/** @typedef {import('../views/browser/tiles.js').TileEls} TileEls */
/** @typedef {import('../views/browser/worklist.js').Worklist} Worklist */
/** @typedef {import('./display.js').ListView} ListView */
/** @typedef {import('./display.js').Sort} Sort */
/**
 * The filters of the browser page (text ones trimmed; `date` a DICOM date or range).
 * @typedef {{
 *   patient_name: string, patient_id: string, study_description: string, series_description: string,
 *   accession: string, date: string, modality: string[],
 * }} Filters
 */
/**
 * A study on the page, in the local list or the remote block.
 * `remote`: node → the node's row; `remoteSeries`: node → that node's series rows.
 * @typedef {{
 *   uid: string, data: Partial<StudyRow>, local: boolean, where: 'local' | 'remote',
 *   remote: Map<string, StudyRow>, remoteSeries: Map<string, SeriesRow[]>, series: Map<string, SeriesEntry>,
 *   seriesLoaded: boolean, seriesLoading: Promise<void> | null, seriesGen: number, expanded?: boolean,
 *   els: StudyEls | null, group: Group | null, target?: Target,
 * }} StudyEntry
 */
/**
 * A series of a study: its local row (null when none is stored) and each node's row.
 * `thumbV` busts the thumbnail's cache; `thumbFailed` is the thumbnail address that failed.
 * @typedef {{
 *   uid: string, studyUid: string, local: SeriesRow | null, remote: Map<string, SeriesRow>,
 *   thumbV: number, thumbFailed?: string | null, els: TileEls | null, study: StudyEntry,
 *   target?: Target, _newLocal?: SeriesRow | null, localReadAt?: number,
 * }} SeriesEntry
 */
/** @typedef {{ PatientName?: string, PatientID?: string, PatientBirthDate?: string, PatientSex?: string }} Patient */
/**
 * A patient's studies, one after the other in a list.
 * @typedef {{ key: string, where: 'local' | 'remote', entries: StudyEntry[], patient: Patient, target: Target } & GroupEls} Group
 */
/**
 * What an action applies to.
 * @typedef {{ level: 'patient', group: Group } | { level: 'study', entry: StudyEntry } | { level: 'series', series: SeriesEntry }} Target
 */
/**
 * The local list being shown: its filters, how it is laid out and sorted (`sort` null: by
 * patient, in groups), how far it is loaded, its patient groups or its worklist table.
 * `totalExact` false: more than `total` studies match; `countAll`: the user asked for every
 * match to be counted (the server otherwise stops counting at a bound).
 * @typedef {{
 *   gen: number, filters: Filters, view: ListView, sort: Sort | null, offset: number, total: number | null,
 *   totalExact: boolean, countAll: boolean,
 *   loading: boolean, done: boolean, error: boolean, groups: Group[], lastGroup: Group | null, count: number,
 *   worklist: Worklist | null,
 * }} ListState
 */
/**
 * What changed, for the views.
 * @typedef {{ type: 'series-removed', series: SeriesEntry }
 *   | { type: 'series-loading', entry: StudyEntry }
 *   | { type: 'series-loaded', entry: StudyEntry, errors: string[] }
 *   | { type: 'selection', target: Target | null }
 *   | { type: 'selection-cleared' }} BrowserChange
 */

export const PAGE_SIZE = 50;

/** StudyInstanceUID → study entry (shown in the local list or the remote block). @type {Map<string, StudyEntry>} */
const entryMap = new Map();
/** SeriesInstanceUID → series entry. @type {Map<string, SeriesEntry>} */
const seriesMap = new Map();
/** StudyInstanceUID → expanded, as the user left it. @type {Map<string, boolean>} */
const expandMap = new Map();
/** StudyInstanceUID → Map(node → study row), from the last remote search. @type {Map<string, Map<string, StudyRow>>} */
const remoteMap = new Map();
/** Remote studies found in the local store. @type {Set<string>} */
const knownLocalSet = new Set();
/** Studies with preview instances here (their series' thumbnails). @type {Set<string>} */
const previewedSet = new Set();
/** Selection key → target. @type {Map<string, Target>} */
const selectionMap = new Map();
/** Series whose prefetch was queued. @type {Set<string>} */
const prefetchedSet = new Set();

/** @type {ReadonlyMap<string, StudyEntry>} */
export const entries = entryMap;
/** @type {ReadonlyMap<string, SeriesEntry>} */
export const seriesIndex = seriesMap;
/** @type {ReadonlyMap<string, boolean>} */
export const expandState = expandMap;
/** @type {ReadonlyMap<string, ReadonlyMap<string, StudyRow>>} */
export const remoteIndex = remoteMap;
/** @type {ReadonlySet<string>} */
export const knownLocal = knownLocalSet;
/** @type {ReadonlyMap<string, Target>} */
export const selection = selectionMap;
/** @type {ReadonlySet<string>} */
export const prefetched = prefetchedSet;

/** @type {ListState | null} */
let list = null;
let remoteGeneration = 0;
let remoteOnly = 0;

/** @type {Emitter<[BrowserChange]>} */
export const browserChanges = new Emitter();

// ---------------------------------------------------------------- the list

/** The local list shown now (null before the first). */
export const currentList = () => list;

/**
 * Starts a new local list (a new generation: answers for the old one are dropped).
 * @param {Filters} filters
 * @param {ListView} view
 * @param {Sort | null} sort
 * @returns {ListState}
 */
export function startList(filters, view, sort) {
  list = { gen: (list ? list.gen : 0) + 1, filters, view, sort, offset: 0, total: null, totalExact: true, countAll: false, loading: false,
    done: false, error: false, groups: [], lastGroup: null, count: 0, worklist: null };
  return list;
}

/**
 * A group left the page.
 * @param {Group} g
 */
export function removeGroup(g) {
  if (!list) return;
  list.groups = list.groups.filter((x) => x !== g);
  if (list.lastGroup === g) list.lastGroup = null;
}

/** How many remote studies are not in the local store (from the last remote search). */
export const remoteOnlyCount = () => remoteOnly;
/** @param {number} n */
export const setRemoteOnlyCount = (n) => { remoteOnly = n; };

// ---------------------------------------------------------------- studies and series

/**
 * Groups studies by patient: the same ID and name.
 * @param {{ PatientID?: unknown, PatientName?: unknown }} row
 */
export const patientKey = (row) => `${row.PatientID || ''}\u0000${row.PatientName || ''}`;

/**
 * The fields that have a value.
 * @template {object} T
 * @param {T} row
 * @returns {Partial<T>}
 */
export function stripEmpty(row) {
  /** @type {Record<string, unknown>} */
  const o = {};
  for (const [k, v] of Object.entries(row)) if (v !== null && v !== undefined && v !== '') o[k] = v;
  return /** @type {Partial<T>} */ (o);
}

/**
 * The entry of a study, made when new, now shown `where`, with the row's fields merged in (and
 * the nodes the last remote search found it on).
 * @param {StudyRow} row
 * @param {'local' | 'remote'} where
 */
export function ensureEntry(row, where) {
  const uid = row.StudyInstanceUID;
  let e = entryMap.get(uid);
  if (!e) {
    e = { uid, data: {}, local: false, remote: new Map(), remoteSeries: new Map(), series: new Map(),
      seriesLoaded: false, seriesLoading: null, seriesGen: 0, els: null, group: null, where };
    entryMap.set(uid, e);
  }
  e.where = where;
  e.data = Object.assign({}, e.data, stripEmpty(row));
  const rem = remoteMap.get(uid);
  if (rem) e.remote = new Map(rem);
  return e;
}

/**
 * Forgets a study and its series.
 * @param {StudyEntry} e
 */
export function dropEntry(e) {
  for (const s of e.series.values()) {
    if (seriesMap.get(s.uid) === s) seriesMap.delete(s.uid);
  }
  entryMap.delete(e.uid);
}

/** Forgets the studies of the local list (a new list is coming). */
export function dropLocalEntries() {
  for (const e of [...entryMap.values()]) if (e.where === 'local') dropEntry(e);
}

/**
 * Remembers whether the user left a study expanded.
 * @param {string} uid
 * @param {boolean} on
 */
export const setExpandState = (uid, on) => { expandMap.set(uid, on); };

/**
 * Merges local rows (null: keep the ones we have) and every node's rows by SeriesInstanceUID;
 * `bust` renews the thumbnails of series whose count changed (or of the series it names).
 * @param {StudyEntry} e
 * @param {SeriesRow[] | null} localRows
 * @param {boolean | string} [bust]
 * @param {number} [readAt] when the local rows were asked for (performance.now())
 */
export function mergeSeries(e, localRows, bust, readAt = performance.now()) {
  /** @type {Map<string, SeriesEntry>} */
  const next = new Map();
  /** @param {string} uid */
  const get = (uid) => {
    let s = next.get(uid);
    if (!s) {
      // A new entry knows what was read now: retrievals that ended before are in its rows.
      s = e.series.get(uid) || { uid, studyUid: e.uid, local: null, remote: new Map(), thumbV: 0, els: null, study: e, localReadAt: readAt };
      s.remote = new Map();
      next.set(uid, s);
    }
    return s;
  };
  if (localRows) {
    for (const s of e.series.values()) s._newLocal = null;
    for (const row of localRows) {
      if (!row.SeriesInstanceUID) continue;
      const s = get(row.SeriesInstanceUID);
      s._newLocal = row;
    }
    for (const s of next.values()) {
      const before = s.local ? Number(s.local.NumberOfSeriesRelatedInstances || 0) : 0;
      s.local = s._newLocal || null;
      s.localReadAt = readAt;
      const after = s.local ? Number(s.local.NumberOfSeriesRelatedInstances || 0) : 0;
      if ((bust && before !== after) || bust === s.uid) { s.thumbV = Date.now(); s.thumbFailed = null; }
    }
    for (const s of e.series.values()) if (!next.has(s.uid)) s.local = null;
  } else {
    for (const s of e.series.values()) if (s.local) get(s.uid);
  }
  for (const [node, rows] of e.remoteSeries) {
    for (const row of rows) {
      if (!row.SeriesInstanceUID) continue;
      get(row.SeriesInstanceUID).remote.set(node, row);
    }
  }
  for (const s of e.series.values()) {
    if (!next.has(s.uid)) {
      browserChanges.notify({ type: 'series-removed', series: s });
      if (seriesMap.get(s.uid) === s) seriesMap.delete(s.uid);
    }
  }
  for (const s of next.values()) { s.study = e; seriesMap.set(s.uid, s); }
  e.series = next;
}

// ---------------------------------------------------------------- remote search

/** The generation of the remote search: answers for an older one are dropped. */
export const remoteGen = () => remoteGeneration;

/** Forgets the last remote search. */
export function clearRemoteIndex() {
  remoteGeneration++;
  remoteMap.clear();
  remoteOnly = 0;
}

/**
 * A node's answer to the remote search.
 * @param {string} node
 * @param {StudyRow[]} rows
 */
export function addRemoteRows(node, rows) {
  for (const row of rows) {
    if (!row.StudyInstanceUID) continue;
    let m = remoteMap.get(row.StudyInstanceUID);
    if (!m) remoteMap.set(row.StudyInstanceUID, (m = new Map()));
    m.set(node, row);
  }
}

/**
 * Which of these studies are in the local store, and which have previews here (the API's exact
 * UID list filter); false when that could not be told for some.
 * @param {string[]} uids
 */
export async function checkLocal(uids) {
  const todo = uids.filter((u) => !knownLocalSet.has(u));
  let ok = true;
  for (let i = 0; i < todo.length; i += 40) {
    const chunk = todo.slice(i, i + 40);
    try {
      const query = chunk.map((u) => `study_uid=${enc(u)}`).join('&');
      /** @type {import('../api.js').StudiesPage} */
      const page = await api(`/api/studies?${query}&previews=include&limit=${chunk.length}`);
      for (const s of page.studies || []) {
        if (!s || !s.StudyInstanceUID) continue;
        if (Number(s.NumberOfStudyRelatedInstances) > 0) knownLocalSet.add(s.StudyInstanceUID);
        if (Number(s.PreviewInstances) > 0) previewedSet.add(s.StudyInstanceUID);
      }
    } catch (_) { ok = false; /* unknown: treated as not local */ }
  }
  return ok;
}

/**
 * Whether a study has previews here (as last read).
 * @param {string} uid
 */
export const hasPreviews = (uid) => previewedSet.has(uid);

/**
 * Remembers whether a study has previews here.
 * @param {string} uid
 * @param {boolean} on
 */
export const setPreviewed = (uid, on) => { if (on) previewedSet.add(uid); else previewedSet.delete(uid); };

/**
 * Forgets that a study is known to be local (to check again).
 * @param {string} uid
 */
export const forgetKnownLocal = (uid) => { knownLocalSet.delete(uid); };

/**
 * Remembers that a study is in the local store (its instances, not only previews).
 * @param {string} uid
 */
export const markKnownLocal = (uid) => { knownLocalSet.add(uid); };

// ---------------------------------------------------------------- prefetch

/** @param {string} uid */
export const markPrefetched = (uid) => { prefetchedSet.add(uid); };
/** @param {string} uid */
export const unmarkPrefetched = (uid) => { prefetchedSet.delete(uid); };

// ---------------------------------------------------------------- selection

/**
 * The selection's key of a target.
 * @param {Target} t
 */
export function selKey(t) {
  if (t.level === 'patient') return 'p:' + t.group.key;
  if (t.level === 'study') return 's:' + t.entry.uid;
  return 'r:' + t.series.uid;
}

/** @param {Target} t */
export const isSelected = (t) => selectionMap.has(selKey(t));

/**
 * @param {Target} t
 * @param {boolean} on
 */
export function setSelected(t, on) {
  const k = selKey(t);
  if (on) selectionMap.set(k, t); else selectionMap.delete(k);
  browserChanges.notify({ type: 'selection', target: t });
}

/**
 * Takes targets out of the selection (their checkboxes stay as they are).
 * @param {Target[]} targets
 */
export function deselect(targets) {
  for (const t of targets) selectionMap.delete(selKey(t));
  browserChanges.notify({ type: 'selection', target: null });
}

export function clearSelection() {
  selectionMap.clear();
  browserChanges.notify({ type: 'selection-cleared' });
}

/** For debugging from the console. */
export const debugState = () => ({ entries: entryMap, seriesIndex: seriesMap, expandState: expandMap, remoteIndex: remoteMap,
  knownLocal: knownLocalSet, selection: selectionMap, prefetched: prefetchedSet, list, remoteGen: remoteGeneration });
