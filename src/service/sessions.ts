import { randomUUID } from 'node:crypto';
import type { SessionRecord, UserRecord } from '../core/account-records.ts';
import type { Outcome } from '../core/check-run.ts';
import { CodedError } from '../core/error-codes.ts';
import { clientScope } from '../core/login-throttle.ts';
import { DEFAULT_MEMORY_BOUNDS } from '../core/memory-bounds.ts';
import { checkPassHash, PASS_HASH_HINT } from '../core/pass-hash.ts';
import type { VerificationPolicy } from '../core/policy.ts';
import type { SessionPolicy } from '../core/session-policy.ts';
import { checkSessionState } from '../core/session-state.ts';
import { SESSION_ISSUER, SESSION_TYP, type SessionClaims } from '../core/session-token.ts';
import type { Clock, UnixSeconds } from '../core/time.ts';
import { normalizeUserName } from '../core/user-name.ts';
import type { Store } from '../store/store.ts';
import { InputError } from './input-error.ts';
import type { LoginAudit, LoginFailure } from './login-audit.ts';
import type { HashTicket, PasswordHasher } from './password-hasher.ts';
import type { ServerKeyring } from './server-keyring.ts';

/**
 * The one answer to every failed login: the same status, body and (by a dummy hash) time. An
 * attempt the throttle refused carries the seconds until the next one may be tried (the same for
 * a name no account has), and took no hash.
 */
