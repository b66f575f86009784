import { perSecond, type Row } from '../harness.ts';
import { WHOAMI } from './fixture.ts';
import { inChild } from './in-child.ts';
import { Series } from './series.ts';
import type { Server } from './servers.ts';
import type { TokenSets } from './token-sets.ts';

const P99_CEILING_MS = 5;

/**
 * Right after the maximum was measured, on the same warm server: latency at half of it, evenly
 * paced (open loop), which is what a service sees at a comfortable load.
 */
export async function halfRateRows(
  keygate: Server,
  reference: Server,
  sets: TokenSets,
  maximum: number,
  referenceMaximum: number,
): Promise<Row[]> {
  const even = new Series(keygate);
  await even.round(() =>
    inChild({
      mode: 'paced',
      url: `${keygate.url}${WHOAMI}`,
      authorizations: sets.paced,
      rate: maximum / 2,
      expect: 200,
    }),
  );
  // The same at half the reference's own maximum: what this machine allows a server that does
  // less per token. It keeps no ledger, so the same tokens are fresh to it.
  const referenceEven = new Series(reference);
  await referenceEven.round(() =>
    inChild({
      mode: 'paced',
      url: `${reference.url}${WHOAMI}`,
      authorizations: sets.paced,
      rate: referenceMaximum / 2,
      expect: 200,
    }),
  );
  return [
    {
      case: 'fresh RS256-2048 at half the maximum rate, evenly paced: p99',
      value: perSecond(even.rate),
      extra: even.cells(),
      baseline: `ceiling ${P99_CEILING_MS} ms (ratio = ceiling / p99)`,
      ratio: P99_CEILING_MS / even.p(99),
      target: 1,
    },
    {
      case: 'fresh RS256-2048 at half the maximum rate, evenly paced: p99 of the reference (jose)',
      value: perSecond(referenceEven.rate),
      extra: referenceEven.cells(),
      baseline: `ceiling ${P99_CEILING_MS} ms (ratio = ceiling / p99)`,
      ratio: P99_CEILING_MS / referenceEven.p(99),
    },
  ];
}
