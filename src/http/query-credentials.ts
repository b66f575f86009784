import type { FastifyRequest } from 'fastify';
import { CodedError } from '../core/error-codes.ts';

const TOKEN_HOME =
  'Send the token in the Authorization header ("Bearer <jwt>"); /auth/hello also reads a "token" field in a JSON body.';
const PASSWORD_HOME =
  'Send user and pass_hash in the JSON body of POST /auth/login. A URL is kept by proxies and browser history: change this password.';
const SECRET_HOME = 'Send credentials in the Authorization header or a JSON body, never in a URL.';

/**
 * Query parameters that carry a credential, by name (compared in lower case, "-" read as "_"),
 * with where the credential belongs. A URL is written to access logs, proxy logs and browser
 * history, so such a request is refused on every route before anything else reads it, and the
 * client learns the right place instead of a habit that happens to work.
 */
const CREDENTIAL_PARAMETERS: ReadonlyMap<string, string> = new Map([
  ...['access_token', 'token', 'id_token', 'refresh_token', 'session_token', 'jwt', 'bearer'].map(
    (name) => [name, TOKEN_HOME] as const,
  ),
  ['authorization', TOKEN_HOME],
  ['hy_app_auth_v1', TOKEN_HOME],
  ...['pass_hash', 'password', 'passwd'].map((name) => [name, PASSWORD_HOME] as const),
  ...['secret', 'client_secret', 'api_key', 'apikey', 'private_key'].map(
    (name) => [name, SECRET_HOME] as const,
  ),
]);

/** A 400 `invalid_request` naming the first credential parameter of the query, if there is one. */
export function credentialInQuery(request: FastifyRequest): CodedError | undefined {
  if (!request.url.includes('?')) return undefined;
  const query = request.query;
  if (typeof query !== 'object' || query === null) return undefined;
  for (const name of Object.keys(query)) {
    const home = CREDENTIAL_PARAMETERS.get(name.toLowerCase().replaceAll('-', '_'));
    if (home !== undefined) {
      return new CodedError('invalid_request', {
        field: name,
        message: `The query parameter "${name}" carries a credential; credentials are never accepted in a URL.`,
        hint: home,
      });
    }
  }
  return undefined;
}
