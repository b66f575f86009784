import {
  type Check,
  CheckRun,
  checkTable,
  defineCheck,
  emptySlots,
  fail,
  type Outcome,
  pass,
} from './check-run.ts';
import {
  checkAudience,
  checkExpiry,
  checkIssuedAt,
  checkNotBefore,
  checkStringClaim,
} from './claim-checks.ts';
import { verifySignature } from './key-checks.ts';
import type { Verified } from './key-pair-token.ts';
import type { VerificationPolicy } from './policy.ts';
import { reject } from './reason-codes.ts';
import { isRole, type Role } from './roles.ts';
import type { UnixSeconds } from './time.ts';
import type { CompactJws } from './token-format.ts';
import type { VerifyingKey } from './verifying-key.ts';

/**
 * Session tokens are Keygate's own ES256 JWTs. Their `typ` and `iss` differ from every key-pair
 * token, and they verify only against Keygate's server keys, so neither kind can pass as the other.
 */
export const SESSION_TYP = 'keygate-session+jwt';
export const SESSION_ISSUER = 'keygate';
const SESSION_HEADER = new Set(['alg', 'typ', 'kid']);

export interface SessionClaims {
  sub: string;
  sid: string;
  orgId: string;
  role: Role;
  exp: UnixSeconds;
  iat: UnixSeconds;
}

export interface SessionValues {
  format: CompactJws;
  header: true;
  alg: 'ES256';
  kid: string;
  key: VerifyingKey;
  signature: true;
  iss: string;
  sub: string;
  exp: UnixSeconds;
  iat: UnixSeconds;
  nbf: UnixSeconds | null;
  aud: string;
  role: Role;
  sid: { sid: string; orgId: string };
}

export interface SessionEnv {
  /** The server key the service found for the token's kid, if any. */
  key: VerifyingKey | undefined;
  policy: VerificationPolicy;
  now: UnixSeconds;
}

/** After the signature, a bad claim means the token is stale or not ours to fix: log in again. */
const LOG_IN_AGAIN = 'Log in again (POST /auth/login) to get a new session token.';

function logInAgain<T>(outcome: Outcome<T>): Outcome<T> {
  return outcome.ok ? outcome : fail({ ...outcome.rejection, hint: LOG_IN_AGAIN });
}

const check = defineCheck<SessionValues, SessionEnv>();

