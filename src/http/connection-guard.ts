import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { CodedError, ERROR_CODES, type ErrorCodeEntry, type Refusal, refuse } from '../core/error-codes.ts';
import type { ServerLimits } from '../core/server-limits.ts';
import { VERSION } from '../version.ts';
import { RAW_RESPONSE_HEADERS } from './security-headers.ts';

// An `import` from 'node:http' builds the module's ES namespace, which reads every export, the
// lazy ones too: that loads Node's fetch and WebSocket client (undici), which nothing here uses
// (measured: 20 ms of CPU and 2 MB at start). require() reads the one property.
const { STATUS_CODES } = createRequire(import.meta.url)('node:http') as typeof import('node:http');

/** Node's own limit, stated so that the 431 hint stays true whatever flags Node was started with. */
const MAX_HEADER_BYTES = 16 * 1024;

/**
 * A refused connection may read what its client sends and must hear the 503, but not for longer
 * than this; and at most this many refused connections are kept waiting at once, on top of the
 * cap (past that Node drops new connections before any code of ours runs).
 */
const REFUSAL_GRACE_MS = 1_000;
const REFUSALS_IN_FLIGHT = 1_024;
/** A flood of refused connections is one warning a second, not one line each. */
const REFUSAL_LOG_INTERVAL_MS = 1_000;

/**
 * The options Fastify passes to `http.createServer`, and its own timeout options. Node checks the
 * request and header deadlines on a timer: it runs often enough that a deadline is kept to within
 * a fifth of itself, and at least once a second.
 */
export function serverOptions(limits: ServerLimits) {
  const shortest = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return {
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // A socket silent both ways for a whole request timeout while a request is under way is a
    // client that stopped reading its answer: nothing else would ever close it. (Between
    // requests, Node applies the keep-alive timeout instead.)
    connectionTimeout: limits.requestTimeoutMs,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(shortest / 5))),
      maxHeaderSize: MAX_HEADER_BYTES,
      // Node answers a request without Host by itself, with an empty 400; refuseMissingHost does
      // it in the envelope.
      requireHostHeader: false,
    },
  };
}

/**
 * Everything Node would otherwise decide alone at the connection level, in front of the routes:
 * the connection caps and Expect headers (the Host rule is `missingHost`).
 */
export function guardServer(app: FastifyInstance, limits: ServerLimits): void {
  capConnections(app.server, limits, app.log, () => app.keygateMetrics?.refused('too_many_connections'));
  // Node answers an Expect other than 100-continue with an empty 417 by itself. Refusing it is
  // only a MAY (RFC 9110, 10.1.1): the request is served as if the header were absent.
  app.server.on('checkExpectation', (request, response) => app.server.emit('request', request, response));
}

/** RFC 9112, 3.2: an HTTP/1.1 request without a Host header is answered 400 (app.ts runs it first). */
export function missingHost(request: FastifyRequest): CodedError | undefined {
  if (request.raw.httpVersion !== '1.1' || request.headers.host !== undefined) return undefined;
  return new CodedError('invalid_request', {
    message: 'An HTTP/1.1 request must carry a Host header.',
    hint: 'Send "Host: " and the name of the server, as HTTP clients do by themselves.',
  });
}

/**
 * Caps open connections, in all and per client address, in front of Node's HTTP parser: a
 * connection over a cap is answered 503 `too_many_connections` and closed, and never gets a
 * parser, a request or a route. Node's own listener is wrapped rather than raced, so nothing of
 * Node's runs for a refused socket.
 */
