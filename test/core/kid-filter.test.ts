import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { KidFilter } from '../../src/core/kid-filter.ts';

test('every kid added is found: a Bloom filter has no false negatives', () => {
  const filter = new KidFilter(10_000, 12345);
  const kids = Array.from({ length: 10_000 }, () => randomUUID());
  for (const kid of kids) filter.add(kid);
  assert.equal(kids.filter((kid) => !filter.mayHave(kid)).length, 0);
});

test('at its capacity, about 1% of made-up kids pass, and memory is fixed by the capacity', () => {
  const filter = new KidFilter(10_000, 777);
  for (let i = 0; i < 10_000; i++) filter.add(randomUUID());
  let passed = 0;
  const probes = 100_000;
  for (let i = 0; i < probes; i++) if (filter.mayHave(randomUUID())) passed++;
  assert.ok(passed / probes < 0.02, `${passed} of ${probes} made-up kids passed`);
  assert.ok(passed > 0, 'a filter that passes nothing at its capacity would be a set, not a filter');
  assert.equal(filter.bytes, Math.ceil((10_000 * 9.6) / 32) * 4);
});

test('past its capacity the filter grows less selective, never wrong', () => {
  const filter = new KidFilter(100, 1);
  const kids = Array.from({ length: 5_000 }, () => randomUUID());
  for (const kid of kids) filter.add(kid);
  assert.ok(kids.every((kid) => filter.mayHave(kid)));
});
