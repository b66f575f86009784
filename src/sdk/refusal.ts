import { isReasonCode, type ReasonCode, type Rejection } from '../core/reason-codes.ts';

/** Why the SDK refused a request: a Keygate reason code, or Keygate could not be asked. */
export type DenialCode = ReasonCode | 'keygate_unavailable';

/** A refusal as the SDK reports it: the HTTP status to answer with and what to change. */
export interface Denial {
  ok: false;
  /** 401 for a refused token; 503 when Keygate could not decide. */
  status: 401 | 503;
  code: DenialCode;
  message: string;
  hint: string;
}

/** A token refused by the SDK's own reading of it: the core's rejection, without its detail. */
export function refusalOf(rejection: Rejection): Denial {
  const { code, message, hint } = rejection;
  return { ok: false, status: 401, code, message, hint };
}

/** Keygate gave no decision: the caller fails closed. */
export function unavailable(message: string): Denial {
  return {
    ok: false,
    status: 503,
    code: 'keygate_unavailable',
    message,
    hint: 'Check that Keygate is running and reachable from this service; the request was refused meanwhile.',
  };
}

/**
 * The reason code of a 401, read from headers only, so the body stays unread for the caller:
 * `X-Keygate-Reason` (forward-auth) or the `error_description` of `WWW-Authenticate`.
 */
export function reasonFromHeaders(headers: Headers): ReasonCode | undefined {
  const reason = headers.get('x-keygate-reason');
  if (isReasonCode(reason)) return reason;
  const described = /error_description="([a-z_]+)"/.exec(headers.get('www-authenticate') ?? '')?.[1];
  if (isReasonCode(described)) return described;
  // A 401 whose WWW-Authenticate carries no error is Keygate's answer to a request with no token.
  return headers.get('www-authenticate')?.toLowerCase().startsWith('bearer') ? 'token_missing' : undefined;
}

/** The `{error: {code, message, hint}}` of an envelope, when the text is one. */
export function errorOfBody(text: string): { code?: string; message?: string; hint?: string } {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; hint?: unknown } };
    const error = body.error ?? {};
    return {
      ...(typeof error.code === 'string' && { code: error.code }),
      ...(typeof error.message === 'string' && { message: error.message }),
      ...(typeof error.hint === 'string' && { hint: error.hint }),
    };
  } catch {
    return {};
  }
}

/** The body an API answers a refusal with: Keygate's own error envelope, without debug_info. */
export function refusalBody(refusal: Denial): string {
  const { status, code, message, hint } = refusal;
  return JSON.stringify({ status, error: { code, message, hint } });
}

/** The `WWW-Authenticate` of a refusal, as Keygate writes it (RFC 6750). */
export function challengeOf(refusal: Denial): string | undefined {
  if (refusal.status !== 401) return undefined;
  return refusal.code === 'token_missing'
    ? 'Bearer realm="keygate"'
    : `Bearer realm="keygate", error="invalid_token", error_description="${refusal.code}"`;
}
