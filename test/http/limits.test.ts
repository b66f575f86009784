import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import type { ServerLimits } from '../../src/core/server-limits.ts';
import { buildApp } from '../../src/http/app.ts';
import { type Fixture, fixture } from '../helpers.ts';

// Real sockets against a listening app: timeouts and connection caps live in Node's HTTP server,
// which `inject` never touches. Small timeouts keep every test within a few seconds.

const LIMITS: ServerLimits = {
  requestTimeoutMs: 1_500,
  headersTimeoutMs: 500,
  keepAliveTimeoutMs: 300,
  maxConnections: 1_000,
  maxConnectionsPerAddress: 3,
};
/** Deadlines are checked on a timer and the machine is shared: the slack any cut-off may take. */
const SLACK_MS = 1_000;

let f: Fixture;
before(async () => {
  f = await fixture();
});
after(() => f.close());

async function listening(limits: ServerLimits = LIMITS, onRequest?: () => void) {
  const app = await buildApp(f.keygate, { limits, loginRateLimit: 1000 });
  if (onRequest) app.addHook('onRequest', async () => onRequest());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as net.AddressInfo;
  return { app, port };
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  /** Milliseconds from connecting to the server closing the connection. */
  closedAfterMs: number;
}

function parse(raw: string): Omit<Answer, 'closedAfterMs'> {
  const end = raw.indexOf('\r\n\r\n');
  assert.ok(end > 0, `no complete HTTP answer in ${JSON.stringify(raw)}`);
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine?.split(' ')[1]), headers, body: JSON.parse(raw.slice(end + 4)) };
}

/** Connects, lets `talk` write what it likes, and collects everything until the server closes. */
async function exchange(port: number, talk: (socket: net.Socket) => void): Promise<Answer> {
  const started = Date.now();
  const socket = net.connect(port, '127.0.0.1');
  let raw = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    raw += chunk;
  });
  // The server closing while we still write is expected (EPIPE, ECONNRESET).
  socket.on('error', () => {});
  await once(socket, 'connect');
  talk(socket);
  await once(socket, 'close');
  return { ...parse(raw), closedAfterMs: Date.now() - started };
}

/** An open connection the server has certainly counted: it has answered one request on it. */
async function heldConnection(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write('GET /healthz HTTP/1.1\r\nHost: keygate\r\n\r\n');
  const [chunk] = (await once(socket, 'data')) as [Buffer];
  assert.match(chunk.toString(), /^HTTP\/1\.1 200 /);
  return socket;
}

/** Every answer in what a connection received, pipelined ones included, each read by its Content-Length. */
function answersIn(raw: string): Omit<Answer, 'closedAfterMs'>[] {
  const answers = [];
  let at = 0;
  while (at < raw.length) {
    const end = raw.indexOf('\r\n\r\n', at);
    assert.ok(
      raw.startsWith('HTTP/1.1 ', at) && end > 0,
      `not an HTTP answer at ${at}: ${JSON.stringify(raw)}`,
    );
    if (/^HTTP\/1\.1 1\d\d /.test(raw.slice(at, end))) {
      // An interim answer (100 Continue) has no body.
      at = end + 4;
      continue;
    }
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(raw.slice(at, end))?.[1]);
    assert.ok(Number.isInteger(length), `no Content-Length: ${JSON.stringify(raw)}`);
    const bytes = Buffer.from(raw.slice(end + 4, end + 4 + length), 'latin1').toString('utf8');
    answers.push({ ...parse(`${raw.slice(at, end)}\r\n\r\n${bytes}`) });
    at = end + 4 + length;
  }
  return answers;
}

function withoutDelta(body: unknown) {
  const { debug_info, ...rest } = body as { debug_info: { delta: string; version: string } };
  assert.deepEqual(debug_info, { delta: '0.000000ms', version: 'keygate.0.1.0' });
  return rest;
}

const RAW_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  connection: 'close',
};

const TIMEOUT_BODY = {
  status: 408,
  error: {
    code: 'request_timeout',
    message: 'The request did not arrive in time: the connection was closed.',
    hint: 'Send the request line and headers within 500 ms and the whole request within 1500 ms, without pausing.',
  },
};

