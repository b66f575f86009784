import type { FastifyInstance, FastifyReply, FastifyRequest, onSendHookHandler } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

/** JSON answers load nothing, run nothing and are never framed: a browser that renders one gets a dead page. */
const API_CSP = {
  defaultSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

/**
 * The API reference (swagger-ui) runs its own scripts and styles, fetches the OpenAPI document and
 * "Try it out" calls, all from this origin; its logo is a data: image. Nothing inline but one
 * style named by its hash, nothing from elsewhere. No upgrade-insecure-requests: on a plain-http host it would break the page.
 */
const DOCS_CSP = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  // The one inline <style> swagger-ui writes (in the SVG of its top-bar logo), by its hash.
  styleSrc: ["'self'", "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

/**
 * The dashboard runs only its own module scripts and stylesheet: no inline script or style (not
 * even a style attribute), so an injected string can never run, and it talks to this origin only.
 * Trusted Types with no policy make every string-to-HTML sink (innerHTML and the like) throw: the
 * page builds its DOM from elements and text nodes. Its one image, the icon, is a file of its
 * own, so images need no data: URLs either.
 */
const DASHBOARD_CSP = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  connectSrc: ["'self'"],
  imgSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
  requireTrustedTypesFor: ["'script'"],
  trustedTypes: ["'none'"],
};

const HELMET_OPTIONS: HelmetOptions = {
  // HSTS is for whoever terminates TLS: sent from here it would bind every subdomain of a host
  // behind a proxy for a year, and a browser ignores it over plain http anyway.
  strictTransportSecurity: false,
  xFrameOptions: { action: 'deny' },
};

/**
 * Headers for answers written straight to a socket, where no hook runs (a connection refused
 * over a cap, a request Node's parser refused): the ones that matter for a JSON error.
 */
export const RAW_RESPONSE_HEADERS: readonly (readonly [string, string])[] = [
  ['Cache-Control', 'no-store'],
  ['X-Content-Type-Options', 'nosniff'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
];

/**
 * What a cache may keep of a 200. Answers carry tokens, principals and key details, so nothing is
 * stored by default; the JWK Set is public and read by every gateway, so it may be kept five minutes
 * (JWT libraries fetch it again on an unknown kid). The API reference's static files say their
 * own (revalidate with ETag). A 304 repeats what its 200 said.
 */
const CACHE_CONTROL: Readonly<Record<string, string>> = {
  '/.well-known/jwks.json': 'public, max-age=300',
  // The dashboard's page and modules hold no secret; they are kept but checked by ETag on every
  // use, so a new release is never run against an old module.
  '/': 'no-cache',
  '/web/:file': 'no-cache',
};

function isDocsRoute(url: string): boolean {
  return url === '/docs' || url.startsWith('/docs/');
}

function isDashboardRoute(url: string): boolean {
  return url === '/' || url === '/web/:file';
}

/**
 * Security headers on every answer of the app: helmet's set (nosniff, CSP, framing, referrer,
 * cross-origin policies) and Cache-Control. helmet's answer depends only on its options, never on
 * the request, so it is run once per CSP at start-up against a recording response, and each
 * request gets the recorded headers in one call: a tenth of the cost of running helmet's dozen
 * middlewares per request (and @fastify/helmet builds a new helmet on every request besides).
 */
export function securityHeaders(
  app: FastifyInstance,
): (request: FastifyRequest, reply: FastifyReply) => void {
  const variant = (directives: Record<string, string[]>) =>
    recordHeaders(helmet({ ...HELMET_OPTIONS, contentSecurityPolicy: { useDefaults: false, directives } }));
  const api = variant(API_CSP);
  const docs = variant(DOCS_CSP);
  const dashboard = variant(DASHBOARD_CSP);
  // Only a success may be kept: a refusal (a credential in the query, an outage) never is. The
  // hook goes on the few routes that may be kept, not on every request.
  app.addHook('onRoute', (route) => {
    const cacheable = CACHE_CONTROL[route.url];
    if (cacheable === undefined) return;
    const keep: onSendHookHandler = (_request, reply, payload, done) => {
      if (reply.statusCode === 200 || reply.statusCode === 304) reply.header('cache-control', cacheable);
      done(null, payload);
    };
    route.onSend = [...toArray(route.onSend), keep];
  });
  return (request, reply) => {
    const route = request.routeOptions.url ?? '';
    reply.headers(isDocsRoute(route) ? docs : isDashboardRoute(route) ? dashboard : api);
  };
}

function toArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** The headers a helmet middleware sets, with Cache-Control: no-store first. */
function recordHeaders(middleware: ReturnType<typeof helmet>): Readonly<Record<string, string>> {
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let finished = false;
  middleware({} as never, recorder as never, () => {
    finished = true;
  });
  // helmet calls next synchronously; if a release ever did not, every answer would lack its headers.
  if (!finished) throw new Error('helmet did not finish synchronously');
  return Object.freeze(headers);
}

/** For answers sent where no onRequest hook ran (Fastify's framework errors). */
export function setRawResponseHeaders(reply: FastifyReply): void {
  for (const [name, value] of RAW_RESPONSE_HEADERS) reply.header(name, value);
}
