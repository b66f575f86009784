import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { stripTypeScriptTypes } from 'node:module';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorBody } from '../envelope.ts';
import { Type } from '../schema.ts';

/** The dashboard's sources: browser TypeScript, one page, a stylesheet and an icon. */
const WEB_DIR = new URL('../../web/', import.meta.url);

const CONTENT_TYPES = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
} as const;

interface Asset {
  /** The file under src/web/ it is made from. */
  source: string;
  type: keyof typeof CONTENT_TYPES;
}

interface Built {
  body: string;
  etag: string;
}

/**
 * Strips the types of one browser module. Node prints an ExperimentalWarning the first time
 * stripTypeScriptTypes runs, on stderr, where it would read as a problem with the server; it is
 * the only warning this call can raise, so only for the length of this synchronous call (no
 * other code runs in between) process.emitWarning drops exactly that one and passes every other
 * warning on. A process-wide --disable-warning would hide other experimental features as well.
 */
export function stripTypes(source: string): string {
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (text.includes('stripTypeScriptTypes')) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    // 'strip' blanks the types out in place, so a line and column in the browser's console is
    // the same line and column in the .ts file.
    return stripTypeScriptTypes(source, { mode: 'strip' });
  } finally {
    process.emitWarning = emitWarning;
  }
}

/**
 * The files that may be served, by URL, read off the folder once: `x.ts` is served as `/web/x.js`
 * (its imports name `./y.js`, as the browser asks for them), `x.css` and `x.svg` as they are.
 * Nothing else is: a URL is looked up in this table, never joined to a path, so no `..` or
 * encoded slash reaches the file system.
 */
export function dashboardAssets(): ReadonlyMap<string, Asset> {
  const assets = new Map<string, Asset>([['/', { source: 'index.html', type: 'html' }]]);
  for (const name of readdirSync(WEB_DIR)) {
    const match = /^([a-z][a-z0-9-]*)\.(ts|css|svg)$/.exec(name);
    if (!match) continue;
    const [, base, extension] = match as unknown as [string, string, 'ts' | 'css' | 'svg'];
    const type = extension === 'ts' ? 'js' : extension;
    assets.set(`/web/${base}.${type}`, { source: name, type });
  }
  return assets;
}

async function build(asset: Asset): Promise<Built> {
  const text = await readFile(new URL(asset.source, WEB_DIR), 'utf8');
  const body = asset.type === 'js' ? stripTypes(text) : text;
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, etag };
}

/**
 * The dashboard at `/`: one HTML page and its modules, served from src/web/ with no build step.
 * Each file is read (and its types stripped) on its first request and kept; the sources do not
 * change under a running server. Answers revalidate by ETag, so a new release is seen at once.
 */
export function dashboardRoutes(app: FastifyInstance): void {
  const assets = dashboardAssets();
  // Keyed only by paths of `assets`: as many entries as src/web has files, whatever is asked for.
  const built = new Map<string, Promise<Built>>();

  const serve = async (request: FastifyRequest, reply: FastifyReply, path: string) => {
    const asset = assets.get(path);
    if (!asset) return reply.callNotFound();
    let pending = built.get(path);
    if (!pending) {
      pending = build(asset);
      built.set(path, pending);
      // A failed read is tried again on the next request rather than kept.
      pending.catch(() => built.delete(path));
    }
    const { body, etag } = await pending;
    reply.header('etag', etag);
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.code(200).type(CONTENT_TYPES[asset.type]).send(body);
  };

  // Not part of the API: kept out of the OpenAPI document.
  const schema = { hide: true, response: { 404: ErrorBody } };
  app.get('/', { schema }, (request, reply) => serve(request, reply, '/'));
  app.get(
    '/web/:file',
    { schema: { ...schema, params: Type.Object({ file: Type.String() }) } },
    (request, reply) => serve(request, reply, `/web/${(request.params as { file: string }).file}`),
  );
}
