import { REASON_CODE_LIST, type ReasonCode } from './reason-codes.ts';

/** How a token that named a registered key ended: accepted, or refused with its reason code. */
export type KeyUseOutcome = 'accepted' | ReasonCode;

/**
 * Every outcome, in a fixed order: a closed list, so a key's counters are one small array and
 * what a flood of requests can grow is bounded by the keys that exist, never by what they send.
 */
export const KEY_USE_OUTCOMES: readonly KeyUseOutcome[] = ['accepted', ...REASON_CODE_LIST];

/** One row of the key_usage table: how many tokens naming `kid` ended in `outcome`. */
export interface KeyUseCount {
  kid: string;
  outcome: KeyUseOutcome;
  count: number;
}

/** What one flush adds: counts to add, and last-used times that only ever move forward. */
export interface KeyUseBatch {
  counts: readonly KeyUseCount[];
  lastUsed: ReadonlyMap<string, number>;
}

/** A key's counts as the dashboard, the CLI and GET /auth/signing-keys show them. */
export interface KeyUsage {
  accepted: number;
  /** Refusals by reason code; a code never seen is absent. */
  refused: Partial<Record<ReasonCode, number>>;
}

/** Rows of the key_usage table, gathered per key; a key with no row has no entry. */
export function usageByKey(rows: readonly KeyUseCount[]): Map<string, KeyUsage> {
  const byKey = new Map<string, KeyUsage>();
  for (const row of rows) {
    let usage = byKey.get(row.kid);
    if (!usage) {
      usage = { accepted: 0, refused: {} };
      byKey.set(row.kid, usage);
    }
    if (row.outcome === 'accepted') usage.accepted += row.count;
    else usage.refused[row.outcome] = (usage.refused[row.outcome] ?? 0) + row.count;
  }
  return byKey;
}

/** A key no token has named yet. */
export function noUsage(): KeyUsage {
  return { accepted: 0, refused: {} };
}

/** Every refusal of a key, whatever its reason. */
export function refusedTotal(usage: KeyUsage): number {
  let total = 0;
  for (const count of Object.values(usage.refused)) total += count ?? 0;
  return total;
}
