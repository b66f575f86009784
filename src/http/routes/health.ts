import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Keygate } from '../../service/keygate.ts';
import { ErrorBody, envelopeSchema, send, sendError } from '../envelope.ts';

export function healthRoutes(app: FastifyInstance, keygate: Keygate): void {
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
        await keygate.store.ping();
        return send(request, reply, 200, { ok: true, store: keygate.store.dialect });
      } catch {
        return sendError(request, reply, 503, {
          code: 'unavailable',
          message: 'The store does not answer.',
          hint: 'Check KEYGATE_DATABASE and that the database is up.',
        });
      }
    },
  );
}
