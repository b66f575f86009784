import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, waitForHealth } from './server-process.ts';

export const NGINX = '/usr/sbin/nginx';
const TEMPLATE = new URL('../../deploy/nginx-forward-auth.conf', import.meta.url);
const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

// Skipped without nginx on a developer's machine; under CI (which installs it) its absence fails.
export const skipWithoutNginx =
  existsSync(NGINX) || process.env.CI ? false : 'needs nginx with auth_request (apt-get install nginx-light)';

export interface Ports {
  nginx: number;
  keygate: number;
  app: number;
}

/**
 * deploy/nginx-forward-auth.conf as the test runs it: its three lines marked "test:" pointed at
 * loopback ports, and nginx's temporary files in `dir` (the packaged defaults are under /var/lib,
 * which only root may write). Nothing else of the documented file is changed.
 */
export function forwardAuthConfig(ports: Ports, dir: string): string {
  let text = readFileSync(TEMPLATE, 'utf8');
  const replaceOnce = (line: string, by: string) => {
    assert.equal(text.split(line).length, 2, `deploy/nginx-forward-auth.conf has one line "${line}"`);
    text = text.replace(line, by);
  };
  replaceOnce('server 127.0.0.1:8080; # test: Keygate', `server 127.0.0.1:${ports.keygate};`);
  replaceOnce('server 127.0.0.1:3000; # test: the API', `server 127.0.0.1:${ports.app};`);
  replaceOnce('listen 80; # test: nginx', `listen 127.0.0.1:${ports.nginx};`);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
    (kind) => `  ${kind}_temp_path ${join(dir, kind)};`,
  );
  replaceOnce('\nhttp {\n', `\nhttp {\n${temp.join('\n')}\n  access_log off;\n`);
  assert.doesNotMatch(text, /# test:/);
  return text;
}

/** nginx in the foreground, one process, on `config`; its pid file and logs in `dir`. */
export class Nginx {
  stderr = '';
  private readonly process: ChildProcess;

  private constructor(process: ChildProcess) {
    this.process = process;
    process.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
  }

  static async start(config: string, dir: string, port: number): Promise<Nginx> {
    const file = join(dir, 'nginx.conf');
    writeFileSync(file, config);
    const global = `daemon off; master_process off; pid ${join(dir, 'nginx.pid')};`;
    const child = spawn(NGINX, ['-p', `${dir}/`, '-c', file, '-e', 'stderr', '-g', global], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const nginx = new Nginx(child);
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${nginx.stderr}`);
      if (await accepts(port)) return nginx;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await nginx.stop();
    throw new Error(`nginx did not listen: ${nginx.stderr}`);
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill('SIGTERM');
    await exited;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** `keygate serve` on a free port with its own database in `dir`, and the CLI on the same store. */
export class KeygateServer {
  readonly env: NodeJS.ProcessEnv;
  url = '';
  port = 0;
  private process: ChildProcess | undefined;
  private stderr = '';

  constructor(dir: string, audience: string) {
    this.env = {
      ...process.env,
      KEYGATE_DATABASE: join(dir, 'keygate.db'),
      KEYGATE_AUDIENCES: audience,
      KEYGATE_LOG_LEVEL: 'warn',
      NODE_COMPILE_CACHE: join(dir, 'compile-cache'),
    };
  }

  async start(): Promise<void> {
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    const server = spawn(process.execPath, [MAIN, 'serve', '--port', String(this.port)], {
      env: this.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.process = server;
    server.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    await waitForHealth(this.url, server).catch((error: Error) => {
      throw new Error(`${error.message}: ${this.stderr}`);
    });
  }

  /** Runs the CLI as its own process, as an operator would, and parses its --json output. */
  cli(args: string[]): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      execFile(process.execPath, [MAIN, ...args, '--json'], { env: this.env }, (error, stdout, stderr) => {
        if (error) reject(new Error(`keygate ${args.join(' ')}: ${stderr}${stdout}`));
        else resolve(JSON.parse(stdout));
      });
    });
  }

  async stop(): Promise<void> {
    const server = this.process;
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
}
