import type { UserRecord } from '../core/account-records.ts';
import {
  type AuditActor,
  type AuditEvent,
  type AuditRecord,
  actorColumns,
  actorFromColumns,
  auditDetail,
  SYSTEM,
} from '../core/audit.ts';
import type { KeyRecord, KeyStatus } from '../core/key-record.ts';
import type { UnixSeconds } from '../core/time.ts';
import type { Org } from './store.ts';

// The events the stores write inside the transactions of the changes they record, built the
// same way by both dialects. None reads a secret: a key's public half is named by its
// fingerprint, an account by its id and email, never its password hash.

export function orgCreated(org: Org, by: AuditActor): AuditEvent {
  return event(org.createdAt, org.id, by, 'org.created', org.id, { name: org.name });
}

export function keyRegistered(key: KeyRecord, by: AuditActor): AuditEvent {
  return event(key.createdAt, key.orgId, by, 'key.registered', key.id, {
    fingerprint: key.thumbprint,
    roles: key.roles.join(','),
    default_role: key.defaultRole,
    owner_user_id: key.ownerUserId,
    label: key.label,
    expires_at: key.expiresAt,
  });
}

export function keyRotated(old: KeyRecord, replacement: KeyRecord, by: AuditActor): AuditEvent {
  return event(replacement.createdAt, old.orgId, by, 'key.rotated', old.id, {
    replaced_by: replacement.id,
    fingerprint: replacement.thumbprint,
    revokes_at: old.revokesAt,
  });
}

const STATUS_ACTIONS = {
  active: 'key.enabled',
  disabled: 'key.disabled',
  revoked: 'key.revoked',
} as const satisfies Record<KeyStatus, AuditEvent['action']>;

/** The record of a key's status change from `from`; none when the status stays what it was. */
export function keyStatusChanged(
  key: KeyRecord,
  from: string,
  by: AuditActor,
  at: UnixSeconds,
): AuditEvent[] {
  if (from === key.status) return [];
  return [event(at, key.orgId, by, STATUS_ACTIONS[key.status], key.id, { from })];
}

/** The rotation sweep revoking a key whose grace has ended. */
export function keySwept(key: { id: string; orgId: string }, at: UnixSeconds): AuditEvent {
  return event(at, key.orgId, SYSTEM, 'key.revoked', key.id, { reason: 'rotation_grace_ended' });
}

export function userCreated(user: UserRecord, by: AuditActor): AuditEvent {
  return event(user.createdAt, user.orgId, by, 'user.created', user.id, {
    email: user.email,
    role: user.role,
  });
}

export function userStatusChanged(
  user: UserRecord,
  from: string,
  by: AuditActor,
  at: UnixSeconds,
): AuditEvent[] {
  if (from === user.status) return [];
  const action = user.status === 'active' ? 'user.enabled' : 'user.disabled';
  return [event(at, user.orgId, by, action, user.id, { email: user.email })];
}

export function passwordChanged(user: UserRecord, by: AuditActor, at: UnixSeconds): AuditEvent {
  return event(at, user.orgId, by, 'user.password_changed', user.id, { email: user.email });
}

export function userUnlocked(
  user: { id: string; orgId: string; email: string },
  by: AuditActor,
  at: UnixSeconds,
): AuditEvent {
  return event(at, user.orgId, by, 'user.unlocked', user.id, { email: user.email });
}

/** The time of a change whose method takes none: the wall clock's, in whole seconds. */
export function wallClock(): UnixSeconds {
  return Math.floor(Date.now() / 1000);
}

function event(
  at: UnixSeconds,
  orgId: string | null,
  actor: AuditActor,
  action: AuditEvent['action'],
  target: string | null,
  detail: AuditEvent['detail'],
): AuditEvent {
  return { at, orgId, actor, action, target, detail };
}

/** The columns of an event, in the order both dialects insert them. */
export function auditColumns(
  event: AuditEvent,
): [number, string | null, string, string | null, string, string | null, string] {
  const [actorType, actorId] = actorColumns(event.actor);
  return [
    event.at,
    event.orgId,
    actorType,
    actorId,
    event.action,
    event.target,
    JSON.stringify(auditDetail(event.detail)),
  ];
}

export function toAuditRecord(row: Record<string, unknown>): AuditRecord {
  const detail = typeof row.detail === 'string' ? JSON.parse(row.detail) : row.detail;
  return {
    id: Number(row.id),
    at: Number(row.at),
    orgId: row.org_id === null ? null : String(row.org_id),
    actor: actorFromColumns(String(row.actor_type), row.actor_id === null ? null : String(row.actor_id)),
    action: String(row.action) as AuditEvent['action'],
    target: row.target === null ? null : String(row.target),
    detail: detail as AuditEvent['detail'],
  };
}
