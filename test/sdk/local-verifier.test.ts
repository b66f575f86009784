import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createLocalSessionVerifier, type Jwks } from '../../src/sdk/index.ts';
import { AUD, NOW } from '../helpers.ts';
import { payloadOf, type Served, serveKeygate } from './keygate-server.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const PASSWORD = 'correct horse battery staple';

describe('createLocalSessionVerifier with a real Keygate session', () => {
  let served: Served;
  let token: string;
  let jwks: Jwks;
  const at = (seconds: number) => () => seconds * 1000;

  before(async () => {
    served = await serveKeygate();
    await served.fixture.keygate.users.create({
      orgId: served.fixture.orgId,
      email: 'ali@example.com',
      passHash: sha256(PASSWORD),
      screenName: 'Ali',
    });
    const login = await fetch(`${served.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'ali@example.com', pass_hash: sha256(PASSWORD) }),
    });
    assert.equal(login.status, 202);
    token = ((await login.json()) as { results: { token: { HY_APP_AUTH_v1: string } } }).results.token
      .HY_APP_AUTH_v1;
    jwks = (await (await fetch(`${served.url}/.well-known/jwks.json`)).json()) as Jwks;
  });
  after(() => served.close());

  test('verifies the signature with the published key and returns the claims', async () => {
    const claims = payloadOf(token);
    const result = await createLocalSessionVerifier({ keys: jwks, audience: AUD, clock: at(NOW) }).verify(
      `Bearer ${token}`,
    );
    assert.deepEqual(result, {
      ok: true,
      claims: {
        sub: claims.sub,
        sid: claims.sid,
        orgId: served.fixture.orgId,
        role: 'user',
        iat: NOW,
        exp: claims.exp,
      },
    });
  });

  test('fetches the keys from jwksUrl', async () => {
    const verifier = createLocalSessionVerifier({
      jwksUrl: `${served.url}/.well-known/jwks.json`,
      clock: at(NOW),
    });
    const start = served.answers.length;
    assert.equal((await verifier.verify(token)).ok, true);
    assert.equal((await verifier.verify(token)).ok, true);
    assert.deepEqual(
      served.answers.slice(start).map((a) => a.path),
      ['/.well-known/jwks.json'],
    );
  });

  test('refuses what Keygate would refuse: expiry, tampering, other keys, other audiences', async () => {
    const exp = payloadOf(token).exp as number;
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const forged = `${header}.${payload}.${sign('sha256', Buffer.from(`${header}.${payload}`), {
      key: other.privateKey,
      dsaEncoding: 'ieee-p1363',
    }).toString('base64url')}`;
    const raised = Buffer.from(JSON.stringify({ ...payloadOf(token), role: 'admin' })).toString('base64url');
    const cases: [string, Parameters<typeof createLocalSessionVerifier>[0], string][] = [
      [token, { keys: jwks, clock: at(exp + 60) }, 'token_expired'],
      [`${header}.${raised}.${signature}`, { keys: jwks, clock: at(NOW) }, 'signature_invalid'],
      [forged, { keys: jwks, clock: at(NOW) }, 'signature_invalid'],
      [token, { keys: { keys: [] }, clock: at(NOW) }, 'kid_unknown'],
      [token, { keys: jwks, audience: 'elsewhere.example', clock: at(NOW) }, 'aud_mismatch'],
      [served.fixture.token(), { keys: jwks, clock: at(NOW) }, 'token_malformed'],
    ];
    for (const [input, options, code] of cases) {
      const result = await createLocalSessionVerifier(options).verify(input);
      assert.equal(result.ok === false && result.code, code, `${code}: ${JSON.stringify(result)}`);
    }
    // One second less and the leeway still holds it.
    assert.equal(
      (await createLocalSessionVerifier({ keys: jwks, clock: at(exp + 59) }).verify(token)).ok,
      true,
    );
  });

  test("the algorithm is the key's: a key published for anything but ES256 on P-256 never verifies", async () => {
    const [published] = jwks.keys;
    for (const change of [{ alg: 'RS256' }, { crv: 'P-384' }, { use: 'enc' }]) {
      const result = await createLocalSessionVerifier({
        keys: { keys: [{ ...published, ...change }] },
        clock: at(NOW),
      }).verify(token);
      assert.equal(result.ok === false && result.code, 'kid_unknown', JSON.stringify(change));
    }
  });

  test('it cannot see a logout: the token still verifies locally, while forward-auth refuses it', async () => {
    const logout = await fetch(`${served.url}/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(logout.status, 200);
    assert.deepEqual(((await logout.json()) as { results: unknown }).results, { logged_out: true });
    const local = await createLocalSessionVerifier({ keys: jwks, clock: at(NOW) }).verify(token);
    assert.equal(local.ok, true);
    const verify = await fetch(`${served.url}/auth/verify`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(verify.headers.get('x-keygate-reason'), 'session_revoked');
  });

  test('Keygate unreachable and no keys yet: keygate_unavailable', async () => {
    const result = await createLocalSessionVerifier({
      jwksUrl: 'http://127.0.0.1:1/.well-known/jwks.json',
      clock: at(NOW),
    }).verify(token);
    assert.equal(result.ok === false && `${result.status} ${result.code}`, '503 keygate_unavailable');
  });
});
