import { median, percentile, perSecond, type Row } from '../harness.ts';
import { WHOAMI } from './fixture.ts';
import { inChild } from './in-child.ts';
import { Series } from './series.ts';
import type { Server } from './servers.ts';
import { PACED_ROUNDS, type TokenSets } from './token-sets.ts';

const P99_CEILING_MS = 5;

/** One server's paced rounds: every answer in `series`, and each round's own p99. */
interface Paced {
  series: Series;
  p99s: number[];
}

function pacedRound(paced: Paced, authorizations: string[], rate: number): Promise<void> {
  return paced.series.round(async () => {
    const shot = await inChild({
      mode: 'paced',
      url: `${paced.series.server.url}${WHOAMI}`,
      authorizations,
      rate,
      expect: 200,
    });
    paced.p99s.push(percentile(shot.latencies, 99));
    return shot;
  });
}

function row(label: string, paced: Paced): Row {
  const { series, p99s } = paced;
  const p99 = median(p99s);
  return {
    case: `${label} (median of ${p99s.length} rounds; worst round ${Math.max(...p99s).toFixed(2)} ms)`,
    value: perSecond(series.rate),
    extra: series.cells(p99),
    baseline: `ceiling ${P99_CEILING_MS} ms (ratio = ceiling / p99)`,
    ratio: P99_CEILING_MS / p99,
  };
}

/**
 * Right after the maximum was measured, on the same warm server: latency at half of it, evenly
 * paced (open loop), which is what a service sees at a comfortable load. The reference runs the
 * same at half its own maximum, round for round with Keygate: what this machine allows a server
 * that does less per token; and so does the signature-only server (`floor`), the least work a
 * server can do per token: whether any server here answers within the ceiling at half of what it
 * can do. Neither keeps a ledger, so the same tokens are fresh to them. `maxima` are the rates
 * each reached on the closed-loop rows.
 */
export async function halfRateRows(
  servers: Record<'keygate' | 'reference' | 'floor', Server>,
  sets: TokenSets,
  maxima: Record<'keygate' | 'reference' | 'floor', number>,
): Promise<Row[]> {
  const ours: Paced = { series: new Series(servers.keygate), p99s: [] };
  const theirs: Paced = { series: new Series(servers.reference), p99s: [] };
  const floor: Paced = { series: new Series(servers.floor), p99s: [] };
  for (let round = 0; round < PACED_ROUNDS; round++) {
    const tokens = sets.paced[round] ?? [];
    const all = [
      () => pacedRound(ours, tokens, maxima.keygate / 2),
      () => pacedRound(theirs, tokens, maxima.reference / 2),
      () => pacedRound(floor, tokens, maxima.floor / 2),
    ];
    for (const run of round % 2 === 0 ? all : all.reverse()) await run();
  }
  const outOfReach = P99_CEILING_MS / median(floor.p99s) < 1 ? ' (so the ceiling is out of reach here)' : '';
  return [
    { ...row('fresh RS256-2048 at half the maximum rate, evenly paced: p99', ours), target: 1 },
    row('fresh RS256-2048 at half the maximum rate, evenly paced: p99 of the reference (jose)', theirs),
    row(
      `fresh RS256-2048 at half the maximum rate, evenly paced: p99 of the signature-only server${outOfReach}`,
      floor,
    ),
  ];
}
