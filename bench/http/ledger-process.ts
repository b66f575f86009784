import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MEMORY_BOUNDS } from '../../src/core/memory-bounds.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { JtiClaim } from '../../src/store/store.ts';

/**
 * CPU microseconds of one replay-ledger binding, as `keygate serve` makes them: the embedded
 * store with its checkpoint thread (whose CPU counts too), batches of BATCH claims (one
 * event-loop turn's under the closed-loop rows). A fresh token costs Keygate this on top of what
 * any server pays; the reference keeps no ledger. In a process of its own, as the verifier row
 * is. Prints `{"us": ..., "pastBoundUs": ...}`, medians of ROUNDS:
 * - `us`: within the bound on recent bindings held in memory (KEYGATE_RECENT_JTI_ENTRIES, its
 *   default), into a ledger already holding PREFILL bindings, as in the benchmark's rows;
 * - `pastBoundUs`: with that memory full, each batch's worth of the oldest bindings moving to
 *   the index on disk, which holds PREFILL already: a server binding fresh tokens faster than
 *   they expire, for longer than the memory lasts.
 */
const BATCH = 16;
const PREFILL = 50_000;
const ROUNDS = 5;
const BATCHES_PER_ROUND = 400;
const PAST_BOUND_ENTRIES = 10_000;

const now = Math.floor(Date.now() / 1000);
// Claims as the service hands them over: an issuer, a client's jti, the token's hash.
const claim = (): JtiClaim => ({
  iss: 'bench-org-0000-0000-0000-000000000000',
  jti: randomBytes(12).toString('base64url'),
  tokenHash: randomBytes(32).toString('base64url'),
  expiresAt: now + 3600,
});

async function perBinding(recentJtiEntries: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-ledger-bench-'));
  const store = new SqliteStore(join(dir, 'ledger.db'), { backgroundCheckpoints: true, recentJtiEntries });
  try {
    for (let bound = 0; bound < PREFILL; bound += 500) {
      await store.bindJtis(Array.from({ length: 500 }, claim), now);
      // A server's loop turns between batches, where the memory's moves run.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const us: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const batches = Array.from({ length: BATCHES_PER_ROUND }, () => Array.from({ length: BATCH }, claim));
      const before = process.cpuUsage();
      for (const batch of batches) {
        await store.bindJtis(batch, now);
        await new Promise((resolve) => setImmediate(resolve));
      }
      const used = process.cpuUsage(before);
      us.push((used.user + used.system) / (BATCHES_PER_ROUND * BATCH));
    }
    return us.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)] as number;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const us = await perBinding(DEFAULT_MEMORY_BOUNDS.recentJtiEntries);
const pastBoundUs = await perBinding(PAST_BOUND_ENTRIES);
process.stdout.write(`${JSON.stringify({ us, pastBoundUs })}\n`);
