import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HTTPMethods,
  preParsingHookHandler,
} from 'fastify';
import { ErrorBody } from '../envelope.ts';
import { headerValue } from '../header-value.ts';
import { principalOf, type TokenGuard } from '../require-token.ts';

/** HEAD comes with GET. A proxy asks with whatever method its client used. */
const METHODS: HTTPMethods[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

const STRING = { type: 'string' } as const;
const IDENTITY_HEADERS = {
  'X-Keygate-Org': { ...STRING, description: 'org_id of the token' },
  'X-Keygate-Sub': {
    ...STRING,
    description:
      'sub of the token; percent-encoded (UTF-8) when it holds anything but visible ASCII other than "%"',
  },
  'X-Keygate-Role': { ...STRING, description: 'admin, user, device or service' },
  'X-Keygate-Kid': { ...STRING, description: 'the key (or session key) that signed the token' },
  'X-Keygate-Method': { ...STRING, enum: ['key', 'session'] },
  'X-Keygate-Expires-At': { ...STRING, description: 'exp of the token, ISO 8601' },
};

const SCHEMA = {
  description:
    'Forward-auth for reverse proxies (nginx auth_request, Traefik ForwardAuth, Envoy ext_authz): ' +
    'checks the token in Authorization as /v1/whoami does. Any method; any path below /auth/verify/; ' +
    'a body is ignored.',
  security: [{ bearer: [] }],
  response: {
    200: {
      description: 'The token is valid: who it speaks for is in the X-Keygate-* headers; no body.',
      type: 'null',
      headers: IDENTITY_HEADERS,
    },
    401: {
      ...ErrorBody,
      description: 'The token is refused; the proxy denies the request.',
      headers: {
        'X-Keygate-Reason': { ...STRING, description: 'the reason code' },
        'WWW-Authenticate': { ...STRING, description: 'Bearer challenge with the reason code' },
      },
    },
    503: ErrorBody,
  },
};

// The body is never read: its type, size or framing must not turn an identity check into a 413
// or 415. Node discards whatever of it is left once the answer is sent.
const ignoreBody = (_request: FastifyRequest, _payload: unknown, done: (error: null) => void) => done(null);

// A Content-Type Fastify cannot parse is answered 415 before any parser runs; unset, every body
// goes to ignoreBody.
const dropContentType: preParsingHookHandler = (request, _reply, payload, done) => {
  if (request.headers['content-type'] !== undefined) request.headers['content-type'] = undefined;
  done(null, payload);
};

/** Returns nothing, not the reply: a reply returned is awaited by Fastify (see send in envelope.ts). */
function answer(request: FastifyRequest, reply: FastifyReply): void {
  const principal = principalOf(request);
  reply
    .code(200)
    .header('x-keygate-org', headerValue(principal.org_id))
    .header('x-keygate-sub', headerValue(principal.sub))
    .header('x-keygate-role', principal.role)
    .header('x-keygate-kid', headerValue(principal.kid))
    .header('x-keygate-method', principal.method)
    .header('x-keygate-expires-at', principal.expires_at)
    .send();
}

/**
 * `/auth/verify` and `/auth/verify/*` (Envoy's ext_authz appends the original path): the token is
 * checked by the one guard every protected route uses, and the answer is an empty 200 carrying
 * the principal in `X-Keygate-*` headers, or the guard's 401 with `X-Keygate-Reason` too.
 * In a plugin of its own, so that its body parser applies to these routes only.
 */
export async function forwardAuthRoutes(app: FastifyInstance, guard: TokenGuard): Promise<void> {
  await app.register(async (scope) => {
    scope.addContentTypeParser('*', ignoreBody);
    const options = {
      method: METHODS,
      preParsing: dropContentType,
      preHandler: guard,
      handler: answer,
    };
    scope.route({ ...options, url: '/auth/verify', schema: SCHEMA });
    // The same route again; the reference describes it once.
    scope.route({ ...options, url: '/auth/verify/*', schema: { ...SCHEMA, hide: true } });
  });
}
