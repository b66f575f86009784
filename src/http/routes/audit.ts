import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AUDIT_ACTION_LIST, auditView } from '../../core/audit.ts';
import { parseLimit, parseSince } from '../../core/audit-query.ts';
import type { Clock } from '../../core/time.ts';
import type { AuditLog } from '../../service/audit-log.ts';
import { InputError } from '../../service/input-error.ts';
import type { SigningKeys } from '../../service/signing-keys.ts';
import { ErrorBody, envelopeSchema, send } from '../envelope.ts';
import { principalOf, type TokenGuard } from '../require-token.ts';
import { Type } from '../schema.ts';

const DEFAULT_LIMIT = 50;

const Actor = Type.Union([
  Type.Object({ type: Type.Literal('operator') }),
  Type.Object({ type: Type.Literal('user'), id: Type.String() }),
  Type.Object({ type: Type.Literal('key'), kid: Type.String() }),
  Type.Object({ type: Type.Literal('anonymous') }),
  Type.Object({ type: Type.Literal('system') }),
]);

const AuditEventView = Type.Object({
  id: Type.Integer(),
  at: Type.String({ description: 'ISO 8601' }),
  org_id: Type.Union([Type.String(), Type.Null()]),
  actor: Actor,
  action: Type.Unsafe<string>({ type: 'string', enum: AUDIT_ACTION_LIST }),
  target: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Record(
    Type.String(),
    Type.Union([Type.String(), Type.Integer(), Type.Boolean(), Type.Null()]),
  ),
});

const AuditQuery = Type.Object(
  {
    since: Type.Optional(
      Type.String({ maxLength: 64, description: 'ISO 8601 time, or a duration back: 1h, 7d' }),
    ),
    limit: Type.Optional(Type.String({ maxLength: 8, description: 'events per page, 1 to 500 (50)' })),
    before: Type.Optional(Type.String({ maxLength: 20, description: 'next_before of the previous page' })),
  },
  { additionalProperties: false },
);

export interface AuditRouteDeps {
  signingKeys: Pick<SigningKeys, 'actorFor'>;
  audit: Pick<AuditLog, 'listFor'>;
  clock: Clock;
}

/** The audit trail of the caller's organization, newest first, for its admins. */
export function auditRoutes(app: FastifyInstance, guard: TokenGuard, deps: AuditRouteDeps): void {
  app.get(
    '/auth/audit',
    {
      preHandler: guard,
      schema: {
        security: [{ bearer: [] }],
        querystring: AuditQuery,
        response: {
          200: envelopeSchema(
            Type.Object({
              events: Type.Array(AuditEventView),
              next_before: Type.Union([Type.Integer(), Type.Null()], {
                description: 'pass as before for the next (older) page; null on the last one',
              }),
            }),
          ),
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const query = readQuery(request, deps.clock());
      const actor = await deps.signingKeys.actorFor(principalOf(request));
      const events = await deps.audit.listFor(actor, query);
      return send(request, reply, 200, {
        events: events.map(auditView),
        next_before: events.length === query.limit ? (events.at(-1)?.id ?? null) : null,
      });
    },
  );
}

function readQuery(request: FastifyRequest, now: number) {
  const raw = request.query as { since?: string; limit?: string; before?: string };
  const limit = raw.limit === undefined ? { ok: true as const, value: DEFAULT_LIMIT } : parseLimit(raw.limit);
  if (!limit.ok) throw badParameter('limit', limit.expected);
  const since = raw.since === undefined ? undefined : parseSince(raw.since, now);
  if (since && !since.ok) throw badParameter('since', since.expected);
  const before = raw.before === undefined ? undefined : Number(raw.before);
  if (before !== undefined && !(/^\d{1,15}$/.test(raw.before ?? '') && before > 0))
    throw badParameter('before', 'an event id (next_before of the previous page)');
  return {
    limit: limit.value,
    ...(since?.ok && { since: since.value }),
    ...(before !== undefined && { before }),
  };
}

/** The value is not echoed: a query string is the client's, and may hold anything. */
function badParameter(name: string, expected: string): InputError {
  return new InputError(
    'invalid_input',
    name,
    `"${name}" must be ${expected}.`,
    `Send ?${name}= ${expected}.`,
  );
}
