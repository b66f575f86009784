/**
 * A small in-process benchmark harness. Variants run interleaved, round after round, so that
 * noise from a shared machine hits them all alike; the table reports medians and ratios to a
 * baseline measured in the same run, never a single absolute time.
 */
export interface Variant {
  name: string;
  /** Runs `count` operations; may be async. */
  run: (count: number) => unknown;
}

export interface Measured {
  name: string;
  opsPerSecond: number[];
  median: number;
}

export async function measure(
  variants: Variant[],
  options: { rounds: number; opsPerRound: number },
): Promise<Map<string, Measured>> {
  const results = new Map<string, Measured>(
    variants.map((v) => [v.name, { name: v.name, opsPerSecond: [], median: 0 }]),
  );
  for (const variant of variants) await variant.run(Math.min(50, options.opsPerRound)); // warm-up
  for (let round = 0; round < options.rounds; round++) {
    for (const variant of variants) {
      const start = process.hrtime.bigint();
      await variant.run(options.opsPerRound);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      results.get(variant.name)?.opsPerSecond.push(options.opsPerRound / seconds);
    }
  }
  for (const result of results.values()) result.median = median(result.opsPerSecond);
  return results;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface Row {
  case: string;
  value: string;
  baseline: string;
  ratio: number;
  target?: number;
}

export function printTable(title: string, rows: Row[]): boolean {
  let ok = true;
  const lines = [
    `### ${title}`,
    '',
    '| case | measured (median or percentile) | baseline (same run) | ratio | target | |',
    '| --- | ---: | --- | ---: | ---: | --- |',
  ];
  for (const row of rows) {
    const pass = row.target === undefined ? '' : row.ratio >= row.target ? 'ok' : 'MISSED';
    if (pass === 'MISSED') ok = false;
    lines.push(
      `| ${row.case} | ${row.value} | ${row.baseline} | ${row.ratio.toFixed(2)}x | ${row.target === undefined ? '' : `>= ${row.target}x`} | ${pass} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
  return ok;
}

export const fmt = (opsPerSecond: number) =>
  opsPerSecond >= 1e6 ? `${(opsPerSecond / 1e6).toFixed(2)} M/s` : `${(opsPerSecond / 1e3).toFixed(1)} k/s`;
