import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ratioText } from '../../bench/harness.ts';

test('a ratio shows two decimals, or three rounded down for a miss that two would round up to its target', () => {
  assert.equal(ratioText(0.8234), '0.82x');
  assert.equal(ratioText(0.8234, 0.85), '0.82x');
  assert.equal(ratioText(0.847, 0.85), '0.847x', '0.85x beside a MISSED would read as a pass');
  assert.equal(ratioText(0.8496, 0.85), '0.849x');
  assert.equal(ratioText(0.84999, 0.85), '0.849x');
  assert.equal(ratioText(0.85, 0.85), '0.85x');
  assert.equal(ratioText(0.896, 0.9), '0.896x');
  assert.equal(ratioText(1.304, 1.3), '1.30x');
});
