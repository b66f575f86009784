import { randomUUID } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  DatabaseSync,
  type SQLInputValue,
  type SQLOutputValue,
  type StatementResultingChanges,
} from 'node:sqlite';
import type { ServerKeyRecord, SessionRecord, UserRecord, UserStatus } from '../core/account-records.ts';
import type { KeyFamily } from '../core/algorithms.ts';
import {
  type AuditActor,
  type AuditEvent,
  type AuditQuery,
  type AuditRecord,
  SYSTEM,
} from '../core/audit.ts';
import type { KeyRecord, KeyStatus } from '../core/key-record.ts';
import type { KeyUseBatch, KeyUseCount } from '../core/key-usage.ts';
import {
  type AddressCounter,
  type AttemptCounter,
  decideAttempt,
  type LoginAttemptRecord,
  type LoginThrottlePolicy,
} from '../core/login-throttle.ts';
import type { Role } from '../core/roles.ts';
import { normalizeUserName } from '../core/user-name.ts';
import { toSession, toUser } from './account-rows.ts';
import {
  keyRegistered,
  keyRotated,
  keyStatusChanged,
  keySwept,
  orgCreated,
  passwordChanged,
  userCreated,
  userStatusChanged,
  userUnlocked,
  wallClock,
} from './audit-rows.ts';
import { newKeyRecord, thumbprintConflict } from './key-rows.ts';
import { appendEvents, deleteEventsBefore, selectEvents } from './sqlite-audit.ts';
import { Checkpointer } from './sqlite-checkpointer.ts';
import { boundToken, jtiPair } from './sqlite-jti.ts';
import { LockWait } from './sqlite-lock-wait.ts';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.ts';
import {
  ConflictError,
  type JtiBinding,
  type JtiClaim,
  KeyCapError,
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

type Row = Record<string, SQLInputValue>;

/** The scope of a name's account-wide attempt counter; a client address is never empty. */
const ACCOUNT_SCOPE = '';

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
 * Pruning deletes in batches sized to take about this long, with the event loop running between
 * them: a jti binding costs ~3 us to delete, a session ~20 us (its id index is random), and a
 * slow disk more; one DELETE of 500k rows held the loop for 664 ms.
 */
const PRUNE_BATCH_MS = 4;
const PRUNE_BATCH_ROWS = { first: 100, least: 10, most: 5000 };

/** A prepared statement whose every run reports database failures as StoreUnavailableError. */
interface Statement {
  run(...params: SQLInputValue[]): StatementResultingChanges;
  get(...params: SQLInputValue[]): Record<string, SQLOutputValue> | undefined;
  all(...params: SQLInputValue[]): Record<string, SQLOutputValue>[];
}

/**
 * SQLite's primary result codes that say the database cannot serve right now (locked past the
 * busy timeout, out of memory or disk, read-only, I/O error, corrupt or not a database file).
 * The others (SQLITE_ERROR for bad SQL, SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_RANGE,
 * SQLITE_MISUSE...) mean a statement is wrong: a bug, which must not pass for an outage.
 */
const UNAVAILABLE_RESULT_CODES = new Set([
  3, // SQLITE_PERM
  5, // SQLITE_BUSY
  6, // SQLITE_LOCKED
  7, // SQLITE_NOMEM
  8, // SQLITE_READONLY
  10, // SQLITE_IOERR
  11, // SQLITE_CORRUPT
  13, // SQLITE_FULL
  14, // SQLITE_CANTOPEN
  15, // SQLITE_PROTOCOL
  17, // SQLITE_SCHEMA
  22, // SQLITE_NOLFS
  26, // SQLITE_NOTADB
]);

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
  /** True while a read() or write() unit runs: the only place a statement may run. */
  private inUnit = false;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // The file holds password hashes and the session signing key: readable by its owner only.
      closeSync(openSync(path, 'a', 0o600));
      chmodSync(path, 0o600);
    }
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA busy_timeout = 5000');
    // Switching to WAL takes a lock that the busy handler does not wait for; several workers
    // opening the same new file at once retry here instead of failing.
    retryWhileLocked(() => this.db.exec('PRAGMA journal_mode = WAL'));
    this.db.exec('PRAGMA synchronous = NORMAL');
    this.db.exec('PRAGMA foreign_keys = ON');
    // Deleted and overwritten content (a re-sealed signing key, replaced password hashes, ended
    // sessions) is zeroed, not left in free pages for a copy of the file to reveal.
    this.db.exec('PRAGMA secure_delete = ON');
    // Migration 4 stores user names normalised; SQL cannot do NFKC, so the rule is lent to it.
    this.db.function('keygate_user_name', { deterministic: true }, (value) =>
      normalizeUserName(String(value)),
    );
    // Migration 6 compacts the replay ledger with the digests the store writes it with.
    this.db.function('keygate_jti_pair', { deterministic: true }, (iss, jti) =>
      jtiPair(String(iss), String(jti)),
    );
    this.db.function('keygate_bound_token', { deterministic: true }, (tokenHash) =>
      boundToken(String(tokenHash)),
    );
    // Opening waits for locks the blocking way: nothing is served yet, and migrations must run.
    this.migrate();
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
  private migrate(): void {
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

  async createOrg(
    input: { name: string; singleUseTokens?: boolean },
    now: number,
    by: AuditActor = SYSTEM,
  ): Promise<Org> {
    const org: Org = {
      id: randomUUID(),
      name: input.name,
      singleUseTokens: input.singleUseTokens ?? false,
      createdAt: now,
    };
    await this.write(() =>
      this.transaction(() => {
        this.sql('INSERT INTO orgs (id, name, single_use_tokens, created_at) VALUES (?, ?, ?, ?)').run(
          org.id,
          org.name,
          org.singleUseTokens ? 1 : 0,
          now,
        );
        this.audit([orgCreated(org, by)]);
      }),
    );
    return org;
  }

  async getOrg(id: string): Promise<Org | undefined> {
    const row = await this.read(() => this.sql('SELECT * FROM orgs WHERE id = ?').get(id) as Row | undefined);
    return row && toOrg(row);
  }

  async listOrgs(): Promise<Org[]> {
    return (await this.read(() => this.sql('SELECT * FROM orgs ORDER BY created_at, id').all() as Row[])).map(
      toOrg,
    );
  }

  async insertKey(key: NewKey, now: number, caps?: KeyCaps, by: AuditActor = SYSTEM): Promise<KeyRecord> {
    const record = newKeyRecord(key, now);
    await this.writeKey(record, () => {
      this.checkCaps(record, caps);
      this.insertKeyRow(record);
      this.audit([keyRegistered(record, by)]);
    });
    return record;
  }

  async rotateKey(
    kid: string,
    replacement: NewKey,
    revokesAt: number,
    now: number,
    caps?: KeyCaps,
    by: AuditActor = SYSTEM,
  ): Promise<RotateResult> {
    const record = newKeyRecord(replacement, now);
    return this.writeKey(record, (): RotateResult => {
      const row = this.sql('SELECT status, revokes_at FROM keys WHERE id = ?').get(kid) as Row | undefined;
      if (!row) return { ok: false, reason: 'not_found' };
      if (row.status !== 'active') return { ok: false, reason: 'not_active' };
      if (row.revokes_at !== null) return { ok: false, reason: 'already_rotated' };
      // The old key is on its way out, so it does not hold a place the replacement needs.
      this.sql('UPDATE keys SET revokes_at = ? WHERE id = ?').run(revokesAt, kid);
      this.checkCaps(record, caps);
      this.insertKeyRow(record);
      this.sql('UPDATE keys SET replaced_by = ? WHERE id = ?').run(record.id, kid);
      const old = toKey(this.sql('SELECT * FROM keys WHERE id = ?').get(kid) as Row);
      this.audit([keyRotated(old, record, by)]);
      return { ok: true, old, key: record };
    });
  }

  async revokeDueKeys(now: number): Promise<number> {
    return this.write(() =>
      this.transaction(() => {
        const due = this.sql(
          "SELECT id, org_id FROM keys WHERE revokes_at <= ? AND status <> 'revoked' ORDER BY id",
        ).all(now) as Row[];
        if (due.length === 0) return 0;
        this.audit(due.map((row) => keySwept({ id: String(row.id), orgId: String(row.org_id) }, now)));
        return Number(
          this.sql("UPDATE keys SET status = 'revoked' WHERE revokes_at <= ? AND status <> 'revoked'").run(
            now,
          ).changes,
        );
      }),
    );
  }

  /** Runs `work` (which inserts `record`) in a write transaction; a taken thumbprint is a ConflictError. */
  private async writeKey<T>(record: KeyRecord, work: () => T): Promise<T> {
    try {
      return await this.write(() => this.transaction(work));
    } catch (error) {
      if (String((error as Error).message).includes('UNIQUE constraint failed')) {
        const sameOrg = await this.read(() =>
          this.sql('SELECT 1 FROM keys WHERE thumbprint = ? AND org_id = ?').get(
            record.thumbprint,
            record.orgId,
          ),
        );
        throw thumbprintConflict(sameOrg !== undefined);
      }
      throw error;
    }
  }

  /** Inside the insert's transaction, so concurrent inserts cannot both take the last place. */
  private checkCaps(record: KeyRecord, caps: KeyCaps | undefined): void {
    if (!caps) return;
    const live = "status <> 'revoked' AND revokes_at IS NULL";
    const inOrg = Number(
      (this.sql(`SELECT count(*) AS n FROM keys WHERE org_id = ? AND ${live}`).get(record.orgId) as Row).n,
    );
    if (inOrg >= caps.perOrg) throw new KeyCapError('org', caps.perOrg);
    if (record.ownerUserId === null) return;
    const owned = Number(
      (
        this.sql(`SELECT count(*) AS n FROM keys WHERE owner_user_id = ? AND ${live}`).get(
          record.ownerUserId,
        ) as Row
      ).n,
    );
    if (owned >= caps.perOwner) throw new KeyCapError('owner', caps.perOwner);
  }

  private insertKeyRow(record: KeyRecord): void {
    this.sql(
      `INSERT INTO keys (id, org_id, spki_pem, thumbprint, family, bits, status, expires_at, roles, default_role,
         label, owner_user_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      record.id,
      record.orgId,
      record.spkiPem,
      record.thumbprint,
      record.family,
      record.bits,
      record.status,
      record.expiresAt,
      record.roles.join(','),
      record.defaultRole,
      record.label,
      record.ownerUserId,
      record.createdAt,
    );
  }

  async getKey(kid: string): Promise<KeyRecord | undefined> {
    const row = await this.read(
      () => this.sql('SELECT * FROM keys WHERE id = ?').get(kid) as Row | undefined,
    );
    return row && toKey(row);
  }

  async listKeys(orgId: string): Promise<KeyRecord[]> {
    const rows = await this.read(
      () => this.sql('SELECT * FROM keys WHERE org_id = ? ORDER BY created_at, id').all(orgId) as Row[],
    );
    return rows.map(toKey);
  }

  async listKeysByOwner(userId: string): Promise<KeyRecord[]> {
    const rows = await this.read(
      () =>
        this.sql('SELECT * FROM keys WHERE owner_user_id = ? ORDER BY created_at, id').all(userId) as Row[],
    );
    return rows.map(toKey);
  }

  async keyIdsAfter(after: string, limit: number): Promise<string[]> {
    const rows = await this.read(
      () => this.sql('SELECT id FROM keys WHERE id > ? ORDER BY id LIMIT ?').all(after, limit) as Row[],
    );
    return rows.map((row) => String(row.id));
  }

  async keyChangesSince(revision: number, limit: number): Promise<KeyChange[]> {
    const rows = await this.read(
      () =>
        this.sql(
          'SELECT id, status, expires_at, revokes_at, revision FROM keys WHERE revision > ? ORDER BY revision LIMIT ?',
        ).all(revision, limit) as Row[],
    );
    return rows.map((row) => ({
      id: String(row.id),
      status: String(row.status) as KeyStatus,
      expiresAt: nullableNumber(row.expires_at),
      revokesAt: nullableNumber(row.revokes_at),
      revision: Number(row.revision),
    }));
  }

  async setKeyStatus(
    kid: string,
    status: KeyStatus,
    by: AuditActor = SYSTEM,
    now: number = wallClock(),
  ): Promise<StatusChange> {
    return this.write(() =>
      this.transaction((): StatusChange => {
        const row = this.sql('SELECT status FROM keys WHERE id = ?').get(kid) as Row | undefined;
        if (!row) return { ok: false, reason: 'not_found' };
        if (row.status === 'revoked' && status !== 'revoked')
          return { ok: false, reason: 'revoked_is_final' };
        this.sql('UPDATE keys SET status = ? WHERE id = ?').run(status, kid);
        const key = toKey(this.sql('SELECT * FROM keys WHERE id = ?').get(kid) as Row);
        this.audit(keyStatusChanged(key, String(row.status), by, now));
        return { ok: true, key };
      }),
    );
  }

  async touchKeys(lastUsed: ReadonlyMap<string, number>): Promise<void> {
    await this.write(() =>
      this.transaction(() => {
        const update = this.sql(
          'UPDATE keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?',
        );
        for (const [kid, at] of lastUsed) update.run(at, kid);
      }),
    );
  }

  async recordKeyUse(batch: KeyUseBatch): Promise<void> {
    await this.write(() =>
      this.transaction(() => {
        // The SELECT leaves out a kid the store does not hold, as touchKeys does.
        const add = this.sql(
          `INSERT INTO key_usage (kid, outcome, count) SELECT id, ?, ? FROM keys WHERE id = ?
           ON CONFLICT (kid, outcome) DO UPDATE SET count = count + excluded.count`,
        );
        for (const { kid, outcome, count } of batch.counts) add.run(outcome, count, kid);
        const touch = this.sql(
          'UPDATE keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?',
        );
        for (const [kid, at] of batch.lastUsed) touch.run(at, kid);
      }),
    );
  }

  async keyUsage(kids: readonly string[]): Promise<KeyUseCount[]> {
    return this.read(() => {
      const select = this.sql('SELECT kid, outcome, count FROM key_usage WHERE kid = ? ORDER BY outcome');
      return [...new Set(kids)].sort().flatMap((kid) =>
        (select.all(kid) as Row[]).map((row) => ({
          kid: String(row.kid),
          outcome: String(row.outcome) as KeyUseCount['outcome'],
          count: Number(row.count),
        })),
      );
    });
  }

  async keyRevision(): Promise<number> {
    return this.read(() =>
      Number((this.sql("SELECT value FROM meta WHERE name = 'key_revision'").get() as Row).value),
    );
  }

  async bindJtis(claims: readonly JtiClaim[], now: number): Promise<JtiBinding[]> {
    if (claims.length === 0) return [];
    return this.write(() =>
      this.transaction(() =>
        claims.map(({ iss, jti, tokenHash, expiresAt }) => {
          const pair = jtiPair(iss, jti);
          const token = boundToken(tokenHash);
          // Insert, or take over a binding that has expired; a claim earlier in the batch counts.
          const inserted = this.sql(
            `INSERT INTO jti_bindings (pair, token, expires_at) VALUES (?, ?, ?)
             ON CONFLICT (pair) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
             WHERE jti_bindings.expires_at <= ?
             RETURNING 1`,
          ).get(pair, token, expiresAt, now);
          return inserted ? 'bound' : this.peek(pair, token, now);
        }),
      ),
    );
  }

  async peekJti(iss: string, jti: string, tokenHash: string, now: number): Promise<JtiBinding> {
    return this.read(() => this.peek(jtiPair(iss, jti), boundToken(tokenHash), now));
  }

  private peek(pair: Buffer, token: Buffer, now: number): JtiBinding {
    const row = this.sql('SELECT token, expires_at FROM jti_bindings WHERE pair = ?').get(pair) as
      | Row
      | undefined;
    if (!row || Number(row.expires_at) <= now) return 'bound';
    return token.equals(row.token as Uint8Array) ? 'same-token' : 'reused';
  }

  async pruneJti(now: number): Promise<number> {
    return this.inBatches((limit) => {
      const deleted = Number(
        this.sql(
          `DELETE FROM jti_bindings WHERE pair IN
             (SELECT pair FROM jti_bindings WHERE expires_at <= ? LIMIT ?)`,
        ).run(now, limit).changes,
      );
      return { deleted, done: deleted < limit };
    });
  }

  async createUser(user: UserRecord, by: AuditActor = SYSTEM): Promise<UserRecord> {
    try {
      await this.write(() =>
        this.transaction(() => {
          this.sql(
            `INSERT INTO users (id, org_id, email, screen_name, role, status, password_hash, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          ).run(
            user.id,
            user.orgId,
            user.email,
            user.screenName,
            user.role,
            user.status,
            user.passwordHash,
            user.createdAt,
          );
          this.audit([userCreated(user, by)]);
        }),
      );
    } catch (error) {
      if (String((error as Error).message).includes('UNIQUE constraint failed')) {
        throw new ConflictError('email', `A user with the email ${user.email} exists already.`);
      }
      throw error;
    }
    return user;
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const row = await this.read(
      () => this.sql('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined,
    );
    return row && toUser(row);
  }

  async getUserByEmail(email: string): Promise<UserRecord | undefined> {
    // A plain read: a login writes its attempt (reserveLoginAttempt) before this lookup, for
    // every name alike, so a store that cannot take writes already refused it the same way.
    const row = await this.read(
      () => this.sql('SELECT * FROM users WHERE email = ?').get(email) as Row | undefined,
    );
    return row && toUser(row);
  }

  async listUsers(orgId: string): Promise<UserRecord[]> {
    const rows = await this.read(
      () => this.sql('SELECT * FROM users WHERE org_id = ? ORDER BY created_at, email').all(orgId) as Row[],
    );
    return rows.map(toUser);
  }

  async setUserStatus(
    id: string,
    status: UserStatus,
    now: number,
    by: AuditActor = SYSTEM,
  ): Promise<UserRecord | undefined> {
    return this.write(() =>
      this.transaction(() => {
        const before = this.sql('SELECT status FROM users WHERE id = ?').get(id) as Row | undefined;
        if (!before) return undefined;
        this.sql('UPDATE users SET status = ? WHERE id = ?').run(status, id);
        if (status === 'disabled') this.revokeSessionsOf(id, now, 'user_disabled');
        const user = toUser(this.sql('SELECT * FROM users WHERE id = ?').get(id) as Row);
        this.audit(userStatusChanged(user, String(before.status), by, now));
        return user;
      }),
    );
  }

  async setUserPassword(
    id: string,
    passwordHash: string,
    now: number,
    by: AuditActor = SYSTEM,
  ): Promise<UserRecord | undefined> {
    return this.write(() =>
      this.transaction(() => {
        const changed = this.sql('UPDATE users SET password_hash = ? WHERE id = ?').run(
          passwordHash,
          id,
        ).changes;
        if (changed === 0) return undefined;
        this.revokeSessionsOf(id, now, 'password_changed');
        const user = toUser(this.sql('SELECT * FROM users WHERE id = ?').get(id) as Row);
        this.clearAttemptsOf(user.email);
        this.audit([passwordChanged(user, by, now)]);
        return user;
      }),
    );
  }

  private revokeSessionsOf(userId: string, now: number, reason: string): void {
    this.sql(
      'UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE user_id = ? AND revoked_at IS NULL',
    ).run(now, reason, userId);
  }

  async upgradePasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.write(() => this.sql('UPDATE users SET password_hash = ? WHERE id = ?').run(passwordHash, id));
  }

  async reserveLoginAttempt(
    name: string,
    address: string,
    now: number,
    policy: LoginThrottlePolicy,
  ): Promise<LoginReservation> {
    requireAddress(address);
    return this.write(() =>
      this.transaction((): LoginReservation => {
        const perAddress = this.attemptCounter(name, address);
        const decision = decideAttempt(this.attemptCounter(name, ACCOUNT_SCOPE), perAddress, now, policy);
        if (!decision.allowed) return decision;
        this.writeAttempts(name, ACCOUNT_SCOPE, decision.account, 0);
        this.writeAttempts(name, address, decision.address, perAddress?.trustedUntil ?? 0);
        return { allowed: true };
      }),
    );
  }

  async settleLoginAttempt(
    name: string,
    address: string,
    now: number,
    policy: LoginThrottlePolicy,
  ): Promise<void> {
    requireAddress(address);
    await this.write(() =>
      this.transaction(() => {
        this.clearAttemptsOf(name);
        const trustedUntil = Math.max(
          now + policy.trustSeconds,
          this.attemptCounter(name, address)?.trustedUntil ?? 0,
        );
        this.writeAttempts(name, address, { attempts: 0, windowEndsAt: now, blockedUntil: 0 }, trustedUntil);
      }),
    );
  }

  async getLoginAttempts(name: string, now: number): Promise<LoginAttemptRecord[]> {
    const rows = await this.read(
      () =>
        this.sql('SELECT * FROM login_attempts WHERE name = ? AND expires_at > ? ORDER BY scope').all(
          name,
          now,
        ) as Row[],
    );
    return rows.map((row) => ({
      address: row.scope === ACCOUNT_SCOPE ? null : String(row.scope),
      attempts: Number(row.attempts),
      windowEndsAt: Number(row.window_ends_at),
      blockedUntil: Number(row.blocked_until),
      trustedUntil: Number(row.trusted_until),
    }));
  }

  async clearLoginAttempts(name: string, by: AuditActor = SYSTEM, now: number = wallClock()): Promise<void> {
    await this.write(() =>
      this.transaction(() => {
        this.clearAttemptsOf(name);
        const user = this.sql('SELECT id, org_id FROM users WHERE email = ?').get(name) as Row | undefined;
        if (user)
          this.audit([
            userUnlocked({ id: String(user.id), orgId: String(user.org_id), email: name }, by, now),
          ]);
      }),
    );
  }

  async pruneLoginAttempts(now: number): Promise<number> {
    return this.write(() =>
      Number(this.sql('DELETE FROM login_attempts WHERE expires_at <= ?').run(now).changes),
    );
  }

  private attemptCounter(name: string, scope: string): AddressCounter | undefined {
    const row = this.sql(
      'SELECT attempts, window_ends_at, blocked_until, trusted_until FROM login_attempts WHERE name = ? AND scope = ?',
    ).get(name, scope) as Row | undefined;
    return (
      row && {
        attempts: Number(row.attempts),
        windowEndsAt: Number(row.window_ends_at),
        blockedUntil: Number(row.blocked_until),
        trustedUntil: Number(row.trusted_until),
      }
    );
  }

  private writeAttempts(name: string, scope: string, counter: AttemptCounter, trustedUntil: number): void {
    this.sql(
      `INSERT INTO login_attempts (name, scope, attempts, window_ends_at, blocked_until, trusted_until, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name, scope) DO UPDATE SET attempts = excluded.attempts, window_ends_at = excluded.window_ends_at,
         blocked_until = excluded.blocked_until, trusted_until = excluded.trusted_until, expires_at = excluded.expires_at`,
    ).run(
      name,
      scope,
      counter.attempts,
      counter.windowEndsAt,
      counter.blockedUntil,
      trustedUntil,
      Math.max(counter.windowEndsAt, counter.blockedUntil, trustedUntil),
    );
  }

  private clearAttemptsOf(name: string): void {
    this.sql(
      `UPDATE login_attempts SET attempts = 0, blocked_until = 0, expires_at = min(expires_at, trusted_until)
       WHERE name = ?`,
    ).run(name);
  }

  async createSession(session: SessionRecord): Promise<void> {
    await this.write(() =>
      this.sql(
        'INSERT INTO sessions (id, user_id, role, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(
        session.id,
        session.userId,
        session.role,
        session.createdAt,
        session.lastSeenAt,
        session.expiresAt,
      ),
    );
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const row = await this.read(
      () => this.sql('SELECT * FROM sessions WHERE id = ?').get(id) as Row | undefined,
    );
    return row && toSession(row);
  }

  async touchSession(id: string, now: number): Promise<void> {
    await this.write(() =>
      this.sql('UPDATE sessions SET last_seen_at = max(last_seen_at, ?) WHERE id = ?').run(now, id),
    );
  }

  async revokeSession(id: string, now: number, reason: string): Promise<boolean> {
    const result = await this.write(() =>
      this.sql(
        'UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL',
      ).run(now, reason, id),
    );
    return Number(result.changes) > 0;
  }

  async pruneSessions(now: number): Promise<number> {
    // Sessions have no index on expires_at: walk the table in rowid order, `limit` rows at a
    // time, so that no step scans more than that however many sessions are live.
    let after = Number.MIN_SAFE_INTEGER;
    return this.inBatches((limit) => {
      const { last } = this.sql(
        'SELECT max(rowid) AS last FROM (SELECT rowid FROM sessions WHERE rowid > ? ORDER BY rowid LIMIT ?)',
      ).get(after, limit) as Row;
      if (last === null || last === undefined) return { deleted: 0, done: true };
      const deleted = Number(
        this.sql('DELETE FROM sessions WHERE rowid > ? AND rowid <= ? AND expires_at <= ?').run(
          after,
          last,
          now,
        ).changes,
      );
      after = Number(last);
      return { deleted, done: false };
    });
  }

  /**
   * Runs `batch(limit)` as write units until it reports done, letting the event loop run between
   * two; `limit` adapts so that a batch takes about PRUNE_BATCH_MS. Returns the rows deleted.
   */
  private async inBatches(batch: (limit: number) => { deleted: number; done: boolean }): Promise<number> {
    let limit = PRUNE_BATCH_ROWS.first;
    let total = 0;
    for (;;) {
      let took = 0;
      const { deleted, done } = await this.write(() => {
        const started = performance.now();
        try {
          return batch(limit);
        } finally {
          took = performance.now() - started;
        }
      });
      total += deleted;
      if (done) return total;
      if (took < PRUNE_BATCH_MS / 2) limit = Math.min(limit * 2, PRUNE_BATCH_ROWS.most);
      else if (took > PRUNE_BATCH_MS * 2) limit = Math.max(Math.floor(limit / 2), PRUNE_BATCH_ROWS.least);
      await yieldToEventLoop();
    }
  }

  async listServerKeys(): Promise<ServerKeyRecord[]> {
    const rows = await this.read(
      () => this.sql('SELECT * FROM server_keys ORDER BY created_at, id').all() as Row[],
    );
    return rows.map((row) => ({
      id: String(row.id),
      sealedPrivateKey: row.sealed_private_key === null ? null : String(row.sealed_private_key),
      publicJwk: String(row.public_jwk),
      status: String(row.status) as ServerKeyRecord['status'],
      createdAt: Number(row.created_at),
      retiredAt: row.retired_at === null ? null : Number(row.retired_at),
    }));
  }

  async rotateServerKey(
    key: ServerKeyRecord & { sealedPrivateKey: string },
    options: { onlyIfNone?: boolean } = {},
  ): Promise<void> {
    await this.write(() =>
      this.transaction(() => {
        if (options.onlyIfNone && this.sql("SELECT 1 FROM server_keys WHERE status = 'active'").get()) return;
        this.sql(
          "UPDATE server_keys SET status = 'retired', retired_at = ?, sealed_private_key = NULL WHERE status = 'active'",
        ).run(key.createdAt);
        this.sql(
          'INSERT INTO server_keys (id, sealed_private_key, public_jwk, status, created_at) VALUES (?, ?, ?, ?, ?)',
        ).run(key.id, key.sealedPrivateKey, key.publicJwk, 'active', key.createdAt);
      }),
    );
  }

  async resealServerKey(id: string, from: string, to: string): Promise<boolean> {
    const changed = await this.write(
      () =>
        this.sql(
          "UPDATE server_keys SET sealed_private_key = ? WHERE id = ? AND sealed_private_key = ? AND status = 'active'",
        ).run(to, id, from).changes,
    );
    if (Number(changed) === 0) return false;
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
    return this.write(() =>
      Number(
        this.sql("DELETE FROM server_keys WHERE status = 'retired' AND retired_at <= ?").run(retiredBy)
          .changes,
      ),
    );
  }

  async appendAudit(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.write(() => this.transaction(() => this.audit(events)));
  }

  async listAudit(query: AuditQuery): Promise<AuditRecord[]> {
    return this.read(() => selectEvents((text) => this.sql(text), query));
  }

  async pruneAudit(before: number): Promise<number> {
    return this.inBatches((limit) => {
      const deleted = deleteEventsBefore((text) => this.sql(text), before, limit);
      return { deleted, done: deleted < limit };
    });
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

/** Lets timers and I/O run between two batches of a long job. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function toOrg(row: Row): Org {
  return {
    id: String(row.id),
    name: String(row.name),
    singleUseTokens: row.single_use_tokens === 1,
    createdAt: Number(row.created_at),
  };
}

function isUnavailable(error: unknown): boolean {
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  // node:sqlite gives SQLite's extended result code; its low byte is the primary one.
  return (
    code === 'ERR_SQLITE_ERROR' && typeof errcode === 'number' && UNAVAILABLE_RESULT_CODES.has(errcode & 0xff)
  );
}

/** An empty address would be the account-wide counter: a caller's bug, never a client's input. */
function requireAddress(address: string): void {
  if (address === ACCOUNT_SCOPE) throw new TypeError('A login attempt needs a client address.');
}

function retryWhileLocked(work: () => void): void {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      work();
      return;
    } catch (error) {
      if (!/locked|busy/i.test(String((error as Error).message)) || Date.now() > deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

function toKey(row: Row): KeyRecord {
  return {
    id: String(row.id),
    orgId: String(row.org_id),
    spkiPem: String(row.spki_pem),
    thumbprint: String(row.thumbprint),
    family: String(row.family) as KeyFamily,
    bits: Number(row.bits),
    status: String(row.status) as KeyStatus,
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    roles: String(row.roles).split(',') as Role[],
    defaultRole: String(row.default_role) as Role,
    label: row.label === null ? null : String(row.label),
    ownerUserId: row.owner_user_id === null ? null : String(row.owner_user_id),
    revokesAt: nullableNumber(row.revokes_at),
    replacedBy: row.replaced_by === null ? null : String(row.replaced_by),
    createdAt: Number(row.created_at),
    lastUsedAt: nullableNumber(row.last_used_at),
  };
}

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}
