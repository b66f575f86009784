import type { FastifyInstance } from 'fastify';
import { ACCEPTED_ALGORITHMS } from '../../core/algorithms.ts';
import { CodedError } from '../../core/error-codes.ts';
import { MAX_MESSAGE_BYTES, MAX_MESSAGE_JWS_LENGTH } from '../../core/message-format.ts';
import { REASON_CODE_LIST } from '../../core/reason-codes.ts';
import type { Signatures } from '../../service/signatures.ts';
import { ErrorBody, envelopeSchema, send } from '../envelope.ts';
import { Type } from '../schema.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

const Signer = Type.Union([
  Type.Object({ type: Type.Literal('org'), id: Type.String() }),
  Type.Object({ type: Type.Literal('user'), id: Type.String(), email: Type.String() }),
]);

const VerifyResults = Type.Object({
  valid: Type.Boolean(),
  code: Type.Optional(Type.Union(REASON_CODE_LIST.map((c) => Type.Literal(c)))),
  message: Type.Optional(Type.String()),
  hint: Type.Optional(Type.String()),
  org_id: Nullable(Type.String()),
  key_id: Nullable(
    Type.String({
      description: 'The key that signed; on a refusal, the kid as sent (cut to 80 characters).',
    }),
  ),
  owner: Nullable(Signer),
  alg: Nullable(Type.Union(ACCEPTED_ALGORITHMS.map((a) => Type.Literal(a)))),
  payload: Nullable(Type.String({ description: 'The signed message, as UTF-8 text.' })),
});

const VerifyBody = Type.Object({
  jws: Type.Optional(
    Type.String({
      maxLength: MAX_MESSAGE_JWS_LENGTH,
      description:
        'Required. The signed message as a compact JWS (header.payload.signature), or detached (header..signature, RFC 7515 appendix F) with the message in "payload".',
    }),
  ),
  payload: Type.Optional(
    Type.String({
      maxLength: MAX_MESSAGE_BYTES,
      description: `Only with a detached JWS: the message that was signed, as UTF-8 text (at most ${MAX_MESSAGE_BYTES} bytes).`,
    }),
  ),
});

export interface SignatureDeps {
  signatures: Pick<Signatures, 'verify'>;
}

/**
 * Answers 200 for any signed message, valid or not, with the reason code and what to change;
 * whose key signed it and what it says only when the signature verified. Open to anyone, as
 * /auth/hello is: checking a signature needs nothing but the message.
 */
export function signatureRoutes(app: FastifyInstance, { signatures }: SignatureDeps): void {
  app.post(
    '/v1/signatures/verify',
    {
      schema: {
        body: VerifyBody,
        response: { 200: envelopeSchema(VerifyResults), 400: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const body = (request.body ?? {}) as { jws?: string; payload?: string };
      if (!body.jws) {
        throw new CodedError('invalid_request', {
          field: 'jws',
          message: `The body has ${body.jws === '' ? 'an empty' : 'no'} "jws": it is the signed message to verify.`,
          hint: 'Send {"jws": "<header>.<payload>.<signature>"}, or {"jws": "<header>..<signature>", "payload": "<the message>"} for a detached signature.',
        });
      }
      const verdict = await signatures.verify(
        body.payload === undefined ? { jws: body.jws } : { jws: body.jws, payload: body.payload },
      );
      return send(request, reply, 200, verdict);
    },
  );
}
