import type { AuditActor } from '../core/audit.ts';
import type { KeyRecord, KeyStatus } from '../core/key-record.ts';
import { keyRegistered, keyRotated, keyStatusChanged, keySwept, wallClock } from './audit-rows.ts';
import { newKeyRecord, thumbprintConflict, toKey } from './key-rows.ts';
import { appendEvents } from './postgres-audit.ts';
import type { PgDatabase, Sql } from './postgres-database.ts';
import { violatedUnique } from './postgres-errors.ts';
import { KEY_COLUMNS } from './postgres-rows.ts';
import { KeyCapError, type KeyCaps, type NewKey, type RotateResult, type StatusChange } from './store.ts';

// The key writes of the PostgreSQL store (Store's insertKey, rotateKey, setKeyStatus,
// revokeDueKeys), each one transaction. A trigger (migration 2) stamps every key change
// with the next key revision, taking the meta row's lock: every write here locks the keys it
// changes before that, so that no two writers wait for each other in a cycle.

const THUMBPRINT_CONSTRAINTS = new Set(['keys_thumbprint_unique', 'keys_org_thumbprint_unique']);

export async function insertKey(
  db: PgDatabase,
  key: NewKey,
  now: number,
  caps: KeyCaps | undefined,
  by: AuditActor,
): Promise<KeyRecord> {
  const record = newKeyRecord(key, now);
  await writeKey(db, record, async (sql) => {
    await lockPlaces(sql, record);
    await checkCaps(sql, record, caps);
    await insertKeyRow(sql, record);
    await appendEvents(sql, [keyRegistered(record, by)]);
  });
  return record;
}

export function rotateKey(
  db: PgDatabase,
  kid: string,
  replacement: NewKey,
  revokesAt: number,
  now: number,
  caps: KeyCaps | undefined,
  by: AuditActor,
): Promise<RotateResult> {
  const record = newKeyRecord(replacement, now);
  return writeKey(db, record, async (sql): Promise<RotateResult> => {
    await lockPlaces(sql, record);
    // Locked, so that of concurrent rotations of one key the later ones see the first one's mark.
    const row = await sql.one('SELECT status, revokes_at FROM keys WHERE id = $1 FOR UPDATE', [kid]);
    if (!row) return { ok: false, reason: 'not_found' };
    if (row.status !== 'active') return { ok: false, reason: 'not_active' };
    if (row.revokes_at !== null) return { ok: false, reason: 'already_rotated' };
    // The old key is on its way out, so it does not hold a place the replacement needs.
    await sql.run('UPDATE keys SET revokes_at = $1 WHERE id = $2', [revokesAt, kid]);
    await checkCaps(sql, record, caps);
    await insertKeyRow(sql, record);
    const old = await sql.one(`UPDATE keys SET replaced_by = $1 WHERE id = $2 RETURNING ${KEY_COLUMNS}`, [
      record.id,
      kid,
    ]);
    const oldKey = toKey(old as NonNullable<typeof old>);
    await appendEvents(sql, [keyRotated(oldKey, record, by)]);
    return { ok: true, old: oldKey, key: record };
  });
}

export function setKeyStatus(
  db: PgDatabase,
  kid: string,
  status: KeyStatus,
  by: AuditActor,
  now: number = wallClock(),
): Promise<StatusChange> {
  return db.transaction(async (sql): Promise<StatusChange> => {
    const row = await sql.one('SELECT status FROM keys WHERE id = $1 FOR UPDATE', [kid]);
    if (!row) return { ok: false, reason: 'not_found' };
    if (row.status === 'revoked' && status !== 'revoked') return { ok: false, reason: 'revoked_is_final' };
    const updated = await sql.one(`UPDATE keys SET status = $1 WHERE id = $2 RETURNING ${KEY_COLUMNS}`, [
      status,
      kid,
    ]);
    const key = toKey(updated as NonNullable<typeof updated>);
    await appendEvents(sql, keyStatusChanged(key, String(row.status), by, now));
    return { ok: true, key };
  });
}

export function revokeDueKeys(db: PgDatabase, now: number): Promise<number> {
  return db.transaction(async (sql) => {
    // The due keys are locked first, in one order, before the first change takes the revision's
    // lock: a status change holding one of them then finishes first instead of deadlocking.
    const due = await sql.rows(
      "SELECT id, org_id FROM keys WHERE revokes_at <= $1 AND status <> 'revoked' ORDER BY id FOR UPDATE",
      [now],
    );
    if (due.length === 0) return 0;
    await appendEvents(
      sql,
      due.map((row) => keySwept({ id: String(row.id), orgId: String(row.org_id) }, now)),
    );
    return sql.run("UPDATE keys SET status = 'revoked' WHERE id = ANY ($1::text[])", [
      due.map((row) => String(row.id)),
    ]);
  });
}

/** Runs `work` (which inserts `record`) in a transaction; a taken thumbprint is a ConflictError. */
async function writeKey<T>(db: PgDatabase, record: KeyRecord, work: (sql: Sql) => Promise<T>): Promise<T> {
  try {
    return await db.transaction(work);
  } catch (error) {
    if (!THUMBPRINT_CONSTRAINTS.has(violatedUnique(error) ?? '')) throw error;
    const sameOrg = await db.one('SELECT 1 FROM keys WHERE thumbprint = $1 AND org_id = $2', [
      record.thumbprint,
      record.orgId,
    ]);
    throw thumbprintConflict(sameOrg !== undefined);
  }
}

/**
 * Locks the rows of the organization and the owner the key counts against, until the transaction
 * ends: concurrent inserts for one organization take turns, so each counts the keys the ones
 * before it committed, and a cap is never overshot. A row lock rather than SERIALIZABLE: under
 * SERIALIZABLE, 20 registrations at once would mostly fail and retry; here they wait for each
 * other, briefly, and only within one organization. FOR NO KEY UPDATE leaves the foreign-key
 * checks of inserts elsewhere (a new user of the organization) free to run.
 */
async function lockPlaces(sql: Sql, record: KeyRecord): Promise<void> {
  await sql.run('SELECT 1 FROM orgs WHERE id = $1 FOR NO KEY UPDATE', [record.orgId]);
  if (record.ownerUserId !== null)
    await sql.run('SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE', [record.ownerUserId]);
}

async function checkCaps(sql: Sql, record: KeyRecord, caps: KeyCaps | undefined): Promise<void> {
  if (!caps) return;
  const live = "status <> 'revoked' AND revokes_at IS NULL";
  const inOrg = await sql.one(`SELECT count(*)::int AS n FROM keys WHERE org_id = $1 AND ${live}`, [
    record.orgId,
  ]);
  if (Number(inOrg?.n) >= caps.perOrg) throw new KeyCapError('org', caps.perOrg);
  if (record.ownerUserId === null) return;
  const owned = await sql.one(`SELECT count(*)::int AS n FROM keys WHERE owner_user_id = $1 AND ${live}`, [
    record.ownerUserId,
  ]);
  if (Number(owned?.n) >= caps.perOwner) throw new KeyCapError('owner', caps.perOwner);
}

async function insertKeyRow(sql: Sql, record: KeyRecord): Promise<void> {
  await sql.run(
    `INSERT INTO keys (id, org_id, spki_pem, thumbprint, family, bits, status, expires_at, roles, default_role,
       label, owner_user_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      record.id,
      record.orgId,
      record.spkiPem,
      record.thumbprint,
      record.family,
      record.bits,
      record.status,
      record.expiresAt,
      record.roles,
      record.defaultRole,
      record.label,
      record.ownerUserId,
      record.createdAt,
    ],
  );
}
