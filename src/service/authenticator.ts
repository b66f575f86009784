import { verify } from 'node:crypto';
import type { UserRecord } from '../core/account-records.ts';
import { type CheckResult, CheckRun, fail, type Outcome, pass, type Step } from '../core/check-run.ts';
import { kidToLookUp } from '../core/header-checks.ts';
import { checkKeyUsable } from '../core/key-checks.ts';
import { DEFAULT_KEY_EXPIRY_WARNING_DAYS } from '../core/key-expiry.ts';
import { grantableRoles, type KeyOwner } from '../core/key-owner.ts';
import { type KeyPairClaims, verifyKeyPairToken } from '../core/key-pair-token.ts';
import type { VerificationPolicy } from '../core/policy.ts';
import { type ReasonCode, type Rejection, reject } from '../core/reason-codes.ts';
import { type SessionClaims, sessionKid, verifySessionToken } from '../core/session-token.ts';
import { plannedSignature, type SignatureVerdict } from '../core/signature-work.ts';
import type { JsonObject } from '../core/strict-json.ts';
import { type Clock, isoTime, type UnixSeconds } from '../core/time.ts';
import type { CompactJws } from '../core/token-format.ts';
import { type ClassifiedToken, classifyToken, INTAKE_CHECKS } from '../core/token-intake.ts';
import type { JtiBinding, Store } from '../store/store.ts';
import { AuthError } from './auth-error.ts';
import { BoundedMap } from './bounded-map.ts';
import { systemClock } from './clock.ts';
import type { DirectoryEntry, KeyDirectory } from './key-directory.ts';
import { readKeyOwner } from './key-owners.ts';
import { type DecisionMethod, Metrics } from './metrics.ts';
import type { Principal } from './principal.ts';
import { ReplayLedger } from './replay-ledger.ts';
import type { ServerKeyring } from './server-keyring.ts';
import type { Sessions } from './sessions.ts';
import { TokenCache } from './token-cache.ts';

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

/** A key-pair token that passed every check but the replay ledger. */
export type VerifiedKeyPair = KeyPairClaims<DirectoryEntry>;

export interface AuthenticatorDeps {
  store: Store;
  directory: KeyDirectory;
  policy: VerificationPolicy;
  clock?: Clock;
  cache?: TokenCache;
  /** Session tokens whose signature verified, remembered by hash (KEYGATE_TOKEN_CACHE_ENTRIES). */
  signedSessionEntries?: number;
  sessions: Sessions;
  keyring: ServerKeyring;
  /** Whether a core is idle for signature checks on the thread pool (SpareCores); without it, never. */
  spareCores?: { readonly available: boolean };
  /** Where the replay ledger binds and peeks jtis (Redis when configured); the store by default. */
  ledgerStore?: Pick<Store, 'bindJtis' | 'peekJti'>;
  /** How soon before a key expires /auth/hello warns (KEYGATE_KEY_EXPIRY_WARNING_DAYS); 14 days by default. */
  keyExpiryWarningSeconds?: number;
  /** Where decisions are counted for /metrics; a private one by default. */
  metrics?: Metrics;
}

/**
 * How many fresh tokens must be in hand at once before signatures may be verified on libuv's
 * thread pool. Below it the loop keeps up, and a trip to the pool only adds latency; above it the
 * loop is the bottleneck, and the pool helps when another core is idle (SpareCores).
 */
const OFF_LOOP_FROM = 4;

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

/**
 * The one verification path every protected route uses. For each token: the verified-token
 * cache, then the key its kid names, then its kind's check pipeline (core), then the replay
 * ledger (key-pair) or the session's state (session). `authenticate` stops at the first failure
 * and binds the jti; `explain` runs every check for /auth/hello and binds nothing.
 *
 * Store failures are not caught here: they reach the caller as they are, and no token is
 * accepted while the store cannot answer (fail closed).
 */
