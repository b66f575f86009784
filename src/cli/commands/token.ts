import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { isAcceptedAlgorithm } from '../../core/algorithms.ts';
import { isRole, ROLES } from '../../core/roles.ts';
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
  ttl?: string;
  alg?: string;
  kidInHeader?: boolean;
  json?: boolean;
}

const FLAG_HINTS: [flag: 'org' | 'kid' | 'sub', hint: string][] = [
  ['org', 'Give the Organization ID that "keygate org create" printed.'],
  ['kid', 'Give the Key ID that "keygate key add" printed.'],
  ['sub', 'Give the id of the user the token speaks for.'],
];

/** signToken, with what it refuses (a P-256 key with --alg RS256, say) as the CLI's own error. */
function sign(options: Parameters<typeof signToken>[0]): string {
  try {
    return signToken(options);
  } catch (error) {
    if (error instanceof TypeError) throw new CliError('invalid_input', error.message);
    throw error;
  }
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
    .option(
      '--ttl <seconds>',
      'lifetime in seconds (default and most: KEYGATE_MAX_TOKEN_LIFETIME_SECONDS, 3600)',
    )
    .option('--alg <alg>', 'RS256 (default for RSA), RS384 or ES256 (P-256)')
    .option('--kid-in-header', 'put kid in the JWS header instead of the payload')
    .option('--json', 'machine-readable output')
    .action((options: TokenOptions) => {
      const { policy } = loadConfig(process.env);
      const ttl = options.ttl === undefined ? policy.maxLifetimeSeconds : Number(options.ttl);
      if (!Number.isSafeInteger(ttl) || ttl <= 0) {
        throw new CliError('invalid_ttl', `--ttl ${options.ttl} is not a positive number of seconds.`, {
          hint: `Use --ttl ${policy.maxLifetimeSeconds} or less.`,
        });
      }
      // Keygate refuses a token that lives longer (lifetime_too_long): say so before signing.
      if (ttl > policy.maxLifetimeSeconds) {
        throw new CliError(
          'invalid_ttl',
          `--ttl ${ttl} is longer than the ${policy.maxLifetimeSeconds} s a token may live (KEYGATE_MAX_TOKEN_LIFETIME_SECONDS).`,
          { hint: `Use --ttl ${policy.maxLifetimeSeconds} or less, and sign a new token when it runs out.` },
        );
      }
      if (options.role !== undefined && !isRole(options.role)) {
        throw new CliError('invalid_role', `--role ${options.role} is not ${ROLES.join(', ')}.`, {
          hint: "Leave --role out for the key's default role.",
        });
      }
      if (options.alg !== undefined && !isAcceptedAlgorithm(options.alg)) {
        throw new CliError('invalid_alg', `--alg ${options.alg} is not RS256, RS384 or ES256.`);
      }
      // An unset shell variable passes as an empty value; its token would only be refused later.
      for (const [flag, hint] of FLAG_HINTS) {
        if (options[flag].trim() === '') {
          throw new CliError('invalid_input', `--${flag} is empty.`, { field: flag, hint });
        }
      }
      const token = sign({
        privateKey: readPrivateKey(options.key),
        orgId: options.org,
        kid: options.kid,
        sub: options.sub,
        aud: options.aud ?? (policy.audiences[0] as string),
        ttlSeconds: ttl,
        ...(options.role !== undefined && { role: options.role }),
        ...(options.alg !== undefined && isAcceptedAlgorithm(options.alg) && { alg: options.alg }),
        kidIn: options.kidInHeader ? 'header' : 'payload',
      });
      print(options, { token }, () => token);
    });
}
