import { readBearerToken } from '../core/bearer.ts';
import type { Rejection } from '../core/reason-codes.ts';

/**
 * The bearer token of an Authorization header as a framework hands it over: Node gives a list
 * when the header came more than once, and the list goes on whole, so two headers are refused
 * instead of one of them being picked.
 */
export function readAuthorization(
  authorization: string | readonly string[] | undefined,
): { token: string } | { rejection: Rejection } {
  return readBearerToken(
    authorization === undefined ? [] : typeof authorization === 'string' ? [authorization] : authorization,
  );
}
