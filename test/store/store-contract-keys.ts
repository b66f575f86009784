import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { KeyCapError, type Store } from '../../src/store/store.ts';
import { NOW } from '../helpers.ts';
import { keyInput, sessionInput, userInput } from './store-fixtures.ts';

/** Caps, rotation and accounts: the part of the contract storeContract runs after its own. */
export function keyContract(name: string, open: () => Promise<Store>): void {
  describe(`${name} store contract: keys and accounts`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(() => store.close());

    const capRefusal = async (insert: Promise<unknown>) => {
      try {
        await insert;
      } catch (error) {
        assert.ok(error instanceof KeyCapError);
        return { scope: error.scope, limit: error.limit };
      }
      assert.fail('the insert was accepted');
    };

    test('caps: live keys per organization and per owner; revoked and rotated-out keys free their place', async () => {
      const org = await store.createOrg({ name: 'Caps' }, NOW);
      const user = await store.createUser(userInput(org.id));
      const caps = { perOrg: 3, perOwner: 1 };
      const owned = await store.insertKey(keyInput(org.id, user.id), NOW, caps);
      const revision = await store.keyRevision();
      assert.deepEqual(await capRefusal(store.insertKey(keyInput(org.id, user.id), NOW, caps)), {
        scope: 'owner',
        limit: 1,
      });
      assert.equal(await store.keyRevision(), revision, 'a refused insert changes nothing');
      const first = await store.insertKey(keyInput(org.id), NOW, caps);
      await store.insertKey(keyInput(org.id), NOW, caps);
      assert.deepEqual(await capRefusal(store.insertKey(keyInput(org.id), NOW, caps)), {
        scope: 'org',
        limit: 3,
      });
      await store.setKeyStatus(first.id, 'revoked');
      await store.insertKey(keyInput(org.id), NOW, caps);
      await store.rotateKey(owned.id, keyInput(org.id, user.id), NOW + 60, NOW + 1, caps);
      assert.deepEqual(
        (await store.listKeysByOwner(user.id)).map((key) => key.revokesAt),
        [NOW + 60, null],
        "the owner's keys, oldest first: the rotated one and its replacement",
      );
      await store.insertKey(keyInput(org.id), NOW, undefined);
      assert.equal((await store.listKeys(org.id)).length, 6, 'without caps nothing is counted');
    });

    test('rotation: an active key is replaced once, and revoked by itself when its grace ends', async () => {
      const org = await store.createOrg({ name: 'Rotation' }, NOW);
      const old = await store.insertKey(keyInput(org.id), NOW);
      const revision = await store.keyRevision();
      const rotated = await store.rotateKey(old.id, keyInput(org.id), NOW + 300, NOW + 1, {
        perOrg: 1,
        perOwner: 1,
      });
      assert.ok(rotated.ok);
      assert.deepEqual(rotated.old, { ...old, revokesAt: NOW + 300, replacedBy: rotated.key.id });
      assert.deepEqual(await store.getKey(rotated.key.id), rotated.key);
      assert.equal(rotated.key.createdAt, NOW + 1);
      assert.ok((await store.keyRevision()) > revision);
      const again = () => store.rotateKey(old.id, keyInput(org.id), NOW + 300, NOW + 2);
      assert.deepEqual(await again(), { ok: false, reason: 'already_rotated' });
      assert.deepEqual(await store.rotateKey('nope', keyInput(org.id), NOW, NOW), {
        ok: false,
        reason: 'not_found',
      });
      const disabled = await store.insertKey(keyInput(org.id), NOW);
      await store.setKeyStatus(disabled.id, 'disabled');
      assert.deepEqual(await store.rotateKey(disabled.id, keyInput(org.id), NOW, NOW), {
        ok: false,
        reason: 'not_active',
      });
      assert.equal(await store.revokeDueKeys(NOW + 299), 0);
      const beforeDue = await store.keyRevision();
      assert.equal(await store.revokeDueKeys(NOW + 300), 1);
      assert.ok((await store.keyRevision()) > beforeDue);
      assert.equal((await store.getKey(old.id))?.status, 'revoked');
      assert.equal(await store.revokeDueKeys(NOW + 1000), 0, 'once');
      assert.deepEqual(await again(), { ok: false, reason: 'not_active' });
    });

    test('users: listed by organization in creation order; a stronger hash keeps the sessions', async () => {
      const org = await store.createOrg({ name: 'People' }, NOW);
      const other = await store.createOrg({ name: 'Others' }, NOW);
      const later = await store.createUser(userInput(org.id, NOW + 1));
      const earlier = await store.createUser(userInput(org.id, NOW));
      await store.createUser(userInput(other.id));
      assert.deepEqual(await store.listUsers(org.id), [earlier, later]);
      assert.deepEqual(await store.getUser(later.id), later);
      assert.equal(await store.getUser('nobody'), undefined);
      const session = sessionInput(later.id);
      await store.createSession(session);
      await store.upgradePasswordHash(later.id, 'stronger');
      assert.equal((await store.getUser(later.id))?.passwordHash, 'stronger');
      assert.deepEqual(await store.getSession(session.id), session);
      assert.equal(await store.setUserStatus('nobody', 'disabled', NOW), undefined);
      assert.equal(await store.setUserPassword('nobody', 'x', NOW), undefined);
      assert.deepEqual(await store.setUserStatus(later.id, 'disabled', NOW), {
        ...later,
        passwordHash: 'stronger',
        status: 'disabled',
      });
    });
  });
}
