import type { UserRecord } from '../core/account-records.ts';
import { ANONYMOUS, type AuditEvent } from '../core/audit.ts';
import type { SessionClaims } from '../core/session-token.ts';
import type { UnixSeconds } from '../core/time.ts';
import type { Store } from '../store/store.ts';
import type { AuditLog } from './audit-log.ts';

/** Why a login was refused, as the audit trail records it; the client is told none of this. */
export type LoginFailure = 'unknown_user' | 'user_disabled' | 'wrong_password' | 'throttled';

/**
 * The audit events of logins and logouts. A success or a logout is written at once, in its
 * place in the trail (one insert beside the session's own); failures, which an attacker can send
 * by the thousand, are queued on the bounded AuditLog and written in batches, up to a second
 * late (their time is when they happened). What a login sends is never recorded:
 * not the pass_hash, and not a name no account has, since that may be a password typed into the
 * wrong field. A failed attempt is anonymous: whoever sent it has not shown who they are.
 */
export class LoginAudit {
  private readonly store: Store;
  private readonly log: AuditLog;

  constructor(store: Store, log: AuditLog) {
    this.store = store;
    this.log = log;
  }

  succeeded(user: UserRecord, address: string, now: UnixSeconds): Promise<void> {
    return this.write(loginEvent(user, { type: 'user', id: user.id }, 'login.succeeded', now, { address }));
  }

  failed(user: UserRecord | undefined, reason: LoginFailure, address: string, now: UnixSeconds): void {
    this.log.record(loginEvent(user, ANONYMOUS, 'login.failed', now, { reason, address }));
  }

  /**
   * After an allowed attempt failed: if the throttle now holds this address or the whole account
   * back, this attempt is the one that started the wait (an attempt is allowed only while none
   * holds it), so user.locked is recorded once per wait, not once per refused attempt. The
   * counters are read for names no account has too, so that both take the same time.
   */
  async lockedBy(
    email: string,
    user: UserRecord | undefined,
    address: string,
    now: UnixSeconds,
  ): Promise<void> {
    const counters = await this.store.getLoginAttempts(email, now);
    if (!user) return;
    const holding = counters.find(
      (counter) => (counter.address === null || counter.address === address) && counter.blockedUntil > now,
    );
    if (!holding) return;
    this.log.record(
      loginEvent(user, ANONYMOUS, 'user.locked', now, {
        scope: holding.address === null ? 'account' : 'address',
        address,
        until: holding.blockedUntil,
      }),
    );
  }

  loggedOut(claims: SessionClaims, now: UnixSeconds): Promise<void> {
    return this.write({
      at: now,
      orgId: claims.orgId,
      actor: { type: 'user', id: claims.sub },
      action: 'session.logged_out',
      target: claims.sub,
      detail: {},
    });
  }

  /** Now, or, when the store cannot take it, through the queue: the session is open already. */
  private async write(event: AuditEvent): Promise<void> {
    try {
      await this.store.appendAudit([event]);
    } catch {
      this.log.record(event);
    }
  }
}

function loginEvent(
  user: UserRecord | undefined,
  actor: AuditEvent['actor'],
  action: AuditEvent['action'],
  at: UnixSeconds,
  detail: AuditEvent['detail'],
): AuditEvent {
  return { at, orgId: user?.orgId ?? null, actor, action, target: user?.id ?? null, detail };
}
