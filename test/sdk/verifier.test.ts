import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createVerifier, REASON_CODES, type VerifierOptions } from '../../src/sdk/index.ts';
import { freePort } from '../e2e/server-process.ts';
import { ecPair, NOW, signJwt } from '../helpers.ts';
import { type Served, serveKeygate } from './keygate-server.ts';

describe('createVerifier against a real Keygate', () => {
  let served: Served;
  before(async () => {
    served = await serveKeygate();
  });
  after(() => served.close());

  const verifierAt = (local: { value: number }, options: Partial<VerifierOptions> = {}) =>
    createVerifier({ url: served.url, clock: () => local.value, ...options });
  /** How many times Keygate was asked since `start`. */
  const asked = (start: number) =>
    served.answers.slice(start).filter((a) => a.path === '/auth/verify').length;

  test('a valid token: the identity from the X-Keygate headers', async () => {
    const result = await verifierAt({ value: NOW * 1000 }).verify(`Bearer ${served.fixture.token()}`);
    assert.deepEqual(result, {
      ok: true,
      identity: {
        orgId: served.fixture.orgId,
        sub: 'alice',
        role: 'user',
        kid: served.fixture.kid,
        method: 'key',
        expiresAt: '2027-01-15T09:00:00Z',
      },
    });
  });

  test('a sub that is not visible ASCII comes back exactly', async () => {
    const sub = 'josé 50%';
    const result = await verifierAt({ value: NOW * 1000 }).verify(served.fixture.token({ sub }));
    assert.equal(result.ok && result.identity.sub, sub);
  });

  test("a refused token: Keygate's code, message and hint, as /v1/whoami gives them", async () => {
    const tokens = {
      signature_invalid: `${served.fixture.token().slice(0, -4)}AAAA`,
      token_expired: served.fixture.token({ iat: NOW - 4000, exp: NOW - 400 }),
      kid_unknown: served.fixture.token({ kid: 'no-such-key' }),
    };
    for (const [code, token] of Object.entries(tokens)) {
      const whoami = await fetch(`${served.url}/v1/whoami`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const { error } = (await whoami.json()) as { error: { message: string; hint: string } };
      const result = await verifierAt({ value: NOW * 1000 }).verify(`Bearer ${token}`);
      assert.deepEqual(result, { ok: false, status: 401, code, message: error.message, hint: error.hint });
    }
  });

  test('no token, or two Authorization headers, is refused without asking Keygate', async () => {
    const start = served.answers.length;
    const verifier = verifierAt({ value: NOW * 1000 });
    for (const header of [undefined, '', 'Bearer', []])
      assert.deepEqual(await verifier.verify(header), {
        ok: false,
        status: 401,
        code: 'token_missing',
        ...REASON_CODES.token_missing,
      });
    const two = await verifier.verify([
      `Bearer ${served.fixture.token()}`,
      `Bearer ${served.fixture.token()}`,
    ]);
    assert.equal(two.ok === false && two.code, 'token_malformed');
    assert.equal(asked(start), 0);
  });

  test('an accepted token is remembered for cacheTtlMs, never past its exp; concurrent checks share a call', async () => {
    const local = { value: NOW * 1000 };
    const verifier = verifierAt(local, { cacheTtlMs: 5000 });
    const token = served.fixture.token();
    let start = served.answers.length;
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => verifier.verify(token)));
    assert.deepEqual(new Set(results.map((r) => r.ok)), new Set([true]));
    assert.equal(asked(start), 1);
    local.value = NOW * 1000 + 4999;
    assert.equal((await verifier.verify(token)).ok, true);
    assert.equal(asked(start), 1);
    local.value = NOW * 1000 + 5000;
    assert.equal((await verifier.verify(token)).ok, true);
    assert.equal(asked(start), 2);

    // A token with 2 s of life left is remembered 2 s, not 5.
    const shortLived = served.fixture.token({ exp: NOW + 2 });
    local.value = NOW * 1000;
    start = served.answers.length;
    await verifier.verify(shortLived);
    local.value = NOW * 1000 + 1999;
    await verifier.verify(shortLived);
    assert.equal(asked(start), 1);
    local.value = NOW * 1000 + 2000;
    await verifier.verify(shortLived);
    assert.equal(asked(start), 2);
  });

  test('at most cacheEntries tokens are remembered, the oldest leaving first', async () => {
    const verifier = verifierAt({ value: NOW * 1000 }, { cacheEntries: 2, cacheTtlMs: 60_000 });
    const [a, b, c] = [served.fixture.token(), served.fixture.token(), served.fixture.token()] as [
      string,
      string,
      string,
    ];
    const start = served.answers.length;
    for (const token of [a, b, c]) await verifier.verify(token);
    assert.equal(asked(start), 3);
    await verifier.verify(c);
    await verifier.verify(b);
    assert.equal(asked(start), 3);
    await verifier.verify(a); // evicted by c
    assert.equal(asked(start), 4);
  });

  test('a refusal is not remembered: a key registered a moment later works at once', async () => {
    const pair = ecPair();
    const verifier = verifierAt({ value: NOW * 1000 });
    const claims = served.fixture.claims();
    const unregistered = (kid: string) =>
      signJwt({ alg: 'ES256', typ: 'JWT' }, { ...claims, kid }, pair.privateKey);
    const refused = await verifier.verify(unregistered('k-later'));
    assert.equal(refused.ok === false && refused.code, 'kid_unknown');
    const key = await served.fixture.keygate.keys.registerKey({
      orgId: served.fixture.orgId,
      publicKey: pair.publicPem,
      grantedByAdmin: true,
    });
    const accepted = await verifier.verify(unregistered(key.key_id));
    assert.equal(accepted.ok && accepted.identity.kid, key.key_id);
  });

  test('revocation reaches a verifier when its cache entry lapses: latency = cacheTtlMs', async () => {
    const pair = ecPair();
    const key = await served.fixture.keygate.keys.registerKey({
      orgId: served.fixture.orgId,
      publicKey: pair.publicPem,
      grantedByAdmin: true,
    });
    const token = signJwt(
      { alg: 'ES256', typ: 'JWT' },
      { ...served.fixture.claims(), kid: key.key_id },
      pair.privateKey,
    );
    const local = { value: NOW * 1000 };
    const verifier = verifierAt(local, { cacheTtlMs: 5000 });
    assert.equal((await verifier.verify(token)).ok, true);
    await served.fixture.keygate.keys.setKeyStatus(key.key_id, 'revoked');
    assert.equal((await verifier.verify(token)).ok, true, 'answered from the cache');
    local.value += 5000;
    const after = await verifier.verify(token);
    assert.equal(after.ok === false && after.code, 'key_revoked');
  });

  test('fails closed: Keygate unreachable, or answering anything but 200 or 401', async () => {
    const token = served.fixture.token();
    const port = await freePort();
    assert.deepEqual(await createVerifier({ url: `http://127.0.0.1:${port}` }).verify(token), {
      ok: false,
      status: 503,
      code: 'keygate_unavailable',
      message: `Keygate at http://127.0.0.1:${port} is unreachable.`,
      hint: 'Check that Keygate is running and reachable from this service; the request was refused meanwhile.',
    });
    const wrongPath = await createVerifier({ url: `${served.url}/nothing-here/` }).verify(token);
    assert.deepEqual(wrongPath.ok === false && [wrongPath.status, wrongPath.code, wrongPath.message], [
      503,
      'keygate_unavailable',
      `Keygate at ${served.url} answered 404 to /auth/verify.`,
    ]);
  });
});
