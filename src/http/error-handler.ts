import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CodedError, type ErrorCode, refuse } from '../core/error-codes.ts';
import type { Rejection } from '../core/reason-codes.ts';
import { AuthError } from '../service/auth-error.ts';
import { sendError, sendRefusal } from './envelope.ts';

/**
 * Maps every error to the envelope. Reason codes and registry refusals pass through with their
 * detail, and Fastify's own 4xx become registry codes; anything else is logged and masked,
 * because a raw message can leak internals (a file path, a SQL fragment).
 */
export function handleError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof AuthError) return sendUnauthorized(request, reply, error.rejection);
  if (error instanceof CodedError) {
    // An outage is worth a log line (the error's own message says what the store reported); a
    // refused input or a shed login under a flood is not.
    if (error.refusal.code === 'unavailable') request.log.error({ err: error }, 'store unavailable');
    if (error.refusal.code === 'redis_unavailable') request.log.error({ err: error }, 'redis unavailable');
    return sendRefusal(request, reply, error.refusal);
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const first = fastifyError.validation[0];
    const where = fastifyError.validationContext ?? 'body';
    const path = first?.instancePath ? first.instancePath.slice(1).replace(/\//g, '.') : '';
    const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
    const field = missing ?? path ?? where;
    return sendRefusal(
      request,
      reply,
      refuse('invalid_request', {
        field: field || where,
        message: `The ${where}${field ? ` field "${field}"` : ''} ${first?.message ?? 'is invalid'}.`,
      }),
    );
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    // Fastify's 4xx messages describe the request (bad JSON, wrong content type), never the server.
    return sendRefusal(
      request,
      reply,
      refuse(FASTIFY_CLIENT_ERRORS[status] ?? 'invalid_request', { message: fastifyError.message }),
    );
  }
  request.log.error({ err: error }, 'unhandled error');
  return sendRefusal(request, reply, refuse('internal_error'));
}

/**
 * A token refused: 401 with its reason code in the body, in WWW-Authenticate (RFC 6750) and in
 * X-Keygate-Reason, where a reverse proxy in front of /auth/verify copies it from and a client
 * reads it without parsing either of the others.
 */
export function sendUnauthorized(request: FastifyRequest, reply: FastifyReply, rejection: Rejection) {
  const { code, message, hint, expected, actual } = rejection;
  reply.header('x-keygate-reason', code);
  reply.header(
    'www-authenticate',
    code === 'token_missing'
      ? 'Bearer realm="keygate"'
      : `Bearer realm="keygate", error="invalid_token", error_description="${code}"`,
  );
  return sendError(request, reply, 401, {
    code,
    message,
    hint,
    ...(expected !== undefined && { expected }),
    ...(actual !== undefined && { actual }),
  });
}

/** Fastify's and its plugins' client-error statuses; any other 4xx is answered as a 400. */
const FASTIFY_CLIENT_ERRORS: Partial<Record<number, ErrorCode>> = {
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'body_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};
