import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';
import { CodedError } from '../core/error-codes.ts';

/** OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane. */
export interface Argon2Params {
  memoryKiB: number;
  passes: number;
  parallelism: number;
}

export const OWASP_ARGON2ID: Argon2Params = { memoryKiB: 19 * 1024, passes: 2, parallelism: 1 };

/** Too many logins are waiting for a hash: shed the request instead of queueing without end. */
export class BusyError extends CodedError {
  override readonly name = 'BusyError';
  /** `reason` is for the log; the client gets the registry's refusal for `busy`. */
  constructor(reason?: string) {
    super('busy', undefined, reason === undefined ? undefined : { internalMessage: reason });
  }
}

/**
 * A place among the password hashes, taken (PasswordHasher.admit) before work that must not be
 * done for a hash that load would then shed: counting a login attempt. verify and verifyDummy
 * hash in it; `cancel()` gives back a place no hash used, and does nothing once one did.
 */
export class HashTicket {
  #state: 'queued' | 'held' | 'used' | 'done';
  #resolve: () => void = () => {};
  readonly #ready: Promise<void>;
  readonly #giveBack: (ticket: HashTicket, state: 'queued' | 'held') => void;

  constructor(queued: boolean, giveBack: (ticket: HashTicket, state: 'queued' | 'held') => void) {
    this.#state = queued ? 'queued' : 'held';
    this.#ready = queued
      ? new Promise((resolve) => {
          this.#resolve = resolve;
        })
      : Promise.resolve();
    this.#giveBack = giveBack;
  }

  /** For the hasher: a place has come free for this queued ticket. */
  grant(): void {
    if (this.#state === 'queued') this.#state = 'held';
    this.#resolve();
  }

  /** For the hasher: resolves when the place may hash; whoever calls this releases the place. */
  use(): Promise<void> {
    this.#state = 'used';
    return this.#ready;
  }

  cancel(): void {
    if (this.#state === 'queued' || this.#state === 'held') this.#giveBack(this, this.#state);
    this.#state = 'done';
  }
}

const SALT_BYTES = 16;
const TAG_BYTES = 32;
const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/**
 * argon2id from node:crypto, run on libuv's thread pool so the event loop keeps verifying tokens
 * while passwords hash. At most `concurrency` hashes run at once and at most `queue` wait; past
 * that, `BusyError`. An optional pepper is mixed in as argon2's secret input.
 */
export class PasswordHasher {
  readonly params: Argon2Params;
  private readonly pepper: Buffer | undefined;
  private readonly concurrency: number;
  private readonly queueLimit: number;
  private running = 0;
  private readonly waiting: HashTicket[] = [];
  /**
   * Made with the hasher, not at the first unknown user (which would then pay a second hash). A
   * random tag costs no hashing and verifies as slowly as any stored hash, and never matches.
   */
  private readonly dummy: string;

  constructor(
    options: { params?: Argon2Params; pepper?: Buffer; concurrency?: number; queue?: number } = {},
  ) {
    this.params = options.params ?? OWASP_ARGON2ID;
    this.pepper = options.pepper;
    this.concurrency = options.concurrency ?? 1;
    this.queueLimit = options.queue ?? 16;
    const { memoryKiB: m, passes: t, parallelism: p } = this.params;
    this.dummy = `$argon2id$v=19$m=${m},t=${t},p=${p}$${b64(randomBytes(SALT_BYTES))}$${b64(randomBytes(TAG_BYTES))}`;
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const tag = await this.run(password, salt, this.params);
    const { memoryKiB: m, passes: t, parallelism: p } = this.params;
    return `$argon2id$v=19$m=${m},t=${t},p=${p}$${b64(salt)}$${b64(tag)}`;
  }

  /**
   * Takes a place among the hashes now, or throws BusyError when there is none: a caller learns
   * that its hash will run before it counts anything. Pass the ticket to verify or verifyDummy, or
   * cancel it.
   */
  admit(): HashTicket {
    if (this.running < this.concurrency) {
      this.running++;
      return new HashTicket(false, this.giveBack);
    }
    if (this.waiting.length >= this.queueLimit) throw new BusyError('password hashing is saturated');
    const ticket = new HashTicket(true, this.giveBack);
    this.waiting.push(ticket);
    return ticket;
  }

  /** Constant-time comparison against a stored PHC string; false for any malformed one. */
  async verify(password: string, phc: string, ticket?: HashTicket): Promise<boolean> {
    const parsed = PHC.exec(phc);
    if (!parsed) {
      ticket?.cancel();
      return false;
    }
    const params = {
      memoryKiB: Number(parsed[1]),
      passes: Number(parsed[2]),
      parallelism: Number(parsed[3]),
    };
    const expected = Buffer.from(parsed[5] as string, 'base64');
    const salt = Buffer.from(parsed[4] as string, 'base64');
    const tag = await this.run(password, salt, params, expected.length, ticket);
    return tag.length === expected.length && timingSafeEqual(tag, expected);
  }

  /**
   * Spends the same work as a real verification and always fails: unknown users and disabled
   * accounts take as long to refuse as a wrong password does.
   */
  async verifyDummy(password: string, ticket?: HashTicket): Promise<false> {
    await this.verify(password, this.dummy, ticket);
    return false;
  }

  /** True when a new hash would be refused: callers can shed a request before doing any work. */
  get saturated(): boolean {
    return this.running >= this.concurrency && this.waiting.length >= this.queueLimit;
  }

  needsRehash(phc: string): boolean {
    const { memoryKiB: m, passes: t, parallelism: p } = this.params;
    return !phc.startsWith(`$argon2id$v=19$m=${m},t=${t},p=${p}$`);
  }

  private async run(
    password: string,
    salt: Buffer,
    params: Argon2Params,
    tagLength = TAG_BYTES,
    ticket?: HashTicket,
  ): Promise<Buffer> {
    await (ticket ?? this.admit()).use();
    try {
      return await new Promise<Buffer>((resolve, reject) => {
        argon2(
          'argon2id',
          {
            message: password,
            nonce: salt,
            parallelism: params.parallelism,
            tagLength,
            memory: params.memoryKiB,
            passes: params.passes,
            ...(this.pepper && { secret: this.pepper }),
          },
          (error, tag) => (error ? reject(error) : resolve(tag)),
        );
      });
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next.grant();
    else this.running--;
  }

  private readonly giveBack = (ticket: HashTicket, state: 'queued' | 'held'): void => {
    if (state === 'held') this.release();
    else this.waiting.splice(this.waiting.indexOf(ticket), 1);
  };
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}
