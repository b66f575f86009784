import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, lstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { jwkThumbprint } from '../../core/key-intake.ts';
import { CliError, cliName, print } from '../output.ts';

interface KeygenOptions {
  type: string;
  bits: string;
  out: string;
  force?: boolean;
  json?: boolean;
}

export function keygenCommand(program: Command): void {
  program
    .command('keygen')
    .description('make a key pair: the private key (mode 0600) at --out, the public key beside it as .pub')
    .option('--type <type>', 'rsa or ec (P-256)', 'rsa')
    .option('--bits <bits>', 'RSA modulus size, 2048 to 4096', '4096')
    .requiredOption('--out <path>', 'where to write the private key')
    .option('--force', 'replace existing files (a symlink at the path is replaced, not followed)')
    .option('--json', 'machine-readable output')
    .action((options: KeygenOptions) => {
      const pair = generate(options);
      const publicPath = `${options.out}.pub`;
      for (const path of [options.out, publicPath]) {
        // lstat: a symlink at the path counts as a file there, whether or not its target exists.
        if (!options.force && lstatSync(path, { throwIfNoEntry: false }) !== undefined) {
          throw new CliError('file_exists', `${path} exists already.`, {
            hint: 'Choose another --out, or pass --force to overwrite it.',
          });
        }
      }
      // The private key is in a file of mode 0600 from its first byte: never readable by others.
      writeKeyFile(options.out, pair.privatePem, 0o600, options.force);
      writeKeyFile(publicPath, pair.publicPem, 0o644, options.force);
      const data = {
        private_key: options.out,
        public_key: publicPath,
        type: options.type,
        fingerprint: pair.fingerprint,
      };
      print(options, data, () =>
        [
          `Private key: ${options.out} (mode 0600; keep it secret, never send it)`,
          `Public key:  ${publicPath}`,
          `Fingerprint: ${pair.fingerprint}`,
          `Next: ${cliName()} key add --org ORG_ID --public-key ${publicPath}`,
        ].join('\n'),
      );
    });
}

/**
 * Writes a new file of `mode`; never writes into one that exists. Overwriting (--force) writes a
 * new file beside the old one and renames it over: writing into the old file in place would keep
 * its mode (a private key in a 0644 file) and would follow a symlink at the path to wherever it
 * points. rename replaces the link itself, and O_EXCL never opens anything that exists.
 */
function writeKeyFile(path: string, contents: string, mode: number, overwrite = false): void {
  const target = overwrite
    ? join(dirname(path), `.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`)
    : path;
  let created = false;
  try {
    const fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    created = true;
    try {
      writeSync(fd, contents);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (overwrite) renameSync(target, path);
  } catch (error) {
    // Only what this call made is removed: a half-written key, or the new file a rename failed on.
    if (created) rmSync(target, { force: true });
    throw new CliError(
      'file_unwritable',
      `Cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`,
      { hint: 'Choose an --out that is not a directory, in a directory you can write to.' },
    );
  }
}

function generate(options: KeygenOptions): { privatePem: string; publicPem: string; fingerprint: string } {
  if (options.type === 'rsa') {
    const bits = Number(options.bits);
    if (!Number.isInteger(bits) || bits < 2048 || bits > 4096 || bits % 8 !== 0) {
      throw new CliError('invalid_bits', `--bits ${options.bits} is not a size from 2048 to 4096.`, {
        hint: "Use --bits 4096 (the spec's size) or 2048.",
      });
    }
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: bits,
      publicExponent: 65537,
    });
    return {
      // PKCS#1, exactly what `ssh-keygen -t rsa -m PEM` writes, so the spec's Go example reads it.
      privatePem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      fingerprint: jwkThumbprint(publicKey),
    };
  }
  if (options.type === 'ec') {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    return {
      // SEC1, as `openssl ecparam -genkey -name prime256v1 -noout` writes.
      privatePem: privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
      publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      fingerprint: jwkThumbprint(publicKey),
    };
  }
  throw new CliError('invalid_type', `--type ${options.type} is not rsa or ec.`, {
    hint: 'Use --type rsa (RS256) or --type ec (ES256, P-256).',
  });
}
