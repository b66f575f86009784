import { Redis } from 'ioredis';
import type { ClockComparison, RedisReading } from '../core/doctor-readings.ts';
import { reasonOf } from './probe-rows.ts';
import { connectionReason } from './redis-errors.ts';

/**
 * One connection to the Redis KEYGATE_REDIS_URL names, made once and never retried: PING within
 * the timeout, the server's version, and its clock (replay bindings expire by it). Reads only.
 */
export async function probeRedis(
  url: string,
  timeoutMs: number,
): Promise<{ reading: RedisReading; clock: ClockComparison | undefined }> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectionName: 'keygate-doctor',
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  // connect() rejects with "Connection is closed."; the socket's own error says why.
  let why: unknown;
  client.on('error', (error: unknown) => {
    why ??= error;
  });
  try {
    await client.connect();
    const start = performance.now();
    await client.ping();
    const roundTripMs = Math.round(performance.now() - start);
    // INFO may be denied to a restricted user; PING answering is what Keygate needs.
    const info = await client.info('server').catch(() => '');
    const version = /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'of unknown version';
    const before = Date.now();
    const [seconds, micros] = await client.time();
    const after = Date.now();
    const clock = {
      against: 'Redis',
      offsetMs: Math.round(Number(seconds) * 1000 + Number(micros) / 1000 - (before + after) / 2),
      uncertaintyMs: Math.ceil((after - before) / 2),
    };
    return { reading: { state: 'up', version, roundTripMs }, clock };
  } catch (error) {
    const cause = why ?? error;
    return {
      reading: { state: 'down', reason: connectionReason(cause, timeoutMs) ?? reasonOf(cause) },
      clock: undefined,
    };
  } finally {
    // On a connection already closed, disconnect() would hold the process for ioredis's
    // disconnectTimeout (2 s) waiting for a close event that has come and gone.
    if (client.status !== 'end') client.disconnect();
  }
}
