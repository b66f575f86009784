import { ACCEPTED_ALGORITHMS, type Algorithm, isAcceptedAlgorithm } from './algorithms.ts';
import { fail, type Outcome, pass } from './check-run.ts';
import { reject } from './reason-codes.ts';
import type { JsonObject } from './strict-json.ts';

const KEY_CARRYING_PARAMS = new Set(['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256']);
const ALLOWED_PARAMS = new Set(['alg', 'typ', 'kid']);

/** The `typ` values one kind of JWS may carry, compared without case (RFC 7515 4.1.9); none is fine too. */
export interface TypRule {
  accepted: ReadonlySet<string>;
  /** How the kind is typed, for the message: `a key-pair token is typed "JWT" or untyped`. */
  rule: string;
  expected: string;
  hint: string;
}

export const TOKEN_TYP: TypRule = {
  accepted: new Set(['jwt', 'application/jwt']),
  rule: 'a key-pair token is typed "JWT" or untyped',
  expected: 'JWT',
  hint: 'Set "typ" to "JWT" or leave it out.',
};

/** The header may carry only alg, typ and kid: anything else changes how a token is read. */
export function checkHeaderParams(header: JsonObject, typRule: TypRule = TOKEN_TYP): Outcome<true> {
  for (const name of Object.keys(header)) {
    if (ALLOWED_PARAMS.has(name)) continue;
    const quoted = JSON.stringify(name.slice(0, 40));
    if (KEY_CARRYING_PARAMS.has(name)) {
      return fail(
        reject('token_malformed', {
          message: `The header carries ${quoted}: a token may not bring or point to its own key.`,
          hint: `Remove ${quoted} from the header; the key is the one registered under your kid.`,
          actual: name,
        }),
      );
    }
    const why: Record<string, string> = {
      crit: 'it names extensions that must be understood, and none are',
      b64: 'unencoded payloads (RFC 7797) are not accepted',
      cty: 'nested or typed content is not accepted',
      enc: 'encrypted tokens (JWE) are not accepted',
      zip: 'compressed tokens are not accepted',
    };
    return fail(
      reject('token_malformed', {
        message: `The header parameter ${quoted} is not accepted${why[name] ? `: ${why[name]}` : ''}.`,
        hint: `Remove ${quoted}; the header may hold only "alg", "typ" and "kid".`,
        expected: 'alg, typ, kid',
        actual: name,
      }),
    );
  }
  const typ = header.typ;
  if (typ !== undefined && (typeof typ !== 'string' || !typRule.accepted.has(typ.toLowerCase()))) {
    return fail(
      reject('token_malformed', {
        message: `The header "typ" is ${JSON.stringify(typ)}; ${typRule.rule}.`,
        hint: typRule.hint,
        expected: typRule.expected,
        actual: String(typ),
      }),
    );
  }
  return pass(true, () => ({
    message: 'The header holds only accepted parameters.',
    actual: Object.keys(header).join(', '),
  }));
}

/** What a refused `alg` is told to use instead; joined once, not on every token. */
const ACCEPTED_LIST = ACCEPTED_ALGORITHMS.join(', ');

/** The first gate on `alg`: only public-key algorithms this service knows, before any key is loaded. */
export function checkHeaderAlg(header: JsonObject): Outcome<Algorithm> {
  const alg = header.alg;
  if (alg === undefined) {
    return fail(reject('token_malformed', { message: 'The header has no "alg".', expected: 'RS256' }));
  }
  const expected = ACCEPTED_LIST;
  if (typeof alg !== 'string') {
    return fail(
      reject('alg_not_allowed', { message: '"alg" must be a string.', expected, actual: String(alg) }),
    );
  }
  if (isAcceptedAlgorithm(alg)) {
    return pass(alg, () => ({ message: 'The algorithm is one this service verifies.', actual: alg }));
  }
  let message = `The algorithm ${JSON.stringify(alg)} is not accepted.`;
  if (alg.toLowerCase() === 'none')
    message = 'Unsigned tokens (alg "none") are never accepted, in any spelling.';
  else if (/^HS\d+$/i.test(alg)) {
    message = `${alg} is a shared-secret (HMAC) algorithm; only public-key signatures are verified here.`;
  } else if (isAcceptedAlgorithm(alg.toUpperCase())) {
    message = `Algorithm names are case-sensitive: ${JSON.stringify(alg)} is not ${alg.toUpperCase()}.`;
  }
  return fail(reject('alg_not_allowed', { message, expected, actual: alg.slice(0, 40) }));
}

function kidNotString(where: 'header' | 'payload', value: unknown): Outcome<never> {
  return fail(
    reject('claim_invalid', {
      message: `The ${where} "kid" must be a string.`,
      expected: 'string',
      actual: typeof value,
    }),
  );
}

/**
 * The key id may be a payload claim (as the spec's examples send it) or a header parameter; when
 * both are present they must agree, so that a reader and the verifier never pick different keys.
 */
export function resolveKid(header: JsonObject, payload: JsonObject): Outcome<string> {
  // Read once per token on the lookup and once in the checks: no array of places per call.
  const headerKid = header.kid;
  const payloadKid = payload.kid;
  if (headerKid !== undefined && typeof headerKid !== 'string') return kidNotString('header', headerKid);
  if (payloadKid !== undefined && typeof payloadKid !== 'string') return kidNotString('payload', payloadKid);
  if (headerKid && payloadKid && headerKid !== payloadKid) {
    return fail(
      reject('kid_mismatch', { expected: `payload kid ${payloadKid}`, actual: `header kid ${headerKid}` }),
    );
  }
  const kid = payloadKid || headerKid;
  if (!kid) return fail(reject('kid_missing'));
  return pass(kid, () => ({
    message: `The token names key ${kid} (${payloadKid ? 'payload claim' : 'header'}).`,
    actual: kid,
  }));
}

/**
 * The key id to look up before the checks run, for a token whose header, alg and kid checks will
 * pass; otherwise none, since the key check needs all three. So a token that is junk from its
 * header on never costs a key lookup, and the store's budget for unknown kids is kept for keys
 * registered a moment ago.
 */
export function kidToLookUp(header: JsonObject, payload: JsonObject): string | undefined {
  const { params, alg } = keyPairHeaderChecks(header);
  if (!params.ok || !alg.ok) return undefined;
  const kid = resolveKid(header, payload);
  return kid.ok ? kid.value : undefined;
}

/** What the header-only checks of a key-pair token found. */
export interface HeaderOutcomes {
  params: Outcome<true>;
  alg: Outcome<Algorithm>;
}

/**
 * checkHeaderParams and checkHeaderAlg on a key-pair token's header, worked out once per header
 * object. The parser hands every token that has the same header segment the same frozen object
 * (decodeHeader), so all of a client's tokens share one entry; before, both checks ran twice per
 * token (for the key lookup and in the check table), each listing the header's members anew.
 * Outcomes are never changed once made, so sharing them is safe. Only a frozen header is
 * remembered, and only while it is.
 */
export function keyPairHeaderChecks(header: JsonObject): HeaderOutcomes {
  const known = checkedHeaders.get(header);
  if (known) return known;
  const outcomes = { params: checkHeaderParams(header), alg: checkHeaderAlg(header) };
  if (Object.isFrozen(header)) checkedHeaders.set(header, outcomes);
  return outcomes;
}

const checkedHeaders = new WeakMap<JsonObject, HeaderOutcomes>();
