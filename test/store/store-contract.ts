import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { intakePublicKey } from '../../src/core/key-intake.ts';
import { ConflictError, type NewKey, type Store } from '../../src/store/store.ts';
import { NOW, rsaPair } from '../helpers.ts';

/**
 * The behaviour every Store must have; run against each implementation on a real database.
 * `open` must return a new, empty store on every call: each test starts from nothing, so it can
 * assert exact counts, and a failing test leaves nothing behind for the next one.
 */
export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`${name} store contract`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(() => store.close());

    const newKey = (orgId: string): NewKey => {
      const key = intakePublicKey(rsaPair(2048).publicPem);
      return {
        orgId,
        spkiPem: key.spkiPem,
        thumbprint: key.thumbprint,
        family: key.family,
        bits: key.bits,
        expiresAt: null,
        roles: ['user', 'service'],
        defaultRole: 'user',
        label: 'ci',
      };
    };

    test('organizations round-trip', async () => {
      const org = await store.createOrg({ name: 'Acme' }, NOW);
      assert.deepEqual(await store.getOrg(org.id), {
        id: org.id,
        name: 'Acme',
        singleUseTokens: false,
        createdAt: NOW,
      });
      assert.deepEqual(await store.listOrgs(), [org]);
      assert.equal(await store.getOrg('00000000-0000-4000-8000-000000000000'), undefined);
    });

    test('keys round-trip; a duplicate thumbprint is a conflict that writes nothing', async () => {
      const org = await store.createOrg({ name: 'Keys' }, NOW);
      const input = newKey(org.id);
      const revision = await store.keyRevision();
      const key = await store.insertKey(input, NOW);
      assert.ok((await store.keyRevision()) > revision);
      assert.deepEqual(await store.getKey(key.id), {
        ...input,
        id: key.id,
        status: 'active',
        createdAt: NOW,
        lastUsedAt: null,
      });
      const afterInsert = await store.keyRevision();
      await assert.rejects(store.insertKey(input, NOW), ConflictError);
      assert.equal(await store.keyRevision(), afterInsert, 'a refused insert changes nothing');
      assert.deepEqual(await store.listKeys(org.id), [key]);
      assert.deepEqual(await store.listKeyStates(), [{ id: key.id, status: 'active', expiresAt: null }]);
      assert.equal(await store.getKey('00000000-0000-4000-8000-000000000000'), undefined);
      const other = await store.createOrg({ name: 'Other' }, NOW);
      await assert.rejects(store.insertKey({ ...input, orgId: other.id }, NOW), ConflictError);
      assert.deepEqual(await store.listKeys(other.id), []);
    });

    test('one key pair, one organization: in the same org or another, revoked or not, it is refused', async () => {
      const first = await store.createOrg({ name: 'First' }, NOW);
      const second = await store.createOrg({ name: 'Second' }, NOW);
      const input = newKey(first.id);
      const key = await store.insertKey(input, NOW);
      const refusal = async (orgId: string) => {
        try {
          await store.insertKey({ ...input, orgId }, NOW);
        } catch (error) {
          assert.ok(error instanceof ConflictError);
          return { field: error.field, message: error.message, hint: error.hint };
        }
        assert.fail('the insert was accepted');
      };
      assert.deepEqual(await refusal(first.id), {
        field: 'public_key',
        message: 'This organization has already registered this public key.',
        hint: undefined,
      });
      const elsewhere = {
        field: 'public_key',
        message:
          'This public key is registered to another organization. Make a new key pair for each organization: a key pair belongs to one organization only.',
        hint: 'Make one with "keygate keygen --out new.key" and register new.key.pub.',
      };
      assert.deepEqual(await refusal(second.id), elsewhere);
      await store.setKeyStatus(key.id, 'revoked');
      assert.deepEqual(await refusal(second.id), elsewhere, 'a revoked key pair is not free for reuse');
      assert.deepEqual(await store.listKeys(second.id), []);
    });

    test('of concurrent registrations of one key pair in different orgs, exactly one succeeds', async () => {
      const orgs = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.createOrg({ name: `Race ${i}` }, NOW)),
      );
      const input = newKey(orgs[0]?.id as string);
      const results = await Promise.allSettled(
        orgs.map((org) => store.insertKey({ ...input, orgId: org.id }, NOW)),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      assert.ok(
        results.every((r) => r.status === 'fulfilled' || r.reason instanceof ConflictError),
        'the others are conflicts',
      );
    });

    test('status changes bump the revision; revocation is final', async () => {
      const org = await store.createOrg({ name: 'Status' }, NOW);
      const key = await store.insertKey(newKey(org.id), NOW);
      const r0 = await store.keyRevision();
      assert.deepEqual(await store.setKeyStatus(key.id, 'disabled'), {
        ok: true,
        key: { ...key, status: 'disabled' },
      });
      assert.ok((await store.keyRevision()) > r0);
      assert.deepEqual(await store.setKeyStatus(key.id, 'active'), { ok: true, key });
      assert.deepEqual(await store.setKeyStatus(key.id, 'revoked'), {
        ok: true,
        key: { ...key, status: 'revoked' },
      });
      assert.deepEqual(await store.setKeyStatus(key.id, 'active'), { ok: false, reason: 'revoked_is_final' });
      assert.deepEqual(await store.setKeyStatus(key.id, 'disabled'), {
        ok: false,
        reason: 'revoked_is_final',
      });
      assert.equal((await store.getKey(key.id))?.status, 'revoked');
      assert.deepEqual(await store.setKeyStatus('nope', 'revoked'), { ok: false, reason: 'not_found' });
    });

    test('last-used times only move forward', async () => {
      const org = await store.createOrg({ name: 'Touch' }, NOW);
      const key = await store.insertKey(newKey(org.id), NOW);
      await store.touchKeys(new Map([[key.id, NOW + 10]]));
      await store.touchKeys(new Map([[key.id, NOW + 5]]));
      assert.equal((await store.getKey(key.id))?.lastUsedAt, NOW + 10);
    });

    test('a jti binds to one token until it expires', async () => {
      assert.equal(await store.bindJti('org', 'j1', 'hashA', NOW + 100, NOW), 'bound');
      assert.equal(await store.bindJti('org', 'j1', 'hashA', NOW + 100, NOW), 'same-token');
      assert.equal(await store.bindJti('org', 'j1', 'hashB', NOW + 100, NOW), 'reused');
      assert.equal(await store.bindJti('other-org', 'j1', 'hashB', NOW + 100, NOW), 'bound');
      assert.equal(await store.peekJti('org', 'j1', 'hashB', NOW), 'reused');
      assert.equal(await store.peekJti('org', 'j2', 'hashB', NOW), 'bound');
      assert.equal(await store.peekJti('org', 'j2', 'hashB', NOW), 'bound', 'peek binds nothing');
      assert.equal(
        await store.bindJti('org', 'j1', 'hashB', NOW + 300, NOW + 100),
        'bound',
        'an expired binding is replaced',
      );
      assert.equal(await store.bindJti('org', 'j1', 'hashA', NOW + 300, NOW + 100), 'reused');
    });

    test('of concurrent binds of one jti by different tokens, exactly one wins', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.bindJti('race', 'jti', `hash${i}`, NOW + 100, NOW)),
      );
      assert.equal(results.filter((r) => r === 'bound').length, 1);
      assert.equal(results.filter((r) => r === 'reused').length, 19);
    });

    test('users: unique email, atomic failure counting, and revocation of every session on disable or new password', async () => {
      const org = await store.createOrg({ name: 'Accounts' }, NOW);
      const user = {
        id: randomUUID(),
        orgId: org.id,
        email: `u-${randomUUID()}@example.com`,
        screenName: 'U',
        role: 'user' as const,
        status: 'active' as const,
        passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
        failedLogins: 0,
        lockedUntil: null,
        createdAt: NOW,
      };
      await store.createUser(user);
      assert.deepEqual(await store.getUserByEmail(user.email), user);
      await assert.rejects(store.createUser({ ...user, id: randomUUID() }), ConflictError);
      await Promise.all(
        Array.from({ length: 10 }, () => store.recordLoginFailure(user.id, (n) => (n >= 5 ? NOW + n : null))),
      );
      assert.deepEqual(
        {
          failures: (await store.getUser(user.id))?.failedLogins,
          lock: (await store.getUser(user.id))?.lockedUntil,
        },
        { failures: 10, lock: NOW + 10 },
      );
      await store.resetLoginFailures(user.id);
      assert.equal((await store.getUser(user.id))?.lockedUntil, null);
      const session = (id: string) => ({
        id,
        userId: user.id,
        role: 'user' as const,
        createdAt: NOW,
        lastSeenAt: NOW,
        expiresAt: NOW + 100,
        revokedAt: null,
        revokedReason: null,
      });
      await store.createSession(session('s1'));
      assert.deepEqual(await store.getSession('s1'), session('s1'));
      await store.createSession(session('s2'));
      await store.setUserStatus(user.id, 'disabled', NOW + 1);
      for (const id of ['s1', 's2'])
        assert.equal((await store.getSession(id))?.revokedReason, 'user_disabled');
      await store.setUserStatus(user.id, 'active', NOW + 2);
      await store.createSession(session('s3'));
      await store.setUserPassword(user.id, 'new-hash', NOW + 3);
      assert.equal((await store.getSession('s3'))?.revokedReason, 'password_changed');
      assert.equal(await store.revokeSession('s3', NOW + 4, 'logout'), false, 'already revoked');
      await store.createSession(session('s4'));
      await store.touchSession('s4', NOW + 50);
      await store.touchSession('s4', NOW + 10);
      assert.equal((await store.getSession('s4'))?.lastSeenAt, NOW + 50);
      assert.equal(await store.revokeSession('s4', NOW + 60, 'logout'), true);
      assert.equal(await store.pruneSessions(NOW + 99), 0, 'no session has ended yet');
      assert.equal(await store.pruneSessions(NOW + 100), 4);
      assert.equal(await store.getSession('s4'), undefined);
    });

    const serverKey = (id: string, createdAt: number) => ({
      id,
      sealedPrivateKey: `sealed-${id}`,
      publicJwk: '{}',
      status: 'active' as const,
      createdAt,
      retiredAt: null,
    });

    test('server keys: rotation leaves exactly one active key; onlyIfNone never adds a second', async () => {
      const first = serverKey(`k-${randomUUID()}`, NOW);
      const second = serverKey(`k-${randomUUID()}`, NOW + 1);
      await store.rotateServerKey(first, { onlyIfNone: true });
      await store.rotateServerKey(second);
      await store.rotateServerKey(serverKey(`k-${randomUUID()}`, NOW + 2), { onlyIfNone: true });
      assert.deepEqual(await store.listServerKeys(), [
        { ...first, status: 'retired', retiredAt: NOW + 1, sealedPrivateKey: null },
        second,
      ]);
    });

    test('server keys: a re-seal writes only over the value it read; retired keys go once their window ends', async () => {
      const first = serverKey('k-1', NOW);
      await store.rotateServerKey(first);
      assert.equal(await store.resealServerKey('k-1', 'stale', 'x'), false, 'compare and set');
      assert.equal(await store.resealServerKey('k-1', first.sealedPrivateKey, 'resealed'), true);
      assert.equal(await store.resealServerKey('k-1', first.sealedPrivateKey, 'again'), false);
      assert.equal((await store.listServerKeys())[0]?.sealedPrivateKey, 'resealed');
      await store.rotateServerKey(serverKey('k-2', NOW + 10));
      assert.equal(await store.deleteRetiredServerKeys(NOW + 9), 0, 'retired at NOW + 10');
      assert.equal(await store.deleteRetiredServerKeys(NOW + 10), 1);
      assert.deepEqual(
        (await store.listServerKeys()).map((k) => k.id),
        ['k-2'],
        'the active key is never deleted',
      );
      assert.equal(await store.deleteRetiredServerKeys(NOW + 1_000_000), 0);
    });

    test('pruning removes only expired bindings', async () => {
      await store.bindJti('prune', 'old', 'h', NOW + 1, NOW);
      await store.bindJti('prune', 'new', 'h', NOW + 1000, NOW);
      assert.equal(await store.pruneJti(NOW + 1), 1);
      assert.equal(await store.pruneJti(NOW + 1), 0, 'nothing left to prune');
      assert.equal(await store.peekJti('prune', 'new', 'x', NOW + 2), 'reused');
    });
  });
}
