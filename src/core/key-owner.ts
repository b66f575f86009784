import type { UserStatus } from './account-records.ts';
import { fail, type Outcome, pass } from './check-run.ts';
import type { KeyRecord } from './key-record.ts';
import { reject } from './reason-codes.ts';
import { ROLES, type Role } from './roles.ts';

/** The user a key belongs to, as the store has them now: their status and role decide, not the token's. */
export interface KeyOwner {
  id: string;
  email: string;
  status: UserStatus;
  role: Role;
}

/**
 * The roles a user may grant a key of theirs, and so the roles such a key may sign for: an admin
 * any role, everyone else only the role they hold ("a user cannot grant a role they do not hold").
 */
export function grantableRoles(role: Role): readonly Role[] {
  return role === 'admin' ? ROLES : [role];
}

/**
 * A user's key signs only while its owner exists and is active: disabling them stops every key of
 * theirs. A key of the organization has no owner to ask about (null).
 */
export function checkOwnerActive(key: KeyRecord, owner: KeyOwner | undefined): Outcome<KeyOwner | null> {
  if (key.ownerUserId === null) {
    return pass(null, () => ({ message: 'The key belongs to the organization.' }));
  }
  if (!owner || owner.id !== key.ownerUserId) {
    return fail(
      reject('key_disabled', {
        message: `The key belongs to user ${key.ownerUserId}, who no longer exists.`,
        hint: 'Sign with another active key.',
      }),
    );
  }
  if (owner.status !== 'active') {
    return fail(
      reject('key_disabled', {
        message: `The key belongs to ${owner.email}, whose account is disabled; their keys sign nothing until it is enabled.`,
        hint: 'Ask an administrator of your organization to enable the account, or sign with another key.',
        actual: 'owner disabled',
      }),
    );
  }
  return pass(owner, () => ({ message: `The key belongs to ${owner.email}, an active user.` }));
}

/** A key of the organization signs for any `sub`; a user's key only for its active owner. */
export function checkOwner(
  sub: string,
  key: KeyRecord,
  owner: KeyOwner | undefined,
): Outcome<KeyOwner | null> {
  const active = checkOwnerActive(key, owner);
  if (!active.ok) return active;
  if (active.value === null) {
    return pass(null, () => ({ message: 'The key belongs to the organization: it may sign for any sub.' }));
  }
  const { email, id } = active.value;
  if (sub !== id) {
    return fail(
      reject('sub_not_permitted', {
        message: `The key belongs to ${email}, so its tokens must name them as "sub".`,
        expected: id,
        actual: sub.slice(0, 80),
      }),
    );
  }
  return pass(active.value, () => ({
    message: `The key belongs to ${email}, and the token speaks for them.`,
    expected: id,
    actual: sub,
  }));
}

/** A user's key signs only for roles its owner may grant now: a demoted owner's keys lose the rest. */
export function checkOwnerRole(role: Role, owner: KeyOwner | undefined): Outcome<Role> | undefined {
  if (!owner || grantableRoles(owner.role).includes(role)) return undefined;
  return fail(
    reject('role_not_permitted', {
      message: `The key belongs to ${owner.email}, who holds the role "${owner.role}"; their keys cannot sign "${role}" tokens.`,
      hint: `Use the role "${owner.role}", or ask an administrator.`,
      expected: grantableRoles(owner.role).join(', '),
      actual: role,
    }),
  );
}
