import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { createSigner, type SignTokenOptions, signMessage, signToken } from '../../src/sdk/index.ts';
import { AUD, ecPair, rsaPair } from '../helpers.ts';

// signToken refuses, before signing, a token every Keygate would refuse: the mistake is named
// where it was made (an unset shell variable, the wrong key for the algorithm), not in a 401 later.

const rsa = rsaPair().privateKey;
const ec = ecPair().privateKey;
const base: SignTokenOptions = { privateKey: ec, orgId: 'org-1', kid: 'key-1', sub: 'alice', aud: AUD };
const headerOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString()) as { alg: string };

test('the algorithm follows the key unless given: RS256 for RSA, ES256 for P-256', () => {
  assert.equal(headerOf(signToken({ ...base, privateKey: rsa })).alg, 'RS256');
  assert.equal(headerOf(signToken({ ...base, privateKey: rsa, alg: 'RS384' })).alg, 'RS384');
  assert.equal(headerOf(signToken(base)).alg, 'ES256');
});

test('a missing or blank claim is refused, naming it', () => {
  const refusals: [Partial<SignTokenOptions>, RegExp][] = [
    [{ orgId: '' }, /^orgId must be the Organization ID, sent as iss; it is empty\.$/],
    [{ kid: '' }, /^kid must be the Key ID the public key was registered under; it is empty\.$/],
    [{ sub: '  ' }, /^sub must be the user the token speaks for; it is " {2}" \(blank\)\.$/],
    [{ kid: undefined as unknown as string }, /^kid must be .*; it is undefined\.$/],
    [{ aud: '' }, /^aud must be the API's audience .*; it is empty\.$/],
    [{ aud: [] }, /^aud must be .*; it is \[\]\.$/],
    [{ aud: [AUD, ''] }, /^aud must be .*; it is \["api\.happypathology\.com",""\]\.$/],
    [{ ttlSeconds: 0 }, /^ttlSeconds must be a positive whole number of seconds; it is 0\.$/],
    [{ ttlSeconds: 1.5 }, /^ttlSeconds must be .*; it is 1\.5\.$/],
  ];
  for (const [change, message] of refusals) {
    assert.throws(
      () => signToken({ ...base, ...change }),
      { name: 'TypeError', message },
      JSON.stringify(change),
    );
  }
});

test('an algorithm the key cannot sign with, or a key Keygate does not verify, is refused', () => {
  assert.throws(() => signToken({ ...base, privateKey: rsa, alg: 'ES256' }), {
    name: 'TypeError',
    message: 'alg ES256 needs a P-256 key; this key is RSA (use RS256 or RS384).',
  });
  assert.throws(() => signToken({ ...base, alg: 'RS256' }), {
    message: 'alg RS256 needs an RSA key; this key is P-256 (use ES256).',
  });
  assert.throws(() => signToken({ ...base, alg: 'HS256' as 'RS256' }), {
    message: 'alg "HS256" is not RS256, RS384 or ES256.',
  });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
  assert.throws(() => signToken({ ...base, privateKey: p384 }), {
    message: 'privateKey is ec (secp384r1); Keygate verifies RSA (2048-4096 bits) and P-256 keys.',
  });
  const { privateKey: ed, publicKey: edPublic } = generateKeyPairSync('ed25519');
  assert.throws(() => signToken({ ...base, privateKey: edPublic }), {
    message: 'privateKey is a public key; sign with the private key.',
  });
  assert.throws(() => signToken({ ...base, privateKey: ed }), { message: /^privateKey is ed25519; / });
});

test('createSigner refuses the same mistakes when it is created, in its own option names', () => {
  const options = { privateKey: ec, orgId: 'org-1', keyId: 'key-1', audience: AUD, sub: 'alice' };
  assert.doesNotThrow(() => createSigner(options));
  assert.throws(() => createSigner({ ...options, keyId: '' }), {
    name: 'TypeError',
    message: 'keyId must be the Key ID the public key was registered under; it is empty.',
  });
  assert.throws(() => createSigner({ ...options, audience: '' }), { message: /^audience must be / });
  assert.throws(() => createSigner({ ...options, ttlSeconds: 0 }), {
    message: 'ttlSeconds must be a positive whole number of seconds; it is 0.',
  });
  assert.throws(() => createSigner({ ...options, alg: 'RS256' }), {
    message: 'alg RS256 needs an RSA key; this key is P-256 (use ES256).',
  });
});

test('signMessage refuses an empty kid and a key it cannot sign with the same way', () => {
  assert.throws(() => signMessage({ privateKey: ec, kid: 'key-1', payload: 'hello', alg: 'RS256' }), {
    name: 'TypeError',
    message: 'alg RS256 needs an RSA key; this key is P-256 (use ES256).',
  });
  assert.throws(() => signMessage({ privateKey: ec, kid: '', payload: 'hello' }), {
    name: 'TypeError',
    message: 'kid must be the Key ID the public key was registered under; it is empty.',
  });
  assert.ok(signMessage({ privateKey: ec, kid: 'key-1', payload: 'hello' }).startsWith('ey'));
});
