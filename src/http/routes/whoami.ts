import type { FastifyInstance } from 'fastify';
import { ROLES } from '../../core/roles.ts';
import { ErrorBody, envelopeSchema, send } from '../envelope.ts';
import { principalOf, type TokenGuard } from '../require-token.ts';
import { Type } from '../schema.ts';

export const PrincipalSchema = Type.Object({
  org_id: Type.String(),
  sub: Type.String(),
  role: Type.Union(ROLES.map((r) => Type.Literal(r))),
  kid: Type.String(),
  method: Type.Union([Type.Literal('key'), Type.Literal('session')]),
  expires_at: Type.String(),
});

export function whoamiRoutes(app: FastifyInstance, guard: TokenGuard): void {
  app.get(
    '/v1/whoami',
    {
      preHandler: guard,
      schema: { response: { 200: envelopeSchema(PrincipalSchema), 401: ErrorBody, 503: ErrorBody } },
    },
    // Returns nothing: see send in envelope.ts.
    (request, reply) => {
      send(request, reply, 200, principalOf(request));
    },
  );
}
