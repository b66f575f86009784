import { createHash } from 'node:crypto';
import { readSecretInput } from './secret-input.ts';

/**
 * Reads a password (piped on stdin, or typed without echo) and returns what spec 004 sends as
 * pass_hash: its SHA-256 in hex. The password itself never leaves this process.
 */
export async function readPassHash(): Promise<string> {
  const password = await readSecretInput('password');
  return createHash('sha256').update(password, 'utf8').digest('hex');
}
