// @ts-check
// What can be done with a target (a patient, a study or a series on the browser page).
import { downloadUrl } from '../api.js';
import { fmtDA, fmtPN, plural } from '../lib/format.js';
import { entries, seriesIndex } from './browser.js';
import { seriesDesc, seriesField, seriesState, seriesTitle } from './series.js';

/** @typedef {import('./browser.js').Target} Target */
/** @typedef {import('../api.js').JobSpec} JobSpec */

/**
 * What the page knows of a job's patient, study and series, as DICOM writes them, for its title
 * (the server words it, and names what its index holds itself; a remote study only the page
 * can name).
 * @param {JobSpec} spec
 * @returns {Record<string, string> | null}
 */
export function jobSubject(spec) {
  const s = spec.series_uid ? seriesIndex.get(spec.series_uid) : undefined;
  const e = (spec.study_uid && entries.get(spec.study_uid)) || (s && s.study) || undefined;
  if (!e && !s) return null;
  const d = e ? e.data : {};
  /** @type {Record<string, unknown>} */
  const fields = {
    patient_name: d.PatientName, study_date: d.StudyDate, study_description: d.StudyDescription,
    series_number: s ? seriesField(s, 'SeriesNumber') : null, series_description: s ? seriesDesc(s) : null,
    modality: s ? seriesField(s, 'Modality') : null,
  };
  /** @type {Record<string, string>} */
  const out = {};
  for (const [k, v] of Object.entries(fields)) if (v != null && v !== '') out[k] = String(v);
  return out;
}

/**
 * A target for a sentence ("study 2024-01-02 CT chest of Doe, John").
 * @param {Target} t
 */
export function describe(t) {
  if (t.level === 'patient') { const p = t.group.patient; return `patient ${fmtPN(p.PatientName) || '(no name)'} (ID ${p.PatientID || '—'})`; }
  if (t.level === 'study') {
    const d = t.entry.data;
    return `study ${fmtDA(d.StudyDate) || ''} ${d.StudyDescription || '(no description)'} of ${fmtPN(d.PatientName) || d.PatientID || 'unknown patient'}`.replace(/\s+/g, ' ');
  }
  const s = t.series;
  return `series ${seriesTitle(s)} (${plural(seriesState(s).localCount, 'local image')})`;
}

/**
 * Whether the target has anything in the local store.
 * @param {Target} t
 * @returns {boolean}
 */
export function isLocalTarget(t) {
  if (t.level === 'patient') return t.group.entries.some((e) => e.local);
  if (t.level === 'study') return !!t.entry.local;
  return !!(t.series.local && Number(t.series.local.NumberOfSeriesRelatedInstances) > 0);
}

/**
 * Whether a node has anything of the target that is not local yet.
 * @param {Target} t
 * @returns {boolean}
 */
export function isRetrievable(t) {
  if (t.level === 'patient') return t.group.entries.some((e) => isRetrievable({ level: 'study', entry: e }));
  if (t.level === 'study') {
    const e = t.entry;
    if (!e.remote.size) return false;
    if (!e.seriesLoaded) return true;
    return [...e.series.values()].some((s) => isRetrievable({ level: 'series', series: s }));
  }
  const st = seriesState(t.series);
  return t.series.remote.size > 0 && ['remote', 'partial', 'failed'].includes(st.state);
}

/**
 * One zip of targets (`media`: with ISO 9660 names and a DICOMDIR).
 * @param {Target[]} targets
 * @param {boolean} [media]
 */
export function targetsDownloadUrl(targets, media = false) {
  /** @type {{ patient: string[], study: string[], series: string[] }} */
  const what = { patient: [], study: [], series: [] };
  for (const t of targets) {
    if (t.level === 'patient') what.patient.push(t.group.patient.PatientID || '');
    else if (t.level === 'study') what.study.push(t.entry.uid);
    else what.series.push(t.series.uid);
  }
  return downloadUrl(what, media);
}
