import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { helperMsOfScavenges } from '../scavenge-trace.ts';
import { freePort, waitForHealth } from './server-process.ts';

// `keygate serve` collects its young generation on the event loop's thread alone
// (src/cli/young-collection.ts), unless Node's command line asks for parallel scavenges.

const BIN = fileURLToPath(new URL('../../bin/keygate.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'keygate-young-collection-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Starts `node <nodeFlags> --trace-gc-nvp bin/keygate.js serve`, answers enough requests for the
 * young generation to be scavenged many times, stops it, and returns the milliseconds V8's
 * helper threads spent on each scavenge once it was serving.
 */
async function helperMsWhileServing(name: string, nodeFlags: string[]): Promise<number[]> {
  const port = await freePort();
  const server = spawn(
    process.execPath,
    [...nodeFlags, '--trace-gc-nvp', BIN, 'serve', '--port', String(port)],
    {
      env: { ...process.env, KEYGATE_DATABASE: join(dir, `${name}.db`), KEYGATE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let stdout = '';
  server.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitForHealth(url, server);
    const serving = stdout.length;
    for (let batch = 0; batch < 80; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const response = await fetch(`${url}/v1/whoami`, { headers: { authorization: 'Bearer x.y.z' } });
          assert.equal(response.status, 401);
        }),
      );
    }
    server.kill('SIGTERM');
    await exited;
    return helperMsOfScavenges(stdout.slice(serving));
  } finally {
    server.kill('SIGKILL');
  }
}

test('serve scavenges on the loop thread alone; node --parallel-scavenge keeps the helpers', async () => {
  const parallel = await helperMsWhileServing('parallel', ['--parallel-scavenge']);
  // What makes the next assertion mean something: this load has V8 share scavenges by default.
  assert.ok(parallel.length > 3, `${parallel.length} scavenges`);
  assert.ok(
    parallel.some((ms) => ms > 0),
    `helpers' ms with --parallel-scavenge: ${parallel}`,
  );
  const serial = await helperMsWhileServing('serial', []);
  assert.ok(serial.length > 3, `${serial.length} scavenges`);
  assert.deepEqual(
    serial.filter((ms) => ms > 0),
    [],
    "helpers' ms of each scavenge while serving",
  );
});