describe('slow clients are cut off', () => {
  let app: FastifyInstance;
  let port: number;
  before(async () => {
    ({ app, port } = await listening());
  });
  after(() => app.close());

  test('a body dribbled one byte a second is cut off at the request timeout with a 408 envelope', async () => {
    let timer: NodeJS.Timeout | undefined;
    const answer = await exchange(port, (socket) => {
      socket.write(
        'POST /auth/hello HTTP/1.1\r\nHost: keygate\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
      );
      timer = setInterval(() => socket.writable && socket.write(' '), 1_000);
    });
    clearInterval(timer);
    assert.equal(answer.status, 408);
    assert.deepEqual(withoutDelta(answer.body), TIMEOUT_BODY);
    assert.deepEqual(
      { ...answer.headers, 'content-length': undefined },
      { ...RAW_HEADERS, 'content-length': undefined },
    );
    assert.ok(answer.closedAfterMs >= LIMITS.requestTimeoutMs - 50, `${answer.closedAfterMs} ms`);
    assert.ok(answer.closedAfterMs < LIMITS.requestTimeoutMs + SLACK_MS, `${answer.closedAfterMs} ms`);
  });

  test('headers never finished get 408 at the headers timeout, long before the request timeout', async () => {
    const answer = await exchange(port, (socket) =>
      socket.write('GET /healthz HTTP/1.1\r\nHost: keygate\r\n'),
    );
    assert.equal(answer.status, 408);
    assert.deepEqual(withoutDelta(answer.body), TIMEOUT_BODY);
    assert.ok(answer.closedAfterMs >= LIMITS.headersTimeoutMs - 50, `${answer.closedAfterMs} ms`);
    assert.ok(answer.closedAfterMs < LIMITS.requestTimeoutMs, `${answer.closedAfterMs} ms`);
  });

  test('a connection that never sends a byte is closed at the headers timeout', async () => {
    const answer = await exchange(port, () => {});
    assert.equal(answer.status, 408);
    assert.ok(answer.closedAfterMs < LIMITS.requestTimeoutMs, `${answer.closedAfterMs} ms`);
  });

  test('an idle kept-alive connection is closed after the keep-alive timeout', async () => {
    const socket = await heldConnection(port);
    const started = Date.now();
    await once(socket, 'close');
    // Node adds one second to what it announces in Keep-Alive, for clients that round down.
    assert.ok(Date.now() - started < LIMITS.keepAliveTimeoutMs + 1_000 + SLACK_MS);
  });

  test('headers over 16 KiB get 431 in the envelope', async () => {
    const answer = await exchange(port, (socket) =>
      socket.write(
        `GET /v1/whoami HTTP/1.1\r\nHost: keygate\r\nAuthorization: Bearer ${'a'.repeat(17_000)}\r\n\r\n`,
      ),
    );
    assert.equal(answer.status, 431);
    assert.deepEqual(withoutDelta(answer.body), {
      status: 431,
      error: {
        code: 'headers_too_large',
        message: 'The request headers are too large: the connection was closed.',
        hint: 'Keep all request headers together under 16 KiB; a token is at most 8192 characters.',
      },
    });
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
  });

  test('a request line that is not HTTP gets 400 invalid_request in the envelope', async () => {
    for (const junk of [
      'HELLO\r\n\r\n',
      'GET / HTTP/9.9\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n',
    ]) {
      const answer = await exchange(port, (socket) => socket.write(junk));
      assert.equal(answer.status, 400, junk);
      assert.deepEqual(withoutDelta(answer.body), {
        status: 400,
        error: {
          code: 'invalid_request',
          message: 'The request is not well-formed HTTP/1.1: the connection was closed.',
          hint: 'Send a request line "METHOD /path HTTP/1.1", headers of the form "Name: value", and CRLF line ends.',
        },
      });
    }
  });
});

describe('whatever bytes arrive', () => {
  test('every answer on the wire is below 500 and in the envelope, and the server keeps serving', async () => {
    const { app, port } = await listening();
    let seen = 0;
    try {
      const requestLine = fc.constantFrom(
        'GET /healthz HTTP/1.1\r\n',
        'POST /auth/hello HTTP/1.1\r\n',
        'POST /auth/login HTTP/1.1\r\n',
        'GET /v1/whoami?access_token=x HTTP/1.1\r\n',
        'GET /%zz HTTP/1.1\r\n',
        '',
      );
      const junk = fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
        fc.constantFrom(
          'Host: k\r\nContent-Length: 5\r\n\r\n{}',
          'Host: k\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
          'Host: k\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
          'Host: k\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}GET / HTTP/1.1\r\n\r\n',
          'Host: k\r\nExpect: 42-frobnicate\r\n\r\n',
          'Host: k\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}',
          '\r\n',
        ),
      );
      await fc.assert(
        fc.asyncProperty(requestLine, junk, async (line, rest) => {
          const raw = await new Promise<string>((resolve) => {
            const socket = net.connect(port, '127.0.0.1');
            let received = '';
            socket.setEncoding('latin1');
            socket.on('data', (chunk: string) => {
              received += chunk;
            });
            socket.on('error', () => {});
            socket.on('close', () => resolve(received));
            // Half-close: the server sees the end of the request at once instead of waiting for a timeout.
            socket.on('connect', () => socket.end(line + rest, 'latin1'));
          });
          for (const answer of answersIn(raw)) {
            assert.ok(answer.status < 500, `${JSON.stringify(line + rest)} -> ${raw}`);
            const body = answer.body as { status: number; debug_info: unknown };
            assert.equal(body.status, answer.status, raw);
            assert.ok(body.debug_info, raw);
          }
          seen += raw === '' ? 0 : 1;
        }),
        { numRuns: Number(process.env.FUZZ_RUNS ?? 150) },
      );
      assert.ok(seen > 100, `only ${seen} of 150 connections were answered`);
      const still = await exchange(port, (socket) =>
        socket.end('GET /healthz HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n'),
      );
      assert.equal(still.status, 200);
    } finally {
      await app.close();
    }
  });
});

