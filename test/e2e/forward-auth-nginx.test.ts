import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AUD, rsaPair, signJwt, type TestPair } from '../helpers.ts';
import { forwardAuthConfig, KeygateServer, Nginx, skipWithoutNginx } from './nginx-forward-auth.ts';
import { freePort } from './server-process.ts';

// deploy/nginx-forward-auth.conf, run by a real nginx between a client and an API (a node:http
// server here that records what reaches it), with a real `keygate serve` answering its
// auth_request subrequests.

interface Arrival {
  method: string;
  url: string;
  /** Every header as sent, in order: [lower-case name, value]. */
  headers: [string, string][];
  bodyBytes: number;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** X-Keygate-* however written: dashes or underscores, any case. */
const isKeygateHeader = (name: string) => /^x[-_]keygate[-_]/i.test(name);

describe('forward-auth behind nginx (deploy/nginx-forward-auth.conf)', { skip: skipWithoutNginx }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-nginx-'));
  const keygate = new KeygateServer(dir, AUD);
  const arrivals: Arrival[] = [];
  const pair: TestPair = rsaPair(2048);
  let app: Server;
  let nginx: Nginx | undefined;
  let base = '';
  let orgId = '';
  let kid = '';

  before(async () => {
    app = createServer((incoming: IncomingMessage, response) => {
      let bodyBytes = 0;
      incoming.on('data', (chunk: Buffer) => {
        bodyBytes += chunk.length;
      });
      incoming.on('end', () => {
        const raw = incoming.rawHeaders;
        const headers: [string, string][] = [];
        for (let i = 0; i < raw.length; i += 2)
          headers.push([(raw[i] as string).toLowerCase(), raw[i + 1] as string]);
        arrivals.push({ method: incoming.method ?? '', url: incoming.url ?? '', headers, bodyBytes });
        response.end('from the API');
      });
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    await keygate.start();
    orgId = (await keygate.cli(['org', 'create', '--name', 'Proxy Org'])).org_id as string;
    const publicKey = join(dir, 'key.pub');
    writeFileSync(publicKey, pair.publicPem);
    kid = (
      await keygate.cli(['key', 'add', '--org', orgId, '--public-key', publicKey, '--roles', 'user,service'])
    ).key_id as string;
    const ports = {
      nginx: await freePort(),
      keygate: keygate.port,
      app: (app.address() as AddressInfo).port,
    };
    nginx = await Nginx.start(forwardAuthConfig(ports, dir), dir, ports.nginx);
    base = `http://127.0.0.1:${ports.nginx}`;
  });

  after(async () => {
    await nginx?.stop();
    await keygate.stop();
    await new Promise((resolve) => app?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  function token(claims: Record<string, unknown> = {}, key = pair): string {
    const now = Math.floor(Date.now() / 1000);
    return signJwt(
      { alg: 'RS256', typ: 'JWT' },
      {
        aud: AUD,
        exp: now + 300,
        iat: now,
        iss: orgId,
        jti: randomUUID(),
        sub: 'alice',
        role: 'user',
        kid,
        ...claims,
      },
      key.privateKey,
    );
  }

  /** One request to nginx on a connection of its own; headers as a raw list, so names keep their case and may repeat. */
  function send(
    path: string,
    headers: [string, string][],
    options: { method?: string; body?: Buffer; chunked?: boolean } = {},
  ): Promise<Answer> {
    // A raw header list gets no Host from node:http.
    const raw = ['Host', 'api.example.com', ...headers.flat()];
    if (options.body && !options.chunked) raw.push('Content-Length', String(options.body.length));
    return new Promise((resolve, reject) => {
      const call = request(`${base}${path}`, { method: options.method ?? 'GET', agent: false, headers: raw });
      call.on('error', reject);
      call.on('response', (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        );
      });
      call.end(options.body);
    });
  }

  /** The one request the API received during `run`; fails if there was not exactly one. */
  async function arrivalOf(run: () => Promise<Answer>): Promise<{ answer: Answer; arrival: Arrival }> {
    const before = arrivals.length;
    const answer = await run();
    assert.equal(answer.status, 200, `${answer.status} ${answer.body} ${nginx?.stderr}`);
    assert.equal(answer.body, 'from the API');
    assert.equal(arrivals.length, before + 1);
    return { answer, arrival: arrivals.at(-1) as Arrival };
  }

  const identity = (arrival: Arrival) => arrival.headers.filter(([name]) => isKeygateHeader(name));
  const header = (arrival: Arrival, name: string) =>
    arrival.headers.filter(([n]) => n === name).map(([, value]) => value);

  function expectedIdentity(sub = 'alice', role = 'user', exp?: number): [string, string][] {
    return [
      ['x-keygate-org', orgId],
      ['x-keygate-sub', sub],
      ['x-keygate-role', role],
      ['x-keygate-kid', kid],
      ['x-keygate-method', 'key'],
      ...(exp === undefined
        ? []
        : ([['x-keygate-expires-at', new Date(exp * 1000).toISOString().replace('.000', '')]] as [
            string,
            string,
          ][])),
    ];
  }

  test('a valid token reaches the API with the identity headers, and without the token', async () => {
    const exp = Math.floor(Date.now() / 1000) + 300;
    const jwt = token({ exp, sub: 'svc-7', role: 'service' });
    const { arrival } = await arrivalOf(() =>
      send('/api/orders?page=2', [['Authorization', `Bearer ${jwt}`]]),
    );
    assert.equal(arrival.method, 'GET');
    assert.equal(arrival.url, '/api/orders?page=2');
    assert.deepEqual(identity(arrival), expectedIdentity('svc-7', 'service', exp));
    assert.deepEqual(header(arrival, 'authorization'), []);
  });

  test('the location that passes the token on passes it unchanged, with the same identity headers', async () => {
    const exp = Math.floor(Date.now() / 1000) + 300;
    const jwt = token({ exp });
    const { arrival } = await arrivalOf(() =>
      send('/api-with-token/x', [['Authorization', `Bearer ${jwt}`]]),
    );
    assert.deepEqual(identity(arrival), expectedIdentity('alice', 'user', exp));
    assert.deepEqual(header(arrival, 'authorization'), [`Bearer ${jwt}`]);
  });

  test("a client's own X-Keygate-* headers, in any case or with underscores, never reach the API", async () => {
    const exp = Math.floor(Date.now() / 1000) + 300;
    const smuggled: [string, string][] = [
      ['X-Keygate-Org', 'evil-org'],
      ['x-keygate-sub', 'mallory'],
      ['X-KEYGATE-ROLE', 'admin'],
      ['X-Keygate-Role', 'admin'],
      ['X_Keygate_Org', 'evil-org'],
      ['x_keygate_sub', 'mallory'],
      ['X_KEYGATE_ROLE', 'admin'],
      ['X-Keygate-Kid', 'other-kid'],
      ['X-Keygate-Method', 'session'],
      ['X-Keygate-Expires-At', '2999-01-01T00:00:00Z'],
    ];
    for (const path of ['/api/x', '/api-with-token/x']) {
      const jwt = token({ exp });
      const { arrival } = await arrivalOf(() => send(path, [...smuggled, ['Authorization', jwt]]));
      assert.deepEqual(identity(arrival), expectedIdentity('alice', 'user', exp), path);
    }
  });

  test('a refused token never reaches the API: 401 with the reason code and the challenge', async () => {
    const now = Math.floor(Date.now() / 1000);
    const stranger = rsaPair(2048);
    const valid = token();
    const cases: [[string, string][], string][] = [
      [[], 'token_missing'],
      [[['Authorization', 'Bearer not-a-jwt']], 'token_malformed'],
      [[['Authorization', token({ iat: now - 7200, exp: now - 3600 })]], 'token_expired'],
      [[['Authorization', token({ kid: randomUUID() })]], 'kid_unknown'],
      [[['Authorization', token({}, stranger)]], 'signature_invalid'],
      [[['Authorization', `${valid.slice(0, -6)}AAAAAA`]], 'signature_invalid'],
      [[['Authorization', token({ aud: 'elsewhere.example.com' })]], 'aud_mismatch'],
      [[['Authorization', token({ role: 'admin' })]], 'role_not_permitted'],
      // The same, with identity headers of the client's own making.
      [
        [
          ['X-Keygate-Org', orgId],
          ['X-Keygate-Sub', 'alice'],
          ['X_Keygate_Role', 'admin'],
        ],
        'token_missing',
      ],
      [
        [
          ['X-Keygate-Org', orgId],
          ['Authorization', token({ kid: randomUUID() })],
        ],
        'kid_unknown',
      ],
    ];
    for (const [headers, code] of cases) {
      for (const path of ['/api/x', '/api-with-token/x']) {
        const before = arrivals.length;
        const answer = await send(path, headers);
        const label = `${path} ${code}`;
        assert.equal(answer.status, 401, `${label}: ${answer.body}`);
        assert.equal(answer.headers['x-keygate-reason'], code, label);
        assert.equal(
          answer.headers['www-authenticate'],
          code === 'token_missing'
            ? 'Bearer realm="keygate"'
            : `Bearer realm="keygate", error="invalid_token", error_description="${code}"`,
          label,
        );
        assert.equal(answer.body, `${code}\n`, label);
        assert.equal(answer.headers['cache-control'], 'no-store', label);
        assert.equal(arrivals.length, before, `${label}: the API was reached`);
      }
    }
  });

  test('a body goes to the API whole, and never to Keygate: any type, any framing, any method', async () => {
    const body = Buffer.alloc(256 * 1024, 'b');
    const cases: { method: string; type: string; chunked?: boolean }[] = [
      { method: 'POST', type: 'application/octet-stream' },
      { method: 'POST', type: 'application/json' },
      { method: 'PUT', type: 'garbage' },
      { method: 'PATCH', type: 'text/plain', chunked: true },
      { method: 'DELETE', type: 'application/x-unknown' },
    ];
    for (const { method, type, chunked } of cases) {
      const jwt = token();
      const headers: [string, string][] = [
        ['Authorization', jwt],
        ['Content-Type', type],
      ];
      const { arrival } = await arrivalOf(() =>
        send('/api/upload', headers, { method, body, chunked: chunked ?? false }),
      );
      assert.equal(arrival.method, method);
      assert.equal(arrival.bodyBytes, body.length, `${method} ${type}`);
      assert.deepEqual(identity(arrival).slice(0, 2), expectedIdentity().slice(0, 2));
      const before = arrivals.length;
      const refused = await send('/api/upload', [['Content-Type', type]], {
        method,
        body,
        chunked: chunked ?? false,
      });
      assert.equal(refused.status, 401, `${method} ${type}`);
      assert.equal(refused.headers['x-keygate-reason'], 'token_missing');
      assert.equal(arrivals.length, before);
    }
  });

  test('a sub with CR, LF or non-ASCII reaches the API percent-encoded, as one header', async () => {
    const cases: [string, string][] = [
      ['a\r\nX-Keygate-Role: admin', 'a%0D%0AX-Keygate-Role:%20admin'],
      ['josé', 'jos%C3%A9'],
      // The longest a sub may be, each character three bytes: 2,304 bytes in nginx's 4 KiB buffer.
      ['é'.repeat(256), '%C3%A9'.repeat(256)],
    ];
    for (const [sub, sent] of cases) {
      const { arrival } = await arrivalOf(() => send('/api/x', [['Authorization', token({ sub })]]));
      assert.deepEqual(
        identity(arrival).filter(([name]) => name !== 'x-keygate-expires-at'),
        expectedIdentity(sent),
      );
      assert.equal(decodeURIComponent(sent), sub);
    }
  });

  // Last: it stops Keygate.
  test('with Keygate down, nginx answers 500 and the API is not reached: closed', async () => {
    const jwt = token();
    await arrivalOf(() => send('/api/x', [['Authorization', jwt]]));
    await keygate.stop();
    const before = arrivals.length;
    const answer = await send('/api/x', [['Authorization', jwt]]);
    assert.equal(answer.status, 500, answer.body);
    assert.equal(answer.headers['x-keygate-reason'], undefined);
    assert.equal(arrivals.length, before);
  });
});
