import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { VerificationPolicy } from '../../core/policy.ts';
import { REASON_CODE_LIST } from '../../core/reason-codes.ts';
import { ROLES } from '../../core/roles.ts';
import type { Clock } from '../../core/time.ts';
import { isoTime } from '../../core/time.ts';
import { MAX_GRACE_SECONDS, type RegisterBody, type SigningKeys } from '../../service/signing-keys.ts';
import { ErrorBody, envelopeSchema, send } from '../envelope.ts';
import { type AddressRateLimit, perAddressPerMinute } from '../rate-limit.ts';
import { principalOf, type TokenGuard } from '../require-token.ts';
import { Type } from '../schema.ts';

const Role = Type.Union(ROLES.map((role) => Type.Literal(role)));
const Time = Type.String({ description: 'ISO 8601' });
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

const Owner = Type.Union([
  Type.Object({ type: Type.Literal('org'), id: Type.String() }),
  Type.Object({ type: Type.Literal('user'), id: Type.String(), email: Nullable(Type.String()) }),
]);

const Registration = Type.Object({
  org_id: Type.String(),
  key_id: Type.String(),
  fingerprint: Type.String({ description: 'RFC 7638 JWK thumbprint (SHA-256, base64url)' }),
  algorithms: Type.Array(Type.String()),
  roles: Type.Array(Role),
  default_role: Role,
  owner: Owner,
});

const Usage = Type.Object({
  accepted: Type.Integer({ description: 'tokens signed by this key that were accepted' }),
  refused: Type.Object(
    Object.fromEntries(REASON_CODE_LIST.map((code) => [code, Type.Optional(Type.Integer())])),
    { description: 'tokens naming this key that were refused, by reason code', additionalProperties: false },
  ),
  last_used_at: Nullable(Time),
});

const KeyView = Type.Object({
  key_id: Type.String(),
  org_id: Type.String(),
  status: Type.Union([Type.Literal('active'), Type.Literal('disabled'), Type.Literal('revoked')]),
  label: Nullable(Type.String()),
  fingerprint: Type.String(),
  family: Type.String(),
  bits: Type.Integer(),
  algorithms: Type.Array(Type.String()),
  roles: Type.Array(Role),
  default_role: Role,
  owner: Owner,
  created_at: Time,
  last_used_at: Nullable(Time),
  expires_at: Nullable(Time),
  revokes_at: Nullable(Time),
  replaced_by: Nullable(Type.String()),
  expires_soon: Type.Boolean({ description: 'the key expires within KEYGATE_KEY_EXPIRY_WARNING_DAYS' }),
  expires_in_seconds: Type.Union([Type.Integer(), Type.Null()]),
  usage: Usage,
});

const PublicKey = Type.String({
  minLength: 1,
  maxLength: 16_384,
  description: 'PEM (SPKI, PKCS#1 or a certificate), an OpenSSH line, or a JWK as JSON text',
});

const RegisterSchema = Type.Object(
  {
    public_key: PublicKey,
    label: Type.Optional(Type.String({ maxLength: 200 })),
    roles: Type.Optional(Type.Array(Type.String({ maxLength: 40 }), { maxItems: 8 })),
    default_role: Type.Optional(Type.String({ maxLength: 40 })),
    expires_at: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Integer()])),
    owner: Type.Optional(Type.Union([Type.Literal('self'), Type.Literal('org')])),
  },
  { additionalProperties: false },
);

const RotateSchema = Type.Object(
  {
    public_key: PublicKey,
    grace_seconds: Type.Integer({ minimum: 0, maximum: MAX_GRACE_SECONDS }),
  },
  { additionalProperties: false },
);

const KidParams = Type.Object({ kid: Type.String({ maxLength: 100 }) });

const Refusals = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  429: ErrorBody,
};

export interface SigningKeyDeps {
  signingKeys: Pick<SigningKeys, 'actorFor' | 'register' | 'list' | 'revoke' | 'rotate'>;
  policy: VerificationPolicy;
  clock: Clock;
}

/**
 * Spec 002's registerSigningKey and the rest of a key's life, for a logged-in user (their own
 * keys) or an admin (the organization's). Writes share the login's per-address rate limit.
 */
export function signingKeyRoutes(
  app: FastifyInstance,
  guard: TokenGuard,
  { signingKeys, policy, clock }: SigningKeyDeps,
  options: { rateLimit: AddressRateLimit },
): void {
  const limited = perAddressPerMinute(options.rateLimit);
  const actor = (request: FastifyRequest) => signingKeys.actorFor(principalOf(request));
  const security = [{ bearer: [] }];

  app.post(
    '/auth/signing-keys',
    {
      preHandler: guard,
      config: limited,
      schema: {
        security,
        body: RegisterSchema,
        response: { 201: envelopeSchema(Registration), ...Refusals },
      },
    },
    async (request, reply) =>
      send(
        request,
        reply,
        201,
        await signingKeys.register(await actor(request), request.body as RegisterBody),
      ),
  );

  app.get(
    '/auth/signing-keys',
    {
      preHandler: guard,
      schema: {
        security,
        response: {
          200: envelopeSchema(
            Type.Object({
              keys: Type.Array(KeyView),
              audience: Type.String({ description: 'the aud your tokens must carry' }),
              max_token_lifetime_seconds: Type.Integer(),
              server_time: Time,
            }),
          ),
          ...Refusals,
        },
      },
    },
    async (request, reply) =>
      send(request, reply, 200, {
        keys: await signingKeys.list(await actor(request)),
        audience: policy.audiences[0] as string,
        max_token_lifetime_seconds: policy.maxLifetimeSeconds,
        server_time: isoTime(clock()),
      }),
  );

  app.delete(
    '/auth/signing-keys/:kid',
    {
      preHandler: guard,
      config: limited,
      schema: { security, params: KidParams, response: { 200: envelopeSchema(KeyView), ...Refusals } },
    },
    async (request, reply) => {
      const { kid } = request.params as { kid: string };
      return send(request, reply, 200, await signingKeys.revoke(await actor(request), kid));
    },
  );

  app.post(
    '/auth/signing-keys/:kid/rotate',
    {
      preHandler: guard,
      config: limited,
      schema: {
        security,
        params: KidParams,
        body: RotateSchema,
        response: {
          201: envelopeSchema(Type.Object({ key: Registration, replaced: KeyView })),
          ...Refusals,
        },
      },
    },
    async (request, reply) => {
      const { kid } = request.params as { kid: string };
      const body = request.body as { public_key: string; grace_seconds: number };
      return send(request, reply, 201, await signingKeys.rotate(await actor(request), kid, body));
    },
  );
}
