import type { ServerKeyRecord } from '../core/account-records.ts';
import { SERVER_KEY_QUERY, toServerKey } from './account-rows.ts';
import type { PgDatabase } from './postgres-database.ts';

// Keygate's own session signing keys in the PostgreSQL store (Store's listServerKeys,
// rotateServerKey, resealServerKey, deleteRetiredServerKeys).

export async function listServerKeys(db: PgDatabase): Promise<ServerKeyRecord[]> {
  return (await db.rows(SERVER_KEY_QUERY)).map(toServerKey);
}

export async function rotateServerKey(
  db: PgDatabase,
  key: ServerKeyRecord & { sealedPrivateKey: string },
  options: { onlyIfNone?: boolean },
): Promise<void> {
  await db.transaction(async (sql) => {
    // Rotations take turns (the mode conflicts with itself, not with reads): of nodes starting
    // at once with onlyIfNone, the later ones see the first one's key.
    await sql.run('LOCK TABLE server_keys IN SHARE ROW EXCLUSIVE MODE');
    if (options.onlyIfNone && (await sql.one("SELECT 1 FROM server_keys WHERE status = 'active'"))) return;
    await sql.run(
      `UPDATE server_keys SET status = 'retired', retired_at = $1, sealed_private_key = NULL
       WHERE status = 'active'`,
      [key.createdAt],
    );
    await sql.run(
      `INSERT INTO server_keys (id, sealed_private_key, public_jwk, status, created_at)
       VALUES ($1, $2, $3, 'active', $4)`,
      [key.id, key.sealedPrivateKey, key.publicJwk, key.createdAt],
    );
  });
}

/**
 * Compare and set, in one statement. Unlike SQLite's secure_delete, PostgreSQL leaves the old
 * row version in its files until VACUUM reuses the space; that is no worse here, as this store
 * never held a plaintext key (the only value a re-seal replaces, server-keyring.ts).
 */
export async function resealServerKey(
  db: PgDatabase,
  id: string,
  from: string,
  to: string,
): Promise<boolean> {
  const changed = await db.run(
    `UPDATE server_keys SET sealed_private_key = $1
     WHERE id = $2 AND sealed_private_key = $3 AND status = 'active'`,
    [to, id, from],
  );
  return changed > 0;
}

export function deleteRetiredServerKeys(db: PgDatabase, retiredBy: number): Promise<number> {
  return db.run("DELETE FROM server_keys WHERE status = 'retired' AND retired_at <= $1", [retiredBy]);
}
