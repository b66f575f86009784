/**
 * The closed set of reasons a token can be rejected for. Every code has a message that says what
 * is wrong and a hint that says what to change; HTTP answers, /auth/hello, the CLI and the SDK all
 * read from this one registry so that they can never disagree.
 */
export const REASON_CODES = {
  token_missing: {
    message: 'No token was sent.',
    hint: 'Send the token in the Authorization header, as "Bearer <jwt>" or the bare JWT.',
  },
  token_malformed: {
    message: 'The token is not a well-formed compact JWS (header.payload.signature).',
    hint: 'Sign the token with a JWT library; send it unchanged, with no padding, spaces or quotes.',
  },
  alg_not_allowed: {
    message: 'The token is signed with an algorithm this key does not allow.',
    hint: 'Sign with RS256 or RS384 for an RSA key, or ES256 for a P-256 key.',
  },
  kid_missing: {
    message: 'The token names no key id (kid).',
    hint: 'Add the Key ID you were given as the "kid" claim (or the "kid" header parameter).',
  },
  kid_unknown: {
    message: 'No key is registered under this key id.',
    hint: 'Use the Key ID returned when the public key was registered; check for typos and the right environment.',
  },
  kid_mismatch: {
    message: 'The header and the payload name different key ids.',
    hint: 'Send the key id once, or make the header "kid" and the payload "kid" equal.',
  },
  key_revoked: {
    message: 'The key that signed this token has been revoked.',
    hint: 'Register a new key pair and sign with it; a revoked key never comes back.',
  },
  key_disabled: {
    message: 'The key that signed this token is disabled.',
    hint: 'Ask an administrator of your organization to enable the key, or sign with another active key.',
  },
  key_expired: {
    message: 'The key that signed this token has passed its expiry date.',
    hint: 'Register a new key pair and sign with it.',
  },
  iss_mismatch: {
    message: 'The issuer (iss) is not the organization that owns the key.',
    hint: 'Set "iss" to the Organization ID you were given with this key.',
  },
  signature_invalid: {
    message: 'The signature does not verify with the registered public key.',
    hint: 'Sign with the private key whose public half was registered under this kid, and send the token unchanged.',
  },
  claim_missing: {
    message: 'A required claim is missing.',
    hint: 'Include every required claim: jti, iss, iat, exp, aud, sub (and role).',
  },
  claim_invalid: {
    message: 'A claim has the wrong type or form.',
    hint: 'Use strings for jti, iss, sub, role and kid; whole seconds since the epoch for iat and exp.',
  },
  token_expired: {
    message: 'The token has expired.',
    hint: 'Sign a new token; check that your clock is right.',
  },
  token_not_yet_valid: {
    message: 'The token is not valid yet (nbf).',
    hint: 'Leave "nbf" out, or set it no later than the current time; synchronise your clock (NTP).',
  },
  lifetime_too_long: {
    message: 'The token lives longer than allowed (exp - iat).',
    hint: 'Set exp no more than one hour after iat.',
  },
  iat_in_future: {
    message: 'The token is issued in the future (iat).',
    hint: 'Set iat to the current time and synchronise your clock (NTP).',
  },
  aud_mismatch: {
    message: 'The audience (aud) does not name this service.',
    hint: 'Set "aud" to this service\'s audience exactly, as /auth/hello lists it.',
  },
  role_invalid: {
    message: 'The role is not one of admin, user, device or service.',
    hint: 'Set "role" to admin, user, device or service, in lower case.',
  },
  role_not_permitted: {
    message: 'The key is not allowed to sign tokens with this role.',
    hint: 'Use a role the key allows, or ask an administrator to register a key with that role.',
  },
  sub_not_permitted: {
    message: 'The key belongs to one user, and the token names someone else as "sub".',
    hint: 'Set "sub" to the user id of the key\'s owner (GET /auth/signing-keys shows it), or sign with a key of the organization.',
  },
  jti_reused: {
    message: 'This token id (jti) was already used by a different token.',
    hint: 'Give every new token a fresh jti (a UUID or a nanosecond timestamp); reuse the same token instead of re-signing with the same jti.',
  },
  session_revoked: {
    message: 'The session behind this token has ended.',
    hint: 'Log in again to get a new session token.',
  },
} as const satisfies Record<string, { message: string; hint: string }>;

export type ReasonCode = keyof typeof REASON_CODES;

export const REASON_CODE_LIST = Object.keys(REASON_CODES) as ReasonCode[];

/** A rejection: one reason code, with detail that says what was expected and what was seen. */
export interface Rejection {
  code: ReasonCode;
  message: string;
  hint: string;
  expected?: string;
  actual?: string;
}

export function reject(
  code: ReasonCode,
  detail?: { message?: string; expected?: string; actual?: string; hint?: string },
): Rejection {
  const base = REASON_CODES[code];
  return {
    code,
    message: detail?.message ?? base.message,
    hint: detail?.hint ?? base.hint,
    ...(detail?.expected !== undefined && { expected: detail.expected }),
    ...(detail?.actual !== undefined && { actual: detail.actual }),
  };
}

export function isReasonCode(value: unknown): value is ReasonCode {
  return typeof value === 'string' && Object.hasOwn(REASON_CODES, value);
}
