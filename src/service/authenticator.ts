import { type CheckResult, CheckRun } from '../core/check-run.ts';
import { checkKeyUsable } from '../core/key-checks.ts';
import type { VerificationPolicy } from '../core/policy.ts';
import { type ReasonCode, type Rejection, reject } from '../core/reason-codes.ts';
import { checkSessionToken, type SessionClaims } from '../core/session-checks.ts';
import type { JsonObject } from '../core/strict-json.ts';
import { type Clock, isoTime, type UnixSeconds } from '../core/time.ts';
import {
  type CheckedClaims,
  checkClaims,
  checkStructure,
  checkWithKey,
  type TokenStructure,
} from '../core/verify-token.ts';
import type { JtiBinding, Store } from '../store/store.ts';
import { AuthError, UnavailableError } from './auth-error.ts';
import { systemClock } from './clock.ts';
import type { DirectoryEntry, KeyDirectory } from './key-directory.ts';
import type { Principal } from './principal.ts';
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

export interface VerifiedToken {
  claims: CheckedClaims;
  key: DirectoryEntry;
  iss: string;
}

export interface AuthenticatorDeps {
  store: Store;
  directory: KeyDirectory;
  policy: VerificationPolicy;
  clock?: Clock;
  cache?: TokenCache;
  sessions: Sessions;
  keyring: ServerKeyring;
}

/**
 * The one verification path every protected route uses, for key-pair and session tokens alike.
 * `authenticate` stops at the first failed check and binds the jti; `explain` runs every check
 * for /auth/hello and binds nothing.
 */
export class Authenticator {
  readonly cache: TokenCache;
  private readonly deps: AuthenticatorDeps;
  private readonly clock: Clock;

  constructor(deps: AuthenticatorDeps) {
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.cache = deps.cache ?? new TokenCache();
  }

  async authenticate(token: string): Promise<Principal> {
    const now = this.clock();
    const hash = TokenCache.hash(token);
    const hit = this.cache.get(hash);
    if (hit) {
      const key = this.deps.directory.cached(hit.kid);
      // A hit still has to be in date and signed by a key that is usable right now.
      if (key && hit.exp > now - this.deps.policy.leewaySeconds && !checkKeyUsable(key.record, now)) {
        this.deps.directory.noteUsed(hit.kid, now);
        return hit.principal;
      }
      this.cache.delete(hash);
    }
    const run = new CheckRun('firstFailure');
    const structure = checkStructure(run, token);
    if (structure?.session) return this.authenticateSession(run, structure, now);
    const { claims, key, iss } = await this.verifyKeyPair(run, structure, now);
    const binding = await this.guard(() =>
      this.deps.store.bindJti(iss, claims.jti, hash, claims.exp + this.deps.policy.leewaySeconds, now),
    );
    const replay = replayRejection(binding, key.singleUseTokens);
    if (replay) throw new AuthError(replay);
    const principal = keyPrincipal(claims, key);
    if (!key.singleUseTokens) this.cache.set(hash, { principal, kid: key.record.id, exp: claims.exp });
    this.deps.directory.noteUsed(key.record.id, now);
    return principal;
  }

  /**
   * Every check of a key-pair token but the replay ledger, stopping at the first failure; no
   * cache. `authenticate` adds the cache and the ledger; the verify benchmark measures this alone.
   */
  async verifyToken(token: string, now: UnixSeconds = this.clock()): Promise<VerifiedToken> {
    const run = new CheckRun('firstFailure');
    return this.verifyKeyPair(run, checkStructure(run, token), now);
  }

  /** The session token a logout names; any other token is refused with its reason code. */
  async verifySession(token: string): Promise<SessionClaims> {
    const run = new CheckRun('firstFailure');
    const structure = checkStructure(run, token);
    if (!structure?.session) {
      throw new AuthError(
        run.failure ??
          reject('token_malformed', {
            message: 'This is not a Keygate session token.',
            hint: 'Send the token /auth/login returned.',
          }),
      );
    }
    const claims = await this.sessionClaims(run, structure, this.clock(), false);
    if (!claims) throw new AuthError(run.failure ?? reject('session_revoked'));
    return claims;
  }

  private async verifyKeyPair(
    run: CheckRun,
    structure: TokenStructure | undefined,
    now: UnixSeconds,
  ): Promise<VerifiedToken> {
    const verified =
      structure && !run.failure ? this.finish(run, structure, await this.keyFor(structure), now) : undefined;
    if (!verified || run.failure) throw new AuthError(run.failure ?? reject('token_malformed'));
    return verified;
  }

  private async authenticateSession(
    run: CheckRun,
    structure: TokenStructure,
    now: UnixSeconds,
  ): Promise<Principal> {
    const claims = await this.sessionClaims(run, structure, now, true);
    if (!claims) throw new AuthError(run.failure ?? reject('session_revoked'));
    return sessionPrincipal(claims, String(structure.jws.header.kid));
  }

