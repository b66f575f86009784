import { type CheckRun, fail, type Outcome, pass } from '../core/check-run.ts';
import { kidToLookUp } from '../core/header-checks.ts';
import { type KeyPairClaims, verifyKeyPairToken } from '../core/key-pair-token.ts';
import type { VerificationPolicy } from '../core/policy.ts';
import { reject } from '../core/reason-codes.ts';
import { plannedSignature, type SignatureWork } from '../core/signature-work.ts';
import { type Clock, isoTime, type UnixSeconds } from '../core/time.ts';
import type { CompactJws } from '../core/token-format.ts';
import type { JtiBinding, Store } from '../store/store.ts';
import { AuthError, Refused } from './auth-error.ts';
import type { BearerText } from './bearer-text.ts';
import type { DirectoryEntry, KeyDirectory } from './key-directory.ts';
import { readKeyOwner } from './key-owners.ts';
import type { Metrics } from './metrics.ts';
import type { Principal } from './principal.ts';
import { ReplayLedger } from './replay-ledger.ts';
import type { TokenCache } from './token-cache.ts';
import { TurnSignatures } from './turn-signatures.ts';

/** A key-pair token that passed every check but the replay ledger. */
export type VerifiedKeyPair = KeyPairClaims<DirectoryEntry>;

export interface KeyPairAuthDeps {
  store: Pick<Store, 'getUser'>;
  directory: KeyDirectory;
  policy: VerificationPolicy;
  clock: Clock;
  /** Where an accepted token is remembered, for the Authenticator's fast path. */
  cache: TokenCache;
  metrics: Metrics;
  /** Where the replay ledger binds jtis: Redis when configured, else the store. */
  ledgerStore: Pick<Store, 'bindJtis'>;
  /** Server processes sharing this machine's cores (TurnSignatures, which takes 1 if unset). */
  serverProcesses?: number;
}

/**
 * Key-pair tokens for the Authenticator: the key its kid names, the token's check pipeline
 * (core), then the replay ledger, which binds the jti.
 */
export class KeyPairAuth {
  private readonly deps: KeyPairAuthDeps;
  private readonly ledger: ReplayLedger;
  private readonly signatures: TurnSignatures;

  constructor(deps: KeyPairAuthDeps) {
    this.deps = deps;
    this.signatures = new TurnSignatures({ serverProcesses: deps.serverProcesses });
    this.ledger = new ReplayLedger(deps.ledgerStore, deps.clock);
  }

  /**
   * A key-pair token decided: a refusal that memory alone decides is returned at once, not
   * thrown (a kid no key has, a key that may not sign, a claim or a signature that fails). A
   * flood of bad tokens then costs no promise, no rejection and no turn of the microtask queue
   * each (the unknown-kid flood's CPU per request, measured). The rest is a promise: a key or its
   * owner read from the store, and every signature, checked with the turn's others at its end
   * (TurnSignatures), just before the replay ledger commits the turn's accepted tokens.
   * `started` (performance.now()) times the decision for /metrics.
   */
  decide(
    jws: CompactJws,
    run: CheckRun,
    token: BearerText,
    now: UnixSeconds,
    started: number,
  ): Refused | Promise<Principal> {
    const verified = this.verifySoon(jws, run, now, true);
    if (verified instanceof Refused) {
      this.countRefusal(verified, started);
      return verified;
    }
    if (!(verified instanceof Promise)) return this.bind(verified, token, now, started);
    return verified.then(
      (claims) => this.bind(claims, token, now, started),
      (error: unknown) => {
        this.countRefusal(error, started);
        throw error;
      },
    );
  }

  /**
   * Every check of a key-pair token but the replay ledger, stopping at the first failure: on
   * this turn of the event loop when the key is in memory (or known absent) and has no owner to
   * read; otherwise a promise, whose signature is verified at the turn's end with the turn's
   * others (TurnSignatures). With `turnEnd` (a request's token, whose answer waits for the turn's
   * end anyway) a key in memory is no exception, so such a token is a promise too; one refused
   * before its signature is not. A refusal decided at once is returned, not thrown.
   */
  verifySoon(
    jws: CompactJws,
    run: CheckRun,
    now: UnixSeconds,
    turnEnd = false,
  ): VerifiedKeyPair | Refused | Promise<VerifiedKeyPair> {
    const found = this.keyFor(jws);
    if (found instanceof Promise || found?.record.ownerUserId) return this.verifyWith(jws, found, now, run);
    const work = turnEnd && found ? plannedSignature(jws.header, found, jws) : undefined;
    if (work) return this.verifyWith(jws, found, now, run, work);
    const verified = verifyKeyPairToken<DirectoryEntry>(
      jws,
      { key: found, policy: this.deps.policy, now },
      run,
    );
    return verified.ok ? verified.claims : new Refused(verified.rejection, found?.record.id);
  }

