import { FieldError } from './forms.js';

// A private key pasted where a public key belongs is refused here, before it is sent: once it
// has left the machine it is no longer secret, and the server could only say so afterwards.

const PRIVATE_PEM = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;

function isPrivateJwk(text: string): boolean {
  if (!text.trimStart().startsWith('{')) return false;
  try {
    const jwk = JSON.parse(text) as unknown;
    return typeof jwk === 'object' && jwk !== null && 'd' in jwk;
  } catch {
    return false;
  }
}

/** Throws a FieldError for `field` when `text` holds a private key. */
export function refusePrivateKey(text: string, field: string): void {
  if (PRIVATE_PEM.test(text) || isPrivateJwk(text)) {
    throw new FieldError(
      field,
      'This is a private key, so it was not sent: it stays on your machine.',
      'Paste the public key instead, e.g. the .pub file, or the output of "openssl pkey -in your.key -pubout".',
    );
  }
}
