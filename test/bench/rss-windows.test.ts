import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summarise } from '../../bench/rss-windows.ts';

test('a window of RSS readings is summed up by its median, with its least and greatest reading', () => {
  // A 19 MiB argon2 block mapped during one reading moves the maximum, not the median.
  assert.deepEqual(summarise([150, 171, 152, 151, 149]), {
    medianMb: 151,
    minMb: 149,
    maxMb: 171,
    readings: 5,
  });
  assert.deepEqual(summarise([150, 160, 152, 158]), { medianMb: 155, minMb: 150, maxMb: 160, readings: 4 });
  assert.deepEqual(summarise([]), { medianMb: 0, minMb: 0, maxMb: 0, readings: 0 });
});
