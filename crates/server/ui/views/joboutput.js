// @ts-check
// A job's specification and output in words and tables, one reader per kind: what an import
// skipped and why, what a send sent and what failed, what an association brought. Unknown
// shapes fall back to their JSON.
import { h } from '../lib/dom.js';
import { fmtBytes, fmtNum, fullTime, plural } from '../lib/format.js';

/** @typedef {import('../api.js').Job} Job */
/** @typedef {import('../lib/dom.js').Child} Child */
/** @typedef {Record<string, any>} Obj */

/** Rows a table shows before it says how many more there are. */
const ROWS = 500;

/**
 * A definition list of the pairs that have a value.
 * @param {[string, Child][]} pairs
 * @param {string} [testid]
 */
export function pairs(pairs, testid) {
  return h('dl', { testid }, pairs.filter(([, v]) => v !== '' && v != null && v !== false)
    .map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

/**
 * A table of rows (each a list of cells), the first {@link ROWS} of them.
 * @param {string} testid
 * @param {{ label: string, num?: boolean, uid?: boolean }[]} columns
 * @param {Child[][]} rows
 * @param {number} [total] how many there are (when more than `rows` were kept)
 */
function table(testid, columns, rows, total = rows.length) {
  const shown = rows.slice(0, ROWS);
  const cls = (/** @type {{ num?: boolean, uid?: boolean }} */ c) => (c.num ? 'num' : c.uid ? 'uid' : undefined);
  return h('div', { class: 'detail-table-wrap' },
    h('table', { class: 'detail-table', testid },
      h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.num ? 'num' : undefined, scope: 'col' }, c.label)))),
      h('tbody', null, shown.map((r) => h('tr', null, r.map((cell, i) => h('td', { class: cls(columns[i] || {}) }, cell)))))),
    total > shown.length ? h('p', { class: 'muted small-text' }, `${fmtNum(total - shown.length)} more not shown.`) : null);
}

/** @param {boolean | undefined} b */
const yes = (b) => (b ? 'yes' : '');

/** @param {Obj} association */
const associationPairs = (association) => /** @type {[string, Child][]} */ ([
  ['Calling AE title', association && association.calling_ae_title],
  ['Timeout', association && association.timeout_seconds ? `${association.timeout_seconds} s` : ''],
]);

/**
 * A query's filters: "patient_name = DOE*; modalities = CT, MR".
 * @param {Obj} q
 */
const queryFilters = (q) => Object.entries(q)
  .filter(([k, v]) => !['level', 'patient_root', 'cascade'].includes(k) && v != null && v !== '' && !(Array.isArray(v) && !v.length))
  .map(([k, v]) => `${k.replace(/_/g, ' ')} = ${Array.isArray(v) ? v.join(', ') : v}`).join('; ');

/**
 * "12 jobs: 10 done, 1 active, 1 failed"
 * @param {import('../api.js').ChildCounts} c
 */
export function childSummary(c) {
  const parts = [];
  if (c.completed) parts.push(`${fmtNum(c.completed)} done`);
  if (c.active) parts.push(`${fmtNum(c.active)} active`);
  if (c.failed) parts.push(`${fmtNum(c.failed)} failed`);
  if (c.canceled) parts.push(`${fmtNum(c.canceled)} canceled`);
  return `${plural(c.total, 'job')}${parts.length ? ': ' + parts.join(', ') : ''}`;
}

/**
 * What a job does, in words (`null` when its output tells it).
 * @param {Job} j
 * @returns {Child}
 */
