import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PoolSplit, SPLITS } from '../../src/service/pool-split.ts';

const [ALL, COSTLY, NONE] = SPLITS as [number, number, number];

/**
 * A PoolSplit on a loop whose busy time is made up: a signature costs the loop `costUs(split, window)`
 * microseconds, by the split in force and the window (counted from 0) it falls in.
 */
function simulated(
  costUs: (from: number, window: number) => number,
  { window = 100, hold = 4, warmUp = false } = {},
) {
  let busyMs = 0;
  let windows = 0;
  const split = new PoolSplit({ loopBusyMs: () => busyMs, window, hold, warmUp });
  /** The split in force for each of the next `count` windows, in turns of 10 signatures. */
  return (count: number) =>
    Array.from({ length: count }, () => {
      const from = split.from;
      for (let i = 0; i < window / 10; i++) {
        busyMs += (10 * costUs(split.from, windows)) / 1000;
        split.turnVerified(10);
      }
      windows++;
      return from;
    });
}

const MEASURED = [ALL, COSTLY, NONE, ALL, COSTLY, NONE];

test('each split is measured twice, in turn, then the one that kept the loop least busy is kept, then all are measured again', () => {
  for (const [best, costs] of [
    [ALL, { [ALL]: 30, [COSTLY]: 40, [NONE]: 45 }],
    [COSTLY, { [ALL]: 50, [COSTLY]: 40, [NONE]: 45 }],
    [NONE, { [ALL]: 50, [COSTLY]: 42, [NONE]: 40 }],
  ] as const) {
    const splits = simulated((from) => costs[from as keyof typeof costs] as number);
    assert.deepEqual(
      splits(6 + 4 + 6 + 1),
      [...MEASURED, best, best, best, best, ...MEASURED, best],
      `best ${best}`,
    );
  }
});

test('the two measurements of a split count together: one slow window does not decide', () => {
  // Every kind split is the cheapest but for one disturbed window (a collection, another process).
  const splits = simulated((from, window) => (from === ALL ? (window === 3 ? 45 : 30) : 40));
  assert.deepEqual(splits(7), [...MEASURED, ALL]);
});

test('a change in what pays is followed at the next measurement', () => {
  let poolPays = true;
  const splits = simulated((from) => (from === ALL ? (poolPays ? 20 : 60) : 40));
  assert.deepEqual(splits(10), [...MEASURED, ALL, ALL, ALL, ALL]);
  poolPays = false;
  // Measured again, every kind split is now the slowest; the first of the equal others is kept.
  assert.deepEqual(splits(7), [...MEASURED, COSTLY]);
});

test('a window is counted in signatures of busy turns, however they come', () => {
  const split = new PoolSplit({ loopBusyMs: () => 0, window: 100, warmUp: false });
  split.turnVerified(99);
  assert.equal(split.from, ALL, 'one signature short of the window');
  split.turnVerified(2);
  assert.equal(split.from, COSTLY, 'the window is done and the next split tried');
});

test('after start each split runs a window unmeasured, so that its warm-up does not decide', () => {
  // Splitting every kind is the cheapest once warm, and would measure the costliest cold.
  const splits = simulated((from, window) => (from === ALL ? (window < 3 ? 500 : 30) : 40), { warmUp: true });
  assert.deepEqual(splits(10), [ALL, COSTLY, NONE, ...MEASURED, ALL]);
});

test('by default a window is 4,000 signatures, and the warm-up comes first', () => {
  const split = new PoolSplit();
  for (const from of [ALL, COSTLY, NONE, ALL]) {
    assert.equal(split.from, from);
    split.turnVerified(3999);
    assert.equal(split.from, from);
    split.turnVerified(1);
  }
});
