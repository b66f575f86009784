import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AuthError, UnavailableError } from '../service/auth-error.ts';
import { InputError } from '../service/input-error.ts';
import { BusyError } from '../service/password-hasher.ts';
import { LoginFailedError } from '../service/sessions.ts';
import { sendError } from './envelope.ts';

/**
 * Maps every error to the envelope. Reason codes, input errors and Fastify's own 4xx pass
 * through with their detail; anything else is logged and masked, because a raw message can leak
 * internals (a file path, a SQL fragment).
 */
export function handleError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof AuthError) {
    const { code, message, hint, expected, actual } = error.rejection;
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
  if (error instanceof InputError) {
    return sendError(request, reply, error.status, {
      code: 'invalid_input',
      field: error.field,
      message: error.message,
      hint: error.hint,
    });
  }
  if (error instanceof LoginFailedError) {
    // One body for unknown user, wrong password, disabled and locked: nothing to enumerate.
    return sendError(request, reply, 401, {
      code: 'invalid_credentials',
      message: error.message,
      hint: 'Check the email and that pass_hash is the SHA-256 hex of the password; after repeated failures, wait and retry.',
    });
  }
  if (error instanceof BusyError) {
    reply.header('retry-after', '1');
    return sendError(request, reply, 503, {
      code: 'busy',
      message: 'Too many logins are being processed right now.',
      hint: 'Retry after the number of seconds in Retry-After.',
    });
  }
  if (error instanceof UnavailableError) {
    request.log.error({ err: error }, 'dependency unavailable');
    reply.header('retry-after', '1');
    return sendError(request, reply, 503, {
      code: 'unavailable',
      message: 'Keygate cannot reach its store right now, so no token is accepted.',
      hint: 'Retry shortly; operators: check /readyz and the store.',
    });
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const first = fastifyError.validation[0];
    const where = fastifyError.validationContext ?? 'body';
    const path = first?.instancePath ? first.instancePath.slice(1).replace(/\//g, '.') : '';
    const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
    const field = missing ?? path ?? where;
    return sendError(request, reply, 400, {
      code: 'invalid_request',
      field: field || where,
      message: `The ${where}${field ? ` field "${field}"` : ''} ${first?.message ?? 'is invalid'}.`,
      hint: 'See /docs for the request format.',
    });
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return sendError(request, reply, status, {
      code: clientErrorCode(status),
      message: fastifyError.message,
      hint: clientErrorHint(status),
    });
  }
  request.log.error({ err: error }, 'unhandled error');
  return sendError(request, reply, 500, {
    code: 'internal_error',
    message: 'Something went wrong on the server. Nothing was changed.',
    hint: 'Retry; if it keeps happening, tell the operator the time of the request.',
  });
}

function clientErrorCode(status: number): string {
  return (
    {
      404: 'not_found',
      405: 'method_not_allowed',
      413: 'body_too_large',
      415: 'unsupported_media_type',
      429: 'rate_limited',
    }[status] ?? 'invalid_request'
  );
}

function clientErrorHint(status: number): string {
  if (status === 413) return 'Send a smaller body; requests are capped at 64 KiB.';
  if (status === 415) return 'Send JSON (Content-Type: application/json) or a form.';
  if (status === 429) return 'Slow down and retry after the number of seconds in Retry-After.';
  return 'Check the request against /docs.';
}