export class Authenticator {
  readonly cache: TokenCache;
  readonly metrics: Metrics;
  private readonly deps: AuthenticatorDeps;
  private readonly clock: Clock;
  private readonly ledger: ReplayLedger;
  /**
   * Session tokens whose signature and claims verified, by token hash: a client sends its session
   * token on every request, and its ES256 check was most of a session request's cost. A hit
   * skips only that: the expiry and the server key are checked again, and the session's state is
   * still read from the store every time.
   */
  private readonly signedSessions: BoundedMap<string, { claims: SessionClaims; kid: string }>;
  /** Fresh key-pair tokens between arriving and their answer: with others in hand, signatures go to the pool. */
  private inHand = 0;
  /** How soon before its expiry /auth/hello warns about a token's key. */
  private readonly expiryWarningSeconds: number;
  /** Where jtis are bound and peeked: Redis when configured, else the store. */
  private readonly ledgerStore: Pick<Store, 'bindJtis' | 'peekJti'>;

  constructor(deps: AuthenticatorDeps) {
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.cache = deps.cache ?? new TokenCache();
    this.metrics = deps.metrics ?? new Metrics();
    this.ledgerStore = deps.ledgerStore ?? deps.store;
    this.ledger = new ReplayLedger(this.ledgerStore, this.clock);
    this.signedSessions = new BoundedMap(deps.signedSessionEntries ?? 10_000);
    this.expiryWarningSeconds = deps.keyExpiryWarningSeconds ?? DEFAULT_KEY_EXPIRY_WARNING_DAYS * 86400;
  }

  async authenticate(input: string): Promise<Principal> {
    return this.authenticateSoon(input);
  }

  /**
   * `authenticate`, answered at once when the verified-token cache can (an organization key's
   * token seen before): a protected route then costs no promise and no turn of the microtask
   * queue for the commonest request of all, a client reusing its token. Otherwise a promise;
   * a refusal is a rejected promise, never a throw.
   */
  authenticateSoon(input: string): Principal | Promise<Principal> {
    const now = this.clock();
    const hash = TokenCache.hash(input);
    const cached = this.cachedPrincipal(hash, now);
    if (cached instanceof Promise)
      return cached.then((hit) =>
        hit ? this.answeredFromCache(hit) : this.authenticateUncached(input, hash, now),
      );
    if (cached === undefined) return this.authenticateUncached(input, hash, now);
    // The one cost /metrics adds to the commonest request: an increment.
    this.metrics.tokenCacheAnswers++;
    return cached;
  }

  private answeredFromCache(principal: Principal): Principal {
    this.metrics.tokenCacheAnswers++;
    return principal;
  }

  /** A token the cache could not answer, checked in full and counted with how long it took. */
  private async authenticateUncached(input: string, hash: string, now: UnixSeconds): Promise<Principal> {
    const started = performance.now();
    const session = this.signedSessions.get(hash);
    if (session) {
      if (
        session.claims.exp > now - this.deps.policy.leewaySeconds &&
        this.deps.keyring.verifier(session.kid)
      )
        return this.counted('session', started, this.sessionPrincipalNow(session.claims, session.kid, now));
      this.signedSessions.delete(hash);
    }
    const run = new CheckRun('first-failure');
    let token: ClassifiedToken;
    try {
      token = intake(run, input);
    } catch (error) {
      if (error instanceof AuthError) this.metrics.decided('unknown', error.rejection.code);
      throw error;
    }
    if (token.kind === 'session')
      return this.counted('session', started, this.authenticateSession(token.jws, hash, now));
    return this.counted('key', started, this.authenticateKeyPair(token.jws, run, hash, now));
  }

  /** Counts the decision `work` comes to; an error that is not a refusal (a store outage) is none. */
  private counted(method: DecisionMethod, started: number, work: Promise<Principal>): Promise<Principal> {
    return work.then(
      (principal) => {
        this.metrics.decided(method, 'accepted', (performance.now() - started) / 1000);
        return principal;
      },
      (error: unknown) => {
        if (error instanceof AuthError)
          this.metrics.decided(method, error.rejection.code, (performance.now() - started) / 1000);
        throw error;
      },
    );
  }

