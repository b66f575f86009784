import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { readBearerToken } from '../../core/bearer.ts';
import { refuse } from '../../core/error-codes.ts';
import type { MetricSources } from '../../service/metrics-registry.ts';
import { authorizationValues } from '../authorization.ts';
import { ErrorBody, sendRefusal } from '../envelope.ts';

export interface MetricsRouteOptions {
  /** KEYGATE_METRICS_TOKEN: when set, a scrape must send it as a bearer token. */
  token?: string | undefined;
}

/**
 * GET /metrics in Prometheus's text format. Every label is a closed set (no kid, organization or
 * user), so what it shows is how much and how well, never who. prom-client is loaded by the first
 * scrape, not at start: a server nobody scrapes does not pay for it.
 */
export function metricsRoutes(
  app: FastifyInstance,
  sources: MetricSources,
  options: MetricsRouteOptions = {},
) {
  const expected = options.token === undefined ? undefined : digest(options.token);
  let registry: Promise<Registry> | undefined;
  app.get('/metrics', { schema: { hide: true, response: { 403: ErrorBody } } }, async (request, reply) => {
    if (expected && !sentToken(request, expected)) {
      return sendRefusal(
        request,
        reply,
        refuse('forbidden', {
          message: 'GET /metrics needs the metrics token.',
          hint: 'Send "Authorization: Bearer <token>" with the token set in KEYGATE_METRICS_TOKEN.',
        }),
      );
    }
    registry ??= import('../../service/metrics-registry.ts').then((module) =>
      module.metricsRegistry(sources),
    );
    return sendText(reply, await registry);
  });
}

// The text format is the body as it is: no response schema, whose serializer would quote it.
async function sendText(reply: FastifyReply, registry: Registry) {
  return reply
    .code(200)
    .type(registry.contentType)
    .send(await registry.metrics());
}

// Digests of equal length, so that the comparison takes the same time whatever was sent.
function digest(token: string): Buffer {
  return hash('sha256', token, 'buffer');
}

function sentToken(request: FastifyRequest, expected: Buffer): boolean {
  const read = readBearerToken(authorizationValues(request));
  return 'token' in read && timingSafeEqual(digest(read.token), expected);
}
