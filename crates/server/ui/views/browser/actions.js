// @ts-check
// What can be done with patients, studies and series: from their menus and from the
// selection's toolbar.
import { api, enc, slicerUrl, viewerUrl } from '../../api.js';
import { h } from '../../lib/dom.js';
import { plural } from '../../lib/format.js';
import { toast } from '../../lib/toast.js';
import { deselect } from '../../state/browser.js';
import { submitJobs } from '../../state/jobs.js';
import { defaultSource } from '../../state/nodes.js';
import { loadSeries, seriesField, seriesTitle } from '../../state/series.js';
import { describe, isLocalTarget, isRetrievable, targetsDownloadUrl } from '../../state/targets.js';
import { confirmDialog, sendDialog } from '../dialogs.js';
import { openMetadata } from './metadata.js';
import { openAnonymize } from './anonymize.js';
import { openModify } from './modify.js';
import { openPreview } from './preview.js';

/** @typedef {import('../../state/browser.js').Target} Target */
/** @typedef {import('../../state/browser.js').StudyEntry} StudyEntry */
/** @typedef {import('../../state/browser.js').SeriesEntry} SeriesEntry */
/** @typedef {import('../../state/browser.js').Patient} Patient */
/** @typedef {import('../../api.js').JobSpec} JobSpec */
/** @typedef {import('../../api.js').StudyRow} StudyRow */
/** @typedef {import('../menu.js').MenuItem} MenuItem */

/**
 * A target's menu.
 * @param {Target} t
 * @returns {MenuItem[]}
 */
export function menuItems(t) {
  const local = isLocalTarget(t);
  const why = 'Not in the local store';
  const retrievable = isRetrievable(t);
  // On several nodes: retrieved from the default source, or from the one the user picks.
  const sources = t.level === 'patient' ? [] : [...(t.level === 'study' ? t.entry.remote : t.series.remote).keys()];
  const first = defaultSource(sources);
  const others = sources.length > 1 ? sources.filter((n) => n !== first) : [];
  return [
    { label: others.length ? `Retrieve from ${first}` : 'Retrieve', testid: 'action-retrieve', disabled: !retrievable,
      why: 'Nothing to retrieve (already local, or not found on a node)', run: () => actRetrieve([t]) },
    ...others.map((node) => ({ label: `Retrieve from ${node}`, testid: `action-retrieve-from-${node}`, disabled: !retrievable,
      why: 'Nothing to retrieve', run: () => actRetrieve([t], node) })),
    { label: 'Open in viewer', testid: 'action-view', disabled: !(local || (t.level === 'series' && viewable(t.series))), why, run: () => actView(t) },
    { label: 'Open preview', testid: 'action-preview', disabled: !local, why, run: () => actPreview(t) },
    { label: 'View metadata', testid: 'action-metadata', disabled: !local, why, run: () => actMetadata(t) },
    { label: 'Send to node…', testid: 'action-send', disabled: !local, why, run: () => actSend([t]) },
    { label: 'Open in 3D Slicer', testid: 'action-slicer', disabled: !local || !studyOf(t), why, href: studyOf(t) ? slicerUrl(/** @type {string} */ (studyOf(t))) : undefined },
    { label: 'Download as zip', testid: 'action-download', disabled: !local, why, href: targetsDownloadUrl([t]), download: true },
    { label: 'Download as media (DICOMDIR)', testid: 'action-download-media', disabled: !local, why, href: targetsDownloadUrl([t], true), download: true },
    ...(t.level !== 'series' ? [{ label: t.level === 'patient' ? 'Modify patient…' : 'Modify study…', testid: 'action-modify', disabled: !local, why, run: () => openModify(t) }] : []),
    { label: 'De-identify…', testid: 'action-anonymize', disabled: !local, why, run: () => openAnonymize(t) },
    { label: 'Delete from local store…', testid: 'action-delete', disabled: !local, why, danger: true, run: () => actDelete([t]) },
  ];
}

/** @param {unknown} reason */
const messageOf = (reason) => (reason instanceof Error ? reason.message : String(reason));

