import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { KeyCapError, type Store } from '../../src/store/store.ts';
import { NOW } from '../helpers.ts';
import { keyInput, serverKeyInput, sessionInput, userInput } from './store-fixtures.ts';

/**
 * The atomic operations raced by concurrent callers. `open` gives one or more stores on one empty
 * database: a single store races its own callers; several (each with its own connections, as
 * nodes have) race each other. Callers are dealt to the stores in turn.
 */
export function raceContract(name: string, open: () => Promise<Store[]>): void {
  describe(`${name} store contract: races`, () => {
    let stores: Store[];
    beforeEach(async () => {
      stores = await open();
    });
    afterEach(async () => {
      await Promise.all(stores.map((store) => store.close()));
    });

    /** Runs `call` `count` times at once, the i-th on store i mod the number of stores. */
    const race = <T>(count: number, call: (store: Store, i: number) => Promise<T>) =>
      Promise.allSettled(
        Array.from({ length: count }, (_, i) => call(stores[i % stores.length] as Store, i)),
      );
    const fulfilled = <T>(results: PromiseSettledResult<T>[]) =>
      results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const rejected = <T>(results: PromiseSettledResult<T>[]) =>
      results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
    const first = () => stores[0] as Store;

    test('of concurrent login attempts, exactly as many pass as the limit leaves', async () => {
      const limits = { windowSeconds: 3600, freeAttempts: 5, baseDelaySeconds: 60, maxDelaySeconds: 60 };
      const policy = { perAddress: limits, perAccount: { ...limits, freeAttempts: 100 }, trustSeconds: 60 };
      const results = await race(30, (store) =>
        store.reserveLoginAttempt('race@example.com', '192.0.2.1', NOW, policy),
      );
      assert.deepEqual(rejected(results), []);
      assert.equal(fulfilled(results).filter((result) => result.allowed).length, 5);
      assert.deepEqual(
        (await first().getLoginAttempts('race@example.com', NOW)).map((record) => record.attempts),
        [5, 5],
      );
    });

    test('of concurrent rotations of one key, exactly one succeeds', async () => {
      const org = await first().createOrg({ name: 'Rotate race' }, NOW);
      const old = await first().insertKey(keyInput(org.id), NOW);
      const results = await race(12, (store) => store.rotateKey(old.id, keyInput(org.id), NOW + 60, NOW));
      assert.deepEqual(rejected(results), []);
      const outcomes = fulfilled(results);
      assert.equal(outcomes.filter((outcome) => outcome.ok).length, 1);
      assert.ok(outcomes.every((outcome) => outcome.ok || outcome.reason === 'already_rotated'));
      assert.equal((await first().listKeys(org.id)).length, 2);
    });

    test('of concurrent inserts past a cap, exactly the cap succeeds, per organization and per owner', async () => {
      const org = await first().createOrg({ name: 'Cap race' }, NOW);
      const user = await first().createUser(userInput(org.id));
      const caps = { perOrg: 4, perOwner: 2 };
      const byOwner = await race(10, (store) => store.insertKey(keyInput(org.id, user.id), NOW, caps));
      assert.equal(fulfilled(byOwner).length, 2);
      assert.ok(rejected(byOwner).every((error) => error instanceof KeyCapError && error.scope === 'owner'));
      const byOrg = await race(10, (store) => store.insertKey(keyInput(org.id), NOW, caps));
      assert.equal(fulfilled(byOrg).length, 2);
      assert.ok(rejected(byOrg).every((error) => error instanceof KeyCapError && error.scope === 'org'));
      assert.equal((await first().listKeys(org.id)).length, 4);
    });

    test('of concurrent revocations of one session, exactly one reports it', async () => {
      const org = await first().createOrg({ name: 'Logout race' }, NOW);
      const user = await first().createUser(userInput(org.id));
      const session = sessionInput(user.id);
      await first().createSession(session);
      const results = await race(20, (store, i) => store.revokeSession(session.id, NOW + i, 'logout'));
      assert.deepEqual(rejected(results), []);
      assert.equal(fulfilled(results).filter((revoked) => revoked).length, 1);
    });

    test('of nodes starting at once, one makes the server key; concurrent rotations leave one active', async () => {
      const starts = await race(10, (store) => store.rotateServerKey(serverKeyInput(), { onlyIfNone: true }));
      assert.deepEqual(rejected(starts), []);
      assert.equal((await first().listServerKeys()).length, 1);
      const rotations = await race(6, (store, i) => store.rotateServerKey(serverKeyInput(NOW + 1 + i)));
      assert.deepEqual(rejected(rotations), []);
      const keys = await first().listServerKeys();
      assert.equal(keys.length, 7);
      assert.equal(keys.filter((key) => key.status === 'active').length, 1);
    });

    test('of concurrent re-seals of one key from one value, exactly one writes', async () => {
      const key = serverKeyInput();
      await first().rotateServerKey(key);
      const results = await race(10, (store, i) =>
        store.resealServerKey(key.id, key.sealedPrivateKey, `resealed-${i}`),
      );
      assert.deepEqual(rejected(results), []);
      assert.equal(fulfilled(results).filter((wrote) => wrote).length, 1);
    });
  });
}
