import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import type { Algorithm } from '../../core/algorithms.ts';
import { isRole, ROLES } from '../../core/roles.ts';
import { type SigningOptionNames, type SignTokenOptions, signToken } from '../../sdk/sign-token.ts';
import { CliError, print } from '../output.ts';
import { KEY_FLAGS, readPrivateKey } from '../private-key.ts';

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

/** The SDK's option names as this command's flags, so that its refusals name what to change. */
const FLAG_NAMES: SigningOptionNames = {
  ...KEY_FLAGS,
  orgId: '--org',
  kid: '--kid',
  sub: '--sub',
  aud: '--aud',
  ttlSeconds: '--ttl',
};

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
      const signing: SignTokenOptions = {
        privateKey: readPrivateKey(options.key),
        orgId: options.org,
        kid: options.kid,
        sub: options.sub,
        aud: options.aud ?? (policy.audiences[0] as string),
        ttlSeconds: ttl,
        ...(options.role !== undefined && { role: options.role }),
        // Checked by signToken with the rest: an --alg this key cannot sign with is refused too.
        ...(options.alg !== undefined && { alg: options.alg as Algorithm }),
        kidIn: options.kidInHeader ? 'header' : 'payload',
      };
      // An empty --kid (an unset shell variable) or an --alg the key cannot sign with would
      // only be refused later, by the server: signToken refuses it, in this command's flags.
      let token: string;
      try {
        token = signToken(signing, FLAG_NAMES);
      } catch (error) {
        if (error instanceof TypeError) throw new CliError('invalid_input', error.message);
        throw error;
      }
      print(options, { token }, () => token);
    });
}
