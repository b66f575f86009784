import type { KeyView } from './api.js';
import { type Child, h } from './dom.js';
import { timeCell } from './format.js';

// What a key's tokens came to (GET /auth/signing-keys counts them), and whether it is about to
// expire: the two things a key's owner acts on before its clients start failing.

const count = new Intl.NumberFormat();

/** "12 accepted", "3 refused", with each refusal's reason code in the title and a list for screen readers. */
export function usageCell(key: KeyView): Child[] {
  const refused = Object.entries(key.usage.refused).sort(([, a], [, b]) => b - a);
  const refusedTotal = refused.reduce((sum, [, n]) => sum + n, 0);
  const breakdown = refused.map(([code, n]) => `${code} ${count.format(n)}`).join(', ');
  return [
    h('span', { class: 'usage-accepted' }, `${count.format(key.usage.accepted)} accepted`),
    h(
      'span',
      {
        class: refusedTotal > 0 ? 'usage-refused relative' : 'relative',
        ...(breakdown && { title: breakdown }),
      },
      `${count.format(refusedTotal)} refused${breakdown ? ` (${breakdown})` : ''}`,
    ),
  ];
}

/** The expiry date, with a warning badge while the key expires within the server's warning window. */
export function expiryCell(key: KeyView): Child[] {
  return [
    key.expires_soon ? h('span', { class: 'badge badge-warning' }, 'Expires soon') : null,
    timeCell(key.expires_at, 'never'),
  ];
}