  /** Token checks, then the session's state in the store (recorded as the "session" check). */
  private async sessionClaims(run: CheckRun, structure: TokenStructure, now: UnixSeconds, touch: boolean) {
    const { sessions, keyring } = this.deps;
    const claims = checkSessionToken(
      run,
      structure.jws,
      (kid) => keyring.verifier(kid),
      this.deps.policy,
      now,
    );
    if (!claims) {
      run.skip('session', run.results.find((r) => !r.ok && !r.skipped)?.name ?? 'signature');
      return undefined;
    }
    const state = await this.guard(() => sessions.checkSession(claims, now, touch));
    return run.record('session', state, () => ({ message: 'The session is live.' })) ? claims : undefined;
  }

  /** Runs every check for /auth/hello; `input` is the token, or why none could be read. */
  async explain(input: string | Rejection): Promise<HelloReport> {
    const now = this.clock();
    const run = new CheckRun('report');
    const structure = checkStructure(run, input);
    let principal: Principal | undefined;
    if (structure?.session) {
      const claims = await this.sessionClaims(run, structure, now, false);
      if (claims) principal = sessionPrincipal(claims, String(structure.jws.header.kid));
    } else {
      principal = await this.explainKeyPair(run, structure, input, now);
    }
    const iat = structure?.jws.payload.iat;
    return {
      valid: run.failure === undefined,
      ...(structure && { kind: structure.session ? ('session' as const) : ('key' as const) }),
      ...(run.failure && { code: run.failure.code }),
      checks: run.results,
      header: structure?.jws.header ?? null,
      claims: structure?.jws.payload ?? null,
      ...(principal && { principal }),
      server_time: isoTime(now),
      ...(typeof iat === 'number' && Number.isSafeInteger(iat) && { clock_skew_seconds: iat - now }),
    };
  }

  private async explainKeyPair(
    run: CheckRun,
    structure: TokenStructure | undefined,
    input: string | Rejection,
    now: UnixSeconds,
  ) {
    const verified = structure ? this.finish(run, structure, await this.keyFor(structure), now) : undefined;
    if (!verified) {
      run.skip('replay', run.results.find((r) => !r.ok)?.name ?? 'token');
      return undefined;
    }
    const { claims, key, iss } = verified;
    const binding = await this.guard(() =>
      this.deps.store.peekJti(iss, claims.jti, TokenCache.hash(input as string), now),
    );
    const ok = run.record('replay', replayRejection(binding, key.singleUseTokens), () => ({
      message:
        binding === 'same-token'
          ? 'This token has been used before; reusing the same token until it expires is fine.'
          : 'The jti has not been used by another token.',
    }));
    return ok ? keyPrincipal(claims, key) : undefined;
  }

  /** The key a token names. Loaded keys come from memory; only a miss waits for the store. */
  private keyFor(
    structure: TokenStructure,
  ): DirectoryEntry | undefined | Promise<DirectoryEntry | undefined> {
    const kid = structure.lookup?.kid;
    if (kid === undefined) return undefined;
    const found = this.deps.directory.lookup(kid);
    return found instanceof Promise ? this.guard(() => found) : found;
  }

  /** The checks that need the key: key state, algorithm, signature, then the claims. */
  private finish(
    run: CheckRun,
    structure: TokenStructure,
    key: DirectoryEntry | undefined,
    now: UnixSeconds,
  ): VerifiedToken | undefined {
    const proven = checkWithKey(run, structure, key, now);
    if (run.failure && !run.report) return undefined;
    const claims = checkClaims(
      run,
      structure.jws.payload,
      proven ? key?.record : undefined,
      this.deps.policy,
      now,
    );
    if (!claims || !key || run.failure) return undefined;
    return { claims, key, iss: structure.jws.payload.iss as string };
  }

  /** Fails closed: when the store cannot answer, no token is accepted. */
  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw new UnavailableError(`The store is unavailable: ${(error as Error).message}`);
    }
  }
}

function replayRejection(binding: JtiBinding, singleUse: boolean) {
  if (binding === 'reused') return reject('jti_reused');
  if (binding === 'same-token' && singleUse) {
    return reject('jti_reused', {
      message: 'This organization accepts each token once, and this one was already used.',
      hint: 'Sign a new token with a fresh jti for every request.',
    });
  }
  return undefined;
}

function keyPrincipal(claims: CheckedClaims, key: DirectoryEntry): Principal {
  return {
    org_id: key.record.orgId,
    sub: claims.sub,
    role: claims.role,
    kid: key.record.id,
    method: 'key',
    expires_at: isoTime(claims.exp),
  };
}

function sessionPrincipal(claims: SessionClaims, kid: string): Principal {
  return {
    org_id: claims.orgId,
    sub: claims.sub,
    role: claims.role,
    kid,
    method: 'session',
    expires_at: isoTime(claims.exp),
  };
}