export class LoginFailedError extends CodedError {
  override readonly name = 'LoginFailedError';
  readonly retryAfterSeconds: number | undefined;
  constructor(retryAfterSeconds?: number) {
    super('invalid_credentials');
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export interface LoginResult {
  login_timestamp: string;
  token: { HY_APP_AUTH_v1: string };
  user: { email: string; id: string; screen_name: string; user_name: string };
}

/** How often, at most, a session's last-seen time is written: idle timeouts need no finer grain. */
const TOUCH_EVERY_SECONDS = 60;

/**
 * Session login, logout and the session half of token verification. The store is the source of
 * truth for every session, so a logout, a disabled user or a changed password ends the session
 * on the very next request, on every node.
 */
export class Sessions {
  private readonly deps: {
    store: Store;
    hasher: PasswordHasher;
    keyring: ServerKeyring;
    clock: Clock;
    policy: VerificationPolicy;
    sessionPolicy: SessionPolicy;
    /** Sessions `touched` holds at most (KEYGATE_SESSION_TOUCH_ENTRIES). */
    maxTouched?: number;
    /** Where logins and logouts are recorded; none, and they are not. */
    audit?: LoginAudit;
  };
  /**
   * When this process last wrote each session's last-seen time, so that the requests a session
   * sends while that write is under way do not each write it again. Bounded, most recently
   * written last: an evicted session only falls back to the time the store holds.
   */
  private readonly touched = new Map<string, UnixSeconds>();
  private readonly maxTouched: number;

  constructor(deps: Sessions['deps']) {
    this.deps = deps;
    this.maxTouched = deps.maxTouched ?? DEFAULT_MEMORY_BOUNDS.sessionTouchEntries;
  }

  /** Sessions whose last write is remembered; at most `maxTouched`. */
  get touchedSize(): number {
    return this.touched.size;
  }

  /** `clientAddress` is the address the request came from, as the HTTP layer sees it. */
  async login(input: { user?: unknown; pass_hash?: unknown }, clientAddress: string): Promise<LoginResult> {
    const email = typeof input.user === 'string' ? normalizeUserName(input.user) : '';
    if (email === '' || email.length > 320) {
      throw new InputError(
        'invalid_input',
        'user',
        '"user" must be the account\'s email address.',
        'Send {"user": "ali@example.com", "pass_hash": "<sha256 hex>"}.',
      );
    }
    const passHash = checkPassHash(input.pass_hash);
    if (!passHash.ok) throw new InputError('invalid_input', 'pass_hash', passHash.message, PASS_HASH_HINT);
    const { store, hasher, clock } = this.deps;
    const now = clock();
    // A place among the hashes first (503 when there is none), so an attempt shed for load counts nothing.
    const ticket = hasher.admit();
    const user = await this.checkPassword(
      email,
      clientScope(clientAddress),
      passHash.value,
      now,
      ticket,
    ).finally(() => ticket.cancel());
    if (hasher.needsRehash(user.passwordHash))
      await store.upgradePasswordHash(user.id, await hasher.hash(passHash.value));
    const opened = await this.open(user, now);
    await this.deps.audit?.succeeded(user, clientScope(clientAddress), now);
    return { ...opened, login_timestamp: nanosecondsNow() };
  }

  /**
   * The active account `email` names, if `passHash` is its password; LoginFailedError otherwise.
   * The attempt is counted before hashing, so that guesses sent at once each meet the count of
   * those before them; and for names no account has as for real ones, so that the throttle tells
   * nothing of who exists. A failure needs no write: the count already holds it.
   */
  private async checkPassword(
    email: string,
    address: string,
    passHash: string,
    now: UnixSeconds,
    ticket: HashTicket,
  ): Promise<UserRecord> {
    const { store, hasher, sessionPolicy } = this.deps;
    const reservation = await store.reserveLoginAttempt(email, address, now, sessionPolicy.loginThrottle);
    if (!reservation.allowed) {
      await this.refused(email, undefined, 'throttled', address, now);
      throw new LoginFailedError(reservation.retryAfterSeconds);
    }
    const user = await store.getUserByEmail(email);
    if (user?.status !== 'active') {
      await hasher.verifyDummy(passHash, ticket);
      await this.refused(email, user, user ? 'user_disabled' : 'unknown_user', address, now);
      throw new LoginFailedError();
    }
    if (!(await hasher.verify(passHash, user.passwordHash, ticket))) {
      await this.refused(email, user, 'wrong_password', address, now);
      throw new LoginFailedError();
    }
    await store.settleLoginAttempt(email, address, now, sessionPolicy.loginThrottle);
    return user;
  }

  /**
   * Records a refused login. A throttled attempt read no account, so its name is looked up here,
   * for every name alike; a failed one may have started a throttle wait.
   */
  private async refused(
    email: string,
    user: UserRecord | undefined,
    reason: LoginFailure,
    address: string,
    now: UnixSeconds,
  ): Promise<void> {
    const audit = this.deps.audit;
    if (!audit) return;
    const account = reason === 'throttled' ? await this.deps.store.getUserByEmail(email) : user;
    audit.failed(account, reason, address, now);
    if (reason !== 'throttled') await audit.lockedBy(email, account, address, now);
  }

  private async open(user: UserRecord, now: UnixSeconds): Promise<Omit<LoginResult, 'login_timestamp'>> {
    const session: SessionRecord = {
      id: randomUUID(),
      userId: user.id,
      role: user.role,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.deps.sessionPolicy.absoluteSeconds,
      revokedAt: null,
      revokedReason: null,
    };
    await this.deps.store.createSession(session);
    const token = this.deps.keyring.sign(
      { alg: 'ES256', typ: SESSION_TYP },
      {
        iss: SESSION_ISSUER,
        aud: this.deps.policy.audiences[0],
        sub: user.id,
        org_id: user.orgId,
        role: user.role,
        sid: session.id,
        iat: now,
        exp: session.expiresAt,
      },
    );
    return {
      token: { HY_APP_AUTH_v1: token },
      user: { email: user.email, id: user.id, screen_name: user.screenName, user_name: user.email },
    };
  }

  /**
   * The session check of a verified session token (core/session-state.ts): its claims are the
   * ones issued for the session, which is live, not idle, not revoked, and whose user is active.
   * Passes with the user as the store has it now, whose organization and role the session acts with.
   */
  async checkSession(claims: SessionClaims, now: UnixSeconds, touch: boolean): Promise<Outcome<UserRecord>> {
    const { store, sessionPolicy } = this.deps;
    const session = await store.getSession(claims.sid);
    const user = session && (await store.getUser(session.userId));
    const state = checkSessionState(claims, session, user, now, sessionPolicy);
    if (
      state.ok &&
      session &&
      touch &&
      now - (this.touched.get(session.id) ?? session.lastSeenAt) >= TOUCH_EVERY_SECONDS
    ) {
      this.remember(session.id, now);
      await store.touchSession(session.id, now);
    }
    return state;
  }

  private remember(sessionId: string, now: UnixSeconds): void {
    // Deleted first, so that the order of the map stays the order of the writes.
    this.touched.delete(sessionId);
    if (this.touched.size >= this.maxTouched) this.touched.delete(this.touched.keys().next().value as string);
    this.touched.set(sessionId, now);
  }

  async logout(claims: SessionClaims): Promise<void> {
    const now = this.deps.clock();
    if (await this.deps.store.revokeSession(claims.sid, now, 'logout'))
      await this.deps.audit?.loggedOut(claims, now);
  }
}

/** Spec 004's login_timestamp: nanoseconds since the epoch, as a decimal string. */
function nanosecondsNow(): string {
  const ms = performance.timeOrigin + performance.now();
  return (BigInt(Math.floor(ms)) * 1_000_000n + BigInt(Math.floor((ms % 1) * 1e6))).toString();
}
