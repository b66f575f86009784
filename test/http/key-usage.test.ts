import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { isoTime } from '../../src/core/time.ts';
import { buildApp } from '../../src/http/app.ts';
import { AUD, ecPair, type Fixture, fixture, NOW, signJwt, type TestPair } from '../helpers.ts';

// Key usage and the expiry warning over HTTP: GET /auth/signing-keys shows what each key's tokens
// came to, and /auth/hello warns, without refusing, about a key that expires soon.

let f: Fixture;
let app: FastifyInstance;
const soonPair = ecPair();
let soonKid: string;
const THREE_DAYS = 3 * 86400;

before(async () => {
  f = await fixture({ roles: ['admin', 'user'] });
  app = await buildApp(f.keygate);
  const soon = await f.keygate.keys.registerKey({
    orgId: f.orgId,
    publicKey: soonPair.publicPem,
    grantedByAdmin: true,
    expiresAt: NOW + THREE_DAYS,
    label: 'soon',
  });
  soonKid = soon.key_id;
});
after(async () => {
  await app.close();
  await f.close();
});

function soonToken(signer: TestPair = soonPair, claims: Record<string, unknown> = {}): string {
  return signJwt(
    { alg: 'ES256', typ: 'JWT', kid: soonKid },
    {
      aud: AUD,
      exp: NOW + 600,
      iat: NOW,
      iss: f.orgId,
      jti: `soon-${Math.random()}`,
      sub: 'bob',
      role: 'user',
      ...claims,
    },
    signer.privateKey,
  );
}

const whoami = (token: string) =>
  app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: `Bearer ${token}` } });

const hello = async (token: string) => {
  const response = await app.inject({ method: 'GET', url: '/auth/hello', headers: { authorization: token } });
  assert.equal(response.statusCode, 200, response.body);
  return response.json().results as {
    valid: boolean;
    checks: { name: string; ok: boolean; warning?: string }[];
  };
};

test('GET /auth/signing-keys shows each key’s usage, expires_soon and expires_in_seconds', async () => {
  const token = soonToken();
  assert.equal((await whoami(token)).statusCode, 200);
  assert.equal((await whoami(token)).statusCode, 200, 'its second use admits it to the token cache');
  assert.equal((await whoami(token)).statusCode, 200, 'the cached answer counts as well');
  const forged = await whoami(soonToken(ecPair()));
  assert.equal(forged.json().error.code, 'signature_invalid');
  const admin = f.token({ role: 'admin' });
  // /auth/hello is a debugger: what it checks counts nowhere.
  assert.equal((await hello(token)).valid, true);

  const response = await app.inject({
    method: 'GET',
    url: '/auth/signing-keys',
    headers: { authorization: `Bearer ${admin}` },
  });
  assert.equal(response.statusCode, 200, response.body);
  const keys = response.json().results.keys as {
    key_id: string;
    expires_soon: boolean;
    expires_in_seconds: number | null;
    usage: unknown;
  }[];
  const byKid = new Map(keys.map((key) => [key.key_id, key]));
  const soon = byKid.get(soonKid);
  assert.deepEqual(
    [soon?.expires_soon, soon?.expires_in_seconds, soon?.usage],
    [true, THREE_DAYS, { accepted: 3, refused: { signature_invalid: 1 }, last_used_at: isoTime(NOW) }],
  );
  const own = byKid.get(f.kid);
  // The admin token of this very request was accepted before the list was read.
  assert.deepEqual(
    [own?.expires_soon, own?.expires_in_seconds, own?.usage],
    [false, null, { accepted: 1, refused: {}, last_used_at: isoTime(NOW) }],
  );
});

test('/auth/hello warns about a key that expires soon, and the token stays valid', async () => {
  const report = await hello(soonToken());
  assert.equal(report.valid, true);
  const key = report.checks.find((check) => check.name === 'key');
  assert.equal(key?.ok, true);
  assert.equal(
    key?.warning,
    `Key ${soonKid} expires at ${isoTime(NOW + THREE_DAYS)} (in 3 days). ` +
      'Register a new key and move your clients to it before then (POST /auth/signing-keys/:kid/rotate).',
  );
  const calm = await hello(f.token());
  assert.equal(calm.valid, true);
  assert.equal(calm.checks.find((check) => check.name === 'key')?.warning, undefined);
});

test('a key past the warning window gets no warning, and an expired one is refused as before', async () => {
  f.now.value = NOW - 30 * 86400;
  try {
    const early = await hello(soonToken(soonPair, { iat: f.now.value, exp: f.now.value + 600 }));
    assert.equal(early.valid, true);
    assert.equal(early.checks.find((check) => check.name === 'key')?.warning, undefined);
  } finally {
    f.now.value = NOW;
  }
  f.now.value = NOW + THREE_DAYS;
  try {
    const late = await hello(soonToken(soonPair, { iat: f.now.value, exp: f.now.value + 600 }));
    assert.equal(late.valid, false);
    assert.deepEqual(
      late.checks.filter((check) => check.name === 'key').map((check) => [check.ok, check.warning]),
      [[false, undefined]],
    );
  } finally {
    f.now.value = NOW;
  }
});
