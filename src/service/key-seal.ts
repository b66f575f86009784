import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';

/** Raised when a sealed key does not open: the database was sealed under another secret, or altered. */
export class SessionSecretError extends Error {
  override readonly name = 'SessionSecretError';
}

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals Keygate's session signing keys for the store: AES-256-GCM under a key derived from the
 * secret file (KEYGATE_SECRET_FILE), with the key id as associated data, so that a sealed key
 * copied onto another key's row does not open. A copy of the database alone holds no signing key.
 * Sealed form: `v1.<iv>.<ciphertext>.<tag>`, base64url, over the PKCS#8 DER of the private key.
 */
export class KeySeal {
  private readonly key: Buffer;

  constructor(secret: Buffer) {
    if (secret.length < 32) throw new SessionSecretError('The session secret must hold at least 32 bytes.');
    // HKDF, not the file's bytes: any file of 32+ random bytes (raw, hex, base64) yields a
    // uniform key, and one used for something else too would still give an unrelated key here.
    this.key = Buffer.from(hkdfSync('sha256', secret, '', 'keygate session signing keys v1', 32));
  }

  seal(kid: string, privateKey: KeyObject): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(kid));
    const der = privateKey.export({ type: 'pkcs8', format: 'der' });
    const sealed = Buffer.concat([cipher.update(der), cipher.final()]);
    return [VERSION, iv, sealed, cipher.getAuthTag()]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  open(kid: string, sealed: string): KeyObject {
    const [version, iv, data, tag, ...rest] = sealed.split('.');
    if (version !== VERSION || iv === undefined || data === undefined || tag === undefined || rest.length > 0)
      throw new SessionSecretError(`The session signing key ${kid} in the database is not in a sealed form.`);
    let der: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(kid));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      der = Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]);
    } catch {
      throw new SessionSecretError(
        `The session signing key ${kid} does not open with this secret: the database was set up with another KEYGATE_SECRET_FILE (or the row was altered). Start with the secret file this database was first started with; by default it is the .secret file beside the database.`,
      );
    }
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  }
}

/** A private key stored by a Keygate from before sealing: plaintext PEM, to be sealed at start. */
export function isPlaintextKey(stored: string): boolean {
  return stored.startsWith('-----BEGIN');
}
