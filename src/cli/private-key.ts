import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { KeyOptionNames } from '../sdk/signing-key.ts';
import { readUserFile } from './io.ts';
import { CliError } from './output.ts';

/** Reads a private key file in PEM form (PKCS#1, SEC1 or PKCS#8), or says what to give instead. */
export function readPrivateKey(path: string): KeyObject {
  const pem = readUserFile(path, 'Give the private key file from keygate keygen or ssh-keygen -m PEM.');
  try {
    return createPrivateKey(pem);
  } catch {
    throw new CliError('invalid_key', `${path} is not a private key in PEM form.`, {
      hint: 'Give the private key file from keygate keygen or ssh-keygen -m PEM (not the .pub file).',
    });
  }
}

/** The SDK's key options as the signing commands' flags, so that a refusal names the flag to change. */
export const KEY_FLAGS: KeyOptionNames = { privateKey: '--key', alg: '--alg' };
