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

// C0 controls, DEL and C1 controls (ESC and CSI start the sequences that retitle or clear a
// terminal and move its cursor), and the bidi embeddings, overrides and isolates that make text
// display in another order than it is stored (Trojan Source, CVE-2021-42574).
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this finds.
const UNSAFE_FOR_TERMINAL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Writes every character that could drive a terminal or reorder a line as a visible escape:
 * ESC as `\x1b`, U+202E as `\u202e`. `keep` lists characters to leave as they are (the
 * newlines a printer puts between its own lines).
 */
export function escapeForTerminal(text: string, keep = ''): string {
  return text.replace(UNSAFE_FOR_TERMINAL, (char) => {
    if (keep.includes(char)) return char;
    const code = char.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
}

/** A copy of `value` with every string in it, member names included, escaped for a terminal. */
export function terminalSafe<T>(value: T): T {
  if (typeof value === 'string') return escapeForTerminal(value) as T;
  if (Array.isArray(value)) return value.map(terminalSafe) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([name, member]) => [escapeForTerminal(name), terminalSafe(member)]),
    ) as T;
  }
  return value;
}

/**
 * Prints `data` as JSON with --json (JSON.stringify escapes C0 controls itself), else the human
 * text. Every human printer goes through here, and what it prints can come from a server or a
 * token (a `sub`, a message): `human` is handed `data` with every string escaped, newlines
 * included, so a value cannot even start a line of its own; whatever else it prints is escaped
 * too, except the newlines between its lines.
 */
export function print<T>(options: OutputOptions, data: T, human: (safe: T) => string): void {
  process.stdout.write(
    options.json
      ? `${JSON.stringify(data, null, 2)}\n`
      : `${escapeForTerminal(human(terminalSafe(data)), '\n')}\n`,
  );
}

export function printError(json: boolean, error: CliError): void {
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ error: { code: error.code, field: error.field, message: error.message, hint: error.hint } }, null, 2)}\n`,
    );
  } else {
    // A message can be a server's own words (login relays them): escaped like any human output.
    const field = error.field === undefined ? '' : `${escapeForTerminal(error.field)}: `;
    const hint = error.hint ? `hint: ${escapeForTerminal(error.hint)}\n` : '';
    process.stderr.write(`error: ${field}${escapeForTerminal(error.message)}\n${hint}`);
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
