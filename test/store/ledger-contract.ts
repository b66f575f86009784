import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { JtiClaim, Store } from '../../src/store/store.ts';
import { NOW } from '../helpers.ts';

/** A replay ledger: a whole store, or the Redis one (which the store's other methods do not concern). */
export type Ledger = Pick<Store, 'bindJtis' | 'peekJti' | 'close'>;

/** One claim through the batch call, as most cases need. */
export async function bindJti(
  ledger: Pick<Store, 'bindJtis'>,
  iss: string,
  jti: string,
  tokenHash: string,
  expiresAt: number,
  now: number,
) {
  const [binding] = await ledger.bindJtis([{ iss, jti, tokenHash, expiresAt }], now);
  return binding;
}

/**
 * What Store.bindJtis and Store.peekJti promise, run against every ledger: SQLite, PostgreSQL
 * and Redis. `open` returns a new, empty ledger on every call; `openNodes` several ledgers on one
 * new, empty place, each with connections of its own, as several nodes would have.
 */
export function ledgerContract(
  name: string,
  open: () => Promise<Ledger>,
  openNodes: () => Promise<Ledger[]>,
) {
  describe(`${name} replay ledger contract`, () => {
    let ledger: Ledger;
    beforeEach(async () => {
      ledger = await open();
    });
    afterEach(() => ledger.close());

    test('a jti binds to one token until it expires', async () => {
      assert.equal(await bindJti(ledger, 'org', 'j1', 'hashA', NOW + 100, NOW), 'bound');
      assert.equal(await bindJti(ledger, 'org', 'j1', 'hashA', NOW + 100, NOW), 'same-token');
      assert.equal(await bindJti(ledger, 'org', 'j1', 'hashB', NOW + 100, NOW), 'reused');
      assert.equal(await bindJti(ledger, 'other-org', 'j1', 'hashB', NOW + 100, NOW), 'bound');
      assert.equal(await ledger.peekJti('org', 'j1', 'hashB', NOW), 'reused');
      assert.equal(await ledger.peekJti('org', 'j1', 'hashA', NOW + 99), 'same-token');
      assert.equal(await ledger.peekJti('org', 'j2', 'hashB', NOW), 'bound');
      assert.equal(await ledger.peekJti('org', 'j2', 'hashB', NOW), 'bound', 'peek binds nothing');
      assert.equal(await ledger.peekJti('org', 'j1', 'hashB', NOW + 100), 'bound', 'expired at expiresAt');
      assert.equal(
        await bindJti(ledger, 'org', 'j1', 'hashB', NOW + 300, NOW + 100),
        'bound',
        'an expired binding is replaced',
      );
      assert.equal(await bindJti(ledger, 'org', 'j1', 'hashA', NOW + 300, NOW + 100), 'reused');
    });

    test('a batch binds in order: each claim sees the ones before it, and gets its own answer', async () => {
      const claim = (jti: string, tokenHash: string, expiresAt = NOW + 100): JtiClaim => ({
        iss: 'batch',
        jti,
        tokenHash,
        expiresAt,
      });
      assert.deepEqual(
        await ledger.bindJtis(
          [claim('a', 'h1'), claim('a', 'h1'), claim('a', 'h2'), claim('b', 'h2'), claim('c', 'h3')],
          NOW,
        ),
        ['bound', 'same-token', 'reused', 'bound', 'bound'],
      );
      assert.deepEqual(await ledger.bindJtis([], NOW), []);
      assert.deepEqual(await ledger.bindJtis([claim('a', 'h2'), claim('c', 'h3')], NOW), [
        'reused',
        'same-token',
      ]);
      assert.deepEqual(await ledger.bindJtis([claim('a', 'h2', NOW + 500)], NOW + 100), ['bound']);
    });

    test('pairs are told apart whatever characters their iss and jti hold', async () => {
      const pairs = [
        ['a:b', 'c'],
        ['a', 'b:c'],
        ['a', 'b c'],
        ['', 'a:b:c'],
        ['\u00e9', 'x'],
        ['e\u0301', 'x'],
        ['a*', '?[x]'],
      ] as const;
      const claims = pairs.map(([iss, jti]) => ({ iss, jti, tokenHash: 'h', expiresAt: NOW + 100 }));
      assert.deepEqual(
        await ledger.bindJtis(claims, NOW),
        pairs.map(() => 'bound'),
      );
      for (const [iss, jti] of pairs) assert.equal(await ledger.peekJti(iss, jti, 'other', NOW), 'reused');
    });

    test('of concurrent binds of one jti by different tokens, exactly one wins', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => bindJti(ledger, 'race', 'jti', `hash${i}`, NOW + 100, NOW)),
      );
      assert.equal(results.filter((r) => r === 'bound').length, 1);
      assert.equal(results.filter((r) => r === 'reused').length, 19);
    });
  });

  describe(`${name} replay ledger contract: races between nodes`, () => {
    let nodes: Ledger[];
    beforeEach(async () => {
      nodes = await openNodes();
    });
    afterEach(async () => {
      await Promise.all(nodes.map((node) => node.close()));
    });

    /** Runs `call` `count` times at once, the i-th on node i mod the number of nodes. */
    const race = <T>(count: number, call: (node: Ledger, i: number) => Promise<T>) =>
      Promise.all(Array.from({ length: count }, (_, i) => call(nodes[i % nodes.length] as Ledger, i)));

    test('of concurrent binds of one jti by different tokens, exactly one wins', async () => {
      const answers = await race(20, (node, i) => bindJti(node, 'race', 'j', `hash${i}`, NOW + 100, NOW));
      assert.equal(answers.filter((answer) => answer === 'bound').length, 1);
      assert.equal(answers.filter((answer) => answer === 'reused').length, 19);
    });

    test('batches over the same pairs in opposite orders all complete, each pair bound once', async () => {
      const claims = Array.from({ length: 10 }, (_, i) => ({
        iss: 'race',
        jti: `j${i}`,
        tokenHash: 'shared',
        expiresAt: NOW + 100,
      }));
      const results = await race(10, (node, i) =>
        node.bindJtis(i % 2 === 0 ? claims : claims.toReversed(), NOW),
      );
      const bound = results.flat().filter((answer) => answer === 'bound');
      assert.equal(bound.length, 10, 'one bound answer per pair; every other one is same-token');
    });

    test('pairs bound by different tokens on every node at once: each pair is bound exactly once', async () => {
      const pairs = 50;
      const results = await race(nodes.length * 3, (node, i) =>
        node.bindJtis(
          Array.from({ length: pairs }, (_, p) => ({
            iss: 'spread',
            jti: `p${p}`,
            tokenHash: `caller${i}`,
            expiresAt: NOW + 100,
          })),
          NOW,
        ),
      );
      for (let p = 0; p < pairs; p++) {
        const answers = results.map((answers) => answers[p]);
        assert.equal(answers.filter((answer) => answer === 'bound').length, 1, `pair p${p}`);
        assert.equal(
          answers.filter((answer) => answer === 'reused').length,
          answers.length - 1,
          `pair p${p}`,
        );
      }
    });
  });
}
