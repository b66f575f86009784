import type { KeyObject } from 'node:crypto';
import { ALGORITHMS_BY_FAMILY, type Algorithm } from './algorithms.ts';
import { fail, type Outcome, pass } from './check-run.ts';
import { keyExpiryWarning } from './key-expiry.ts';
import type { KeyRecord } from './key-record.ts';
import { type Rejection, reject } from './reason-codes.ts';
import {
  type SignatureVerdict,
  type SignedInput,
  signatureShapeProblem,
  signatureWork,
  verdictFor,
  verifyNow,
} from './signature-work.ts';
import { isoTime } from './time.ts';
import type { ResolvedKey, VerifyingKey } from './verifying-key.ts';

/**
 * The key a JWS names must be the one the service found for its kid, and usable now. An unknown
 * kid echoes at most 80 characters of what was sent. A key that expires within
 * `expiryWarningSeconds` passes with a warning: the token is fine, but its signer must rotate soon.
 */
export function checkNamedKey<K extends ResolvedKey>(
  kid: string,
  key: K | undefined,
  now: number,
  expiryWarningSeconds?: number,
): Outcome<K> {
  if (!key || key.record.id !== kid) return fail(reject('kid_unknown', { actual: kid.slice(0, 80) }));
  const { record } = key;
  const unusable = checkKeyUsable(record, now);
  if (unusable) return fail(unusable);
  return pass(key, () => {
    const warning =
      expiryWarningSeconds === undefined ? undefined : keyExpiryWarning(record, now, expiryWarningSeconds);
    return {
      message: `Key ${record.id} is active${record.expiresAt === null ? '' : ' and unexpired'}.`,
      actual: `${record.family}, ${record.bits} bits, thumbprint ${record.thumbprint}`,
      ...(warning && { warning }),
    };
  });
}

/** A key may sign only while it is active and unexpired. */
export function checkKeyUsable(key: KeyRecord, now: number): Rejection | undefined {
  if (key.status === 'revoked') return reject('key_revoked', { actual: 'revoked' });
  if (key.revokesAt !== null && now >= key.revokesAt) {
    return reject('key_revoked', {
      message: `The key that signed this token was rotated out${key.replacedBy ? ` (replaced by ${key.replacedBy})` : ''}; its grace ended at ${isoTime(key.revokesAt)}.`,
      hint: 'Sign with the key that replaced it.',
      actual: 'revoked',
    });
  }
  if (key.status === 'disabled') return reject('key_disabled', { actual: 'disabled' });
  if (key.expiresAt !== null && now >= key.expiresAt) {
    return reject('key_expired', { expected: `before ${isoTime(key.expiresAt)}`, actual: isoTime(now) });
  }
  return undefined;
}

/** The algorithm comes from the stored key: the token's `alg` must be one that key allows. */
export function checkAlgorithmForKey(alg: Algorithm, key: KeyRecord): Outcome<Algorithm> {
  const allowed = ALGORITHMS_BY_FAMILY[key.family];
  const family = key.family === 'rsa' ? 'RSA' : 'P-256';
  if (allowed.includes(alg)) {
    return pass(alg, () => ({ message: `${alg} is allowed for this ${family} key.`, actual: alg }));
  }
  return fail(
    reject('alg_not_allowed', {
      message: `The token says ${alg}, but key ${key.id} is ${key.family === 'rsa' ? 'an RSA' : 'a P-256'} key.`,
      hint: `Sign with ${allowed.join(' or ')}, the algorithms of the registered key.`,
      expected: allowed.join(' or '),
      actual: alg,
    }),
  );
}

/** How long a JWS signature by this key is: the RSA modulus in bytes, or 64 for ES256's R||S. */
export function signatureLength(key: KeyObject): number {
  return key.asymmetricKeyType === 'ec' ? 64 : Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
}

/**
 * Verifies a JWS signature. ES256 signatures must be the 64-byte R||S form of RFC 7518: a DER
 * signature is refused rather than converted, and so is any R or S of zero, whatever the library.
 * `expectedLength` is signatureLength(key), computed once per key rather than per token.
 */
export function verifySignature(
  alg: Algorithm,
  key: KeyObject,
  expectedLength: number,
  signingInput: string,
  signature: Buffer,
): Rejection | undefined {
  const problem = signatureShapeProblem(alg, expectedLength, signature);
  if (problem) return problem;
  const work = signatureWork(
    alg,
    { keyObject: key, signatureBytes: expectedLength },
    { signingInput, signature },
  );
  return verifyNow(work) ? undefined : reject('signature_invalid');
}

/**
 * The signature check of a token or a message: `signingInput` and `signature` as the parser read
 * them, verified with the registered key under the algorithm the key allows. A `verdict` the
 * service computed for exactly this token, key and algorithm (off the event loop) stands in for
 * verifying here; any other is ignored.
 */
export function checkSignature(
  algorithm: Algorithm,
  key: VerifyingKey,
  jws: SignedInput,
  verdict?: SignatureVerdict,
): Outcome<true> {
  const problem = signatureShapeProblem(algorithm, key.signatureBytes, jws.signature);
  if (problem) return fail(problem);
  const valid = verdictFor(verdict, algorithm, key, jws) ?? verifyNow(signatureWork(algorithm, key, jws));
  if (!valid) return fail(reject('signature_invalid'));
  return pass(true as const, () => ({ message: 'The signature verifies with the registered public key.' }));
}
