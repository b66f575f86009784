import type { FastifyRequest } from 'fastify';

/**
 * Every Authorization header the client sent. Node keeps only the first of duplicate
 * Authorization headers in `request.headers`, so the raw list is read to see them all.
 */
export function authorizationValues(request: FastifyRequest): string[] {
  const raw = request.raw.rawHeaders;
  const values: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).length === 13 && (raw[i] as string).toLowerCase() === 'authorization') {
      values.push(raw[i + 1] as string);
    }
  }
  return values;
}
