import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplayLedger } from '../../src/service/replay-ledger.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { type JtiClaim, StoreUnavailableError } from '../../src/store/store.ts';
import { NOW } from '../helpers.ts';

const claim = (jti: string, tokenHash: string): JtiClaim => ({
  iss: 'org',
  jti,
  tokenHash,
  expiresAt: NOW + 100,
});

test('claims made in one event-loop turn are committed in one transaction, each with its own answer', async () => {
  const store = new SqliteStore(':memory:');
  const batches: number[] = [];
  const counting = {
    bindJtis: (claims: readonly JtiClaim[], now: number) => {
      batches.push(claims.length);
      return store.bindJtis(claims, now);
    },
  };
  const ledger = new ReplayLedger(counting, () => NOW);
  const answers = await Promise.all([
    ledger.bind(claim('x', 'h1')),
    ledger.bind(claim('x', 'h1')),
    ledger.bind(claim('x', 'h2')),
    ...Array.from({ length: 997 }, (_, i) => ledger.bind(claim(`j${i}`, 'h'))),
  ]);
  assert.deepEqual(answers.slice(0, 4), ['bound', 'same-token', 'reused', 'bound']);
  assert.equal(answers.filter((answer) => answer === 'bound').length, 998);
  assert.deepEqual(batches, [512, 488], 'one turn, committed in batches of at most 512');
  // A later turn is a batch of its own, and sees what the first committed.
  assert.equal(await ledger.bind(claim('x', 'h3')), 'reused');
  assert.deepEqual(batches, [512, 488, 1]);
  await store.close();
});

test('a failed commit fails every claim of its batch, and the next batch is tried afresh', async () => {
  const store = new SqliteStore(':memory:');
  let down = true;
  const flaky = {
    bindJtis: (claims: readonly JtiClaim[], now: number) =>
      down ? Promise.reject(new StoreUnavailableError('disk I/O error')) : store.bindJtis(claims, now),
  };
  const ledger = new ReplayLedger(flaky, () => NOW);
  const failed = await Promise.allSettled([ledger.bind(claim('a', 'h')), ledger.bind(claim('b', 'h'))]);
  assert.deepEqual(
    failed.map((outcome) => outcome.status),
    ['rejected', 'rejected'],
  );
  down = false;
  assert.equal(await ledger.bind(claim('a', 'h')), 'bound', 'nothing of the failed batch was bound');
  await store.close();
});
