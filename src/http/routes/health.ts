import type { FastifyInstance } from 'fastify';
import { refuse } from '../../core/error-codes.ts';
import { ErrorBody, envelopeSchema, send, sendRefusal } from '../envelope.ts';
import { Type } from '../schema.ts';

/** What readiness asks of the store: that it answers, and which kind it is. */
export interface HealthDeps {
  store: { readonly dialect: string; ping(): Promise<void> };
}

export function healthRoutes(app: FastifyInstance, { store }: HealthDeps): void {
  app.get(
    '/healthz',
    { schema: { response: { 200: envelopeSchema(Type.Object({ ok: Type.Boolean() })) } } },
    (request, reply) => send(request, reply, 200, { ok: true }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        response: {
          200: envelopeSchema(Type.Object({ ok: Type.Boolean(), store: Type.String() })),
          503: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      try {
        await store.ping();
        return send(request, reply, 200, { ok: true, store: store.dialect });
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
    },
  );
}
