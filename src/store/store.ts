import type { ServerKeyRecord, SessionRecord, UserRecord, UserStatus } from '../core/account-records.ts';
import type { AuditActor, AuditEvent, AuditQuery, AuditRecord } from '../core/audit.ts';
import { CodedError } from '../core/error-codes.ts';
import type { KeyRecord, KeyStatus } from '../core/key-record.ts';
import type { KeyUseBatch, KeyUseCount } from '../core/key-usage.ts';
import type { LoginAttemptRecord, LoginThrottlePolicy } from '../core/login-throttle.ts';
import type { UnixSeconds } from '../core/time.ts';

export interface Org {
  id: string;
  name: string;
  /** When set, a token is accepted once: presenting it again is jti_reused. */
  singleUseTokens: boolean;
  createdAt: UnixSeconds;
}

export type KeyState = Pick<KeyRecord, 'id' | 'status' | 'expiresAt' | 'revokesAt'>;

/** A key as it stands after its latest change, and the key revision that change made. */
export interface KeyChange extends KeyState {
  revision: number;
}

export type NewKey = Omit<
  KeyRecord,
  'id' | 'status' | 'createdAt' | 'lastUsedAt' | 'revokesAt' | 'replacedBy'
>;

/**
 * How many live keys (not revoked, not being rotated out) an organization and one user may hold.
 * A key of the organization counts toward `perOrg` only; a user's key toward both.
 */
export interface KeyCaps {
  perOrg: number;
  perOwner: number;
}

export type RotateResult =
  | { ok: true; old: KeyRecord; key: KeyRecord }
  | { ok: false; reason: 'not_found' | 'not_active' | 'already_rotated' };

/** A token's claim on its (iss, jti) pair in the replay ledger, until `expiresAt`. */
export interface JtiClaim {
  iss: string;
  jti: string;
  tokenHash: string;
  expiresAt: UnixSeconds;
}

/** What binding a (iss, jti) pair found: new, held by this same token, or held by another token. */
export type JtiBinding = 'bound' | 'same-token' | 'reused';

/** Whether a login attempt may be hashed; when not, how many seconds until one may. */
export type LoginReservation = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export type StatusChange =
  | { ok: true; key: KeyRecord }
  | { ok: false; reason: 'not_found' | 'revoked_is_final' };

/**
 * Raised when a write would break a uniqueness rule; `field` names the input at fault, and `hint`,
 * when the store knows better than the caller, what to do instead.
 */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
  readonly field: string;
  readonly hint: string | undefined;
  constructor(field: string, message: string, hint?: string) {
    super(message);
    this.field = field;
    this.hint = hint;
  }
}

/**
 * The database itself failed (closed, locked by another connection for longer than the store
 * waits, full, I/O error): the request may succeed later. A bug in a caller or in the store is
 * never reported as this.
 */
/** An insert would take the organization or the owner past its KeyCaps; nothing was written. */
export class KeyCapError extends Error {
  override readonly name = 'KeyCapError';
  readonly scope: 'org' | 'owner';
  readonly limit: number;
  constructor(scope: 'org' | 'owner', limit: number) {
    super(`The ${scope === 'org' ? 'organization' : 'user'} already holds ${limit} live keys.`);
    this.scope = scope;
    this.limit = limit;
  }
}

export class StoreUnavailableError extends CodedError {
  override readonly name = 'StoreUnavailableError';
  /** `message` says what the database reported: for the log and the operator, never for a client. */
  constructor(message: string, options?: ErrorOptions) {
    super('unavailable', undefined, { ...options, internalMessage: message });
  }
}

/**
 * Everything Keygate keeps. Every method is one atomic operation: it either happens entirely or
 * not at all, also when the process is killed half-way. Implementations: sqlite.ts (embedded) and,
 * for several nodes, a PostgreSQL one behind this same interface. A method fails with
 * StoreUnavailableError when the database cannot serve it; any other error is a bug.
 *
 * The methods that change an organization, a key or an account append the audit event that
 * records the change in the same transaction (core/audit.ts): a change never commits without its
 * record, nor a record without its change. `by` names who made it; a caller that names no one
 * is recorded as the system. A call that changes nothing records nothing.
 */
