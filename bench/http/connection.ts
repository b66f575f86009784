import { connect, type Socket } from 'node:net';

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * One kept-alive connection with one request in flight at a time. It reads only what this
 * benchmark's servers send (a status line and a Content-Length body), which keeps the client far
 * cheaper per request than node:http or autocannon: on a machine whose cores the server and the
 * load generator share, a generator that spends more per request than the server it drives
 * measures itself. A request is bytes built before the timed part.
 */
export class Connection {
  readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly answered: (connection: Connection, status: number) => void;

  constructor(port: number, answered: (connection: Connection, status: number) => void) {
    this.answered = answered;
    this.socket = connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
  }

  /** Resolves once every connection is open. */
  static async open(
    port: number,
    count: number,
    answered: (connection: Connection, status: number) => void,
  ): Promise<Connection[]> {
    const connections = Array.from({ length: count }, () => new Connection(port, answered));
    await Promise.all(
      connections.map(
        (c) =>
          new Promise<void>((resolve, reject) => {
            c.socket.once('connect', resolve);
            c.socket.once('error', reject);
          }),
      ),
    );
    return connections;
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

/** A GET request as bytes, with its Authorization header when there is one. */
export function requestBytes(url: URL, authorization?: string): Buffer {
  const auth = authorization === undefined ? '' : `Authorization: ${authorization}\r\n`;
  return Buffer.from(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\n${auth}\r\n`, 'latin1');
}
