import type { FastifyInstance } from 'fastify';
import type { ErrorCode } from '../core/error-codes.ts';
import type { ReasonCode } from '../core/reason-codes.ts';
import type { Principal } from '../service/principal.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** performance.now() when the request reached the first hook (envelope.ts markStart); 0 before. */
    keygateStartedAt: number;
    /** Who the token guard let through (require-token.ts); null on a route without it. */
    keygatePrincipal: Principal | null;
    /** The code the request was refused with (request-outcome.ts noteRefusal); null otherwise. */
    keygateRefusal: ErrorCode | ReasonCode | null;
  }
}

/**
 * What Keygate keeps about each request, as properties every request is built with. They were
 * WeakMaps keyed by the request, each entry an ephemeron the collector must trace apart, and
 * one held a BigInt per request: measured alone, two such maps cost 4.4-4.9 us per request
 * against 0.1-0.6 us for fields (new request objects, as under load). Declared before any route,
 * so that every request object has the same shape from the start.
 */
export function decorateRequests(app: FastifyInstance): void {
  app.decorateRequest('keygateStartedAt', 0);
  app.decorateRequest('keygatePrincipal', null);
  app.decorateRequest('keygateRefusal', null);
}
