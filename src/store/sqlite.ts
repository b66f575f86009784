import type { DatabaseSync } from 'node:sqlite';
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
import { DEFAULT_MEMORY_BOUNDS } from '../core/memory-bounds.ts';
import { wallClock } from './audit-rows.ts';
import * as accounts from './sqlite-accounts.ts';
import { appendEvents, selectEvents } from './sqlite-audit.ts';
import { Checkpointer } from './sqlite-checkpointer.ts';
import type { Row, SqliteDatabase, Statement } from './sqlite-database.ts';
import { isUnavailable } from './sqlite-errors.ts';
import * as jtis from './sqlite-jti.ts';
import * as keyUse from './sqlite-key-usage.ts';
import * as keys from './sqlite-keys.ts';
import { LockWait } from './sqlite-lock-wait.ts';
import * as logins from './sqlite-logins.ts';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.ts';
import { openDatabase } from './sqlite-open.ts';
import * as prune from './sqlite-prune.ts';
import { RecentJtis } from './sqlite-recent-jtis.ts';
import * as sessions from './sqlite-sessions.ts';
import {
  type JtiBinding,
  type JtiClaim,
  type KeyCaps,
  type KeyChange,
  type LoginReservation,
  type NewKey,
  type Org,
  type RotateResult,
  type StatusChange,
  type Store,
  StoreUnavailableError,
} from './store.ts';

export interface SqliteStoreOptions {
  /**
   * How long a call waits, in all, for a lock another connection holds before it fails with
   * StoreUnavailableError (KEYGATE_STORE_LOCK_WAIT_MS). The wait never blocks the event loop.
   */
  lockWaitMs?: number;
  /**
   * Checkpoint the WAL from a worker thread (sqlite-checkpointer.ts) rather than inside the
   * commits of this connection: for a long-running server. Short-lived CLI runs leave it off.
   */
  backgroundCheckpoints?: boolean;
  /**
   * Recent replay-ledger bindings indexed in memory (KEYGATE_RECENT_JTI_ENTRIES); past it the
   * oldest move to the ledger's index on disk (sqlite-jti.ts).
   */
  recentJtiEntries?: number;
}

/** With background checkpoints, the WAL size (in pages) at which a commit still checkpoints itself. */
const FALLBACK_CHECKPOINT_PAGES = 20_000;

export const DEFAULT_LOCK_WAIT_MS = 3000;

/**
 * SQLite's own busy wait blocks the thread, so it is kept to what another connection's commit
 * takes; anything longer is waited for with timers (LockWait).
 */
const BUSY_TIMEOUT_MS = 2;

