import { randomBytes } from 'node:crypto';
import { loadConfig, readPepper, readSessionSecret } from '../config.ts';
import type { AuditQuery, AuditRecord } from '../core/audit.ts';
import { systemClock } from '../service/clock.ts';
import { KeyAdmin } from '../service/key-admin.ts';
import { PasswordHasher } from '../service/password-hasher.ts';
import { ServerKeyring } from '../service/server-keyring.ts';
import { UserAdmin } from '../service/users.ts';
import { openStore } from '../store/open-store.ts';

export interface Admin {
  keys: KeyAdmin;
  users: UserAdmin;
  /** The audit trail, newest first (Store.listAudit). */
  audit(query: AuditQuery): Promise<AuditRecord[]>;
  /** Made on first use, with the server's secret: only commands on session keys read it. */
  keyring(): ServerKeyring;
}

/**
 * Runs an admin command against the store KEYGATE_DATABASE names, with the server's pepper and
 * session secret. A running server sees key changes within its key poll (250 ms) and user
 * changes at once.
 */
export async function withAdmin<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env);
  const pepper = readPepper(config.pepperFile);
  const store = await openStore(config.database, { lockWaitMs: config.storeLockWaitMs });
  try {
    const keys = new KeyAdmin(store, systemClock);
    const hasher = new PasswordHasher(pepper ? { pepper } : {});
    return await work({
      keys,
      users: new UserAdmin({ store, hasher, clock: systemClock, keys }),
      audit: (query) => store.listAudit(query),
      keyring: () =>
        new ServerKeyring(store, systemClock, {
          secret: readSessionSecret(config) ?? randomBytes(32),
          sessionSeconds: config.session.absoluteSeconds,
        }),
    });
  } finally {
    await store.close();
  }
}

/** For commands that only manage organizations and keys. */
export function withKeyAdmin<T>(work: (admin: KeyAdmin) => Promise<T>): Promise<T> {
  return withAdmin((admin) => work(admin.keys));
}
