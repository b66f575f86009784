import type { ServerKeyRecord, SessionRecord, UserRecord, UserStatus } from '../core/account-records.ts';
import {
  type AuditActor,
  type AuditEvent,
  type AuditQuery,
  type AuditRecord,
  SYSTEM,
} from '../core/audit.ts';
import type { KeyRecord, KeyStatus } from '../core/key-record.ts';
import type { KeyUseBatch, KeyUseCount } from '../core/key-usage.ts';
import type { LoginAttemptRecord, LoginThrottlePolicy } from '../core/login-throttle.ts';
import * as accounts from './postgres-accounts.ts';
import * as audit from './postgres-audit.ts';
import { PgDatabase, storeError } from './postgres-database.ts';
import * as jtis from './postgres-jti.ts';
import * as keyReads from './postgres-key-reads.ts';
import * as keyUse from './postgres-key-usage.ts';
import * as keys from './postgres-keys.ts';
import * as logins from './postgres-logins.ts';
import { migrate } from './postgres-migrations.ts';
import * as orgs from './postgres-orgs.ts';
import { pruneExpired } from './postgres-prune.ts';
import * as serverKeys from './postgres-server-keys.ts';
import * as sessions from './postgres-sessions.ts';
import type {
  JtiBinding,
  JtiClaim,
  KeyCaps,
  KeyChange,
  LoginReservation,
  NewKey,
  Org,
  RotateResult,
  StatusChange,
  Store,
} from './store.ts';

export interface PostgresStoreOptions {
  /** Connections this process keeps to the server (KEYGATE_DATABASE_POOL_SIZE). */
  poolSize?: number;
  /**
   * How long a statement waits for a lock another connection holds before the call fails with
   * StoreUnavailableError (KEYGATE_STORE_LOCK_WAIT_MS): the server's lock_timeout.
   */
  lockWaitMs?: number;
  /** How long a call waits for a connection, new or from a busy pool, before it fails the same way. */
  connectTimeoutMs?: number;
}

export const DEFAULT_POOL_SIZE = 10;
const DEFAULT_LOCK_WAIT_MS = 3000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/**
 * The store for several Keygate nodes sharing one PostgreSQL database. Each method is one
 * statement or one READ COMMITTED transaction that locks what it decides on (the methods say
 * what), so that of concurrent callers on any connections of any nodes exactly one wins.
 */
export class PostgresStore implements Store {
  readonly dialect = 'postgres';
  private readonly db: PgDatabase;

  private constructor(db: PgDatabase) {
    this.db = db;
  }

