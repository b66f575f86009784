import { spawn } from 'node:child_process';

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

/**
 * `clock: 'cpu'` times a round by this process's CPU time instead of the wall clock: for work
 * that runs on this thread alone, the same figure, but one that other processes on a busy
 * machine cannot stretch by taking the core away.
 */
export async function measure(
  variants: Variant[],
  options: { rounds: number; opsPerRound: number; clock?: 'wall' | 'cpu'; warmUpOps?: number },
): Promise<Map<string, Measured>> {
  const results = new Map<string, Measured>(
    variants.map((v) => [v.name, { name: v.name, opsPerSecond: [], median: 0 }]),
  );
  for (const variant of variants) await variant.run(options.warmUpOps ?? Math.min(50, options.opsPerRound));
  for (let round = 0; round < options.rounds; round++) {
    for (const variant of variants) {
      const seconds = await timed(() => variant.run(options.opsPerRound), options.clock ?? 'wall');
      results.get(variant.name)?.opsPerSecond.push(options.opsPerRound / seconds);
    }
  }
  for (const result of results.values()) result.median = median(result.opsPerSecond);
  return results;
}

async function timed(run: () => unknown, clock: 'wall' | 'cpu'): Promise<number> {
  if (clock === 'cpu') {
    const before = process.cpuUsage();
    await run();
    const used = process.cpuUsage(before);
    return (used.user + used.system) / 1e6;
  }
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The value at percentile `p` (0-100), nearest rank. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export interface Row {
  case: string;
  value: string;
  /** Cells of the table's extra columns, in order. */
  extra?: string[];
  baseline: string;
  ratio: number;
  target?: number;
}

/** Extra columns go between the measured value and the baseline; `measured` renames that column. */
export interface Columns {
  measured?: string;
  extra?: string[];
}

/**
 * A ratio with two decimals; a miss that two decimals would round up to its target (0.847
 * against 0.85 printed as "0.85x ... MISSED") shows three, rounded down, so that it reads as
 * the miss it is.
 */
export function ratioText(ratio: number, target?: number): string {
  const two = ratio.toFixed(2);
  if (target === undefined || ratio >= target || Number(two) < target) return `${two}x`;
  return `${(Math.floor(ratio * 1000) / 1000).toFixed(3)}x`;
}

export function printTable(title: string, rows: Row[], columns: Columns = {}): boolean {
  let ok = true;
  const extra = columns.extra ?? [];
  const cells = (values: string[]) => values.map((value) => ` ${value} |`).join('');
  const lines = [
    `### ${title}`,
    '',
    `| case | ${columns.measured ?? 'measured (median or percentile)'} |${cells(extra)} baseline (same run) | ratio | target | |`,
    `| --- | ---: |${cells(extra.map(() => '---:'))} --- | ---: | ---: | --- |`,
  ];
  for (const row of rows) {
    const pass = row.target === undefined ? '' : row.ratio >= row.target ? 'ok' : 'MISSED';
    if (pass === 'MISSED') ok = false;
    const filled = extra.map((_, i) => row.extra?.[i] ?? '');
    lines.push(
      `| ${row.case} | ${row.value} |${cells(filled)} ${row.baseline} | ${ratioText(row.ratio, row.target)} | ${row.target === undefined ? '' : `>= ${row.target}x`} | ${pass} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
  return ok;
}

export const fmt = (opsPerSecond: number) =>
  opsPerSecond >= 1e6 ? `${(opsPerSecond / 1e6).toFixed(2)} M/s` : `${(opsPerSecond / 1e3).toFixed(1)} k/s`;

/** A rate of HTTP requests, as the HTTP table shows it. */
export const perSecond = (rate: number) => `${fmt(rate).replace('/s', '')} req/s`;

/**
 * Runs `script` in a Node process of its own (a measurement kept away from this process's heap)
 * and parses the one line of JSON it prints.
 */
export async function jsonFromProcess<T>(script: string): Promise<T> {
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${script} exited with ${code}`);
  return JSON.parse(out) as T;
}