  private async authenticateKeyPair(
    jws: CompactJws,
    run: CheckRun,
    hash: string,
    now: UnixSeconds,
  ): Promise<Principal> {
    this.inHand++;
    try {
      const verified = await this.verifyKeyPair(
        jws,
        now,
        run,
        this.inHand > OFF_LOOP_FROM && this.deps.spareCores?.available === true,
      );
      const binding = await this.ledger.bind({
        iss: verified.iss,
        jti: verified.jti,
        tokenHash: hash,
        expiresAt: verified.exp + this.deps.policy.leewaySeconds,
      });
      const replay = replayOutcome(binding, verified.key.singleUseTokens);
      if (!replay.ok) throw new AuthError(replay.rejection, verified.key.record.id);
      const principal = keyPrincipal(verified);
      if (!verified.key.singleUseTokens)
        this.cache.set(hash, { principal, kid: verified.key.record.id, exp: verified.exp });
      this.deps.directory.noteAccepted(verified.key.record.id, now);
      return principal;
    } catch (error) {
      this.countRefusal(error);
      throw error;
    } finally {
      this.inHand--;
    }
  }

  /**
   * Every check of a key-pair token but the replay ledger, stopping at the first failure; no
   * cache. `authenticate` adds the cache and the ledger; the verify benchmark measures this alone.
   */
  async verifyToken(input: string, now: UnixSeconds = this.clock()): Promise<VerifiedKeyPair> {
    const run = new CheckRun('first-failure');
    const token = intake(run, input);
    if (token.kind !== 'key-pair') throw new AuthError(notKind('key-pair'));
    return this.verifyKeyPair(token.jws, now, run);
  }

  /** The session token a logout names; any other token is refused with its reason code. */
  async verifySession(input: string): Promise<SessionClaims> {
    const token = intake(new CheckRun('first-failure'), input);
    if (token.kind !== 'session') throw new AuthError(notKind('session'));
    return (await this.checkSession(token.jws, this.clock())).claims;
  }

