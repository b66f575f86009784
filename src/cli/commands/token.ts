import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { isAcceptedAlgorithm } from '../../core/algorithms.ts';
import { signToken } from '../../sdk/sign-token.ts';
import { CliError, print } from '../output.ts';
import { readPrivateKey } from '../private-key.ts';

interface TokenOptions {
  key: string;
  org: string;
  kid: string;
  sub: string;
  role?: string;
  aud?: string;
  ttl: string;
  alg?: string;
  kidInHeader?: boolean;
  json?: boolean;
}

export function tokenCommand(program: Command): void {
  program
    .command('token')
    .description('sign a key-pair token with your private key, as spec 001 describes')
    .requiredOption('--key <file>', 'the private key file')
    .requiredOption('--org <org_id>', 'the Organization ID (sent as iss)')
    .requiredOption('--kid <key_id>', 'the Key ID')
    .requiredOption('--sub <user_id>', 'the user the token speaks for')
    .option('--role <role>', "admin, user, device or service (default: the key's default role)")
    .option('--aud <audience>', 'the audience (default: the first of KEYGATE_AUDIENCES)')
    .option('--ttl <seconds>', 'lifetime in seconds, at most 3600', '3600')
    .option('--alg <alg>', 'RS256 (default for RSA), RS384 or ES256 (P-256)')
    .option('--kid-in-header', 'put kid in the JWS header instead of the payload')
    .option('--json', 'machine-readable output')
    .action((options: TokenOptions) => {
      const ttl = Number(options.ttl);
      if (!Number.isSafeInteger(ttl) || ttl <= 0) {
        throw new CliError('invalid_ttl', `--ttl ${options.ttl} is not a positive number of seconds.`, {
          hint: 'Use --ttl 3600 or less.',
        });
      }
      if (options.alg !== undefined && !isAcceptedAlgorithm(options.alg)) {
        throw new CliError('invalid_alg', `--alg ${options.alg} is not RS256, RS384 or ES256.`);
      }
      const token = signToken({
        privateKey: readPrivateKey(options.key),
        orgId: options.org,
        kid: options.kid,
        sub: options.sub,
        aud: options.aud ?? (loadConfig(process.env).policy.audiences[0] as string),
        ttlSeconds: ttl,
        ...(options.role !== undefined && { role: options.role }),
        ...(options.alg !== undefined && isAcceptedAlgorithm(options.alg) && { alg: options.alg }),
        kidIn: options.kidInHeader ? 'header' : 'payload',
      });
      print(options, { token }, () => token);
    });
}
