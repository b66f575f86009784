import { CheckRun } from '../core/check-run.ts';
import { checkKeyUsable } from '../core/key-checks.ts';
import { DEFAULT_KEY_EXPIRY_WARNING_DAYS } from '../core/key-expiry.ts';
import { grantableRoles } from '../core/key-owner.ts';
import type { VerificationPolicy } from '../core/policy.ts';
import { type Rejection, reject } from '../core/reason-codes.ts';
import type { SessionClaims } from '../core/session-token.ts';
import type { Clock, UnixSeconds } from '../core/time.ts';
import { type ClassifiedToken, classifyToken, INTAKE_CHECKS } from '../core/token-intake.ts';
import type { Store } from '../store/store.ts';
import { AuthError, Refused } from './auth-error.ts';
import { BearerText } from './bearer-text.ts';
import { systemClock } from './clock.ts';
import { type HelloReport, type HelloSources, helloReport } from './hello-report.ts';
import type { KeyDirectory } from './key-directory.ts';
import { readKeyOwner } from './key-owners.ts';
import { KeyPairAuth, type VerifiedKeyPair } from './key-pair-auth.ts';
import { Metrics } from './metrics.ts';
import type { Principal } from './principal.ts';
import type { ServerKeyring } from './server-keyring.ts';
import { SessionAuth } from './session-auth.ts';
import type { Sessions } from './sessions.ts';
import { TokenCache } from './token-cache.ts';

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
  /** Where the replay ledger binds and peeks jtis (Redis when configured); the store by default. */
  ledgerStore?: Pick<Store, 'bindJtis' | 'peekJti'>;
  /** How soon before a key expires /auth/hello warns (KEYGATE_KEY_EXPIRY_WARNING_DAYS); 14 days by default. */
  keyExpiryWarningSeconds?: number;
  /** Where decisions are counted for /metrics; a private one by default. */
  metrics?: Metrics;
  /** Server processes sharing this machine's cores: how many libuv's pool may count on (TurnSignatures). */
  serverProcesses?: number;
}

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
  private readonly keyPairs: KeyPairAuth;
  private readonly sessionTokens: SessionAuth;
  private readonly hello: HelloSources;

  constructor(deps: AuthenticatorDeps) {
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.cache = deps.cache ?? new TokenCache();
    this.metrics = deps.metrics ?? new Metrics();
    // Where jtis are bound and peeked: Redis when configured, else the store.
    const ledgerStore = deps.ledgerStore ?? deps.store;
    this.keyPairs = new KeyPairAuth({
      store: deps.store,
      directory: deps.directory,
      policy: deps.policy,
      clock: this.clock,
      cache: this.cache,
      metrics: this.metrics,
      ledgerStore,
      serverProcesses: deps.serverProcesses,
    });
    this.sessionTokens = new SessionAuth({
      sessions: deps.sessions,
      keyring: deps.keyring,
      policy: deps.policy,
      signedSessionEntries: deps.signedSessionEntries ?? 10_000,
    });
    this.hello = {
      keyPairs: this.keyPairs,
      sessionTokens: this.sessionTokens,
      store: deps.store,
      ledgerStore,
      sessions: deps.sessions,
      policy: deps.policy,
      expiryWarningSeconds: deps.keyExpiryWarningSeconds ?? DEFAULT_KEY_EXPIRY_WARNING_DAYS * 86400,
    };
  }

  async authenticate(input: string): Promise<Principal> {
    return settled(this.authenticateSoon(input));
  }

  /**
   * `authenticate`, answered at once when memory can: a token the verified-token cache holds (an
   * organization key's token seen before), or a refusal that needs no I/O (a malformed token, a
   * kid no key has, a failed check), returned as a Refused (no Error) rather than thrown. A protected
   * route then costs no promise and no turn of the microtask queue for the commonest request of
   * all, a client reusing its token, nor for each token of a flood of bad ones. Otherwise a
   * promise, and a refusal after I/O is a rejected promise; never a throw.
   */
  authenticateSoon(input: string): Principal | Refused | Promise<Principal> {
    const now = this.clock();
    const token = new BearerText(input);
    const cached = this.cachedPrincipal(token, now);
    if (cached instanceof Promise)
      return cached.then((hit) =>
        hit ? this.answeredFromCache(hit) : settled(this.decideUncached(token, now)),
      );
    if (cached === undefined) return this.decideUncached(token, now);
    // The one cost /metrics adds to the commonest request: an increment.
    this.metrics.tokenCacheAnswers++;
    return cached;
  }

  /** What the session memories hold: tokens remembered as verified, and sessions whose last-seen write is remembered. */
  get sessionSizes(): Record<'verified' | 'touched', number> {
    return { verified: this.sessionTokens.rememberedSize, touched: this.deps.sessions.touchedSize };
  }

  private answeredFromCache(principal: Principal): Principal {
    this.metrics.tokenCacheAnswers++;
    return principal;
  }

  /** A token the cache could not answer, checked in full and counted with how long it took. */
  private decideUncached(token: BearerText, now: UnixSeconds): Refused | Promise<Principal> {
    const started = performance.now();
    const remembered = this.sessionTokens.remembered(token, now);
    if (remembered) return this.counted(started, remembered);
    const run = new CheckRun('first-failure');
    const kind = classified(run, token.text);
    if (kind instanceof Refused) {
      this.metrics.decided('unknown', kind.rejection.code);
      return kind;
    }
    if (kind.kind === 'session')
      return this.counted(started, this.sessionTokens.authenticate(kind.jws, token, now));
    // Counted where key usage is counted too, with no extra promise on the fresh-token path.
    return this.keyPairs.decide(kind.jws, run, token, now, started);
  }

  /** Counts the session decision `work` comes to; an error that is not a refusal (a store outage) is none. */
  private counted(started: number, work: Promise<Principal>): Promise<Principal> {
    return work.then(
      (principal) => {
        this.metrics.decided('session', 'accepted', (performance.now() - started) / 1000);
        return principal;
      },
      (error: unknown) => {
        if (error instanceof AuthError)
          this.metrics.decided('session', error.rejection.code, (performance.now() - started) / 1000);
        throw error;
      },
    );
  }

  /**
   * Every check of a key-pair token but the replay ledger, stopping at the first failure; no
   * cache. The part of `authenticateSoon` that the verify benchmark measures alone, answered the
   * same way: at once when memory can (a refusal returned, not thrown), otherwise a promise.
   */
  verifyTokenSoon(
    input: string,
    now: UnixSeconds = this.clock(),
  ): VerifiedKeyPair | Refused | Promise<VerifiedKeyPair> {
    const run = new CheckRun('first-failure');
    const token = classified(run, input);
    if (token instanceof Refused) return token;
    if (token.kind !== 'key-pair') return new Refused(notKind('key-pair'));
    return this.keyPairs.verifySoon(token.jws, run, now);
  }

  /** The session token a logout names; any other token is refused with its reason code. */
  async verifySession(input: string): Promise<SessionClaims> {
    const token = intake(new CheckRun('first-failure'), input);
    if (token.kind !== 'session') throw new AuthError(notKind('session'));
    return (await this.sessionTokens.check(token.jws, this.clock())).claims;
  }

  /** Runs every check for /auth/hello; `input` is the token, or why none could be read. */
  async explain(input: string | Rejection): Promise<HelloReport> {
    return helloReport(this.hello, input, this.clock());
  }

  /** A token verified before, still in date and signed by a key that is usable right now. */
  private cachedPrincipal(
    token: BearerText,
    now: UnixSeconds,
  ): Principal | undefined | Promise<Principal | undefined> {
    const hit = this.cache.get(token);
    if (!hit) return undefined;
    const key = this.deps.directory.cached(hit.kid);
    if (key && hit.exp > now - this.deps.policy.leewaySeconds && !checkKeyUsable(key.record, now)) {
      if (key.record.ownerUserId !== null)
        return this.cachedForOwner(token, hit.principal, key.record.ownerUserId, now);
      this.deps.directory.noteAccepted(hit.kid, now);
      return hit.principal;
    }
    this.cache.delete(token);
    return undefined;
  }

  /**
   * A cached token of a user's key stands only while its owner still may sign it (active, and
   * holding a role that covers the token's): the owner is read on every request, as a session's
   * user is. Otherwise the token goes through every check again, which names the reason.
   */
  private async cachedForOwner(
    token: BearerText,
    principal: Principal,
    ownerId: string,
    now: UnixSeconds,
  ): Promise<Principal | undefined> {
    const owner = await readKeyOwner(this.deps.store, ownerId);
    if (owner?.status === 'active' && grantableRoles(owner.role).includes(principal.role)) {
      this.deps.directory.noteAccepted(principal.kid, now);
      return principal;
    }
    this.cache.delete(token);
    return undefined;
  }
}

/** The token and format checks, then the token's kind; the refusal when there is none. */
function classified(run: CheckRun, input: string): ClassifiedToken | Refused {
  const jws = run.execute(INTAKE_CHECKS, { input }, {}).format;
  if (!jws) return new Refused(run.failure ?? reject('token_malformed'));
  return classifyToken(jws);
}

/** `classified`, throwing the refusal. */
function intake(run: CheckRun, input: string): ClassifiedToken {
  return settled(classified(run, input));
}

/** An answer of `authenticateSoon` or its parts with its refusal thrown, for callers that await. */
function settled<T>(answer: T | Refused): T {
  if (answer instanceof Refused) throw answer.error();
  return answer;
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
