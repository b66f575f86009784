import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { KeyUseCount } from '../../src/core/key-usage.ts';
import type { Store } from '../../src/store/store.ts';
import { NOW } from '../helpers.ts';
import { keyInput } from './store-fixtures.ts';

/**
 * Key usage (Store.recordKeyUse, keyUsage): counts are added, never replaced, so the flushes of
 * several processes add up; a kid the store lacks is ignored; last-used times only move forward.
 */
export function usageContract(
  name: string,
  open: () => Promise<Store>,
  openNodes: () => Promise<Store[]>,
): void {
  describe(`${name} store contract: key usage`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(() => store.close());

    const twoKeys = async () => {
      const org = await store.createOrg({ name: 'Usage' }, NOW);
      const a = await store.insertKey(keyInput(org.id), NOW);
      const b = await store.insertKey(keyInput(org.id), NOW);
      // keyUsage answers in kid order; so does the expected list.
      return [a.id, b.id].sort() as [string, string];
    };

    test('flushes add to the stored counts, per key and outcome', async () => {
      const [a, b] = await twoKeys();
      assert.deepEqual(await store.keyUsage([a, b]), []);
      await store.recordKeyUse({
        counts: [
          { kid: a, outcome: 'accepted', count: 3 },
          { kid: a, outcome: 'signature_invalid', count: 1 },
          { kid: b, outcome: 'accepted', count: 2 },
        ],
        lastUsed: new Map([
          [a, NOW + 10],
          [b, NOW + 20],
        ]),
      });
      await store.recordKeyUse({
        counts: [
          { kid: a, outcome: 'accepted', count: 4 },
          { kid: b, outcome: 'token_expired', count: 5 },
        ],
        lastUsed: new Map([[a, NOW + 5]]),
      });
      assert.deepEqual(await store.keyUsage([b, a]), [
        { kid: a, outcome: 'accepted', count: 7 },
        { kid: a, outcome: 'signature_invalid', count: 1 },
        { kid: b, outcome: 'accepted', count: 2 },
        { kid: b, outcome: 'token_expired', count: 5 },
      ]);
      assert.deepEqual(await store.keyUsage([b]), [
        { kid: b, outcome: 'accepted', count: 2 },
        { kid: b, outcome: 'token_expired', count: 5 },
      ]);
      assert.equal((await store.getKey(a))?.lastUsedAt, NOW + 10, 'last used only moves forward');
      assert.equal((await store.getKey(b))?.lastUsedAt, NOW + 20);
    });

    test('a kid the store does not hold is ignored, and the rest of the batch is kept', async () => {
      const [a] = await twoKeys();
      const ghost = randomUUID();
      await store.recordKeyUse({
        counts: [
          { kid: ghost, outcome: 'accepted', count: 9 },
          { kid: a, outcome: 'accepted', count: 1 },
        ],
        lastUsed: new Map([
          [ghost, NOW],
          [a, NOW],
        ]),
      });
      assert.deepEqual(await store.keyUsage([a, ghost]), [{ kid: a, outcome: 'accepted', count: 1 }]);
      assert.equal(await store.getKey(ghost), undefined);
      assert.deepEqual(await store.keyUsage([]), []);
    });

    test('an empty batch changes nothing, and usage is not a key change', async () => {
      const [a] = await twoKeys();
      const revision = await store.keyRevision();
      await store.recordKeyUse({ counts: [], lastUsed: new Map() });
      await store.recordKeyUse({
        counts: [{ kid: a, outcome: 'accepted', count: 1 }],
        lastUsed: new Map([[a, NOW]]),
      });
      assert.equal(await store.keyRevision(), revision);
      assert.deepEqual(await store.keyChangesSince(revision, 10), []);
    });
  });

  describe(`${name} store contract: key usage from several nodes`, () => {
    let stores: Store[];
    beforeEach(async () => {
      stores = await openNodes();
    });
    afterEach(async () => {
      await Promise.all(stores.map((store) => store.close()));
    });

    test('concurrent flushes of the same keys from every node add up exactly', async () => {
      const first = stores[0] as Store;
      const org = await first.createOrg({ name: 'Usage race' }, NOW);
      const kids: string[] = [];
      for (let i = 0; i < 4; i++) kids.push((await first.insertKey(keyInput(org.id), NOW)).id);
      kids.sort();
      // Each flush names the keys in another order, as nodes' batches would.
      const flushes = Array.from({ length: 24 }, (_, i) => {
        const order = i % 2 === 0 ? kids : [...kids].reverse();
        const counts: KeyUseCount[] = order.flatMap((kid) => [
          { kid, outcome: 'accepted' as const, count: 1 },
          { kid, outcome: 'signature_invalid' as const, count: 2 },
        ]);
        const lastUsed = new Map(order.map((kid) => [kid, NOW + i]));
        return (stores[i % stores.length] as Store).recordKeyUse({ counts, lastUsed });
      });
      const results = await Promise.allSettled(flushes);
      assert.deepEqual(
        results.filter((result) => result.status === 'rejected'),
        [],
      );
      assert.deepEqual(
        await first.keyUsage(kids),
        kids.flatMap((kid) => [
          { kid, outcome: 'accepted', count: 24 },
          { kid, outcome: 'signature_invalid', count: 48 },
        ]),
      );
      for (const kid of kids) assert.equal((await first.getKey(kid))?.lastUsedAt, NOW + 23);
    });
  });
}
