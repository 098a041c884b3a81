// @ts-check
// The options of PS3.15 Annex E's Basic Application Level Confidentiality Profile, as
// checkboxes: shared by the de-identify dialog and the routing rules' form. The server names
// them and checks them again (the CLI's `--option`).
import { $$, h, setChildren } from '../lib/dom.js';

/** Option name → what it keeps or cleans, in words. */
const OPTIONS = /** @type {const} */ ([
  ['retain-dates', 'Retain longitudinal temporal information, dates shifted consistently per patient'],
  ['retain-full-dates', 'Retain longitudinal temporal information with full dates'],
  ['retain-patient-characteristics', 'Retain patient characteristics (sex, age, size, weight…)'],
  ['retain-device-identity', 'Retain device identity'],
  ['retain-institution-identity', 'Retain institution identity'],
  ['retain-uids', 'Retain UIDs'],
  ['clean-descriptors', 'Clean descriptors (descriptions kept, identifiers in them scrubbed)'],
  ['clean-structured-content', 'Clean structured content'],
  ['clean-graphics', 'Clean graphics'],
]);

/**
 * Fills `container` with one checkbox per option, those in `checked` ticked.
 * @param {HTMLElement} container
 * @param {string} prefix for the checkboxes' test ids (`${prefix}-${name}`)
 * @param {readonly string[]} [checked]
 */
export function renderOptions(container, prefix, checked = []) {
  setChildren(container, OPTIONS.map(([name, label]) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', value: name, checked: checked.includes(name), testid: `${prefix}-${name}` }), ` ${label}`)));
}

/**
 * The names of the options ticked in `container`.
 * @param {HTMLElement} container
 * @returns {string[]}
 */
export const checkedOptions = (container) =>
  $$('input[type=checkbox]', container).filter((c) => /** @type {HTMLInputElement} */ (c).checked)
    .map((c) => /** @type {HTMLInputElement} */ (c).value);
