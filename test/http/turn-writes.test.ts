import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { type Fixture, fixture } from '../helpers.ts';

// Real sockets: what is under test is when answers reach them.
let f: Fixture;
let app: FastifyInstance;
let port: number;
/** For each request the probe route handled, whether the answers handled before it had been written. */
const seen: { id: string; earlierWritten: boolean[] }[] = [];
const replies: FastifyReply[] = [];

before(async () => {
  f = await fixture();
  app = await buildApp(f.keygate);
  app.get<{ Params: { id: string } }>('/probe/:id', (request, reply) => {
    seen.push({ id: request.params.id, earlierWritten: replies.map((earlier) => earlier.raw.writableEnded) });
    replies.push(reply);
    return { id: request.params.id };
  });
  app.get('/faulty', (_request, reply) => {
    reply.raw.writeHead = () => {
      throw new Error('a fault while writing the answer');
    };
    return { id: 'faulty' };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as net.AddressInfo).port;
});
after(async () => {
  await app.close();
  await f.close();
});

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** The whole answer to one request: the socket ends it, as asked by Connection: close. */
function answer(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.once('end', () => resolve(text));
    socket.once('error', reject);
  });
}

/**
 * Sends one request per path, each on a connection of its own, so that the server reads them all
 * in one turn: every connection is accepted first (the server then reads all of them), and every
 * request is on the wire before its next poll, which reports them together. Resolves to the
 * whole answers, in the order of `paths`.
 */
async function inOneTurn(
  paths: readonly string[],
  authorizations: readonly (string | undefined)[] = [],
): Promise<string[]> {
  let accepted = 0;
  let counted = () => {};
  const allAccepted = new Promise<void>((resolve) => {
    counted = () => {
      if (++accepted === paths.length) resolve();
    };
  });
  app.server.on('connection', counted);
  try {
    const sockets = await Promise.all(paths.map(connect));
    await allAccepted;
    return await Promise.all(
      sockets.map((socket, i) => {
        const answered = answer(socket);
        const authorization =
          authorizations[i] === undefined ? '' : `Authorization: ${authorizations[i]}\r\n`;
        socket.write(
          `GET ${paths[i]} HTTP/1.1\r\nHost: localhost\r\n${authorization}Connection: close\r\n\r\n`,
        );
        return answered;
      }),
    );
  } finally {
    app.server.off('connection', counted);
  }
}

test('answers made in one turn of the event loop are written together at its end', async () => {
  const texts = await inOneTurn(['/probe/0', '/probe/1', '/probe/2', '/probe/3']);
  assert.equal(seen.length, 4);
  // None written while the turn's other requests were still being handled.
  for (const { earlierWritten } of seen)
    assert.deepEqual(
      earlierWritten,
      earlierWritten.map(() => false),
    );
  // And each answer is its own request's, whole.
  texts.forEach((text, i) => {
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(text.endsWith(JSON.stringify({ id: String(i) })), text);
  });
});

test('an answer that cannot be written closes its own connection and no other answer of its turn', async () => {
  // The middle request's answer meets a fault when it is written (as Node refusing a header would).
  const texts = await inOneTurn(['/probe/0', '/faulty', '/probe/2']);
  assert.equal(texts[1], '');
  for (const i of [0, 2]) assert.ok(texts[i]?.endsWith(JSON.stringify({ id: String(i) })), texts[i]);
  // And the server goes on answering.
  const socket = await connect();
  const next = answer(socket);
  socket.write('GET /probe/after HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  assert.match(await next, /\{"id":"after"\}$/);
});

test("the tokens of one turn are decided together at its end, each with its own request's answer", async () => {
  const good = f.token({ sub: 'turn-good' });
  const fresh = f.token({ sub: 'turn-fresh' });
  // The good token once before, so that this turn answers it from the verified-token cache.
  for (let i = 0; i < 2; i++) {
    const socket = await connect();
    const answered = answer(socket);
    socket.write(
      `GET /v1/whoami HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${good}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(await answered, /^HTTP\/1\.1 200 /);
  }
  const unknownKid = f.token({ kid: '00000000-0000-4000-8000-000000000000' });
  // When each request is read and each token decided, in one log.
  const log: string[] = [];
  const authenticator = f.keygate.authenticator;
  const authenticateSoon = authenticator.authenticateSoon;
  authenticator.authenticateSoon = (input) => {
    log.push('decide');
    return authenticateSoon.call(authenticator, input);
  };
  const read = () => log.push('read');
  app.server.on('request', read);
  const texts = await inOneTurn(
    ['/v1/whoami', '/v1/whoami', '/v1/whoami', '/v1/whoami', '/v1/whoami', '/auth/verify'],
    [
      `Bearer ${good}`,
      `Bearer ${unknownKid}`,
      'Bearer not.a.token',
      undefined,
      `Bearer ${fresh}`,
      `Bearer ${good}`,
    ],
  );
  assert.match(texts[0] as string, /"sub":"turn-good"/);
  assert.match(texts[1] as string, /^HTTP\/1\.1 401 [\s\S]*x-keygate-reason: kid_unknown/);
  assert.match(texts[2] as string, /^HTTP\/1\.1 401 [\s\S]*x-keygate-reason: token_malformed/);
  assert.match(texts[3] as string, /^HTTP\/1\.1 401 [\s\S]*x-keygate-reason: token_missing/);
  assert.match(texts[4] as string, /"sub":"turn-fresh"/);
  assert.match(texts[5] as string, /^HTTP\/1\.1 200 [\s\S]*x-keygate-sub: turn-good/);
  app.server.off('request', read);
  authenticator.authenticateSoon = authenticateSoon;
  // Every request of the turn read before the first token is decided (the missing one never is).
  assert.deepEqual(log, [...Array(6).fill('read'), ...Array(5).fill('decide')]);
});

test('a lone request gets its whole answer, security headers included', async () => {
  const socket = await connect();
  const answered = answer(socket);
  socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  const text = await answered;
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(text, /\r\nx-content-type-options: nosniff\r\n/);
  assert.match(text, /"results":\{"ok":true\}/);
});
