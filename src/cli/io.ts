import { readFileSync } from 'node:fs';
import { CliError, EXIT } from './output.ts';

/** Reads a file the user named, or says which path failed and what to give instead. */
export function readUserFile(path: string, hint: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError(
      'file_unreadable',
      `Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`,
      {
        hint,
      },
    );
  }
}

/**
 * Calls a Keygate server and returns the status and parsed envelope. A server that cannot be
 * reached is exit code 4, with the URL that failed.
 */
export async function callServer<T>(
  url: string,
  path: string,
  init: RequestInit & { timeoutMs?: number } = {},
): Promise<{ status: number; body: T | undefined }> {
  let response: Response;
  try {
    response = await fetch(new URL(path, url), {
      ...init,
      signal: AbortSignal.timeout(init.timeoutMs ?? 15_000),
    });
  } catch (error) {
    throw new CliError('unreachable', `Cannot reach ${url}: ${(error as Error).message}.`, {
      hint: 'Check --url and that the server is running (keygate serve).',
      exitCode: EXIT.server,
    });
  }
  return { status: response.status, body: (await response.json().catch(() => undefined)) as T | undefined };
}
