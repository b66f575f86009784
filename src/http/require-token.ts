import type { FastifyReply, FastifyRequest } from 'fastify';
import { readBearerToken } from '../core/bearer.ts';
import { AuthError } from '../service/auth-error.ts';
import type { Authenticator } from '../service/authenticator.ts';
import type { Metrics } from '../service/metrics.ts';
import type { Principal } from '../service/principal.ts';
import { authorizationValues } from './authorization.ts';
import { sendUnauthorized } from './error-handler.ts';

/**
 * The preHandler of every protected route: one verification path, or a 401 with the reason code.
 * Callback-style, so that a token the cache answers at once (a client reusing its token) costs
 * no promise. A refused token is answered here rather than passed on: a flood of bad tokens then
 * costs what a good one does, not a trip through Fastify's error path. Anything else (a store
 * outage) goes to the error handler.
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
  return (request, reply, done) => {
    const read = readBearerToken(authorizationValues(request));
    if ('rejection' in read) {
      // The authenticator counts every token it is given; one never given is counted here.
      metrics?.decided('unknown', read.rejection.code);
      // Having answered, a callback-style hook must not call done.
      return void sendUnauthorized(request, reply, read.rejection);
    }
    const answer = authenticator.authenticateSoon(read.token);
    if (answer instanceof AuthError) return void sendUnauthorized(request, reply, answer.rejection);
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
}

export function principalOf(request: FastifyRequest): Principal {
  const principal = request.keygatePrincipal;
  if (!principal) throw new Error('principalOf called on a route without tokenGuard');
  return principal;
}
