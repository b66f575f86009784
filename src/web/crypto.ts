// Everything cryptographic the page does, with WebCrypto only: the password's SHA-256 (the
// login sends that, never the password), key pairs whose private half stays in this page, and
// the test token signed with it.

export type KeyKind = 'p256' | 'rsa4096';

const encoder = new TextEncoder();

/** The subtle API, or an error that says why it is missing (it needs https or localhost). */
function subtle(): SubtleCrypto {
  if (!globalThis.isSecureContext || !globalThis.crypto?.subtle) {
    throw new Error(
      'This browser offers cryptography only to secure pages: open the dashboard over https (or on localhost).',
    );
  }
  return crypto.subtle;
}

/** Lower-case hex SHA-256 of the UTF-8 text: spec 004's pass_hash. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await subtle().digest('SHA-256', encoder.encode(text)));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

const ALGORITHMS: Record<KeyKind, RsaHashedKeyGenParams | EcKeyGenParams> = {
  p256: { name: 'ECDSA', namedCurve: 'P-256' },
  rsa4096: {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 4096,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  },
};

/** The JWS alg a key of this kind signs with here. */
export function jwsAlgorithm(kind: KeyKind): 'ES256' | 'RS256' {
  return kind === 'p256' ? 'ES256' : 'RS256';
}

export interface GeneratedPair {
  kind: KeyKind;
  privateKey: CryptoKey;
  /** SPKI, to register. */
  publicPem: string;
  /** PKCS#8, offered as a download and kept nowhere else. */
  privatePem: string;
}

export async function generatePair(kind: KeyKind): Promise<GeneratedPair> {
  const crypto = subtle();
  // Extractable so the private key can be offered as a PKCS#8 file; it is never sent anywhere.
  const pair = (await crypto.generateKey(ALGORITHMS[kind], true, ['sign', 'verify'])) as CryptoKeyPair;
  const [spki, pkcs8] = await Promise.all([
    crypto.exportKey('spki', pair.publicKey),
    crypto.exportKey('pkcs8', pair.privateKey),
  ]);
  return {
    kind,
    privateKey: pair.privateKey,
    publicPem: pem('PUBLIC KEY', spki),
    privatePem: pem('PRIVATE KEY', pkcs8),
  };
}

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** RFC 7468 text: 64-character lines between BEGIN and END. */
function pem(label: string, der: ArrayBuffer): string {
  const lines = base64(new Uint8Array(der)).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

export function base64url(bytes: Uint8Array): string {
  return base64(bytes).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

const segment = (value: unknown) => base64url(encoder.encode(JSON.stringify(value)));

/**
 * A compact JWS. ECDSA's WebCrypto signature is already the raw R||S that ES256 (RFC 7518
 * section 3.4) wants, not the DER an OpenSSL signature would be.
 */
export async function signJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: CryptoKey,
): Promise<string> {
  const input = `${segment(header)}.${segment(payload)}`;
  const params = key.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : key.algorithm;
  const signature = await subtle().sign(params, key, encoder.encode(input));
  return `${input}.${base64url(new Uint8Array(signature))}`;
}

export interface TestClaims {
  orgId: string;
  keyId: string;
  sub: string;
  audience: string;
  role: string;
  /** The server's clock in seconds, so a wrong clock here cannot make the test fail. */
  now: number;
}

/** A five-minute token with the claims CONTRACT.md lists for a user's key. */
export function signTestToken(pair: GeneratedPair, claims: TestClaims): Promise<string> {
  return signJwt(
    { alg: jwsAlgorithm(pair.kind), typ: 'JWT', kid: claims.keyId },
    {
      jti: crypto.randomUUID(),
      iss: claims.orgId,
      sub: claims.sub,
      iat: claims.now,
      exp: claims.now + 300,
      aud: claims.audience,
      role: claims.role,
      kid: claims.keyId,
    },
    pair.privateKey,
  );
}
