import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { refusalCodeOf } from './request-outcome.ts';

/** An incoming X-Request-Id is kept only when it is this short and plain: it goes into every log line. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Fastify's `genReqId`: the client's or proxy's X-Request-Id when it is safe to log as it is,
 * otherwise this process's own: a random prefix per app and a counter, unique across processes
 * and cheaper than a UUID per request.
 */
export function requestIds(): (request: IncomingMessage) => string {
  const prefix = randomBytes(6).toString('base64url');
  let next = 0;
  return (request) => {
    const sent = request.headers['x-request-id'];
    if (typeof sent === 'string' && SAFE_REQUEST_ID.test(sent)) return sent;
    next++;
    return `${prefix}-${next.toString(36)}`;
  };
}

/**
 * KEYGATE_ACCESS_LOG=1: one info line per answered request. Only what is safe to keep: the
 * route's pattern (never the path as sent, nor the query, either of which may hold a credential),
 * the status, the time taken, the client's address and, for a refusal, its code. No header is
 * written, Authorization least of all; the request id is the logger's own `reqId`.
 */
export function accessLog(app: FastifyInstance): void {
  app.addHook('onResponse', (request, reply, done) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? null,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 1000) / 1000,
        remoteAddress: request.ip,
        code: refusalCodeOf(request) ?? null,
      },
      'request',
    );
    done();
  });
}
