import type { AuditActor } from '../core/audit.ts';
import type { KeyRecord, KeyStatus } from '../core/key-record.ts';
import { keyRegistered, keyRotated, keyStatusChanged, keySwept } from './audit-rows.ts';
import { toKey as keyFromRow, newKeyRecord, thumbprintConflict, toKeyState } from './key-rows.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';
import {
  KeyCapError,
  type KeyCaps,
  type KeyChange,
  type NewKey,
  type RotateResult,
  type StatusChange,
} from './store.ts';

// The keys of the embedded store and their change feed (Store's insertKey, rotateKey,
// revokeDueKeys, getKey, listKeys, listKeysByOwner, keyIdsAfter, keyChangesSince, setKeyStatus,
// keyRevision).

export async function insertKey(
  db: SqliteDatabase,
  key: NewKey,
  now: number,
  caps: KeyCaps | undefined,
  by: AuditActor,
): Promise<KeyRecord> {
  const record = newKeyRecord(key, now);
  await writeKey(db, record, () => {
    checkCaps(db, record, caps);
    insertKeyRow(db, record);
    db.audit([keyRegistered(record, by)]);
  });
  return record;
}

export function rotateKey(
  db: SqliteDatabase,
  kid: string,
  replacement: NewKey,
  revokesAt: number,
  now: number,
  caps: KeyCaps | undefined,
  by: AuditActor,
): Promise<RotateResult> {
  const record = newKeyRecord(replacement, now);
  return writeKey(db, record, (): RotateResult => {
    const row = db.sql('SELECT status, revokes_at FROM keys WHERE id = ?').get(kid) as Row | undefined;
    if (!row) return { ok: false, reason: 'not_found' };
    if (row.status !== 'active') return { ok: false, reason: 'not_active' };
    if (row.revokes_at !== null) return { ok: false, reason: 'already_rotated' };
    // The old key is on its way out, so it does not hold a place the replacement needs.
    db.sql('UPDATE keys SET revokes_at = ? WHERE id = ?').run(revokesAt, kid);
    checkCaps(db, record, caps);
    insertKeyRow(db, record);
    db.sql('UPDATE keys SET replaced_by = ? WHERE id = ?').run(record.id, kid);
    const old = toKey(db.sql('SELECT * FROM keys WHERE id = ?').get(kid) as Row);
    db.audit([keyRotated(old, record, by)]);
    return { ok: true, old, key: record };
  });
}

export function revokeDueKeys(db: SqliteDatabase, now: number): Promise<number> {
  return db.write(() =>
    db.transaction(() => {
      const due = db
        .sql("SELECT id, org_id FROM keys WHERE revokes_at <= ? AND status <> 'revoked' ORDER BY id")
        .all(now) as Row[];
      if (due.length === 0) return 0;
      db.audit(due.map((row) => keySwept({ id: String(row.id), orgId: String(row.org_id) }, now)));
      return Number(
        db.sql("UPDATE keys SET status = 'revoked' WHERE revokes_at <= ? AND status <> 'revoked'").run(now)
          .changes,
      );
    }),
  );
}

/** Runs `work` (which inserts `record`) in a write transaction; a taken thumbprint is a ConflictError. */
async function writeKey<T>(db: SqliteDatabase, record: KeyRecord, work: () => T): Promise<T> {
  try {
    return await db.write(() => db.transaction(work));
  } catch (error) {
    if (String((error as Error).message).includes('UNIQUE constraint failed')) {
      const sameOrg = await db.read(() =>
        db.sql('SELECT 1 FROM keys WHERE thumbprint = ? AND org_id = ?').get(record.thumbprint, record.orgId),
      );
      throw thumbprintConflict(sameOrg !== undefined);
    }
    throw error;
  }
}

/** Inside the insert's transaction, so concurrent inserts cannot both take the last place. */
function checkCaps(db: SqliteDatabase, record: KeyRecord, caps: KeyCaps | undefined): void {
  if (!caps) return;
  const live = "status <> 'revoked' AND revokes_at IS NULL";
  const inOrg = Number(
    (db.sql(`SELECT count(*) AS n FROM keys WHERE org_id = ? AND ${live}`).get(record.orgId) as Row).n,
  );
  if (inOrg >= caps.perOrg) throw new KeyCapError('org', caps.perOrg);
  if (record.ownerUserId === null) return;
  const owned = Number(
    (
      db
        .sql(`SELECT count(*) AS n FROM keys WHERE owner_user_id = ? AND ${live}`)
        .get(record.ownerUserId) as Row
    ).n,
  );
  if (owned >= caps.perOwner) throw new KeyCapError('owner', caps.perOwner);
}

function insertKeyRow(db: SqliteDatabase, record: KeyRecord): void {
  db.sql(
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

export async function getKey(db: SqliteDatabase, kid: string): Promise<KeyRecord | undefined> {
  const row = await db.read(() => db.sql('SELECT * FROM keys WHERE id = ?').get(kid) as Row | undefined);
  return row && toKey(row);
}

export async function listKeys(db: SqliteDatabase, orgId: string): Promise<KeyRecord[]> {
  const rows = await db.read(
    () => db.sql('SELECT * FROM keys WHERE org_id = ? ORDER BY created_at, id').all(orgId) as Row[],
  );
  return rows.map(toKey);
}

export async function listKeysByOwner(db: SqliteDatabase, userId: string): Promise<KeyRecord[]> {
  const rows = await db.read(
    () => db.sql('SELECT * FROM keys WHERE owner_user_id = ? ORDER BY created_at, id').all(userId) as Row[],
  );
  return rows.map(toKey);
}

export async function keyIdsAfter(db: SqliteDatabase, after: string, limit: number): Promise<string[]> {
  const rows = await db.read(
    () => db.sql('SELECT id FROM keys WHERE id > ? ORDER BY id LIMIT ?').all(after, limit) as Row[],
  );
  return rows.map((row) => String(row.id));
}

export async function keyChangesSince(
  db: SqliteDatabase,
  revision: number,
  limit: number,
): Promise<KeyChange[]> {
  const rows = await db.read(
    () =>
      db
        .sql(
          'SELECT id, status, expires_at, revokes_at, revision FROM keys WHERE revision > ? ORDER BY revision LIMIT ?',
        )
        .all(revision, limit) as Row[],
  );
  return rows.map((row) => ({ ...toKeyState(row), revision: Number(row.revision) }));
}

export function setKeyStatus(
  db: SqliteDatabase,
  kid: string,
  status: KeyStatus,
  by: AuditActor,
  now: number,
): Promise<StatusChange> {
  return db.write(() =>
    db.transaction((): StatusChange => {
      const row = db.sql('SELECT status FROM keys WHERE id = ?').get(kid) as Row | undefined;
      if (!row) return { ok: false, reason: 'not_found' };
      if (row.status === 'revoked' && status !== 'revoked') return { ok: false, reason: 'revoked_is_final' };
      db.sql('UPDATE keys SET status = ? WHERE id = ?').run(status, kid);
      const key = toKey(db.sql('SELECT * FROM keys WHERE id = ?').get(kid) as Row);
      db.audit(keyStatusChanged(key, String(row.status), by, now));
      return { ok: true, key };
    }),
  );
}

export function keyRevision(db: SqliteDatabase): Promise<number> {
  return db.read(() =>
    Number((db.sql("SELECT value FROM meta WHERE name = 'key_revision'").get() as Row).value),
  );
}

/** The embedded store keeps a key's roles as one comma-separated column. */
function toKey(row: Row): KeyRecord {
  return keyFromRow({ ...row, roles: String(row.roles).split(',') });
}
