import { CodedError } from '../core/error-codes.ts';

/**
 * Redis could not serve a command (not connected, no answer in time, or it refused for a reason
 * of its own such as loading or out of memory): the request may succeed later, and nothing it
 * needed was recorded. `reason` says why in words safe to show an operator on /readyz (no
 * address, no key); the error's message is ioredis's own, for the log.
 */
export class RedisUnavailableError extends CodedError {
  override readonly name = 'RedisUnavailableError';
  readonly reason: string;
  constructor(reason: string, options?: ErrorOptions & { internalMessage?: string }) {
    super('redis_unavailable', undefined, {
      ...options,
      internalMessage: options?.internalMessage ?? reason,
    });
    this.reason = reason;
  }
}

/** Replies in which Redis says it cannot serve now, by their first word. */
const REFUSALS: Record<string, string> = {
  LOADING: 'Redis is loading its data set',
  BUSY: 'Redis is busy running a script',
  MASTERDOWN: 'the Redis replica has lost its primary',
  READONLY: 'Redis is a read-only replica',
  OOM: 'Redis is out of memory (maxmemory)',
  MISCONF: 'Redis refuses writes after a failed save',
  NOAUTH: 'Redis wants a password: put it in KEYGATE_REDIS_URL',
  WRONGPASS: 'Redis refused the user name or password in KEYGATE_REDIS_URL',
  NOPERM: "the Redis user in KEYGATE_REDIS_URL may not run Keygate's commands",
  CLUSTERDOWN: 'the Redis cluster is down',
  TRYAGAIN: 'Redis asked to try again',
  NOREPLICAS: 'Redis has too few replicas to accept writes',
};

/** Node's socket errors, which ioredis reports when connecting fails, by code. */
const NETWORK: Record<string, string> = {
  ECONNREFUSED: 'the connection was refused',
  ECONNRESET: 'the connection was reset',
  EPIPE: 'the connection was broken',
  ETIMEDOUT: 'connecting timed out',
  EHOSTUNREACH: 'the host cannot be reached',
  ENETUNREACH: 'the network cannot be reached',
  ENOTFOUND: 'the host name is not known',
  EAI_AGAIN: 'the host name could not be resolved',
};

/**
 * Why a command's error from ioredis means Redis cannot serve, or undefined when it does not (a
 * script error or a wrong type is a bug, and stays one: reported as an outage it would never be
 * fixed). Only ioredis's own words and Redis's replies are read, so an error from anything else
 * is never taken for one of Redis.
 */
export function commandOutage(error: unknown, timeoutMs: number): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const { message, name } = error;
  if (message === 'Command timed out') return `Redis did not answer within ${timeoutMs} ms`;
  if (name === 'MaxRetriesPerRequestError' || message === 'Connection is closed.')
    return 'the connection to Redis was lost';
  if (/enableOfflineQueue/.test(message)) return 'Keygate is not connected to Redis';
  if (name === 'ReplyError') {
    const word = message.split(' ', 1)[0] ?? '';
    if (Object.hasOwn(REFUSALS, word)) return REFUSALS[word];
  }
  return undefined;
}

/** What a failed connection attempt (an ioredis 'error' event) says, in words for /readyz. */
export function connectionReason(error: unknown, timeoutMs: number): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && Object.hasOwn(NETWORK, code)) return NETWORK[code];
  return commandOutage(error, timeoutMs);
}
