import { isUtf8 } from 'node:buffer';
import { decodeBase64url, encodeBase64url } from './base64url.ts';
import { type Rejection, reject } from './reason-codes.ts';
import type { JsonObject } from './strict-json.ts';
import { type Decoded, decodeHeader, decodeSignature } from './token-format.ts';

/**
 * The largest message, in bytes. A follow or unfollow record is a few hundred bytes; this leaves
 * room for far larger ones while the message, base64url-encoded in its JWS, still fits the
 * 64 KiB request body.
 */
export const MAX_MESSAGE_BYTES = 32 * 1024;

/** The longest JWS a message can take: its payload in base64url, with room for the header and an RSA-4096 signature. */
export const MAX_MESSAGE_JWS_LENGTH = Math.ceil((MAX_MESSAGE_BYTES * 4) / 3) + 4096;

/** A signed message: a compact JWS whose payload is any text, not a set of claims. */
export interface MessageJws {
  header: JsonObject;
  /** The message, as the text its bytes encode in UTF-8. */
  payload: string;
  /** Whether the payload was sent beside the JWS (RFC 7515 appendix F) rather than inside it. */
  detached: boolean;
  signature: Buffer;
  /**
   * The ASCII bytes the signature covers: `<header>.<base64url(payload)>`, exactly as sent, or
   * for a detached JWS rebuilt from the payload sent beside it.
   */
  signingInput: string;
}

/** A refusal keeps the header when it decoded, so the answer can echo the kid that was sent. */
export type ParsedMessage =
  | { ok: true; jws: MessageJws }
  | { ok: false; rejection: Rejection; header?: JsonObject };

const malformed = (message: string, hint?: string): { ok: false; rejection: Rejection } => ({
  ok: false,
  rejection: reject('token_malformed', hint ? { message, hint } : { message }),
});

const ATTACHED_OR_DETACHED =
  'Send the compact JWS in "jws": header.payload.signature, or header..signature with the message in "payload".';

/**
 * Parses a signed message as strictly as parseCompactJws parses a token, with the same header
 * decoding and base64url rules; only the payload differs: any bytes that are UTF-8 text. With an
 * empty payload segment the JWS is detached and `detachedPayload` is the message; otherwise the
 * JWS carries the message and `detachedPayload` must be absent. Sending it both ways would leave
 * a reader to guess which one was signed.
 */
export function parseMessageJws(jws: string, detachedPayload?: string): ParsedMessage {
  if (jws.length > MAX_MESSAGE_JWS_LENGTH) {
    return malformed(
      `The "jws" is ${jws.length} characters; at most ${MAX_MESSAGE_JWS_LENGTH} are accepted.`,
      `Keep the message under ${MAX_MESSAGE_BYTES} bytes.`,
    );
  }
  if (jws.startsWith('{')) {
    return malformed('The "jws" is a JWS in JSON serialization.', ATTACHED_OR_DETACHED);
  }
  const first = jws.indexOf('.');
  const second = first < 0 ? -1 : jws.indexOf('.', first + 1);
  if (first < 0 || second < 0 || jws.indexOf('.', second + 1) >= 0) {
    const segments = jws.split('.').length;
    return malformed(
      segments === 5
        ? 'The "jws" has 5 segments: it is an encrypted JWE, not a signed message.'
        : `The "jws" has ${segments} segment${segments === 1 ? '' : 's'}; a compact JWS has exactly 3.`,
      ATTACHED_OR_DETACHED,
    );
  }
  const headerPart = jws.slice(0, first);
  const payloadPart = jws.slice(first + 1, second);
  const header = decodeHeader(headerPart);
  if (!header.ok) return header;
  const signature = decodeSignature(jws.slice(second + 1));
  if (!signature.ok) return { ...signature, header: header.value };
  const payload =
    payloadPart === ''
      ? detachedMessage(headerPart, detachedPayload)
      : attachedMessage(payloadPart, detachedPayload);
  if (!payload.ok) return { ...payload, header: header.value };
  const { text, signingInput } = payload.value;
  return {
    ok: true,
    jws: {
      header: header.value,
      payload: text,
      detached: payloadPart === '',
      signature: signature.value,
      signingInput: signingInput ?? jws.slice(0, second),
    },
  };
}

type Message = Decoded<{ text: string; signingInput?: string }>;

function attachedMessage(segment: string, detachedPayload: string | undefined): Message {
  if (detachedPayload !== undefined) {
    return malformed(
      'The "jws" carries its payload, and a "payload" was sent beside it too.',
      'Send the message once: leave out "payload", or sign it detached (header..signature) and keep "payload".',
    );
  }
  const bytes = decodeBase64url(segment);
  if (!bytes) {
    return malformed(
      'The payload segment is not canonical base64url (no padding, no "+" or "/", no whitespace).',
    );
  }
  const tooLarge = checkSize(bytes.length);
  if (tooLarge) return tooLarge;
  // A message is text: answered as a JSON string, it must read back as the very bytes signed.
  if (!isUtf8(bytes)) {
    return malformed(
      'The payload is not UTF-8 text.',
      'Sign the message as UTF-8 text; encode binary data (base64, say) before signing it.',
    );
  }
  return { ok: true, value: { text: bytes.toString('utf8') } };
}

function detachedMessage(headerSegment: string, detachedPayload: string | undefined): Message {
  if (detachedPayload === undefined) {
    return malformed(
      'The "jws" is detached (nothing between its two dots), and no "payload" was sent beside it.',
      'Send the signed message in "payload" (an empty message as ""), or sign it attached.',
    );
  }
  // A lone surrogate has no UTF-8 form: encoding would replace it, and verify other bytes than sent.
  if (!detachedPayload.isWellFormed()) {
    return malformed(
      'The "payload" is not well-formed Unicode: it holds a lone surrogate escape such as "\\ud800".',
      'Send the message exactly as the UTF-8 text that was signed.',
    );
  }
  const bytes = Buffer.from(detachedPayload, 'utf8');
  const tooLarge = checkSize(bytes.length);
  if (tooLarge) return tooLarge;
  return {
    ok: true,
    value: { text: detachedPayload, signingInput: `${headerSegment}.${encodeBase64url(bytes)}` },
  };
}

function checkSize(bytes: number): { ok: false; rejection: Rejection } | undefined {
  if (bytes <= MAX_MESSAGE_BYTES) return undefined;
  return malformed(
    `The message is ${bytes} bytes; at most ${MAX_MESSAGE_BYTES} are accepted.`,
    'Sign a shorter message, or a digest of a large document.',
  );
}
