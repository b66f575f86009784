import { basename, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, type ErrorCode } from '../core/error-codes.ts';

/** Exit codes: scripts can tell a usage mistake from a rejected token from a server problem. */
export const EXIT = { ok: 0, failure: 1, usage: 2, rejected: 3, server: 4 } as const;

/** The exit code of a registry refusal, read from its HTTP status as scripts would read that. */
export function exitCodeFor(code: ErrorCode): number {
  const { status } = ERROR_CODES[code];
  if (status === 401) return EXIT.rejected;
  return status >= 500 ? EXIT.server : EXIT.usage;
}

/** An error the CLI reports as one line (or JSON) with a hint, then exits with `exitCode`. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: number;
  readonly hint: string | undefined;
  readonly code: string;
  readonly field: string | undefined;
  constructor(
    code: string,
    message: string,
    options: { hint?: string; exitCode?: number; field?: string } = {},
  ) {
    super(message);
    this.code = code;
    this.hint = options.hint;
    this.field = options.field;
    this.exitCode = options.exitCode ?? EXIT.usage;
  }
}

export interface OutputOptions {
  json?: boolean;
}

/** Prints `data` as JSON with --json, else the human text. */
export function print(options: OutputOptions, data: unknown, human: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
}

export function printError(json: boolean, error: CliError): void {
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ error: { code: error.code, field: error.field, message: error.message, hint: error.hint } }, null, 2)}\n`,
    );
  } else {
    const field = error.field === undefined ? '' : `${error.field}: `;
    process.stderr.write(`error: ${field}${error.message}\n${error.hint ? `hint: ${error.hint}\n` : ''}`);
  }
}

/** Lays rows out in columns for a terminal. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .join('\n');
}

/**
 * How to run this CLI again, so printed next steps can be pasted as they are: `keygate` when it
 * is on PATH, else the bin script, which (unlike `node src/cli/main.ts` under `npm start`) works
 * with whatever Node the shell has.
 */
export function cliName(): string {
  const script = process.argv[1] ?? '';
  if (basename(script) === 'keygate') return 'keygate';
  let rel = relative(process.cwd(), fileURLToPath(new URL('../../bin/keygate.js', import.meta.url)));
  if (!rel.startsWith('.') && !rel.startsWith('/')) rel = `./${rel}`;
  return rel;
}
