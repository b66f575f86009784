import type { Cluster } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { type Config, loadConfig, readPepper, readSessionSecret } from '../../config.ts';
import { isPostgresUrl } from '../../core/database-url.ts';
import { buildApp } from '../../http/app.ts';
import { startKeygate } from '../../service/keygate.ts';
import { PACKAGE_VERSION } from '../../version.ts';
import { CliError, cliName, EXIT } from '../output.ts';
import { onStopSignal } from '../stop-signal.ts';
import { collectYoungOnLoopThread } from '../young-collection.ts';

interface ServeOptions {
  port?: string;
  host?: string;
  database?: string;
  workers: string;
}

export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description('run the Keygate server')
    .option('--port <port>', 'port to listen on (KEYGATE_PORT, default 8080)')
    .option('--host <host>', 'address to listen on (KEYGATE_HOST, default 127.0.0.1)')
    .option('--database <location>', 'SQLite file or postgres:// URL (KEYGATE_DATABASE)')
    .option('--workers <n>', 'worker processes sharing the port, or auto for one per core', '1')
    .action(async (options: ServeOptions) => {
      const config = loadConfig(process.env, {
        ...(options.port !== undefined && { port: options.port }),
        ...(options.host !== undefined && { host: options.host }),
        ...(options.database !== undefined && { database: options.database }),
      });
      const workers = options.workers === 'auto' ? availableParallelism() : Number(options.workers);
      if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
        throw new CliError(
          'invalid_workers',
          `--workers ${options.workers} is not a number from 1 to 64, nor auto (one worker per core).`,
        );
      }
      // node:cluster only with --workers: a single process has no use for it.
      if (workers > 1) {
        const { default: cluster } = await import('node:cluster');
        if (cluster.isPrimary) return runPrimary(cluster, config, workers);
      }
      await runWorker(config, workers);
    });
}

function runPrimary(cluster: Cluster, config: Config, workers: number): void {
  for (let i = 0; i < workers; i++) cluster.fork();
  let stopping = false;
  // Until a worker listens, a worker that stops is a start that fails (the settings, the store,
  // the port), which every other worker meets too: the primary stops with it instead of starting
  // another worker after another, and says it is listening only once a worker does.
  let listening = false;
  cluster.once('listening', () => {
    listening = true;
    printBanner(config, workers);
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping || signal === 'SIGTERM' || signal === 'SIGINT' || code === 0) return;
    if (!listening) {
      stopping = true;
      process.stderr.write(
        `error: worker ${worker.process.pid} could not start (${signal ?? code}); stopping\n`,
      );
      for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGTERM');
      process.exitCode = typeof code === 'number' && code > 0 ? code : EXIT.failure;
      return;
    }
    process.stderr.write(`worker ${worker.process.pid} stopped (${signal ?? code}); starting another\n`);
    cluster.fork();
  });
  // Each worker stops as a single server does (finishing its requests); the primary waits for
  // them all. The signal goes to each worker's process directly: cluster's own worker.kill()
  // first disconnects, which closes the worker's listener behind its back.
  onStopSignal(async () => {
    stopping = true;
    const running = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
    await Promise.all(
      running.map(
        (worker) =>
          new Promise<void>((resolve) => {
            worker.once('exit', () => resolve());
            worker.process.kill('SIGTERM');
          }),
      ),
    );
  });
}

async function runWorker(config: Config, workers: number): Promise<void> {
  const alone = workers === 1;
  // The process that answers requests: see young-collection.ts.
  collectYoungOnLoopThread();
  const pepper = readPepper(config.pepperFile);
  const secret = readSessionSecret(config);
  const keygate = await startKeygate({
    database: config.database,
    policy: config.policy,
    sessionPolicy: config.session,
    storeLockWaitMs: config.storeLockWaitMs,
    storePoolSize: config.databasePoolSize,
    maxFeedLagMs: config.keyFeedMaxLagMs,
    keyCaps: config.keyCaps,
    auditRetentionDays: config.auditRetentionDays,
    keyExpiryWarningSeconds: config.keyExpiryWarningDays * 86400,
    memory: config.memory,
    serverProcesses: workers,
    ...(config.redisUrl && {
      redis: { url: config.redisUrl, prefix: config.redisPrefix, timeoutMs: config.redisTimeoutMs },
    }),
    ...(pepper && { pepper }),
    ...(secret && { secret }),
  });
  const app = await buildApp(keygate, {
    logger: { level: process.env.KEYGATE_LOG_LEVEL ?? 'info', redact: ['req.headers.authorization'] },
    loginRateLimit: config.loginRateLimit,
    rateLimitEntries: config.memory.rateLimitEntries,
    limits: config.limits,
    trustProxy: config.trustProxy,
    accessLog: config.accessLog,
    metricsToken: config.metricsToken,
  });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await keygate.close();
    throw new CliError(
      'listen_failed',
      `Cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`,
      {
        hint: 'Pick another port with --port or KEYGATE_PORT.',
        exitCode: EXIT.server,
      },
    );
  }
  // With port 0 the system picks one: show the port actually bound, so the printed steps work.
  const bound = app.server.address();
  if (alone)
    printBanner({ ...config, port: typeof bound === 'object' && bound ? bound.port : config.port }, 1);
  onStopSignal(
    async () => {
      // Stops listening, answers 503 to new requests on open connections, and waits for the
      // requests under way (and their replay-ledger commits) to finish. Node closes the
      // connections idle when close is called; a kept-alive connection that falls idle later
      // would hold the close open until its keep-alive timeout, so those are closed as they go.
      const closing = app.close();
      const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
      try {
        await closing;
      } finally {
        clearInterval(sweep);
      }
      await keygate.close();
    },
    { secondSignalExits: alone },
  );
}

function printBanner(config: Config, workers: number): void {
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  const cli = cliName();
  const hidePassword = (url: string) => url.replace(/\/\/[^@]*@/, '//***@');
  const database = isPostgresUrl(config.database) ? hidePassword(config.database) : config.database;
  process.stderr.write(
    [
      `Keygate ${PACKAGE_VERSION} listening on ${url} (${workers} worker${workers === 1 ? '' : 's'})`,
      `  store:     ${database}`,
      ...(config.redisUrl
        ? [`  redis:     ${hidePassword(config.redisUrl)} (keys under ${config.redisPrefix})`]
        : []),
      `  audiences: ${config.policy.audiences.join(', ')}`,
      `  dashboard: ${url}/ (log in as a user: keys, token debugger, code snippets)`,
      '',
      'From a public key to an accepted token, in another terminal:',
      `  ${cli} org create --name "My Org"                         # prints ORG_ID`,
      `  ${cli} keygen --out my.key                                # my.key (secret) and my.key.pub`,
      `  ${cli} key add --org ORG_ID --public-key my.key.pub       # prints KEY_ID`,
      `  ${cli} token --key my.key --org ORG_ID --kid KEY_ID --sub alice > token.txt`,
      `  ${cli} hello --url ${url} < token.txt`,
      `  curl -H "Authorization: Bearer $(cat token.txt)" ${url}/v1/whoami`,
      '',
    ].join('\n'),
  );
}
