import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkSignature, signatureLength } from '../../src/core/key-checks.ts';
import { ecdsaDer, plannedSignature, signatureWork, verifyNow } from '../../src/core/signature-work.ts';

const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const ecKey = { keyObject: ec.publicKey, signatureBytes: signatureLength(ec.publicKey) };

function signed(data: string) {
  return {
    signingInput: data,
    signature: sign('sha256', Buffer.from(data), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }),
  };
}

test('R||S re-encoded as DER verifies exactly when Node verifies the R||S itself', () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 40 }),
      fc.uint8Array({ minLength: 64, maxLength: 64 }),
      (text, noise) => {
        const jws = signed(`e30.${Buffer.from(text).toString('base64url')}`);
        for (const signature of [jws.signature, Buffer.from(noise)]) {
          const p1363 = verify(
            'sha256',
            Buffer.from(jws.signingInput),
            { key: ec.publicKey, dsaEncoding: 'ieee-p1363' },
            signature,
          );
          const der = verify('sha256', Buffer.from(jws.signingInput), ec.publicKey, ecdsaDer(signature));
          assert.equal(der, p1363);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('DER integers are minimal and unsigned: leading zeros go, a high bit gets a 0x00', () => {
  const raw = Buffer.alloc(64);
  raw[31] = 0x05; // r = 5
  raw[32] = 0x80; // s has its top bit set
  raw[63] = 0x01;
  const der = ecdsaDer(raw);
  assert.deepEqual([...der.subarray(0, 5)], [0x30, 3 + 35, 0x02, 0x01, 0x05]);
  assert.deepEqual([...der.subarray(5, 8)], [0x02, 33, 0x00]);
  assert.equal(der[8], 0x80);
});

test('a verdict stands in only for the very token, key and algorithm it was computed for', () => {
  const jws = signed('e30.e30');
  const work = signatureWork('ES256', ecKey, jws);
  assert.equal(verifyNow(work), true);
  const lie = { work, valid: false };
  const used = checkSignature('ES256', ecKey, jws, lie);
  assert.equal(used.ok, false, 'the verdict for this token is used as it is');
  const other = { ...jws };
  assert.equal(checkSignature('ES256', ecKey, other, lie).ok, true, "another token's verdict is ignored");
  const otherKey = {
    ...ecKey,
    keyObject: createPublicKey(ec.publicKey.export({ type: 'spki', format: 'pem' })),
  };
  assert.equal(checkSignature('ES256', otherKey, jws, lie).ok, true, "another key's verdict is ignored");
});

test('no verification is planned for an alg the key does not allow or a signature of the wrong shape', () => {
  const jws = signed('e30.e30');
  const key = { ...ecKey, record: { family: 'ec-p256' as const, status: 'active' as const } };
  assert.ok(plannedSignature({ alg: 'ES256' }, key, jws));
  const revoked = { ...key, record: { ...key.record, status: 'revoked' as const } };
  assert.equal(plannedSignature({ alg: 'ES256' }, revoked, jws), undefined, 'a revoked key verifies nothing');
  assert.equal(plannedSignature({ alg: 'RS256' }, key, jws), undefined);
  assert.equal(plannedSignature({ alg: 42 }, key, jws), undefined);
  assert.equal(
    plannedSignature({ alg: 'ES256' }, key, { ...jws, signature: jws.signature.subarray(1) }),
    undefined,
  );
  assert.equal(plannedSignature({ alg: 'ES256' }, key, { ...jws, signature: Buffer.alloc(64) }), undefined);
});
