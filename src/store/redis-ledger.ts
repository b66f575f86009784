import type { Redis } from 'ioredis';
import type { UnixSeconds } from '../core/time.ts';
import type { RedisLink } from './redis-link.ts';
import type { JtiBinding, JtiClaim, Store } from './store.ts';

/**
 * Binds a batch of claims in order, in one script: Redis runs a script alone, so of concurrent
 * batches from any number of nodes each pair is bound exactly once, and a claim sees the claims
 * before it in its own batch. A binding is held as "<expiresAt> <tokenHash>" and compared with
 * the caller's `now`, as the database ledger does, so that every node decides by the same rule;
 * Redis drops it `expiresAt - now` seconds later by its own clock, which therefore need not
 * agree with the nodes'. A claim already expired is answered 'bound' and stored nowhere, as a
 * row would be replaced at once.
 *
 * KEYS[i]: the i-th claim's pair. ARGV[1]: now; ARGV[2i], ARGV[2i+1]: its token hash and expiresAt.
 * Answers 0 bound, 1 same-token, 2 reused.
 */
const BIND = `
local now = tonumber(ARGV[1])
local answers = {}
for i = 1, #KEYS do
  local hash, expiresAt = ARGV[2 * i], ARGV[2 * i + 1]
  local held = redis.call('GET', KEYS[i])
  local gap = held and string.find(held, ' ', 1, true)
  if gap and tonumber(string.sub(held, 1, gap - 1)) > now then
    answers[i] = (string.sub(held, gap + 1) == hash) and 1 or 2
  else
    local ttl = tonumber(expiresAt) - now
    if ttl > 0 then redis.call('SET', KEYS[i], expiresAt .. ' ' .. hash, 'EX', ttl) end
    answers[i] = 0
  end
end
return answers
`;

const ANSWERS: readonly JtiBinding[] = ['bound', 'same-token', 'reused'];

interface LedgerCommands {
  keygateBindJtis(...keysThenArgs: (string | number)[]): Promise<number[]>;
}

/**
 * The replay ledger in Redis (KEYGATE_REDIS_URL): what Store.bindJtis and Store.peekJti promise,
 * for every node at once, in one round trip per batch (the script's text on a connection's first call,
 * EVALSHA after). Errors that mean Redis cannot
 * serve are RedisUnavailableError (503 redis_unavailable), and no claim of the batch is answered.
 */
export class RedisReplayLedger implements Pick<Store, 'bindJtis' | 'peekJti'> {
  private readonly link: RedisLink;
  private readonly client: Redis & LedgerCommands;

  constructor(link: RedisLink) {
    this.link = link;
    if (!('keygateBindJtis' in link.client)) link.client.defineCommand('keygateBindJtis', { lua: BIND });
    this.client = link.client as Redis & LedgerCommands;
  }

  async bindJtis(claims: readonly JtiClaim[], now: UnixSeconds): Promise<JtiBinding[]> {
    if (claims.length === 0) return [];
    const args: (string | number)[] = [claims.length];
    for (const claim of claims) args.push(this.key(claim.iss, claim.jti));
    args.push(now);
    for (const claim of claims) args.push(claim.tokenHash, claim.expiresAt);
    try {
      const answers = await this.client.keygateBindJtis(...args);
      return answers.map((answer) => ANSWERS[answer] as JtiBinding);
    } catch (error) {
      throw this.link.failure(error);
    }
  }

  async peekJti(iss: string, jti: string, tokenHash: string, now: UnixSeconds): Promise<JtiBinding> {
    let held: string | null;
    try {
      held = await this.client.get(this.key(iss, jti));
    } catch (error) {
      throw this.link.failure(error);
    }
    const gap = held?.indexOf(' ') ?? -1;
    if (held === null || gap < 0 || Number(held.slice(0, gap)) <= now) return 'bound';
    return held.slice(gap + 1) === tokenHash ? 'same-token' : 'reused';
  }

  /** The issuer's length first, so that no two pairs share a key whatever characters they hold. */
  private key(iss: string, jti: string): string {
    return `${this.link.prefix}jti:${iss.length}:${iss}:${jti}`;
  }
}
