import { isPostgresUrl } from '../core/database-url.ts';
import type { PostgresStoreOptions } from './postgres.ts';
import type { SqliteStoreOptions } from './sqlite.ts';
import type { Store } from './store.ts';

/** Options for either store; each takes the ones that concern it. */
export type StoreOptions = SqliteStoreOptions & PostgresStoreOptions;

/**
 * Opens the store that KEYGATE_DATABASE names: a file path for SQLite, or a postgres:// URL.
 * Each store's module is loaded only when named: `pg` and the PostgreSQL store's dozen files
 * took about 30 ms of every start on SQLite.
 */
export async function openStore(location: string, options: StoreOptions = {}): Promise<Store> {
  if (isPostgresUrl(location)) {
    const { PostgresStore } = await import('./postgres.ts');
    return PostgresStore.open(location, options);
  }
  const { SqliteStore } = await import('./sqlite.ts');
  return new SqliteStore(location, options);
}
