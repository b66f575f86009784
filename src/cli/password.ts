import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CodedError } from '../core/error-codes.ts';
import { checkNewPassword, parseCommonPasswords } from '../core/password-policy.ts';
import { readSecretInput } from './secret-input.ts';

const COMMON_PASSWORDS = new URL('../core/common-passwords.txt', import.meta.url);

/**
 * Reads a password (piped on stdin, or typed without echo) and returns what spec 004 sends as
 * pass_hash: its SHA-256 in hex. The password itself never leaves this process.
 */
export async function readPassHash(): Promise<string> {
  return passHash(await readSecretInput('password'));
}

/**
 * Reads a password being chosen (a new account, a new password) and refuses, before hashing, one
 * under the floor of core/password-policy.ts: the only place Keygate sees a password rather than
 * its hash.
 */
export async function readNewPassHash(): Promise<string> {
  const password = await readSecretInput('password');
  const refusal = checkNewPassword(password, parseCommonPasswords(readFileSync(COMMON_PASSWORDS, 'utf8')));
  if (refusal) throw new CodedError(refusal.code, refusal);
  return passHash(password);
}

function passHash(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('hex');
}
