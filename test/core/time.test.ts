import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoTime } from '../../src/core/time.ts';

test('isoTime: whole seconds in UTC, the same answer on a repeat and after another value', () => {
  assert.equal(isoTime(0), '1970-01-01T00:00:00Z');
  assert.equal(isoTime(0), '1970-01-01T00:00:00Z');
  assert.equal(isoTime(1_796_365_064), '2026-12-04T06:17:44Z');
  assert.equal(isoTime(1_796_365_065), '2026-12-04T06:17:45Z');
  assert.equal(isoTime(0), '1970-01-01T00:00:00Z');
  assert.throws(() => isoTime(Number.NaN), RangeError);
  assert.equal(isoTime(1), '1970-01-01T00:00:01Z');
});
