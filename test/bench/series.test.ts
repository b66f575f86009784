import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Series } from '../../bench/http/series.ts';
import type { Server } from '../../bench/http/servers.ts';

/** A row's rounds, as interleave() leaves them: their rates and the run they were taken in. */
function rounds(rates: number[], run: number | undefined): Series {
  const series = new Series({ name: 'a server' } as Server);
  series.rps.push(...rates);
  series.run = run;
  return series;
}

test("a row's rounds are compared with its baseline's round by round, within one run", () => {
  const keygate = rounds([12_000, 15_000, 9_000], 1);
  const reference = rounds([10_000, 10_000, 10_000], 1);
  // Each round over the one run beside it: 1.2, 1.5 and 0.9.
  assert.deepEqual(keygate.roundRatios(reference), [0.9, 1.5]);
  // Not the ratio of the medians' neighbours: the drift between rounds cancels.
  const drifting = rounds([8_000, 12_000, 16_000], 1);
  assert.deepEqual(rounds([10_000, 15_000, 20_000], 1).roundRatios(drifting), [1.25, 1.25]);
});

test('rounds of other runs, of another count, or of the row itself are not compared', () => {
  const rates = [10_000, 11_000, 12_000];
  assert.equal(rounds(rates, 1).roundRatios(rounds(rates, 2)), undefined, 'another run');
  assert.equal(rounds(rates, undefined).roundRatios(rounds(rates, undefined)), undefined, 'no run');
  assert.equal(rounds(rates, 1).roundRatios(rounds([10_000, 11_000], 1)), undefined, 'another count');
  assert.equal(rounds([10_000], 1).roundRatios(rounds([10_000], 1)), undefined, 'one round');
  const itself = rounds(rates, 1);
  assert.equal(itself.roundRatios(itself), undefined, 'itself');
});