export function describeSpec(j) {
  const sp = /** @type {Obj} */ (j.spec || {});
  const assoc = associationPairs(sp.association);
  switch (sp.kind) {
    case 'import':
      return [pairs([['Linked (files left in place)', yes(sp.link)]]),
        table('job-spec-paths', [{ label: 'Path' }], (sp.paths || []).map((/** @type {string} */ p) => [p]))];
    case 'query':
      return pairs([['Node', sp.node], ['Level', sp.query && sp.query.level],
        ['Matching', queryFilters(sp.query || {})], ['Each match queried further', yes(sp.query && sp.query.cascade)], ...assoc]);
    case 'retrieve':
      return pairs([['Node', sp.node], ['Study', sp.study_uid], ['Series', sp.series_uid], ['Instance', sp.sop_instance_uid],
        ['Preview first', yes(sp.preview_first)], ['Preview only', yes(sp.preview_only)], ...assoc]);
    case 'send':
      return [pairs([['Node', sp.node], ['Study', sp.study_uid], ['Series', sp.series_uid], ...assoc]),
        sp.paths && sp.paths.length ? table('job-spec-paths', [{ label: 'Path' }], sp.paths.map((/** @type {string} */ p) => [p])) : null];
    case 'thumbnail':
      return pairs([['Series', sp.series_uid], ['Size', sp.size ? `${sp.size} px` : '']]);
    case 'echo':
      return pairs([['Node', sp.node], ...assoc]);
    case 'delete':
      return pairs([['What', sp.target ? `${sp.target.level} ${sp.target.uid}` : '']]);
    case 'modify':
      return [pairs([['What', sp.target ? `${sp.target.level} ${sp.target.uid}` : ''], ['New UIDs', yes(sp.new_uids)],
        ['Original kept', sp.new_uids ? yes(sp.keep_source !== false) : '']]),
      Object.keys(sp.set || {}).length || (sp.remove || []).length
        ? table('job-modify-changes', [{ label: 'Attribute' }, { label: 'Becomes' }],
          [...Object.entries(sp.set || {}).map(([k, v]) => [k, String(v)]), ...(sp.remove || []).map((/** @type {string} */ k) => [k, '(removed)'])])
        : null];
    case 'anonymize':
      return [pairs([['What', sp.target ? `${sp.target.level} ${sp.target.uid}` : ''], ['To', destinationText(sp.destination)],
        ['Options', (sp.options || []).length ? sp.options.join(', ') : 'the basic profile only'],
        ['Project key', sp.project_key || 'the data directory\'s'], ['Pseudonyms kept in', sp.pseudonyms],
        ['Safe private attributes from', sp.safe_private], ['Rectangles blanked', rectsText(sp.blank)]]),
      (sp.pseudonym_rows || []).length ? table('job-spec-pseudonyms', [{ label: 'Patient ID' }, { label: 'Becomes' }, { label: 'Name' }],
        sp.pseudonym_rows.map((/** @type {Obj} */ p) => [p.source, p.patient_id, p.patient_name || ''])) : null];
    case 'receive':
      // Its output says it all (and more), from the same association.
      return j.output != null ? null
        : pairs([['Calling AE title', sp.calling_ae_title], ['From', sp.peer], ['Known node', sp.node], ['Established', fullTime(sp.started_at)]]);
    default:
      return h('pre', null, JSON.stringify(sp, null, 2));
  }
}

/**
 * What a job did, in words and tables (`null` when it has no output).
 * @param {Job} j
 * @returns {Child}
 */
export function describeOutput(j) {
  const out = /** @type {any} */ (j.output);
  if (out == null) return null;
  switch (j.kind) {
    case 'import': return importOutput(out);
    case 'send': return sendOutput(out);
    case 'retrieve': return retrieveOutput(out);
    case 'receive': return receiveOutput(out);
    case 'query': return queryOutput(out);
    case 'modify':
      return [pairs([['Instances', fmtNum(out.instances)], ['Originals kept', yes(out.source_kept)]], 'job-summary'),
        table('job-modified-studies', [{ label: 'Study', uid: true }, { label: 'Now', uid: true }],
          (out.studies || []).map((/** @type {Obj} */ s) => [s.from, s.to === s.from ? '(same UIDs)' : s.to]))];
    case 'anonymize': return anonymizeOutput(out);
    case 'thumbnail':
      return pairs([['Series', out.series_uid], ['Size', out.size ? `${out.size} px` : ''], ['Image', out.bytes != null ? fmtBytes(out.bytes) : '']]);
    case 'echo':
      return pairs([['Node', out.node], ['Address', out.address], ['Round trip', out.round_trip_ms != null ? `${Number(out.round_trip_ms).toFixed(1)} ms` : '']]);
    case 'delete':
      return [pairs([['Patients', fmtNum(out.patients)], ['Studies', fmtNum(out.studies)], ['Series', fmtNum(out.series)],
        ['Instances', fmtNum(out.instances)], ['Files deleted', fmtNum(out.files_deleted)], ['Linked files kept', fmtNum(out.linked_files_kept)]]),
      (out.files_not_deleted || []).length ? [h('h4', null, 'Files not deleted'),
        table('job-not-deleted', [{ label: 'File and reason' }], out.files_not_deleted.map((/** @type {string} */ f) => [f]))] : null];
    default:
      return h('pre', null, JSON.stringify(out, null, 2));
  }
}

