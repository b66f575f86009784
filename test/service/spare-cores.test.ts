import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CpuReading, SpareCores, stillSpare } from '../../src/service/spare-cores.ts';

test('a core counts as spare from half an idle core, and stops counting only below 0.15', () => {
  assert.equal(stillSpare(false, 0.4), false);
  assert.equal(stillSpare(false, 0.5), true);
  // Once the pool uses the idle core, less of it is idle: that alone does not switch it off.
  assert.equal(stillSpare(true, 0.2), true);
  assert.equal(stillSpare(true, 0.1), false);
  assert.equal(stillSpare(false, 0.2), false);
});

test('the sampler turns idle CPU time between two readings into idle cores', () => {
  // Two cores; each step adds 200 ms per core, of which `idle` ms in all were idle.
  const readings: CpuReading[] = [];
  let idle = 0;
  let total = 0;
  const step = (idleMs: number) => {
    idle += idleMs;
    total += 400;
    readings.push({ idle, total, cores: 2 });
  };
  step(0);
  const sampler = new SpareCores(() => readings.shift() as CpuReading);
  try {
    assert.equal(sampler.available, false, 'nothing is spare before the first interval');
    step(180); // 0.9 of a core idle
    sampler.sample();
    assert.equal(sampler.available, true);
    step(40); // 0.2 of a core: the pool's own work, still above the stopping point
    sampler.sample();
    assert.equal(sampler.available, true);
    step(10); // 0.05 of a core: both cores busy
    sampler.sample();
    assert.equal(sampler.available, false);
  } finally {
    sampler.stop();
  }
});
