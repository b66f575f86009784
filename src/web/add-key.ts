import { api, type RegisteredKey } from './api.js';
import { generatePair, type KeyKind } from './crypto.js';
import { announce, busy, byId, control, radioValue } from './dom.js';
import { expiryOf, onSubmit } from './forms.js';
import { showGenerated } from './key-result.js';
import { refusePrivateKey } from './key-text.js';

// Two ways to add a key: make a pair here (only the public half is sent), or register a public
// key made elsewhere, pasted or read from a file in this page (the file is not uploaded as such:
// its text goes in the same field as a paste, so the server sees one thing either way).

/** The largest key file worth reading: an RSA-8192 certificate is under 4 KiB. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

interface KeyOptions {
  label?: string;
  expires_at?: string;
}

function optionsOf(form: HTMLFormElement): KeyOptions {
  const label = control(form, 'label', HTMLInputElement).value.trim();
  const expires = expiryOf(control(form, 'expires_at', HTMLInputElement));
  return { ...(label && { label }), ...(expires && { expires_at: expires }) };
}

function register(publicKey: string, options: KeyOptions): Promise<RegisteredKey> {
  return api<RegisteredKey>('POST', '/auth/signing-keys', { body: { public_key: publicKey, ...options } });
}

async function generate(form: HTMLFormElement, reload: () => Promise<unknown>): Promise<void> {
  const button = control(form, 'submit', HTMLButtonElement);
  const kind = radioValue(form, 'kind') as KeyKind;
  const options = optionsOf(form);
  const slow = kind === 'rsa4096' ? ' (RSA 4096 takes a few seconds)' : '';
  announce(`Generating a key pair${slow}…`);
  const { pair, key } = await busy(button, 'Generating…', async () => {
    const pair = await generatePair(kind);
    return { pair, key: await register(pair.publicPem, options) };
  });
  form.reset();
  announce(`Key ${key.key_id} registered. Download the private key now.`);
  await reload();
  await showGenerated(pair, key, 'Key pair generated and registered');
}

async function upload(form: HTMLFormElement, reload: () => Promise<unknown>): Promise<void> {
  const button = control(form, 'submit', HTMLButtonElement);
  const publicKey = control(form, 'public_key', HTMLTextAreaElement).value;
  refusePrivateKey(publicKey, 'public_key');
  const key = await busy(button, 'Registering…', () => register(publicKey, optionsOf(form)));
  form.reset();
  announce(`Public key registered as ${key.key_id}.`);
  await reload();
}

/** Puts the chosen file's text in the public key field, where it can be read before sending. */
async function readKeyFile(input: HTMLInputElement, field: HTMLTextAreaElement): Promise<void> {
  const file = input.files?.[0];
  if (!file) return;
  if (file.size > MAX_KEY_FILE_BYTES) {
    announce(`${file.name} is ${file.size} bytes: too large for a public key.`);
    return;
  }
  field.value = (await file.text()).trim();
  announce(`Read ${file.name} into the public key field.`);
}

export function wireAddKey(reload: () => Promise<unknown>): void {
  const generateForm = byId('generate-form', HTMLFormElement);
  const uploadForm = byId('upload-form', HTMLFormElement);
  onSubmit(generateForm, (form) => generate(form, reload));
  onSubmit(uploadForm, (form) => upload(form, reload));
  const file = byId('upload-file', HTMLInputElement);
  file.addEventListener('change', () => {
    readKeyFile(file, control(uploadForm, 'public_key', HTMLTextAreaElement)).catch(() =>
      announce('The file could not be read.'),
    );
  });
}