/** @param {Obj} out */
function importOutput(out) {
  const skipped = out.skipped || [];
  return [
    pairs([['Imported', fmtNum(out.imported)], ['Already stored', fmtNum(out.duplicates)], ['Skipped', fmtNum(skipped.length)]], 'job-summary'),
    skipped.length ? [h('h4', null, 'Skipped files'),
      table('job-skipped', [{ label: 'File' }, { label: 'Reason' }], skipped.map((/** @type {Obj} */ s) => [s.path, s.reason]))] : null,
  ];
}

/**
 * Where a de-identified copy goes, in words.
 * @param {Obj | undefined} d
 */
const destinationText = (d) => (!d ? '' : d.to === 'local' ? 'new studies in the local store'
  : d.to === 'node' ? `sent to ${d.at}` : `${d.to === 'zip' ? 'a zip' : 'a folder'}: ${d.at}`);

/** "0,0,512,40; …" @param {Obj[] | undefined} rects */
const rectsText = (rects) => (rects || []).map((r) => `${r.x},${r.y},${r.width},${r.height}`).join('; ');

/** How an attribute can be treated, in the report's order. */
const OUTCOMES = ['removed', 'emptied', 'replaced', 'new UID', 'date shifted', 'cleaned', 'added'];

/** @param {Obj} out */
function anonymizeOutput(out) {
  const studies = out.studies || [];
  /** Attribute → outcome → times, over every study. @type {Map<string, Map<string, number>>} */
  const changed = new Map();
  for (const s of studies) {
    for (const [attribute, outcomes] of Object.entries(s.changed || {})) {
      const row = changed.get(attribute) || new Map();
      for (const [outcome, n] of Object.entries(/** @type {Obj} */ (outcomes))) row.set(outcome, (row.get(outcome) || 0) + Number(n));
      changed.set(attribute, row);
    }
  }
  const seen = OUTCOMES.filter((o) => [...changed.values()].some((row) => row.has(o)));
  const privateRemoved = studies.reduce((/** @type {number} */ n, /** @type {Obj} */ s) => n + (Number(s.private_removed) || 0), 0);
  const burnedIn = out.burned_in || [];
  return [
    pairs([['Instances', fmtNum(out.instances)], ['To', out.destination === 'local' ? 'the local store' : out.destination],
      ['Options', (out.options || []).length ? out.options.join(', ') : 'the basic profile only'],
      ['Private elements removed', fmtNum(privateRemoved)], ['Rectangles blanked', rectsText(out.blanked)],
      ['May show burned-in text', burnedIn.length ? plural(burnedIn.length, 'image') : ''],
      ['Refused by the node', out.send_failures ? fmtNum(out.send_failures) : '']], 'job-summary'),
    table('job-anonymized-studies', [{ label: 'Study', uid: true }, { label: 'Now', uid: true }, { label: 'Patient ID' },
      { label: 'Patient\'s Name' }, { label: 'Instances', num: true }],
    studies.map((/** @type {Obj} */ s) => [s.source_study, s.StudyInstanceUID, s.PatientID, s.PatientName, fmtNum(s.instances)])),
    burnedIn.length ? [h('h4', null, 'Images that may show burned-in text'),
      table('job-burned-in', [{ label: 'Instance', uid: true }, { label: 'Series', uid: true }, { label: 'Why' }],
        burnedIn.map((/** @type {Obj} */ b) => [b.SOPInstanceUID, b.SeriesInstanceUID, b.why]))] : null,
    changed.size ? [h('h4', null, `What was changed (${plural(changed.size, 'attribute')})`),
      table('job-deid-changes', [{ label: 'Attribute' }, ...seen.map((o) => ({ label: o, num: true }))],
        [...changed.entries()].map(([attribute, row]) => [attribute, ...seen.map((o) => (row.has(o) ? fmtNum(row.get(o) || 0) : ''))]))] : null,
  ];
}

