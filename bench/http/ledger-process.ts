import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { JtiClaim } from '../../src/store/store.ts';

/**
 * CPU microseconds of one replay-ledger binding, as `keygate serve` makes them: the embedded
 * store with its checkpoint thread (whose CPU counts too), batches of BATCH claims (one
 * event-loop turn's under the closed-loop rows), into a ledger already holding PREFILL bindings
 * (a few seconds of those rows). A fresh token costs Keygate this on top of what any server pays;
 * the reference keeps no ledger. In a process of its own, as the verifier row is. Prints
 * `{"us": ...}`, the median of ROUNDS.
 */
const BATCH = 16;
const PREFILL = 100_000;
const ROUNDS = 5;
const BATCHES_PER_ROUND = 400;

const dir = mkdtempSync(join(tmpdir(), 'keygate-ledger-bench-'));
const store = new SqliteStore(join(dir, 'ledger.db'), { backgroundCheckpoints: true });
const now = Math.floor(Date.now() / 1000);
// Claims as the service hands them over: an issuer, a client's jti, the token's hash.
const claim = (): JtiClaim => ({
  iss: 'bench-org-0000-0000-0000-000000000000',
  jti: randomBytes(12).toString('base64url'),
  tokenHash: randomBytes(32).toString('base64url'),
  expiresAt: now + 3600,
});
try {
  for (let bound = 0; bound < PREFILL; bound += 500)
    await store.bindJtis(Array.from({ length: 500 }, claim), now);
  const perBinding: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const batches = Array.from({ length: BATCHES_PER_ROUND }, () => Array.from({ length: BATCH }, claim));
    const before = process.cpuUsage();
    for (const batch of batches) await store.bindJtis(batch, now);
    const used = process.cpuUsage(before);
    perBinding.push((used.user + used.system) / (BATCHES_PER_ROUND * BATCH));
  }
  perBinding.sort((a, b) => a - b);
  process.stdout.write(`${JSON.stringify({ us: perBinding[Math.floor(ROUNDS / 2)] })}\n`);
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
