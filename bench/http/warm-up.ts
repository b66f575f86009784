import { WHOAMI } from './fixture.ts';
import { inChild } from './in-child.ts';
import { eachOnce, perConnection, repeat, type Source } from './load.ts';
import type { Server } from './servers.ts';

/**
 * Seconds of /healthz that start each server's warm-up. V8 optimises hot code on background
 * threads, which two cores kept busy by a server and the load generator leave little time:
 * measured, a new server's /healthz took 87, then 48, then 28 us of CPU per request over its
 * first ten seconds of mixed load (the generator, also JavaScript, 36 then 17 us), and every row
 * whose rounds fell in that time measured the climb. After five seconds of /healthz, /healthz
 * and the refusal rows read from their first round what they read later; a path not warmed up
 * (warm tokens, in that test) still took twice its later CPU in its first round, hence the paths
 * sent below.
 */
export const WARM_UP_SECONDS = 5;

/** What a server is sent before it is measured; each set of fresh tokens goes to it once. */
export interface WarmUp {
  /** One token per connection, reused (warm tokens), for /v1/whoami and whatever `forwardAuth` names. */
  warm?: readonly string[];
  forwardAuth?: string;
  /** Tokens whose kid no key has, answered 401. */
  unknownKids?: readonly string[];
  /** Sets of fresh tokens, sent in order (token-sets.ts signFreshWarmUp's first). */
  fresh: readonly (readonly string[])[];
}

export async function warmUp(
  server: Server,
  { warm, forwardAuth, unknownKids, fresh }: WarmUp,
): Promise<void> {
  const run = (path: string, source: Source, expect = 200) =>
    inChild({ mode: 'closed', url: `${server.url}${path}`, source, expect });
  await run('/healthz', repeat(WARM_UP_SECONDS));
  if (warm) {
    await run(WHOAMI, perConnection(warm, 1));
    if (forwardAuth) await run(forwardAuth, perConnection(warm, 1));
  }
  if (unknownKids) await run(WHOAMI, eachOnce(unknownKids), 401);
  for (const set of fresh) await run(WHOAMI, eachOnce(set));
}
