import { api, SessionEndedError } from './api.js';
import { announce, busy, byId, fill, h } from './dom.js';
import { keyName, timeCell } from './format.js';
import { currentKeys, currentMe, onKeysChanged } from './state.js';

// "Recent activity" on the keys view, for an admin: the organization's latest audit events (GET
// /auth/audit), newest first. It reloads with every new key list, so a key just registered,
// rotated or revoked shows up here at once. Others never see the panel, and never ask for it.

type Actor =
  | { type: 'operator' }
  | { type: 'user'; id: string }
  | { type: 'key'; kid: string }
  | { type: 'anonymous' }
  | { type: 'system' };

interface AuditEvent {
  id: number;
  at: string;
  actor: Actor;
  action: string;
  target: string | null;
  detail: Record<string, string | number | boolean | null>;
}

const SHOWN = 20;

const ACTION_WORDS: Record<string, string> = {
  'org.created': 'Organization created',
  'key.registered': 'Key registered',
  'key.rotated': 'Key rotated',
  'key.revoked': 'Key revoked',
  'key.disabled': 'Key disabled',
  'key.enabled': 'Key enabled',
  'user.created': 'User created',
  'user.disabled': 'User disabled',
  'user.enabled': 'User enabled',
  'user.locked': 'Logins held back',
  'user.unlocked': 'Logins unlocked',
  'user.password_changed': 'Password changed',
  'login.succeeded': 'Logged in',
  'login.failed': 'Login refused',
  'session.logged_out': 'Logged out',
  'audit.events_dropped': 'Events not kept',
};

/** The known key's name, the user's own "You", or the id as it is. */
function named(id: string): string {
  if (id === currentMe()?.principal.sub) return 'You';
  const key = currentKeys()?.keys.find((candidate) => candidate.key_id === id);
  return key ? keyName(key) : id;
}

function actorText(actor: Actor): string {
  switch (actor.type) {
    case 'operator':
      return 'Operator (command line)';
    case 'user':
      return named(actor.id);
    case 'key':
      return `Key ${named(actor.kid)}`;
    case 'anonymous':
      return 'Someone not logged in';
    case 'system':
      return 'Keygate';
  }
}

/** An account is shown by its email, which its events carry; a key by its label. */
function targetText(event: AuditEvent & { target: string }): string {
  const email = event.detail.email;
  return event.target !== currentMe()?.principal.sub && typeof email === 'string'
    ? email
    : named(event.target);
}

function row(event: AuditEvent): HTMLTableRowElement {
  const reason = event.detail.reason;
  return h(
    'tr',
    { class: 'activity-row', 'data-action': event.action },
    h('td', { 'data-label': 'Time' }, timeCell(event.at, '')),
    h('td', { 'data-label': 'Actor' }, actorText(event.actor)),
    h(
      'td',
      { 'data-label': 'Action' },
      ACTION_WORDS[event.action] ?? event.action,
      typeof reason === 'string' ? h('span', { class: 'small muted' }, reason.replaceAll('_', ' ')) : null,
    ),
    h(
      'td',
      { 'data-label': 'Target' },
      event.target === null
        ? h('span', { class: 'muted' }, '—')
        : h('span', { class: 'mono small' }, targetText({ ...event, target: event.target })),
    ),
  );
}

function table(events: AuditEvent[]): HTMLElement {
  return h(
    'table',
    { class: 'keys activity' },
    h('caption', { class: 'visually-hidden' }, 'Recent activity'),
    h(
      'thead',
      {},
      h('tr', {}, ...['Time', 'Actor', 'Action', 'Target'].map((text) => h('th', { scope: 'col' }, text))),
    ),
    h('tbody', {}, ...events.map(row)),
  );
}

function isAdmin(): boolean {
  return currentMe()?.principal.role === 'admin';
}

/** Fetches and draws the latest events; hides the panel from anyone but an admin. */
export async function loadActivity(): Promise<boolean> {
  const card = byId('activity-card', HTMLElement);
  card.hidden = !isAdmin();
  if (card.hidden) return false;
  const error = byId('activity-error', HTMLElement);
  const holder = byId('activity-table', HTMLElement);
  try {
    const { events } = await api<{ events: AuditEvent[] }>('GET', `/auth/audit?limit=${SHOWN}`);
    fill(error);
    fill(
      holder,
      events.length === 0 ? h('p', { class: 'empty' }, 'Nothing has happened yet.') : table(events),
    );
    return true;
  } catch (caught) {
    if (caught instanceof SessionEndedError) return false;
    const detail = (caught as { detail?: { message: string } }).detail;
    fill(error, `The activity could not be loaded: ${detail?.message ?? (caught as Error).message}`);
    return false;
  }
}

/** Empties the panel, so the next person at this tab sees nothing of the last one's. */
export function forgetActivity(): void {
  byId('activity-card', HTMLElement).hidden = true;
  fill(byId('activity-table', HTMLElement));
  fill(byId('activity-error', HTMLElement));
}

export function wireActivity(): void {
  onKeysChanged(() => {
    loadActivity().catch(() => false);
  });
  const refresh = byId('activity-refresh', HTMLButtonElement);
  refresh.addEventListener('click', () => {
    busy(refresh, 'Refreshing…', loadActivity)
      .then((loaded) => {
        if (loaded) announce('Recent activity refreshed.');
      })
      .catch(() => {});
  });
}
