import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LULL_MS, PoolSplit, SPLITS } from '../../src/service/pool-split.ts';

const [ALL, COSTLY] = SPLITS as [number, number];

/** What a signature costs, in microseconds, by the split in force and the window (from 0) it falls in. */
interface Costs {
  /** The event loop's busy time. */
  loop: (from: number, window: number) => number;
  /** The event loop's idle time; none (a saturated loop) unless given. */
  idle?: (from: number, window: number) => number;
  /** The whole process's CPU; the loop's busy time unless given. */
  cpu?: (from: number, window: number) => number;
}

/**
 * A PoolSplit on made-up meters, fed turns of 10 signatures, half of them of a costly kind (all
 * of them with `costlyOnly`, or in the windows it returns true for), with a pause of `lullMs`
 * halfway through each window, `lullBusyMs` of it the loop busy with other requests; returns the
 * split in force for each of the next `count` windows.
 */
function simulated(
  costs: Costs,
  {
    window = 100,
    hold = 4,
    warmUp = true,
    costlyOnly = false as boolean | ((window: number) => boolean),
    lullMs = 0 as number | ((window: number) => number),
    lullBusyMs = 0 as number | ((window: number) => number),
  } = {},
) {
  const meters = { loopBusy: 0, loopIdle: 0, cpu: 0, wall: 0 };
  let windows = 0;
  const split = new PoolSplit({
    meters: () => ({ ...meters }),
    clock: () => meters.wall,
    window,
    hold,
    warmUp,
  });
  return (count: number) =>
    Array.from({ length: count }, () => {
      const from = split.from;
      for (let i = 0; i < window / 10; i++) {
        // A pause in the load halfway through the window: nothing verified, the loop idle or busy
        // with other requests.
        if (i === window / 20) {
          const lull = typeof lullMs === 'function' ? lullMs(windows) : lullMs;
          const busy = typeof lullBusyMs === 'function' ? lullBusyMs(windows) : lullBusyMs;
          meters.loopBusy += busy;
          meters.cpu += busy;
          meters.loopIdle += lull - busy;
          meters.wall += lull;
        }
        const loop = costs.loop(from, windows);
        const idle = costs.idle?.(from, windows) ?? 0;
        meters.loopBusy += (10 * loop) / 1000;
        meters.loopIdle += (10 * idle) / 1000;
        meters.cpu += (10 * (costs.cpu?.(from, windows) ?? loop)) / 1000;
        // One thread: the clock moves by the loop's busy and idle time.
        meters.wall += (10 * (loop + idle)) / 1000;
        const allCostly = typeof costlyOnly === 'function' ? costlyOnly(windows) : costlyOnly;
        split.turnVerified(10, allCostly ? 10 : 5);
      }
      windows++;
      return from;
    });
}

/** The window after start, unmeasured. */
const WARM_UP = [ALL];
/** The measured windows: each split twice, in turn. */
const MEASURED = [ALL, COSTLY, ALL, COSTLY];
const by = (table: Record<number, number>) => (from: number) => table[from] as number;

test('a saturated loop: each split is measured twice, in turn, the one that kept the loop least busy is kept, then both are measured again', () => {
  for (const [best, loop] of [
    [ALL, { [ALL]: 30, [COSTLY]: 40 }],
    [COSTLY, { [ALL]: 50, [COSTLY]: 40 }],
  ] as const) {
    // Splitting every kind costs the process more CPU in all, which a saturated loop does not weigh.
    const splits = simulated({ loop: by(loop), cpu: (from) => (from === ALL ? 60 : 40) });
    assert.deepEqual(
      splits(1 + 4 + 4 + 4 + 1),
      [...WARM_UP, ...MEASURED, best, best, best, best, ...MEASURED, best],
      `best ${best}`,
    );
  }
});

test('without a cheap kind to split, nothing is measured: the costly kinds are split', () => {
  const splits = simulated({ loop: by({ [ALL]: 30, [COSTLY]: 40 }) }, { costlyOnly: true });
  assert.deepEqual(splits(1 + 4 + 4), [
    ...WARM_UP,
    COSTLY,
    COSTLY,
    COSTLY,
    COSTLY,
    COSTLY,
    COSTLY,
    COSTLY,
    COSTLY,
  ]);
});