export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * Recent replay-ledger bindings this process indexes in memory (the embedded store's; see
   * sqlite-jti.ts), for /metrics; undefined for a store that keeps none.
   */
  readonly recentJtiEntries?: number;
  /** Records org.created. */
  createOrg(
    input: { name: string; singleUseTokens?: boolean },
    now: UnixSeconds,
    by?: AuditActor,
  ): Promise<Org>;
  getOrg(id: string): Promise<Org | undefined>;
  listOrgs(): Promise<Org[]>;
  /**
   * Fails with ConflictError when any key, in any organization, has the same thumbprint: one key
   * pair belongs to one organization. Of concurrent inserts of one key pair, exactly one succeeds.
   * Records key.registered.
   */
  insertKey(key: NewKey, now: UnixSeconds, caps?: KeyCaps, by?: AuditActor): Promise<KeyRecord>;
  getKey(kid: string): Promise<KeyRecord | undefined>;
  listKeys(orgId: string): Promise<KeyRecord[]>;
  /** The keys one user owns. */
  listKeysByOwner(userId: string): Promise<KeyRecord[]>;
  /**
   * Registers `replacement` (as insertKey, caps counted without the old key) and marks `kid`
   * replaced by it and revoked from `revokesAt`, in one transaction. Only an active key that is
   * not already being rotated out can be rotated. Records key.rotated (of `kid`).
   */
  rotateKey(
    kid: string,
    replacement: NewKey,
    revokesAt: UnixSeconds,
    now: UnixSeconds,
    caps?: KeyCaps,
    by?: AuditActor,
  ): Promise<RotateResult>;
  /** Revokes every key whose rotation grace has ended by `now`, each recorded as the system's key.revoked; returns how many. */
  revokeDueKeys(now: UnixSeconds): Promise<number>;
  /**
   * The keys changed after `revision` (registered, revoked, disabled, enabled, rotated, swept),
   * at most `limit`, in the order of their changes: what a verifying node needs to stay current,
   * at a cost proportional to the change. A key changed several times appears once, as it now
   * stands, at its latest revision. Revisions are unique and handed out in commit order, so a
   * reader that sees one sees every change before it; reading again from the last revision
   * answered misses nothing. Bookkeeping (recordKeyUse) is not a change.
   */
  keyChangesSince(revision: number, limit: number): Promise<KeyChange[]>;
  /**
   * The ids of every key, revoked ones included, greater than `after` in id order, at most
   * `limit`: one pass over them fills a node's kid filter at start.
   */
  keyIdsAfter(after: string, limit: number): Promise<string[]>;
  /**
   * Revocation is final: a revoked key can be neither enabled nor disabled. Records key.revoked,
   * key.disabled or key.enabled at `now` (the wall clock's time when not given).
   */
  setKeyStatus(kid: string, status: KeyStatus, by?: AuditActor, now?: UnixSeconds): Promise<StatusChange>;
  /**
   * Adds one flush of counted key uses, in one transaction: each count is added to the stored one
   * (`count = count + added`), so the flushes of several processes and nodes add up, whatever
   * their order, and none is lost to a concurrent one. A key's last-used time only moves
   * forward. Kids the store does not hold are ignored. Bookkeeping, not a key change.
   */
  recordKeyUse(batch: KeyUseBatch): Promise<void>;
  /** The stored counts of these keys, one row per key and outcome counted; none for a key never named. */
  keyUsage(kids: readonly string[]): Promise<KeyUseCount[]>;
  /**
   * The revision of the latest key change (it grows with every change): where a node that has
   * just started begins to read keyChangesSince.
   */
  keyRevision(): Promise<number>;
  /**
   * Binds each claim's (iss, jti) to its `tokenHash` until its `expiresAt`, in order, in one
   * transaction, and answers one binding per claim: 'bound' for the first token to hold the pair
   * (an expired binding is replaced), 'same-token' when that same token holds it, 'reused' when
   * another does. Atomic across processes: of concurrent callers with different tokens for one
   * pair, exactly one receives 'bound'. Nothing is answered before the batch is committed.
   */
  bindJtis(claims: readonly JtiClaim[], now: UnixSeconds): Promise<JtiBinding[]>;
  /** What bindJtis would answer for one claim, without binding: for /auth/hello. */
  peekJti(iss: string, jti: string, tokenHash: string, now: UnixSeconds): Promise<JtiBinding>;
  /**
   * Deletes expired bindings and returns how many; never a live one. Not always every expired
   * one in a call: the embedded store stops behind bindings still live (sqlite-prune.ts).
   */
  pruneJti(now: UnixSeconds): Promise<number>;
  /**
   * Fails with ConflictError when the email is taken; callers pass it normalised (user-name.ts).
   * Records user.created.
   */
  createUser(user: UserRecord, by?: AuditActor): Promise<UserRecord>;
  getUser(id: string): Promise<UserRecord | undefined>;
  /** An exact match: callers pass the name normalised, as it is stored. */
  getUserByEmail(email: string): Promise<UserRecord | undefined>;
  listUsers(orgId: string): Promise<UserRecord[]>;
  /**
   * Disabling a user also revokes every session of theirs, in the same transaction. Records
   * user.disabled or user.enabled.
   */
  setUserStatus(
    id: string,
    status: UserStatus,
    now: UnixSeconds,
    by?: AuditActor,
  ): Promise<UserRecord | undefined>;
  /**
   * Replaces the password, revokes every session of the user and clears the counts and waits of
   * their login name, in one transaction. Records user.password_changed.
   */
  setUserPassword(
    id: string,
    passwordHash: string,
    now: UnixSeconds,
    by?: AuditActor,
  ): Promise<UserRecord | undefined>;
  /** Stores a stronger hash of the same password (rehash on login); sessions stay. */
  upgradePasswordHash(id: string, passwordHash: string): Promise<void>;
  /**
   * Counts one login attempt for `name` (as normalised, whether or not an account has it) from
   * `address` (non-empty), against the (name, address) counter and the name's account-wide one,
   * if `decideAttempt` allows it: reading, deciding and counting are one atomic step, so of any
   * number of concurrent callers, in any number of processes, exactly as many are allowed as the
   * limits leave. A refused attempt changes nothing. Every allowed attempt stays counted as a
   * failure unless settleLoginAttempt follows.
   */
  reserveLoginAttempt(
    name: string,
    address: string,
    now: UnixSeconds,
    policy: LoginThrottlePolicy,
  ): Promise<LoginReservation>;
  /**
   * The attempt reserved for (name, address) succeeded: the name's counters start again from
   * nothing, and `address` is exempt from the account-wide wait for `policy.trustSeconds`.
   */
  settleLoginAttempt(
    name: string,
    address: string,
    now: UnixSeconds,
    policy: LoginThrottlePolicy,
  ): Promise<void>;
  /** The name's live counters, the account-wide one (address null) first. */
  getLoginAttempts(name: string, now: UnixSeconds): Promise<LoginAttemptRecord[]>;
  /**
   * Clears every count and wait of `name` (keygate user unlock); addresses stay trusted. Records
   * user.unlocked when an account has the name, at `now` (the wall clock's time when not given).
   */
  clearLoginAttempts(name: string, by?: AuditActor, now?: UnixSeconds): Promise<void>;
  /** Deletes counters with nothing left to count, wait for or trust. */
  pruneLoginAttempts(now: UnixSeconds): Promise<number>;
  createSession(session: SessionRecord): Promise<void>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  touchSession(id: string, now: UnixSeconds): Promise<void>;
  /** Returns false when the session did not exist or was already revoked. */
  revokeSession(id: string, now: UnixSeconds, reason: string): Promise<boolean>;
  /** Deletes sessions past their absolute end: they can never be used again. */
  pruneSessions(now: UnixSeconds): Promise<number>;
  listServerKeys(): Promise<ServerKeyRecord[]>;
  /**
   * Adds a new active server key and retires the others (retiredAt = the new key's createdAt,
   * private half dropped), in one transaction. With `onlyIfNone` it does nothing when an active
   * key exists: of several processes starting at once, one makes it.
   */
  rotateServerKey(
    key: ServerKeyRecord & { sealedPrivateKey: string },
    options?: { onlyIfNone?: boolean },
  ): Promise<void>;
  /**
   * Replaces an active key's sealed private half, only if it still is `from` (compare and set):
   * of several processes re-sealing one key, one writes. The old value is overwritten on disk,
   * not left in free pages. Returns whether this call wrote.
   */
  resealServerKey(id: string, from: string, to: string): Promise<boolean>;
  /** Deletes retired keys retired at or before `retiredBy`: every session they signed has ended. */
  deleteRetiredServerKeys(retiredBy: UnixSeconds): Promise<number>;
  /**
   * Appends events that record no change of this store (logins, logouts, throttle locks), in
   * order, in one transaction: every one or none.
   */
  appendAudit(events: readonly AuditEvent[]): Promise<void>;
  /**
   * The events the query selects, newest (highest id) first, at most `limit` and never more
   * than MAX_AUDIT_PAGE; the next page is the same query with `before` the last id answered.
   */
  listAudit(query: AuditQuery): Promise<AuditRecord[]>;
  /** Deletes the events from before `before` (KEYGATE_AUDIT_RETENTION_DAYS); returns how many. */
  pruneAudit(before: UnixSeconds): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
