/**
 * A login flood for bench/login.ts: N clients send wrong logins back to back until SIGTERM, each
 * for a name not tried before, so that every one is hashed (the login throttle refuses repeated
 * guesses at one name from one address before hashing, which is no flood of the hasher). With
 * `honour`, a client told 503/429 waits the Retry-After it was given (the hasher stays saturated,
 * which is the point); with `ignore`, it retries at once (an HTTP flood, not only a login flood).
 */
import { Agent, request } from 'node:http';

const port = Number(process.argv[2]);
const clients = Number(process.argv[3] ?? 32);
const honourRetryAfter = process.argv[4] !== 'ignore';
const agent = new Agent({ keepAlive: true, maxSockets: clients });
const statuses: Record<number, number> = {};
let running = true;
process.on('SIGTERM', () => {
  running = false;
});

let sent = 0;

/** One wrong login; resolves with the seconds to wait before the next. */
function login(i: number): Promise<number> {
  const body = JSON.stringify({ user: `flood-${i}-${++sent}@example.com`, pass_hash: 'f'.repeat(64) });
  const headers = { 'content-type': 'application/json' };
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/auth/login', agent, headers },
      (res) => {
        res.resume();
        res.on('end', () => {
          statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
          resolve(honourRetryAfter ? Number(res.headers['retry-after'] ?? 0) : 0);
        });
      },
    );
    req.on('error', () => resolve(0.1));
    req.end(body);
  });
}

await Promise.all(
  Array.from({ length: clients }, async (_, i) => {
    while (running) {
      const wait = await login(i);
      if (wait > 0 && running) await new Promise((r) => setTimeout(r, wait * 1000));
    }
  }),
);
process.stdout.write(JSON.stringify(statuses));
agent.destroy();
