import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

// What the doctor's end-to-end tests share: the CLI spawned with exactly the settings a test
// gives, and the lines every report holds alike.

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

export interface Check {
  check: string;
  status: 'ok' | 'warn' | 'problem';
  detail: string;
}

/** Runs the CLI with exactly these KEYGATE_* settings: none leaks in from the test's own environment. */
export function keygate(settings: Record<string, string>, args: string[]) {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('KEYGATE_')) delete env[name];
  const started = performance.now();
  const result = spawnSync(process.execPath, [MAIN, ...args], {
    env: { ...env, ...settings },
    encoding: 'utf8',
  });
  return {
    code: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    ms: performance.now() - started,
  };
}

export function doctor(settings: Record<string, string>): {
  code: number | null;
  status: string;
  checks: Check[];
} {
  const result = keygate(settings, ['doctor', '--json']);
  assert.equal(result.stderr, '');
  return { code: result.code, ...JSON.parse(result.stdout) };
}

/** The checks of a report by name, to compare the ones a test is about. */
export function byName(checks: Check[]): Record<string, Check> {
  return Object.fromEntries(checks.map((c) => [c.check, c]));
}

export const CONFIG_OK: Check = {
  check: 'config',
  status: 'ok',
  detail: 'Every KEYGATE_* setting is accepted.',
};
export const NO_PEPPER: Check = {
  check: 'pepper file',
  status: 'ok',
  detail: 'Not configured (KEYGATE_PEPPER_FILE unset): no pepper.',
};
export const NO_REDIS: Check = {
  check: 'redis',
  status: 'ok',
  detail:
    'Not configured (KEYGATE_REDIS_URL unset): the replay ledger is in the store, rate limits in each process.',
};
export const LOCAL_CLOCK: Check = {
  check: 'clock',
  status: 'ok',
  detail:
    "No other clock to compare with: SQLite shares this machine's, and PostgreSQL and Redis are compared only when they answer.",
};
export const LISTEN_OK: Check = { check: 'listen', status: 'ok', detail: '127.0.0.1:8080.' };
