import type { KeyRecord, KeyStatus } from '../core/key-record.ts';
import type { UnixSeconds } from '../core/time.ts';

export interface Org {
  id: string;
  name: string;
  /** When set, a token is accepted once: presenting it again is jti_reused. */
  singleUseTokens: boolean;
  createdAt: UnixSeconds;
}

export type NewKey = Omit<KeyRecord, 'id' | 'status' | 'createdAt' | 'lastUsedAt'>;

/** What binding a (iss, jti) pair found: new, held by this same token, or held by another token. */
export type JtiBinding = 'bound' | 'same-token' | 'reused';

export type StatusChange =
  | { ok: true; key: KeyRecord }
  | { ok: false; reason: 'not_found' | 'revoked_is_final' };

/** Raised when a write would break a uniqueness rule; `field` names the input at fault. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

/**
 * Everything Keygate keeps. Every method is one atomic operation: it either happens entirely or
 * not at all, also when the process is killed half-way. Implementations: sqlite.ts (embedded) and,
 * for several nodes, a PostgreSQL one behind this same interface.
 */
export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  createOrg(input: { name: string; singleUseTokens?: boolean }, now: UnixSeconds): Promise<Org>;
  getOrg(id: string): Promise<Org | undefined>;
  listOrgs(): Promise<Org[]>;
  /** Fails with ConflictError when the org already has a key with the same thumbprint. */
  insertKey(key: NewKey, now: UnixSeconds): Promise<KeyRecord>;
  getKey(kid: string): Promise<KeyRecord | undefined>;
  listKeys(orgId: string): Promise<KeyRecord[]>;
  listKeyIds(): Promise<string[]>;
  /** Revocation is final: a revoked key can be neither enabled nor disabled. */
  setKeyStatus(kid: string, status: KeyStatus): Promise<StatusChange>;
  /** Records when keys were last used; a batch of best-effort bookkeeping, never on the hot path. */
  touchKeys(lastUsed: ReadonlyMap<string, UnixSeconds>): Promise<void>;
  /** A number that changes whenever any key is added or changes status, for cache invalidation. */
  keyRevision(): Promise<number>;
  /**
   * Binds (iss, jti) to `tokenHash` until `expiresAt`, atomically: of concurrent callers with
   * different tokens exactly one receives 'bound'. An expired binding is replaced.
   */
  bindJti(
    iss: string,
    jti: string,
    tokenHash: string,
    expiresAt: UnixSeconds,
    now: UnixSeconds,
  ): Promise<JtiBinding>;
  /** What bindJti would answer, without binding: for /auth/hello. */
  peekJti(iss: string, jti: string, tokenHash: string, now: UnixSeconds): Promise<JtiBinding>;
  pruneJti(now: UnixSeconds): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
