import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { type AddressInfo, connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { type Fixture, fixture, NOW, signJwt } from '../helpers.ts';

const IDENTITY = [
  'x-keygate-org',
  'x-keygate-sub',
  'x-keygate-role',
  'x-keygate-kid',
  'x-keygate-method',
  'x-keygate-expires-at',
] as const;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

let f: Fixture;
let app: FastifyInstance;
before(async () => {
  f = await fixture();
  app = await buildApp(f.keygate, { loginRateLimit: 1000 });
});
after(async () => {
  await app.close();
  await f.close();
});

function verify(authorization: string | undefined, options: Partial<InjectOptions> = {}) {
  return app.inject({
    method: 'GET',
    url: '/auth/verify',
    ...options,
    headers: { ...(authorization !== undefined && { authorization }), ...options.headers },
  });
}

/** The X-Keygate-* identity headers of an answer, absent ones as undefined. */
function identity(response: LightMyRequestResponse): Record<string, unknown> {
  return Object.fromEntries(IDENTITY.map((name) => [name, response.headers[name]]));
}

function keyIdentity(sub = 'alice'): Record<string, string> {
  return {
    'x-keygate-org': f.orgId,
    'x-keygate-sub': sub,
    'x-keygate-role': 'user',
    'x-keygate-kid': f.kid,
    'x-keygate-method': 'key',
    'x-keygate-expires-at': '2027-01-15T09:00:00Z',
  };
}

function assertAllowed(response: LightMyRequestResponse, expected: Record<string, string>, label = ''): void {
  assert.equal(response.statusCode, 200, `${label} ${response.body}`);
  assert.deepEqual(identity(response), expected, label);
  assert.equal(response.body, '', label);
  assert.equal(response.headers['content-length'], '0', label);
  assert.equal(response.headers['cache-control'], 'no-store', label);
  assert.equal(response.headers['x-keygate-reason'], undefined, label);
}

function assertRefused(response: LightMyRequestResponse, code: string, label = ''): void {
  assert.equal(response.statusCode, 401, `${label} ${response.body}`);
  assert.equal(response.headers['x-keygate-reason'], code, label);
  assert.equal(
    response.headers['www-authenticate'],
    code === 'token_missing'
      ? 'Bearer realm="keygate"'
      : `Bearer realm="keygate", error="invalid_token", error_description="${code}"`,
    label,
  );
  assert.deepEqual(identity(response), Object.fromEntries(IDENTITY.map((name) => [name, undefined])), label);
  if (response.body !== '') {
    const body = response.json();
    assert.equal(body.status, 401, label);
    assert.equal(body.error.code, code, label);
  }
}

test('a valid key-pair token: 200, an empty body, and the principal in the X-Keygate-* headers', async () => {
  for (const authorization of [`Bearer ${f.token()}`, f.token(), `bearer ${f.token()}`]) {
    assertAllowed(await verify(authorization), keyIdentity(), authorization.slice(0, 7));
  }
});

test('the headers say exactly what /v1/whoami answers for the same token', async () => {
  const token = f.token({ sub: 'svc-42', role: 'service' }, { alg: 'RS256', typ: 'JWT' });
  const whoami = await app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: token } });
  const principal = whoami.json().results;
  assertAllowed(await verify(token), {
    'x-keygate-org': principal.org_id,
    'x-keygate-sub': principal.sub,
    'x-keygate-role': principal.role,
    'x-keygate-kid': principal.kid,
    'x-keygate-method': principal.method,
    'x-keygate-expires-at': principal.expires_at,
  });
  assert.equal(principal.role, 'service');
});

test('a session token: 200 with method session, the user as sub and the role from the store', async () => {
  const passHash = createHash('sha256').update('correct horse battery staple').digest('hex');
  const user = await f.keygate.users.create({ orgId: f.orgId, email: 'fa@example.com', passHash });
  const login = await app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ user: 'fa@example.com', pass_hash: passHash }),
  });
  assert.equal(login.statusCode, 202, login.body);
  const token: string = login.json().results.token.HY_APP_AUTH_v1;
  const whoami = (await app.inject({ url: '/v1/whoami', headers: { authorization: token } })).json().results;
  assertAllowed(await verify(token), {
    'x-keygate-org': f.orgId,
    'x-keygate-sub': user.id,
    'x-keygate-role': 'user',
    'x-keygate-kid': whoami.kid,
    'x-keygate-method': 'session',
    'x-keygate-expires-at': whoami.expires_at,
  });
});

