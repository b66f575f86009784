import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomUUID,
  sign,
} from 'node:crypto';
import { encodeBase64url as b64 } from '../core/base64url.ts';
import type { Clock, UnixSeconds } from '../core/time.ts';
import type { VerifyingKey } from '../core/verifying-key.ts';
import type { Store } from '../store/store.ts';
import { isPlaintextKey, KeySeal } from './key-seal.ts';

export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

export interface ServerKeyringOptions {
  /** The bytes of the secret file (KEYGATE_SECRET_FILE), under which private halves are sealed. */
  secret: Buffer;
  /** The absolute session lifetime: how long after its retirement a key still verifies. */
  sessionSeconds: number;
}

interface LoadedKey extends VerifyingKey {
  jwk: PublicJwk;
  retiredAt: UnixSeconds | null;
}

/**
 * Keygate's own P-256 keys for session tokens. The first start makes one; `rotate` makes a new
 * active key and keeps the old ones for verification, so tokens already issued stay valid until
 * the longest session they could belong to has ended (retirement + sessionSeconds); then the
 * key no longer verifies and its row is deleted. A kid this process has not seen triggers a
 * reload (at most once a second), which is how a rotation made by another process arrives.
 *
 * Private halves are stored sealed (key-seal.ts); one stored in plaintext by an older Keygate is
 * sealed when it is loaded. A key that does not open with this secret stops the start.
 */
export class ServerKeyring {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly seal: KeySeal;
  private readonly sessionSeconds: number;
  private active: { kid: string; privateKey: KeyObject } | undefined;
  private verifiers = new Map<string, LoadedKey>();
  private lastReload = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(store: Store, clock: Clock, options: ServerKeyringOptions) {
    this.store = store;
    this.clock = clock;
    this.seal = new KeySeal(options.secret);
    this.sessionSeconds = options.sessionSeconds;
  }

  async start(options: { reloadMs?: number } = {}): Promise<void> {
    await this.refresh();
    if (!this.active) await this.rotate({ onlyIfNone: true });
    if (options.reloadMs) {
      // A rotation by another process becomes this process's signing key within reloadMs.
      this.timer = setInterval(() => {
        this.refresh().catch(() => {
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
        sealedPrivateKey: this.seal.seal(kid, privateKey),
        publicJwk: JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }),
        status: 'active',
        createdAt: this.clock(),
        retiredAt: null,
      },
      options,
    );
    await this.refresh();
    return this.active?.kid ?? kid;
  }

  /**
   * Reads the keys from the store: deletes those whose every session has ended, seals a
   * plaintext private half, and opens the active key (a SessionSecretError if it does not open).
   */
  async refresh(): Promise<void> {
    this.lastReload = Date.now();
    await this.store.deleteRetiredServerKeys(this.clock() - this.sessionSeconds);
    const verifiers = new Map<string, LoadedKey>();
    let active = this.active;
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
      verifiers.set(key.id, { keyObject, signatureBytes: 64, jwk, retiredAt: key.retiredAt });
      if (key.status === 'active' && key.sealedPrivateKey !== null)
        active = await this.openActive(key.id, key.sealedPrivateKey);
    }
    this.verifiers = verifiers;
    this.active = active;
  }

  private async openActive(kid: string, stored: string): Promise<{ kid: string; privateKey: KeyObject }> {
    if (isPlaintextKey(stored)) {
      const privateKey = createPrivateKey(stored);
      await this.store.resealServerKey(kid, stored, this.seal.seal(kid, privateKey));
      return { kid, privateKey };
    }
    if (this.active?.kid === kid) return this.active;
    return { kid, privateKey: this.seal.open(kid, stored) };
  }

  /** Whether a key still verifies: active, or retired less than a session lifetime ago. */
  private verifies(key: LoadedKey): boolean {
    return key.retiredAt === null || this.clock() < key.retiredAt + this.sessionSeconds;
  }

  /** The verifying key for a kid; an unknown kid schedules a reload for the next request. */
  verifier(kid: string): VerifyingKey | undefined {
    const found = this.verifiers.get(kid);
    if (found && this.verifies(found)) return found;
    if (Date.now() - this.lastReload > 1000) {
      this.refresh().catch(() => {
        // The store is down: session tokens signed by unseen keys keep failing until it is back.
      });
    }
    return undefined;
  }

  jwks(): { keys: PublicJwk[] } {
    return { keys: [...this.verifiers.values()].filter((v) => this.verifies(v)).map((v) => v.jwk) };
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
