import type { FastifyReply, FastifyRequest } from 'fastify';
import { readBearerToken } from '../core/bearer.ts';
import { AuthError } from '../service/auth-error.ts';
import type { Authenticator } from '../service/authenticator.ts';
import type { Principal } from '../service/principal.ts';
import { authorizationValues } from './authorization.ts';
import { sendUnauthorized } from './error-handler.ts';

const principals = new WeakMap<FastifyRequest, Principal>();

/** Resolves with the reply when it answered the request itself (Fastify then runs no handler). */
export type TokenGuard = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

/**
 * The preHandler of every protected route: one verification path, or a 401 with the reason code.
 * A refused token is answered here rather than thrown: a flood of bad tokens then costs what a
 * good one does, not a trip through Fastify's error path. Anything else (a store outage) is thrown
 * to the error handler.
 */
export function tokenGuard(authenticator: Pick<Authenticator, 'authenticate'>): TokenGuard {
  return async (request, reply) => {
    const read = readBearerToken(authorizationValues(request));
    if ('rejection' in read) return sendUnauthorized(request, reply, read.rejection);
    try {
      principals.set(request, await authenticator.authenticate(read.token));
      return undefined;
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      return sendUnauthorized(request, reply, error.rejection);
    }
  };
}

export function principalOf(request: FastifyRequest): Principal {
  const principal = principals.get(request);
  if (!principal) throw new Error('principalOf called on a route without tokenGuard');
  return principal;
}
