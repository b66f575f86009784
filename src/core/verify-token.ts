import type { KeyObject } from 'node:crypto';
import type { Algorithm } from './algorithms.ts';
import { CHECK_NAMES, type CheckName, type CheckRun } from './check-run.ts';
import {
  checkAudience,
  checkExpiry,
  checkIssuedAt,
  checkIssuer,
  checkLifetime,
  checkRole,
  checkStringClaim,
  isNumericDate,
  recordClaim,
} from './claim-checks.ts';
import { checkHeaderAlg, checkHeaderParams, resolveKid } from './header-checks.ts';
import { checkAlgorithmForKey, checkKeyUsable, verifySignature } from './key-checks.ts';
import type { KeyRecord } from './key-record.ts';
import type { VerificationPolicy } from './policy.ts';
import { type Rejection, reject } from './reason-codes.ts';
import type { Role } from './roles.ts';
import { SESSION_TYP } from './session-checks.ts';
import type { UnixSeconds } from './time.ts';
import { type CompactJws, parseCompactJws } from './token-format.ts';

/**
 * The verification of a key-pair token, split where the service must look a key up. Each stage
 * records its checks on a CheckRun. In firstFailure mode the caller stops at `run.failure`; in
 * report mode every check runs that its inputs allow, and the rest are recorded as skipped.
 */
export interface TokenStructure {
  jws: CompactJws;
  /** A Keygate session token: its checks are session-checks.ts, not the key-pair ones below. */
  session?: true;
  /** Set when alg and kid passed and the header is clean: only then is a key looked up. */
  lookup?: { alg: Algorithm; kid: string };
}

const KEY_STAGE: readonly CheckName[] = ['key', 'algorithm', 'signature', 'iss'];
/** Every key-pair check after format; replay is left to the caller, which alone knows the ledger. */
const ALL_AFTER_FORMAT = CHECK_NAMES.slice(CHECK_NAMES.indexOf('header'), CHECK_NAMES.indexOf('role') + 1);

/** `token` is the token, or the rejection that reading it from the request produced. */
export function checkStructure(run: CheckRun, token: string | Rejection): TokenStructure | undefined {
  if (typeof token !== 'string' || token === '') {
    run.record('token', typeof token === 'string' ? reject('token_missing') : token);
    run.skipAll(['format', ...ALL_AFTER_FORMAT], 'token');
    return undefined;
  }
  run.record('token', undefined, () => ({ message: `A token of ${token.length} characters was sent.` }));
  const parsed = parseCompactJws(token);
  if (!parsed.ok) {
    run.record('format', parsed.rejection);
    run.skipAll(ALL_AFTER_FORMAT, 'format');
    return undefined;
  }
  run.record('format', undefined, () => ({
    message: 'Three canonical base64url segments; header and payload are JSON objects.',
  }));
  const { jws } = parsed;
  if (jws.header.typ === SESSION_TYP) return { jws, session: true };
  const headerOk = run.record('header', checkHeaderParams(jws.header), () => ({
    message: 'The header holds only accepted parameters.',
    actual: Object.keys(jws.header).join(', '),
  }));
  if (!headerOk && !run.report) return { jws };
  const alg = checkHeaderAlg(jws.header);
  const algOk = run.record('alg', 'rejection' in alg ? alg.rejection : undefined, () => ({
    message: 'The algorithm is one this service verifies.',
    actual: String(jws.header.alg),
  }));
  if (!algOk && !run.report) return { jws };
  const kid = resolveKid(jws.header, jws.payload);
  const kidOk = run.record('kid', 'rejection' in kid ? kid.rejection : undefined, () => ({
    message: `The token names key ${'kid' in kid ? kid.kid : ''} (${jws.payload.kid !== undefined ? 'payload claim' : 'header'}).`,
    actual: 'kid' in kid ? kid.kid : undefined,
  }));
  if (headerOk && 'alg' in alg && 'kid' in kid && kidOk)
    return { jws, lookup: { alg: alg.alg, kid: kid.kid } };
  return { jws };
}

