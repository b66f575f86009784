import { loadConfig } from '../config.ts';
import { systemClock } from '../service/authenticator.ts';
import { KeyAdmin } from '../service/key-admin.ts';
import { openStore } from '../store/open-store.ts';

/**
 * Runs an admin command against the store KEYGATE_DATABASE names. A running server sees the
 * change within its key poll interval (250 ms).
 */
export async function withKeyAdmin<T>(work: (admin: KeyAdmin) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env);
  const store = await openStore(config.database);
  try {
    return await work(new KeyAdmin(store, systemClock));
  } finally {
    await store.close();
  }
}
