import type { VerificationPolicy } from '../core/policy.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/store.ts';
import { Authenticator, type Clock, systemClock } from './authenticator.ts';
import { KeyAdmin } from './key-admin.ts';
import { KeyDirectory } from './key-directory.ts';

/** The services one Keygate process runs, wired to one store. */
export interface Keygate {
  store: Store;
  policy: VerificationPolicy;
  clock: Clock;
  directory: KeyDirectory;
  authenticator: Authenticator;
  keys: KeyAdmin;
  close(): Promise<void>;
}

export interface KeygateOptions {
  database: string;
  policy: VerificationPolicy;
  clock?: Clock;
  pollMs?: number;
}

export async function startKeygate(options: KeygateOptions): Promise<Keygate> {
  const store = await openStore(options.database);
  const clock = options.clock ?? systemClock;
  const directory = new KeyDirectory(store, options.pollMs === undefined ? {} : { pollMs: options.pollMs });
  await directory.start();
  const authenticator = new Authenticator({ store, directory, policy: options.policy, clock });
  const pruner = setInterval(() => {
    store.pruneJti(clock()).catch(() => {
      // Expired bindings are harmless: bindJti replaces them. The next round tries again.
    });
  }, 60_000);
  pruner.unref();
  return {
    store,
    policy: options.policy,
    clock,
    directory,
    authenticator,
    keys: new KeyAdmin(store, clock, directory),
    async close() {
      clearInterval(pruner);
      await directory.stop();
      await store.close();
    },
  };
}
