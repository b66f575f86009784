import type { Command } from 'commander';
import { type Config, ConfigError, defaultSecretPath, loadConfig } from '../../config.ts';
import { isPostgresUrl } from '../../core/database-url.ts';
import { configCheck, worstStatus } from '../../core/doctor-checks.ts';
import type { CheckResult, DoctorSettings } from '../../core/doctor-readings.ts';
import { systemClock } from '../../service/clock.ts';
import { runDoctor } from '../../service/doctor.ts';
import { EXIT, print, table } from '../output.ts';

export function doctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check what keygate serve would meet with these settings, changing nothing')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      const checks = await diagnose();
      const status = worstStatus(checks);
      print(options, { status, checks }, (safe) =>
        table([['CHECK', 'STATUS', 'DETAIL'], ...safe.checks.map((c) => [c.check, c.status, c.detail])]),
      );
      // Warnings are advice: only a problem fails a script or a health probe.
      if (status === 'problem') process.exitCode = EXIT.failure;
    });
}

/** A setting serve would refuse stops the doctor too: the other checks need the settings. */
async function diagnose(): Promise<CheckResult[]> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) return [configCheck(error.message)];
    throw error;
  }
  return runDoctor(settingsOf(config, process.env.KEYGATE_AUDIENCES), systemClock);
}

function settingsOf(config: Config, audiencesSetting: string | undefined): DoctorSettings {
  const postgres = isPostgresUrl(config.database);
  return {
    database: config.database,
    secretFile: config.secretFile
      ? { path: config.secretFile, configured: true }
      : { path: postgres ? '' : defaultSecretPath(config.database), configured: false },
    pepperFile: config.pepperFile,
    redisUrl: config.redisUrl,
    redisTimeoutMs: config.redisTimeoutMs,
    leewaySeconds: config.policy.leewaySeconds,
    audiencesSetting,
    audiences: config.policy.audiences,
    listen: {
      host: config.host,
      port: config.port,
      trustProxy: config.trustProxy,
      maxConnectionsPerAddress: config.limits.maxConnectionsPerAddress,
    },
  };
}
