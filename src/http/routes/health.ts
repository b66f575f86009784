import type { FastifyInstance } from 'fastify';
import { refuse } from '../../core/error-codes.ts';
import { ErrorBody, envelopeSchema, send, sendRefusal } from '../envelope.ts';
import { Type } from '../schema.ts';

/**
 * What readiness asks of the store (that it answers, and which kind it is), of the key directory
 * (that it has read the key changes lately), and of Redis when configured.
 */
export interface HealthDeps {
  store: { readonly dialect: string; ping(): Promise<void> };
  /** Says why the key caches are not trusted right now (the key directory's staleReason). */
  keys?: { staleReason(): Promise<string | undefined> };
  /** Fails with an error whose `reason` says why Redis cannot serve (the store's RedisLink). */
  redis?: { ping(): Promise<void> };
}

export const HEALTH_RESPONSES = {
  healthz: { 200: envelopeSchema(Type.Object({ ok: Type.Boolean() })) },
  readyz: {
    200: envelopeSchema(
      Type.Object({
        ok: Type.Boolean(),
        store: Type.String(),
        redis: Type.Optional(Type.Literal('connected')),
      }),
    ),
    503: ErrorBody,
  },
};

/**
 * The probes are what a starting server is asked first (by load balancers, orchestrators and the
 * benchmark's ready check), and their answers are objects built below with exactly the fields, in
 * the order, of their schemas: JSON.stringify writes what the schema serializer would (a test
 * compares them), without loading it (fast-json-stringify and the ajv it needs: 30 ms of the
 * first answer and 3 MB) before the server can say it is up.
 */
const probeSerializer = () => (data: unknown) => JSON.stringify(data);

export function healthRoutes(app: FastifyInstance, { store, keys, redis }: HealthDeps): void {
  app.get(
    '/healthz',
    { schema: { response: HEALTH_RESPONSES.healthz }, serializerCompiler: probeSerializer },
    // Returns nothing: see send in envelope.ts.
    (request, reply) => {
      send(request, reply, 200, { ok: true });
    },
  );

  app.get(
    '/readyz',
    { schema: { response: HEALTH_RESPONSES.readyz }, serializerCompiler: probeSerializer },
    async (request, reply) => {
      try {
        await store.ping();
      } catch {
        return sendRefusal(
          request,
          reply,
          refuse('unavailable', {
            message: 'The store does not answer.',
            hint: 'Check KEYGATE_DATABASE and that the database is up.',
          }),
        );
      }
      const stale = await keys?.staleReason();
      if (stale !== undefined) {
        return sendRefusal(
          request,
          reply,
          refuse('keys_stale', {
            message: `Keygate cannot vouch for keys: ${stale}.`,
            hint: 'Check the store at KEYGATE_DATABASE; the node catches up by itself once it can read the key changes.',
          }),
        );
      }
      if (!redis) return send(request, reply, 200, { ok: true, store: store.dialect });
      try {
        await redis.ping();
      } catch (error) {
        const reason = (error as { reason?: unknown } | undefined)?.reason;
        return sendRefusal(
          request,
          reply,
          refuse('redis_unavailable', {
            message: `Redis cannot serve: ${typeof reason === 'string' ? reason : 'it does not answer'}.`,
            hint: 'Check that Redis at KEYGATE_REDIS_URL is up and reachable from this node; Keygate reconnects by itself.',
          }),
        );
      }
      return send(request, reply, 200, { ok: true, store: store.dialect, redis: 'connected' });
    },
  );
}
