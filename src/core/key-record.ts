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
  createdAt: number;
  lastUsedAt: number | null;
}
