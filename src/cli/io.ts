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
 * Refuses a --url that is not http(s), before a command asks for a password or a token it would
 * then have no server to send to.
 */
export function checkServerUrl(url: string): void {
  if (!/^https?:$/.test(URL.parse(url)?.protocol ?? '')) {
    throw new CliError('invalid_url', `--url ${JSON.stringify(url)} is not an http:// or https:// URL.`, {
      hint: 'Give the server, for example --url http://127.0.0.1:8080.',
    });
  }
}

/**
 * Calls a Keygate server and returns the status and parsed envelope. A server that cannot be
 * reached is exit code 4, with the URL that failed. Callers check the URL first (checkServerUrl).
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
