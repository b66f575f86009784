import { SqliteStore, type SqliteStoreOptions } from './sqlite.ts';
import type { Store } from './store.ts';

/** Opens the store that KEYGATE_DATABASE names: a file path for SQLite, or a postgres:// URL. */
export async function openStore(location: string, options: SqliteStoreOptions = {}): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(location)) {
    throw new Error('PostgreSQL storage is not available in this version; use a SQLite file path.');
  }
  return new SqliteStore(location, options);
}
