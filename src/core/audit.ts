import { isoTime, type UnixSeconds } from './time.ts';

/**
 * The closed set of things the audit trail records, each with the sentence `keygate audit` and
 * the README use for it. Every event names one of these, so a reader can filter on a known list
 * and a new kind of event is a deliberate change here, never a string made up at a call site.
 */
export const AUDIT_ACTIONS = {
  'org.created': { description: 'An organization was created.' },
  'key.registered': { description: 'A public key was registered.' },
  'key.rotated': { description: 'A key was replaced by a new one; the old one signs until its grace ends.' },
  'key.revoked': { description: 'A key was revoked, by someone or at the end of its rotation grace.' },
  'key.disabled': { description: 'A key was disabled.' },
  'key.enabled': { description: 'A disabled key was enabled again.' },
  'user.created': { description: 'An account was created.' },
  'user.disabled': { description: 'An account was disabled and its sessions ended.' },
  'user.enabled': { description: 'A disabled account was enabled again.' },
  'user.locked': { description: 'Failed logins made the login throttle hold an account back.' },
  'user.unlocked': { description: 'The failed logins counted against an account were cleared.' },
  'user.password_changed': { description: "An account's password was set; its sessions ended." },
  'login.succeeded': { description: 'A user logged in.' },
  'login.failed': { description: 'A login was refused.' },
  'session.logged_out': { description: 'A user logged out.' },
  'audit.events_dropped': {
    description: 'Login events arrived faster than they could be written, and this many were not kept.',
  },
} as const satisfies Record<string, { description: string }>;

export type AuditAction = keyof typeof AUDIT_ACTIONS;

export const AUDIT_ACTION_LIST = Object.keys(AUDIT_ACTIONS) as AuditAction[];

export function isAuditAction(value: string): value is AuditAction {
  return Object.hasOwn(AUDIT_ACTIONS, value);
}

/**
 * Who did it: the operator at the command line, a logged-in user, an admin key-pair token,
 * someone who gave a name no account has, or Keygate itself (the rotation sweep, the audit
 * queue reporting what it dropped).
 */
export type AuditActor =
  | { type: 'operator' }
  | { type: 'user'; id: string }
  | { type: 'key'; kid: string }
  | { type: 'anonymous' }
  | { type: 'system' };

export const OPERATOR: AuditActor = { type: 'operator' };
export const SYSTEM: AuditActor = { type: 'system' };
export const ANONYMOUS: AuditActor = { type: 'anonymous' };

/** Small, flat facts about an event: a reason, a client address, a role list. Never a secret. */
export type AuditDetail = Readonly<Record<string, string | number | boolean | null>>;

export interface AuditEvent {
  at: UnixSeconds;
  /** Null for an event of no organization: a failed login by a name no account has. */
  orgId: string | null;
  actor: AuditActor;
  action: AuditAction;
  /** The key id or user id the event is about; null when it is about no one thing. */
  target: string | null;
  detail: AuditDetail;
}

/** An event as stored: ids grow with every event appended, so they order the trail. */
export interface AuditRecord extends AuditEvent {
  id: number;
}

export interface AuditQuery {
  orgId?: string;
  /** Only events at or after this time. */
  since?: UnixSeconds;
  /** Only events with an id below this one: the next page of a listing, newest first. */
  before?: number;
  limit: number;
}

/** The most events one listing returns, whatever it asks for. */
export const MAX_AUDIT_PAGE = 500;

/**
 * Member names that would mean a secret is about to be written. A detail is built at a few known
 * call sites; this stops a later edit from passing a login body or a key through by mistake.
 */
const SECRET_NAME = /pass|secret|token|private|credential|pepper|hash/i;
const MAX_DETAIL_STRING = 200;
const MAX_DETAIL_MEMBERS = 12;

/**
 * The detail as the store keeps it: at most 12 members, strings cut to 200 characters. Throws
 * on a member whose name says it holds a secret: a bug at the call site, never a client's doing.
 */
export function auditDetail(detail: AuditDetail): AuditDetail {
  const entries = Object.entries(detail);
  if (entries.length > MAX_DETAIL_MEMBERS) throw new TypeError('An audit detail holds at most 12 members.');
  return Object.fromEntries(
    entries.map(([name, value]) => {
      if (SECRET_NAME.test(name)) throw new TypeError(`An audit detail may not hold "${name}".`);
      return [name, typeof value === 'string' ? value.slice(0, MAX_DETAIL_STRING) : value];
    }),
  );
}

/** The actor as two columns, and back: (type, the user id or kid, or null). */
export function actorColumns(actor: AuditActor): [AuditActor['type'], string | null] {
  if (actor.type === 'user') return ['user', actor.id];
  if (actor.type === 'key') return ['key', actor.kid];
  return [actor.type, null];
}

export function actorFromColumns(type: string, id: string | null): AuditActor {
  if (type === 'user') return { type, id: id ?? '' };
  if (type === 'key') return { type, kid: id ?? '' };
  if (type === 'operator' || type === 'anonymous') return { type };
  return SYSTEM;
}

/** How a person reads the actor: "operator", "user 3f2a...", "key 9c1b...". */
export function describeActor(actor: AuditActor): string {
  if (actor.type === 'user') return `user ${actor.id}`;
  if (actor.type === 'key') return `key ${actor.kid}`;
  return actor.type;
}

/** An event as GET /auth/audit answers it and `keygate audit --json` prints it. */
export function auditView(record: AuditRecord) {
  return {
    id: record.id,
    at: isoTime(record.at),
    org_id: record.orgId,
    actor: record.actor,
    action: record.action,
    target: record.target,
    detail: record.detail,
  };
}
