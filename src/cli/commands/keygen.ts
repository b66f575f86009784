import { generateKeyPairSync } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
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
    .option('--force', 'overwrite existing files')
    .option('--json', 'machine-readable output')
    .action((options: KeygenOptions) => {
      const pair = generate(options);
      const publicPath = `${options.out}.pub`;
      for (const path of [options.out, publicPath]) {
        if (existsSync(path) && !options.force) {
          throw new CliError('file_exists', `${path} exists already.`, {
            hint: 'Choose another --out, or pass --force to overwrite it.',
          });
        }
      }
      // The private key is written with mode 0600 from the first byte: never readable by others.
      writeFileSync(options.out, pair.privatePem, { mode: 0o600, flag: options.force ? 'w' : 'wx' });
      writeFileSync(publicPath, pair.publicPem, { mode: 0o644, flag: options.force ? 'w' : 'wx' });
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