/** @param {Obj} out */
function sendOutput(out) {
  const instances = out.instances || [];
  /** @param {Obj} i */
  const name = (i) => i.sop_instance_uid || i.path || '';
  /** @param {Obj} i */
  const status = (i) => (i.status != null ? '0x' + Number(i.status).toString(16).padStart(4, '0').toUpperCase() : '');
  const failures = instances.filter((/** @type {Obj} */ i) => i.error);
  return [
    pairs([['Sent', fmtNum(out.sent)], ['With warnings', fmtNum(out.warnings)], ['Failed', fmtNum(out.failed)],
      ['Converted for the peer', fmtNum(out.transcoded)]], 'job-summary'),
    failures.length ? [h('h4', null, 'Not sent'),
      table('job-send-failures', [{ label: 'Instance', uid: true }, { label: 'Status' }, { label: 'Reason' }],
        failures.map((/** @type {Obj} */ i) => [name(i), status(i), i.error]))] : null,
    instances.length ? h('details', null, h('summary', null, `Every instance (${fmtNum(instances.length)})`),
      table('job-send-instances', [{ label: 'Instance', uid: true }, { label: 'Status' }, { label: 'Sent as' }, { label: 'Converted' }],
        instances.map((/** @type {Obj} */ i) => [name(i), status(i), i.transfer_syntax || '', yes(i.transcoded)]))) : null,
  ];
}

/** @param {Obj} out */
function retrieveOutput(out) {
  if (out.middle_instance) {
    return pairs([['Preview instance', out.middle_instance], ['Instances in the series', fmtNum(out.instances)]], 'job-summary');
  }
  const errors = out.errors || [];
  return [
    pairs([['Expected', fmtNum(out.expected)], ['Stored', fmtNum(out.stored)], ['Already stored', fmtNum(out.duplicates)],
      ['Failed', fmtNum(out.failed)], ['With warnings', fmtNum(out.warnings)],
      ['Final status', out.status ? '0x' + Number(out.status).toString(16).padStart(4, '0').toUpperCase() : '']], 'job-summary'),
    errors.length ? [h('h4', null, 'Errors'), table('job-errors', [{ label: 'Error' }], errors.map((/** @type {string} */ e) => [e]))] : null,
  ];
}

/** @param {Obj} out */
function receiveOutput(out) {
  const series = out.series || [];
  const refusals = out.refusals || [];
  return [
    pairs([['Calling AE title', out.calling_ae_title], ['Called AE title', out.called_ae_title], ['From', out.peer], ['Known node', out.node],
      ['Stored', fmtNum(out.stored)], ['Already stored', fmtNum(out.duplicates)], ['Refused', fmtNum(out.refused)],
      ['Data', fmtBytes(out.bytes || 0)], ['Association', out.ended]], 'job-summary'),
    series.length ? [h('h4', null, plural(series.length, 'series', 'series')),
      table('job-received-series', [{ label: 'Series' }, { label: 'Patient and study' }, { label: 'Instances', num: true }, { label: 'Series UID', uid: true }],
        series.map((/** @type {Obj} */ s) => [s.series || '', s.study || '', fmtNum(s.instances), s.series_uid]))] : null,
    refusals.length ? [h('h4', null, 'Refused instances'),
      table('job-refusals', [{ label: 'Instance', uid: true }, { label: 'Reason' }],
        refusals.map((/** @type {Obj} */ r) => [r.sop_instance_uid, r.reason]), out.refused)] : null,
  ];
}

/**
 * A match's value as text (person names by their alphabetic group).
 * @param {unknown} v
 */
const cellText = (v) => (v == null ? '' : typeof v === 'object' ? String(/** @type {Obj} */ (v).Alphabetic ?? JSON.stringify(v)) : String(v));

/** @param {unknown} out */
function queryOutput(out) {
  if (!Array.isArray(out)) return h('pre', null, JSON.stringify(out, null, 2));
  /** @type {string[]} */
  const keys = [];
  for (const m of out.slice(0, 50)) for (const k of Object.keys(m || {})) if (!keys.includes(k)) keys.push(k);
  const shownKeys = keys.slice(0, 8);
  return [
    pairs([['Matches', fmtNum(out.length)]], 'job-summary'),
    out.length ? table('job-matches', shownKeys.map((k) => ({ label: k })), out.map((m) => shownKeys.map((k) => cellText(m && m[k])))) : null,
  ];
}
