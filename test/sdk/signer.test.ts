import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSigner, refreshMarginSeconds, type SignerOptions } from '../../src/sdk/index.ts';
import { AUD, ecPair, NOW } from '../helpers.ts';
import { payloadOf, type Served, serveKeygate } from './keygate-server.ts';

describe('createSigner against a real Keygate', () => {
  let served: Served;
  before(async () => {
    served = await serveKeygate({ roles: ['admin', 'user'] });
  });
  after(() => served.close());

  /** A signer for the fixture's key whose local clock reads `localMs` (the server's is NOW). */
  const signerAt = (localMs: { value: number }, options: Partial<SignerOptions> = {}) =>
    createSigner({
      privateKey: served.fixture.pair.privateKey,
      orgId: served.fixture.orgId,
      keyId: served.fixture.kid,
      audience: AUD,
      sub: 'alice',
      clock: () => localMs.value,
      ...options,
    });
  const answersSince = (start: number) =>
    served.answers.slice(start).map(({ status, code }) => ({ status, code }));

  test('the refresh margin is a tenth of the lifetime, at least 60 s, at most half', () => {
    assert.deepEqual([3600, 600, 300, 120, 60, 10].map(refreshMarginSeconds), [360, 60, 60, 60, 30, 5]);
  });

  test('reuses one token until its refresh margin, then signs a new one with a fresh jti', () => {
    const local = { value: NOW * 1000 };
    const signer = signerAt(local, { ttlSeconds: 600 });
    const first = signer.getToken();
    assert.deepEqual(
      { ...payloadOf(first), jti: typeof payloadOf(first).jti },
      {
        aud: AUD,
        exp: NOW + 600,
        iat: NOW,
        iss: served.fixture.orgId,
        jti: 'string',
        sub: 'alice',
        kid: served.fixture.kid,
      },
    );
    assert.equal(signer.getToken(), first);
    local.value = (NOW + 539) * 1000; // 61 s of life left: above the 60 s margin
    assert.equal(signer.getToken(), first);
    local.value = (NOW + 540) * 1000; // 60 s left
    const second = signer.getToken();
    assert.notEqual(second, first);
    assert.equal(payloadOf(second).iat, NOW + 540);
    assert.equal(payloadOf(second).exp, NOW + 1140);
    assert.notEqual(payloadOf(second).jti, payloadOf(first).jti);
  });

  test('signer.fetch sends the token, and reuses it across calls', async () => {
    const signer = signerAt({ value: NOW * 1000 }, { role: 'user' });
    const start = served.answers.length;
    const one = await signer.fetch(`${served.url}/v1/whoami`);
    const body = (await one.json()) as { results: Record<string, unknown> };
    assert.equal(one.status, 200);
    assert.deepEqual(body.results, {
      org_id: served.fixture.orgId,
      sub: 'alice',
      role: 'user',
      kid: served.fixture.kid,
      method: 'key',
      expires_at: '2027-01-15T09:00:00Z',
    });
    const token = signer.getToken();
    assert.equal((await signer.fetch(`${served.url}/v1/whoami`)).status, 200);
    assert.equal(signer.getToken(), token);
    assert.deepEqual(answersSince(start), [
      { status: 200, code: undefined },
      { status: 200, code: undefined },
    ]);
    assert.equal(signer.clockOffsetMs, 0);
  });

  test('a client clock 10 minutes ahead: iat_in_future, then one retry on the server clock', async () => {
    const signer = signerAt({ value: (NOW + 600) * 1000 }, { ttlSeconds: 300 });
    const start = served.answers.length;
    const response = await signer.fetch(`${served.url}/v1/whoami`);
    assert.equal(response.status, 200);
    assert.deepEqual(answersSince(start), [
      { status: 401, code: 'iat_in_future' },
      { status: 200, code: undefined },
    ]);
    // The Date header's second is taken at its middle.
    assert.equal(signer.clockOffsetMs, -599_500);
    assert.equal(payloadOf(signer.getToken()).iat, NOW);
  });

  test('a client clock 2 hours behind: token_expired, then one retry on the server clock', async () => {
    const signer = signerAt({ value: (NOW - 7200) * 1000 }, { ttlSeconds: 300 });
    const start = served.answers.length;
    assert.equal((await signer.fetch(`${served.url}/v1/whoami`)).status, 200);
    assert.deepEqual(answersSince(start), [
      { status: 401, code: 'token_expired' },
      { status: 200, code: undefined },
    ]);
    assert.equal(signer.clockOffsetMs, 7_200_500);
  });

  test('any other 401 is returned as it is, with no retry', async () => {
    const local = { value: NOW * 1000 };
    for (const [options, code] of [
      [{ keyId: 'no-such-key' }, 'kid_unknown'],
      [{ audience: 'elsewhere.example' }, 'aud_mismatch'],
      [{ role: 'robot' }, 'role_invalid'],
    ] as const) {
      const start = served.answers.length;
      const response = await signerAt(local, options).fetch(`${served.url}/v1/whoami`);
      assert.equal(response.status, 401);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, code);
      assert.deepEqual(answersSince(start), [{ status: 401, code }]);
    }
  });

  test('a stream body is never sent twice; a string body is', async () => {
    const admin = { role: 'admin', ttlSeconds: 300 };
    const publicKey = ecPair().publicPem;
    const body = JSON.stringify({ public_key: publicKey, label: 'from the signer' });
    const init = (payload: NonNullable<RequestInit['body']>): RequestInit & { duplex: 'half' } => ({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: payload,
      duplex: 'half',
    });

    let start = served.answers.length;
    const streamed = new Blob([body]).stream();
    const refused = await signerAt({ value: (NOW + 600) * 1000 }, admin).fetch(
      `${served.url}/auth/signing-keys`,
      init(streamed),
    );
    assert.equal(refused.status, 401);
    assert.deepEqual(answersSince(start), [{ status: 401, code: 'iat_in_future' }]);

    start = served.answers.length;
    const accepted = await signerAt({ value: (NOW + 600) * 1000 }, admin).fetch(
      `${served.url}/auth/signing-keys`,
      init(body),
    );
    assert.equal(accepted.status, 201);
    assert.equal(
      ((await accepted.json()) as { results: { org_id: string } }).results.org_id,
      served.fixture.orgId,
    );
    assert.deepEqual(answersSince(start), [
      { status: 401, code: 'iat_in_future' },
      { status: 201, code: undefined },
    ]);
  });
});

