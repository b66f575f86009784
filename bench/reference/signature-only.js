// The floor under the fresh-token rows of `npm run bench -- http`: a server that checks a token's
// signature and nothing else, the fastest way found here. Fastify, each kid's public key imported
// once, every signature of a turn of the event loop verified together at its end (as Keygate's
// service/turn-signatures.ts does, and for the reason given there), a costly kind (RSA-4096,
// P-256) split with libuv's thread pool, P-256 signatures re-encoded as DER as Keygate does. No
// claim is checked, no jti remembered, no security header set: what any Fastify server that
// verifies each token's signature pays at the least. Plain JavaScript, as bare-fastify.js.
// Run: node signature-only.js PORT KEYS_JSON.
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const [port, keysFile] = process.argv.slice(2);
const keys = new Map();
for (const entry of JSON.parse(readFileSync(keysFile, 'utf8'))) {
  const key = createPublicKey(entry.spki);
  const ec = key.asymmetricKeyType === 'ec';
  const costly = ec || (key.asymmetricKeyDetails?.modulusLength ?? 0) > 3072;
  keys.set(entry.kid, { org: entry.org, key, ec, costly });
}

/**
 * A JWS's R||S as the DER OpenSSL reads natively, as Keygate's core/signature-work.ts does: a
 * quarter cheaper than asking Node for `dsaEncoding: 'ieee-p1363'`, which converts on every call.
 */
function der(raw) {
  const integer = (half) => {
    let start = 0;
    while (start < half.length - 1 && half[start] === 0) start++;
    const value = half.subarray(start);
    return Buffer.concat([
      Buffer.from([0x02, value.length + (value[0] >= 0x80 ? 1 : 0)]),
      value[0] >= 0x80 ? Buffer.from([0]) : Buffer.alloc(0),
      value,
    ]);
  };
  const body = Buffer.concat([integer(raw.subarray(0, 32)), integer(raw.subarray(32, 64))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

let due = [];
function verifyDue() {
  const turn = due;
  due = [];
  let costly = 0;
  for (const check of turn) {
    if (turn.length > 1 && check.costly && costly++ % 2 === 1)
      verify('sha256', check.data, check.key, check.signature, (error, valid) =>
        check.answer(!error && valid),
      );
  }
  costly = 0;
  for (const check of turn) {
    if (turn.length > 1 && check.costly && costly++ % 2 === 1) continue;
    check.answer(verify('sha256', check.data, check.key, check.signature));
  }
}

const app = Fastify();
app.get('/healthz', async () => ({ ok: true }));
app.get('/v1/whoami', (request, reply) => {
  const token = (request.headers.authorization ?? '').slice('Bearer '.length);
  const first = token.indexOf('.');
  const last = token.lastIndexOf('.');
  let header;
  let payload;
  try {
    header = JSON.parse(Buffer.from(token.slice(0, first), 'base64url').toString());
    payload = JSON.parse(Buffer.from(token.slice(first + 1, last), 'base64url').toString());
  } catch {
    return reply.code(401).send({ error: 'invalid_token' });
  }
  const known = keys.get(header.kid ?? payload.kid);
  if (!known) return reply.code(401).send({ error: 'invalid_token' });
  if (due.length === 0) setImmediate(verifyDue);
  due.push({
    key: known.key,
    costly: known.costly,
    data: Buffer.from(token.slice(0, last), 'latin1'),
    signature: known.ec
      ? der(Buffer.from(token.slice(last + 1), 'base64url'))
      : Buffer.from(token.slice(last + 1), 'base64url'),
    answer: (valid) =>
      valid
        ? reply.send({ org_id: known.org, sub: payload.sub, kid: header.kid ?? payload.kid })
        : reply.code(401).send({ error: 'invalid_token' }),
  });
  return reply;
});
await app.listen({ port: Number(port), host: '127.0.0.1' });
