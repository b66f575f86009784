import type { KeyFamily } from './algorithms.ts';
import type { Role } from './roles.ts';

export type KeyStatus = 'active' | 'disabled' | 'revoked';

/** A registered public key as the store keeps it. Times are whole seconds since the epoch. */
export interface KeyRecord {
  id: string;
  orgId: string;
  spkiPem: string;
  /** RFC 7638 JWK thumbprint, SHA-256, base64url. */
  thumbprint: string;
  family: KeyFamily;
  bits: number;
  status: KeyStatus;
  expiresAt: number | null;
  roles: Role[];
  defaultRole: Role;
  label: string | null;
  /** The user the key belongs to, or null for a key of the organization (DESIGN.md "Key ownership"). */
  ownerUserId: string | null;
  /** Set on a key being rotated out: from this time it is revoked, by itself. */
  revokesAt: number | null;
  /** The key that replaced this one in a rotation. */
  replacedBy: string | null;
  createdAt: number;
  lastUsedAt: number | null;
}
