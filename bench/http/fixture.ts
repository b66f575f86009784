import { createHash, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyAdmin } from '../../src/service/key-admin.ts';
import { PasswordHasher } from '../../src/service/password-hasher.ts';
import { UserAdmin } from '../../src/service/users.ts';
import { openStore } from '../../src/store/open-store.ts';

export const AUD = 'api.happypathology.com';
/** The protected route every token row asks. */
export const WHOAMI = '/v1/whoami';
export const USER = {
  email: 'bench@example.com',
  passHash: createHash('sha256').update('bench').digest('hex'),
};

export type KeyKind = 'RS256-2048' | 'RS256-4096' | 'ES256';

export interface BenchKey {
  kind: KeyKind;
  kid: string;
  /** PKCS#8 PEM, so that signing workers can take it as plain text. */
  privatePem: string;
}

export interface Fixture {
  orgId: string;
  keys: Record<KeyKind, BenchKey>;
  /** The JSON file bench/reference/server.ts reads: the same keys, kids and organization. */
  referenceKeys: string;
}

const PAIRS: Record<KeyKind, () => ReturnType<typeof generateKeyPairSync>> = {
  'RS256-2048': () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  'RS256-4096': () => generateKeyPairSync('rsa', { modulusLength: 4096 }),
  ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
};

/**
 * One organization with a key of each kind and one user, written with the store classes into the
 * database the server will open (a SQLite file or a postgres:// URL); the reference server gets
 * the same keys as a file.
 */
export async function makeFixture(dir: string, database: string): Promise<Fixture> {
  const store = await openStore(database);
  const clock = () => Math.floor(Date.now() / 1000);
  const admin = new KeyAdmin(store, clock);
  const org = await admin.createOrg('Bench');
  const keys = {} as Record<KeyKind, BenchKey>;
  const reference: { kid: string; org: string; spki: string; algorithms: readonly string[] }[] = [];
  for (const kind of Object.keys(PAIRS) as KeyKind[]) {
    const { privateKey, publicKey } = PAIRS[kind]();
    const spki = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const key = await admin.registerKey({ orgId: org.id, publicKey: spki, grantedByAdmin: true });
    keys[kind] = {
      kind,
      kid: key.key_id,
      privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    reference.push({ kid: key.key_id, org: org.id, spki, algorithms: key.algorithms });
  }
  await new UserAdmin({ store, hasher: new PasswordHasher(), clock, keys: admin }).create({
    orgId: org.id,
    email: USER.email,
    passHash: USER.passHash,
  });
  await store.close();
  const referenceKeys = join(dir, 'reference-keys.json');
  writeFileSync(referenceKeys, JSON.stringify(reference));
  return { orgId: org.id, keys, referenceKeys };
}
