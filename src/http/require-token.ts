import type { FastifyRequest } from 'fastify';
import { readBearerToken } from '../core/bearer.ts';
import { AuthError } from '../service/auth-error.ts';
import type { Authenticator } from '../service/authenticator.ts';
import type { Principal } from '../service/principal.ts';
import { authorizationValues } from './authorization.ts';

const principals = new WeakMap<FastifyRequest, Principal>();

export type TokenGuard = (request: FastifyRequest) => Promise<void>;

/** The preHandler of every protected route: one verification path, or a 401 with the reason code. */
export function tokenGuard(authenticator: Pick<Authenticator, 'authenticate'>): TokenGuard {
  return async (request) => {
    const read = readBearerToken(authorizationValues(request));
    if ('rejection' in read) throw new AuthError(read.rejection);
    principals.set(request, await authenticator.authenticate(read.token));
  };
}

export function principalOf(request: FastifyRequest): Principal {
  const principal = principals.get(request);
  if (!principal) throw new Error('principalOf called on a route without tokenGuard');
  return principal;
}
