import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { intakePublicKey } from '../../src/core/key-intake.ts';
import type { LoginThrottlePolicy, ThrottleLimits } from '../../src/core/login-throttle.ts';
import { ConflictError, type NewKey, type Store } from '../../src/store/store.ts';
import { NOW, rsaPair } from '../helpers.ts';
import { bindJti, ledgerContract } from './ledger-contract.ts';
import { auditContract } from './store-contract-audit.ts';
import { feedContract } from './store-contract-feed.ts';
import { keyContract } from './store-contract-keys.ts';
import { raceContract } from './store-contract-races.ts';
import { usageContract } from './store-contract-usage.ts';

/**
 * The behaviour every Store must have; run against each implementation on a real database.
 * `open` must return a new, empty store on every call: each test starts from nothing, so it can
 * assert exact counts, and a failing test leaves nothing behind for the next one. `openNodes`
 * returns several stores on one new, empty database, as several nodes would open it, for the
 * races; by default the one store of `open` races its own callers.
 */
export function storeContract(
  name: string,
  open: () => Promise<Store>,
  openNodes: () => Promise<Store[]> = async () => [await open()],
): void {
  keyContract(name, open);
  auditContract(name, open);
  feedContract(name, open, openNodes);
  raceContract(name, openNodes);
  usageContract(name, open, openNodes);
  ledgerContract(name, open, openNodes);
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
        ownerUserId: null,
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
        revokesAt: null,
        replacedBy: null,
        createdAt: NOW,
        lastUsedAt: null,
      });
      const afterInsert = await store.keyRevision();
      await assert.rejects(store.insertKey(input, NOW), ConflictError);
      assert.equal(await store.keyRevision(), afterInsert, 'a refused insert changes nothing');
      assert.deepEqual(await store.listKeys(org.id), [key]);
      assert.deepEqual(await store.keyChangesSince(0, 10), [
        { id: key.id, status: 'active', expiresAt: null, revokesAt: null, revision: afterInsert },
      ]);
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

    test('users: unique email, and revocation of every session on disable or new password', async () => {
      const org = await store.createOrg({ name: 'Accounts' }, NOW);
      const user = {
        id: randomUUID(),
        orgId: org.id,
        email: `u-${randomUUID()}@example.com`,
        screenName: 'U',
        role: 'user' as const,
        status: 'active' as const,
        passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
        createdAt: NOW,
      };
      await store.createUser(user);
      assert.deepEqual(await store.getUserByEmail(user.email), user);
      await assert.rejects(store.createUser({ ...user, id: randomUUID() }), ConflictError);
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

    /** Limits small enough to walk through; a side not under test is left out of reach. */
    const throttle = (limits: {
      perAddress?: ThrottleLimits;
      perAccount?: ThrottleLimits;
    }): LoginThrottlePolicy => {
      const unreachable = {
        windowSeconds: 3600,
        freeAttempts: 1000,
        baseDelaySeconds: 1,
        maxDelaySeconds: 1,
      };
      return {
        perAddress: limits.perAddress ?? unreachable,
        perAccount: limits.perAccount ?? unreachable,
        trustSeconds: 1000,
      };
    };
    const allowed = { allowed: true };
    const wait = (retryAfterSeconds: number) => ({ allowed: false, retryAfterSeconds });

    test('login attempts per address: free ones, then a doubling, capped wait; a refused attempt counts nothing; the window ends', async () => {
      const policy = throttle({
        perAddress: { windowSeconds: 3600, freeAttempts: 3, baseDelaySeconds: 10, maxDelaySeconds: 40 },
      });
      const reserve = (at: number, address = '192.0.2.1') =>
        store.reserveLoginAttempt('ali@example.com', address, at, policy);
      for (let i = 0; i < 3; i++) assert.deepEqual(await reserve(NOW), allowed);
      assert.deepEqual(await reserve(NOW), wait(10));
      assert.deepEqual(await reserve(NOW + 9), wait(1));
      assert.deepEqual(await reserve(NOW, '192.0.2.2'), allowed, 'another address has its own counter');
      assert.deepEqual(
        await store.reserveLoginAttempt('bo@example.com', '192.0.2.1', NOW, policy),
        allowed,
        'another name has its own counter',
      );
      assert.deepEqual(
        (await store.getLoginAttempts('ali@example.com', NOW)).map((r) => [r.address, r.attempts]),
        [
          [null, 4],
          ['192.0.2.1', 3],
          ['192.0.2.2', 1],
        ],
        'refused attempts counted nothing',
      );
      assert.deepEqual(await reserve(NOW + 10), allowed);
      assert.deepEqual(await reserve(NOW + 29), wait(1), 'the second wait is twice the first');
      assert.deepEqual(await reserve(NOW + 30), allowed);
      assert.deepEqual(await reserve(NOW + 69), wait(1));
      assert.deepEqual(await reserve(NOW + 70), allowed);
      assert.deepEqual(await reserve(NOW + 70), wait(40), 'capped');
      assert.deepEqual(await reserve(NOW + 3600), allowed, 'a new window starts from nothing');
      assert.deepEqual(await reserve(NOW + 3600), allowed);
    });

    test('login attempts per account: past the limit every address waits a short while, except those the account logged in from', async () => {
      const policy = throttle({
        perAccount: { windowSeconds: 600, freeAttempts: 3, baseDelaySeconds: 7, maxDelaySeconds: 7 },
      });
      const reserve = (address: string, at = NOW) =>
        store.reserveLoginAttempt('ali@example.com', address, at, policy);
      await store.settleLoginAttempt('ali@example.com', '192.0.2.99', NOW, policy);
      for (const address of ['192.0.2.1', '192.0.2.2', '192.0.2.3'])
        assert.deepEqual(await reserve(address), allowed);
      assert.deepEqual(await reserve('192.0.2.4'), wait(7));
      assert.deepEqual(await reserve('192.0.2.1', NOW + 6), wait(1));
      assert.deepEqual(await reserve('192.0.2.99'), allowed, 'a trusted address does not wait');
      assert.deepEqual(await reserve('192.0.2.4', NOW + 7), allowed, 'the wait is short and then over');
      assert.deepEqual(await reserve('192.0.2.5', NOW + 7), wait(7));
      assert.deepEqual(await reserve('192.0.2.5', NOW + 600), allowed, 'a new window starts from nothing');
      await store.settleLoginAttempt('ali@example.com', '192.0.2.5', NOW + 600, policy);
      assert.deepEqual(
        (await store.getLoginAttempts('ali@example.com', NOW + 600)).map((r) => [
          r.address,
          r.attempts,
          r.blockedUntil,
        ]),
        [
          ['192.0.2.5', 0, 0],
          ['192.0.2.99', 0, 0],
        ],
        'a success clears every counter of the name; what is left are the addresses it trusts',
      );
    });

    test('of concurrent login attempts exactly as many are allowed as the limits leave', async () => {
      const policy = throttle({
        perAddress: { windowSeconds: 3600, freeAttempts: 5, baseDelaySeconds: 60, maxDelaySeconds: 60 },
        perAccount: { windowSeconds: 3600, freeAttempts: 7, baseDelaySeconds: 60, maxDelaySeconds: 60 },
      });
      const oneAddress = await Promise.all(
        Array.from({ length: 20 }, () =>
          store.reserveLoginAttempt('a@example.com', '192.0.2.1', NOW, policy),
        ),
      );
      assert.deepEqual(oneAddress.filter((r) => r.allowed).length, 5);
      assert.ok(oneAddress.filter((r) => !r.allowed).every((r) => !r.allowed && r.retryAfterSeconds === 60));
      const manyAddresses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.reserveLoginAttempt('b@example.com', `192.0.2.${i + 1}`, NOW, policy),
        ),
      );
      assert.deepEqual(manyAddresses.filter((r) => r.allowed).length, 7);
      assert.equal((await store.getLoginAttempts('b@example.com', NOW))[0]?.attempts, 7);
    });

    test('login attempts: cleared by an unlock and by a new password, pruned when nothing is left', async () => {
      const policy = throttle({
        perAddress: { windowSeconds: 100, freeAttempts: 1, baseDelaySeconds: 50, maxDelaySeconds: 50 },
        perAccount: { windowSeconds: 100, freeAttempts: 1000, baseDelaySeconds: 1, maxDelaySeconds: 1 },
      });
      const org = await store.createOrg({ name: 'Throttle' }, NOW);
      const user = {
        id: randomUUID(),
        orgId: org.id,
        email: 'ali@example.com',
        screenName: 'Ali',
        role: 'user' as const,
        status: 'active' as const,
        passwordHash: 'old-hash',
        createdAt: NOW,
      };
      await store.createUser(user);
      const reserve = (name: string, address: string) =>
        store.reserveLoginAttempt(name, address, NOW, policy);
      await store.settleLoginAttempt('ali@example.com', '192.0.2.9', NOW, policy);
      await reserve('ali@example.com', '192.0.2.1');
      await reserve('bo@example.com', '192.0.2.1');
      assert.deepEqual(await reserve('ali@example.com', '192.0.2.1'), wait(50));
      await store.clearLoginAttempts('ali@example.com');
      assert.deepEqual(
        (await store.getLoginAttempts('ali@example.com', NOW)).map((r) => [
          r.address,
          r.attempts,
          r.trustedUntil,
        ]),
        [['192.0.2.9', 0, NOW + 1000]],
        'only the trusted address is left, still trusted',
      );
      assert.deepEqual(await reserve('ali@example.com', '192.0.2.1'), allowed);
      await store.setUserPassword(user.id, 'new-hash', NOW);
      assert.deepEqual(
        await reserve('ali@example.com', '192.0.2.1'),
        allowed,
        'a new password clears the waits',
      );
      assert.deepEqual(await reserve('bo@example.com', '192.0.2.1'), wait(50), 'of that name only');
      assert.equal(await store.pruneLoginAttempts(NOW + 99), 0, 'every window is still open');
      assert.equal(await store.pruneLoginAttempts(NOW + 100), 4);
      assert.deepEqual(
        (await store.getLoginAttempts('ali@example.com', NOW + 100)).map((r) => r.address),
        ['192.0.2.9'],
      );
      assert.equal(await store.pruneLoginAttempts(NOW + 1000), 1, 'trust ends too');
    });

    test('pruning removes only expired bindings', async () => {
      await bindJti(store, 'prune', 'old', 'h', NOW + 1, NOW);
      await bindJti(store, 'prune', 'new', 'h', NOW + 1000, NOW);
      assert.equal(await store.pruneJti(NOW + 1), 1);
      assert.equal(await store.pruneJti(NOW + 1), 0, 'nothing left to prune');
      assert.equal(await store.peekJti('prune', 'new', 'x', NOW + 2), 'reused');
    });
  });
}
