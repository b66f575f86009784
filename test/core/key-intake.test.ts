import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { intakePublicKey, KeyIntakeError } from '../../src/core/key-intake.ts';
import { vector } from '../helpers.ts';

const SPEC_RSA_THUMBPRINT = intakePublicKey(vector('keys/spec-rsa4096.key.pub')).thumbprint;
const SPEC_P256_THUMBPRINT = intakePublicKey(vector('keys/spec-p256.pub.pem')).thumbprint;

test('keys made by the spec commands register unchanged, in every accepted form, as one canonical key', () => {
  const rsa = [
    vector('keys/spec-rsa4096.key.pub'),
    vector('keys/spec-rsa4096.pkcs1.pub'),
    vector('keys/spec-rsa4096.openssh.pub'),
    vector('keys/spec-rsa4096.key.pub').replace(/\n/g, '\r\n'),
  ];
  for (const input of rsa) {
    const key = intakePublicKey(input);
    assert.equal(key.family, 'rsa');
    assert.equal(key.bits, 4096);
    assert.equal(key.thumbprint, SPEC_RSA_THUMBPRINT);
    assert.deepEqual(key.algorithms, ['RS256', 'RS384']);
  }
  const jwk = intakePublicKey(vector('keys/spec-rsa4096.key.pub')).keyObject.export({ format: 'jwk' });
  assert.equal(intakePublicKey(JSON.stringify(jwk)).thumbprint, SPEC_RSA_THUMBPRINT);
  for (const input of [vector('keys/spec-p256.pub.pem'), vector('keys/p256-cert.pem')]) {
    const key = intakePublicKey(input);
    assert.equal(key.family, 'ec-p256');
    assert.equal(key.thumbprint, SPEC_P256_THUMBPRINT);
    assert.deepEqual(key.algorithms, ['ES256']);
  }
  assert.equal(intakePublicKey(vector('keys/ssh-p256.pub')).family, 'ec-p256');
  assert.match(
    intakePublicKey(vector('keys/spec-rsa4096.openssh.pub')).spkiPem,
    /^-----BEGIN PUBLIC KEY-----\n/,
  );
});

test('the RFC 7638 thumbprint matches the RFC 7638 example', () => {
  const jwk = {
    kty: 'RSA',
    n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    e: 'AQAB',
  };
  assert.equal(
    intakePublicKey(JSON.stringify(jwk)).thumbprint,
    'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
  );
});

const refuse = (input: string, message: RegExp, hint?: RegExp) => {
  assert.throws(
    () => intakePublicKey(input),
    (error: unknown) =>
      error instanceof KeyIntakeError &&
      message.test(error.message) &&
      (hint === undefined || hint.test(error.hint)),
    `${input.slice(0, 40)} should fail with ${message}`,
  );
};

test('private keys of every format are refused with a rotate hint', () => {
  const rotate = /no longer secret/;
  refuse(vector('keys/spec-rsa4096.key'), /private key/, rotate);
  refuse(vector('keys/spec-p256.pem'), /private key/, rotate);
  refuse(vector('keys/p256-pkcs8.pem'), /private key/, rotate);
  refuse(vector('keys/ssh-p256'), /private key/, rotate);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  refuse(JSON.stringify(privateKey.export({ format: 'jwk' })), /private key/, rotate);
});

test('weak, odd and foreign keys are refused, each saying what to use', () => {
  refuse(vector('keys/rsa1024.pub'), /1024 bits; 2048 to 4096/, /ssh-keygen/);
  refuse(vector('keys/rsa8192.pub'), /8192 bits/);
  refuse(vector('keys/rsa-e3.pub'), /exponent is 3; only 65537/);
  refuse(vector('keys/p384.pub'), /secp384r1 is not accepted/, /P-256/);
  refuse(vector('keys/k256.pub'), /secp256k1 is not accepted/);
  refuse(vector('keys/ed25519.pub'), /ed25519 keys are not accepted/);
  const bad = {
    kty: 'EC',
    crv: 'P-256',
    x: Buffer.alloc(32, 1).toString('base64url'),
    y: Buffer.alloc(32, 2).toString('base64url'),
  };
  refuse(JSON.stringify(bad), /not on P-256/);
  refuse(JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: 'abc' }), /kty "OKP"/);
  refuse(JSON.stringify({ kty: 'EC', crv: 'P-384', x: 'a', y: 'b' }), /curve "P-384"/);
});

test('damaged, doubled, wrapped or oversized input is refused', () => {
  const pem = vector('keys/spec-rsa4096.key.pub');
  refuse(`${pem}${pem}`, /2 PEM blocks/);
  refuse(`hello\n${pem}`, /no format/);
  refuse(`${pem.trim()}\ntrailing`, /damaged or has text around it/);
  refuse(pem.replace('MII', 'XXX'), /does not hold a valid key/);
  refuse(pem.replace('PUBLIC KEY-----\n', 'PUBLIC KEY-----\n!'), /damaged/);
  refuse(pem.replaceAll('PUBLIC KEY', 'EC PARAMETERS'), /not a public key/);
  refuse('', /empty/);
  refuse('x'.repeat(20_000), /larger than/);
  refuse('ssh-rsa AAAAB3NzaC1yc2E', /damaged/);
  refuse('ssh-dss AAAAB3NzaC1kc3M=', /damaged|ssh-dss/);
  refuse('{"kty":"RSA"', /not valid JSON/);
  refuse('[1]', /no format/);
  refuse('{"kty":"RSA","n":1,"e":"AQAB"}', /must be a string/);
});
