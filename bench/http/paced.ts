import { connect, type Socket } from 'node:net';
import { CONNECTIONS, type Shot } from './load.ts';

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * One kept-alive connection with one request in flight at a time. It reads only what this
 * benchmark's servers send (a status line and a Content-Length body), which keeps the client far
 * cheaper per request than node:http: a load generator that falls behind reports its own queue
 * as the server's latency.
 */
class Connection {
  readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly answered: (connection: Connection, status: number) => void;

  constructor(port: number, answered: (connection: Connection, status: number) => void) {
    this.answered = answered;
    this.socket = connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
  }

  private read(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const end = this.buffer.indexOf(HEAD_END);
    if (end < 0) return;
    const head = this.buffer.toString('latin1', 0, end);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
    if (length === undefined) throw new Error(`an answer without Content-Length: ${head}`);
    const total = end + HEAD_END.length + Number(length);
    if (this.buffer.length < total) return;
    this.buffer = this.buffer.subarray(total);
    this.answered(this, Number(head.slice(9, 12)));
  }
}

/**
 * Sends each value once as the Authorization header at an even `rate` per second (open loop: a
 * slow answer does not delay the next request) over CONNECTIONS kept-alive connections.
 * autocannon's `overallRate` cannot measure this: each connection sends its per-second quota
 * back to back at the top of every second, so half the maximum rate arrives as bursts at the
 * maximum rate, and the latency seen is that of saturation. A latency here runs from the tick
 * of the pacing timer that found the request due: time spent waiting for a free connection (a
 * slow server) counts, the timer's own lateness (this process) does not.
 */
export async function paced(
  url: string,
  authorizations: readonly string[],
  rate: number,
  expect: number,
): Promise<Shot> {
  const { host, port, pathname } = new URL(url);
  const count = authorizations.length;
  const latencies: number[] = [];
  const idle: Connection[] = [];
  const waiting: { i: number; queuedAt: number }[] = [];
  const inFlight = new Map<Connection, number>();
  let last = 0;
  let failure: Error | undefined;
  const send = (connection: Connection, i: number, queuedAt: number) => {
    inFlight.set(connection, queuedAt);
    connection.socket.write(
      `GET ${pathname} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: ${authorizations[i]}\r\n\r\n`,
    );
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
  const connections = Array.from({ length: CONNECTIONS }, () => new Connection(Number(port), answered));
  await Promise.all(connections.map((c) => new Promise((resolve) => c.socket.once('connect', resolve))));
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
