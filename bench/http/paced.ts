import { Connection, requestBytes } from './connection.ts';
import { CONNECTIONS, type Shot } from './load.ts';

/**
 * Sends each value once as the Authorization header at an even `rate` per second (open loop: a
 * slow answer does not delay the next request) over CONNECTIONS kept-alive connections.
 * A rate limit on a closed-loop generator would not measure this: a connection that sends its
 * quota back to back makes bursts at the maximum rate, whose latency is that of saturation. A
 * latency here runs from the tick
 * of the pacing timer that found the request due: time spent waiting for a free connection (a
 * slow server) counts, the timer's own lateness (this process) does not.
 */
export async function paced(
  url: string,
  authorizations: readonly string[],
  rate: number,
  expect: number,
): Promise<Shot> {
  const target = new URL(url);
  const requests = authorizations.map((authorization) => requestBytes(target, authorization));
  const count = authorizations.length;
  const latencies: number[] = [];
  const idle: Connection[] = [];
  const waiting: { i: number; queuedAt: number }[] = [];
  const inFlight = new Map<Connection, number>();
  let last = 0;
  let failure: Error | undefined;
  const send = (connection: Connection, i: number, queuedAt: number) => {
    inFlight.set(connection, queuedAt);
    connection.socket.write(requests[i] as Buffer);
  };
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const answered = (connection: Connection, status: number) => {
    last = performance.now();
    latencies.push(last - (inFlight.get(connection) as number));
    if (status !== expect) failure ??= new Error(`${url} answered ${status}`);
    const next = waiting.shift();
    if (next) send(connection, next.i, next.queuedAt);
    else idle.push(connection);
    if (latencies.length === count) done();
  };
  const connections = await Connection.open(Number(target.port), CONNECTIONS, answered);
  idle.push(...connections);
  const start = performance.now();
  let sent = 0;
  const tick = () => {
    const now = performance.now();
    const due = Math.min(count, Math.floor(((now - start) * rate) / 1000) + 1);
    for (; sent < due; sent++) {
      const connection = idle.pop();
      if (connection) send(connection, sent, now);
      else waiting.push({ i: sent, queuedAt: now });
    }
    if (sent < count) setTimeout(tick, 1);
  };
  tick();
  await finished;
  for (const connection of connections) connection.socket.destroy();
  if (failure) throw failure;
  return { rps: ((count - 1) * 1000) / (last - start), latencies };
}
