import { createPublicKey, generateKeyPairSync, type KeyObject, verify } from 'node:crypto';
import { importSPKI, jwtVerify } from 'jose';
import { CheckRun } from '../src/core/check-run.ts';
import { verifyKeyPairToken } from '../src/core/key-pair-token.ts';
import { plannedSignature, type SignatureVerdict } from '../src/core/signature-work.ts';
import { parseCompactJws } from '../src/core/token-format.ts';
import { signToken } from '../src/sdk/sign-token.ts';
import { Refused } from '../src/service/auth-error.ts';
import { type Keygate, startKeygate } from '../src/service/keygate.ts';
import { fmt, measure, printTable, type Row, type Variant } from './harness.ts';

const AUD = 'api.happypathology.com';
const policy = { audiences: [AUD], leewaySeconds: 60, maxLifetimeSeconds: 3600 };

interface Setup {
  keygate: Keygate;
  tokens: string[];
  spki: KeyObject;
  spkiPem: string;
}

async function setup(bits: number, count: number): Promise<Setup> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const spkiPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const keygate = await startKeygate({ database: ':memory:', policy });
  const org = await keygate.keys.createOrg('Bench');
  const key = await keygate.keys.registerKey({ orgId: org.id, publicKey: spkiPem, grantedByAdmin: true });
  const tokens = Array.from({ length: count }, (_, i) =>
    signToken({
      privateKey,
      orgId: org.id,
      kid: key.key_id,
      sub: `user-${i}`,
      aud: AUD,
      role: 'user',
      jti: `jti-${i}`,
    }),
  );
  return { keygate, tokens, spki: createPublicKey(spkiPem), spkiPem };
}

/** Cycles through pre-signed tokens; every token is fresh to the verifier (it has no cache). */
function cycle(tokens: string[]) {
  let i = 0;
  return () => tokens[i++ % tokens.length] as string;
}

/**
 * Keygate's verifier, raw `crypto.verify` and an awaited `jose.jwtVerify` over the same fresh
 * RS256 tokens of one key size, as harness variants (the HTTP benchmark reuses the first two).
 */
export async function verifierVariants(bits: number, count: number) {
  const s = await setup(bits, count);
  const joseKey = await importSPKI(s.spkiPem, 'RS256');
  const next = cycle(s.tokens);
  const given = s.tokens.map((token) => {
    const parsed = parseCompactJws(token);
    if (!parsed.ok) throw new Error('a bench token does not parse');
    return { jws: parsed.jws, verdict: undefined as SignatureVerdict | undefined };
  });
  const entry = await s.keygate.directory.resolve(given[0]?.jws.payload.kid as string);
  if (!entry) throw new Error('the bench key is not in the directory');
  for (const item of given) {
    const work = plannedSignature(item.jws.header, entry, item.jws);
    if (!work) throw new Error('a bench token has no signature to verify');
    item.verdict = { work, valid: true };
  }
  const raw = () => {
    const token = next();
    const dot = token.lastIndexOf('.');
    return verify(
      'sha256',
      Buffer.from(token.slice(0, dot)),
      s.spki,
      Buffer.from(token.slice(dot + 1), 'base64url'),
    );
  };
  return {
    raw: {
      name: 'raw',
      run: (n) => {
        for (let i = 0; i < n; i++) if (!raw()) throw new Error('raw verify failed');
      },
    } satisfies Variant,
    keygate: {
      name: 'keygate',
      // As a protected route calls it: awaited only when it had to wait (it never does here).
      run: async (n) => {
        for (let i = 0; i < n; i++) {
          const verified = s.keygate.authenticator.verifyTokenSoon(next());
          if (verified instanceof Refused) throw verified.error();
          if (verified instanceof Promise) await verified;
        }
      },
    } satisfies Variant,
    /** The verifier's own work without the signature: the strict parse of each token. */
    parse: {
      name: 'parse',
      run: (n) => {
        for (let i = 0; i < n; i++) if (!parseCompactJws(next()).ok) throw new Error('parse failed');
      },
    } satisfies Variant,
    /** And its checks, on tokens parsed beforehand, with each signature's verdict given. */
    checks: {
      name: 'checks',
      run: (n) => {
        for (let i = 0; i < n; i++) {
          const { jws, verdict } = given[i % given.length] as (typeof given)[number];
          const env = { key: entry, verdict, policy, now: Math.floor(Date.now() / 1000) };
          if (!verifyKeyPairToken(jws, env, new CheckRun('first-failure')).ok)
            throw new Error('checks failed');
        }
      },
    } satisfies Variant,
    jose: {
      name: 'jose',
      run: async (n) => {
        for (let i = 0; i < n; i++)
          await jwtVerify(next(), joseKey, { audience: AUD, algorithms: ['RS256'] });
      },
    } satisfies Variant,
    close: () => s.keygate.close(),
  };
}