test('a saturated loop fed in bursts is read as saturated: the pauses between them are left out', () => {
  // Splitting every kind keeps the loop least busy and costs the most CPU.
  const costs = { loop: by({ [ALL]: 30, [COSTLY]: 40 }), cpu: by({ [ALL]: 60, [COSTLY]: 40 }) };
  for (const lullMs of [LULL_MS + 1, 2000]) {
    assert.deepEqual(
      simulated(costs, { lullMs })(6),
      [...WARM_UP, ...MEASURED, ALL],
      `pauses of ${lullMs} ms`,
    );
  }
  // A pause shorter than a lull is the load's own: with it, the loop had time to spare.
  assert.deepEqual(simulated(costs, { lullMs: LULL_MS - 10 })(6), [...WARM_UP, ...MEASURED, COSTLY]);
});

test('what the loop did in a pause of the load, other requests answered, is not counted to the split under way', () => {
  // The pauses of the split kept on the loop fall while the loop answers other requests.
  const costs = { loop: by({ [ALL]: 40, [COSTLY]: 30 }) };
  for (const lullBusyMs of [LULL_MS, 500]) {
    const splits = simulated(costs, {
      lullMs: 1000,
      lullBusyMs: (window) => (window % 2 === 0 ? lullBusyMs : 0),
    });
    assert.deepEqual(splits(6), [...WARM_UP, ...MEASURED, COSTLY], `${lullBusyMs} ms of other requests`);
  }
});

test('a window of the hold that spans a pause in the load is no change in the load', () => {
  // Measured without pauses; the hold's windows each with one.
  const splits = simulated(
    { loop: by({ [ALL]: 30, [COSTLY]: 40 }) },
    { lullMs: (window) => (window > 4 ? 5000 : 0) },
  );
  assert.deepEqual(splits(1 + 4 + 4 + 1), [...WARM_UP, ...MEASURED, ALL, ALL, ALL, ALL, ALL]);
});

test('the first cheap kind to come while the costly kinds are kept unmeasured ends the hold', () => {
  // ES256 tokens alone for the warm-up and two windows, then RS256-2048 tokens among them.
  const splits = simulated({ loop: by({ [ALL]: 30, [COSTLY]: 40 }) }, { costlyOnly: (window) => window < 3 });
  assert.deepEqual(splits(1 + 2 + 1 + 4 + 1), [...WARM_UP, COSTLY, COSTLY, COSTLY, ...MEASURED, ALL]);
});

test('a loop with time to spare keeps the split that costs the process the least CPU, whatever it saves the loop', () => {
  // Paced below the maximum: every kind split spares the loop, and wakes a pool thread for each.
  const splits = simulated({
    loop: by({ [ALL]: 30, [COSTLY]: 40 }),
    idle: () => 40,
    cpu: by({ [ALL]: 60, [COSTLY]: 45 }),
  });
  assert.deepEqual(splits(6), [...WARM_UP, ...MEASURED, COSTLY]);
});

test('whether the loop is the bottleneck is read with the cheap kinds on it: busy 90% of the time', () => {
  const keep = (idleWithCheapOnLoop: number) =>
    simulated({
      loop: by({ [ALL]: 30, [COSTLY]: 45 }),
      idle: (from) => (from === COSTLY ? idleWithCheapOnLoop : 20),
      cpu: by({ [ALL]: 60, [COSTLY]: 45 }),
    })(6)[5];
  assert.equal(keep(4), ALL, '45 us busy and 4 idle: 92% busy');
  assert.equal(keep(6), COSTLY, '45 us busy and 6 idle: 88% busy; the least CPU');
});

test('the two measurements of a split count together: one slow window does not decide', () => {
  // Every kind split is the cheapest but for one disturbed window (a collection, another process).
  const splits = simulated({ loop: (from, window) => (from === ALL ? (window === 3 ? 45 : 30) : 40) });
  assert.deepEqual(splits(6), [...WARM_UP, ...MEASURED, ALL]);
  // The same of the CPU, on a loop with time to spare: the cheap kinds on the loop read cheapest last.
  const spare = simulated({
    loop: () => 40,
    idle: () => 20,
    cpu: (from, window) => (from === COSTLY ? (window === 2 ? 70 : 30) : 44),
  });
  assert.deepEqual(spare(6), [...WARM_UP, ...MEASURED, ALL]);
});

test('a change in what pays is followed at the next measurement', () => {
  let poolPays = true;
  const splits = simulated({ loop: (from) => (from === ALL ? (poolPays ? 20 : 60) : 40) });
  assert.deepEqual(splits(9), [...WARM_UP, ...MEASURED, ALL, ALL, ALL, ALL]);
  poolPays = false;
  assert.deepEqual(splits(5), [...MEASURED, COSTLY]);
});

