import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisLink, type RedisLinkOptions } from '../../src/store/redis-link.ts';

/**
 * The Redis that KEYGATE_TEST_REDIS_URL names, for one test run: every key the run writes is
 * under a prefix of its own (`keygate-test-<random>:`), and `drop` deletes them all after. Each
 * link a test asks for gets a new prefix under it, so it starts from nothing.
 */
export class TestRedis {
  readonly url: string;
  readonly prefix: string;
  /** A connection of the test's own, to look at what Keygate wrote. */
  readonly admin: Redis;
  private prefixes = 0;

  private constructor(url: string, admin: Redis) {
    this.url = url;
    this.admin = admin;
    this.prefix = `keygate-test-${randomBytes(6).toString('hex')}:`;
  }

  /** Fails, rather than waits, when nothing answers at `url`. */
  static async create(url: string): Promise<TestRedis> {
    const admin = new Redis(url, { lazyConnect: true, connectTimeout: 3000, retryStrategy: () => null });
    // connect() rejects with "Connection is closed."; the socket's own error says why.
    let why: Error | undefined;
    admin.on('error', (error: Error) => {
      why ??= error;
    });
    try {
      await admin.connect();
      await admin.ping();
    } catch (error) {
      admin.disconnect();
      throw why ?? error;
    }
    return new TestRedis(url, admin);
  }

  /** A prefix no test has used yet. */
  newPrefix(): string {
    return `${this.prefix}${++this.prefixes}:`;
  }

  /** A link as a node opens it, under a new prefix unless one is given; connected on return. */
  async link(options: RedisLinkOptions = {}): Promise<RedisLink> {
    const link = new RedisLink(this.url, { prefix: this.newPrefix(), ...options });
    if (!(await link.connected(3000))) throw new Error(`no connection to ${this.url}`);
    return link;
  }

  /** Every key under `prefix` (this run's, by default). */
  async keys(prefix = this.prefix): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.admin.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 1000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    return found.sort();
  }

  /** Deletes every key of this run, and returns how many there were. */
  async drop(): Promise<number> {
    const keys = await this.keys();
    for (let i = 0; i < keys.length; i += 500) await this.admin.unlink(...keys.slice(i, i + 500));
    this.admin.disconnect();
    return keys.length;
  }
}

/** A prefix as a SCAN pattern that matches it literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * Runs `tests` against the Redis that KEYGATE_TEST_REDIS_URL names (e.g. redis://127.0.0.1:6379)
 * under a prefix of this run's own, deleted after. Unset, they are skipped; set, they must run:
 * a Redis that cannot be reached fails them.
 */
export async function withTestRedis(name: string, tests: (redis: TestRedis) => void): Promise<void> {
  const url = process.env.KEYGATE_TEST_REDIS_URL;
  if (!url) {
    test(name, { skip: 'KEYGATE_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379)' });
    return;
  }
  const redis = await TestRedis.create(url).catch((error: Error) => error);
  if (redis instanceof Error) {
    test(`${name}: Redis at KEYGATE_TEST_REDIS_URL can be reached`, () => {
      throw new Error(`KEYGATE_TEST_REDIS_URL is set, but Redis there cannot be reached: ${redis.message}`, {
        cause: redis,
      });
    });
    return;
  }
  after(() => redis.drop());
  tests(redis);
}
