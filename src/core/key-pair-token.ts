import type { Algorithm } from './algorithms.ts';
import { type Check, CheckRun, checkTable, defineCheck, emptySlots } from './check-run.ts';
import {
  checkAudience,
  checkExpiry,
  checkIssuedAt,
  checkIssuer,
  checkLifetime,
  checkNotBefore,
  checkRole,
  checkStringClaim,
} from './claim-checks.ts';
import { keyPairHeaderChecks, resolveKid } from './header-checks.ts';
import { checkAlgorithmForKey, checkNamedKey, checkSignature } from './key-checks.ts';
import { checkOwner, checkOwnerRole, type KeyOwner } from './key-owner.ts';
import type { VerificationPolicy } from './policy.ts';
import { type Rejection, reject } from './reason-codes.ts';
import type { Role } from './roles.ts';
import type { SignatureVerdict } from './signature-work.ts';
import type { UnixSeconds } from './time.ts';
import type { CompactJws } from './token-format.ts';
import type { ResolvedKey } from './verifying-key.ts';

/** What each check of a key-pair token yields, by check name. */
export interface KeyPairValues {
  format: CompactJws;
  header: true;
  alg: Algorithm;
  kid: string;
  key: ResolvedKey;
  algorithm: Algorithm;
  signature: true;
  iss: string;
  sub: string;
  owner: KeyOwner | null;
  jti: string;
  exp: UnixSeconds;
  iat: UnixSeconds;
  nbf: UnixSeconds | null;
  lifetime: number;
  aud: string;
  role: Role;
}

export interface KeyPairEnv<K extends ResolvedKey = ResolvedKey> {
  /** The key the service found for the kid the token names, if any. */
  key: K | undefined;
  /** The owner of `key` when it is a user's key, as the store has them now. */
  owner?: KeyOwner | undefined;
  /** The signature's verification, when the service ran it itself (off the event loop). */
  verdict?: SignatureVerdict | undefined;
  policy: VerificationPolicy;
  now: UnixSeconds;
  /** How soon before its expiry the key check warns (report mode only); never, when unset. */
  expiryWarningSeconds?: number;
}

/** A key-pair token that passed every check but the replay ledger, which only the service holds. */
export interface KeyPairClaims<K extends ResolvedKey = ResolvedKey> {
  /** The key of the env, accepted: it is the one the token names, and it is usable. */
  key: K;
  iss: string;
  sub: string;
  jti: string;
  exp: UnixSeconds;
  iat: UnixSeconds;
  role: Role;
}

export type Verified<T> = { ok: true; claims: T } | { ok: false; rejection: Rejection };

const check = defineCheck<KeyPairValues, KeyPairEnv>();

/**
 * Every check of a key-pair token, in order. The signature is proven before any claim decides
 * anything (in report mode the claims are still shown, so a client sees all it must fix).
 */
export const KEY_PAIR_CHECKS: readonly Check<KeyPairValues, KeyPairEnv>[] = checkTable(
  ['format'],
  [
    check({
      name: 'header',
      needs: ['format'],
      run: ({ format }) => keyPairHeaderChecks(format.header).params,
    }),
    check({ name: 'alg', needs: ['format'], run: ({ format }) => keyPairHeaderChecks(format.header).alg }),
    check({ name: 'kid', needs: ['format'], run: ({ format }) => resolveKid(format.header, format.payload) }),
    check({
      name: 'key',
      needs: ['header', 'alg', 'kid'],
      run: ({ kid }, { key, now, expiryWarningSeconds }) =>
        checkNamedKey(kid, key, now, expiryWarningSeconds),
    }),
    check({
      name: 'algorithm',
      needs: ['alg', 'key'],
      run: ({ alg, key }) => checkAlgorithmForKey(alg, key.record),
    }),
    check({
      name: 'signature',
      needs: ['algorithm', 'key', 'format'],
      run: ({ algorithm, key, format }, { verdict }) => checkSignature(algorithm, key, format, verdict),
    }),
    check({
      name: 'iss',
      needs: ['signature', 'key', 'format'],
      run: ({ key, format }) => checkIssuer(format.payload, key.record),
    }),
    check({ name: 'sub', needs: ['format'], run: ({ format }) => checkStringClaim(format.payload, 'sub') }),
    check({
      name: 'owner',
      needs: ['signature', 'key', 'sub'],
      run: ({ key, sub }, { owner }) => checkOwner(sub, key.record, owner),
    }),
    check({ name: 'jti', needs: ['format'], run: ({ format }) => checkStringClaim(format.payload, 'jti') }),
    check({
      name: 'exp',
      needs: ['format'],
      run: ({ format }, { policy, now }) => checkExpiry(format.payload, policy, now),
    }),
    check({
      name: 'iat',
      needs: ['format'],
      run: ({ format }, { policy, now }) => checkIssuedAt(format.payload, policy, now),
    }),
    check({
      name: 'nbf',
      needs: ['format'],
      run: ({ format }, { policy, now }) => checkNotBefore(format.payload, policy, now),
    }),
    check({
      name: 'lifetime',
      needs: ['exp', 'iat'],
      run: ({ exp, iat }, { policy }) => checkLifetime(exp, iat, policy),
    }),
    check({
      name: 'aud',
      needs: ['format'],
      run: ({ format }, { policy }) => checkAudience(format.payload, policy),
    }),
    check({
      name: 'role',
      needs: ['signature', 'key', 'format'],
      run: ({ key, format }, { owner }) => {
        const role = checkRole(format.payload, key.record);
        return (role.ok && key.record.ownerUserId !== null && checkOwnerRole(role.value, owner)) || role;
      },
    }),
  ],
);

/** Each check's slot, empty: see emptySlots. */
const KEY_PAIR_SLOTS = emptySlots(KEY_PAIR_CHECKS);

/**
 * Verifies a key-pair token against the key the service resolved for it. `run` decides the mode:
 * a first-failure run (the default) stops at the first rejection; a report run records them all.
 * On success the claims carry `env.key` itself, typed as the caller gave it.
 */
export function verifyKeyPairToken<K extends ResolvedKey>(
  jws: CompactJws | undefined,
  env: KeyPairEnv<K>,
  run: CheckRun = new CheckRun('first-failure'),
): Verified<KeyPairClaims<K>> {
  // Every check's slot from the start: filled one check at a time, an object that began as
  // `{ format }` grew its property store and changed its hidden class at each check (about
  // 1 KB allocated per token, measured, out of 8.6).
  const values = run.execute(KEY_PAIR_CHECKS, env, { ...KEY_PAIR_SLOTS, format: jws });
  if (run.failure) return { ok: false, rejection: run.failure };
  const { iss, sub, jti, exp, iat, role } = values;
  const { key } = env;
  // Every check passed, so each value is set; the test keeps the types honest without a cast.
  if (!key || !values.key || !iss || !sub || !jti || exp === undefined || iat === undefined || !role) {
    return { ok: false, rejection: reject('token_malformed', { message: 'The token was not checked.' }) };
  }
  return { ok: true, claims: { key, iss, sub, jti, exp, iat, role } };
}
