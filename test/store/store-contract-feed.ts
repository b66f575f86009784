import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ConflictError, KeyCapError, type KeyChange, type Store } from '../../src/store/store.ts';
import { NOW } from '../helpers.ts';
import { keyInput } from './store-fixtures.ts';

/** The key change feed (Store.keyChangesSince): the part of the contract a verifying node lives on. */
export function feedContract(
  name: string,
  open: () => Promise<Store>,
  openNodes: () => Promise<Store[]>,
): void {
  describe(`${name} store contract: key change feed`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(() => store.close());

    /** What the feed holds after `revision`, read in batches of `limit` as a node reads it. */
    const readAll = async (revision: number, limit = 1000, from = store): Promise<KeyChange[]> => {
      const all: KeyChange[] = [];
      for (let at = revision; ; ) {
        const batch = await from.keyChangesSince(at, limit);
        assert.ok(batch.length <= limit, 'a batch holds at most the limit');
        all.push(...batch);
        if (batch.length < limit) return all;
        at = (batch.at(-1) as KeyChange).revision;
      }
    };
    const states = (changes: KeyChange[]) => changes.map(({ revision: _, ...state }) => state);
    const assertOrdered = async (changes: KeyChange[]) => {
      const revisions = changes.map((change) => change.revision);
      assert.deepEqual(
        revisions,
        [...revisions].sort((a, b) => a - b),
        'in the order of the changes',
      );
      assert.equal(new Set(revisions).size, revisions.length, 'one revision per change');
      if (changes.length > 0) assert.equal(revisions.at(-1), await store.keyRevision());
    };

    test('keyIdsAfter pages through every key id once, in id order, revoked keys included', async () => {
      const org = await store.createOrg({ name: 'Ids' }, NOW);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await store.insertKey(keyInput(org.id), NOW)).id);
      await store.setKeyStatus(ids[2] as string, 'revoked');
      const seen: string[] = [];
      for (let after = ''; ; ) {
        const page = await store.keyIdsAfter(after, 2);
        assert.ok(page.length <= 2, 'a page holds at most the limit');
        seen.push(...page);
        if (page.length < 2) break;
        after = page.at(-1) as string;
      }
      assert.deepEqual(seen, [...ids].sort());
    });

    test('every kind of key change appears once per key, as it now stands, in order', async () => {
      const org = await store.createOrg({ name: 'Feed' }, NOW);
      const r0 = await store.keyRevision();
      assert.deepEqual(await store.keyChangesSince(r0, 10), [], 'nothing yet');
      const a = await store.insertKey(keyInput(org.id), NOW);
      const b = await store.insertKey(keyInput(org.id), NOW);
      const c = await store.insertKey({ ...keyInput(org.id), expiresAt: NOW + 9000 }, NOW);
      const registered = await readAll(r0);
      assert.deepEqual(states(registered), [
        { id: a.id, status: 'active', expiresAt: null, revokesAt: null },
        { id: b.id, status: 'active', expiresAt: null, revokesAt: null },
        { id: c.id, status: 'active', expiresAt: NOW + 9000, revokesAt: null },
      ]);
      await assertOrdered(registered);

      const r1 = await store.keyRevision();
      await store.setKeyStatus(a.id, 'disabled');
      await store.setKeyStatus(b.id, 'revoked');
      await store.setKeyStatus(a.id, 'active');
      assert.deepEqual(states(await readAll(r1)), [
        { id: b.id, status: 'revoked', expiresAt: null, revokesAt: null },
        { id: a.id, status: 'active', expiresAt: null, revokesAt: null },
      ]);
      await assertOrdered(await readAll(r0));

      const r2 = await store.keyRevision();
      await store.recordKeyUse({ counts: [], lastUsed: new Map([[a.id, NOW + 5]]) });
      await store.setKeyStatus(a.id, 'active');
      assert.equal(await store.keyRevision(), r2, 'bookkeeping and a status set to itself change nothing');
      assert.deepEqual(await store.keyChangesSince(r2, 10), []);

      const rotated = await store.rotateKey(c.id, keyInput(org.id), NOW + 300, NOW + 1);
      assert.ok(rotated.ok);
      const rotation = await readAll(r2);
      assert.deepEqual(
        states(rotation).sort((x, y) => x.id.localeCompare(y.id)),
        [
          { id: c.id, status: 'active', expiresAt: NOW + 9000, revokesAt: NOW + 300 },
          { id: rotated.key.id, status: 'active', expiresAt: null, revokesAt: null },
        ].sort((x, y) => x.id.localeCompare(y.id)),
      );
      const r3 = await store.keyRevision();
      assert.equal(await store.revokeDueKeys(NOW + 300), 1);
      assert.deepEqual(states(await readAll(r3)), [
        { id: c.id, status: 'revoked', expiresAt: NOW + 9000, revokesAt: NOW + 300 },
      ]);
      const everything = await readAll(r0);
      await assertOrdered(everything);
      assert.deepEqual(
        everything.map((change) => change.id),
        [b.id, a.id, rotated.key.id, c.id],
        'each key once, at its latest change',
      );
    });

    test('read in bounded batches from the last revision answered, the feed misses nothing', async () => {
      const org = await store.createOrg({ name: 'Batches' }, NOW);
      const r0 = await store.keyRevision();
      const keys = [];
      for (let i = 0; i < 7; i++) keys.push(await store.insertKey(keyInput(org.id), NOW));
      await store.setKeyStatus((keys[2] as { id: string }).id, 'disabled');
      const whole = await readAll(r0);
      for (const limit of [1, 2, 3, 7, 8])
        assert.deepEqual(await readAll(r0, limit), whole, `batches of ${limit}`);
      assert.equal(whole.length, 7);
      assert.deepEqual((await store.keyChangesSince(r0, 3)).length, 3);
    });

    test('a refused write adds nothing to the feed', async () => {
      const org = await store.createOrg({ name: 'Refused' }, NOW);
      const input = keyInput(org.id);
      await store.insertKey(input, NOW, { perOrg: 1, perOwner: 1 });
      const r0 = await store.keyRevision();
      await assert.rejects(store.insertKey(input, NOW), ConflictError);
      await assert.rejects(store.insertKey(keyInput(org.id), NOW, { perOrg: 1, perOwner: 1 }), KeyCapError);
      assert.deepEqual(await store.setKeyStatus('nope', 'revoked'), { ok: false, reason: 'not_found' });
      assert.equal(await store.keyRevision(), r0);
      assert.deepEqual(await store.keyChangesSince(r0, 10), []);
    });
  });

  describe(`${name} store contract: key change feed across nodes`, () => {
    test('concurrent changes from several nodes each get a revision of their own, and every node reads them all', async () => {
      const stores = await openNodes();
      try {
        const first = stores[0] as Store;
        const org = await first.createOrg({ name: 'Nodes' }, NOW);
        const r0 = await first.keyRevision();
        const inserted = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            (stores[i % stores.length] as Store).insertKey(keyInput(org.id), NOW),
          ),
        );
        await Promise.all(
          inserted.map((key, i) => (stores[i % stores.length] as Store).setKeyStatus(key.id, 'disabled')),
        );
        for (const node of stores) {
          const changes = await node.keyChangesSince(r0, 100);
          assert.deepEqual(changes.map((change) => change.id).sort(), inserted.map((key) => key.id).sort());
          assert.ok(changes.every((change) => change.status === 'disabled'));
          assert.equal(new Set(changes.map((change) => change.revision)).size, 12);
          assert.equal(changes.at(-1)?.revision, await node.keyRevision());
        }
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    });
  });
}