describe('observeServerDate', () => {
  const { privateKey } = ecPair();
  const signerAt = (local: { value: number }) =>
    createSigner({ privateKey, orgId: 'o', keyId: 'k', audience: AUD, sub: 's', clock: () => local.value });
  const date = (seconds: number) => new Date(seconds * 1000).toUTCString();

  test('corrects only a difference over 2 s, and a changed offset discards the token', () => {
    const local = { value: NOW * 1000 };
    const signer = signerAt(local);
    const token = signer.getToken();
    assert.equal(signer.observeServerDate(date(NOW + 1), NOW * 1000), 0); // +1.5 s: noise
    assert.equal(signer.observeServerDate(date(NOW - 2), NOW * 1000), 0); // -1.5 s: noise
    assert.equal(signer.getToken(), token);
    assert.equal(signer.observeServerDate(date(NOW + 30), NOW * 1000), 30_500);
    const corrected = signer.getToken();
    assert.notEqual(corrected, token);
    assert.equal(payloadOf(corrected).iat, NOW + 30);
    // The same offset again, give or take a second: the token stays.
    assert.equal(signer.observeServerDate(date(NOW + 31), NOW * 1000), 30_500);
    assert.equal(signer.getToken(), corrected);
    // Back in step: the offset returns to 0.
    assert.equal(signer.observeServerDate(date(NOW), NOW * 1000), 0);
    assert.equal(payloadOf(signer.getToken()).iat, NOW);
  });

  test('a missing or unreadable Date changes nothing', () => {
    const signer = signerAt({ value: NOW * 1000 });
    signer.observeServerDate(date(NOW + 100), NOW * 1000);
    for (const value of [undefined, null, '', 'yesterday', 'Mon, 99 Foo 2027'])
      assert.equal(signer.observeServerDate(value, NOW * 1000), 100_500);
  });
});
