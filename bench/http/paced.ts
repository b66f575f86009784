import { Agent, request } from 'node:http';
import { CONNECTIONS, type Shot } from './load.ts';

/**
 * Sends each value once as the Authorization header at an even `rate` per second (open loop: a
 * slow answer does not delay the next request), over at most CONNECTIONS kept-alive connections.
 * autocannon's `overallRate` cannot measure this: each connection sends its whole per-second
 * quota back to back at the top of every second, so half the maximum rate arrives as bursts at
 * the maximum rate, and the latency seen is that of saturation. A latency here runs from the
 * moment the request is handed to the connection pool, so time queued for a free connection
 * (a slow server) counts, and the timer's own lateness (this process) does not.
 */
export async function paced(
  url: string,
  authorizations: readonly string[],
  rate: number,
  expect: number,
): Promise<Shot> {
  const { hostname, port, pathname } = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const count = authorizations.length;
  const latencies: number[] = new Array(count);
  const start = performance.now();
  let last = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let sent = 0;
      let answered = 0;
      const send = (i: number) => {
        const sentAt = performance.now();
        const headers = { authorization: authorizations[i] as string };
        request({ hostname, port, path: pathname, agent, headers }, (response) => {
          response.resume();
          response.on('end', () => {
            last = performance.now();
            latencies[i] = last - sentAt;
            if (response.statusCode !== expect) reject(new Error(`${url} answered ${response.statusCode}`));
            if (++answered === count) resolve();
          });
        })
          .on('error', reject)
          .end();
      };
      const tick = () => {
        const due = Math.min(count, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
        while (sent < due) send(sent++);
        if (sent < count) setTimeout(tick, 1);
      };
      tick();
    });
  } finally {
    agent.destroy();
  }
  return { rps: ((count - 1) * 1000) / (last - start), latencies };
}