/** A public key ready to verify signatures. */
export interface VerifyingKey {
  keyObject: KeyObject;
  /** signatureLength(keyObject), kept with the key so no token pays for computing it. */
  signatureBytes: number;
}

export interface ResolvedKey extends VerifyingKey {
  record: KeyRecord;
}

/** key, algorithm, signature and iss: returns true when the signature is proven and iss owns the key. */
export function checkWithKey(
  run: CheckRun,
  structure: TokenStructure,
  key: ResolvedKey | undefined,
  now: UnixSeconds,
): boolean {
  const { lookup, jws } = structure;
  if (!lookup) {
    run.skipAll(KEY_STAGE, 'kid');
    return false;
  }
  if (!key) {
    run.record('key', reject('kid_unknown', { actual: lookup.kid.slice(0, 80) }));
    run.skipAll(KEY_STAGE.slice(1), 'key');
    return false;
  }
  const { record } = key;
  const usable = run.record('key', checkKeyUsable(record, now), () => ({
    message: `Key ${record.id} is active${record.expiresAt === null ? '' : ' and unexpired'}.`,
    actual: `${record.family}, ${record.bits} bits, thumbprint ${record.thumbprint}`,
  }));
  if (!usable) {
    run.skipAll(KEY_STAGE.slice(1), 'key');
    return false;
  }
  const algOk = run.record('algorithm', checkAlgorithmForKey(lookup.alg, record), () => ({
    message: `${lookup.alg} is allowed for this ${record.family === 'rsa' ? 'RSA' : 'P-256'} key.`,
    actual: lookup.alg,
  }));
  if (!algOk) {
    run.skipAll(['signature', 'iss'], 'algorithm');
    return false;
  }
  const signed = run.record(
    'signature',
    verifySignature(lookup.alg, key.keyObject, key.signatureBytes, jws.signingInput, jws.signature),
    () => ({ message: 'The signature verifies with the registered public key.' }),
  );
  if (!signed) {
    run.skip('iss', 'signature');
    return false;
  }
  return recordClaim(run, 'iss', checkIssuer(jws.payload, record));
}

export interface CheckedClaims {
  sub: string;
  jti: string;
  exp: UnixSeconds;
  iat: UnixSeconds;
  role: Role;
}

/**
 * The claims table of spec 004 with the decided defaults. `key` is passed only once the signature
 * is proven; without it the role ceiling cannot be judged and the role check is skipped.
 */
export function checkClaims(
  run: CheckRun,
  payload: CompactJws['payload'],
  key: KeyRecord | undefined,
  policy: VerificationPolicy,
  now: UnixSeconds,
): CheckedClaims | undefined {
  const stop = () => !run.report && run.failure !== undefined;
  recordClaim(run, 'sub', checkStringClaim(payload, 'sub'));
  if (stop()) return undefined;
  recordClaim(run, 'jti', checkStringClaim(payload, 'jti'));
  if (stop()) return undefined;
  recordClaim(run, 'exp', checkExpiry(payload, policy, now));
  if (stop()) return undefined;
  recordClaim(run, 'iat', checkIssuedAt(payload, policy, now));
  if (stop()) return undefined;
  if (isNumericDate(payload.exp) && isNumericDate(payload.iat))
    recordClaim(run, 'lifetime', checkLifetime(payload, policy));
  else run.skip('lifetime', isNumericDate(payload.exp) ? 'iat' : 'exp');
  if (stop()) return undefined;
  recordClaim(run, 'aud', checkAudience(payload, policy));
  if (stop()) return undefined;
  if (!key) {
    run.skip('role', 'signature');
    return undefined;
  }
  const role = checkRole(payload, key);
  recordClaim(run, 'role', role);
  if (run.failure || !role.role) return undefined;
  return {
    sub: payload.sub as string,
    jti: payload.jti as string,
    exp: payload.exp as number,
    iat: payload.iat as number,
    role: role.role,
  };
}
