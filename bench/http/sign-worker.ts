/** Signs a share of a token set for tokens.ts, so that every core signs. */
import { createPrivateKey, randomUUID } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { signToken } from '../../src/sdk/sign-token.ts';

export interface SignJob {
  privatePem: string;
  orgId: string;
  aud: string;
  /** The registered kid, or null for a fresh random kid on every token (the unknown-kid flood). */
  kid: string | null;
  count: number;
}

const job = workerData as SignJob;
const privateKey = createPrivateKey(job.privatePem);
const tokens: string[] = [];
for (let i = 0; i < job.count; i++) {
  tokens.push(
    signToken({
      privateKey,
      orgId: job.orgId,
      kid: job.kid ?? randomUUID(),
      sub: 'bench',
      aud: job.aud,
      role: 'user',
      // Random rather than the default timestamp: two workers must never mint the same jti.
      jti: randomUUID(),
    }),
  );
}
parentPort?.postMessage(tokens);
