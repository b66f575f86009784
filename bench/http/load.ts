import autocannon from 'autocannon';

/** Concurrent connections of every load row. */
export const CONNECTIONS = 50;

/** One load run, as this benchmark counts it. */
export interface Shot {
  /** Responses after the first, over the time from the first response to the last. */
  rps: number;
  /** Milliseconds from sending each request to its whole response. */
  latencies: number[];
}

/** Each value sent once as the Authorization header, in order, across all connections. */
export function eachOnce(authorizations: readonly string[]): Partial<autocannon.Options> {
  let next = 0;
  return {
    amount: authorizations.length,
    requests: [
      {
        setupRequest: (request) => {
          request.headers.authorization = authorizations[next++ % authorizations.length] as string;
          return request;
        },
      },
    ],
  };
}

/** Connection i sends `authorizations[i]` on every request (a client reusing its token) for `seconds`. */
export function perConnection(
  authorizations: readonly string[],
  seconds: number,
): Partial<autocannon.Options> {
  let next = 0;
  return {
    duration: seconds,
    setupClient: (client) => client.setHeaders({ authorization: authorizations[next++] as string }),
  };
}

/**
 * Runs autocannon against `url` and checks that every answer had the `expect`ed status (a
 * benchmark of error pages by accident measures nothing). Throughput is counted here rather
 * than taken from autocannon, whose average rounds a fixed-amount run up to whole seconds.
 * Counting from the first response leaves out connection setup; the cost is one request in
 * thousands.
 */
export async function fire(
  url: string,
  source: Partial<autocannon.Options>,
  expect: number,
  overallRate?: number,
): Promise<Shot> {
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let first = 0;
  let last = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      { url, connections: CONNECTIONS, timeout: 30, ...source, ...(overallRate && { overallRate }) },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      last = performance.now();
      if (first === 0) first = last;
      latencies.push(ms);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    });
  });
  const unexpected = [...statuses].filter(([status]) => status !== expect);
  if (unexpected.length > 0 || result.errors > 0 || result.resets > 0) {
    throw new Error(
      `${url}: expected only ${expect}, got ${JSON.stringify(Object.fromEntries(statuses))}, ${result.errors} errors, ${result.resets} resets`,
    );
  }
  return { rps: ((latencies.length - 1) * 1000) / (last - first), latencies };
}
