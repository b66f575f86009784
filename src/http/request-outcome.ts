import type { FastifyRequest } from 'fastify';
import { type ErrorCode, isErrorCode } from '../core/error-codes.ts';
import type { ReasonCode } from '../core/reason-codes.ts';
import type { Metrics } from '../service/metrics.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The process's counters (Keygate.metrics), for answers made where no route's dependencies reach. */
    keygateMetrics?: Pick<Metrics, 'refused'>;
  }
}

/**
 * Called for every error answer (envelope.ts sendError): an error code is counted, and either
 * kind remembered for the request. Only refusals pay this, never an accepted request.
 */
export function noteRefusal(request: FastifyRequest, code: ErrorCode | ReasonCode): void {
  request.keygateRefusal = code;
  if (isErrorCode(code)) request.server.keygateMetrics?.refused(code);
}

/** The code each request was refused with, for the login counts and the access log. */
export function refusalCodeOf(request: FastifyRequest): ErrorCode | ReasonCode | undefined {
  return request.keygateRefusal ?? undefined;
}