function capConnections(
  server: Server,
  limits: ServerLimits,
  log: FastifyBaseLogger,
  counted: () => void,
): void {
  const listeners = server.listeners('connection') as ((socket: Socket) => void)[];
  const [parse] = listeners;
  if (listeners.length !== 1 || !parse) {
    throw new Error(`expected Node's one HTTP connection listener, found ${listeners.length}`);
  }
  server.removeListener('connection', parse);
  server.maxConnections = limits.maxConnections + REFUSALS_IN_FLIGHT;
  // One entry per address with a connection open, deleted with its last one: no larger than the cap.
  const perAddress = new Map<string, number>();
  let open = 0;
  let refused = 0;
  let lastWarning = 0;

  server.on('connection', (socket: Socket) => {
    const address = clientAddress(socket);
    if (address === undefined) {
      // Reset by the client before we saw it.
      socket.destroy();
      return;
    }
    const fromAddress = perAddress.get(address) ?? 0;
    const capPerAddress = limits.maxConnectionsPerAddress;
    if (open >= limits.maxConnections || (capPerAddress > 0 && fromAddress >= capPerAddress)) {
      refused++;
      counted();
      const now = Date.now();
      if (now - lastWarning >= REFUSAL_LOG_INTERVAL_MS) {
        log.warn(
          { remoteAddress: address, open, fromAddress, refused },
          open >= limits.maxConnections ? 'connection cap reached' : 'connection cap per address reached',
        );
        lastWarning = now;
        refused = 0;
      }
      refuseConnection(socket);
      return;
    }
    open++;
    perAddress.set(address, fromAddress + 1);
    socket.once('close', () => {
      open--;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left === 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
    parse.call(server, socket);
  });
}

function clientAddress(socket: Socket): string | undefined {
  const address = socket.remoteAddress;
  // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d; one client, one count.
  return address?.startsWith('::ffff:') ? address.slice(7) : address;
}

function refuseConnection(socket: Socket): void {
  socket.on('error', () => {});
  const timer = setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  // Reading what the client sends lets its close be seen, and keeps the kernel from answering
  // our close with a reset that could discard the 503 before the client reads it.
  socket.resume();
  socket.end(rawResponse(refuse('too_many_connections')));
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses before any route runs (a bad
 * request line, headers over 16 KiB, a request or its headers not arriving in time) is answered
 * in the envelope with a registry code, and the connection is closed.
 */
export function clientErrorHandler(limits: ServerLimits) {
  return function onClientError(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    // Only the code: the error's rawPacket holds the bytes received, Authorization header included.
    this.log.debug({ code: error.code, remoteAddress: socket.remoteAddress }, 'client error');
    const message = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    // A response already under way cannot be followed by another one on the same connection.
    if (socket.writable && !message?.headersSent) {
      const refusal = clientRefusal(error, limits);
      this.keygateMetrics?.refused(refusal.code);
      socket.write(rawResponse(refusal));
    }
    socket.destroy();
  };
}

function clientRefusal(error: NodeJS.ErrnoException, limits: ServerLimits): Refusal {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return refuse('request_timeout', {
        hint: `Send the request line and headers within ${seconds(limits.headersTimeoutMs)} and the whole request within ${seconds(limits.requestTimeoutMs)}, without pausing.`,
      });
    case 'HPE_HEADER_OVERFLOW':
      return refuse('headers_too_large');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return refuse('body_too_large', { message: 'The chunk extensions of the request body are too large.' });
    default:
      return refuse('invalid_request', {
        message: 'The request is not well-formed HTTP/1.1: the connection was closed.',
        hint: 'Send a request line "METHOD /path HTTP/1.1", headers of the form "Name: value", and CRLF line ends.',
      });
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/**
 * A whole HTTP/1.1 answer in the spec envelope, written straight to a socket that has no request
 * object: no request was read, so no time was spent on one.
 */
function rawResponse(refusal: Refusal): string {
  const { status, retryAfterSeconds }: ErrorCodeEntry = ERROR_CODES[refusal.code];
  const body = JSON.stringify({
    status,
    error: refusal,
    debug_info: { delta: '0.000000ms', version: VERSION },
  });
  const headers: (readonly [string, string])[] = [
    ['Content-Type', 'application/json; charset=utf-8'],
    ['Content-Length', String(Buffer.byteLength(body))],
    ...(retryAfterSeconds === undefined
      ? []
      : [['Retry-After', String(retryAfterSeconds)] as [string, string]]),
    ...RAW_RESPONSE_HEADERS,
    ['Connection', 'close'],
  ];
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n${body}`;
}
