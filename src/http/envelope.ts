import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  ERROR_CODE_LIST,
  ERROR_CODES,
  type ErrorCode,
  type ErrorCodeEntry,
  type Refusal,
} from '../core/error-codes.ts';
import { REASON_CODE_LIST, type ReasonCode } from '../core/reason-codes.ts';
import { VERSION } from '../version.ts';
import { noteRefusal } from './request-outcome.ts';
import { Type } from './schema.ts';

/** The spec 004 envelope: `{status, results, debug_info: {delta, version}}`. */
export const DebugInfo = Type.Object({ delta: Type.String(), version: Type.String() });

export const ErrorBody = Type.Object({
  status: Type.Integer(),
  error: Type.Object({
    // Documents the closed set; serialization writes the string as it is.
    code: Type.Unsafe<ErrorCode | ReasonCode>({
      type: 'string',
      enum: [...ERROR_CODE_LIST, ...REASON_CODE_LIST],
    }),
    message: Type.String(),
    hint: Type.Optional(Type.String()),
    field: Type.Optional(Type.String()),
    expected: Type.Optional(Type.String()),
    actual: Type.Optional(Type.String()),
  }),
  debug_info: DebugInfo,
});

export function envelopeSchema<T extends ReturnType<typeof Type.Object>>(results: T) {
  return Type.Object({ status: Type.Integer(), results, debug_info: DebugInfo });
}

export function markStart(request: FastifyRequest): void {
  request.keygateStartedAt = performance.now();
}

/** An answer made before the first hook (a path no route matches, say) took no time of ours. */
export function debugInfo(request: FastifyRequest) {
  const start = request.keygateStartedAt;
  const ms = start > 0 ? performance.now() - start : 0;
  return { delta: `${ms.toFixed(6)}ms`, version: VERSION };
}

/**
 * Answers in the envelope and returns the reply, which an async handler returns: Fastify then
 * waits for the answer, which turn-writes.ts holds to the turn's end. A sync handler returns
 * nothing instead: a reply it returned is a thenable to Fastify, which waits for the response to
 * finish through stream listeners (1.3-2 us a request, measured on /healthz and /v1/whoami).
 */
export function send<T>(request: FastifyRequest, reply: FastifyReply, status: number, results: T) {
  return reply.code(status).send({ status, results, debug_info: debugInfo(request) });
}

export interface ErrorDetail {
  code: ErrorCode | ReasonCode;
  message: string;
  hint?: string;
  field?: string;
  expected?: string;
  actual?: string;
}

export function sendError(request: FastifyRequest, reply: FastifyReply, status: number, error: ErrorDetail) {
  noteRefusal(request, error.code);
  return reply.code(status).send({ status, error, debug_info: debugInfo(request) });
}

/** Sends a registry refusal with the status (and Retry-After) its code fixes. */
export function sendRefusal(request: FastifyRequest, reply: FastifyReply, refusal: Refusal) {
  const entry: ErrorCodeEntry = ERROR_CODES[refusal.code];
  if (entry.retryAfterSeconds !== undefined) reply.header('retry-after', String(entry.retryAfterSeconds));
  return sendError(request, reply, entry.status, refusal);
}
