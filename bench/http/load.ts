import { Connection, requestBytes } from './connection.ts';

/** Concurrent connections of every load row. */
export const CONNECTIONS = 50;

/** One load run, as this benchmark counts it. */
export interface Shot {
  /** Responses after the first, over the time from the first response to the last. */
  rps: number;
  /** Milliseconds from sending each request to its whole response. */
  latencies: number[];
  /** CPU time the load generator's process used over the run, when it ran in one of its own. */
  generatorCpuMs?: number;
}

/** What one run sends: which Authorization values, in what order, for how long. */
export type Source =
  | { kind: 'repeat'; seconds: number; authorization?: string }
  | { kind: 'per-connection'; seconds: number; authorizations: readonly string[] }
  | { kind: 'each-once'; authorizations: readonly string[] };

/** The same request on every connection for `seconds` (no Authorization header unless given). */
export function repeat(seconds: number, authorization?: string): Source {
  return authorization === undefined
    ? { kind: 'repeat', seconds }
    : { kind: 'repeat', seconds, authorization };
}

/** Each value sent once as the Authorization header, in order, across all connections. */
export function eachOnce(authorizations: readonly string[]): Source {
  return { kind: 'each-once', authorizations };
}

/** Connection i sends `authorizations[i]` on every request (a client reusing its token) for `seconds`. */
export function perConnection(authorizations: readonly string[], seconds: number): Source {
  return { kind: 'per-connection', seconds, authorizations };
}

/** The next request of connection `index`, or undefined when the run has sent all it will. */
type NextRequest = (index: number, now: number) => Buffer | undefined;

function requests(url: URL, source: Source, startedAt: () => number): NextRequest {
  if (source.kind === 'each-once') {
    const all = source.authorizations.map((authorization) => requestBytes(url, authorization));
    let next = 0;
    return () => all[next++];
  }
  const byConnection =
    source.kind === 'repeat'
      ? [requestBytes(url, source.authorization)]
      : source.authorizations.map((authorization) => requestBytes(url, authorization));
  const until = () => startedAt() + source.seconds * 1000;
  return (index, now) => (now < until() ? (byConnection[index % byConnection.length] as Buffer) : undefined);
}

/**
 * A closed-loop run over CONNECTIONS kept-alive connections: each sends its next request as soon
 * as the previous one is answered. Every answer must have the `expect`ed status (a benchmark of
 * error pages by accident measures nothing). Throughput counts from the first response to the
 * last, which leaves connection set-up out.
 */
export async function fire(url: string, source: Source, expect: number): Promise<Shot> {
  const target = new URL(url);
  let start = 0;
  const next = requests(target, source, () => start);
  const latencies: number[] = [];
  const sentAt: number[] = [];
  const statuses = new Map<number, number>();
  let first = 0;
  let last = 0;
  let open = CONNECTIONS;
  let finish: () => void = () => {};
  let failed: (error: Error) => void = () => {};
  const finished = new Promise<void>((resolve, reject) => {
    finish = resolve;
    failed = reject;
  });
  const send = (connection: Connection, index: number, now: number) => {
    const request = next(index, now);
    if (request === undefined) {
      if (--open === 0) finish();
      return;
    }
    sentAt[index] = now;
    connection.socket.write(request);
  };
  const indexOf = new Map<Connection, number>();
  const connections = await Connection.open(Number(target.port), CONNECTIONS, (connection, status) => {
    const now = performance.now();
    const index = indexOf.get(connection) as number;
    latencies.push(now - (sentAt[index] as number));
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    last = now;
    if (first === 0) first = now;
    send(connection, index, now);
  });
  for (const [index, connection] of connections.entries()) {
    indexOf.set(connection, index);
    connection.socket.on('error', failed);
  }
  start = performance.now();
  for (const [index, connection] of connections.entries()) send(connection, index, start);
  try {
    await finished;
  } finally {
    for (const connection of connections) connection.socket.destroy();
  }
  const unexpected = [...statuses].filter(([status]) => status !== expect);
  if (unexpected.length > 0) {
    throw new Error(`${url}: expected only ${expect}, got ${JSON.stringify(Object.fromEntries(statuses))}`);
  }
  return { rps: ((latencies.length - 1) * 1000) / (last - first), latencies };
}
