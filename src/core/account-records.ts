import type { Role } from './roles.ts';
import type { UnixSeconds } from './time.ts';

export type UserStatus = 'active' | 'disabled';

/** A person's account. `email` doubles as the user name and is stored normalised (user-name.ts). */
export interface UserRecord {
  id: string;
  orgId: string;
  email: string;
  screenName: string;
  role: Role;
  status: UserStatus;
  /** argon2id PHC string of the client's pass_hash; never the pass_hash itself. */
  passwordHash: string;
  createdAt: UnixSeconds;
}

export interface SessionRecord {
  id: string;
  userId: string;
  /** The role the session was issued with; the role it acts with is the user's current one. */
  role: Role;
  createdAt: UnixSeconds;
  lastSeenAt: UnixSeconds;
  expiresAt: UnixSeconds;
  revokedAt: UnixSeconds | null;
  revokedReason: string | null;
}

/** Keygate's own ES256 key for session tokens. */
export interface ServerKeyRecord {
  id: string;
  /**
   * The private half, sealed under the key-encryption key (KEYGATE_SECRET_FILE), never plaintext;
   * null once the key is retired, since nothing signs with a retired key.
   */
  sealedPrivateKey: string | null;
  publicJwk: string;
  status: 'active' | 'retired';
  createdAt: UnixSeconds;
  /** When a newer key replaced it; its public half verifies until its last session has ended. */
  retiredAt: UnixSeconds | null;
}
