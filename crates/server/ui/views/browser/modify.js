// @ts-check
// The modify dialog: a patient's or a study's attributes changed in every instance, as a
// `modify` job (fix a Patient ID, merge two patients, correct a description).
import { $, $$ } from '../../lib/dom.js';
import { toast } from '../../lib/toast.js';
import { submitJobs } from '../../state/jobs.js';
import { describe } from '../../state/targets.js';

/** @typedef {import('../../state/browser.js').Target} Target */

/** @type {HTMLDialogElement} */
const dlg = $('#modify-dialog');
/** The target and the values it had. @type {{ target: Target, before: Record<string, string> } | null} */
let open = null;
/** @param {string} sel */
const input = (sel) => /** @type {HTMLInputElement} */ ($(sel));

/** Field → DICOM keyword. */
const FIELDS = /** @type {const} */ ([
  ['#modify-patient-name', 'PatientName'],
  ['#modify-patient-id', 'PatientID'],
  ['#modify-study-description', 'StudyDescription'],
  ['#modify-accession', 'AccessionNumber'],
]);

/**
 * Opens the dialog for a patient or a study.
 * @param {Target} t
 */
export function openModify(t) {
  if (t.level === 'series') return;
  const data = t.level === 'patient' ? t.group.patient : t.entry.data;
  /** @type {Record<string, string>} */
  const before = {};
  for (const [sel, keyword] of FIELDS) {
    const value = /** @type {Record<string, unknown>} */ (data)[keyword];
    before[keyword] = value == null ? '' : String(value);
    input(sel).value = before[keyword];
  }
  for (const el of $$('.study-only', dlg)) el.hidden = t.level !== 'study';
  input('#modify-new-uids').checked = false;
  $('#modify-dialog-title').textContent = t.level === 'patient' ? 'Modify patient' : 'Modify study';
  $('#modify-what').textContent = describe(t);
  $('#modify-error').hidden = true;
  open = { target: t, before };
  dlg.showModal();
  input('#modify-patient-name').focus();
}

/** @param {Event} ev */
async function submit(ev) {
  ev.preventDefault();
  if (!open) return;
  const { target, before } = open;
  /** @type {Record<string, string>} */
  const set = {};
  for (const [sel, keyword] of FIELDS) {
    const el = input(sel);
    if (el.closest('[hidden]')) continue;
    if (el.value.trim() !== before[keyword]) set[keyword] = el.value.trim();
  }
  const newUids = input('#modify-new-uids').checked;
  const error = $('#modify-error');
  if (!Object.keys(set).length && !newUids) {
    error.textContent = 'Nothing changed.';
    error.hidden = false;
    return;
  }
  if (set.PatientID === '') {
    error.textContent = 'A patient needs an ID.';
    error.hidden = false;
    return;
  }
  /** @type {import('../../api.js').JobSpec} */
  const spec = {
    kind: 'modify',
    target: target.level === 'patient'
      ? { level: 'patient', uid: before.PatientID }
      : { level: 'study', uid: target.level === 'study' ? target.entry.uid : '' },
    set, new_uids: newUids,
  };
  const r = await submitJobs([spec]);
  if (r.failed.length) {
    const reason = r.failed[0].reason;
    error.textContent = reason instanceof Error ? reason.message : String(reason);
    error.hidden = false;
    return;
  }
  dlg.close();
  toast(`Modifying ${describe(target)}…`, 'ok');
}

export function initModify() {
  $('#modify-form').addEventListener('submit', submit);
  $('#modify-cancel').addEventListener('click', () => dlg.close());
}