/**
 * The node to retrieve from: the one asked for when it has the data, else the default source.
 * @param {ReadonlyMap<string, unknown>} found node → its row
 * @param {string} [from]
 */
const sourceAmong = (found, from) => (from && found.has(from) ? from : defaultSource(found.keys()));

/**
 * @param {StudyEntry} e
 * @param {JobSpec[]} specs
 * @param {string} [from]
 */
function retrieveSpecsForStudy(e, specs, from) {
  const node = sourceAmong(e.remote, from);
  if (!node) return;
  if (e.seriesLoaded && e.local) {
    for (const s of e.series.values()) retrieveSpecsForSeries(s, specs, from);
  } else specs.push({ kind: 'retrieve', node, study_uid: e.uid });
}

/**
 * @param {SeriesEntry} s
 * @param {JobSpec[]} specs
 * @param {string} [from]
 */
function retrieveSpecsForSeries(s, specs, from) {
  const node = sourceAmong(s.remote, from);
  if (!node || !isRetrievable({ level: 'series', series: s })) return;
  specs.push({ kind: 'retrieve', node, study_uid: s.studyUid, series_uid: s.uid });
}

/**
 * Retrieves what is not local yet (of a study partly local: series by series), from `from`
 * where it has the data, else from each one's default source.
 * @param {Target[]} targets
 * @param {string} [from]
 */
export async function actRetrieve(targets, from) {
  /** @type {JobSpec[]} */
  const specs = [];
  for (const t of targets) {
    if (t.level === 'series') retrieveSpecsForSeries(t.series, specs, from);
    else if (t.level === 'study') retrieveSpecsForStudy(t.entry, specs, from);
    else for (const e of t.group.entries) retrieveSpecsForStudy(e, specs, from);
  }
  const uniq = [...new Map(specs.map((s) => [JSON.stringify(s), s])).values()];
  if (!uniq.length) { toast('Nothing to retrieve: already local, or not found on a searched node.'); return; }
  const { ok, failed } = await submitJobs(uniq);
  if (failed.length) toast(`Queued ${ok} retrieve job(s); ${failed.length} failed: ${messageOf(failed[0].reason)}`, 'error');
  else toast(`Queued ${plural(ok, 'retrieve job')}.`, 'ok');
}

/**
 * The patient's local studies (every one, not only those shown).
 * @param {Patient} p
 * @returns {Promise<StudyRow[]>}
 */
async function patientStudies(p) {
  const r = await api(`/api/studies?order=patient&limit=500&patient_id=${enc(p.PatientID || '')}`);
  return /** @type {StudyRow[]} */ ((r && r.studies) || []).filter((s) => (s.PatientID || '') === (p.PatientID || ''));
}

/**
 * Sends local data to a node chosen in the send dialog.
 * @param {Target[]} targets
 */
export async function actSend(targets) {
  const local = targets.filter(isLocalTarget);
  if (!local.length) { toast('Only local data can be sent.'); return; }
  const node = await sendDialog(h('div', null, h('p', null, 'Send to a node:'), h('ul', null, local.map((t) => h('li', null, describe(t))))));
  if (!node) return;
  /** @type {JobSpec[]} */
  const specs = [];
  for (const t of local) {
    if (t.level === 'series') specs.push({ kind: 'send', node, study_uid: t.series.studyUid, series_uid: t.series.uid });
    else if (t.level === 'study') specs.push({ kind: 'send', node, study_uid: t.entry.uid });
    else for (const s of await patientStudies(t.group.patient)) specs.push({ kind: 'send', node, study_uid: s.StudyInstanceUID });
  }
  const { ok, failed } = await submitJobs(specs);
  if (failed.length) toast(`Queued ${ok} send job(s); ${failed.length} failed: ${messageOf(failed[0].reason)}`, 'error');
  else toast(`Queued ${plural(ok, 'send job')} to ${node}.`, 'ok');
}

/**
 * Deletes local data, once confirmed.
 * @param {Target[]} targets
 */
