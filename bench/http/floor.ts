import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { jsonFromProcess } from '../harness.ts';
import type { BenchKey } from './fixture.ts';

/**
 * CPU microseconds of one bare `crypto.verify` of `kind`'s tokens in this process: the part of a
 * fresh token's cost that no server can avoid. Measured on tokens of the run, as they were sent.
 */
export function verifyCpuUs(key: BenchKey, authorizations: readonly string[]): number {
  const publicKey: KeyObject = createPublicKey(key.privatePem);
  const parts = authorizations.slice(0, 2000).map((authorization) => {
    const token = authorization.slice('Bearer '.length);
    const dot = token.lastIndexOf('.');
    return {
      data: Buffer.from(token.slice(0, dot)),
      signature: Buffer.from(token.slice(dot + 1), 'base64url'),
    };
  });
  const options = key.kind === 'ES256' ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const } : publicKey;
  for (const { data, signature } of parts.slice(0, 100)) verify('sha256', data, options, signature);
  const before = process.cpuUsage();
  for (const { data, signature } of parts) {
    if (!verify('sha256', data, options, signature))
      throw new Error(`a ${key.kind} bench token did not verify`);
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / parts.length;
}

/**
 * The highest rate any server could reach on this machine for a fresh token, with every core
 * busy: each request costs at least the server's bare answer (Keygate's own /healthz, measured
 * in the run), one signature verification, and the load generator's share, which shares the
 * cores. A target above `bound / reference rate` is out of this machine's reach, whatever the
 * server does.
 */
export function boundRate(
  healthzCpuUs: number,
  verifyUs: number,
  generatorCpuUs: number,
  ledgerUs = 0,
): number {
  return (availableParallelism() * 1e6) / (healthzCpuUs + verifyUs + generatorCpuUs + ledgerUs);
}

const LEDGER_PROCESS = new URL('./ledger-process.ts', import.meta.url).pathname;

/** CPU microseconds of one replay-ledger binding (ledger-process.ts), measured in this run. */
export async function ledgerCpuUs(): Promise<number> {
  return (await jsonFromProcess<{ us: number }>(LEDGER_PROCESS)).us;
}
