import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PoolSplit, SPLITS } from '../../src/service/pool-split.ts';

const [ALL, COSTLY, NONE] = SPLITS as [number, number, number];

/** What a signature costs, in microseconds, by the split in force and the window (from 0) it falls in. */
interface Costs {
  /** The event loop's busy time. */
  loop: (from: number, window: number) => number;
  /** The event loop's idle time; none (a saturated loop) unless given. */
  idle?: (from: number, window: number) => number;
  /** The whole process's CPU; the loop's busy time unless given. */
  cpu?: (from: number, window: number) => number;
}

/** A PoolSplit on made-up meters; returns the split in force for each of the next `count` windows. */
function simulated(costs: Costs, { window = 100, hold = 4, warmUp = false } = {}) {
  const meters = { loopBusy: 0, loopIdle: 0, cpu: 0, wall: 0 };
  let windows = 0;
  const split = new PoolSplit({ meters: () => ({ ...meters }), window, hold, warmUp });
  return (count: number) =>
    Array.from({ length: count }, () => {
      const from = split.from;
      for (let i = 0; i < window / 10; i++) {
        meters.loopBusy += (10 * costs.loop(from, windows)) / 1000;
        meters.loopIdle += (10 * (costs.idle?.(from, windows) ?? 0)) / 1000;
        meters.cpu += (10 * (costs.cpu ?? costs.loop)(from, windows)) / 1000;
        // One thread: the clock moves by the loop's busy and idle time.
        meters.wall += (10 * (costs.loop(from, windows) + (costs.idle?.(from, windows) ?? 0))) / 1000;
        split.turnVerified(10);
      }
      windows++;
      return from;
    });
}

const MEASURED = [ALL, COSTLY, NONE, ALL, COSTLY, NONE];
const by = (table: Record<number, number>) => (from: number) => table[from] as number;

test('a saturated loop: each split is measured twice, in turn, the one that kept the loop least busy is kept, then all are measured again', () => {
  for (const [best, loop] of [
    [ALL, { [ALL]: 30, [COSTLY]: 40, [NONE]: 45 }],
    [COSTLY, { [ALL]: 50, [COSTLY]: 40, [NONE]: 45 }],
    [NONE, { [ALL]: 50, [COSTLY]: 42, [NONE]: 40 }],
  ] as const) {
    // Splitting costs the process more CPU in all, which a saturated loop does not weigh.
    const splits = simulated({ loop: by(loop), cpu: (from) => (from === NONE ? 40 : 60) });
    assert.deepEqual(
      splits(6 + 4 + 6 + 1),
      [...MEASURED, best, best, best, best, ...MEASURED, best],
      `best ${best}`,
    );
  }
});

test('a loop with time to spare keeps the split that costs the process the least CPU, whatever it saves the loop', () => {
  // Paced below the maximum: every kind split spares the loop, and wakes a pool thread for each.
  const splits = simulated({
    loop: by({ [ALL]: 30, [COSTLY]: 40, [NONE]: 40 }),
    idle: () => 40,
    cpu: by({ [ALL]: 60, [COSTLY]: 45, [NONE]: 40 }),
  });
  assert.deepEqual(splits(7), [...MEASURED, NONE]);
});

test('whether the loop is the bottleneck is read from the split that keeps every signature on it: busy 90% of the time', () => {
  const keep = (idleWithNone: number) =>
    simulated({
      loop: by({ [ALL]: 30, [COSTLY]: 45, [NONE]: 45 }),
      idle: (from) => (from === NONE ? idleWithNone : 20),
      cpu: by({ [ALL]: 60, [COSTLY]: 44, [NONE]: 45 }),
    })(7)[6];
  assert.equal(keep(4), ALL, '45 us busy and 4 idle: 92% busy');
  assert.equal(keep(6), COSTLY, '45 us busy and 6 idle: 88% busy; the least CPU');
});

test('the two measurements of a split count together: one slow window does not decide', () => {
  // Every kind split is the cheapest but for one disturbed window (a collection, another process).
  const splits = simulated({ loop: (from, window) => (from === ALL ? (window === 3 ? 45 : 30) : 40) });
  assert.deepEqual(splits(7), [...MEASURED, ALL]);
  // The same of the CPU, on a loop with time to spare: keeping all on the loop read cheapest last.
  const spare = simulated({
    loop: () => 40,
    idle: () => 20,
    cpu: (from, window) => (from === NONE ? (window === 2 ? 70 : 30) : from === COSTLY ? 44 : 60),
  });
  assert.deepEqual(spare(7), [...MEASURED, COSTLY]);
});

test('a change in what pays is followed at the next measurement', () => {
  let poolPays = true;
  const splits = simulated({
    loop: (from) => (from === ALL ? (poolPays ? 20 : 60) : from === COSTLY ? 40 : 41),
  });
  assert.deepEqual(splits(10), [...MEASURED, ALL, ALL, ALL, ALL]);
  poolPays = false;
  // Measured again, every kind split is now the slowest.
  assert.deepEqual(splits(7), [...MEASURED, COSTLY]);
});

test('a window of the hold at a rate far off the measured ones ends the hold, and all are measured again', () => {
  // Saturated while measured; then the load drops to a third, and every kind split no longer pays.
  let drop = false;
  const splits = simulated({
    loop: (from) => (from === ALL ? 30 : 40),
    idle: (from) => (drop ? 80 : 0) + (from === ALL ? 10 : 0),
    cpu: (from) => (drop && from === ALL ? 70 : 40),
  });
  assert.deepEqual(splits(8), [...MEASURED, ALL, ALL]);
  drop = true;
  assert.deepEqual(
    splits(1 + 6 + 1),
    [ALL, ...MEASURED, COSTLY],
    'the first window at the new rate ends the hold',
  );
  // Within 1.4 times either way, the hold runs its course.
  const steady = simulated({
    loop: (from) => (from === ALL ? 30 : 40),
    idle: (_, window) => (window > 6 ? 9 : 0),
  });
  assert.deepEqual(steady(6 + 4 + 1), [...MEASURED, ALL, ALL, ALL, ALL, ALL]);
});

test('a window is counted in signatures of busy turns, however they come', () => {
  const split = new PoolSplit({ window: 100, warmUp: false });
  split.turnVerified(99);
  assert.equal(split.from, ALL, 'one signature short of the window');
  split.turnVerified(2);
  assert.equal(split.from, COSTLY, 'the window is done and the next split tried');
});

test('after start each split runs a window unmeasured, so that its warm-up does not decide', () => {
  // Splitting every kind is the cheapest once warm, and would measure the costliest cold.
  const splits = simulated(
    { loop: (from, window) => (from === ALL ? (window < 3 ? 500 : 30) : 40) },
    { warmUp: true },
  );
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
