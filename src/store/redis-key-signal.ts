import type { Redis } from 'ioredis';
import type { RedisLink } from './redis-link.ts';

/**
 * Key-change messages between nodes over Redis pub/sub (KEYGATE_REDIS_URL): a node that changes a
 * key publishes on `<prefix>key-changes`, and every node that hears it reads the key change feed
 * at once instead of at its next poll. A message carries nothing but the nudge: what changed is
 * read from the store, so a lost, late or forged message costs a feed read, never a wrong answer,
 * and the poll stays the safety net (a node whose subscription is down is at most one poll late).
 */
export class RedisKeySignal {
  private readonly link: RedisLink;
  private readonly channel: string;
  /** A connection in subscriber mode can run nothing else, so it is one of its own. */
  private readonly subscriber: Redis;

  constructor(link: RedisLink) {
    this.link = link;
    this.channel = `${link.prefix}key-changes`;
    this.subscriber = link.client.duplicate({ connectionName: 'keygate-key-changes' });
    // The link reports what ails Redis (/readyz); unheard, this connection's errors would be printed.
    this.subscriber.on('error', () => {});
  }

  /** Calls `onChange` for every message, from any node (this one included). */
  listen(onChange: () => void): void {
    this.subscriber.on('message', (channel: string) => {
      if (channel === this.channel) onChange();
    });
    // Subscribing needs a connection (no offline queue); after a reconnect ioredis subscribes
    // again by itself, and once more here is harmless.
    const subscribe = () => {
      this.subscriber.subscribe(this.channel).catch(() => {});
    };
    this.subscriber.on('ready', subscribe);
    if (this.subscriber.status === 'ready') subscribe();
  }

  /** Fire and forget: a message that does not go out only leaves the other nodes to their poll. */
  publish(): void {
    this.link.client.publish(this.channel, 'changed').catch(() => {});
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
  }
}
