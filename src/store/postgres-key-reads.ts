import type { KeyRecord } from '../core/key-record.ts';
import { toKey, toKeyState } from './key-rows.ts';
import type { PgDatabase } from './postgres-database.ts';
import { KEY_COLUMNS } from './postgres-rows.ts';
import type { KeyChange } from './store.ts';

// The key reads of the PostgreSQL store, each one statement (Store's getKey, listKeys,
// listKeysByOwner, keyIdsAfter, keyChangesSince, keyRevision); postgres-keys.ts holds the writes.

export async function getKey(db: PgDatabase, kid: string): Promise<KeyRecord | undefined> {
  const row = await db.one(`SELECT ${KEY_COLUMNS} FROM keys WHERE id = $1`, [kid]);
  return row && toKey(row);
}

export async function listKeys(db: PgDatabase, orgId: string): Promise<KeyRecord[]> {
  return (
    await db.rows(`SELECT ${KEY_COLUMNS} FROM keys WHERE org_id = $1 ORDER BY created_at, id`, [orgId])
  ).map(toKey);
}

export async function listKeysByOwner(db: PgDatabase, userId: string): Promise<KeyRecord[]> {
  const rows = await db.rows(
    `SELECT ${KEY_COLUMNS} FROM keys WHERE owner_user_id = $1 ORDER BY created_at, id`,
    [userId],
  );
  return rows.map(toKey);
}

export async function keyIdsAfter(db: PgDatabase, after: string, limit: number): Promise<string[]> {
  // COLLATE "C": byte order, the order a resumed pass relies on, whatever the database's locale.
  const rows = await db.rows(
    'SELECT id FROM keys WHERE id COLLATE "C" > $1 ORDER BY id COLLATE "C" LIMIT $2',
    [after, limit],
  );
  return rows.map((row) => String(row.id));
}

export async function keyChangesSince(db: PgDatabase, revision: number, limit: number): Promise<KeyChange[]> {
  const rows = await db.rows(
    'SELECT id, status, expires_at, revokes_at, revision FROM keys WHERE revision > $1 ORDER BY revision LIMIT $2',
    [revision, limit],
  );
  return rows.map((row) => ({ ...toKeyState(row), revision: Number(row.revision) }));
}

export async function keyRevision(db: PgDatabase): Promise<number> {
  return Number((await db.one("SELECT value FROM meta WHERE name = 'key_revision'"))?.value);
}
