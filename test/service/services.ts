import { randomBytes } from 'node:crypto';
import { DEFAULT_SESSION_POLICY } from '../../src/core/session-policy.ts';
import { Authenticator } from '../../src/service/authenticator.ts';
import { KeyAdmin } from '../../src/service/key-admin.ts';
import { KeyDirectory } from '../../src/service/key-directory.ts';
import { PasswordHasher } from '../../src/service/password-hasher.ts';
import { ServerKeyring } from '../../src/service/server-keyring.ts';
import { Sessions } from '../../src/service/sessions.ts';
import type { Store } from '../../src/store/store.ts';
import { POLICY } from '../helpers.ts';

/**
 * The authenticator and key admin over `store` (often a counted one) on the test's clock, started;
 * the directory polls every `pollMs`, so a test that sets it long refreshes only when it asks.
 * The caller stops the directory and closes the store.
 */
export async function services(store: Store, clock: () => number, pollMs: number) {
  const directory = new KeyDirectory(store, { pollMs });
  await directory.start();
  const keyring = new ServerKeyring(store, clock, {
    secret: randomBytes(32),
    sessionSeconds: DEFAULT_SESSION_POLICY.absoluteSeconds,
  });
  await keyring.start();
  const sessions = new Sessions({
    store,
    hasher: new PasswordHasher(),
    keyring,
    clock,
    policy: POLICY,
    sessionPolicy: DEFAULT_SESSION_POLICY,
  });
  const authenticator = new Authenticator({ store, directory, policy: POLICY, clock, sessions, keyring });
  return { directory, authenticator, admin: new KeyAdmin(store, clock, directory) };
}
