import type { Fixture, KeyKind } from './fixture.ts';
import { badSignatures, duplicateClaim, malformed, signTokens } from './tokens.ts';

/** Every row runs this many rounds, interleaved with its comparison rows; the table shows medians. */
export const ROUNDS = 3;
/**
 * Rounds of the rows compared with Keygate's /healthz (warm and session tokens, refusals): a
 * second each, and cheap to make, so five, whose median one disturbed round moves less than it
 * moves the median of three (on this shared machine, runs of the same code read warm tokens at
 * 0.83-0.87x of /healthz with three).
 */
export const REQUEST_ROUNDS = 5;
/**
 * Rounds of the fresh-token rows, each server's interleaved with the others': five for the
 * reason REQUEST_ROUNDS are. With three, full runs of the same code read fresh RS256-2048 tokens
 * at 1.26-1.36x the reference and ES256 at 1.10-1.24x; the signing of the extra sets (RSA-4096
 * the most) is what five cost.
 */
export const FRESH_ROUNDS = 5;

/**
 * Tokens per round of each fresh-token row: about a second at the rate the issue measured
 * (RS256-2048 ~5.7k/s, RS256-4096 ~4k/s). RSA-4096 signing, at a few hundred a second per
 * core, is what bounds these sets: the benchmark must stay within a few minutes.
 */
export const FRESH: { kind: KeyKind; perRound: number; target: number }[] = [
  { kind: 'RS256-2048', perRound: 6000, target: 1.3 },
  { kind: 'RS256-4096', perRound: 4000, target: 1.5 },
  { kind: 'ES256', perRound: 6000, target: 1.3 },
];

/** Requests per round of the invalid-token rows, each token new to the server. */
const INVALID_PER_ROUND = 8000;
/**
 * Rounds sent at half the measured maximum, and tokens in each: over half a second each. A p99
 * is taken per round and the median reported: on this shared machine a stall of 10-20 ms now
 * and then, in the load generator's process or the kernel, delays a hundred or more requests
 * in a row, whichever server answers (bare Fastify's /healthz shows it too).
 */
export const PACED_ROUNDS = 5;
const PACED_PER_ROUND = 3000;
/** Tokens of each kind sent after the bulk of the warm-up (warm-up.ts): each kind's own key and check. */
const WARM_UP_TOKENS = 300;
/**
 * Unknown kids sent before the timed part. Alone on the flood, a server took tens of thousands of
 * them to reach its steady state (rounds of 6,000: 183, 118, 87, 63 us of CPU per request, then
 * 42-59 us): unwarmed, the row's three rounds measured that climb, not a flood, which lasts.
 */
const UNKNOWN_KID_WARM_UP = 20_000;

export const bearer = (tokens: string[]) => tokens.map((token) => `Bearer ${token}`);

/**
 * Fresh tokens sent before the timed part, so that the fresh-token path is compiled before it is
 * measured. Sent 300 of each kind only, a new Keygate server took 230-360 us of CPU a token over
 * its first 6,000 fresh RS256-2048 tokens, 140-170 over the next 6,000 and 65-80 from 18,000 on,
 * V8's compiler threads taking 60-70 us a token of that at first (rounds of 6,000 on a 2-core
 * machine, each thread read from /proc); after 15,000 fresh ES256 tokens, its first round of
 * RS256-2048 read 80 us and 13.2k a second against 63-87 us and 11.6-15.6k for the next four.
 * ES256 because it is the cheapest kind to sign: the path is the same but for the signature.
 */
const FRESH_WARM_UP_TOKENS = 15_000;

/** A set of FRESH_WARM_UP_TOKENS fresh ES256 tokens; each server with a ledger is sent one set once. */
export async function signFreshWarmUp({ orgId, keys }: Fixture): Promise<string[]> {
  return bearer(await signTokens(keys.ES256, orgId, FRESH_WARM_UP_TOKENS));
}

function split(all: string[], perRound: number, rounds = ROUNDS): string[][] {
  return Array.from({ length: rounds }, (_, i) => all.slice(i * perRound, (i + 1) * perRound));
}

/**
 * Authorization values of fresh tokens, `perRound` for each of `rounds` rounds. A set is fresh
 * to a replay ledger once: each ledger (Keygate's database, the ledger server's) is sent it once.
 */
export async function freshRounds(
  { orgId, keys }: Fixture,
  perRound: number,
  kind: KeyKind = 'RS256-2048',
  rounds = ROUNDS,
): Promise<string[][]> {
  return split(bearer(await signTokens(keys[kind], orgId, perRound * rounds)), perRound, rounds);
}

export type TokenSets = Awaited<ReturnType<typeof signSets>>;

/** Every Authorization value the timed part sends, made before it starts; each set is sent once. */
export async function signSets(fixture: Fixture) {
  const { orgId, keys } = fixture;
  const rounds = (kind: KeyKind, perRound: number) => freshRounds(fixture, perRound, kind, FRESH_ROUNDS);
  const fresh = {} as Record<KeyKind, { keygate: string[][]; reference: string[][]; warmUp: string[] }>;
  for (const { kind, perRound } of FRESH) {
    fresh[kind] = {
      keygate: await rounds(kind, perRound),
      // Keygate accepts a token's jti once: the reference gets a set of its own, of the same size.
      reference: await rounds(kind, perRound),
      // Warm-ups verify on both servers: the reference keeps no ledger, so it may see Keygate's.
      warmUp: bearer(await signTokens(keys[kind], orgId, WARM_UP_TOKENS)),
    };
  }
  const rsa = keys['RS256-2048'];
  const freshWarmUp = await signFreshWarmUp(fixture);
  const unknownKids = await signTokens(
    keys.ES256,
    orgId,
    INVALID_PER_ROUND * REQUEST_ROUNDS + UNKNOWN_KID_WARM_UP,
    'random',
  );
  return {
    fresh,
    freshWarmUp,
    /** One per connection, reused on every request. */
    warm: bearer(await signTokens(rsa, orgId, 50)),
    paced: split(
      bearer(await signTokens(rsa, orgId, PACED_ROUNDS * PACED_PER_ROUND)),
      PACED_PER_ROUND,
      PACED_ROUNDS,
    ),
    unknownKid: split(bearer(unknownKids.slice(UNKNOWN_KID_WARM_UP)), INVALID_PER_ROUND, REQUEST_ROUNDS),
    /** Sent to Keygate before the timed part; new kids, none of them in a timed round. */
    unknownKidWarmUp: bearer(unknownKids.slice(0, UNKNOWN_KID_WARM_UP)),
    badSignature: split(
      bearer(badSignatures(rsa, orgId, INVALID_PER_ROUND * REQUEST_ROUNDS)),
      INVALID_PER_ROUND,
      REQUEST_ROUNDS,
    ),
    malformed: `Bearer ${malformed(rsa, orgId)}`,
    duplicateClaim: `Bearer ${duplicateClaim(rsa, orgId)}`,
  };
}