describe('what Node would answer by itself, outside the envelope', () => {
  let app: FastifyInstance;
  let port: number;
  before(async () => {
    ({ app, port } = await listening());
  });
  after(() => app.close());

  test('an HTTP/1.1 request without Host is a 400 envelope', async () => {
    const answer = await exchange(port, (socket) => socket.end('GET /healthz HTTP/1.1\r\n\r\n'));
    assert.equal(answer.status, 400);
    const { debug_info: _, ...body } = answer.body as Record<string, unknown>;
    assert.deepEqual(body, {
      status: 400,
      error: {
        code: 'invalid_request',
        message: 'An HTTP/1.1 request must carry a Host header.',
        hint: 'Send "Host: " and the name of the server, as HTTP clients do by themselves.',
      },
    });
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
    const old = await exchange(port, (socket) => socket.end('GET /healthz HTTP/1.0\r\n\r\n'));
    assert.equal(old.status, 200, 'HTTP/1.0 has no Host requirement');
  });

  test('an Expect header other than 100-continue is ignored, not answered with an empty 417', async () => {
    const answer = await exchange(port, (socket) =>
      socket.end('GET /healthz HTTP/1.1\r\nHost: k\r\nExpect: 42-frobnicate\r\nConnection: close\r\n\r\n'),
    );
    assert.equal(answer.status, 200);
    assert.deepEqual((answer.body as { results: unknown }).results, { ok: true });
  });
});

const TOO_MANY = {
  status: 503,
  error: {
    code: 'too_many_connections',
    message: 'Too many connections are open, from this address or in all: this one was closed.',
    hint: 'Reuse one keep-alive connection (or a small pool) and retry after the number of seconds in Retry-After.',
  },
};

describe('connection caps', () => {
  test('the connection past the per-address cap is answered 503 and closed; its request reaches no route', async () => {
    let requests = 0;
    const { app, port } = await listening(
      { ...LIMITS, headersTimeoutMs: 5_000, requestTimeoutMs: 5_000, keepAliveTimeoutMs: 5_000 },
      () => requests++,
    );
    try {
      const held = [];
      for (let i = 0; i < LIMITS.maxConnectionsPerAddress; i++) held.push(await heldConnection(port));
      assert.equal(requests, 3);
      const refused = await exchange(port, (socket) =>
        socket.write('GET /healthz HTTP/1.1\r\nHost: keygate\r\n\r\n'),
      );
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal(refused.headers.connection, 'close');
      assert.deepEqual(withoutDelta(refused.body), TOO_MANY);
      assert.ok(refused.closedAfterMs < SLACK_MS, `${refused.closedAfterMs} ms`);
      assert.equal(requests, 3, 'the refused connection never got a parser');
      // A closed connection frees its place.
      const first = held.shift() as net.Socket;
      first.destroy();
      await once(first, 'close');
      await waitFor(async () => (await connections(app)) === 2);
      held.push(await heldConnection(port));
      for (const socket of held) socket.destroy();
    } finally {
      await app.close();
    }
  });

  test('the connection past the total cap is answered 503 whatever its address; 0 turns the per-address cap off', async () => {
    const { app, port } = await listening({
      ...LIMITS,
      headersTimeoutMs: 5_000,
      requestTimeoutMs: 5_000,
      keepAliveTimeoutMs: 5_000,
      maxConnections: 5,
      maxConnectionsPerAddress: 0,
    });
    try {
      const held = [];
      for (let i = 0; i < 5; i++) held.push(await heldConnection(port));
      const refused = await exchange(port, () => {});
      assert.equal(refused.status, 503);
      assert.deepEqual(withoutDelta(refused.body), TOO_MANY);
      for (const socket of held) socket.destroy();
    } finally {
      await app.close();
    }
  });
});

function connections(app: FastifyInstance): Promise<number> {
  return new Promise((resolve, reject) =>
    app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

async function waitFor(condition: () => Promise<boolean>, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    assert.ok(Date.now() < deadline, 'condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
