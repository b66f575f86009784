import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
  type RouteOptions,
} from 'fastify';
import { PACKAGE_VERSION } from '../version.ts';
import { handleError } from './error-handler.ts';

const SWAGGER_OPTIONS = {
  openapi: {
    info: {
      title: 'Keygate',
      version: PACKAGE_VERSION,
      description: 'Key-pair and session authentication for APIs.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http' as const, scheme: 'bearer', bearerFormat: 'JWT' } },
    },
  },
};

/** What @fastify/swagger reads of a route to describe it. */
type RouteDeclaration = Pick<RouteOptions, 'method' | 'url' | 'schema' | 'config'>;

const DOCS_PATHS = [
  '/docs',
  '/docs/',
  '/docs/json',
  '/docs/yaml',
  '/docs/static/index.html',
  '/docs/static/swagger-initializer.js',
  '/docs/static/*',
];

/** Headers of the reference's answer that belong to its own (in-memory) connection. */
const OWN_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date']);

/**
 * The API reference at /docs: the OpenAPI document (/docs/json, /docs/yaml) and swagger-ui, as
 * @fastify/swagger and @fastify/swagger-ui serve them, but loaded on the first request under
 * /docs rather than at start (50 ms of CPU and 3 MB at start, for a page few servers are asked
 * for). @fastify/swagger describes the routes it sees declared, so this records the app's route
 * declarations from here on, and the first request builds a second Fastify instance that never
 * listens, with both plugins and the same declarations; /docs requests are answered by it through
 * `inject`. Call it before the routes it should describe.
 */
export function apiDocs(app: FastifyInstance): void {
  const declared: RouteDeclaration[] = [];
  app.addHook('onRoute', (route) => {
    // The reference adds HEAD to each GET itself; hidden routes (the dashboard, these) are not described.
    if (route.method === 'HEAD' || (route.schema as { hide?: boolean } | undefined)?.hide) return;
    declared.push({ method: route.method, url: route.url, schema: route.schema, config: route.config });
  });

  let reference: Promise<FastifyInstance> | undefined;
  const answer = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!reference) {
      reference = buildReference(app, declared);
      // A failed build is tried again on the next request rather than kept.
      reference.catch(() => {
        reference = undefined;
      });
    }
    // A HEAD is answered as the GET it stands for, without the body, as Fastify does for any route.
    const inner = await (await reference).inject({
      method: 'GET',
      url: request.url,
      headers: request.headers,
    });
    if (inner.statusCode === 404) return reply.callNotFound();
    for (const [name, value] of Object.entries(inner.headers)) {
      if (value !== undefined && !OWN_HEADERS.has(name)) reply.header(name, value);
    }
    reply.code(inner.statusCode);
    return inner.rawPayload.length === 0 ? reply.send() : reply.send(inner.rawPayload);
  };
  // The paths @fastify/swagger-ui serves, so that any other path under /docs is the app's own 404.
  for (const path of DOCS_PATHS) app.get(path, { schema: { hide: true } }, answer);
}

async function buildReference(app: FastifyInstance, declared: RouteDeclaration[]): Promise<FastifyInstance> {
  const [{ default: swagger }, { default: swaggerUi }] = await Promise.all([
    import('@fastify/swagger'),
    import('@fastify/swagger-ui'),
  ]);
  // Its errors are logged and answered as the app's own; its requests are logged by the app.
  const reference = Fastify({
    loggerInstance: app.log,
    logController: new LogController({ disableRequestLogging: true }),
  });
  reference.setErrorHandler(handleError);
  // It describes the routes but never runs them: their schemas need no compiling.
  reference.setValidatorCompiler(() => () => true);
  reference.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await reference.register(swagger, SWAGGER_OPTIONS);
  await reference.register(swaggerUi, { routePrefix: '/docs' });
  for (const route of declared) reference.route({ ...route, handler: async () => undefined });
  await reference.ready();
  return reference;
}
