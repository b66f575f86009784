import type { FastifyReply, FastifyRequest } from 'fastify';
import { readBearerToken } from '../core/bearer.ts';
import { AuthError, Refused } from '../service/auth-error.ts';
import type { Authenticator } from '../service/authenticator.ts';
import type { Metrics } from '../service/metrics.ts';
import type { Principal } from '../service/principal.ts';
import { TurnBatch } from '../service/turn-end.ts';
import { authorizationValues } from './authorization.ts';
import { sendUnauthorized } from './error-handler.ts';

/**
 * The preHandler of every protected route: one verification path, or a 401 with the reason code.
 * Callback-style, so that a token the cache answers at once (a client reusing its token) costs
 * no promise. A refused token is answered here rather than passed on: a flood of bad tokens then
 * costs what a good one does, not a trip through Fastify's error path. Anything else (a store
 * outage) goes to the error handler.
 *
 * The tokens of one turn of the event loop are decided together at its end, back to back, in
 * the turn end's first stage (service/turn-end.ts), for the reason the turn's signatures are:
 * between two requests the HTTP work pushes the token's code and data (the hash, the parser, the
 * caches) out of the CPU's caches. A warm token cost 1.1-1.4 us of CPU in process and 4-5 us
 * more than `/healthz` over HTTP; decided together, warm tokens took 28.2 against 30.4 us of
 * server CPU a request and a flood of unknown kids 33.0 against 36.4 (seven interleaved rounds).
 * Nothing waits longer for it: the turn's answers are written at its end anyway (turn-writes.ts),
 * and a fresh token's signature is planned before the verify stage that follows.
 */
export type TokenGuard = (
  request: FastifyRequest,
  reply: FastifyReply,
  done: (error?: Error) => void,
) => void;

export function tokenGuard(
  authenticator: Pick<Authenticator, 'authenticateSoon'>,
  metrics?: Pick<Metrics, 'decided'>,
): TokenGuard {
  const decide = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    const read = readBearerToken(authorizationValues(request));
    if ('rejection' in read) {
      // The authenticator counts every token it is given; one never given is counted here.
      metrics?.decided('unknown', read.rejection.code);
      // Having answered, a callback-style hook must not call done.
      return void sendUnauthorized(request, reply, read.rejection);
    }
    const answer = authenticator.authenticateSoon(read.token);
    if (answer instanceof Refused) return void sendUnauthorized(request, reply, answer.rejection);
    if (!(answer instanceof Promise)) {
      request.keygatePrincipal = answer;
      return done();
    }
    answer.then(
      (principal) => {
        request.keygatePrincipal = principal;
        done();
      },
      (error: unknown) => {
        if (error instanceof AuthError) sendUnauthorized(request, reply, error.rejection);
        else done(error as Error);
      },
    );
  };
  const tokens = new TurnBatch<HeldToken>('tokens', (held) => {
    for (const { request, reply, done } of held) {
      try {
        decide(request, reply, done);
      } catch (error) {
        // Decided together, a fault in one request's token must not cost the turn's others theirs.
        done(error as Error);
      }
    }
  });
  return (request, reply, done) => tokens.add({ request, reply, done });
}

/** A request whose token waits for the turn's end. */
interface HeldToken {
  request: FastifyRequest;
  reply: FastifyReply;
  done: (error?: Error) => void;
}

export function principalOf(request: FastifyRequest): Principal {
  const principal = request.keygatePrincipal;
  if (!principal) throw new Error('principalOf called on a route without tokenGuard');
  return principal;
}
