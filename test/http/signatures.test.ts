import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { MAX_MESSAGE_BYTES, MAX_MESSAGE_JWS_LENGTH } from '../../src/core/message-format.ts';
import { buildApp } from '../../src/http/app.ts';
import { ecPair, type Fixture, fixture, type TestPair } from '../helpers.ts';
import { signMessageRaw } from '../message-helpers.ts';

let f: Fixture;
let app: FastifyInstance;
let userKid: string;
let userId: string;
const userPair = ecPair();
const MESSAGE = '{"op":"unfollow","target":"bob"}';

before(async () => {
  f = await fixture({ pair: ecPair() });
  app = await buildApp(f.keygate);
  const user = await f.keygate.users.create({
    orgId: f.orgId,
    email: 'ali@example.com',
    passHash: createHash('sha256').update('a long enough password').digest('hex'),
  });
  userId = user.id;
  userKid = (
    await f.keygate.keys.registerKey({
      orgId: f.orgId,
      publicKey: userPair.publicPem,
      grantedByAdmin: true,
      owner: { id: user.id, role: user.role },
    })
  ).key_id;
});
after(async () => {
  await app.close();
  await f.close();
});

const signed = (pair: TestPair, kid: string, detached = false) =>
  signMessageRaw({ alg: 'ES256', kid, typ: 'JOSE' }, MESSAGE, pair.privateKey, { detached });

async function post(payload: unknown, headers: Record<string, string> = {}) {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/signatures/verify',
    headers,
    payload: payload as string,
  });
  const body = response.json();
  return { status: response.statusCode, body: { ...body, debug_info: undefined } };
}

const REFUSED = { valid: false, org_id: null, owner: null, alg: null, payload: null };

test('a valid message is 200 with who signed it and what it says, with no credentials asked', async () => {
  assert.deepEqual(await post({ jws: signed(f.pair, f.kid) }), {
    status: 200,
    body: {
      status: 200,
      results: {
        valid: true,
        org_id: f.orgId,
        key_id: f.kid,
        owner: { type: 'org', id: f.orgId },
        alg: 'ES256',
        payload: MESSAGE,
      },
      debug_info: undefined,
    },
  });
  assert.deepEqual((await post({ jws: signed(userPair, userKid, true), payload: MESSAGE })).body.results, {
    valid: true,
    org_id: f.orgId,
    key_id: userKid,
    owner: { type: 'user', id: userId, email: 'ali@example.com' },
    alg: 'ES256',
    payload: MESSAGE,
  });
});

test("junk under a user's kid is refused without a word about the user, the organization or the message", async () => {
  const forged = signed(ecPair(), userKid);
  const response = await post({ jws: forged });
  assert.deepEqual(response, {
    status: 200,
    body: {
      status: 200,
      results: {
        ...REFUSED,
        code: 'signature_invalid',
        message: 'The signature does not verify with the registered public key.',
        hint: 'Sign with the private key whose public half was registered under this kid, and send the token unchanged.',
        key_id: userKid,
      },
      debug_info: undefined,
    },
  });
  const text = JSON.stringify(response);
  for (const secret of [userId, f.orgId, 'ali@example.com', 'unfollow'])
    assert.ok(!text.includes(secret), secret);
});

test('a payload sent twice, or missing beside a detached JWS, is a 200 refusal naming the field', async () => {
  assert.deepEqual((await post({ jws: signed(f.pair, f.kid), payload: MESSAGE })).body.results, {
    ...REFUSED,
    code: 'token_malformed',
    message: 'The "jws" carries its payload, and a "payload" was sent beside it too.',
    hint: 'Send the message once: leave out "payload", or sign it detached (header..signature) and keep "payload".',
    key_id: f.kid,
  });
  assert.deepEqual((await post({ jws: signed(f.pair, f.kid, true) })).body.results, {
    ...REFUSED,
    code: 'token_malformed',
    message: 'The "jws" is detached (nothing between its two dots), and no "payload" was sent beside it.',
    hint: 'Send the signed message in "payload" (an empty message as ""), or sign it attached.',
    key_id: f.kid,
  });
});

test('a request without a "jws" string is a 400 naming the field and what it holds', async () => {
  const hint =
    'Send {"jws": "<header>.<payload>.<signature>"}, or {"jws": "<header>..<signature>", "payload": "<the message>"} for a detached signature.';
  assert.deepEqual((await post({ payload: MESSAGE })).body, {
    status: 400,
    error: {
      code: 'invalid_request',
      field: 'jws',
      message: 'The body has no "jws": it is the signed message to verify.',
      hint,
    },
    debug_info: undefined,
  });
  assert.equal(
    (await post({ jws: '' })).body.error.message,
    'The body has an empty "jws": it is the signed message to verify.',
  );
  const cases: [unknown, string, string][] = [
    [{ jws: 7 }, 'jws', 'The body field "jws" must be string.'],
    [
      { jws: signed(f.pair, f.kid, true), payload: { text: MESSAGE } },
      'payload',
      'The body field "payload" must be string.',
    ],
    [
      { jws: 'a'.repeat(MAX_MESSAGE_JWS_LENGTH + 1) },
      'jws',
      `The body field "jws" must NOT have more than ${MAX_MESSAGE_JWS_LENGTH} characters.`,
    ],
    [
      { jws: signed(f.pair, f.kid, true), payload: 'x'.repeat(MAX_MESSAGE_BYTES + 1) },
      'payload',
      `The body field "payload" must NOT have more than ${MAX_MESSAGE_BYTES} characters.`,
    ],
    [['jws'], 'body', 'The body must be object.'],
  ];
  for (const [payload, field, message] of cases) {
    const { status, body } = await post(payload);
    assert.equal(status, 400);
    assert.deepEqual(
      [body.error.code, body.error.field, body.error.message],
      ['invalid_request', field, message],
    );
  }
});

test('a form body is read like JSON', async () => {
  const form = new URLSearchParams({ jws: signed(f.pair, f.kid, true), payload: MESSAGE }).toString();
  const { body } = await post(form, { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(body.results.valid, true);
  assert.equal(body.results.payload, MESSAGE);
});

test('the endpoint is in the OpenAPI document with its body and answer', async () => {
  const spec = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
  const operation = spec.paths['/v1/signatures/verify'].post;
  const body = operation.requestBody.content['application/json'].schema;
  assert.deepEqual(Object.keys(body.properties), ['jws', 'payload']);
  const results = operation.responses['200'].content['application/json'].schema.properties.results;
  assert.deepEqual(Object.keys(results.properties), [
    'valid',
    'code',
    'message',
    'hint',
    'org_id',
    'key_id',
    'owner',
    'alg',
    'payload',
  ]);
});