  /** Connects to `url` (postgres://...) and brings its schema up to date (postgres-migrations.ts). */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const connection = {
      connectionString: url,
      connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      application_name: 'keygate',
    };
    try {
      await migrate(connection);
    } catch (error) {
      throw storeError(error);
    }
    return new PostgresStore(
      new PgDatabase({
        ...connection,
        max: options.poolSize ?? DEFAULT_POOL_SIZE,
        // 0 would wait forever; SQLite's 0 fails at once.
        lock_timeout: Math.max(1, options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS),
        keepAlive: true,
      }),
    );
  }

  createOrg(
    input: { name: string; singleUseTokens?: boolean },
    now: number,
    by: AuditActor = SYSTEM,
  ): Promise<Org> {
    return orgs.createOrg(this.db, input, now, by);
  }

  getOrg(id: string): Promise<Org | undefined> {
    return orgs.getOrg(this.db, id);
  }

  listOrgs(): Promise<Org[]> {
    return orgs.listOrgs(this.db);
  }

  insertKey(key: NewKey, now: number, caps?: KeyCaps, by: AuditActor = SYSTEM): Promise<KeyRecord> {
    return keys.insertKey(this.db, key, now, caps, by);
  }

  rotateKey(
    kid: string,
    replacement: NewKey,
    revokesAt: number,
    now: number,
    caps?: KeyCaps,
    by: AuditActor = SYSTEM,
  ): Promise<RotateResult> {
    return keys.rotateKey(this.db, kid, replacement, revokesAt, now, caps, by);
  }

  revokeDueKeys(now: number): Promise<number> {
    return keys.revokeDueKeys(this.db, now);
  }

  getKey(kid: string): Promise<KeyRecord | undefined> {
    return keyReads.getKey(this.db, kid);
  }

  listKeys(orgId: string): Promise<KeyRecord[]> {
    return keyReads.listKeys(this.db, orgId);
  }

  listKeysByOwner(userId: string): Promise<KeyRecord[]> {
    return keyReads.listKeysByOwner(this.db, userId);
  }

  keyIdsAfter(after: string, limit: number): Promise<string[]> {
    return keyReads.keyIdsAfter(this.db, after, limit);
  }

  keyChangesSince(revision: number, limit: number): Promise<KeyChange[]> {
    return keyReads.keyChangesSince(this.db, revision, limit);
  }

  setKeyStatus(kid: string, status: KeyStatus, by: AuditActor = SYSTEM, now?: number): Promise<StatusChange> {
    return keys.setKeyStatus(this.db, kid, status, by, now);
  }

  recordKeyUse(batch: KeyUseBatch): Promise<void> {
    return keyUse.recordKeyUse(this.db, batch);
  }

  keyUsage(kids: readonly string[]): Promise<KeyUseCount[]> {
    return keyUse.keyUsage(this.db, kids);
  }

  keyRevision(): Promise<number> {
    return keyReads.keyRevision(this.db);
  }

  bindJtis(claims: readonly JtiClaim[], now: number): Promise<JtiBinding[]> {
    return jtis.bindJtis(this.db, claims, now);
  }

  peekJti(iss: string, jti: string, tokenHash: string, now: number): Promise<JtiBinding> {
    return jtis.peekJti(this.db, iss, jti, tokenHash, now);
  }

  pruneJti(now: number): Promise<number> {
    return pruneExpired(this.db, 'jti_ledger', now);
  }

  createUser(user: UserRecord, by: AuditActor = SYSTEM): Promise<UserRecord> {
    return accounts.createUser(this.db, user, by);
  }

  getUser(id: string): Promise<UserRecord | undefined> {
    return accounts.getUser(this.db, id);
  }

  getUserByEmail(email: string): Promise<UserRecord | undefined> {
    return accounts.getUserByEmail(this.db, email);
  }

  listUsers(orgId: string): Promise<UserRecord[]> {
    return accounts.listUsers(this.db, orgId);
  }

  setUserStatus(
    id: string,
    status: UserStatus,
    now: number,
    by: AuditActor = SYSTEM,
  ): Promise<UserRecord | undefined> {
    return accounts.setUserStatus(this.db, id, status, now, by);
  }

  setUserPassword(
    id: string,
    passwordHash: string,
    now: number,
    by: AuditActor = SYSTEM,
  ): Promise<UserRecord | undefined> {
    return accounts.setUserPassword(this.db, id, passwordHash, now, by);
  }

  upgradePasswordHash(id: string, passwordHash: string): Promise<void> {
    return accounts.upgradePasswordHash(this.db, id, passwordHash);
  }

  reserveLoginAttempt(
    name: string,
    address: string,
    now: number,
    policy: LoginThrottlePolicy,
  ): Promise<LoginReservation> {
    return logins.reserveLoginAttempt(this.db, name, address, now, policy);
  }

  settleLoginAttempt(name: string, address: string, now: number, policy: LoginThrottlePolicy): Promise<void> {
    return logins.settleLoginAttempt(this.db, name, address, now, policy);
  }

  getLoginAttempts(name: string, now: number): Promise<LoginAttemptRecord[]> {
    return logins.getLoginAttempts(this.db, name, now);
  }

  clearLoginAttempts(name: string, by: AuditActor = SYSTEM, now?: number): Promise<void> {
    return accounts.unlockName(this.db, name, by, now);
  }

  pruneLoginAttempts(now: number): Promise<number> {
    return pruneExpired(this.db, 'login_attempts', now);
  }

  createSession(session: SessionRecord): Promise<void> {
    return sessions.createSession(this.db, session);
  }

  getSession(id: string): Promise<SessionRecord | undefined> {
    return sessions.getSession(this.db, id);
  }

  touchSession(id: string, now: number): Promise<void> {
    return sessions.touchSession(this.db, id, now);
  }

  revokeSession(id: string, now: number, reason: string): Promise<boolean> {
    return sessions.revokeSession(this.db, id, now, reason);
  }

  pruneSessions(now: number): Promise<number> {
    return pruneExpired(this.db, 'sessions', now);
  }

  listServerKeys(): Promise<ServerKeyRecord[]> {
    return serverKeys.listServerKeys(this.db);
  }

  rotateServerKey(
    key: ServerKeyRecord & { sealedPrivateKey: string },
    options: { onlyIfNone?: boolean } = {},
  ): Promise<void> {
    return serverKeys.rotateServerKey(this.db, key, options);
  }

  resealServerKey(id: string, from: string, to: string): Promise<boolean> {
    return serverKeys.resealServerKey(this.db, id, from, to);
  }

  deleteRetiredServerKeys(retiredBy: number): Promise<number> {
    return serverKeys.deleteRetiredServerKeys(this.db, retiredBy);
  }

  async appendAudit(events: readonly AuditEvent[]): Promise<void> {
    if (events.length > 0) await this.db.transaction((sql) => audit.appendEvents(sql, events));
  }

  listAudit(query: AuditQuery): Promise<AuditRecord[]> {
    return audit.selectEvents(this.db, query);
  }

  pruneAudit(before: number): Promise<number> {
    return audit.deleteEventsBefore(this.db, before);
  }

  async ping(): Promise<void> {
    await this.db.one('SELECT 1');
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