test('every refusal is a 401 with its reason code in X-Keygate-Reason, WWW-Authenticate and the body', async () => {
  const header = { alg: 'RS256', typ: 'JWT' };
  const valid = f.token();
  const [h, p, s] = valid.split('.') as [string, string, string];
  const cases: [string | undefined, string][] = [
    [undefined, 'token_missing'],
    ['Bearer', 'token_missing'],
    ['Basic abc', 'token_malformed'],
    ['a.b', 'token_malformed'],
    [f.token({}, { alg: 'HS256', typ: 'JWT' }), 'alg_not_allowed'],
    [f.token({ kid: undefined }), 'kid_missing'],
    [f.token({ kid: randomUUID() }), 'kid_unknown'],
    [f.token({}, { ...header, kid: randomUUID() }), 'kid_mismatch'],
    [f.token({ iss: randomUUID() }), 'iss_mismatch'],
    [`${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`, 'signature_invalid'],
    [f.token({ sub: undefined }), 'claim_missing'],
    [f.token({ sub: 42 }), 'claim_invalid'],
    [f.token({ iat: NOW - 7200, exp: NOW - 3600 }), 'token_expired'],
    [f.token({ nbf: NOW + 600 }), 'token_not_yet_valid'],
    [f.token({ exp: NOW + 7200 }), 'lifetime_too_long'],
    [f.token({ iat: NOW + 600, exp: NOW + 1200 }), 'iat_in_future'],
    [f.token({ aud: 'elsewhere.example.com' }), 'aud_mismatch'],
    [f.token({ role: 'root' }), 'role_invalid'],
    [f.token({ role: 'admin' }), 'role_not_permitted'],
  ];
  for (const [authorization, code] of cases) assertRefused(await verify(authorization), code, code);
  const jti = `fa-${randomUUID()}`;
  assertAllowed(await verify(f.token({ jti })), keyIdentity());
  assertRefused(await verify(f.token({ jti, sub: 'bob' })), 'jti_reused', 'jti_reused');
  const twice = await verify(undefined, { headers: { authorization: [valid, valid] } as never });
  assertRefused(twice, 'token_malformed', 'two Authorization headers');
});

test('answers every method, HEAD included, on /auth/verify and on any path below it', async () => {
  for (const url of ['/auth/verify', '/auth/verify/', '/auth/verify/api/v2/orders/7?page=2']) {
    for (const method of METHODS) {
      const label = `${method} ${url}`;
      assertAllowed(await verify(f.token(), { method, url }), keyIdentity(), label);
      assertRefused(await verify(undefined, { method, url }), 'token_missing', label);
      assertRefused(await verify(f.token({ aud: 'x' }), { method, url }), 'aud_mismatch', label);
    }
  }
});

test('a body is ignored: no type, size or framing of it turns the answer into a 413 or 415', async () => {
  const big = Buffer.alloc(1024 * 1024, 'x');
  const bodies: [string | undefined, string | Buffer][] = [
    ['application/x-unknown', big],
    ['application/json', '{"not json'],
    ['application/json', big],
    ['application/x-www-form-urlencoded', 'a=1&b'],
    ['multipart/form-data; boundary=x', '--x\r\n'],
    ['text/plain', 'hello'],
    ['garbage', 'x'],
    ['', 'x'],
    [undefined, big],
  ];
  for (const [type, payload] of bodies) {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const) {
      const label = `${method} ${type} ${payload.length} bytes`;
      const headers = type === undefined ? {} : { 'content-type': type };
      const allowed = await verify(f.token(), { method, payload, headers });
      assertAllowed(allowed, keyIdentity(), label);
      assertRefused(await verify(undefined, { method, payload, headers }), 'token_missing', label);
    }
  }
});

