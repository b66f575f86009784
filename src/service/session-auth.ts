import type { UserRecord } from '../core/account-records.ts';
import type { VerificationPolicy } from '../core/policy.ts';
import {
  type SessionClaims,
  type SessionEnv,
  sessionKid,
  verifySessionToken,
} from '../core/session-token.ts';
import { isoTime, type UnixSeconds } from '../core/time.ts';
import type { CompactJws } from '../core/token-format.ts';
import { AuthError } from './auth-error.ts';
import type { BearerText } from './bearer-text.ts';
import type { Principal } from './principal.ts';
import type { ServerKeyring } from './server-keyring.ts';
import type { Sessions } from './sessions.ts';
import { TokenMap } from './token-map.ts';

export interface SessionAuthDeps {
  sessions: Pick<Sessions, 'checkSession'>;
  keyring: Pick<ServerKeyring, 'verifier'>;
  policy: VerificationPolicy;
  /** Session tokens whose signature verified, remembered by hash (KEYGATE_TOKEN_CACHE_ENTRIES). */
  signedSessionEntries: number;
}

/**
 * Session tokens for the Authenticator: the session-token checks (core) against the server's
 * keys, then the session's state in the store, which names the user the token acts as.
 */
export class SessionAuth {
  private readonly deps: SessionAuthDeps;
  /**
   * Session tokens whose signature and claims verified, by token hash: a client sends its session
   * token on every request, and its ES256 check was most of a session request's cost. A hit
   * skips only that: the expiry and the server key are checked again, and the session's state is
   * still read from the store every time.
   */
  private readonly signedSessions: TokenMap<{ claims: SessionClaims; kid: string }>;

  constructor(deps: SessionAuthDeps) {
    this.deps = deps;
    this.signedSessions = new TokenMap(deps.signedSessionEntries);
  }

  /** Session tokens remembered as verified; at most KEYGATE_TOKEN_CACHE_ENTRIES. */
  get rememberedSize(): number {
    return this.signedSessions.size;
  }

  /** The principal of a session token whose signature verified before; undefined when there is none. */
  remembered(token: BearerText, now: UnixSeconds): Promise<Principal> | undefined {
    const session = this.signedSessions.get(token);
    if (!session) return undefined;
    if (session.claims.exp > now - this.deps.policy.leewaySeconds && this.deps.keyring.verifier(session.kid))
      return this.principalNow(session.claims, session.kid, now);
    this.signedSessions.delete(token);
    return undefined;
  }

  async authenticate(jws: CompactJws, token: BearerText, now: UnixSeconds): Promise<Principal> {
    const verified = verifySessionToken(jws, this.env(jws, now));
    if (!verified.ok) throw new AuthError(verified.rejection);
    const kid = String(jws.header.kid);
    this.signedSessions.set(token, { claims: verified.claims, kid });
    return this.principalNow(verified.claims, kid, now);
  }

  /** Session-token checks, then the session's state in the store, which names the user it acts as. */
  async check(jws: CompactJws, now: UnixSeconds): Promise<{ claims: SessionClaims; user: UserRecord }> {
    const verified = verifySessionToken(jws, this.env(jws, now));
    if (!verified.ok) throw new AuthError(verified.rejection);
    const state = await this.deps.sessions.checkSession(verified.claims, now, false);
    if (!state.ok) throw new AuthError(state.rejection);
    return { claims: verified.claims, user: state.value };
  }

  env(jws: CompactJws, now: UnixSeconds): SessionEnv {
    const kid = sessionKid(jws);
    return {
      key: kid === undefined ? undefined : this.deps.keyring.verifier(kid),
      policy: this.deps.policy,
      now,
    };
  }

  /** The session's state in the store, read on every request: a logout or a disabled user ends it at once. */
  private async principalNow(claims: SessionClaims, kid: string, now: UnixSeconds): Promise<Principal> {
    const state = await this.deps.sessions.checkSession(claims, now, true);
    if (!state.ok) throw new AuthError(state.rejection);
    return sessionPrincipal(claims, state.value, kid);
  }
}

/** Who a session acts as: its user as the store has them now, never the token's say-so. */
export function sessionPrincipal(claims: SessionClaims, user: UserRecord, kid: string): Principal {
  return {
    org_id: user.orgId,
    sub: user.id,
    role: user.role,
    kid,
    method: 'session',
    expires_at: isoTime(claims.exp),
  };
}
