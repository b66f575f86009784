/**
 * The floor under the fresh-token rows of `npm run bench -- http`: a server that checks a token's
 * signature and nothing else, the fastest way found here, which is Keygate's own: Fastify, each
 * kid's public key imported once, and every signature handed to TurnSignatures (verified with the
 * turn's others at its end, a costly kind split with libuv's pool; P-256 re-encoded as DER by
 * ecdsaDer). No claim is checked, no jti remembered, no security header set: what any Fastify
 * server that verifies each token's signature pays at the least.
 * Run: node signature-only.ts PORT KEYS_JSON.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import type { Algorithm } from '../../src/core/algorithms.ts';
import { ecdsaDer, type SignatureWork } from '../../src/core/signature-work.ts';
import { TurnSignatures } from '../../src/service/turn-signatures.ts';

interface Key {
  org: string;
  keyObject: KeyObject;
  algorithm: Algorithm;
}

const [port, keysFile] = process.argv.slice(2) as [string, string];
const keys = new Map<string, Key>();
for (const entry of JSON.parse(readFileSync(keysFile, 'utf8')) as {
  kid: string;
  org: string;
  spki: string;
}[]) {
  const keyObject = createPublicKey(entry.spki);
  keys.set(entry.kid, {
    org: entry.org,
    keyObject,
    algorithm: keyObject.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256',
  });
}
const signatures = new TurnSignatures();

const app = Fastify();
app.get('/healthz', async () => ({ ok: true }));
app.get('/v1/whoami', (request, reply) => {
  const token = (request.headers.authorization ?? '').slice('Bearer '.length);
  const first = token.indexOf('.');
  const last = token.lastIndexOf('.');
  let kid: string | undefined;
  let sub: unknown;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, first), 'base64url').toString());
    const payload = JSON.parse(Buffer.from(token.slice(first + 1, last), 'base64url').toString());
    kid = header.kid ?? payload.kid;
    sub = payload.sub;
  } catch {
    return reply.code(401).send({ error: 'invalid_token' });
  }
  const key = kid === undefined ? undefined : keys.get(kid);
  if (!key) return reply.code(401).send({ error: 'invalid_token' });
  const signingInput = token.slice(0, last);
  const signature = Buffer.from(token.slice(last + 1), 'base64url');
  const work: SignatureWork = {
    jws: { signingInput, signature },
    algorithm: key.algorithm,
    keyObject: key.keyObject,
    hash: 'sha256',
    data: Buffer.from(signingInput, 'latin1'),
    signature: key.algorithm === 'ES256' ? ecdsaDer(signature) : signature,
  };
  signatures.verify(work).then(
    ({ valid }) =>
      valid ? reply.send({ org_id: key.org, sub, kid }) : reply.code(401).send({ error: 'invalid_token' }),
    () => reply.code(401).send({ error: 'invalid_token' }),
  );
  return reply;
});
await app.listen({ port: Number(port), host: '127.0.0.1' });
