import { randomUUID, sign } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { encodeBase64url as b64 } from '../../src/core/base64url.ts';
import { signToken } from '../../src/sdk/sign-token.ts';
import { AUD, type BenchKey } from './fixture.ts';
import type { SignJob } from './sign-worker.ts';

const WORKER = new URL('./sign-worker.ts', import.meta.url);

/**
 * `count` tokens signed by `key`, each with its own jti, so that every one is new to the server
 * (a fresh token costs a signature check and a ledger write; a repeated one is a cache hit).
 * RSA signing is the slow half of the benchmark, so it runs on every core before any timing.
 */
export async function signTokens(
  key: BenchKey,
  orgId: string,
  count: number,
  kid: 'registered' | 'random' = 'registered',
): Promise<string[]> {
  const workers = availableParallelism();
  const shares = await Promise.all(
    Array.from({ length: workers }, (_, i) => {
      const job: SignJob = {
        privatePem: key.privatePem,
        orgId,
        aud: AUD,
        kid: kid === 'registered' ? key.kid : null,
        count: Math.floor(count / workers) + (i < count % workers ? 1 : 0),
      };
      return new Promise<string[]>((resolve, reject) => {
        const worker = new Worker(WORKER, { workerData: job });
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    }),
  );
  return shares.flat();
}

/**
 * Tokens of a valid structure naming a registered RSA kid, whose signature is a genuine one of
 * that key over other bytes: the server must run the whole RSA check to refuse each. (Random
 * bytes would often exceed the modulus and be refused before any arithmetic.)
 */
export function badSignatures(key: BenchKey, orgId: string, count: number): string[] {
  const signature = b64(sign('sha256', Buffer.from('other bytes'), key.privatePem));
  const header = b64(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: count }, () => {
    const payload = { aud: AUD, exp: now + 3600, iat: now, iss: orgId, jti: randomUUID(), sub: 'bench' };
    return `${header}.${b64(JSON.stringify({ ...payload, role: 'user', kid: key.kid }))}.${signature}`;
  });
}

/** A token cut before its signature: refused by the format check, before any key is looked up. */
export function malformed(key: BenchKey, orgId: string): string {
  const token = signToken({ privateKey: key.privatePem, orgId, kid: key.kid, sub: 'bench', aud: AUD });
  return token.slice(0, token.lastIndexOf('.'));
}

/**
 * A token whose payload names a claim twice (`sub`), the ambiguity the strict parser exists to
 * refuse: refused while its payload is parsed, before any key is looked up.
 */
export function duplicateClaim(key: BenchKey, orgId: string): string {
  const now = Math.floor(Date.now() / 1000);
  const header = b64(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const claims = `{"aud":"${AUD}","exp":${now + 3600},"iat":${now},"iss":"${orgId}","jti":"${randomUUID()}","sub":"bench","sub":"admin","kid":"${key.kid}"}`;
  return `${header}.${b64(claims)}.${b64(sign('sha256', Buffer.from(claims), key.privatePem))}`;
}