/**
 * The embedded store. WAL mode with synchronous=NORMAL: a committed transaction survives the
 * process being killed at any moment (the WAL is in the OS before COMMIT returns); only a power
 * loss can take the last commits back, never corrupt the file.
 */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite';
  private readonly db: DatabaseSync;
  private readonly statements = new Map<string, Statement>();
  private readonly lockWait: LockWait;
  private readonly checkpointer: Checkpointer | undefined;
  private readonly recentJtis: RecentJtis;
  /** True while a read() or write() unit runs: the only place a statement may run. */
  private inUnit = false;
  /** What the functions of each domain (sqlite-keys.ts...) run their statements through. */
  private readonly database: SqliteDatabase = {
    read: (work) => this.read(work),
    write: (work) => this.write(work),
    transaction: (work) => this.transaction(work),
    sql: (text) => this.sql(text),
    audit: (events) => this.audit(events),
  };

  get recentJtiEntries(): number {
    return this.recentJtis.size;
  }

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.db = openDatabase(path);
    this.recentJtis = new RecentJtis(options.recentJtiEntries ?? DEFAULT_MEMORY_BOUNDS.recentJtiEntries);
    // Opening waits for locks the blocking way: nothing is served yet, and migrations must run.
    this.migrate(path);
    this.db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (options.backgroundCheckpoints && path !== ':memory:') {
      this.db.exec(`PRAGMA wal_autocheckpoint = ${FALLBACK_CHECKPOINT_PAGES}`);
      this.checkpointer = new Checkpointer(path, () => this.lockWait.hold());
    }
    this.lockWait = new LockWait(options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, () =>
      this.guard(() => {
        this.db.exec('BEGIN IMMEDIATE');
        this.db.exec('ROLLBACK');
      }),
    );
  }

  /**
   * Runs `work`, which reads only, as one unit: on a lock it runs again as a whole, after a wait
   * that leaves the event loop free.
   */
  private read<T>(work: () => T): Promise<T> {
    return this.lockWait.run(() => this.unit(work), 'read');
  }

  /**
   * Runs `work` as one unit that writes: a single statement, or a transaction that, when it meets
   * a lock, is rolled back and run again from BEGIN, so it never commits half.
   */
  private write<T>(work: () => T): Promise<T> {
    return this.lockWait.run(() => {
      const result = this.unit(work);
      this.checkpointer?.afterWrite(this.db);
      return result;
    }, 'write');
  }

  private unit<T>(work: () => T): T {
    this.inUnit = true;
    try {
      return work();
    } finally {
      this.inUnit = false;
    }
  }

  /** Each step re-reads the version inside its own write transaction: concurrent openers migrate once. */
  private migrate(path: string): void {
    const found = Number((this.db.prepare('PRAGMA user_version').get() as Row).user_version);
    if (found > SQLITE_MIGRATIONS.length) {
      // A file a newer Keygate has upgraded: this one's statements would fail on tables it does
      // not know, request by request. Refused at start instead, before anything is served.
      this.db.close();
      throw new Error(
        `${path}: the database's schema is at version ${found}, newer than this Keygate's ` +
          `(${SQLITE_MIGRATIONS.length}); run the Keygate version that upgraded it, or a later one`,
      );
    }
    for (let target = 1; target <= SQLITE_MIGRATIONS.length; target++) {
      this.transaction(() => {
        const current = Number((this.db.prepare('PRAGMA user_version').get() as Row).user_version);
        if (current >= target) return;
        this.db.exec(SQLITE_MIGRATIONS[target - 1] as string);
        this.db.exec(`PRAGMA user_version = ${target}`);
      });
    }
  }

  /** Every statement runs through here, so that the database's failures are told apart from bugs. */
  private sql(text: string): Statement {
    if (!this.inUnit) {
      // A statement outside read()/write() would meet a lock with no wait to retry it.
      throw new Error('SqliteStore: run every statement inside this.read() or this.write().');
    }
    let statement = this.statements.get(text);
    if (!statement) {
      const prepared = this.guard(() => this.db.prepare(text));
      statement = {
        run: (...params) => this.guard(() => prepared.run(...params)),
        get: (...params) => this.guard(() => prepared.get(...params)),
        all: (...params) => this.guard(() => prepared.all(...params)),
      };
      this.statements.set(text, statement);
    }
    return statement;
  }

  private transaction<T>(work: () => T): T {
    this.guard(() => this.db.exec('BEGIN IMMEDIATE'));
    try {
      const result = work();
      this.guard(() => this.db.exec('COMMIT'));
      return result;
    } catch (error) {
      // A failed COMMIT may already have rolled back, and a closed database has nothing to undo.
      if (this.db.isOpen && this.db.isTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
  }

  /**
   * Rethrows what the database itself reports (closed, locked, full, I/O) as StoreUnavailableError,
   * with the original as `cause`; anything else (a TypeError from a bug, a constraint the caller
   * handles) passes unchanged.
   */
  private guard<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      if (!this.db.isOpen || isUnavailable(error)) {
        throw new StoreUnavailableError(`The SQLite store failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  // Each method is async, so that what its domain's function throws reaches the caller as a
  // rejected promise, never as an exception from the call itself.

  async createOrg(
    input: { name: string; singleUseTokens?: boolean },
    now: number,
    by: AuditActor = SYSTEM,
  ): Promise<Org> {
    return accounts.createOrg(this.database, input, now, by);
  }

  async getOrg(id: string): Promise<Org | undefined> {
    return accounts.getOrg(this.database, id);
  }

  async listOrgs(): Promise<Org[]> {
    return accounts.listOrgs(this.database);
  }

  async insertKey(key: NewKey, now: number, caps?: KeyCaps, by: AuditActor = SYSTEM): Promise<KeyRecord> {
    return keys.insertKey(this.database, key, now, caps, by);
  }

  async rotateKey(
    kid: string,
    replacement: NewKey,
    revokesAt: number,
    now: number,
    caps?: KeyCaps,
    by: AuditActor = SYSTEM,
  ): Promise<RotateResult> {
    return keys.rotateKey(this.database, kid, replacement, revokesAt, now, caps, by);
  }

  async revokeDueKeys(now: number): Promise<number> {
    return keys.revokeDueKeys(this.database, now);
  }

  async getKey(kid: string): Promise<KeyRecord | undefined> {
    return keys.getKey(this.database, kid);
  }

  async listKeys(orgId: string): Promise<KeyRecord[]> {
    return keys.listKeys(this.database, orgId);
  }

  async listKeysByOwner(userId: string): Promise<KeyRecord[]> {
    return keys.listKeysByOwner(this.database, userId);
  }

  async keyIdsAfter(after: string, limit: number): Promise<string[]> {
    return keys.keyIdsAfter(this.database, after, limit);
  }

  async keyChangesSince(revision: number, limit: number): Promise<KeyChange[]> {
    return keys.keyChangesSince(this.database, revision, limit);
  }

  async setKeyStatus(
    kid: string,
    status: KeyStatus,
    by: AuditActor = SYSTEM,
    now: number = wallClock(),
  ): Promise<StatusChange> {
    return keys.setKeyStatus(this.database, kid, status, by, now);
  }

  async recordKeyUse(batch: KeyUseBatch): Promise<void> {
    return keyUse.recordKeyUse(this.database, batch);
  }

  async keyUsage(kids: readonly string[]): Promise<KeyUseCount[]> {
    return keyUse.keyUsage(this.database, kids);
  }

  async keyRevision(): Promise<number> {
    return keys.keyRevision(this.database);
  }

  async bindJtis(claims: readonly JtiClaim[], now: number): Promise<JtiBinding[]> {
    return jtis.bindJtis(this.database, this.recentJtis, claims, now);
  }

  async peekJti(iss: string, jti: string, tokenHash: string, now: number): Promise<JtiBinding> {
    return jtis.peekJti(this.database, this.recentJtis, iss, jti, tokenHash, now);
  }

  async pruneJti(now: number): Promise<number> {
    return prune.pruneJti(this.database, now);
  }

  async createUser(user: UserRecord, by: AuditActor = SYSTEM): Promise<UserRecord> {
    return accounts.createUser(this.database, user, by);
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    return accounts.getUser(this.database, id);
  }

  async getUserByEmail(email: string): Promise<UserRecord | undefined> {
    return accounts.getUserByEmail(this.database, email);
  }

  async listUsers(orgId: string): Promise<UserRecord[]> {
    return accounts.listUsers(this.database, orgId);
  }

  async setUserStatus(
    id: string,
    status: UserStatus,
    now: number,
    by: AuditActor = SYSTEM,
  ): Promise<UserRecord | undefined> {
    return accounts.setUserStatus(this.database, id, status, now, by);
  }

  async setUserPassword(
    id: string,
    passwordHash: string,
    now: number,
    by: AuditActor = SYSTEM,
  ): Promise<UserRecord | undefined> {
    return accounts.setUserPassword(this.database, id, passwordHash, now, by);
  }

  async upgradePasswordHash(id: string, passwordHash: string): Promise<void> {
    return accounts.upgradePasswordHash(this.database, id, passwordHash);
  }

  async reserveLoginAttempt(
    name: string,
    address: string,
    now: number,
    policy: LoginThrottlePolicy,
  ): Promise<LoginReservation> {
    return logins.reserveLoginAttempt(this.database, name, address, now, policy);
  }

  async settleLoginAttempt(
    name: string,
    address: string,
    now: number,
    policy: LoginThrottlePolicy,
  ): Promise<void> {
    return logins.settleLoginAttempt(this.database, name, address, now, policy);
  }

  async getLoginAttempts(name: string, now: number): Promise<LoginAttemptRecord[]> {
    return logins.getLoginAttempts(this.database, name, now);
  }

  async clearLoginAttempts(name: string, by: AuditActor = SYSTEM, now: number = wallClock()): Promise<void> {
    return logins.clearLoginAttempts(this.database, name, by, now);
  }

  async pruneLoginAttempts(now: number): Promise<number> {
    return prune.pruneLoginAttempts(this.database, now);
  }

  async createSession(session: SessionRecord): Promise<void> {
    return sessions.createSession(this.database, session);
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    return sessions.getSession(this.database, id);
  }

  async touchSession(id: string, now: number): Promise<void> {
    return sessions.touchSession(this.database, id, now);
  }

  async revokeSession(id: string, now: number, reason: string): Promise<boolean> {
    return sessions.revokeSession(this.database, id, now, reason);
  }

  async pruneSessions(now: number): Promise<number> {
    return prune.pruneSessions(this.database, now);
  }

  async listServerKeys(): Promise<ServerKeyRecord[]> {
    return accounts.listServerKeys(this.database);
  }

  async rotateServerKey(
    key: ServerKeyRecord & { sealedPrivateKey: string },
    options: { onlyIfNone?: boolean } = {},
  ): Promise<void> {
    return accounts.rotateServerKey(this.database, key, options);
  }

  async resealServerKey(id: string, from: string, to: string): Promise<boolean> {
    if (!(await accounts.resealServerKey(this.database, id, from, to))) return false;
    // The page images holding the old value leave the write-ahead log for the main file (where
    // secure_delete zeroes them); best effort: a reader holding the log open only delays it.
    try {
      this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    } catch {
      // The next automatic checkpoint moves them.
    }
    return true;
  }

  async deleteRetiredServerKeys(retiredBy: number): Promise<number> {
    return accounts.deleteRetiredServerKeys(this.database, retiredBy);
  }

  async appendAudit(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.write(() => this.transaction(() => this.audit(events)));
  }

  async listAudit(query: AuditQuery): Promise<AuditRecord[]> {
    return this.read(() => selectEvents((text) => this.sql(text), query));
  }

  async pruneAudit(before: number): Promise<number> {
    return prune.pruneAudit(this.database, before);
  }

  /** Inside the transaction of the change the events record. */
  private audit(events: readonly AuditEvent[]): void {
    appendEvents((text) => this.sql(text), events);
  }

  async ping(): Promise<void> {
    await this.read(() => this.sql('SELECT 1').get());
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    if (this.db.isOpen) this.db.close();
    this.lockWait.close();
  }
}
