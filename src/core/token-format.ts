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

const malformed = (message: string, hint?: string): ParsedToken => ({
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
  const header = decodeSegment(headerPart, 'header');
  if (!header.ok) return header;
  const payload = decodeSegment(payloadPart, 'payload');
  if (!payload.ok) return payload;
  // An empty signature parses: the alg check names "none" for what it is, and any real algorithm
  // then fails on the signature's length.
  const signature = decodeBase64url(signaturePart);
  if (!signature) {
    return malformed(
      'The signature segment is not canonical base64url (no padding, no "+" or "/", no whitespace).',
    );
  }
  return {
    ok: true,
    jws: { header: header.value, payload: payload.value, signature, signingInput: token.slice(0, second) },
  };
}

type Segment = { ok: true; value: JsonObject } | { ok: false; rejection: Rejection };

function decodeSegment(text: string, which: 'header' | 'payload'): Segment {
  const bytes = decodeBase64url(text);
  if (!bytes || bytes.length === 0) {
    return malformed(
      `The ${which} segment is ${text.length === 0 ? 'empty' : 'not canonical base64url (no padding, no "+" or "/", no whitespace)'}.`,
    ) as Segment;
  }
  let value: JsonValue;
  try {
    value = parseStrictJson(bytes);
  } catch (error) {
    if (error instanceof JsonError && error.unicode) return notUnicode(which, error);
    return malformed(`The ${which} is not strict JSON: it ${(error as Error).message}.`) as Segment;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return malformed(`The ${which} must be a JSON object, not ${describeJsonType(value)}.`) as Segment;
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
