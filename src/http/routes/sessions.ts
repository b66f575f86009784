import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { readBearerToken } from '../../core/bearer.ts';
import { isErrorCode } from '../../core/error-codes.ts';
import { AuthError } from '../../service/auth-error.ts';
import type { Authenticator } from '../../service/authenticator.ts';
import type { LoginOutcome, Metrics } from '../../service/metrics.ts';
import { BusyError, type PasswordHasher } from '../../service/password-hasher.ts';
import type { ServerKeyring } from '../../service/server-keyring.ts';
import { LoginFailedError, type Sessions } from '../../service/sessions.ts';
import { authorizationValues } from '../authorization.ts';
import { ErrorBody, envelopeSchema, send } from '../envelope.ts';
import { type AddressRateLimit, perAddressPerMinute, rateLimitCounters } from '../rate-limit.ts';
import { refusalCodeOf } from '../request-outcome.ts';
import { Type } from '../schema.ts';

const LoginResults = Type.Object({
  login_timestamp: Type.String(),
  token: Type.Object({ HY_APP_AUTH_v1: Type.String() }),
  user: Type.Object({
    email: Type.String(),
    id: Type.String(),
    screen_name: Type.String(),
    user_name: Type.String(),
  }),
});

// Field checks are the service's, so a malformed pass_hash gets a message that says what to send.
const LoginBody = Type.Object({
  user: Type.Optional(Type.Unknown()),
  pass_hash: Type.Optional(Type.Unknown()),
});

const Jwk = Type.Object({
  kty: Type.String(),
  crv: Type.String(),
  x: Type.String(),
  y: Type.String(),
  kid: Type.String(),
  alg: Type.String(),
  use: Type.String(),
});

export interface SessionDeps {
  sessions: Pick<Sessions, 'login' | 'logout'>;
  hasher: Pick<PasswordHasher, 'saturated'>;
  authenticator: Pick<Authenticator, 'verifySession'>;
  keyring: Pick<ServerKeyring, 'jwks'>;
  /** Where each login's outcome is counted for /metrics. */
  metrics?: Pick<Metrics, 'login'>;
}

export async function sessionRoutes(
  app: FastifyInstance,
  { sessions, hasher, authenticator, keyring, metrics }: SessionDeps,
  options: { rateLimit: AddressRateLimit },
) {
  await app.register(rateLimit, {
    global: false,
    ...rateLimitCounters(options.rateLimit),
    // Only the fields the error handler reads: it turns this into the 429 envelope.
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      message: `Too many login attempts from this address; retry in ${Math.ceil(context.ttl / 1000)} s.`,
    }),
  });

  app.post(
    '/auth/login',
    {
      config: perAddressPerMinute(options.rateLimit),
      // Shed a flood before parsing its body: the hasher could not take it anyway.
      onRequest: async () => {
        if (hasher.saturated) throw new BusyError();
      },
      // Every answer, the shed and rate-limited ones too, which never reach the handler.
      onResponse: (request, reply, done) => {
        metrics?.login(
          loginOutcome(reply.statusCode, reply.hasHeader('retry-after'), refusalCodeOf(request)),
        );
        done();
      },
      schema: {
        body: LoginBody,
        response: {
          202: envelopeSchema(LoginResults),
          400: ErrorBody,
          401: ErrorBody,
          429: ErrorBody,
          503: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const body = (request.body ?? {}) as { user?: unknown; pass_hash?: unknown };
      try {
        return send(request, reply, 202, await sessions.login(body, request.ip));
      } catch (error) {
        // The body stays the one of every failed login; only the header says when to try again.
        if (error instanceof LoginFailedError && error.retryAfterSeconds !== undefined)
          reply.header('retry-after', String(error.retryAfterSeconds));
        throw error;
      }
    },
  );

  app.post(
    '/auth/logout',
    {
      schema: {
        response: { 200: envelopeSchema(Type.Object({ logged_out: Type.Boolean() })), 401: ErrorBody },
      },
    },
    async (request, reply) => {
      const read = readBearerToken(authorizationValues(request));
      if ('rejection' in read) throw new AuthError(read.rejection);
      const claims = await authenticator.verifySession(read.token);
      await sessions.logout(claims);
      return send(request, reply, 200, { logged_out: true });
    },
  );

  // A JWK Set, not the envelope: API gateways and JWT libraries read this shape as it is.
  app.get(
    '/.well-known/jwks.json',
    { schema: { response: { 200: Type.Object({ keys: Type.Array(Jwk) }) } } },
    async () => keyring.jwks(),
  );
}

function loginOutcome(status: number, retryAfter: boolean, code: string | undefined): LoginOutcome {
  if (status === 202) return 'accepted';
  // A failed login's body is the same whatever happened; only Retry-After marks the throttle.
  if (code === 'invalid_credentials' && retryAfter) return 'throttled';
  return code !== undefined && isErrorCode(code) ? code : 'internal_error';
}