test('on a real socket, the answer does not wait for the body, and the connection then serves the next request', {
  timeout: 10_000,
}, async () => {
  const server = await buildApp(f.keygate);
  await server.listen({ port: 0, host: '127.0.0.1' });
  const socket = connect((server.server.address() as AddressInfo).port, '127.0.0.1');
  try {
    let received = '';
    const answers = (count: number) =>
      new Promise<string[]>((resolve, reject) => {
        const check = () => {
          const heads = received.match(/^HTTP\/1\.1 \d{3}[\s\S]*?\r\nx-keygate-sub: [^\r]*/gm) ?? [];
          if (heads.length >= count)
            resolve(heads.map((head) => `${head.slice(9, 12)} ${head.split(': ').pop()}`));
        };
        socket.on('data', (chunk: Buffer) => {
          received += chunk.toString('latin1');
          check();
        });
        socket.on('error', reject);
        socket.on('close', () => reject(new Error(`closed after ${JSON.stringify(received)}`)));
      });
    const two = answers(2);
    const size = 4 * 1024 * 1024;
    const head = (method: string, extra: string) =>
      `${method} /auth/verify/upload HTTP/1.1\r\nHost: keygate\r\nAuthorization: Bearer ${f.token()}\r\n${extra}\r\n`;
    socket.write(head('POST', `Content-Type: application/octet-stream\r\nContent-Length: ${size}\r\n`));
    // The first answer arrives while not one byte of the body has been sent.
    await new Promise<void>((resolve) => {
      const wait = () => (/^HTTP\/1\.1 200/.test(received) ? resolve() : setTimeout(wait, 5));
      wait();
    });
    socket.write(Buffer.alloc(size, 'y'));
    socket.write(head('GET', ''));
    assert.deepEqual(await two, ['200 alice', '200 alice']);
  } finally {
    socket.destroy();
    await server.close();
  }
});

describe('a sub that is not a safe header value', () => {
  const cases: [string, string][] = [
    ['alice@example.com', 'alice@example.com'],
    ['a\r\nX-Keygate-Org: evil', 'a%0D%0AX-Keygate-Org:%20evil'],
    ['x\nSet-Cookie: s=1', 'x%0ASet-Cookie:%20s=1'],
    ['josé', 'jos%C3%A9'],
    ['ü\u0085', '%C3%BC%C2%85'],
    ['😀', '%F0%9F%98%80'],
    [' padded ', '%20padded%20'],
    ['tab\there', 'tab%09here'],
    ['nul\u0000', 'nul%00'],
    ['del\u007f', 'del%7F'],
    ['100%', '100%25'],
    ['%41', '%2541'],
  ];
  for (const [sub, sent] of cases) {
    test(`${JSON.stringify(sub)} is sent as ${sent}, which decodes to it exactly`, async () => {
      const token = signJwt({ alg: 'RS256', typ: 'JWT' }, f.claims({ sub }), f.pair.privateKey);
      const response = await verify(token);
      assertAllowed(response, keyIdentity(sent));
      assert.equal(decodeURIComponent(sent), sub);
      assert.deepEqual(
        Object.keys(response.headers).filter((name) => name === 'set-cookie'),
        [],
      );
    });
  }
});

test('when the store cannot be reached the answer is 503, never 200: a proxy denies', async () => {
  const closed = await fixture();
  const closedApp = await buildApp(closed.keygate);
  try {
    const token = closed.token();
    await closed.keygate.store.close();
    const response = await closedApp.inject({ url: '/auth/verify', headers: { authorization: token } });
    assert.equal(response.statusCode, 503, response.body);
    assert.equal(response.json().error.code, 'unavailable');
    assert.equal(response.headers['x-keygate-reason'], undefined);
    assert.deepEqual(identity(response), Object.fromEntries(IDENTITY.map((name) => [name, undefined])));
  } finally {
    await closedApp.close();
    await closed.close();
  }
});

test('the API reference describes /auth/verify once, with every method and its headers', async () => {
  const spec = (await app.inject('/docs/json')).json();
  assert.deepEqual(
    Object.keys(spec.paths).filter((path) => path.startsWith('/auth/verify')),
    ['/auth/verify'],
  );
  const operations = spec.paths['/auth/verify'];
  assert.deepEqual(Object.keys(operations).sort(), ['delete', 'get', 'options', 'patch', 'post', 'put']);
  assert.deepEqual(Object.keys(operations.get.responses['200'].headers), [
    'X-Keygate-Org',
    'X-Keygate-Sub',
    'X-Keygate-Role',
    'X-Keygate-Kid',
    'X-Keygate-Method',
    'X-Keygate-Expires-At',
  ]);
  assert.equal(operations.get.responses['200'].content, undefined);
  assert.deepEqual(Object.keys(operations.get.responses['401'].headers), [
    'X-Keygate-Reason',
    'WWW-Authenticate',
  ]);
});
