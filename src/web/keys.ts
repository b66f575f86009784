import { api, type KeyList, type KeyView, SessionEndedError } from './api.js';
import { announce, busy, byId, fill, h } from './dom.js';
import { fromNow, keyName, timeCell } from './format.js';
import { openRevoke, openRotate } from './key-actions.js';
import { expiryCell, usageCell } from './key-usage.js';
import { currentMe, setKeys } from './state.js';

// The keys the user may see, as a table that turns into stacked cards on a phone (the CSS reads
// each cell's data-label for the caption it shows there).

const STATUS_WORDS: Record<KeyView['status'], string> = {
  active: 'Active',
  disabled: 'Disabled',
  revoked: 'Revoked',
};
const STATUS_ORDER: Record<KeyView['status'], number> = { active: 0, disabled: 1, revoked: 2 };

function ownerText(key: KeyView): string {
  if (key.owner.type === 'org') return 'Organization';
  if (key.owner.id === currentMe()?.principal.sub) return 'You';
  return key.owner.email ?? key.owner.id;
}

function statusCell(key: KeyView) {
  return [
    h('span', { class: `badge badge-${key.status}` }, STATUS_WORDS[key.status]),
    key.revokes_at && key.status !== 'revoked'
      ? h('span', { class: 'relative' }, `Rotated out: revoked ${fromNow(key.revokes_at)}`)
      : null,
  ];
}

function actionsCell(key: KeyView) {
  if (key.status === 'revoked') return h('span', { class: 'muted' }, 'none');
  const name = keyName(key);
  const revoke = h(
    'button',
    { type: 'button', class: 'button-small button-danger', 'aria-label': `Revoke key ${name}` },
    'Revoke',
  );
  revoke.addEventListener('click', () => openRevoke(key));
  // A key being rotated out has its replacement already: it can only be revoked sooner.
  if (key.revokes_at !== null) return h('div', { class: 'row-actions' }, revoke);
  const rotate = h(
    'button',
    { type: 'button', class: 'button-small', 'aria-label': `Rotate key ${name}` },
    'Rotate',
  );
  rotate.addEventListener('click', () => openRotate(key));
  return h('div', { class: 'row-actions' }, rotate, revoke);
}

function cell(label: string, ...content: Parameters<typeof h>[2][]) {
  return h('td', { 'data-label': label }, ...content);
}

function row(key: KeyView): HTMLTableRowElement {
  return h(
    'tr',
    { class: `key-row key-${key.status}`, 'data-key-id': key.key_id },
    h(
      'th',
      { scope: 'row', 'data-label': 'Key' },
      h('span', { class: 'key-label' }, key.label ?? 'Unlabelled key'),
      h('span', { class: 'mono small' }, key.key_id),
      h(
        'span',
        { class: 'small muted' },
        `${key.family === 'rsa' ? `RSA ${key.bits}` : 'P-256'} · ${key.algorithms.join(', ')}`,
      ),
    ),
    cell('Status', ...statusCell(key)),
    h(
      'td',
      { 'data-label': 'Fingerprint', class: 'fingerprint' },
      h('span', { class: 'mono small' }, key.fingerprint),
    ),
    cell('Owner', ownerText(key)),
    cell('Usage', ...usageCell(key)),
    cell('Last used', timeCell(key.last_used_at, 'never')),
    cell('Expires', ...expiryCell(key)),
    cell('Actions', actionsCell(key)),
  );
}

function table(keys: KeyView[]): HTMLElement {
  const sorted = [...keys].sort(
    (a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || b.created_at.localeCompare(a.created_at),
  );
  const headings = ['Key', 'Status', 'Fingerprint', 'Owner', 'Usage', 'Last used', 'Expires', 'Actions'];
  return h(
    'table',
    { class: 'keys' },
    h('caption', { class: 'visually-hidden' }, 'Signing keys'),
    h('thead', {}, h('tr', {}, ...headings.map((text) => h('th', { scope: 'col' }, text)))),
    h('tbody', {}, ...sorted.map(row)),
  );
}

/** Fetches the key list, shares it with the other views and draws it; false when it could not. */
export async function loadKeys(): Promise<boolean> {
  const error = byId('keys-error', HTMLElement);
  const holder = byId('keys-table', HTMLElement);
  try {
    const list = await api<KeyList>('GET', '/auth/signing-keys');
    fill(error);
    setKeys(list);
    fill(
      holder,
      list.keys.length === 0
        ? h('p', { class: 'empty' }, 'No keys yet. Generate a key pair or upload a public key below.')
        : table(list.keys),
    );
    return true;
  } catch (caught) {
    if (caught instanceof SessionEndedError) return false;
    const detail = (caught as { detail?: { message: string; hint?: string } }).detail;
    fill(
      error,
      h('span', {}, `The keys could not be loaded: ${detail?.message ?? (caught as Error).message}`),
      detail?.hint ? h('span', { class: 'hint' }, detail.hint) : null,
    );
    fill(holder);
    return false;
  }
}

export function wireKeyList(): void {
  const refresh = byId('keys-refresh', HTMLButtonElement);
  refresh.addEventListener('click', () => {
    busy(refresh, 'Refreshing…', loadKeys)
      .then((loaded) => {
        if (loaded) announce('Key list refreshed.');
      })
      .catch(() => {});
  });
}
