import { api, type HelloReport, type RegisteredKey } from './api.js';
import { type GeneratedPair, jwsAlgorithm, signTestToken } from './crypto.js';
import { byId, fill, h } from './dom.js';
import { serverNow } from './format.js';
import { renderReport } from './report.js';
import { currentKeys, currentMe } from './state.js';

// After a pair made here is registered: the private key as a file to save, and proof that the
// pair works, a token signed with it and checked by /auth/hello, before any code is written.

let downloadUrl: string | undefined;

/** Forgets the last private key offered: its object URL would keep it alive in this page. */
export function forgetPrivateKey(): void {
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = undefined;
  const card = byId('key-result', HTMLElement);
  fill(card);
  card.hidden = true;
}

export function privateKeyFileName(keyId: string): string {
  return `keygate-${keyId}.pem`;
}

function idRow(term: string, value: string) {
  return [h('dt', {}, term), h('dd', { class: 'mono' }, value)];
}

function closeButton(): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'button-quiet' }, 'Done: I saved the private key');
  button.addEventListener('click', () => {
    forgetPrivateKey();
    byId('keys-title', HTMLElement).focus();
  });
  return button;
}

export async function showGenerated(pair: GeneratedPair, key: RegisteredKey, title: string): Promise<void> {
  forgetPrivateKey();
  downloadUrl = URL.createObjectURL(new Blob([pair.privatePem], { type: 'application/x-pem-file' }));
  const card = byId('key-result', HTMLElement);
  const verdict = h(
    'div',
    { class: 'test-verdict', 'aria-live': 'polite' },
    h('p', {}, 'Signing a test token…'),
  );
  fill(
    card,
    h('h2', { id: 'key-result-title' }, title),
    h(
      'dl',
      { class: 'pairs' },
      ...idRow('Key id', key.key_id),
      ...idRow('Organization id', key.org_id),
      ...idRow('Fingerprint', key.fingerprint),
      ...idRow('Algorithm', jwsAlgorithm(pair.kind)),
    ),
    h(
      'p',
      { class: 'note' },
      'Save the private key now. It was made in this page and exists only here: Keygate never received it, and it is gone when you leave or log out.',
    ),
    h(
      'p',
      {},
      h(
        'a',
        { class: 'button button-primary', href: downloadUrl, download: privateKeyFileName(key.key_id) },
        'Download private key (PEM)',
      ),
    ),
    h('h3', {}, 'Test token'),
    verdict,
    h('p', { class: 'result-actions' }, closeButton()),
  );
  card.hidden = false;
  card.focus();
  await testPair(pair, key, verdict);
}

/** Signs a token as CONTRACT.md describes and shows what /auth/hello says of it. */
async function testPair(pair: GeneratedPair, key: RegisteredKey, into: HTMLElement): Promise<void> {
  const me = currentMe();
  const audience = currentKeys()?.audience;
  if (!me || !audience) return;
  try {
    const token = await signTestToken(pair, {
      orgId: key.org_id,
      keyId: key.key_id,
      sub: me.principal.sub,
      audience,
      role: key.default_role,
      now: serverNow(),
    });
    // Sent as a bearer header, never in a URL; the test token is not the session's.
    const report = await api<HelloReport>('POST', '/auth/hello', { token });
    fill(
      into,
      h(
        'p',
        {},
        report.valid
          ? 'A token signed in this page with the new private key was accepted by /auth/hello: the pair works.'
          : 'A token signed in this page with the new private key was refused by /auth/hello:',
      ),
      renderReport(report, { folded: true }),
    );
  } catch (error) {
    fill(
      into,
      h('p', { class: 'form-error' }, `The test token could not be checked: ${(error as Error).message}`),
    );
  }
}
