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
  private readonly waiting: (() => void)[] = [];
  private dummy: string | undefined;

  constructor(
    options: { params?: Argon2Params; pepper?: Buffer; concurrency?: number; queue?: number } = {},
  ) {
    this.params = options.params ?? OWASP_ARGON2ID;
    this.pepper = options.pepper;
    this.concurrency = options.concurrency ?? 1;
    this.queueLimit = options.queue ?? 16;
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const tag = await this.run(password, salt, this.params);
    const { memoryKiB: m, passes: t, parallelism: p } = this.params;
    return `$argon2id$v=19$m=${m},t=${t},p=${p}$${b64(salt)}$${b64(tag)}`;
  }

  /** Constant-time comparison against a stored PHC string; false for any malformed one. */
  async verify(password: string, phc: string): Promise<boolean> {
    const parsed = PHC.exec(phc);
    if (!parsed) return false;
    const params = {
      memoryKiB: Number(parsed[1]),
      passes: Number(parsed[2]),
      parallelism: Number(parsed[3]),
    };
    const expected = Buffer.from(parsed[5] as string, 'base64');
    const tag = await this.run(password, Buffer.from(parsed[4] as string, 'base64'), params, expected.length);
    return tag.length === expected.length && timingSafeEqual(tag, expected);
  }

  /**
   * Spends the same work as a real verification and always fails: unknown users, disabled and
   * locked accounts take as long to refuse as a wrong password does.
   */
  async verifyDummy(password: string): Promise<false> {
    this.dummy ??= await this.hash('keygate-dummy-password');
    await this.verify(password, this.dummy);
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
  ): Promise<Buffer> {
    await this.acquire();
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

  private acquire(): Promise<void> {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.queueLimit)
      return Promise.reject(new BusyError('password hashing is saturated'));
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}
