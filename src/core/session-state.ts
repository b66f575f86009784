import type { SessionRecord, UserRecord } from './account-records.ts';
import { fail, type Outcome, pass } from './check-run.ts';
import { reject } from './reason-codes.ts';
import type { SessionPolicy } from './session-policy.ts';
import type { SessionClaims } from './session-token.ts';
import { isoTime, type UnixSeconds } from './time.ts';

const REVOKED_BECAUSE: Record<string, string> = {
  logout: 'The session was logged out',
  user_disabled: 'The account was disabled',
  password_changed: 'The password was changed',
};

/**
 * A verified session token's standing in the store. A valid signature proves only that the token
 * was signed by a session key, and a session key can be copied out of a database or a backup. So
 * the token only names a session: the session row and its user decide the rest. Claims that
 * differ from what Keygate issued for that session (another user, organization or role) were not
 * issued by a login, and are refused. A live session acts as its user is now: with the user's
 * current organization and role (the returned record), and not at all once the user is disabled.
 */
export function checkSessionState(
  claims: SessionClaims,
  session: SessionRecord | undefined,
  user: UserRecord | undefined,
  now: UnixSeconds,
  policy: Pick<SessionPolicy, 'idleSeconds'>,
): Outcome<UserRecord> {
  if (!session) return fail(reject('session_revoked', { message: 'This session does not exist.' }));
  const forged = forgedClaim(claims, session, user);
  if (forged) {
    return fail(
      reject('session_revoked', {
        message: `The token's ${forged} is not the one Keygate issued for this session; it was not issued by a login.`,
      }),
    );
  }
  if (!user)
    return fail(reject('session_revoked', { message: 'The account of this session no longer exists.' }));
  if (session.revokedAt !== null) {
    return fail(
      reject('session_revoked', {
        message: `${REVOKED_BECAUSE[session.revokedReason ?? ''] ?? 'The session was revoked'} at ${isoTime(session.revokedAt)}.`,
      }),
    );
  }
  if (user.status !== 'active')
    return fail(reject('session_revoked', { message: 'The account of this session is disabled.' }));
  if (now >= session.expiresAt) {
    return fail(
      reject('session_revoked', { message: `The session reached its end at ${isoTime(session.expiresAt)}.` }),
    );
  }
  const idle = now - session.lastSeenAt;
  if (idle > policy.idleSeconds) {
    return fail(
      reject('session_revoked', {
        message: `The session was idle for ${Math.round(idle / 60)} min; it ends after ${Math.round(policy.idleSeconds / 60)} min.`,
      }),
    );
  }
  return pass(user, () => ({
    message:
      user.role === session.role
        ? 'The session is live.'
        : `The session is live; it acts with the account's current role, ${user.role}.`,
  }));
}

/** The first claim that differs from the session row or its user, by name; none for a true token. */
function forgedClaim(
  claims: SessionClaims,
  session: SessionRecord,
  user: UserRecord | undefined,
): 'sub' | 'role' | 'org_id' | undefined {
  if (claims.sub !== session.userId) return 'sub';
  if (claims.role !== session.role) return 'role';
  // A user never changes organization, so the user's is the one the session was issued for.
  if (user && claims.orgId !== user.orgId) return 'org_id';
  return undefined;
}
