import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real server, so that a test can take that server away and bring it
 * back without touching it (other tests use it too): `cut` refuses connections and drops the
 * open ones, as a stopped server does; `stall` keeps connections open but holds back every
 * answer, as a hung one does; `restore` serves again on the same port.
 */
export class TcpProxy {
  private readonly target: { host: string; port: number };
  private server: Server | undefined;
  private listeningOn = 0;
  private readonly sockets = new Set<Socket>();
  private readonly upstreams = new Set<Socket>();
  private stalled = false;

  private constructor(target: { host: string; port: number }) {
    this.target = target;
  }

  /** A proxy to the Redis at `url` (redis://host:port). */
  static async start(url: string): Promise<TcpProxy> {
    const { hostname, port } = new URL(url);
    const proxy = new TcpProxy({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || 6379) });
    await proxy.restore();
    return proxy;
  }

  get port(): number {
    return this.listeningOn;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Refuses new connections and ends the open ones. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  /** Serves again, on the same port. */
  async restore(): Promise<void> {
    this.stalled = false;
    this.server = await this.listen(this.listeningOn);
    this.listeningOn = (this.server.address() as { port: number }).port;
  }

  /** Connections stay open, and what the server says is held back until `resume`. */
  stall(): void {
    this.stalled = true;
    for (const socket of this.upstreams) socket.pause();
  }

  /** Delivers what was held back, in order, and everything after. */
  resume(): void {
    this.stalled = false;
    for (const socket of this.upstreams) socket.resume();
  }

  close(): Promise<void> {
    return this.cut();
  }

  private listen(port: number): Promise<Server> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      this.upstreams.add(upstream);
      upstream.on('close', () => this.upstreams.delete(upstream));
      if (this.stalled) upstream.pause();
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => {});
        socket.on('close', () => {
          this.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(server));
    });
  }
}
