import { type CheckResult, CheckRun, type Step } from '../core/check-run.ts';
import { verifyKeyPairToken } from '../core/key-pair-token.ts';
import type { VerificationPolicy } from '../core/policy.ts';
import type { ReasonCode, Rejection } from '../core/reason-codes.ts';
import { verifySessionToken } from '../core/session-token.ts';
import type { JsonObject } from '../core/strict-json.ts';
import { isoTime, type UnixSeconds } from '../core/time.ts';
import type { CompactJws } from '../core/token-format.ts';
import { type ClassifiedToken, classifyToken, INTAKE_CHECKS } from '../core/token-intake.ts';
import type { Store } from '../store/store.ts';
import { tokenHash } from './bearer-text.ts';
import type { DirectoryEntry } from './key-directory.ts';
import { readKeyOwner } from './key-owners.ts';
import { type KeyPairAuth, keyPrincipal, replayOutcome } from './key-pair-auth.ts';
import type { Principal } from './principal.ts';
import { type SessionAuth, sessionPrincipal } from './session-auth.ts';
import type { Sessions } from './sessions.ts';

export interface HelloReport {
  valid: boolean;
  kind?: 'key' | 'session';
  code?: ReasonCode;
  checks: CheckResult[];
  header: JsonObject | null;
  claims: JsonObject | null;
  principal?: Principal;
  server_time: string;
  /** iat minus the server's time: for a token signed just now, how far the client's clock is off. */
  clock_skew_seconds?: number;
}

/** What /auth/hello reads: the keys, owners, ledger and sessions `authenticate` reads, bound to nothing. */
export interface HelloSources {
  keyPairs: Pick<KeyPairAuth, 'keyFor'>;
  sessionTokens: Pick<SessionAuth, 'env'>;
  store: Pick<Store, 'getUser'>;
  /** Where jtis are peeked: Redis when configured, else the store. */
  ledgerStore: Pick<Store, 'peekJti'>;
  sessions: Pick<Sessions, 'checkSession'>;
  policy: VerificationPolicy;
  /** How soon before its expiry /auth/hello warns about a token's key. */
  expiryWarningSeconds: number;
}

/** The replay ledger is consulted only for a token that passed every other check. */
const REPLAY: Step = {
  name: 'replay',
  needs: ['iss', 'sub', 'owner', 'jti', 'exp', 'iat', 'nbf', 'lifetime', 'aud', 'role'],
};
/** The session's state in the store, for a session token that passed every other check. */
const SESSION_STATE: Step = {
  name: 'session',
  needs: ['iss', 'sub', 'exp', 'iat', 'nbf', 'aud', 'role', 'sid'],
};

/** Runs every check for /auth/hello; `input` is the token, or why none could be read. */
export async function helloReport(
  sources: HelloSources,
  input: string | Rejection,
  now: UnixSeconds,
): Promise<HelloReport> {
  const run = new CheckRun('report');
  const jws = run.execute(INTAKE_CHECKS, { input }, {}).format;
  const token: ClassifiedToken | undefined = jws && classifyToken(jws);
  const principal =
    token?.kind === 'session'
      ? await explainSession(sources, run, token.jws, now)
      : await explainKeyPair(sources, run, jws, typeof input === 'string' ? input : '', now);
  const iat = jws?.payload.iat;
  return {
    valid: run.failure === undefined,
    ...(token && { kind: token.kind === 'session' ? ('session' as const) : ('key' as const) }),
    ...(run.failure && { code: run.failure.code }),
    checks: run.results,
    header: jws?.header ?? null,
    claims: jws?.payload ?? null,
    ...(principal && { principal }),
    server_time: isoTime(now),
    ...(typeof iat === 'number' && Number.isSafeInteger(iat) && { clock_skew_seconds: iat - now }),
  };
}

async function explainKeyPair(
  sources: HelloSources,
  run: CheckRun,
  jws: CompactJws | undefined,
  input: string,
  now: UnixSeconds,
): Promise<Principal | undefined> {
  const key = await sources.keyPairs.keyFor(jws);
  const owner = await readKeyOwner(sources.store, key?.record.ownerUserId);
  const verified = verifyKeyPairToken<DirectoryEntry>(
    jws,
    { key, owner, policy: sources.policy, now, expiryWarningSeconds: sources.expiryWarningSeconds },
    run,
  );
  if (!run.ready(REPLAY) || !verified.ok) return undefined;
  const { iss, jti, key: entry } = verified.claims;
  const binding = await sources.ledgerStore.peekJti(iss, jti, tokenHash(input), now);
  const replay = replayOutcome(binding, entry.singleUseTokens);
  return run.record(REPLAY, replay) ? keyPrincipal(verified.claims) : undefined;
}

async function explainSession(
  sources: HelloSources,
  run: CheckRun,
  jws: CompactJws,
  now: UnixSeconds,
): Promise<Principal | undefined> {
  const verified = verifySessionToken(jws, sources.sessionTokens.env(jws, now), run);
  if (!run.ready(SESSION_STATE) || !verified.ok) return undefined;
  const state = await sources.sessions.checkSession(verified.claims, now, false);
  return run.record(SESSION_STATE, state) && state.ok
    ? sessionPrincipal(verified.claims, state.value, String(jws.header.kid))
    : undefined;
}
