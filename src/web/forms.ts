import { ApiError, SessionEndedError } from './api.js';
import { fill, h } from './dom.js';

// Errors are shown where they apply: a refusal that names a field (`error.field`) goes beside
// that field, which is marked invalid and focused, so its message and hint are read out with it.
// Anything else goes in the form's own alert line. A form #upload-form's parts follow one naming
// scheme: field #upload-public_key, its error #upload-public_key-error, the form's #upload-error.

function prefixOf(form: HTMLFormElement): string {
  return form.id.replace(/-form$/, '');
}

export function clearErrors(form: HTMLFormElement): void {
  const prefix = prefixOf(form);
  for (const element of form.querySelectorAll<HTMLElement>('[aria-invalid]'))
    element.removeAttribute('aria-invalid');
  for (const element of form.querySelectorAll<HTMLElement>('.field-error')) fill(element);
  const formError = document.getElementById(`${prefix}-error`);
  if (formError) fill(formError);
}

/** A refusal made in this page before anything was sent, shown as the API's own would be. */
export class FieldError extends Error {
  readonly field: string;
  readonly hint: string;
  constructor(field: string, message: string, hint: string) {
    super(message);
    this.field = field;
    this.hint = hint;
  }
}

function describe(error: unknown): {
  message: string;
  hint?: string | undefined;
  field?: string | undefined;
} {
  if (error instanceof ApiError) return error.detail;
  if (error instanceof FieldError) return error;
  return { message: error instanceof Error ? error.message : String(error) };
}

function messageNodes(message: string, hint: string | undefined) {
  return [h('span', {}, message), hint ? h('span', { class: 'hint' }, hint) : null];
}

/**
 * Shows `error` on `form`. Returns quietly for an ended session: the login form has replaced the
 * page and says why.
 */
export function showError(form: HTMLFormElement, error: unknown): void {
  if (error instanceof SessionEndedError) return;
  const prefix = prefixOf(form);
  const { message, hint, field } = describe(error);
  const input = field ? document.getElementById(`${prefix}-${field}`) : null;
  const beside = field ? document.getElementById(`${prefix}-${field}-error`) : null;
  if (input && beside && form.contains(input) && !input.closest('[hidden]')) {
    fill(beside, ...messageNodes(message, hint));
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  const formError = document.getElementById(`${prefix}-error`);
  if (formError) fill(formError, ...messageNodes(message, hint));
}

/** Wires `form` to `submit`: the browser never submits it (the CSP's form-action would refuse anyway). */
export function onSubmit(form: HTMLFormElement, submit: (form: HTMLFormElement) => Promise<void>): void {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearErrors(form);
    submit(form).catch((error: unknown) => showError(form, error));
  });
}

/** The optional "Expires on" date as the end of that day in the reader's zone, or undefined. */
export function expiryOf(input: HTMLInputElement): string | undefined {
  if (!input.value) return undefined;
  const end = new Date(`${input.value}T23:59:59`);
  return Number.isNaN(end.getTime()) ? input.value : end.toISOString();
}
