import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkOwner, checkOwnerRole, grantableRoles, type KeyOwner } from '../../src/core/key-owner.ts';
import type { KeyRecord } from '../../src/core/key-record.ts';
import { ROLES } from '../../src/core/roles.ts';

const OWNER: KeyOwner = { id: 'u-1', email: 'ali@example.com', status: 'active', role: 'user' };

function key(ownerUserId: string | null): KeyRecord {
  return {
    id: 'k',
    orgId: 'o',
    spkiPem: '',
    thumbprint: 't',
    family: 'ec-p256',
    bits: 256,
    status: 'active',
    expiresAt: null,
    roles: ['user'],
    defaultRole: 'user',
    label: null,
    ownerUserId,
    revokesAt: null,
    replacedBy: null,
    createdAt: 0,
    lastUsedAt: null,
  };
}

const codeOf = (outcome: ReturnType<typeof checkOwner>) => (outcome.ok ? 'ok' : outcome.rejection.code);

test('an organization key signs for any sub, whoever is passed as owner', () => {
  assert.equal(codeOf(checkOwner('anyone', key(null), undefined)), 'ok');
  assert.equal(codeOf(checkOwner('anyone', key(null), OWNER)), 'ok');
});

test("a user's key signs only for its owner, and only while the owner is active and exists", () => {
  assert.equal(codeOf(checkOwner('u-1', key('u-1'), OWNER)), 'ok');
  assert.equal(codeOf(checkOwner('u-2', key('u-1'), OWNER)), 'sub_not_permitted');
  assert.equal(codeOf(checkOwner('u-1', key('u-1'), { ...OWNER, status: 'disabled' })), 'key_disabled');
  assert.equal(codeOf(checkOwner('u-1', key('u-1'), undefined)), 'key_disabled');
  // An owner record that is not the key's owner is treated as a missing one, never trusted.
  assert.equal(codeOf(checkOwner('u-9', key('u-1'), { ...OWNER, id: 'u-9' })), 'key_disabled');
  const refused = checkOwner('mallory', key('u-1'), OWNER);
  assert.ok(!refused.ok);
  assert.equal(refused.rejection.expected, 'u-1');
  assert.equal(refused.rejection.actual, 'mallory');
});

test('an admin may grant any role; anyone else only the role they hold', () => {
  assert.deepEqual(grantableRoles('admin'), ROLES);
  for (const role of ['user', 'device', 'service'] as const) assert.deepEqual(grantableRoles(role), [role]);
});

test("a demoted owner's key loses the roles the owner may no longer grant", () => {
  assert.equal(checkOwnerRole('admin', { ...OWNER, role: 'admin' }), undefined);
  assert.equal(checkOwnerRole('user', OWNER), undefined);
  const refused = checkOwnerRole('admin', OWNER);
  assert.ok(refused && !refused.ok);
  assert.equal(refused.rejection.code, 'role_not_permitted');
  assert.equal(checkOwnerRole('admin', undefined), undefined, 'an organization key has no owner ceiling');
});
