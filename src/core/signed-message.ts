import type { Algorithm } from './algorithms.ts';
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
import { checkHeaderAlg, checkHeaderParams, type TypRule } from './header-checks.ts';
import { checkAlgorithmForKey, checkNamedKey, checkSignature } from './key-checks.ts';
import { checkOwnerActive, type KeyOwner } from './key-owner.ts';
import type { MessageJws } from './message-format.ts';
import { type Rejection, reject } from './reason-codes.ts';
import type { JsonObject } from './strict-json.ts';
import type { UnixSeconds } from './time.ts';
import type { ResolvedKey } from './verifying-key.ts';

/**
 * A message may be typed "JOSE" (RFC 7515's type for compact JWS, what `keygate sign` writes),
 * "JWT" (what some JWS libraries write by default) or not at all. Token checks refuse "JOSE", so
 * a message signed as one can never be presented as a key-pair token, whatever its payload says.
 */
export const MESSAGE_TYP: TypRule = {
  accepted: new Set(['jose', 'application/jose', 'jwt', 'application/jwt']),
  rule: 'a signed message is typed "JOSE" (or "JWT"), or untyped',
  expected: 'JOSE',
  hint: 'Set "typ" to "JOSE" or leave it out.',
};

/** What each check of a signed message yields, by check name. */
export interface MessageValues {
  format: MessageJws;
  header: true;
  alg: Algorithm;
  kid: string;
  key: ResolvedKey;
  algorithm: Algorithm;
  signature: true;
  owner: KeyOwner | null;
}

export interface MessageEnv<K extends ResolvedKey = ResolvedKey> {
  /** The key the service found for the kid the header names, if any. */
  key: K | undefined;
  /** The owner of `key` when it is a user's key, as the store has them now. */
  owner?: KeyOwner | undefined;
  now: UnixSeconds;
}

/** A message whose signature verified with a usable key of an active owner. */
export interface VerifiedMessage<K extends ResolvedKey = ResolvedKey> {
  key: K;
  /** The key's owner, or null for a key of the organization. */
  owner: KeyOwner | null;
  alg: Algorithm;
  payload: string;
}

export type CheckedMessage<K extends ResolvedKey = ResolvedKey> =
  | { ok: true; message: VerifiedMessage<K> }
  | { ok: false; rejection: Rejection };

/**
 * A message has no claims, so the key id can only be a header parameter: the protected header,
 * which the signature covers.
 */
export function checkHeaderKid(header: JsonObject): Outcome<string> {
  const kid = header.kid;
  if (kid === undefined || kid === '') {
    return fail(
      reject('kid_missing', {
        message: 'The header names no key id: a signed message carries its "kid" in the protected header.',
        hint: 'Add "kid": "<your Key ID>" to the JWS header (keygate sign --kid does).',
      }),
    );
  }
  if (typeof kid !== 'string') {
    return fail(
      reject('token_malformed', {
        message: 'The header "kid" must be a string.',
        expected: 'string',
        actual: Array.isArray(kid) ? 'array' : kid === null ? 'null' : typeof kid,
      }),
    );
  }
  return pass(kid, () => ({ message: `The message names key ${kid}.`, actual: kid }));
}

/**
 * The key id to look up before the checks run, for a message whose header, alg and kid checks will
 * pass; otherwise none, so a message that is junk from its header on never costs a key lookup.
 */
export function messageKidToLookUp(header: JsonObject): string | undefined {
  if (!checkHeaderParams(header, MESSAGE_TYP).ok || !checkHeaderAlg(header).ok) return undefined;
  const kid = checkHeaderKid(header);
  return kid.ok ? kid.value : undefined;
}

const check = defineCheck<MessageValues, MessageEnv>();

/**
 * Every check of a signed message, in order: the key rules of a key-pair token (status, rotation
 * grace, expiry, the algorithm from the stored key, strict signatures), then its owner, who is
 * asked about only once the signature has proven the message was signed by that key.
 */
export const MESSAGE_CHECKS: readonly Check<MessageValues, MessageEnv>[] = checkTable(
  ['format'],
  [
    check({
      name: 'header',
      needs: ['format'],
      run: ({ format }) => checkHeaderParams(format.header, MESSAGE_TYP),
    }),
    check({ name: 'alg', needs: ['format'], run: ({ format }) => checkHeaderAlg(format.header) }),
    check({ name: 'kid', needs: ['format'], run: ({ format }) => checkHeaderKid(format.header) }),
    check({
      name: 'key',
      needs: ['header', 'alg', 'kid'],
      run: ({ kid }, { key, now }) => checkNamedKey(kid, key, now),
    }),
    check({
      name: 'algorithm',
      needs: ['alg', 'key'],
      run: ({ alg, key }) => checkAlgorithmForKey(alg, key.record),
    }),
    check({
      name: 'signature',
      needs: ['algorithm', 'key', 'format'],
      run: ({ algorithm, key, format }) => checkSignature(algorithm, key, format),
    }),
    check({
      name: 'owner',
      needs: ['signature', 'key'],
      run: ({ key }, { owner }) => checkOwnerActive(key.record, owner),
    }),
  ],
);

/** Each check's slot, empty: see emptySlots. */
const MESSAGE_SLOTS = emptySlots(MESSAGE_CHECKS);

/** Verifies a signed message against the key the service resolved for its kid; stops at the first failure. */
export function verifySignedMessage<K extends ResolvedKey>(
  jws: MessageJws,
  env: MessageEnv<K>,
): CheckedMessage<K> {
  const run = new CheckRun('first-failure');
  const values = run.execute(MESSAGE_CHECKS, env, { ...MESSAGE_SLOTS, format: jws });
  if (run.failure) return { ok: false, rejection: run.failure };
  const { key } = env;
  const { algorithm, owner } = values;
  // Every check passed, so each value is set; the test keeps the types honest without a cast.
  if (!key || !values.key || !algorithm || owner === undefined) {
    return { ok: false, rejection: reject('token_malformed', { message: 'The message was not checked.' }) };
  }
  return { ok: true, message: { key, owner, alg: algorithm, payload: jws.payload } };
}
