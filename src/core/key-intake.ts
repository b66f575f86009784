import { createHash, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { ALGORITHMS_BY_FAMILY, type Algorithm, type KeyFamily } from './algorithms.ts';

/** A public key in the one form the store keeps, whatever form it arrived in. */
export interface CanonicalKey {
  keyObject: KeyObject;
  spkiPem: string;
  family: KeyFamily;
  bits: number;
  thumbprint: string;
  algorithms: readonly Algorithm[];
}

/** A refused key: what is wrong with it and what to do instead. */
export class KeyIntakeError extends Error {
  override readonly name = 'KeyIntakeError';
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.hint = hint;
  }
}

export const MAX_KEY_INPUT_BYTES = 16 * 1024;
const RSA_MIN_BITS = 2048;
const RSA_MAX_BITS = 4096;
const PRIVATE_KEY_HINT =
  'Never send a private key. Treat this one as no longer secret: make a new key pair (keygate keygen), ' +
  'keep its private half to yourself and send only the .pub file.';
const FORMATS_HINT =
  'Send a public key as a PEM "PUBLIC KEY" (openssl rsa -pubout / openssl ec -pubout), a PEM "RSA PUBLIC KEY", ' +
  'an OpenSSH ssh-rsa or ecdsa-sha2-nistp256 line, an X.509 certificate, or a JWK.';

/**
 * Accepts a public key as SPKI or PKCS#1 PEM, an OpenSSH line, an X.509 certificate or a JWK, and
 * returns it as canonical SPKI. Only RSA 2048-4096 bits with e = 65537 and P-256 are accepted.
 */
export function intakePublicKey(input: string): CanonicalKey {
  if (Buffer.byteLength(input, 'utf8') > MAX_KEY_INPUT_BYTES) {
    throw new KeyIntakeError(`The key is larger than ${MAX_KEY_INPUT_BYTES} bytes.`, FORMATS_HINT);
  }
  const text = input.trim();
  if (text.length === 0) throw new KeyIntakeError('The key is empty.', FORMATS_HINT);
  return canonicalise(readKey(text));
}

function readKey(text: string): KeyObject {
  if (/PRIVATE KEY-----/.test(text)) {
    throw new KeyIntakeError('This is a private key.', PRIVATE_KEY_HINT);
  }
  if (text.startsWith('-----BEGIN ')) return readPem(text);
  if (text.startsWith('{')) return readJwk(text);
  if (/^(ssh-|ecdsa-)/.test(text)) return readOpenSsh(text);
  throw new KeyIntakeError('The key is in no format that is accepted.', FORMATS_HINT);
}

const PEM_BLOCK = /^-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END \1-----$/;

function readPem(text: string): KeyObject {
  const blocks = text.match(/-----BEGIN /g)?.length ?? 0;
  if (blocks !== 1) {
    throw new KeyIntakeError(
      `The input holds ${blocks} PEM blocks; exactly one is expected.`,
      'Send one public key at a time.',
    );
  }
  const match = PEM_BLOCK.exec(text);
  if (!match) {
    throw new KeyIntakeError(
      'The PEM block is damaged or has text around it.',
      'Send the file unchanged, from "-----BEGIN" to "-----END ...-----", with nothing before or after.',
    );
  }
  const label = match[1];
  const der = Buffer.from((match[2] ?? '').replace(/\s+/g, ''), 'base64');
  try {
    if (label === 'PUBLIC KEY') return createPublicKey({ key: der, format: 'der', type: 'spki' });
    if (label === 'RSA PUBLIC KEY') return createPublicKey({ key: der, format: 'der', type: 'pkcs1' });
    if (label === 'CERTIFICATE') return new X509Certificate(der).publicKey;
  } catch {
    throw new KeyIntakeError(`The ${label} block does not hold a valid key.`, FORMATS_HINT);
  }
  throw new KeyIntakeError(`A PEM "${label}" block is not a public key.`, FORMATS_HINT);
}

function readJwk(text: string): KeyObject {
  let jwk: Record<string, unknown>;
  try {
    jwk = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new KeyIntakeError('The key looks like a JWK but is not valid JSON.', FORMATS_HINT);
  }
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) {
    throw new KeyIntakeError('A JWK must be a JSON object.', FORMATS_HINT);
  }
  if (['d', 'p', 'q', 'dp', 'dq', 'qi'].some((name) => Object.hasOwn(jwk, name))) {
    throw new KeyIntakeError('This JWK holds a private key.', PRIVATE_KEY_HINT);
  }
  if (jwk.kty === 'RSA') return importJwk({ kty: 'RSA', n: jwk.n, e: jwk.e });
  if (jwk.kty === 'EC') return importJwk({ kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y });
  throw new KeyIntakeError(
    `A JWK of kty ${JSON.stringify(jwk.kty)} is not accepted.`,
    'Send an RSA or P-256 (EC) key.',
  );
}

