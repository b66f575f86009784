import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { challengeOf, refusalBody } from './refusal.ts';
import type { KeygateIdentity, Verifier } from './verifier.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent the request, once Keygate's preHandler accepted it; null before. */
    keygate: KeygateIdentity | null;
  }
}

export interface KeygateFastifyOptions {
  verifier: Verifier;
}

/**
 * A Fastify preHandler that verifies the request with `verifier`: it sets `request.keygate`,
 * or answers 401 (503 when Keygate cannot decide) with the reason code in the body and in
 * `WWW-Authenticate`, as Keygate itself does. For one route: `{ preHandler: keygatePreHandler(v) }`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { createVerifier, keygatePreHandler } from 'keygate/sdk';
 *
 * const app = Fastify();
 * app.decorateRequest('keygate', null);
 * const verifier = createVerifier({ url: 'http://127.0.0.1:8080' });
 * app.get('/orders', { preHandler: keygatePreHandler(verifier) }, (request) => request.keygate);
 * ```
 */
export function keygatePreHandler(verifier: Verifier) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const result = await verifier.verify(request.headers.authorization);
    if (result.ok) {
      request.keygate = result.identity;
      return;
    }
    const challenge = challengeOf(result);
    if (challenge !== undefined) reply.header('www-authenticate', challenge);
    reply.header('x-keygate-reason', result.code);
    await reply.code(result.status).type('application/json; charset=utf-8').send(refusalBody(result));
  };
}

/**
 * A Fastify plugin that puts Keygate in front of every route of the instance it is registered
 * on. It marks itself as not encapsulated (what `fastify-plugin` does, without the package), so
 * the hook reaches the routes registered beside it. Fastify is needed only for its types: the SDK
 * brings no runtime dependency.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { createVerifier, keygateFastify } from 'keygate/sdk';
 *
 * const app = Fastify();
 * await app.register(keygateFastify, { verifier: createVerifier({ url: 'http://127.0.0.1:8080' }) });
 * app.get('/orders', async (request) => ({ org: request.keygate?.orgId }));
 * ```
 */
export const keygateFastify: FastifyPluginAsync<KeygateFastifyOptions> = Object.assign(
  async (app: Parameters<FastifyPluginAsync<KeygateFastifyOptions>>[0], options: KeygateFastifyOptions) => {
    if (!app.hasRequestDecorator('keygate')) app.decorateRequest('keygate', null);
    app.addHook('preHandler', keygatePreHandler(options.verifier));
  },
  { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'keygate' },
);
