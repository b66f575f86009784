import type { Row } from '../harness.ts';
import { type Fixture, WHOAMI } from './fixture.ts';
import { inChild } from './in-child.ts';
import { eachOnce } from './load.ts';
import { interleave, Series } from './series.ts';
import { type Launch, type Server, servePoolThreads, startKeygate } from './servers.ts';
import { bearer, freshRounds, ROUNDS } from './token-sets.ts';
import { signTokens } from './tokens.ts';

/** Fresh tokens per round of each server: about a second at the rate of one. */
const FRESH_PER_ROUND = 5000;
/** Fresh tokens each server verifies before the timed rounds: V8 is still optimising past 3,000. */
const WARM_UP_TOKENS = 5000;
/** libuv's own pool size, which `serve` replaces unless UV_THREADPOOL_SIZE is set. */
const LIBUV_DEFAULT = '4';

/**
 * The pool `serve` sizes for the machine (bin/serve-settings.js) against libuv's default of
 * four threads, set the way an operator would (UV_THREADPOOL_SIZE=4): two servers started for
 * this row on the same database, each warmed up on as many fresh tokens, then fresh RS256-2048
 * tokens interleaved round by round (each gets its own set, as a jti binds once). Neither is the
 * server of the other rows, whose history (its ledger, its JIT) would favour it.
 */
export async function threadPoolRows(
  launch: Launch,
  port: number,
  fixture: Fixture,
  row: (name: string, series: Series, base: Series, baseLabel: string) => Row,
): Promise<Row[]> {
  const sets = {
    sized: await freshRounds(fixture, FRESH_PER_ROUND),
    libuv: await freshRounds(fixture, FRESH_PER_ROUND),
    warmUp: bearer(await signTokens(fixture.keys['RS256-2048'], fixture.orgId, 2 * WARM_UP_TOKENS)),
  };
  const servers: Server[] = [];
  try {
    const sized = await startKeygate(launch, port);
    servers.push(sized);
    const libuv = await startKeygate(launch, port + 1, [], { UV_THREADPOOL_SIZE: LIBUV_DEFAULT });
    servers.push(libuv);
    for (const [i, server] of [sized, libuv].entries()) {
      const source = eachOnce(sets.warmUp.slice(i * WARM_UP_TOKENS, (i + 1) * WARM_UP_TOKENS));
      await inChild({ mode: 'closed', url: `${server.url}${WHOAMI}`, source, expect: 200 });
    }
    const s = { sized: new Series(sized), libuv: new Series(libuv) };
    await interleave(
      [
        { series: s.sized, path: WHOAMI, source: (i) => eachOnce(sets.sized[i] ?? []), expect: 200 },
        { series: s.libuv, path: WHOAMI, source: (i) => eachOnce(sets.libuv[i] ?? []), expect: 200 },
      ],
      ROUNDS,
    );
    return [
      row(
        `GET ${WHOAMI}, fresh RS256-2048, libuv's default pool (UV_THREADPOOL_SIZE=${LIBUV_DEFAULT})`,
        s.libuv,
        s.sized,
        `the pool serve sizes (${servePoolThreads()} threads here)`,
      ),
    ];
  } finally {
    for (const server of servers) await server.stop();
  }
}
