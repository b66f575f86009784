import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import { isPostgresUrl } from '../core/database-url.ts';
import { SERVER_KEY_QUERY, toServerKey } from './account-rows.ts';
import { reasonOf, type StoreProbe } from './probe-rows.ts';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.ts';

/**
 * Looks at the store KEYGATE_DATABASE names as `keygate serve` would open it, changing nothing:
 * the PostgreSQL module and `pg` are loaded only for a postgres:// URL, as openStore does.
 */
export async function probeStore(location: string, options: { timeoutMs: number }): Promise<StoreProbe> {
  if (isPostgresUrl(location)) {
    const { probePostgres } = await import('./postgres-probe.ts');
    return probePostgres(location, options.timeoutMs);
  }
  return probeSqlite(location);
}

/**
 * Opened read-only, so a missing file is never made. With no WAL beside it the file is complete
 * (a clean shutdown checkpoints it), and it is opened immutable: a reader would otherwise leave
 * new -wal and -shm files behind, which a server running as another user may not be able to open.
 */
function probeSqlite(path: string): StoreProbe {
  try {
    statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    return { state: 'unreadable', reason: reasonOf(error) };
  }
  let db: DatabaseSync | undefined;
  try {
    const url = pathToFileURL(resolve(path));
    if (!existsSync(`${path}-wal`)) url.searchParams.set('immutable', '1');
    db = new DatabaseSync(url, { readOnly: true, timeout: 2000 });
    const version = Number(
      (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version,
    );
    const engine = String((db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v);
    const latest = SQLITE_MIGRATIONS.length;
    const serverKeys =
      version === latest
        ? (db.prepare(SERVER_KEY_QUERY).all() as Record<string, unknown>[]).map(toServerKey)
        : undefined;
    return { state: 'read', version, latest, engine, serverKeys, clock: undefined };
  } catch (error) {
    return { state: 'unreadable', reason: reasonOf(error) };
  } finally {
    db?.close();
  }
}
