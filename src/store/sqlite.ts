import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import type { KeyFamily } from '../core/algorithms.ts';
import type { KeyRecord, KeyStatus } from '../core/key-record.ts';
import type { Role } from '../core/roles.ts';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.ts';
import {
  ConflictError,
  type JtiBinding,
  type NewKey,
  type Org,
  type StatusChange,
  type Store,
} from './store.ts';

type Row = Record<string, SQLInputValue>;

/**
 * The embedded store. WAL mode with synchronous=NORMAL: a committed transaction survives the
 * process being killed at any moment (the WAL is in the OS before COMMIT returns); only a power
 * loss can take the last commits back, never corrupt the file.
 */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite';
  private readonly db: DatabaseSync;
  private readonly statements = new Map<string, ReturnType<DatabaseSync['prepare']>>();

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA busy_timeout = 5000');
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec('PRAGMA synchronous = NORMAL');
    this.db.exec('PRAGMA foreign_keys = ON');
    this.migrate();
  }

  private migrate(): void {
    const current = Number((this.db.prepare('PRAGMA user_version').get() as Row).user_version);
    for (let version = current; version < SQLITE_MIGRATIONS.length; version++) {
      this.transaction(() => {
        this.db.exec(SQLITE_MIGRATIONS[version] as string);
        this.db.exec(`PRAGMA user_version = ${version + 1}`);
      });
    }
  }

  private sql(text: string) {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  private transaction<T>(work: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  private bumpKeyRevision(): void {
    this.sql("UPDATE meta SET value = value + 1 WHERE name = 'key_revision'").run();
  }

  async createOrg(input: { name: string; singleUseTokens?: boolean }, now: number): Promise<Org> {
    const org: Org = {
      id: randomUUID(),
      name: input.name,
      singleUseTokens: input.singleUseTokens ?? false,
      createdAt: now,
    };
    this.sql('INSERT INTO orgs (id, name, single_use_tokens, created_at) VALUES (?, ?, ?, ?)').run(
      org.id,
      org.name,
      org.singleUseTokens ? 1 : 0,
      now,
    );
    return org;
  }

  async getOrg(id: string): Promise<Org | undefined> {
    const row = this.sql('SELECT * FROM orgs WHERE id = ?').get(id) as Row | undefined;
    return row && toOrg(row);
  }

  async listOrgs(): Promise<Org[]> {
    return (this.sql('SELECT * FROM orgs ORDER BY created_at, id').all() as Row[]).map(toOrg);
  }

  async insertKey(key: NewKey, now: number): Promise<KeyRecord> {
    const record: KeyRecord = {
      ...key,
      id: randomUUID(),
      status: 'active',
      createdAt: now,
      lastUsedAt: null,
    };
    try {
      this.transaction(() => {
        this.sql(
          `INSERT INTO keys (id, org_id, spki_pem, thumbprint, family, bits, status, expires_at, roles, default_role,
             label, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
          now,
        );
        this.bumpKeyRevision();
      });
    } catch (error) {
      if (String((error as Error).message).includes('UNIQUE constraint failed')) {
        throw new ConflictError('public_key', 'This organization has already registered this public key.');
      }
      throw error;
    }
    return record;
  }

  async getKey(kid: string): Promise<KeyRecord | undefined> {
    const row = this.sql('SELECT * FROM keys WHERE id = ?').get(kid) as Row | undefined;
    return row && toKey(row);
  }

  async listKeys(orgId: string): Promise<KeyRecord[]> {
    return (this.sql('SELECT * FROM keys WHERE org_id = ? ORDER BY created_at, id').all(orgId) as Row[]).map(
      toKey,
    );
  }

  async listKeyIds(): Promise<string[]> {
    return (this.sql('SELECT id FROM keys').all() as Row[]).map((row) => String(row.id));
  }

  async setKeyStatus(kid: string, status: KeyStatus): Promise<StatusChange> {
    return this.transaction((): StatusChange => {
      const row = this.sql('SELECT status FROM keys WHERE id = ?').get(kid) as Row | undefined;
      if (!row) return { ok: false, reason: 'not_found' };
      if (row.status === 'revoked' && status !== 'revoked') return { ok: false, reason: 'revoked_is_final' };
      this.sql('UPDATE keys SET status = ? WHERE id = ?').run(status, kid);
      this.bumpKeyRevision();
      return { ok: true, key: toKey(this.sql('SELECT * FROM keys WHERE id = ?').get(kid) as Row) };
    });
  }

  async touchKeys(lastUsed: ReadonlyMap<string, number>): Promise<void> {
    this.transaction(() => {
      const update = this.sql(
        'UPDATE keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?',
      );
      for (const [kid, at] of lastUsed) update.run(at, kid);
    });
  }

  async keyRevision(): Promise<number> {
    return Number((this.sql("SELECT value FROM meta WHERE name = 'key_revision'").get() as Row).value);
  }

  async bindJti(
    iss: string,
    jti: string,
    tokenHash: string,
    expiresAt: number,
    now: number,
  ): Promise<JtiBinding> {
    // One statement: insert, or take over a binding that has expired. SQLite runs it atomically.
    const inserted = this.sql(
      `INSERT INTO jti_ledger (iss, jti, token_hash, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (iss, jti) DO UPDATE SET token_hash = excluded.token_hash, expires_at = excluded.expires_at
       WHERE jti_ledger.expires_at <= ?
       RETURNING token_hash`,
    ).get(iss, jti, tokenHash, expiresAt, now);
    if (inserted) return 'bound';
    return this.peekJti(iss, jti, tokenHash, now);
  }

  async peekJti(iss: string, jti: string, tokenHash: string, now: number): Promise<JtiBinding> {
    const row = this.sql('SELECT token_hash, expires_at FROM jti_ledger WHERE iss = ? AND jti = ?').get(
      iss,
      jti,
    ) as Row | undefined;
    if (!row || Number(row.expires_at) <= now) return 'bound';
    return row.token_hash === tokenHash ? 'same-token' : 'reused';
  }

  async pruneJti(now: number): Promise<number> {
    return Number(this.sql('DELETE FROM jti_ledger WHERE expires_at <= ?').run(now).changes);
  }

  async ping(): Promise<void> {
    this.sql('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
  }
}

function toOrg(row: Row): Org {
  return {
    id: String(row.id),
    name: String(row.name),
    singleUseTokens: row.single_use_tokens === 1,
    createdAt: Number(row.created_at),
  };
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
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}
