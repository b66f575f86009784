import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { signatureLength } from '../src/core/key-checks.ts';
import type { KeyRecord } from '../src/core/key-record.ts';
import type { VerificationPolicy } from '../src/core/policy.ts';
import type { ReasonCode } from '../src/core/reason-codes.ts';
import type { ResolvedKey } from '../src/core/verifying-key.ts';
import { AuthError } from '../src/service/auth-error.ts';
import { type Keygate, type KeygateOptions, startKeygate } from '../src/service/keygate.ts';
import type { KeyCaps } from '../src/store/store.ts';

export const VECTORS = new URL('./vectors/', import.meta.url);

export function vector(path: string): string {
  return readFileSync(new URL(path, VECTORS), 'utf8');
}

export const AUD = 'api.happypathology.com';
export const POLICY: VerificationPolicy = {
  audiences: [AUD, 'us.api.happypathology.com'],
  leewaySeconds: 60,
  maxLifetimeSeconds: 3600,
};
/** A fixed "now" so every time boundary is exact. */
export const NOW = 1_800_000_000;

export interface TestPair {
  privateKey: KeyObject;
  publicPem: string;
}

export function rsaPair(bits = 2048): TestPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function ecPair(): TestPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export const SPEC_RSA: TestPair = {
  privateKey: createPrivateKey(vector('keys/spec-rsa4096.key')),
  publicPem: vector('keys/spec-rsa4096.key.pub'),
};

export const b64 = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Signs exactly the header and payload segments given, so tests control every byte. */
export function signRaw(
  headerSegment: string,
  payloadSegment: string,
  key: KeyObject,
  alg = 'RS256',
): string {
  const input = Buffer.from(`${headerSegment}.${payloadSegment}`);
  const hash = alg === 'RS384' ? 'sha384' : 'sha256';
  const signature =
    key.asymmetricKeyType === 'ec'
      ? sign(hash, input, { key, dsaEncoding: 'ieee-p1363' })
      : sign(hash, input, key);
  return `${headerSegment}.${payloadSegment}.${signature.toString('base64url')}`;
}

export function signJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: KeyObject,
): string {
  return signRaw(b64(header), b64(payload), key, String(header.alg));
}

export interface Fixture {
  keygate: Keygate;
  orgId: string;
  kid: string;
  pair: TestPair;
  now: { value: number };
  claims(overrides?: Record<string, unknown>): Record<string, unknown>;
  token(overrides?: Record<string, unknown>, header?: Record<string, unknown>): string;
  close(): Promise<void>;
}

let sharedRsa: TestPair | undefined;

/** A Keygate on an in-memory SQLite store (and Redis, if given) with a frozen clock, one org and one RSA-2048 key. */
export async function fixture(
  options: {
    pair?: TestPair;
    roles?: string[];
    policy?: VerificationPolicy;
    keyCaps?: KeyCaps;
    redis?: KeygateOptions['redis'];
  } = {},
): Promise<Fixture> {
  sharedRsa ??= rsaPair(2048);
  const pair = options.pair ?? sharedRsa;
  const now = { value: NOW };
  const keygate = await startKeygate({
    database: ':memory:',
    policy: options.policy ?? POLICY,
    clock: () => now.value,
    ...(options.keyCaps && { keyCaps: options.keyCaps }),
    ...(options.redis && { redis: options.redis }),
  });
  const org = await keygate.keys.createOrg('Test Org');
  const key = await keygate.keys.registerKey({
    orgId: org.id,
    publicKey: pair.publicPem,
    grantedByAdmin: true,
    ...(options.roles && { roles: options.roles }),
  });
  let counter = 0;
  const claims = (overrides: Record<string, unknown> = {}) => ({
    aud: AUD,
    exp: now.value + 3600,
    iat: now.value,
    iss: org.id,
    jti: `jti-${++counter}-${Math.random()}`,
    sub: 'alice',
    role: 'user',
    kid: key.key_id,
    ...overrides,
  });
  const alg = pair.privateKey.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256';
  return {
    keygate,
    orgId: org.id,
    kid: key.key_id,
    pair,
    now,
    claims,
    token: (overrides = {}, header = { alg, typ: 'JWT' }) =>
      signJwt(header, claims(overrides), pair.privateKey),
    close: () => keygate.close(),
  };
}

/** Asserts that a promise rejects with an AuthError of exactly this reason code. */
export async function rejectsWith(promise: Promise<unknown>, code: ReasonCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AuthError, String(error));
    assert.equal(error.rejection.code, code, error.rejection.message);
    return true;
  });
}

/**
 * A registered key as the core checks see it, for tests with no store: `publicKey`'s record
 * with kid `id`, organization `orgId`, roles user and service, active and never expiring.
 */
export function resolvedKey(
  publicKey: KeyObject,
  record: Pick<KeyRecord, 'id' | 'orgId'> & Partial<KeyRecord>,
): ResolvedKey {
  const keyObject = createPublicKey(publicKey.export({ type: 'spki', format: 'pem' }));
  const ec = publicKey.asymmetricKeyType === 'ec';
  return {
    keyObject,
    signatureBytes: signatureLength(keyObject),
    record: {
      spkiPem: '',
      thumbprint: 'tp',
      family: ec ? 'ec-p256' : 'rsa',
      bits: ec ? 256 : (keyObject.asymmetricKeyDetails?.modulusLength ?? 0),
      status: 'active',
      expiresAt: null,
      roles: ['user', 'service'],
      defaultRole: 'user',
      label: null,
      ownerUserId: null,
      revokesAt: null,
      replacedBy: null,
      createdAt: NOW - 100,
      lastUsedAt: null,
      ...record,
    },
  };
}
