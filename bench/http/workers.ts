import type { Row } from '../harness.ts';
import { type Fixture, WHOAMI } from './fixture.ts';
import { eachOnce, perConnection } from './load.ts';
import { interleave, Series } from './series.ts';
import { type Launch, type Server, startKeygate } from './servers.ts';
import { freshRounds, ROUNDS, signFreshWarmUp } from './token-sets.ts';
import { warmUp } from './warm-up.ts';

/** Fresh tokens per round of each server: about a second at the rate of one worker. */
const FRESH_PER_ROUND = 5000;

/**
 * `serve --workers 2`, warmed up first, against the one-worker server already running and warm,
 * on the same database: warm tokens (each connection reusing its own) and fresh RS256-2048
 * tokens (each sent once; every server gets its own set, as a jti binds once), interleaved round
 * by round.
 */
export async function workerRows(
  one: Server,
  launch: Launch,
  port: number,
  fixture: Fixture,
  warm: readonly string[],
  row: (name: string, series: Series, base: Series, baseLabel: string) => Row,
): Promise<Row[]> {
  const freshSets = {
    one: await freshRounds(fixture, FRESH_PER_ROUND),
    two: await freshRounds(fixture, FRESH_PER_ROUND),
  };
  const warmUpSet = await signFreshWarmUp(fixture);
  const two = await startKeygate(launch, port, ['--workers', '2']);
  try {
    // New, warmed up as the one-worker server was before its own rows (unwarmed, its first round
    // of warm tokens read 0.16x of the one worker's, its others 0.68-1.22x).
    await warmUp(two, { warm, fresh: [warmUpSet] });
    const s = {
      warmOne: new Series(one),
      warmTwo: new Series(two),
      freshOne: new Series(one),
      freshTwo: new Series(two),
    };
    await interleave(
      [
        { series: s.warmOne, path: WHOAMI, source: () => perConnection(warm, 1), expect: 200 },
        { series: s.warmTwo, path: WHOAMI, source: () => perConnection(warm, 1), expect: 200 },
        { series: s.freshOne, path: WHOAMI, source: (i) => eachOnce(freshSets.one[i] ?? []), expect: 200 },
        { series: s.freshTwo, path: WHOAMI, source: (i) => eachOnce(freshSets.two[i] ?? []), expect: 200 },
      ],
      ROUNDS,
    );
    return [
      row(`GET ${WHOAMI}, warm tokens, serve --workers 2`, s.warmTwo, s.warmOne, '--workers 1'),
      row(`GET ${WHOAMI}, fresh RS256-2048, serve --workers 2`, s.freshTwo, s.freshOne, '--workers 1'),
    ];
  } finally {
    await two.stop();
  }
}
