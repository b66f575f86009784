import { isUtf8 } from 'node:buffer';
import type { Command } from 'commander';
import { isAcceptedAlgorithm } from '../../core/algorithms.ts';
import { MAX_MESSAGE_BYTES } from '../../core/message-format.ts';
import { signMessage } from '../../sdk/sign-message.ts';
import { CliError, print } from '../output.ts';
import { KEY_FLAGS, readPrivateKey } from '../private-key.ts';

interface SignOptions {
  key: string;
  kid: string;
  detached?: boolean;
  alg?: string;
  json?: boolean;
}

const PIPE_HINT = 'Pipe the message in: keygate sign --key private.pem --kid KEY_ID < message.txt';

export function signCommand(program: Command): void {
  program
    .command('sign')
    .description('sign a message (read from stdin, as bytes) with your private key; prints a compact JWS')
    .requiredOption('--key <file>', 'the private key file')
    .requiredOption('--kid <key_id>', 'the Key ID its public half was registered under')
    .option('--detached', 'leave the message out of the JWS (header..signature); send it beside as "payload"')
    .option('--alg <alg>', 'RS256 (default for RSA), RS384 or ES256 (P-256)')
    .option('--json', 'machine-readable output')
    .action(async (options: SignOptions) => {
      if (options.alg !== undefined && !isAcceptedAlgorithm(options.alg)) {
        throw new CliError('invalid_alg', `--alg ${options.alg} is not RS256, RS384 or ES256.`);
      }
      if (options.kid.trim() === '') {
        throw new CliError('invalid_input', '--kid is empty.', {
          field: 'kid',
          hint: 'Give the Key ID its public half was registered under ("keygate key add" printed it).',
        });
      }
      const privateKey = readPrivateKey(options.key);
      const message = await readMessage();
      let jws: string;
      try {
        jws = signMessage(
          {
            privateKey,
            kid: options.kid,
            payload: message,
            detached: options.detached ?? false,
            ...(options.alg !== undefined && isAcceptedAlgorithm(options.alg) && { alg: options.alg }),
          },
          { ...KEY_FLAGS, kid: '--kid' },
        );
      } catch (error) {
        if (!(error instanceof TypeError)) throw error;
        throw new CliError('invalid_key', error.message, {
          hint: 'Use the private key whose public half you registered; leave out --alg to pick its algorithm.',
        });
      }
      print(options, { jws }, () => jws);
    });
}

/**
 * The message, byte for byte as piped in (a trailing newline included: `printf` rather than
 * `echo` leaves it out). It is refused here if Keygate would refuse it: empty (an attached JWS of
 * nothing reads as a detached one), not UTF-8 text, or over the size limit.
 */
async function readMessage(): Promise<Buffer> {
  if (process.stdin.isTTY) {
    throw new CliError('missing_input', 'sign reads the message from standard input.', { hint: PIPE_HINT });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_MESSAGE_BYTES) {
      throw new CliError('message_too_large', `The message is over ${MAX_MESSAGE_BYTES} bytes.`, {
        hint: 'Sign a shorter message, or a digest of a large document.',
      });
    }
    chunks.push(chunk as Buffer);
  }
  const message = Buffer.concat(chunks);
  if (message.length === 0) {
    throw new CliError('missing_input', 'No message on standard input.', { hint: PIPE_HINT });
  }
  if (!isUtf8(message)) {
    throw new CliError('invalid_message', 'The message is not UTF-8 text; Keygate verifies text messages.', {
      hint: 'Encode binary data (base64, say) before signing it.',
    });
  }
  return message;
}
