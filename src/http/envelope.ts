import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { VERSION } from '../version.ts';

/** The spec 004 envelope: `{status, results, debug_info: {delta, version}}`. */
export const DebugInfo = Type.Object({ delta: Type.String(), version: Type.String() });

export const ErrorBody = Type.Object({
  status: Type.Integer(),
  error: Type.Object({
    code: Type.String(),
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

const startTimes = new WeakMap<FastifyRequest, bigint>();

export function markStart(request: FastifyRequest): void {
  startTimes.set(request, process.hrtime.bigint());
}

export function debugInfo(request: FastifyRequest) {
  const start = startTimes.get(request) ?? process.hrtime.bigint();
  const nanos = Number(process.hrtime.bigint() - start);
  return { delta: `${(nanos / 1e6).toFixed(6)}ms`, version: VERSION };
}

export function send<T>(request: FastifyRequest, reply: FastifyReply, status: number, results: T) {
  return reply.code(status).send({ status, results, debug_info: debugInfo(request) });
}

export interface ErrorDetail {
  code: string;
  message: string;
  hint?: string;
  field?: string;
  expected?: string;
  actual?: string;
}

export function sendError(request: FastifyRequest, reply: FastifyReply, status: number, error: ErrorDetail) {
  return reply.code(status).send({ status, error, debug_info: debugInfo(request) });
}
