// @ts-check
// The de-identify dialog: a de-identified copy of a patient, a study or a series (PS3.15
// Annex E, the basic profile and the options ticked), as an `anonymize` job, into the local
// store as new studies or sent to a node. The patient's pseudonym is the one given here, else
// the one the data directory keeps for this patient, else a new one.
import { $, h, setChildren } from '../../lib/dom.js';
import { getSetting, setSetting } from '../../lib/settings.js';
import { toast } from '../../lib/toast.js';
import { submitJobs } from '../../state/jobs.js';
import { getNodes } from '../../state/nodes.js';
import { describe } from '../../state/targets.js';
import { checkedOptions, renderOptions } from '../deidoptions.js';

/** @typedef {import('../../state/browser.js').Target} Target */
/** @typedef {import('../../api.js').JobSpec} JobSpec */
/** @typedef {{ x: number, y: number, width: number, height: number }} Rect */

/** @type {HTMLDialogElement} */
const dlg = $('#anonymize-dialog');
/** @type {Target | null} */
let open = null;
/** @param {string} sel */
const input = (sel) => /** @type {HTMLInputElement} */ ($(sel));

/**
 * The source Patient ID of a target.
 * @param {Target} t
 */
function patientIdOf(t) {
  if (t.level === 'patient') return t.group.patient.PatientID || '';
  const data = t.level === 'study' ? t.entry.data : t.series.study.data;
  return data.PatientID == null ? '' : String(data.PatientID);
}

/**
 * Rectangles written "x,y,width,height; x,y,width,height", or the reason they are not.
 * @param {string} text
 * @returns {Rect[] | string}
 */
export function parseRects(text) {
  /** @type {Rect[]} */
  const rects = [];
  for (const part of text.split(';').map((p) => p.trim()).filter(Boolean)) {
    const n = part.split(',').map((v) => v.trim());
    if (n.length !== 4 || !n.every((v) => /^\d+$/.test(v))) return `"${part}" is not x,y,width,height in pixels`;
    const [x, y, width, height] = n.map(Number);
    if (!width || !height) return `"${part}" is empty`;
    rects.push({ x, y, width, height });
  }
  return rects;
}

/**
 * Opens the dialog for a local patient, study or series.
 * @param {Target} t
 */
export function openAnonymize(t) {
  open = t;
  $('#anonymize-what').textContent = describe(t);
  const source = patientIdOf(t);
  $('#anonymize-source-id').textContent = source || '(none)';
  input('#anonymize-patient-id').value = '';
  input('#anonymize-patient-name').value = '';
  input('#anonymize-blank').value = '';
  renderOptions($('#anonymize-options'), 'anonymize-option', getSetting('deidOptions', /** @type {string[]} */ ([])));
  /** @type {HTMLSelectElement} */
  const to = $('#anonymize-to');
  setChildren(to, h('option', { value: '' }, 'New studies in the local store'),
    getNodes().filter((n) => n.send_target).map((n) => h('option', { value: n.name }, `Send to ${n.name}`)));
  $('#anonymize-error').hidden = true;
  dlg.showModal();
  to.focus();
}

/** @param {Event} ev */
async function submit(ev) {
  ev.preventDefault();
  if (!open) return;
  const target = open;
  const error = $('#anonymize-error');
  /** @param {string} text */
  const fail = (text) => { error.textContent = text; error.hidden = false; };
  const blank = parseRects(input('#anonymize-blank').value);
  if (typeof blank === 'string') { fail(`Rectangles to blank: ${blank}.`); return; }
  const options = checkedOptions($('#anonymize-options'));
  const node = /** @type {HTMLSelectElement} */ ($('#anonymize-to')).value;
  const source = patientIdOf(target);
  const patientId = input('#anonymize-patient-id').value.trim();
  const patientName = input('#anonymize-patient-name').value.trim();
  if (patientName && !patientId) { fail('A pseudonym needs a Patient ID; the name alone is not enough.'); return; }
  /** @type {JobSpec} */
  const spec = {
    kind: 'anonymize',
    target: target.level === 'patient' ? { level: 'patient', uid: source }
      : target.level === 'study' ? { level: 'study', uid: target.entry.uid } : { level: 'series', uid: target.series.uid },
    options,
    destination: node ? { to: 'node', at: node } : { to: 'local' },
    pseudonym_rows: patientId ? [{ source, patient_id: patientId, patient_name: patientName }] : [],
    blank,
  };
  const r = await submitJobs([spec]);
  if (r.failed.length) {
    const reason = r.failed[0].reason;
    fail(reason instanceof Error ? reason.message : String(reason));
    return;
  }
  setSetting('deidOptions', options);
  dlg.close();
  toast(`De-identifying ${describe(target)}${node ? ` for ${node}` : ''}…`, 'ok');
}

export function initAnonymize() {
  $('#anonymize-form').addEventListener('submit', submit);
  $('#anonymize-cancel').addEventListener('click', () => dlg.close());
}
