import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomUUID,
  sign,
} from 'node:crypto';
import { encodeBase64url as b64 } from '../core/base64url.ts';
import type { Clock } from '../core/time.ts';
import type { VerifyingKey } from '../core/verifying-key.ts';
import type { Store } from '../store/store.ts';

export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

/**
 * Keygate's own P-256 keys for session tokens. The first start makes one; `rotate` makes a new
 * active key and keeps the old ones for verification, so tokens already issued stay valid. A
 * kid this process has not seen triggers a reload (at most once a second), which is how a
 * rotation made by another process arrives.
 */
export class ServerKeyring {
  private readonly store: Store;
  private readonly clock: Clock;
  private active: { kid: string; privateKey: KeyObject } | undefined;
  private verifiers = new Map<string, VerifyingKey & { jwk: PublicJwk }>();
  private lastReload = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(store: Store, clock: Clock) {
    this.store = store;
    this.clock = clock;
  }

  async start(options: { reloadMs?: number } = {}): Promise<void> {
    await this.reload();
    if (!this.active) await this.rotate({ onlyIfNone: true });
    if (options.reloadMs) {
      // A rotation by another process becomes this process's signing key within reloadMs.
      this.timer = setInterval(() => {
        this.reload().catch(() => {
          // The store is down; keep the keys already loaded.
        });
      }, options.reloadMs);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async rotate(options: { onlyIfNone?: boolean } = {}): Promise<string> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const kid = randomUUID();
    const jwk = publicKey.export({ format: 'jwk' });
    await this.store.rotateServerKey(
      {
        id: kid,
        privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        publicJwk: JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }),
        status: 'active',
        createdAt: this.clock(),
      },
      options,
    );
    await this.reload();
    return this.active?.kid ?? kid;
  }

  private async reload(): Promise<void> {
    this.lastReload = Date.now();
    const verifiers = new Map<string, VerifyingKey & { jwk: PublicJwk }>();
    for (const key of await this.store.listServerKeys()) {
      const jwk = {
        ...(JSON.parse(key.publicJwk) as Omit<PublicJwk, 'kid' | 'alg' | 'use'>),
        kid: key.id,
        alg: 'ES256' as const,
        use: 'sig' as const,
      };
      const keyObject = createPublicKey({
        key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
        format: 'jwk',
      });
      verifiers.set(key.id, { keyObject, signatureBytes: 64, jwk });
      if (key.status === 'active')
        this.active = { kid: key.id, privateKey: createPrivateKey(key.privatePem) };
    }
    this.verifiers = verifiers;
  }

  /** The verifying key for a kid; an unknown kid schedules a reload for the next request. */
  verifier(kid: string): VerifyingKey | undefined {
    const found = this.verifiers.get(kid);
    if (!found && Date.now() - this.lastReload > 1000) {
      this.reload().catch(() => {
        // The store is down: session tokens signed by unseen keys keep failing until it is back.
      });
    }
    return found;
  }

  jwks(): { keys: PublicJwk[] } {
    return { keys: [...this.verifiers.values()].map((v) => v.jwk) };
  }

  sign(header: Record<string, unknown>, payload: Record<string, unknown>): string {
    if (!this.active) throw new Error('no active server key; call start() first');
    const input = `${b64(JSON.stringify({ ...header, kid: this.active.kid }))}.${b64(JSON.stringify(payload))}`;
    const signature = sign('sha256', Buffer.from(input), {
      key: this.active.privateKey,
      dsaEncoding: 'ieee-p1363',
    });
    return `${input}.${signature.toString('base64url')}`;
  }
}
