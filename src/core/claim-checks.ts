import { fail, type Outcome, pass } from './check-run.ts';
import type { KeyRecord } from './key-record.ts';
import type { VerificationPolicy } from './policy.ts';
import { type Rejection, reject } from './reason-codes.ts';
import { isRole, ROLES, type Role } from './roles.ts';
import type { JsonObject, JsonValue } from './strict-json.ts';
import { isoTime, relativeTime, type UnixSeconds } from './time.ts';

const MAX_ID_LENGTH = 256;
const MAX_AUDIENCES = 16;

function describe(value: JsonValue | undefined): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** A required string claim: present, a string, not empty, not absurdly long. */
export function checkStringClaim(payload: JsonObject, name: 'sub' | 'jti' | 'iss'): Outcome<string> {
  const value = payload[name];
  if (value === undefined) {
    return fail(
      reject('claim_missing', { message: `The "${name}" claim is missing.`, expected: 'a string' }),
    );
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    return fail(
      reject('claim_invalid', {
        message: `The "${name}" claim must be a non-empty string of at most ${MAX_ID_LENGTH} characters.`,
        expected: 'a string',
        actual: describe(value),
      }),
    );
  }
  return pass(value, () => ({ message: `"${name}" is present.`, actual: value }));
}

/** `iss` names the organization that owns the key which signed the token. */
export function checkIssuer(payload: JsonObject, key: KeyRecord): Outcome<string> {
  const shape = checkStringClaim(payload, 'iss');
  if (!shape.ok) return shape;
  if (shape.value !== key.orgId) {
    return fail(reject('iss_mismatch', { expected: key.orgId, actual: describe(payload.iss) }));
  }
  return pass(shape.value, () => ({ message: 'The issuer owns the signing key.', actual: key.orgId }));
}

/** A JWT NumericDate as accepted here: whole, non-negative seconds within the safe integers. */
export function isNumericDate(value: JsonValue | undefined): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

type TimeClaim = 'exp' | 'iat' | 'nbf';

function invalidTime(payload: JsonObject, name: TimeClaim, now: UnixSeconds): Rejection {
  return reject('claim_invalid', {
    message: `The "${name}" claim must be whole seconds since the epoch (a non-negative integer).`,
    hint: `Send "${name}" as an integer such as ${now}; not a string, a fraction or milliseconds.`,
    expected: 'integer seconds',
    actual: describe(payload[name]),
  });
}

function readTime(payload: JsonObject, name: 'exp' | 'iat', now: UnixSeconds): Outcome<UnixSeconds> {
  const value = payload[name];
  if (value === undefined) {
    return fail(
      reject('claim_missing', {
        message: `The "${name}" claim is missing.`,
        expected: 'whole seconds since 1970-01-01T00:00:00Z',
      }),
    );
  }
  return isNumericDate(value) ? pass(value) : fail(invalidTime(payload, name, now));
}

export function checkExpiry(
  payload: JsonObject,
  policy: VerificationPolicy,
  now: UnixSeconds,
): Outcome<UnixSeconds> {
  const exp = readTime(payload, 'exp', now);
  if (!exp.ok) return exp;
  if (exp.value <= now - policy.leewaySeconds) {
    return fail(
      reject('token_expired', {
        message: `The token expired at ${isoTime(exp.value)} (${relativeTime(exp.value, now)}).`,
        expected: `after ${isoTime(now - policy.leewaySeconds)} (now less ${policy.leewaySeconds} s leeway)`,
        actual: isoTime(exp.value),
      }),
    );
  }
  return pass(exp.value, () => ({
    message: `The token expires ${relativeTime(exp.value, now)}.`,
    actual: isoTime(exp.value),
  }));
}

export function checkIssuedAt(
  payload: JsonObject,
  policy: VerificationPolicy,
  now: UnixSeconds,
): Outcome<UnixSeconds> {
  const iat = readTime(payload, 'iat', now);
  if (!iat.ok) return iat;
  if (iat.value > now + policy.leewaySeconds) {
    return fail(
      reject('iat_in_future', {
        message: `The token says it was issued ${relativeTime(iat.value, now)}, beyond the ${policy.leewaySeconds} s leeway.`,
        expected: `at most ${isoTime(now + policy.leewaySeconds)}`,
        actual: isoTime(iat.value),
      }),
    );
  }
  return pass(iat.value, () => ({
    message: `The token was issued ${relativeTime(iat.value, now)}.`,
    actual: isoTime(iat.value),
  }));
}

/**
 * `nbf` is optional (RFC 7519 section 4.1.5), but a token that carries it is refused before that
 * time less the leeway: a client that sets it means "not yet", and accepting it early would
 * break that promise. The value is the time from which the token is valid, or null when absent.
 */