test('two windows of the hold in a row at a rate far off the measured ones end the hold, and both are measured again', () => {
  // Saturated while measured; then the load drops to a third, and every kind split no longer pays.
  let drop = false;
  const splits = simulated({
    loop: (from) => (from === ALL ? 30 : 40),
    idle: (from) => (drop ? 80 : 0) + (from === ALL ? 10 : 0),
    cpu: (from) => (drop && from === ALL ? 70 : 40),
  });
  assert.deepEqual(splits(7), [...WARM_UP, ...MEASURED, ALL, ALL]);
  drop = true;
  assert.deepEqual(
    splits(2 + 4 + 1),
    [ALL, ALL, ...MEASURED, COSTLY],
    'the second window at the new rate ends the hold',
  );
  // Within 1.4 times either way, the hold runs its course.
  const steady = simulated({
    loop: (from) => (from === ALL ? 30 : 40),
    idle: (_, window) => (window > 5 ? 9 : 0),
  });
  assert.deepEqual(steady(1 + 4 + 4 + 1), [...WARM_UP, ...MEASURED, ALL, ALL, ALL, ALL, ALL]);
});

test('one window of the hold far off the measured rate, or two off in opposite ways, is the machine, not the load', () => {
  const loop = (from: number) => (from === ALL ? 30 : 40);
  // A disturbed window now and then: another process on the core, a collection.
  const disturbed = simulated({ loop, idle: (_, window) => (window === 6 || window === 8 ? 200 : 0) });
  assert.deepEqual(disturbed(1 + 4 + 4 + 1), [...WARM_UP, ...MEASURED, ALL, ALL, ALL, ALL, ALL]);
  // Slower, then faster than the measured windows.
  const swinging = simulated({
    loop: (from, window) => (window === 7 ? 10 : loop(from)),
    idle: (_, window) => (window === 6 ? 200 : 0),
  });
  assert.deepEqual(swinging(1 + 4 + 4 + 1), [...WARM_UP, ...MEASURED, ALL, ALL, ALL, ALL, ALL]);
});

test('a window off the rate before a measurement does not count toward ending the next hold', () => {
  // The last window of one hold and the first of the next are both slow: two holds, one each.
  const splits = simulated({
    loop: (from) => (from === ALL ? 30 : 40),
    idle: (_, window) => (window === 8 || window === 13 ? 200 : 0),
  });
  assert.deepEqual(splits(1 + 4 + 4 + 4 + 3), [
    ...WARM_UP,
    ...MEASURED,
    ALL,
    ALL,
    ALL,
    ALL,
    ...MEASURED,
    ALL,
    ALL,
    ALL,
  ]);
});

test('every kind is split only where it costs at least 5% less than the costly kinds alone', () => {
  const keep = (all: number) => simulated({ loop: by({ [ALL]: all, [COSTLY]: 40 }) })(6)[5];
  assert.equal(keep(37.9), ALL, '37.9 against 40 us of the loop a signature');
  assert.equal(keep(38.1), COSTLY, '38.1 against 40: within what two measurements drift apart');
});

test('a window is counted in signatures of busy turns, however they come', () => {
  const split = new PoolSplit({ window: 100 });
  split.turnVerified(99, 0);
  assert.equal(split.from, ALL, 'one signature short of the window');
  split.turnVerified(2, 0);
  assert.equal(split.from, ALL, 'the warm-up is done, and the first split measured is every kind');
  split.turnVerified(100, 0);
  assert.equal(split.from, COSTLY, 'then the cheap kinds on the loop');
});

test('after start a window splits every kind unmeasured, so that the pool starting up does not decide', () => {
  // Splitting every kind is the cheapest once warm, and would measure the costliest cold.
  const costs = { loop: (from: number, window: number) => (from === ALL ? (window === 0 ? 500 : 30) : 40) };
  assert.deepEqual(simulated(costs)(6), [...WARM_UP, ...MEASURED, ALL]);
  assert.deepEqual(
    simulated(costs, { warmUp: false })(5),
    [...MEASURED, COSTLY],
    'measured cold, every kind split reads the costliest',
  );
});

test('by default a window is 2,000 signatures, and the warm-up comes first', () => {
  const split = new PoolSplit();
  for (const from of [ALL, ALL, COSTLY]) {
    assert.equal(split.from, from);
    split.turnVerified(1999, 1);
    assert.equal(split.from, from);
    split.turnVerified(1, 0);
  }
});
