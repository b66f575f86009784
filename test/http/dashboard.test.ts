import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { dashboardAssets } from '../../src/http/routes/dashboard.ts';
import { type Fixture, fixture } from '../helpers.ts';

// The dashboard's files as the server hands them out: what a browser may run is only what the
// allowlist names, every module parses as plain JavaScript, and the page carries no inline code.

const DASHBOARD_CSP =
  "default-src 'none';script-src 'self';style-src 'self';connect-src 'self';img-src 'self';base-uri 'none';form-action 'none';frame-ancestors 'none';require-trusted-types-for 'script';trusted-types 'none'";

let f: Fixture;
let app: FastifyInstance;
before(async () => {
  f = await fixture();
  app = await buildApp(f.keygate);
});
after(async () => {
  await app.close();
  await f.close();
});

const MODULES = [...dashboardAssets().keys()].filter((path) => path.endsWith('.js'));

describe('GET /', () => {
  test('is the page, under the strict CSP, with no inline script, style or handler', async () => {
    const response = await app.inject({ method: 'GET', url: '/' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(response.headers['content-security-policy'], DASHBOARD_CSP);
    assert.equal(response.headers['x-content-type-options'], 'nosniff');
    assert.equal(response.headers['x-frame-options'], 'DENY');
    const html = response.body;
    const scripts = [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/gi)];
    assert.deepEqual(
      scripts.map(([tag, body]) => ({ external: /\ssrc="\/web\/[a-z-]+\.js"/.test(tag), body })),
      [{ external: true, body: '' }],
    );
    assert.doesNotMatch(html, /<style\b/i);
    assert.doesNotMatch(html, /\sstyle\s*=/i);
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i);
    assert.doesNotMatch(html, /javascript:/i);
    // Everything it loads is one of the served files, on this origin.
    const urls = [...html.matchAll(/\s(?:src|href)="([^"#][^"]*)"/g)].map(([, url]) => url as string);
    for (const url of urls) {
      if (url === '/docs') continue;
      assert.ok(dashboardAssets().has(url), `${url} is not served`);
    }
  });

  test('revalidates by ETag: no-cache, and 304 for the same version', async () => {
    const first = await app.inject({ method: 'GET', url: '/' });
    assert.equal(first.headers['cache-control'], 'no-cache');
    const etag = first.headers.etag as string;
    assert.match(etag, /^"[\w-]{27}"$/);
    const again = await app.inject({ method: 'GET', url: '/', headers: { 'if-none-match': etag } });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, '');
    assert.equal(again.headers['cache-control'], 'no-cache');
    assert.equal(again.headers.etag, etag);
  });
});

describe('GET /web/*', () => {
  test('serves a module for each TypeScript file of src/web, and the stylesheet and icon', () => {
    assert.ok(MODULES.includes('/web/main.js'));
    assert.ok(MODULES.length >= 10, MODULES.join(' '));
    assert.ok(dashboardAssets().has('/web/dashboard.css'));
    assert.ok(dashboardAssets().has('/web/icon.svg'));
  });

  test('each module is JavaScript with its types stripped, importing only served modules', async () => {
    const sources: Record<string, string> = {};
    for (const path of MODULES) {
      const response = await app.inject({ method: 'GET', url: path });
      assert.equal(response.statusCode, 200, path);
      assert.equal(response.headers['content-type'], 'text/javascript; charset=utf-8', path);
      assert.equal(response.headers['content-security-policy'], DASHBOARD_CSP, path);
      assert.equal(response.headers['cache-control'], 'no-cache', path);
      sources[path] = response.body;
    }
    // V8 parses each as a module (a leftover annotation is a SyntaxError there) and lists what it
    // imports; vm modules are behind a flag, so in a child process.
    const parse = `
      const vm = require('node:vm');
      const sources = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
      const out = {};
      for (const [path, text] of Object.entries(sources)) {
        try { out[path] = new vm.SourceTextModule(text).moduleRequests.map((r) => r.specifier); }
        catch (error) { out[path] = String(error); }
      }
      process.stdout.write(JSON.stringify(out));`;
    const parsed = JSON.parse(
      execFileSync(process.execPath, ['--experimental-vm-modules', '--no-warnings', '-e', parse], {
        input: JSON.stringify(sources),
        encoding: 'utf8',
      }),
    ) as Record<string, string[] | string>;
    for (const path of MODULES) {
      const imports = parsed[path];
      assert.ok(Array.isArray(imports), `${path}: ${imports}`);
      for (const specifier of imports) {
        const target = new URL(specifier, `http://keygate${path}`);
        assert.equal(target.origin, 'http://keygate', `${path} imports ${specifier}`);
        assert.ok(MODULES.includes(target.pathname), `${path} imports ${specifier}, which is not served`);
      }
    }
  });

  test('the stylesheet and icon are served as they are, with their types', async () => {
    const css = await app.inject({ method: 'GET', url: '/web/dashboard.css' });
    assert.equal(css.statusCode, 200);
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    const icon = await app.inject({ method: 'GET', url: '/web/icon.svg' });
    assert.equal(icon.statusCode, 200);
    assert.equal(icon.headers['content-type'], 'image/svg+xml');
  });

  test('anything the allowlist does not name is a 404 in the envelope, not a file', async () => {
    for (const url of [
      '/web/nope.js',
      '/web/main.ts',
      '/web/tsconfig.json',
      '/web/index.html',
      '/web/MAIN.js',
      '/web/main.js.map',
      '/web/..%2F..%2Fpackage.json',
      '/web/%2e%2e%2fhttp%2fapp.js',
      '/web/..%5C..%5Cpackage.json',
      '/web/main.js%00.css',
    ]) {
      const response = await app.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 404, url);
      assert.equal(response.headers['content-type'], 'application/json; charset=utf-8', url);
      assert.equal(response.headers['cache-control'], 'no-store', url);
      const body = response.json();
      assert.equal(body.status, 404, url);
      assert.equal(body.error.code, 'not_found', url);
    }
  });

  test('a "../" path sent as it is over the wire reaches no file', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    for (const path of ['/web/../../package.json', '/web/../http/app.ts', '/web/./../web/main.ts']) {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk) => {
            body += chunk;
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        })
          .on('error', reject)
          .end();
      });
      assert.equal(status, 404, path);
      assert.equal(JSON.parse(body).error.code, 'not_found', path);
    }
  });
});

test('stripping types prints no ExperimentalWarning, and other warnings still get through', () => {
  const dashboard = new URL('../../src/http/routes/dashboard.ts', import.meta.url).href;
  const script = `
    import { stripTypes } from ${JSON.stringify(dashboard)};
    process.stdout.write(stripTypes('const a: number = 1;'));
    process.emitWarning('still here');`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, 'const a         = 1;');
  assert.doesNotMatch(result.stderr, /stripTypeScriptTypes|ExperimentalWarning/);
  assert.match(result.stderr, /Warning: still here/);
});
