import type { Command } from 'commander';
import { callServer, checkServerUrl } from '../io.ts';
import { CliError, EXIT, print, table } from '../output.ts';
import { readSecretInput } from '../secret-input.ts';

interface HelloCheck {
  name: string;
  ok: boolean;
  skipped?: boolean;
  code?: string;
  message: string;
  expected?: string;
  actual?: string;
  hint?: string;
  warning?: string;
}

interface HelloResults {
  valid: boolean;
  code?: string;
  checks: HelloCheck[];
  server_time: string;
  clock_skew_seconds?: number;
  principal?: Record<string, string>;
}

export function helloCommand(program: Command): void {
  program
    .command('hello')
    .description('ask a Keygate server to check a token and explain every check (token from stdin)')
    .requiredOption('--url <url>', 'the server, for example http://127.0.0.1:8080')
    .option('--token <jwt>', 'the token (prefer stdin or KEYGATE_TOKEN: argv is visible to other users)')
    .option('--json', 'machine-readable output (the default when stdout is not a terminal)')
    .action(async (options: { url: string; token?: string; json?: boolean }) => {
      checkServerUrl(options.url);
      const token = options.token ?? process.env.KEYGATE_TOKEN ?? (await readSecretInput('token'));
      const results = await callHello(options.url, token.trim());
      const json = options.json ?? !process.stdout.isTTY;
      print({ json }, results, render);
      process.exitCode = results.valid ? EXIT.ok : EXIT.rejected;
    });
}

async function callHello(url: string, token: string): Promise<HelloResults> {
  const { status, body } = await callServer<{ results?: HelloResults }>(url, '/auth/hello', {
    headers: { authorization: `Bearer ${token}` },
  });
  if (status !== 200 || !body?.results) {
    throw new CliError('server_error', `${url} answered ${status} to /auth/hello.`, {
      hint: 'Check that --url points at a Keygate server.',
      exitCode: EXIT.server,
    });
  }
  return body.results;
}

function render(results: HelloResults): string {
  const lines: string[] = [];
  const failed = results.checks.find((c) => !c.ok && !c.skipped);
  if (results.valid) {
    const p = results.principal ?? {};
    lines.push(`Token accepted: org ${p.org_id}, sub ${p.sub}, role ${p.role}, expires ${p.expires_at}`);
  } else if (failed) {
    lines.push(
      `Token rejected: ${failed.code}`,
      `  ${failed.message}`,
      `  what to change: ${failed.hint ?? ''}`,
    );
  }
  lines.push('');
  const rows = [['CHECK', 'RESULT', 'DETAIL']];
  for (const check of results.checks) {
    const result = check.skipped ? 'skipped' : check.ok ? (check.warning ? 'warning' : 'ok') : 'FAILED';
    const detail = [check.message];
    if (!check.ok && !check.skipped && check.expected !== undefined)
      detail.push(`expected ${check.expected}`);
    if (!check.ok && !check.skipped && check.actual !== undefined) detail.push(`got ${check.actual}`);
    rows.push([check.name, result, detail.join('; ')]);
    if (check.warning) rows.push(['', '', `-> ${check.warning}`]);
    if (!check.ok && !check.skipped && check.hint) rows.push(['', '', `-> ${check.hint}`]);
  }
  lines.push(table(rows), '');
  const skew = results.clock_skew_seconds;
  lines.push(
    `Server time ${results.server_time}${skew === undefined ? '' : `; the token's iat is ${skew >= 0 ? '+' : ''}${skew} s from it`}`,
  );
  return lines.join('\n');
}
