import { api, type KeyView, type Rotation } from './api.js';
import { type GeneratedPair, generatePair, type KeyKind } from './crypto.js';
import { announce, busy, byId, control, fill, radioValue } from './dom.js';
import { fromNow, keyName } from './format.js';
import { onSubmit } from './forms.js';
import { showGenerated } from './key-result.js';
import { refusePrivateKey } from './key-text.js';

// Revoke and rotate, each in a modal <dialog>: the browser traps focus in it, Escape closes it,
// and focus goes back where it was.

let reload: () => Promise<unknown> = async () => {};
let target: KeyView | undefined;

/** Reloads the list, then says what changed (`message` is read after the reload: its times are then measured on a fresh server clock). */
async function afterChange(message: () => string): Promise<void> {
  await reload();
  byId('keys-title', HTMLElement).focus();
  announce(message());
}

export function openRevoke(key: KeyView): void {
  target = key;
  fill(byId('revoke-which', HTMLElement), `${keyName(key)} (${key.key_id})`);
  const dialog = byId('revoke-dialog', HTMLDialogElement);
  fill(byId('revoke-error', HTMLElement));
  dialog.showModal();
}

export function openRotate(key: KeyView): void {
  target = key;
  const form = byId('rotate-form', HTMLFormElement);
  form.reset();
  control(form, 'kind', HTMLSelectElement).value = key.family === 'rsa' ? 'rsa4096' : 'p256';
  showRotateMode(form);
  fill(byId('rotate-which', HTMLElement), `${keyName(key)} (${key.key_id})`);
  byId('rotate-dialog', HTMLDialogElement).showModal();
}

function showRotateMode(form: HTMLFormElement): void {
  const pasting = radioValue(form, 'mode') === 'paste';
  byId('rotate-paste-field', HTMLElement).hidden = !pasting;
  byId('rotate-kind-field', HTMLElement).hidden = pasting;
  control(form, 'public_key', HTMLTextAreaElement).required = pasting;
}

async function revoke(form: HTMLFormElement): Promise<void> {
  const key = target;
  if (!key) return;
  const button = control(form, 'confirm', HTMLButtonElement);
  await busy(button, 'Revoking…', () =>
    api<KeyView>('DELETE', `/auth/signing-keys/${encodeURIComponent(key.key_id)}`),
  );
  byId('revoke-dialog', HTMLDialogElement).close();
  await afterChange(() => `Key ${keyName(key)} is revoked: tokens it signed are refused from now on.`);
}

async function rotate(form: HTMLFormElement): Promise<void> {
  const key = target;
  if (!key) return;
  const button = control(form, 'confirm', HTMLButtonElement);
  const mode = radioValue(form, 'mode');
  const grace = control(form, 'grace_seconds', HTMLInputElement).value.trim();
  if (mode === 'paste')
    refusePrivateKey(control(form, 'public_key', HTMLTextAreaElement).value, 'public_key');
  await busy(button, 'Rotating…', async () => {
    let pair: GeneratedPair | undefined;
    let publicKey = control(form, 'public_key', HTMLTextAreaElement).value;
    if (mode === 'generate') {
      pair = await generatePair(control(form, 'kind', HTMLSelectElement).value as KeyKind);
      publicKey = pair.publicPem;
    }
    const rotation = await api<Rotation>(
      'POST',
      `/auth/signing-keys/${encodeURIComponent(key.key_id)}/rotate`,
      {
        body: { public_key: publicKey, grace_seconds: grace === '' ? grace : Number(grace) },
      },
    );
    byId('rotate-dialog', HTMLDialogElement).close();
    const old = rotation.replaced;
    await afterChange(() => {
      const until = old.revokes_at ? `is revoked ${fromNow(old.revokes_at)}` : 'is revoked';
      return `Key ${keyName(key)} rotated: the new key is ${rotation.key.key_id}; the old one ${until}.`;
    });
    if (pair) await showGenerated(pair, rotation.key, 'Key rotated: the new pair');
  });
}

/** Wires both dialogs; `afterwards` reloads the key list once a key changed. */
export function wireKeyActions(afterwards: () => Promise<unknown>): void {
  reload = afterwards;
  const revokeForm = byId('revoke-form', HTMLFormElement);
  const rotateForm = byId('rotate-form', HTMLFormElement);
  onSubmit(revokeForm, revoke);
  onSubmit(rotateForm, rotate);
  rotateForm.addEventListener('change', (event) => {
    if ((event.target as HTMLInputElement).name === 'mode') showRotateMode(rotateForm);
  });
  for (const dialog of [byId('revoke-dialog', HTMLDialogElement), byId('rotate-dialog', HTMLDialogElement)]) {
    for (const cancel of dialog.querySelectorAll<HTMLButtonElement>('[data-close]')) {
      cancel.addEventListener('click', () => dialog.close());
    }
  }
}