function importJwk(jwk: Record<string, unknown>): KeyObject {
  for (const [name, value] of Object.entries(jwk)) {
    if (typeof value !== 'string') {
      throw new KeyIntakeError(`The JWK member "${name}" must be a string.`, FORMATS_HINT);
    }
  }
  if (jwk.kty === 'EC' && jwk.crv !== 'P-256') {
    throw new KeyIntakeError(
      `The curve ${JSON.stringify(jwk.crv)} is not accepted.`,
      'Use P-256 (prime256v1).',
    );
  }
  try {
    // biome-ignore lint/suspicious/noExplicitAny: node's JsonWebKey type is checked member by member above
    return createPublicKey({ key: jwk as any, format: 'jwk' });
  } catch {
    throw new KeyIntakeError(
      'The JWK does not describe a valid public key (for EC: the point is not on P-256).',
      FORMATS_HINT,
    );
  }
}

function readOpenSsh(text: string): KeyObject {
  const parts = text.split(/\s+/);
  if (parts.length > 3 || parts.length < 2) {
    throw new KeyIntakeError(
      'An OpenSSH key is one line: type, base64 blob and an optional comment.',
      FORMATS_HINT,
    );
  }
  const [type, blob] = parts as [string, string];
  const reader = new SshReader(Buffer.from(blob, 'base64'));
  try {
    if (reader.text() !== type) throw new Error('type');
    if (type === 'ssh-rsa') {
      const e = reader.mpint();
      const n = reader.mpint();
      reader.end();
      return importJwk({ kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') });
    }
    if (type === 'ecdsa-sha2-nistp256') {
      if (reader.text() !== 'nistp256') throw new Error('curve');
      const point = reader.bytes();
      reader.end();
      if (point.length !== 65 || point[0] !== 4) throw new Error('point');
      return importJwk({
        kty: 'EC',
        crv: 'P-256',
        x: point.subarray(1, 33).toString('base64url'),
        y: point.subarray(33).toString('base64url'),
      });
    }
  } catch (error) {
    if (error instanceof KeyIntakeError) throw error;
    throw new KeyIntakeError('The OpenSSH key blob is damaged.', 'Send the .pub line unchanged.');
  }
  throw new KeyIntakeError(
    `OpenSSH keys of type ${type} are not accepted.`,
    'Use ssh-rsa (2048-4096 bits) or ecdsa-sha2-nistp256.',
  );
}

/** Reads the length-prefixed fields of an OpenSSH public key blob (RFC 4253 section 6.6). */
class SshReader {
  private offset = 0;
  private readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  bytes(): Buffer {
    if (this.offset + 4 > this.buf.length) throw new Error('short');
    const length = this.buf.readUInt32BE(this.offset);
    const start = this.offset + 4;
    if (start + length > this.buf.length) throw new Error('short');
    this.offset = start + length;
    return this.buf.subarray(start, start + length);
  }
  text(): string {
    return this.bytes().toString('latin1');
  }
  mpint(): Buffer {
    const value = this.bytes();
    let i = 0;
    while (i < value.length - 1 && value[i] === 0) i++;
    return value.subarray(i);
  }
  end(): void {
    if (this.offset !== this.buf.length) throw new Error('trailing');
  }
}

function canonicalise(key: KeyObject): CanonicalKey {
  if (key.type !== 'public') throw new KeyIntakeError('This is not a public key.', PRIVATE_KEY_HINT);
  const details = key.asymmetricKeyDetails ?? {};
  let family: KeyFamily;
  let bits: number;
  if (key.asymmetricKeyType === 'rsa') {
    bits = details.modulusLength ?? 0;
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
      throw new KeyIntakeError(
        `The RSA key has ${bits} bits; ${RSA_MIN_BITS} to ${RSA_MAX_BITS} are accepted.`,
        'Make a new key with ssh-keygen -t rsa -b 4096 -m PEM (or keygate keygen).',
      );
    }
    if (details.publicExponent !== 65537n) {
      throw new KeyIntakeError(
        `The RSA public exponent is ${details.publicExponent}; only 65537 is accepted.`,
        'Make a new key with a standard tool (ssh-keygen, openssl, keygate keygen); they all use 65537.',
      );
    }
    family = 'rsa';
  } else if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve !== 'prime256v1') {
      throw new KeyIntakeError(
        `The EC curve ${details.namedCurve} is not accepted.`,
        'Use P-256 (prime256v1).',
      );
    }
    family = 'ec-p256';
    bits = 256;
  } else {
    throw new KeyIntakeError(
      `${key.asymmetricKeyType} keys are not accepted.`,
      'Use an RSA (2048-4096 bits) or P-256 key.',
    );
  }
  const spkiPem = key.export({ type: 'spki', format: 'pem' }).toString();
  return {
    keyObject: key,
    spkiPem,
    family,
    bits,
    thumbprint: jwkThumbprint(key),
    algorithms: ALGORITHMS_BY_FAMILY[family],
  };
}

/** RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace. */
export function jwkThumbprint(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  const canonical =
    jwk.kty === 'RSA'
      ? JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n })
      : JSON.stringify({ crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}
