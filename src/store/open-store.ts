import { PostgresStore, type PostgresStoreOptions } from './postgres.ts';
import { SqliteStore, type SqliteStoreOptions } from './sqlite.ts';
import type { Store } from './store.ts';

/** Options for either store; each takes the ones that concern it. */
export type StoreOptions = SqliteStoreOptions & PostgresStoreOptions;

/** Opens the store that KEYGATE_DATABASE names: a file path for SQLite, or a postgres:// URL. */
export async function openStore(location: string, options: StoreOptions = {}): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(location)) {
    return PostgresStore.open(location, options);
  }
  return new SqliteStore(location, options);
}
