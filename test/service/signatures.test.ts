import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { SignatureVerdict } from '../../src/core/signature-verdict.ts';
import { Signatures } from '../../src/service/signatures.ts';
import { ecPair, type Fixture, fixture, NOW, rsaPair, type TestPair } from '../helpers.ts';
import { signMessageRaw } from '../message-helpers.ts';

/** The signatures service on a real store: keys found through the directory, owners read per request. */

const MESSAGE = '{"op":"follow","target":"bob"}';
let f: Fixture;
let userId: string;
const EMAIL = 'ali@example.com';

before(async () => {
  f = await fixture({ pair: ecPair() });
  const user = await f.keygate.users.create({
    orgId: f.orgId,
    email: EMAIL,
    passHash: createHash('sha256').update('a long enough password').digest('hex'),
  });
  userId = user.id;
});
after(() => f.close());

async function register(pair: TestPair, options: { owner?: boolean; expiresAt?: number } = {}) {
  const key = await f.keygate.keys.registerKey({
    orgId: f.orgId,
    publicKey: pair.publicPem,
    grantedByAdmin: true,
    ...(options.owner && { owner: { id: userId, role: 'user' as const } }),
    ...(options.expiresAt !== undefined && { expiresAt: options.expiresAt }),
  });
  return key.key_id;
}

function signed(pair: TestPair, kid: string, options: { alg?: string; detached?: boolean } = {}) {
  const alg = options.alg ?? (pair.privateKey.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256');
  return signMessageRaw({ alg, kid, typ: 'JOSE' }, MESSAGE, pair.privateKey, {
    detached: options.detached ?? false,
  });
}

const verify = (jws: string, payload?: string) =>
  f.keygate.signatures.verify(payload === undefined ? { jws } : { jws, payload });

/** A refusal's code and the kid it echoes; everything else of it is null by construction. */
async function refusal(jws: string, payload?: string): Promise<[string | undefined, string | null]> {
  const verdict = await verify(jws, payload);
  assert.equal(verdict.valid, false);
  assert.deepEqual([verdict.org_id, verdict.owner, verdict.alg, verdict.payload], [null, null, null, null]);
  return [verdict.code, verdict.key_id];
}

describe('Signatures.verify', () => {
  test("a message signed with the organization's key: who signed, and what", async () => {
    assert.deepEqual(await verify(signed(f.pair, f.kid)), {
      valid: true,
      org_id: f.orgId,
      key_id: f.kid,
      owner: { type: 'org', id: f.orgId },
      alg: 'ES256',
      payload: MESSAGE,
    } satisfies SignatureVerdict);
  });

  test("a detached message signed with a user's key names the user", async () => {
    const pair = ecPair();
    const kid = await register(pair, { owner: true });
    assert.deepEqual(await verify(signed(pair, kid, { detached: true }), MESSAGE), {
      valid: true,
      org_id: f.orgId,
      key_id: kid,
      owner: { type: 'user', id: userId, email: EMAIL },
      alg: 'ES256',
      payload: MESSAGE,
    });
    assert.deepEqual(await refusal(signed(pair, kid, { detached: true }), `${MESSAGE}!`), [
      'signature_invalid',
      kid,
    ]);
    assert.deepEqual(await refusal(signed(pair, kid, { detached: true })), ['token_malformed', kid]);
    assert.deepEqual(await refusal(`x${signed(pair, kid)}`), ['token_malformed', null]);
  });

  test('unknown kids are kid_unknown, echoed as sent', async () => {
    const unknown = randomUUID();
    assert.deepEqual(await refusal(signed(f.pair, unknown)), ['kid_unknown', unknown]);
    assert.deepEqual(await refusal(signed(f.pair, 'not-an-issued-id')), ['kid_unknown', 'not-an-issued-id']);
  });

  test('revoked, disabled and expired keys sign nothing; an enabled key signs again', async () => {
    const pair = ecPair();
    const kid = await register(pair, { expiresAt: NOW + 600 });
    await f.keygate.keys.setKeyStatus(kid, 'disabled');
    assert.deepEqual(await refusal(signed(pair, kid)), ['key_disabled', kid]);
    await f.keygate.keys.setKeyStatus(kid, 'active');
    assert.equal((await verify(signed(pair, kid))).valid, true);
    f.now.value = NOW + 600;
    try {
      assert.deepEqual(await refusal(signed(pair, kid)), ['key_expired', kid]);
    } finally {
      f.now.value = NOW;
    }
    await f.keygate.keys.setKeyStatus(kid, 'revoked');
    assert.deepEqual(await refusal(signed(pair, kid)), ['key_revoked', kid]);
  });

  test('a rotated key signs through its grace, and is key_revoked after it', async () => {
    const old = ecPair();
    const kid = await register(old);
    const replacement = f.keygate.keys.prepareKey(
      { orgId: f.orgId, publicKey: ecPair().publicPem, grantedByAdmin: true },
      NOW,
    );
    const rotated = await f.keygate.store.rotateKey(kid, replacement.key, NOW + 300, NOW);
    assert.ok(rotated.ok);
    await f.keygate.directory.refresh();
    assert.equal((await verify(signed(old, kid))).valid, true);
    f.now.value = NOW + 300;
    try {
      const verdict = await verify(signed(old, kid));
      assert.equal(verdict.code, 'key_revoked');
      assert.ok(
        verdict.message?.startsWith(
          `The key that signed this token was rotated out (replaced by ${rotated.key.id})`,
        ),
        verdict.message,
      );
    } finally {
      f.now.value = NOW;
    }
  });

  test('the algorithm comes from the key: an RS256 header on a P-256 key is refused', async () => {
    assert.deepEqual(await refusal(signed(rsaPair(), f.kid, { alg: 'RS256' })), ['alg_not_allowed', f.kid]);
  });

  test("a disabled owner's keys sign nothing until they are enabled, read on every request", async () => {
    const pair = ecPair();
    const kid = await register(pair, { owner: true });
    await f.keygate.users.setStatus(EMAIL, 'disabled');
    try {
      const verdict = await verify(signed(pair, kid));
      assert.equal(verdict.code, 'key_disabled');
      assert.equal(
        verdict.message,
        `The key belongs to ${EMAIL}, whose account is disabled; their keys sign nothing until it is enabled.`,
      );
    } finally {
      await f.keygate.users.setStatus(EMAIL, 'active');
    }
    assert.equal((await verify(signed(pair, kid))).valid, true);
  });

  test('no message is accepted while the store cannot answer', async () => {
    const down = new Signatures({
      store: { getUser: () => Promise.reject(new Error('store down')) },
      directory: { lookup: () => Promise.reject(new Error('store down')), noteUsed: () => {} },
      clock: () => NOW,
    });
    await assert.rejects(down.verify({ jws: signed(f.pair, randomUUID()) }), /store down/);
  });
});