/** Every check of a session token but the session's own state, which the service looks up. */
export const SESSION_CHECKS: readonly Check<SessionValues, SessionEnv>[] = checkTable(
  ['format'],
  [
    check({
      name: 'header',
      needs: ['format'],
      run: ({ format }) => {
        const extra = Object.keys(format.header).find((name) => !SESSION_HEADER.has(name));
        if (extra === undefined)
          return pass(true as const, () => ({ message: 'A Keygate session token.', actual: SESSION_TYP }));
        return fail(
          reject('token_malformed', {
            message: `A session token header may not carry ${JSON.stringify(extra.slice(0, 40))}.`,
          }),
        );
      },
    }),
    check({
      name: 'alg',
      needs: ['format'],
      run: ({ format }) =>
        format.header.alg === 'ES256'
          ? pass('ES256' as const, () => ({ message: 'ES256, as Keygate signs session tokens.' }))
          : fail(
              reject('alg_not_allowed', {
                message: 'Session tokens are signed with ES256 only.',
                expected: 'ES256',
                actual: String(format.header.alg),
              }),
            ),
    }),
    check({
      name: 'kid',
      needs: ['format'],
      run: ({ format }) => {
        const kid = format.header.kid;
        if (typeof kid !== 'string' || kid === '') return fail(reject('kid_missing'));
        return pass(kid, () => ({ message: `Server key ${kid}.`, actual: kid }));
      },
    }),
    check({
      name: 'key',
      needs: ['header', 'alg', 'kid'],
      run: (_, { key }) =>
        key
          ? pass(key, () => ({ message: 'A Keygate server key signed this session token.' }))
          : fail(
              reject('kid_unknown', {
                message: 'No Keygate server key has this id.',
                hint: 'Log in again to get a token signed by a current key.',
              }),
            ),
    }),
    check({
      name: 'signature',
      needs: ['key', 'format'],
      run: ({ key, format }) => {
        const invalid = verifySignature(
          'ES256',
          key.keyObject,
          key.signatureBytes,
          format.signingInput,
          format.signature,
        );
        if (invalid) return fail(invalid);
        return pass(true as const, () => ({ message: 'The signature verifies with the server key.' }));
      },
    }),
    check({
      name: 'iss',
      needs: ['signature', 'format'],
      run: ({ format }) =>
        format.payload.iss === SESSION_ISSUER
          ? pass(SESSION_ISSUER, () => ({ message: 'Issued by Keygate.', actual: SESSION_ISSUER }))
          : fail(
              reject('iss_mismatch', {
                expected: SESSION_ISSUER,
                actual: String(format.payload.iss),
                hint: LOG_IN_AGAIN,
              }),
            ),
    }),
    check({
      name: 'sub',
      needs: ['signature', 'format'],
      run: ({ format }) => logInAgain(checkStringClaim(format.payload, 'sub')),
    }),
    check({
      name: 'exp',
      needs: ['signature', 'format'],
      run: ({ format }, { policy, now }) => logInAgain(checkExpiry(format.payload, policy, now)),
    }),
    check({
      name: 'iat',
      needs: ['signature', 'format'],
      run: ({ format }, { policy, now }) => logInAgain(checkIssuedAt(format.payload, policy, now)),
    }),
    check({
      name: 'nbf',
      needs: ['signature', 'format'],
      run: ({ format }, { policy, now }) => logInAgain(checkNotBefore(format.payload, policy, now)),
    }),
    check({
      name: 'aud',
      needs: ['signature', 'format'],
      run: ({ format }, { policy }) => logInAgain(checkAudience(format.payload, policy)),
    }),
    check({
      name: 'role',
      needs: ['signature', 'format'],
      run: ({ format }) => {
        const role = format.payload.role;
        if (isRole(role)) return pass(role, () => ({ message: `The session's role is ${role}.` }));
        return fail(reject('role_invalid', { actual: String(role), hint: LOG_IN_AGAIN }));
      },
    }),
    check({
      name: 'sid',
      needs: ['signature', 'format'],
      run: ({ format }) => {
        const { sid, org_id: orgId } = format.payload;
        if (typeof sid === 'string' && sid !== '' && typeof orgId === 'string' && orgId !== '') {
          return pass({ sid, orgId }, () => ({ message: 'The token names its session.', actual: sid }));
        }
        return fail(
          reject('claim_missing', {
            message: 'A session token carries "sid" and "org_id".',
            hint: LOG_IN_AGAIN,
          }),
        );
      },
    }),
  ],
);

/** Each check's slot, empty: see emptySlots. */
const SESSION_SLOTS = emptySlots(SESSION_CHECKS);

/** Verifies a session token against the server key the service found for its kid. */
export function verifySessionToken(
  jws: CompactJws | undefined,
  env: SessionEnv,
  run: CheckRun = new CheckRun('first-failure'),
): Verified<SessionClaims> {
  const values = run.execute(SESSION_CHECKS, env, { ...SESSION_SLOTS, format: jws });
  if (run.failure) return { ok: false, rejection: run.failure };
  const { sub, exp, iat, role, sid } = values;
  if (sub === undefined || exp === undefined || iat === undefined || !role || !sid) {
    return { ok: false, rejection: reject('token_malformed') };
  }
  return { ok: true, claims: { sub, sid: sid.sid, orgId: sid.orgId, role, exp, iat } };
}

/** The server key id a session token names, to look up before the checks run. */
export function sessionKid(jws: CompactJws): string | undefined {
  const kid = jws.header.kid;
  return typeof kid === 'string' && kid !== '' ? kid : undefined;
}