export async function actDelete(targets) {
  const local = targets.filter(isLocalTarget);
  if (!local.length) { toast('Nothing local to delete.'); return; }
  const body = h('div', null,
    h('p', null, local.length === 1 ? 'This will delete from the local store:' : `This will delete ${local.length} items from the local store:`),
    h('ul', null, local.map((t) => h('li', null, describe(t) + (t.level === 'patient' ? ': all of this patient\'s local studies' : '')))),
    h('p', { class: 'muted' }, 'Files linked in place are only removed from the index. Remote copies are not affected.'));
  const ok = await confirmDialog({ title: 'Delete from local store', body, ok: 'Delete' });
  if (!ok) return;
  /** @type {JobSpec[]} */
  const specs = local.map((t) => ({ kind: 'delete', target: t.level === 'patient' ? { level: 'patient', uid: t.group.patient.PatientID || '' }
    : t.level === 'study' ? { level: 'study', uid: t.entry.uid } : { level: 'series', uid: t.series.uid } }));
  const r = await submitJobs(specs);
  deselect(local);
  if (r.failed.length) toast(`Delete failed: ${messageOf(r.failed[0].reason)}`, 'error');
  else toast(`Deleting ${plural(r.ok, 'item')}…`, 'ok');
}

/**
 * Downloads the local targets as one zip (`media`: ISO 9660 names and a DICOMDIR).
 * @param {Target[]} targets
 * @param {boolean} [media]
 */
export function actDownload(targets, media = false) {
  const local = targets.filter(isLocalTarget);
  if (!local.length) { toast('Only local data can be downloaded.'); return; }
  if (local.length < targets.length) toast(`Downloading the ${plural(local.length, 'local item')}; the others are not here.`);
  const a = h('a', { href: targetsDownloadUrl(local, media), download: '' });
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

/**
 * The first local series of a target (loading the study when needed).
 * @param {Target} t
 * @returns {Promise<SeriesEntry | null>}
 */
async function firstLocalSeries(t) {
  if (t.level === 'series') return t.series;
  const studies = t.level === 'study' ? [t.entry] : t.group.entries.filter((e) => e.local);
  for (const e of studies) {
    if (!e.seriesLoaded) await loadSeries(e);
    const list = [...e.series.values()].filter((s) => s.local && Number(s.local.NumberOfSeriesRelatedInstances) > 0);
    list.sort((a, b) => Number(seriesField(a, 'SeriesNumber') || 0) - Number(seriesField(b, 'SeriesNumber') || 0));
    if (list.length) return list[0];
  }
  return null;
}

/** @param {Target} t */
async function actMetadata(t) {
  const s = await firstLocalSeries(t);
  if (!s) { toast('No local series to show.'); return; }
  openMetadata(s.uid, seriesTitle(s));
}

/**
 * The study a target lies in (none for a patient: Slicer takes one study at a time).
 * @param {Target} t
 * @returns {string | null}
 */
function studyOf(t) {
  if (t.level === 'series') return t.series.studyUid;
  if (t.level === 'study') return t.entry.uid;
  return null;
}

/** @param {Target} t */
async function actView(t) {
  const s = t.level === 'series' ? t.series : await firstLocalSeries(t);
  if (!s) { toast('No local series to view.'); return; }
  openViewer(s);
}

/**
 * Goes to the viewer page of a series (at the image set holding `instance`, if given); one
 * that is not all here is retrieved from a node that has it while it is shown.
 * @param {SeriesEntry} s
 * @param {string | null} [instance]
 */
export function openViewer(s, instance = null) {
  const here = s.local ? Number(s.local.NumberOfSeriesRelatedInstances) || 0 : 0;
  const elsewhere = [...s.remote.entries()].find(([, row]) => (Number(row.NumberOfSeriesRelatedInstances) || 0) > here);
  location.assign(viewerUrl(s.studyUid, s.uid, elsewhere ? elsewhere[0] : null, instance));
}

/** Whether a series can be opened in the viewer: it is here or on a node. @param {SeriesEntry} s */
export const viewable = (s) => !!s.local || s.remote.size > 0;

/** @param {Target} t */
async function actPreview(t) {
  const s = await firstLocalSeries(t);
  if (!s) { toast('No local series to preview.'); return; }
  openPreview(s.uid, seriesTitle(s));
}
