/**
 * The floor under the fresh-token rows of `npm run bench -- http`: a server that checks a token's
 * signature and nothing else, the fastest way found here, which is Keygate's own: Fastify, each
 * kid's public key imported once, and every signature handed to TurnSignatures (verified with the
 * turn's others at its end, a costly kind split with libuv's pool), prepared by Keygate's
 * signatureWork (P-256 re-encoded as DER). No claim is checked, no security header set: what any
 * Fastify server that verifies each token's signature pays at the least.
 *
 * With a database path as its third argument it also binds each token's jti in Keygate's own
 * replay ledger (ReplayLedger over the embedded store, with its checkpoint thread, as `keygate
 * serve` runs them) before answering, and refuses a jti bound before: the least a server that
 * accepts each token once, durably, pays.
 *
 * With `checks` after the database it also does the rest of what spec 001 and DESIGN.md require
 * of a token and its answer, with Keygate's own code: the strict parse (parseCompactJws), every
 * check of the key-pair table (verifyKeyPairToken: header, kid, algorithm, iss, sub, jti, exp,
 * iat, nbf, lifetime, aud, role) and the answer in the spec's envelope with `debug_info`, through
 * the same response schema. What it leaves out is what Keygate adds of its own: security
 * headers, request ids, the verified-token cache, the counters and the key directory.
 * Run: node signature-only.ts PORT KEYS_JSON [LEDGER_DB [checks]].
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import type { Algorithm } from '../../src/core/algorithms.ts';
import { signatureLength } from '../../src/core/key-checks.ts';
import { intakePublicKey } from '../../src/core/key-intake.ts';
import { DEFAULT_POLICY } from '../../src/core/policy.ts';
import { ROLES } from '../../src/core/roles.ts';
import { signatureWork } from '../../src/core/signature-work.ts';
import type { ResolvedKey } from '../../src/core/verifying-key.ts';
import { tokenHash } from '../../src/service/bearer-text.ts';
import { systemClock } from '../../src/service/clock.ts';
import { ReplayLedger } from '../../src/service/replay-ledger.ts';
import { TurnSignatures } from '../../src/service/turn-signatures.ts';
import { newKeyRecord } from '../../src/store/key-rows.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { checkedWhoami } from './checked-whoami.ts';

interface Key extends ResolvedKey {
  algorithm: Algorithm;
}

interface Claims {
  iss?: unknown;
  jti?: unknown;
  exp?: unknown;
  sub?: unknown;
  kid?: unknown;
}

const [port, keysFile, ledgerDb, mode] = process.argv.slice(2) as [string, string, string?, 'checks'?];
const keys = new Map<string, Key>();
for (const entry of JSON.parse(readFileSync(keysFile, 'utf8')) as {
  kid: string;
  org: string;
  spki: string;
}[]) {
  // As Keygate registers a key: canonical SPKI, its family, size and algorithms; a record of an
  // organization's key under the kid the fixture gave it, active, any role.
  const canonical = intakePublicKey(entry.spki);
  const { keyObject, algorithms } = canonical;
  const record = newKeyRecord(
    {
      orgId: entry.org,
      spkiPem: canonical.spkiPem,
      thumbprint: canonical.thumbprint,
      family: canonical.family,
      bits: canonical.bits,
      expiresAt: null,
      roles: [...ROLES],
      defaultRole: 'user',
      label: null,
      ownerUserId: null,
    },
    0,
  );
  keys.set(entry.kid, {
    keyObject,
    signatureBytes: signatureLength(keyObject),
    algorithm: algorithms[0] as Algorithm,
    record: { ...record, id: entry.kid },
  });
}
const signatures = new TurnSignatures();
const ledger =
  ledgerDb === undefined
    ? undefined
    : new ReplayLedger(new SqliteStore(ledgerDb, { backgroundCheckpoints: true }), systemClock);

/** Whether the token's jti is new to the ledger (always, without one). */
function once(token: string, claims: Claims): Promise<boolean> | boolean {
  if (!ledger) return true;
  const { iss, jti, exp } = claims;
  if (typeof iss !== 'string' || typeof jti !== 'string' || typeof exp !== 'number') return false;
  return ledger
    .bind({ iss, jti, tokenHash: tokenHash(token), expiresAt: exp + DEFAULT_POLICY.leewaySeconds })
    .then((binding) => binding === 'bound');
}

const app = Fastify();
app.get('/healthz', async () => ({ ok: true }));
if (mode !== undefined && mode !== 'checks') {
  throw new Error(`unknown argument "${mode}": the fourth argument may only be "checks", after a database`);
}
if (mode === 'checks' && ledger) checkedWhoami(app, keys, signatures, ledger);
else
  app.get('/v1/whoami', (request, reply) => {
    const token = (request.headers.authorization ?? '').slice('Bearer '.length);
    const first = token.indexOf('.');
    const last = token.lastIndexOf('.');
    let kid: string | undefined;
    let claims: Claims;
    try {
      const header = JSON.parse(Buffer.from(token.slice(0, first), 'base64url').toString());
      claims = JSON.parse(Buffer.from(token.slice(first + 1, last), 'base64url').toString());
      kid = header.kid ?? claims.kid;
    } catch {
      return reply.code(401).send({ error: 'invalid_token' });
    }
    const key = kid === undefined ? undefined : keys.get(kid);
    if (!key) return reply.code(401).send({ error: 'invalid_token' });
    const jws = {
      signingInput: token.slice(0, last),
      signature: Buffer.from(token.slice(last + 1), 'base64url'),
    };
    signatures
      .verify(signatureWork(key.algorithm, key, jws))
      .then(({ valid }) => valid && once(token, claims))
      .then(
        (accepted) =>
          accepted
            ? reply.send({ org_id: key.record.orgId, sub: claims.sub, kid })
            : reply.code(401).send({ error: 'invalid_token' }),
        (error: unknown) => {
          // The ledger failed: fail closed, and say why (no token is in the message).
          process.stderr.write(`signature-only: ${(error as Error).message}\n`);
          return reply.code(503).send({ error: 'unavailable' });
        },
      );
    return reply;
  });
await app.listen({ port: Number(port), host: '127.0.0.1' });
