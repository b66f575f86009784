/**
 * The baseline of the fresh-token rows: a token check written without Keygate, the usual way,
 * with the usual library. Fastify, `jose.jwtVerify`, and public keys imported once into a Map
 * keyed by kid, under the same claim rules as Keygate (iss = the key's organization, aud, exp
 * and iat with 60 s leeway, exp - iat <= 3600, the claims spec 001 requires, kid from the header
 * or the payload, algorithms by key type). Like most such servers it keeps no replay ledger (a
 * jti is never remembered), no verified-token cache and no revocation, and leaves parsing to
 * jose. jose verifies through WebCrypto, which runs each signature check on libuv's thread pool:
 * this server spreads over every core, where Keygate verifies on its one event loop.
 * Run: node server.ts PORT KEYS_JSON AUDIENCE.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { type CryptoKey, decodeJwt, decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';

interface KeyFileEntry {
  kid: string;
  org: string;
  spki: string;
  algorithms: string[];
}

interface Key {
  org: string;
  algorithms: string[];
  /** jose binds an imported key to one algorithm: one import per algorithm the key may sign with. */
  byAlgorithm: Map<string, CryptoKey>;
}

const [port, keysFile, audience] = process.argv.slice(2) as [string, string, string];
const keys = new Map<string, Key>();
for (const entry of JSON.parse(readFileSync(keysFile, 'utf8')) as KeyFileEntry[]) {
  const byAlgorithm = new Map<string, CryptoKey>();
  for (const alg of entry.algorithms) byAlgorithm.set(alg, await importSPKI(entry.spki, alg));
  keys.set(entry.kid, { org: entry.org, algorithms: entry.algorithms, byAlgorithm });
}

class Unauthorized extends Error {}

async function verify(token: string) {
  const header = decodeProtectedHeader(token);
  const unverified = decodeJwt(token);
  if (header.kid !== undefined && unverified.kid !== undefined && header.kid !== unverified.kid) {
    throw new Unauthorized('kid mismatch');
  }
  const kid = header.kid ?? unverified.kid;
  const key = typeof kid === 'string' ? keys.get(kid) : undefined;
  const imported = key && header.alg ? key.byAlgorithm.get(header.alg) : undefined;
  if (!key || !imported) throw new Unauthorized('unknown kid or algorithm');
  const { payload } = await jwtVerify(token, imported, {
    issuer: key.org,
    audience,
    algorithms: key.algorithms,
    clockTolerance: 60,
    // Also refuses an iat more than the tolerance in the future.
    maxTokenAge: 3600,
    requiredClaims: ['jti', 'iss', 'iat', 'exp', 'aud', 'sub'],
  });
  if ((payload.exp as number) - (payload.iat as number) > 3600) throw new Unauthorized('lifetime too long');
  return { org_id: key.org, sub: payload.sub as string, kid: kid as string };
}

const app = Fastify();
app.get('/healthz', async () => ({ ok: true }));
app.get('/v1/whoami', async (request, reply) => {
  const token = request.headers.authorization?.replace(/^Bearer /i, '') ?? '';
  try {
    return await verify(token);
  } catch {
    return reply.code(401).send({ error: 'invalid_token' });
  }
});
await app.listen({ port: Number(port), host: '127.0.0.1' });