export async function benchVerify(): Promise<boolean> {
  let ok = true;
  const rows: Row[] = [];
  const fresh2048 = { value: 0 };
  for (const [bits, count, opsPerRound, target] of [
    [2048, 2000, 2000, 0.7],
    [4096, 600, 600, 0.85],
  ] as const) {
    const v = await verifierVariants(bits, count);
    // The ledger must not see the same jti twice across rounds: authenticate gets its own, larger token set.
    // The steady state, as the HTTP benchmark's verifier row measures it: V8 is still optimising
    // the verifier's JavaScript thousands of calls in (about half a second of verifying here).
    const results = await measure([v.raw, v.keygate, v.jose], {
      rounds: 7,
      opsPerRound,
      warmUpOps: bits === 2048 ? 20_000 : 6_000,
    });
    const rawOps = results.get('raw')?.median ?? 0;
    const keygateOps = results.get('keygate')?.median ?? 0;
    const joseOps = results.get('jose')?.median ?? 0;
    if (bits === 2048) fresh2048.value = keygateOps;
    rows.push(
      {
        case: `RS256-${bits} fresh tokens: Keygate verifier`,
        value: fmt(keygateOps),
        baseline: `raw crypto.verify ${fmt(rawOps)}`,
        ratio: keygateOps / rawOps,
        target,
      },
      {
        case: `RS256-${bits} fresh tokens: Keygate verifier`,
        value: fmt(keygateOps),
        baseline: `awaited jose.jwtVerify ${fmt(joseOps)}`,
        ratio: keygateOps / joseOps,
        target: 2,
      },
    );
    await v.close();
  }
  // Fresh vs cached through authenticate(), the path every protected route takes (with the SQLite jti ledger).
  const s = await setup(2048, 4000);
  const fresh = s.tokens.slice(0, 3500);
  let f = 0;
  const repeated = s.tokens[3999] as string;
  // Its second use admits it to the token cache.
  for (let use = 0; use < 2; use++) await s.keygate.authenticator.authenticate(repeated);
  const results = await measure(
    [
      {
        name: 'fresh',
        run: async (n) => {
          for (let i = 0; i < n; i++) await s.keygate.authenticator.authenticate(fresh[f++] as string);
        },
      },
      {
        name: 'cached',
        run: async (n) => {
          for (let i = 0; i < n; i++) await s.keygate.authenticator.authenticate(repeated);
        },
      },
    ],
    { rounds: 5, opsPerRound: 500 },
  );
  const freshOps = results.get('fresh')?.median ?? 0;
  const cachedOps = results.get('cached')?.median ?? 0;
  rows.push(
    {
      case: 'RS256-2048 authenticate(), fresh token (+ jti ledger on SQLite)',
      value: fmt(freshOps),
      baseline: `Keygate verifier alone ${fmt(fresh2048.value)}`,
      ratio: freshOps / fresh2048.value,
    },
    {
      case: 'RS256-2048 authenticate(), repeated token (verified-token cache)',
      value: fmt(cachedOps),
      baseline: `authenticate() fresh ${fmt(freshOps)}`,
      ratio: cachedOps / freshOps,
      target: 20,
    },
    {
      case: 'RS256-2048 authenticate(), repeated token (verified-token cache)',
      value: fmt(cachedOps),
      baseline: `Keygate verifier alone, fresh ${fmt(fresh2048.value)}`,
      ratio: cachedOps / fresh2048.value,
      target: 20,
    },
  );
  await s.keygate.close();
  ok = printTable('Token verification (in process, one core)', rows) && ok;
  return ok;
}
