export interface ErrorCodeEntry {
  status: number;
  message: string;
  hint: string;
  /** Sent as Retry-After: the refusal is about load or an outage, not about the request. */
  retryAfterSeconds?: number;
}

/**
 * The closed set of refusals other than token rejections (those are reason-codes.ts): every error
 * the HTTP API and the CLI answer with. A code fixes the HTTP status; its message and hint are
 * defaults that a thrower may make more specific. Services throw codes, never statuses, so the
 * HTTP status, the CLI's exit code and the README's table are all read from this one place.
 */
export const ERROR_CODES = {
  invalid_request: {
    status: 400,
    message: 'The request does not have the form this endpoint expects.',
    hint: 'Check the request against /docs.',
  },
  invalid_input: {
    status: 400,
    message: 'A field has a value that is not accepted; nothing was changed.',
    hint: 'Correct the field the error names and send the request again.',
  },
  invalid_credentials: {
    status: 401,
    message: 'The user name or password is wrong, or the account cannot log in right now.',
    hint: 'Check the email and that pass_hash is the SHA-256 hex of the password; after repeated failures, wait and retry.',
  },
  forbidden: {
    status: 403,
    message: 'You are not allowed to do this.',
    hint: 'Ask an administrator of your organization.',
  },
  not_found: {
    status: 404,
    message: 'There is nothing under this id or path.',
    hint: 'Check the id for typos and the right environment; see /docs for the endpoints.',
  },
  method_not_allowed: {
    status: 405,
    message: 'This endpoint does not take this method.',
    hint: 'See /docs for the methods each endpoint takes.',
  },
  request_timeout: {
    status: 408,
    message: 'The request did not arrive in time: the connection was closed.',
    hint: 'Send the request line, headers and body without pausing; the server waits 10 s at most by default.',
  },
  conflict: {
    status: 409,
    message: 'This clashes with something that exists already; nothing was changed.',
    hint: 'Use the one that exists, or change the request.',
  },
  limit_reached: {
    status: 409,
    message: 'This would take you past a limit on how many live keys may be held; nothing was changed.',
    hint: 'Revoke a key you no longer use, or rotate one instead of adding another.',
  },
  body_too_large: {
    status: 413,
    message: 'The request body is too large.',
    hint: 'Send a smaller body; requests are capped at 64 KiB.',
  },
  unsupported_media_type: {
    status: 415,
    message: 'The body has a content type this endpoint does not read.',
    hint: 'Send JSON (Content-Type: application/json) or a form.',
  },
  rate_limited: {
    status: 429,
    message: 'Too many requests from this address.',
    hint: 'Slow down and retry after the number of seconds in Retry-After.',
  },
  headers_too_large: {
    status: 431,
    message: 'The request headers are too large: the connection was closed.',
    hint: 'Keep all request headers together under 16 KiB; a token is at most 8192 characters.',
  },
  internal_error: {
    status: 500,
    message: 'Something went wrong on the server.',
    hint: 'Retry; if it keeps happening, tell the operator the time of the request.',
  },
  busy: {
    status: 503,
    message: 'Too many logins are being processed right now.',
    hint: 'Retry after the number of seconds in Retry-After.',
    retryAfterSeconds: 1,
  },
  unavailable: {
    status: 503,
    message: 'Keygate cannot reach its store right now, so it cannot answer.',
    hint: 'Retry after the number of seconds in Retry-After; operators: check /readyz and the store.',
    retryAfterSeconds: 1,
  },
  redis_unavailable: {
    status: 503,
    message: 'Keygate cannot reach Redis right now, so it cannot check this request.',
    hint: 'Retry after the number of seconds in Retry-After; operators: check /readyz and Redis at KEYGATE_REDIS_URL.',
    retryAfterSeconds: 1,
  },
  keys_stale: {
    status: 503,
    message: 'Keygate has lost track of key changes in its store, so it cannot vouch for any key right now.',
    hint: 'Retry after the number of seconds in Retry-After; operators: check /readyz and the store.',
    retryAfterSeconds: 1,
  },
  too_many_connections: {
    status: 503,
    message: 'Too many connections are open, from this address or in all: this one was closed.',
    hint: 'Reuse one keep-alive connection (or a small pool) and retry after the number of seconds in Retry-After.',
    retryAfterSeconds: 1,
  },
} as const satisfies Record<string, ErrorCodeEntry>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

/** A refusal as a client sees it: the code, what is wrong, what to change, and the field at fault. */
export interface Refusal {
  code: ErrorCode;
  message: string;
  hint: string;
  field?: string;
}

export interface RefusalDetail {
  message?: string;
  hint?: string;
  field?: string;
}

export function refuse(code: ErrorCode, detail?: RefusalDetail): Refusal {
  const base = ERROR_CODES[code];
  return {
    code,
    message: detail?.message ?? base.message,
    hint: detail?.hint ?? base.hint,
    ...(detail?.field !== undefined && { field: detail.field }),
  };
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/**
 * A refusal thrown by a service or the store. `refusal` is what a client is sent; the HTTP status
 * and the CLI's exit code come from its code. The error's own message is the refusal's, unless an
 * `internalMessage` is given: words for the log and the operator (a SQL error, a file path) that
 * must never reach a client.
 */
export class CodedError extends Error {
  override readonly name: string = 'CodedError';
  readonly refusal: Refusal;
  constructor(
    code: ErrorCode,
    detail?: RefusalDetail,
    options?: ErrorOptions & { internalMessage?: string },
  ) {
    const refusal = refuse(code, detail);
    super(options?.internalMessage ?? refusal.message, options);
    this.refusal = refusal;
  }
}
