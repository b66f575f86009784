/**
 * How long a client may take and how many connections it may hold. Without these, a client that
 * sends its body a byte every few seconds keeps a socket, a descriptor and its buffers for as long
 * as it likes, and a few thousand such clients exhaust the process.
 */
export interface ServerLimits {
  /** The whole request, headers and body, must arrive within this time (408 otherwise). */
  requestTimeoutMs: number;
  /** The request line and headers must arrive within this time of the connection or the last answer. */
  headersTimeoutMs: number;
  /**
   * An idle kept-alive connection is closed after this time. Behind a proxy or load balancer it
   * must be longer than the proxy's own idle timeout, or the proxy reuses a connection at the
   * moment Keygate closes it and its client gets a 502.
   */
  keepAliveTimeoutMs: number;
  /** Open connections the process accepts; past it a connection is answered 503 and closed. */
  maxConnections: number;
  /** Open connections from one client address; 0 turns the cap off (behind a proxy every client shares its address). */
  maxConnectionsPerAddress: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  requestTimeoutMs: 10_000,
  headersTimeoutMs: 5_000,
  // Above the 60 s idle timeout of nginx's upstream keep-alive and of common cloud load balancers.
  // Idle connections are bounded by the caps below, not by this.
  keepAliveTimeoutMs: 65_000,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 256,
};
