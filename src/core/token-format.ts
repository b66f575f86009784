import { decodeBase64url } from './base64url.ts';
import { type Rejection, reject } from './reason-codes.ts';
import { JsonError, type JsonObject, type JsonValue, parseStrictJson } from './strict-json.ts';

/** Larger than any token this service issues or accepts by a wide margin; caps parsing work. */
export const MAX_TOKEN_LENGTH = 8192;

export interface CompactJws {
  header: JsonObject;
  payload: JsonObject;
  signature: Buffer;
  /** The ASCII bytes the signature covers: `<header>.<payload>` exactly as sent. */
  signingInput: string;
}

export type ParsedToken = { ok: true; jws: CompactJws } | { ok: false; rejection: Rejection };

const malformed = (message: string, hint?: string): { ok: false; rejection: Rejection } => ({
  ok: false,
  rejection: reject('token_malformed', hint ? { message, hint } : { message }),
});

/** Parses a compact JWS strictly; it trusts nothing in it (the signature is checked later). */
export function parseCompactJws(token: string): ParsedToken {
  if (token.length > MAX_TOKEN_LENGTH) {
    return malformed(`The token is ${token.length} characters; at most ${MAX_TOKEN_LENGTH} are accepted.`);
  }
  if (token.startsWith('{')) {
    return malformed(
      'The token is a JWS in JSON serialization.',
      'Send the compact form: three base64url segments joined by dots.',
    );
  }
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (first < 0 || second < 0 || token.indexOf('.', second + 1) >= 0) {
    const segments = token.split('.').length;
    if (segments === 5) {
      return malformed(
        'The token has 5 segments: it is an encrypted JWE, not a signed JWT.',
        'Send a JWT signed with your private key (RS256, RS384 or ES256), not encrypted.',
      );
    }
    return malformed(
      `The token has ${segments} segment${segments === 1 ? '' : 's'}; a signed JWT has exactly 3.`,
    );
  }
  const headerPart = token.slice(0, first);
  const payloadPart = token.slice(first + 1, second);
  const signaturePart = token.slice(second + 1);
  const header = decodeHeader(headerPart);
  if (!header.ok) return header;
  const payload = decodeSegment(payloadPart, 'payload');
  if (!payload.ok) return payload;
  const signature = decodeSignature(signaturePart);
  if (!signature.ok) return signature;
  return {
    ok: true,
    jws: {
      header: header.value,
      payload: payload.value,
      signature: signature.value,
      signingInput: token.slice(0, second),
    },
  };
}

/** A decoded segment of a compact JWS, or why it is not one. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

type Segment = Decoded<JsonObject>;

/** The protected header of any compact JWS: canonical base64url of a strict JSON object. */
export function decodeHeader(text: string): Segment {
  const known = decodedHeaders.get(text);
  if (known) return known;
  const decoded = decodeSegment(text, 'header');
  if (text.length > MAX_REMEMBERED_LENGTH) return decoded;
  if (decodedHeaders.size >= MAX_DECODED_HEADERS)
    decodedHeaders.delete(decodedHeaders.keys().next().value as string);
  // Frozen: every token with this header segment shares the one object.
  if (decoded.ok) deepFreeze(decoded.value);
  decodedHeaders.set(text, decoded);
  return decoded;
}

/**
 * Header segments decoded before, with their outcome. A client sends the same header on every
 * token ({"alg":"RS256","typ":"JWT"} and its kid), so decoding and parsing it once per distinct
 * segment rather than once per token is a plain memo of a pure function; bounded, oldest first.
 */
const decodedHeaders = new Map<string, Segment>();
const MAX_DECODED_HEADERS = 1024;
/** Real headers are under 200 characters; a longer one is decoded but not kept (memory stays small). */
const MAX_REMEMBERED_LENGTH = 512;

function deepFreeze(value: JsonValue): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  for (const member of Object.values(value)) deepFreeze(member);
  Object.freeze(value);
}

/**
 * The signature segment, canonical base64url. An empty signature decodes: the alg check names
 * "none" for what it is, and any real algorithm then fails on the signature's length.
 */
export function decodeSignature(text: string): Decoded<Buffer> {
  const signature = decodeBase64url(text);
  if (!signature) {
    return malformed(
      'The signature segment is not canonical base64url (no padding, no "+" or "/", no whitespace).',
    );
  }
  return { ok: true, value: signature };
}

function decodeSegment(text: string, which: 'header' | 'payload'): Segment {
  const bytes = decodeBase64url(text);
  if (!bytes || bytes.length === 0) {
    return malformed(
      `The ${which} segment is ${text.length === 0 ? 'empty' : 'not canonical base64url (no padding, no "+" or "/", no whitespace)'}.`,
    );
  }
  let value: JsonValue;
  try {
    value = parseStrictJson(bytes);
  } catch (error) {
    if (error instanceof JsonError && error.unicode) return notUnicode(which, error);
    return malformed(`The ${which} is not strict JSON: it ${(error as Error).message}.`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return malformed(`The ${which} must be a JSON object, not ${describeJsonType(value)}.`);
  }
  return { ok: true, value };
}

function describeJsonType(value: JsonValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** A lone surrogate: in the header the token is malformed; in the payload a claim is invalid. */
function notUnicode(which: 'header' | 'payload', error: JsonError): Segment {
  const hint = 'Send every string as well-formed Unicode: no lone surrogate escapes such as "\\ud800".';
  const message = `The ${which} ${error.message}.`;
  return {
    ok: false,
    rejection:
      which === 'header'
        ? reject('token_malformed', { message, hint })
        : reject('claim_invalid', { message, hint }),
  };
}
