import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ACCEPTED_ALGORITHMS } from '../../core/algorithms.ts';
import { readBearerToken } from '../../core/bearer.ts';
import type { VerificationPolicy } from '../../core/policy.ts';
import { REASON_CODE_LIST } from '../../core/reason-codes.ts';
import type { Authenticator } from '../../service/authenticator.ts';
import { authorizationValues } from '../authorization.ts';
import { ErrorBody, envelopeSchema, send } from '../envelope.ts';
import { Type } from '../schema.ts';
import { PrincipalSchema } from './whoami.ts';

const Check = Type.Object({
  name: Type.String(),
  ok: Type.Boolean(),
  skipped: Type.Optional(Type.Boolean()),
  code: Type.Optional(Type.String()),
  message: Type.String(),
  expected: Type.Optional(Type.String()),
  actual: Type.Optional(Type.String()),
  hint: Type.Optional(Type.String()),
  warning: Type.Optional(Type.String()),
});

const JsonObjectOrNull = Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]);

const HelloResults = Type.Object({
  valid: Type.Boolean(),
  kind: Type.Optional(Type.Union([Type.Literal('key'), Type.Literal('session')])),
  code: Type.Optional(Type.Union(REASON_CODE_LIST.map((c) => Type.Literal(c)))),
  checks: Type.Array(Check),
  header: JsonObjectOrNull,
  claims: JsonObjectOrNull,
  principal: Type.Optional(PrincipalSchema),
  server_time: Type.String(),
  clock_skew_seconds: Type.Optional(Type.Integer()),
  accepted: Type.Object({
    audiences: Type.Array(Type.String()),
    algorithms: Type.Array(Type.String()),
    leeway_seconds: Type.Integer(),
    max_lifetime_seconds: Type.Integer(),
  }),
});

const HelloBody = Type.Union([
  Type.Object({ token: Type.Optional(Type.String({ maxLength: 16384 })) }),
  Type.Null(),
]);

/**
 * /auth/hello answers 200 for any token, valid or not: every check in order with what was
 * expected, what was seen and what to change. It never binds a jti, so asking is harmless.
 */
export interface HelloDeps {
  authenticator: Pick<Authenticator, 'explain'>;
  policy: VerificationPolicy;
}

export function helloRoutes(app: FastifyInstance, { authenticator, policy }: HelloDeps): void {
  const schema = { response: { 200: envelopeSchema(HelloResults), 503: ErrorBody } };
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const fromBody = (request.body as { token?: string } | null | undefined)?.token;
    const headers = authorizationValues(request);
    const read = readBearerToken(headers.length === 0 && fromBody ? [fromBody] : headers);
    const report = await authenticator.explain('token' in read ? read.token : read.rejection);
    return send(request, reply, 200, {
      ...report,
      accepted: {
        audiences: [...policy.audiences],
        algorithms: [...ACCEPTED_ALGORITHMS],
        leeway_seconds: policy.leewaySeconds,
        max_lifetime_seconds: policy.maxLifetimeSeconds,
      },
    });
  };
  app.get('/auth/hello', { schema }, handler);
  app.post('/auth/hello', { schema: { ...schema, body: HelloBody } }, handler);
}
