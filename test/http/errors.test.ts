import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { CodedError, ERROR_CODE_LIST, ERROR_CODES, type ErrorCodeEntry } from '../../src/core/error-codes.ts';
import { buildApp } from '../../src/http/app.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { ConflictError, StoreUnavailableError } from '../../src/store/store.ts';
import { type Fixture, fixture, NOW } from '../helpers.ts';

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

const PASS_HASH = 'a'.repeat(64);

function login(target: FastifyInstance = app) {
  return target.inject({
    method: 'POST',
    url: '/auth/login',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ user: 'ali@example.com', pass_hash: PASS_HASH }),
  });
}

/** The body without debug_info, after checking that debug_info has its form. */
function withoutDebugInfo(body: { debug_info: { delta: string; version: string } }) {
  assert.match(body.debug_info.delta, /^\d+\.\d{6}ms$/);
  const { debug_info: _, ...rest } = body;
  return rest;
}

const UNAVAILABLE = {
  status: 503,
  error: {
    code: 'unavailable',
    message: 'Keygate cannot reach its store right now, so it cannot answer.',
    hint: 'Retry after the number of seconds in Retry-After; operators: check /readyz and the store.',
  },
};

test('a store method that throws StoreUnavailableError answers 503 unavailable with Retry-After, and hides the cause', async (t) => {
  t.mock.method(f.keygate.store, 'getUserByEmail', async () => {
    throw new StoreUnavailableError('The SQLite store failed: disk I/O error at /var/lib/keygate/keygate.db');
  });
  const response = await login();
  assert.equal(response.statusCode, 503);
  assert.equal(response.headers['retry-after'], '1');
  assert.deepEqual(withoutDebugInfo(response.json()), UNAVAILABLE);
});

test('a bug inside a store method (a TypeError) is a 500 internal_error, not a 503, and leaks nothing', async (t) => {
  t.mock.method(f.keygate.store, 'getUserByEmail', async () => {
    throw new TypeError(
      "Cannot read properties of undefined (reading 'password_hash') in SELECT * FROM users",
    );
  });
  const response = await login();
  assert.equal(response.statusCode, 500);
  assert.equal(response.headers['retry-after'], undefined);
  assert.deepEqual(withoutDebugInfo(response.json()), {
    status: 500,
    error: {
      code: 'internal_error',
      message: 'Something went wrong on the server.',
      hint: 'Retry; if it keeps happening, tell the operator the time of the request.',
    },
  });
  assert.doesNotMatch(response.body, /password_hash|SELECT|undefined/);
});

test('the SQLite store reports its own failures as StoreUnavailableError and lets bugs through unchanged', async () => {
  const store = new SqliteStore(':memory:');
  const org = await store.createOrg({ name: 'Store Errors Org' }, NOW);
  // A value SQLite cannot bind is the caller's bug: node:sqlite's own TypeError, not an outage.
  await assert.rejects(store.getOrg(Symbol('not an id') as unknown as string), {
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_TYPE',
  });
  // A uniqueness rule the caller handles stays a ConflictError.
  const user = {
    id: 'u1',
    orgId: org.id,
    email: 'ali@example.com',
    screenName: 'Ali',
    role: 'user',
    status: 'active',
    passwordHash: 'x',
    createdAt: NOW,
  } as const;
  await store.createUser(user);
  await assert.rejects(store.createUser({ ...user, id: 'u2' }), ConflictError);
  await store.close();
  for (const call of [() => store.getOrg(org.id), () => store.setKeyStatus('kid', 'disabled')]) {
    await assert.rejects(call(), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError, String(error));
      assert.equal((error.cause as { code?: string }).code, 'ERR_INVALID_STATE');
      return true;
    });
  }
});

test('a closed SQLite store answers 503 unavailable, to logins and to token checks', async () => {
  const closed = await fixture();
  const closedApp = await buildApp(closed.keygate, { loginRateLimit: 1000 });
  try {
    const token = closed.token();
    await closed.keygate.store.close();
    const loginResponse = await login(closedApp);
    assert.equal(loginResponse.statusCode, 503, loginResponse.body);
    assert.equal(loginResponse.headers['retry-after'], '1');
    assert.deepEqual(withoutDebugInfo(loginResponse.json()), UNAVAILABLE);
    const whoami = await closedApp.inject({
      method: 'GET',
      url: '/v1/whoami',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(whoami.statusCode, 503, whoami.body);
    assert.deepEqual(withoutDebugInfo(whoami.json()), UNAVAILABLE);
  } finally {
    await closedApp.close();
    await closed.close();
  }
});

test('every registry code is answered with its own status, message and hint, and Retry-After where the registry says', async (t) => {
  for (const code of ERROR_CODE_LIST) {
    const entry: ErrorCodeEntry = ERROR_CODES[code];
    const mock = t.mock.method(f.keygate.store, 'reserveLoginAttempt', async () => {
      throw new CodedError(code);
    });
    const response = await login();
    mock.mock.restore();
    assert.equal(response.statusCode, entry.status, code);
    assert.equal(
      response.headers['retry-after'],
      entry.retryAfterSeconds === undefined ? undefined : String(entry.retryAfterSeconds),
      code,
    );
    assert.deepEqual(withoutDebugInfo(response.json()), {
      status: entry.status,
      error: { code, message: entry.message, hint: entry.hint },
    });
  }
});

test('a failed login is 401 invalid_credentials with the registry text, and no field to enumerate', async () => {
  const response = await login();
  assert.equal(response.statusCode, 401);
  assert.deepEqual(withoutDebugInfo(response.json()), {
    status: 401,
    error: {
      code: 'invalid_credentials',
      message: 'The user name or password is wrong, or the account cannot log in right now.',
      hint: 'Check the email and that pass_hash is the SHA-256 hex of the password; after repeated failures, wait and retry.',
    },
  });
});

test('an input error carries its code, field, message and hint to the client', async () => {
  const response = await app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ user: 'ali@example.com', pass_hash: 'abc' }),
  });
  assert.equal(response.statusCode, 400);
  assert.deepEqual(withoutDebugInfo(response.json()), {
    status: 400,
    error: {
      code: 'invalid_input',
      field: 'pass_hash',
      message: '"pass_hash" must be exactly 64 hex digits (SHA-256); this one has 3 characters.',
      hint: 'Send the SHA-256 of the password in hex, e.g. `echo -n "$PASSWORD" | shasum -a 256 | cut -d " " -f 1`.',
    },
  });
});

test("Fastify's own 4xx become registry codes with the registry's status and hint", async () => {
  const cases = [
    {
      request: { headers: { 'content-type': 'application/json' }, payload: '{bad' },
      status: 400,
      code: 'invalid_request',
    },
    {
      request: { headers: { 'content-type': 'application/xml' }, payload: '<x/>' },
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      request: {
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ token: 'x'.repeat(70_000) }),
      },
      status: 413,
      code: 'body_too_large',
    },
  ] as const;
  for (const { request, status, code } of cases) {
    const response = await app.inject({ method: 'POST', url: '/auth/hello', ...request });
    assert.equal(response.statusCode, status, response.body);
    const body = withoutDebugInfo(response.json()) as { status: number; error: Record<string, string> };
    assert.equal(body.status, status);
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'hint', 'message']);
    assert.equal(body.error.code, code);
    assert.equal(body.error.hint, ERROR_CODES[code].hint);
    assert.match(body.error.message as string, /\S/);
  }
});
