import type { CheckRun } from './check-run.ts';
import { checkAudience, checkExpiry, checkIssuedAt, checkStringClaim, recordClaim } from './claim-checks.ts';
import { verifySignature } from './key-checks.ts';
import type { VerificationPolicy } from './policy.ts';
import { reject } from './reason-codes.ts';
import { isRole, type Role } from './roles.ts';
import type { UnixSeconds } from './time.ts';
import type { CompactJws } from './token-format.ts';
import type { VerifyingKey } from './verify-token.ts';

/**
 * Session tokens are Keygate's own ES256 JWTs. Their `typ` and `iss` differ from every key-pair
 * token, and they verify only against Keygate's server keys, so neither kind can pass as the other.
 */
export const SESSION_TYP = 'keygate-session+jwt';
export const SESSION_ISSUER = 'keygate';

export interface SessionClaims {
  sub: string;
  sid: string;
  orgId: string;
  role: Role;
  exp: UnixSeconds;
  iat: UnixSeconds;
}

/** After the signature, a bad claim means the token is stale or not ours to fix: log in again. */
const LOG_IN_AGAIN = 'Log in again (POST /auth/login) to get a new session token.';

/** Every check of a session token but the session's own state, which the service looks up. */
export function checkSessionToken(
  run: CheckRun,
  jws: CompactJws,
  serverKey: (kid: string) => VerifyingKey | undefined,
  policy: VerificationPolicy,
  now: UnixSeconds,
): SessionClaims | undefined {
  const { header, payload } = jws;
  const stop = () => !run.report && run.failure !== undefined;
  const extra = Object.keys(header).find((name) => name !== 'alg' && name !== 'typ' && name !== 'kid');
  run.record(
    'header',
    extra === undefined
      ? undefined
      : reject('token_malformed', {
          message: `A session token header may not carry ${JSON.stringify(extra.slice(0, 40))}.`,
        }),
    () => ({ message: 'A Keygate session token.', actual: SESSION_TYP }),
  );
  if (stop()) return undefined;
  const algOk = run.record(
    'alg',
    header.alg === 'ES256'
      ? undefined
      : reject('alg_not_allowed', {
          message: 'Session tokens are signed with ES256 only.',
          expected: 'ES256',
          actual: String(header.alg),
        }),
    () => ({ message: 'ES256, as Keygate signs session tokens.' }),
  );
  if (stop()) return undefined;
  const kid = typeof header.kid === 'string' && header.kid !== '' ? header.kid : undefined;
  run.record('kid', kid ? undefined : reject('kid_missing'), () => ({
    message: `Server key ${kid}.`,
    actual: kid,
  }));
  if (stop()) return undefined;
  const key = kid ? serverKey(kid) : undefined;
  let proven = false;
  if (!kid || !algOk) {
    run.skipAll(['key', 'signature'], kid ? 'alg' : 'kid');
  } else if (!key) {
    run.record(
      'key',
      reject('kid_unknown', {
        message: 'No Keygate server key has this id.',
        hint: 'Log in again to get a token signed by a current key.',
      }),
    );
    run.skip('signature', 'key');
  } else {
    run.record('key', undefined, () => ({ message: 'A Keygate server key signed this session token.' }));
    proven = run.record(
      'signature',
      verifySignature('ES256', key.keyObject, key.signatureBytes, jws.signingInput, jws.signature),
      () => ({
        message: 'The signature verifies with the server key.',
      }),
    );
  }
  if (stop()) return undefined;
  if (!proven) {
    run.skipAll(['iss', 'sub', 'exp', 'iat', 'aud', 'role'], 'signature');
    return undefined;
  }
  run.record(
    'iss',
    payload.iss === SESSION_ISSUER
      ? undefined
      : reject('iss_mismatch', { expected: SESSION_ISSUER, actual: String(payload.iss), hint: LOG_IN_AGAIN }),
    () => ({ message: 'Issued by Keygate.', actual: SESSION_ISSUER }),
  );
  if (stop()) return undefined;
  for (const [name, check] of [
    ['sub', checkStringClaim(payload, 'sub')],
    ['exp', checkExpiry(payload, policy, now)],
    ['iat', checkIssuedAt(payload, policy, now)],
    ['aud', checkAudience(payload, policy)],
  ] as const) {
    recordClaim(run, name, check, LOG_IN_AGAIN);
    if (stop()) return undefined;
  }
  const role = payload.role;
  run.record(
    'role',
    isRole(role) ? undefined : reject('role_invalid', { actual: String(role), hint: LOG_IN_AGAIN }),
    () => ({
      message: `The session's role is ${String(role)}.`,
    }),
  );
  if (run.failure) return undefined;
  if (typeof payload.sid !== 'string' || typeof payload.org_id !== 'string') {
    run.record(
      'session',
      reject('claim_missing', { message: 'A session token carries "sid" and "org_id".', hint: LOG_IN_AGAIN }),
    );
    return undefined;
  }
  return {
    sub: payload.sub as string,
    sid: payload.sid,
    orgId: payload.org_id,
    role: role as Role,
    exp: payload.exp as number,
    iat: payload.iat as number,
  };
}