export function checkNotBefore(
  payload: JsonObject,
  policy: VerificationPolicy,
  now: UnixSeconds,
): Outcome<UnixSeconds | null> {
  const nbf = payload.nbf;
  if (nbf === undefined)
    return pass(null, () => ({ message: 'No "nbf" claim: the token is valid from its iat.' }));
  if (!isNumericDate(nbf)) return fail(invalidTime(payload, 'nbf', now));
  if (nbf > now + policy.leewaySeconds) {
    return fail(
      reject('token_not_yet_valid', {
        message: `The token is not valid before ${isoTime(nbf)} (${relativeTime(nbf, now)}), beyond the ${policy.leewaySeconds} s leeway.`,
        expected: `at most ${isoTime(now + policy.leewaySeconds)}`,
        actual: isoTime(nbf),
      }),
    );
  }
  return pass(nbf, () => ({
    message: `The token is valid since ${relativeTime(nbf, now)}.`,
    actual: isoTime(nbf),
  }));
}

/** exp - iat: positive, and no longer than the policy allows. The value is the lifetime in seconds. */
export function checkLifetime(
  exp: UnixSeconds,
  iat: UnixSeconds,
  policy: VerificationPolicy,
): Outcome<number> {
  const lifetime = exp - iat;
  if (lifetime <= 0) {
    return fail(
      reject('claim_invalid', {
        message: '"exp" must be later than "iat".',
        expected: 'exp > iat',
        actual: `exp - iat = ${lifetime} s`,
      }),
    );
  }
  if (lifetime > policy.maxLifetimeSeconds) {
    return fail(
      reject('lifetime_too_long', {
        message: `The token lives ${lifetime} s (exp - iat); at most ${policy.maxLifetimeSeconds} s are allowed.`,
        hint: `Set exp no more than ${policy.maxLifetimeSeconds} s after iat.`,
        expected: `<= ${policy.maxLifetimeSeconds} s`,
        actual: `${lifetime} s`,
      }),
    );
  }
  return pass(lifetime, () => ({
    message: `The token lives ${lifetime} s.`,
    expected: `<= ${policy.maxLifetimeSeconds} s`,
  }));
}

/** `aud` (a string or an array of strings) must contain one configured audience exactly; the value is that audience. */
export function checkAudience(payload: JsonObject, policy: VerificationPolicy): Outcome<string> {
  const aud = payload.aud;
  // Formatted only for a message: an accepted token costs no string here.
  const expected = () => policy.audiences.join(' or ');
  if (aud === undefined)
    return fail(reject('claim_missing', { message: 'The "aud" claim is missing.', expected: expected() }));
  // The common case, a single string, needs no array around it.
  if (typeof aud === 'string') {
    if (policy.audiences.includes(aud)) return audienceMatched(aud, expected);
    return fail(reject('aud_mismatch', { expected: expected(), actual: describe(aud) }));
  }
  if (
    !Array.isArray(aud) ||
    aud.length === 0 ||
    aud.length > MAX_AUDIENCES ||
    !aud.every((v) => typeof v === 'string')
  ) {
    return fail(
      reject('claim_invalid', {
        message: `"aud" must be a string or a non-empty array of at most ${MAX_AUDIENCES} strings.`,
        expected: expected(),
        actual: describe(aud),
      }),
    );
  }
  const match = aud.find((v): v is string => typeof v === 'string' && policy.audiences.includes(v));
  if (match === undefined)
    return fail(reject('aud_mismatch', { expected: expected(), actual: describe(aud) }));
  return audienceMatched(match, expected);
}

function audienceMatched(match: string, expected: () => string): Outcome<string> {
  return pass(match, () => ({
    message: 'The audience names this service.',
    expected: expected(),
    actual: match,
  }));
}

/**
 * A token may leave `role` out (the spec's runnable examples do): it then gets the key's default
 * role, and /auth/hello warns about it. A role outside the key's ceiling is refused.
 */
export function checkRole(payload: JsonObject, key: KeyRecord): Outcome<Role> {
  const role = payload.role;
  if (role === undefined) {
    const allowed = key.roles.join(', ');
    return pass(key.defaultRole, () => ({
      message: `No "role" claim; the key's default role "${key.defaultRole}" applies.`,
      warning: `Add "role" to the token (one of ${allowed}); the reference requires it.`,
      expected: allowed,
      actual: 'missing',
    }));
  }
  if (!isRole(role)) {
    const lookAlike = typeof role === 'string' && isRole(role.trim().toLowerCase());
    return fail(
      reject('role_invalid', {
        message: lookAlike
          ? `The role ${describe(role)} is not ${JSON.stringify(role.toString().trim().toLowerCase())}: roles are exact, lower-case names.`
          : `The role ${describe(role)} is not one of ${ROLES.join(', ')}.`,
        expected: ROLES.join(', '),
        actual: describe(role),
      }),
    );
  }
  if (!key.roles.includes(role))
    return fail(reject('role_not_permitted', { expected: key.roles.join(', '), actual: role }));
  return pass(role, () => ({
    message: `The key allows the role "${role}".`,
    expected: key.roles.join(', '),
    actual: role,
  }));
}
