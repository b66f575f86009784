import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { refuse } from '../core/error-codes.ts';
import { DEFAULT_MEMORY_BOUNDS } from '../core/memory-bounds.ts';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from '../core/server-limits.ts';
import type { Keygate } from '../service/keygate.ts';
import { accessLog, requestIds } from './access-log.ts';
import { apiDocs } from './api-docs.ts';
import { clientErrorHandler, guardServer, missingHost, serverOptions } from './connection-guard.ts';
import { markStart, sendRefusal } from './envelope.ts';
import { handleError } from './error-handler.ts';
import { withSafeSerializers } from './logging.ts';
import { credentialInQuery } from './query-credentials.ts';
import { type AddressRateLimit, withRedisFailures } from './rate-limit.ts';
import { decorateRequests } from './request-state.ts';
import { tokenGuard } from './require-token.ts';
import { auditRoutes } from './routes/audit.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { forwardAuthRoutes } from './routes/forward-auth.ts';
import { healthRoutes } from './routes/health.ts';
import { helloRoutes } from './routes/hello.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { signatureRoutes } from './routes/signatures.ts';
import { signingKeyRoutes } from './routes/signing-keys.ts';
import { whoamiRoutes } from './routes/whoami.ts';
import { SchemaCompilers } from './schema-compilers.ts';
import { securityHeaders, setRawResponseHeaders } from './security-headers.ts';
import { writeAtTurnEnd } from './turn-writes.ts';

export interface AppOptions {
  logger?: FastifyServerOptions['logger'];
  /** Login attempts per client address per minute (KEYGATE_LOGIN_RATE_LIMIT). */
  loginRateLimit?: number;
  /** Client addresses the rate limiter counts per route (KEYGATE_RATE_LIMIT_ENTRIES). */
  rateLimitEntries?: number;
  /** Timeouts and connection caps (KEYGATE_REQUEST_TIMEOUT_MS and the others); they apply once `listen` is called. */
  limits?: ServerLimits;
  /** Proxies whose X-Forwarded-For names the client (KEYGATE_TRUST_PROXY); none by default. */
  trustProxy?: readonly string[];
  /** Compiles each route schema on its first use; a test passes its own to compile them all. */
  schemaCompilers?: SchemaCompilers;
  /** KEYGATE_ACCESS_LOG: one log line per request (access-log.ts); off, none at all. */
  accessLog?: boolean;
  /** KEYGATE_METRICS_TOKEN: the bearer token GET /metrics asks for; unset, it asks for none. */
  metricsToken?: string | undefined;
}

/** Builds the HTTP face of Keygate. It never listens: `serve` does that, tests use `inject`. */
export async function buildApp(keygate: Keygate, options: AppOptions = {}): Promise<FastifyInstance> {
  const limits = options.limits ?? DEFAULT_SERVER_LIMITS;
  const app = Fastify({
    logger: withSafeSerializers(options.logger ?? false),
    // Fastify's own two lines per request are off: a busy server would write little else. The
    // access log, when asked for, is one line that holds only what is safe to keep. At debug
    // level they are back, through the same safe serializers: one line when a request is read
    // (which the access log, written on the answer, cannot say) and one when it is answered.
    logController: new LogController({ disableRequestLogging: !logsRequests(options.logger) }),
    requestIdHeader: false,
    genReqId: requestIds(),
    ...serverOptions(limits),
    clientErrorHandler: clientErrorHandler(limits),
    // A path Fastify cannot route (bad percent-encoding, an over-long parameter) never reaches a
    // route or a hook. The message does not echo the path: it may hold anything.
    frameworkErrors: (error, request, reply) => {
      setRawResponseHeaders(reply);
      return sendRefusal(
        request,
        reply,
        refuse('invalid_request', {
          message:
            error.code === 'FST_ERR_BAD_URL'
              ? 'The path is not valid: a "%" must start a percent-encoded byte.'
              : 'The path is not valid for any endpoint.',
        }),
      );
    },
    bodyLimit: 64 * 1024,
    // request.ip, which the rate limits and the login throttle key on, is the client's address:
    // behind a trusted proxy, from its X-Forwarded-For; otherwise the peer's.
    trustProxy: options.trustProxy && options.trustProxy.length > 0 ? options.trustProxy.join(',') : false,
    // Rejects bodies with "__proto__" or "constructor.prototype" keys outright.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // A number where a string belongs is an error to report, not a value to convert.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    schemaController: { compilersFactory: (options.schemaCompilers ?? new SchemaCompilers()).factories },
  });
  // Spec 004 sends /auth/hello as `http -f POST`: an (often empty) form body.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    },
  );
  decorateRequests(app);
  const setSecurityHeaders = securityHeaders(app);
  // What every request goes through first, in one synchronous hook (an async hook costs Fastify a
  // promise and a turn of the microtask queue per request): the clock for debug_info, then the
  // security headers, which every refusal after them carries.
  app.addHook('onRequest', (request, reply, done) => {
    markStart(request);
    setSecurityHeaders(request, reply);
    reply.header('x-request-id', request.id);
    done(missingHost(request) ?? credentialInQuery(request));
  });
  guardServer(app, limits);
  writeAtTurnEnd(app);
  app.decorate('keygateMetrics', keygate.metrics);
  if (options.accessLog) accessLog(app);
  app.setErrorHandler(withRedisFailures(keygate.redis, handleError));
  app.setNotFoundHandler((request, reply) =>
    sendRefusal(
      request,
      reply,
      refuse('not_found', {
        message: `There is no ${request.method} ${request.url.split('?')[0]}.`,
        hint: 'See /docs for the endpoints.',
      }),
    ),
  );
  // Before the routes: the OpenAPI document is built from their schemas.
  apiDocs(app);
  // Each route gets only the services it uses, so its dependencies are read off its signature.
  const { store, policy, clock, authenticator, sessions, hasher, keyring, signingKeys, signatures } = keygate;
  const guard = tokenGuard(authenticator, keygate.metrics);
  const rateLimit: AddressRateLimit = {
    max: options.loginRateLimit ?? 20,
    entries: options.rateLimitEntries ?? DEFAULT_MEMORY_BOUNDS.rateLimitEntries,
    ...(keygate.redis && { redis: keygate.redis }),
  };
  healthRoutes(app, { store, keys: keygate.directory, ...(keygate.redis && { redis: keygate.redis }) });
  dashboardRoutes(app);
  metricsRoutes(
    app,
    {
      metrics: keygate.metrics,
      directory: keygate.directory,
      authenticator,
      store: keygate.store,
    },
    { token: options.metricsToken },
  );
  helloRoutes(app, { authenticator, policy });
  signatureRoutes(app, { signatures });
  whoamiRoutes(app, guard);
  await forwardAuthRoutes(app, guard);
  // Registers the rate limiter the signing-key routes use too.
  await sessionRoutes(
    app,
    { sessions, hasher, authenticator, keyring, metrics: keygate.metrics },
    { rateLimit },
  );
  auditRoutes(app, guard, { signingKeys, audit: keygate.audit, clock });
  signingKeyRoutes(app, guard, { signingKeys, policy, clock }, { rateLimit });
  return app;
}

/** Whether the logger's level is debug or finer: the level at which each request is logged as read. */
function logsRequests(logger: AppOptions['logger']): boolean {
  if (!logger || logger === true) return false;
  const level = (logger as { level?: string }).level;
  return level === 'debug' || level === 'trace';
}
