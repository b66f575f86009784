import type { Role } from './roles.ts';
import type { UnixSeconds } from './time.ts';

export type UserStatus = 'active' | 'disabled';

/** A person's account. `email` is stored lower-case and doubles as the user name. */
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
  createdAt: UnixSeconds;
  lastSeenAt: UnixSeconds;
  expiresAt: UnixSeconds;
  revokedAt: UnixSeconds | null;
  revokedReason: string | null;
}

/** Keygate's own ES256 key for session tokens. */
export interface ServerKeyRecord {
  id: string;
  privatePem: string;
  publicJwk: string;
  status: 'active' | 'retired';
  createdAt: UnixSeconds;
}