  /** The replay ledger binds a verified token's jti; accepted, it is counted and may be cached. */
  private async bind(
    verified: VerifiedKeyPair,
    token: BearerText,
    now: UnixSeconds,
    started: number,
  ): Promise<Principal> {
    try {
      const binding = await this.ledger.bind({
        iss: verified.iss,
        jti: verified.jti,
        tokenHash: token.hash,
        expiresAt: verified.exp + this.deps.policy.leewaySeconds,
      });
      const replay = replayOutcome(binding, verified.key.singleUseTokens);
      if (!replay.ok) throw new AuthError(replay.rejection, verified.key.record.id);
      const principal = keyPrincipal(verified);
      // Admitted on its second use: see TokenCache.
      if (binding === 'same-token' && !verified.key.singleUseTokens)
        this.deps.cache.set(token, { principal, kid: verified.key.record.id, exp: verified.exp });
      this.deps.directory.noteAccepted(verified.key.record.id, now);
      this.deps.metrics.decided('key', 'accepted', (performance.now() - started) / 1000);
      return principal;
    } catch (error) {
      this.countRefusal(error, started);
      throw error;
    }
  }

  /**
   * The key-pair checks that wait for something: the key or its owner from the store, and the
   * signature check at the turn's end (`planned`, or planned here once the key is known).
   */
  private async verifyWith(
    jws: CompactJws,
    found: ReturnType<KeyPairAuth['keyFor']>,
    now: UnixSeconds,
    run: CheckRun,
    planned?: SignatureWork,
  ): Promise<VerifiedKeyPair> {
    const key = found instanceof Promise ? await found : found;
    const owner = key?.record.ownerUserId
      ? await readKeyOwner(this.deps.store, key.record.ownerUserId)
      : undefined;
    const work = planned ?? (key ? plannedSignature(jws.header, key, jws) : undefined);
    const verdict = work && (await this.signatures.verify(work));
    const verified = verifyKeyPairToken<DirectoryEntry>(
      jws,
      { key, owner, verdict, policy: this.deps.policy, now },
      run,
    );
    if (!verified.ok) throw new AuthError(verified.rejection, key?.record.id);
    return verified.claims;
  }

  /** The registered key a key-pair token names: from memory, or (awaited only then) the store. */
  keyFor(jws: CompactJws | undefined): DirectoryEntry | undefined | Promise<DirectoryEntry | undefined> {
    const kid = jws && kidToLookUp(jws.header, jws.payload);
    if (kid === undefined) return undefined;
    const found = this.deps.directory.lookup(kid);
    // A hit is an answer from memory (the key, or that there is none); a miss waited for the store.
    if (found instanceof Promise) this.deps.metrics.keyLookups.miss++;
    else this.deps.metrics.keyLookups.hit++;
    return found;
  }

  /**
   * A refusal counts in /metrics by its reason, and toward its key's usage only when its kid
   * named a stored key: an unknown kid is counted in no key's, so what a flood of made-up kids can
   * grow stays bounded. Anything but a refusal (a store outage) is no decision.
   */
  private countRefusal(error: unknown, started: number): void {
    if (!(error instanceof AuthError || error instanceof Refused)) return;
    this.deps.metrics.decided('key', error.rejection.code, (performance.now() - started) / 1000);
    if (error.kid !== undefined) this.deps.directory.noteRefused(error.kid, error.rejection.code);
  }
}

export function replayOutcome(binding: JtiBinding, singleUse: boolean): Outcome<true> {
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

export function keyPrincipal(verified: VerifiedKeyPair): Principal {
  return {
    org_id: verified.key.record.orgId,
    sub: verified.sub,
    role: verified.role,
    kid: verified.key.record.id,
    method: 'key',
    expires_at: isoTime(verified.exp),
  };
}
