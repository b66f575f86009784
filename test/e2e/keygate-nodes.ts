import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { freePort, waitForHealth } from './server-process.ts';

/** The `keygate` command a user runs (bin/keygate.js), not the module behind it. */
const KEYGATE = new URL('../../bin/keygate.js', import.meta.url).pathname;

/**
 * What a node of a multi-node deployment is given, and nothing else: deploy/compose.yaml sets the
 * same variables on its nodes. Behind a proxy every client has one address, hence no cap per
 * address (the README's configuration table says so).
 */
export interface NodeEnvironment {
  KEYGATE_DATABASE: string;
  KEYGATE_SECRET_FILE: string;
  KEYGATE_REDIS_URL: string;
  KEYGATE_REDIS_PREFIX: string;
  KEYGATE_AUDIENCES: string;
  KEYGATE_MAX_CONNECTIONS_PER_ADDRESS: '0';
  /** The proxy in front of the nodes; here the test's clients, which send no X-Forwarded-For. */
  KEYGATE_TRUST_PROXY: string;
  KEYGATE_LOG_LEVEL: string;
}

/**
 * The environment of this process without any KEYGATE_ variable, so that a setting of the
 * machine running the tests cannot reach the nodes and make them differ from the compose file.
 */
function baseEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('KEYGATE_') && value !== undefined) env[name] = value;
  }
  return env;
}

/** One `keygate serve` process on a loopback port of its own. */
export class KeygateNode {
  readonly name: string;
  readonly url: string;
  private readonly child: ChildProcess;
  private stderr = '';

  private constructor(name: string, port: number, environment: NodeEnvironment) {
    this.name = name;
    this.url = `http://127.0.0.1:${port}`;
    this.child = spawn(process.execPath, [KEYGATE, 'serve'], {
      env: { ...baseEnvironment(), ...environment, KEYGATE_HOST: '127.0.0.1', KEYGATE_PORT: String(port) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
  }

  /** Starts the node and resolves once it answers /healthz; fails with its output if it exits or takes over `withinMs`. */
  static async start(name: string, environment: NodeEnvironment, withinMs = 30_000): Promise<KeygateNode> {
    const node = new KeygateNode(name, await freePort(), environment);
    await waitForHealth(node.url, node.child, withinMs).catch((error: Error) => {
      node.child.kill('SIGKILL');
      throw new Error(`node ${name}: ${error.message}: ${node.stderr}`);
    });
    return node;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL, as a crash or the OOM killer would: no graceful shutdown. Resolves once it is gone. */
  async kill9(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM, as a process manager stops it; SIGKILL after 10 s. */
  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const late = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(late);
  }
}

/** Runs `keygate <args> --json` against the nodes' database, as an operator would, and parses its output. */
export function keygateCli(
  environment: Pick<NodeEnvironment, 'KEYGATE_DATABASE' | 'KEYGATE_SECRET_FILE'>,
  args: string[],
  input = '',
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [KEYGATE, ...args, '--json'],
      { env: { ...baseEnvironment(), ...environment } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`keygate ${args.join(' ')}: ${stderr}${stdout}`));
        else resolve(JSON.parse(stdout));
      },
    );
    child.stdin?.end(input);
  });
}
