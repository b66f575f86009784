import { createPublicKey, type KeyObject, verify } from 'node:crypto';
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
 * The rate of a server measured at `rate` with `addedUs` more of its event loop's time per
 * request: what the ledger server would reach if each binding cost it that much more, as one does
 * once the ledger's memory is full (its SQLite writes run on the loop: node:sqlite is synchronous).
 */
export function withLoopWork(rate: number, addedUs: number): number {
  return 1 / (1 / rate + addedUs / 1e6);
}

const LEDGER_PROCESS = new URL('./ledger-process.ts', import.meta.url).pathname;

/**
 * CPU microseconds of one replay-ledger binding (ledger-process.ts), measured in this run: within
 * the memory's bound on recent bindings, as the benchmark's rows bind, and past it.
 */
export function ledgerCpuUs(): Promise<{ us: number; pastBoundUs: number }> {
  return jsonFromProcess<{ us: number; pastBoundUs: number }>(LEDGER_PROCESS);
}