  /** Runs every check for /auth/hello; `input` is the token, or why none could be read. */
  async explain(input: string | Rejection): Promise<HelloReport> {
    const now = this.clock();
    const run = new CheckRun('report');
    const jws = run.execute(INTAKE_CHECKS, { input }, {}).format;
    const token: ClassifiedToken | undefined = jws && classifyToken(jws);
    const principal =
      token?.kind === 'session'
        ? await this.explainSession(run, token.jws, now)
        : await this.explainKeyPair(run, jws, typeof input === 'string' ? input : '', now);
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

  /** A token verified before, still in date and signed by a key that is usable right now. */
  private cachedPrincipal(
    hash: string,
    now: UnixSeconds,
  ): Principal | undefined | Promise<Principal | undefined> {
    const hit = this.cache.get(hash);
    if (!hit) return undefined;
    const key = this.deps.directory.cached(hit.kid);
    if (key && hit.exp > now - this.deps.policy.leewaySeconds && !checkKeyUsable(key.record, now)) {
      if (key.record.ownerUserId !== null)
        return this.cachedForOwner(hash, hit.principal, key.record.ownerUserId, now);
      this.deps.directory.noteAccepted(hit.kid, now);
      return hit.principal;
    }
    this.cache.delete(hash);
    return undefined;
  }

  /**
   * A cached token of a user's key stands only while its owner still may sign it (active, and
   * holding a role that covers the token's): the owner is read on every request, as a session's
   * user is. Otherwise the token goes through every check again, which names the reason.
   */
  private async cachedForOwner(
    hash: string,
    principal: Principal,
    ownerId: string,
    now: UnixSeconds,
  ): Promise<Principal | undefined> {
    const owner = await this.ownerOf(ownerId);
    if (owner?.status === 'active' && grantableRoles(owner.role).includes(principal.role)) {
      this.deps.directory.noteAccepted(principal.kid, now);
      return principal;
    }
    this.cache.delete(hash);
    return undefined;
  }

  private ownerOf(userId: string | null | undefined): Promise<KeyOwner | undefined> {
    return readKeyOwner(this.deps.store, userId);
  }

  /** The registered key a key-pair token names: from memory, or (awaited only then) the store. */
  private keyFor(
    jws: CompactJws | undefined,
  ): DirectoryEntry | undefined | Promise<DirectoryEntry | undefined> {
    const kid = jws && kidToLookUp(jws.header, jws.payload);
    if (kid === undefined) return undefined;
    const found = this.deps.directory.lookup(kid);
    // A hit is an answer from memory (the key, or that there is none); a miss waited for the store.
    if (found instanceof Promise) this.metrics.keyLookups.miss++;
    else this.metrics.keyLookups.hit++;
    return found;
  }

  /**
   * A refused key-pair token counts toward its key's usage only when its kid named a stored key:
   * an unknown kid is counted nowhere, so what a flood of made-up kids can grow stays bounded.
   */
  private countRefusal(error: unknown): void {
    if (error instanceof AuthError && error.kid !== undefined)
      this.deps.directory.noteRefused(error.kid, error.rejection.code);
  }

  private async verifyKeyPair(
    jws: CompactJws,
    now: UnixSeconds,
    run: CheckRun,
    offLoop = false,
  ): Promise<VerifiedKeyPair> {
    const found = this.keyFor(jws);
    const key = found instanceof Promise ? await found : found;
    const owner = key?.record.ownerUserId ? await this.ownerOf(key.record.ownerUserId) : undefined;
    const verdict = key && offLoop ? await this.verifyOffLoop(jws, key) : undefined;
    const verified = verifyKeyPairToken<DirectoryEntry>(
      jws,
      { key, owner, verdict, policy: this.deps.policy, now },
      run,
    );
    if (!verified.ok) throw new AuthError(verified.rejection, key?.record.id);
    return verified.claims;
  }

  /**
   * The signature check on libuv's thread pool, while this process has other tokens in hand:
   * under load the event loop is the bottleneck, and the pool's threads use the other cores.
   * Alone, a token is verified on the loop, which answers it sooner than a trip to the pool.
   */
  private async verifyOffLoop(jws: CompactJws, key: DirectoryEntry): Promise<SignatureVerdict | undefined> {
    const work = plannedSignature(jws.header, key, jws);
    if (!work) return undefined;
    const valid = await new Promise<boolean>((resolve) =>
      verify(work.hash, work.data, work.keyObject, work.signature, (error, ok) => resolve(!error && ok)),
    );
    return { work, valid };
  }

  private async authenticateSession(jws: CompactJws, hash: string, now: UnixSeconds): Promise<Principal> {
    const verified = verifySessionToken(jws, this.sessionEnv(jws, now));
    if (!verified.ok) throw new AuthError(verified.rejection);
    const kid = String(jws.header.kid);
    this.signedSessions.set(hash, { claims: verified.claims, kid });
    return this.sessionPrincipalNow(verified.claims, kid, now);
  }

  /** The session's state in the store, read on every request: a logout or a disabled user ends it at once. */
  private async sessionPrincipalNow(
    claims: SessionClaims,
    kid: string,
    now: UnixSeconds,
  ): Promise<Principal> {
    const state = await this.deps.sessions.checkSession(claims, now, true);
    if (!state.ok) throw new AuthError(state.rejection);
    return sessionPrincipal(claims, state.value, kid);
  }

  /** Session-token checks, then the session's state in the store, which names the user it acts as. */
  private async checkSession(
    jws: CompactJws,
    now: UnixSeconds,
  ): Promise<{ claims: SessionClaims; user: UserRecord }> {
    const verified = verifySessionToken(jws, this.sessionEnv(jws, now));
    if (!verified.ok) throw new AuthError(verified.rejection);
    const state = await this.deps.sessions.checkSession(verified.claims, now, false);
    if (!state.ok) throw new AuthError(state.rejection);
    return { claims: verified.claims, user: state.value };
  }

  private sessionEnv(jws: CompactJws, now: UnixSeconds) {
    const kid = sessionKid(jws);
    return {
      key: kid === undefined ? undefined : this.deps.keyring.verifier(kid),
      policy: this.deps.policy,
      now,
    };
  }

  private async explainKeyPair(
    run: CheckRun,
    jws: CompactJws | undefined,
    input: string,
    now: UnixSeconds,
  ): Promise<Principal | undefined> {
    const key = await this.keyFor(jws);
    const owner = await this.ownerOf(key?.record.ownerUserId);
    const verified = verifyKeyPairToken<DirectoryEntry>(
      jws,
      { key, owner, policy: this.deps.policy, now, expiryWarningSeconds: this.expiryWarningSeconds },
      run,
    );
    if (!run.ready(REPLAY) || !verified.ok) return undefined;
    const { iss, jti, key: entry } = verified.claims;
    const binding = await this.ledgerStore.peekJti(iss, jti, TokenCache.hash(input), now);
    const replay = replayOutcome(binding, entry.singleUseTokens);
    return run.record(REPLAY, replay) ? keyPrincipal(verified.claims) : undefined;
  }

  private async explainSession(
    run: CheckRun,
    jws: CompactJws,
    now: UnixSeconds,
  ): Promise<Principal | undefined> {
    const verified = verifySessionToken(jws, this.sessionEnv(jws, now), run);
    if (!run.ready(SESSION_STATE) || !verified.ok) return undefined;
    const state = await this.deps.sessions.checkSession(verified.claims, now, false);
    return run.record(SESSION_STATE, state) && state.ok
      ? sessionPrincipal(verified.claims, state.value, String(jws.header.kid))
      : undefined;
  }
}

/** The token and format checks, then the token's kind; throws the rejection when there is none. */
function intake(run: CheckRun, input: string): ClassifiedToken {
  const jws = run.execute(INTAKE_CHECKS, { input }, {}).format;
  if (!jws) throw new AuthError(run.failure ?? reject('token_malformed'));
  return classifyToken(jws);
}

function notKind(kind: 'key-pair' | 'session'): Rejection {
  return kind === 'session'
    ? reject('token_malformed', {
        message: 'This is not a Keygate session token.',
        hint: 'Send the token /auth/login returned.',
      })
    : reject('token_malformed', {
        message: 'This is a Keygate session token, not a key-pair token.',
        hint: 'Sign a token with your registered key.',
      });
}

function replayOutcome(binding: JtiBinding, singleUse: boolean): Outcome<true> {
  if (binding === 'reused') return fail(reject('jti_reused'));
  if (binding === 'same-token' && singleUse) {
    return fail(
      reject('jti_reused', {
        message: 'This organization accepts each token once, and this one was already used.',
        hint: 'Sign a new token with a fresh jti for every request.',
      }),
    );
  }
  return pass(true, () => ({
    message:
      binding === 'same-token'
        ? 'This token has been used before; reusing the same token until it expires is fine.'
        : 'The jti has not been used by another token.',
  }));
}

function keyPrincipal(verified: VerifiedKeyPair): Principal {
  return {
    org_id: verified.key.record.orgId,
    sub: verified.sub,
    role: verified.role,
    kid: verified.key.record.id,
    method: 'key',
    expires_at: isoTime(verified.exp),
  };
}

/** Who a session acts as: its user as the store has them now, never the token's say-so. */
function sessionPrincipal(claims: SessionClaims, user: UserRecord, kid: string): Principal {
  return {
    org_id: user.orgId,
    sub: user.id,
    role: user.role,
    kid,
    method: 'session',
    expires_at: isoTime(claims.exp),
  };
}
