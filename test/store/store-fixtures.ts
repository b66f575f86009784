import { randomUUID } from 'node:crypto';
import type { SessionRecord, UserRecord } from '../../src/core/account-records.ts';
import { intakePublicKey } from '../../src/core/key-intake.ts';
import type { NewKey } from '../../src/store/store.ts';
import { ecPair, NOW } from '../helpers.ts';

/** A key of the organization, or of `ownerUserId`; P-256, cheap to make by the dozen. */
export function keyInput(orgId: string, ownerUserId: string | null = null): NewKey {
  const key = intakePublicKey(ecPair().publicPem);
  return {
    orgId,
    spkiPem: key.spkiPem,
    thumbprint: key.thumbprint,
    family: key.family,
    bits: key.bits,
    expiresAt: null,
    roles: ['user'],
    defaultRole: 'user',
    label: null,
    ownerUserId,
  };
}

export function userInput(orgId: string, createdAt = NOW): UserRecord {
  return {
    id: randomUUID(),
    orgId,
    email: `u-${randomUUID()}@example.com`,
    screenName: 'U',
    role: 'user',
    status: 'active',
    passwordHash: 'hash',
    createdAt,
  };
}

export function sessionInput(userId: string): SessionRecord {
  return {
    id: randomUUID(),
    userId,
    role: 'user',
    createdAt: NOW,
    lastSeenAt: NOW,
    expiresAt: NOW + 100,
    revokedAt: null,
    revokedReason: null,
  };
}

export function serverKeyInput(createdAt = NOW) {
  const id = `k-${randomUUID()}`;
  return {
    id,
    sealedPrivateKey: `sealed-${id}`,
    publicJwk: '{}',
    status: 'active' as const,
    createdAt,
    retiredAt: null,
  };
}
