import { isUtf8 } from 'node:buffer';
import { StacklessError } from './stackless-error.ts';

/**
 * A JSON parser for untrusted token segments. JSON.parse keeps the last of two members with the
 * same name, which lets a token show one claim to a reader and another to the verifier; this one
 * refuses duplicates, `__proto__` members, deep nesting and invalid UTF-8, and says where. Every
 * string, member names included, must be well-formed Unicode (I-JSON, RFC 7493): a lone surrogate
 * such as "\ud800" cannot be written to UTF-8 logs or identity headers faithfully, and two
 * systems would each repair it their own way.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Thrown for every malformed token segment: a refusal, so it records no stack (StacklessError). */
export class JsonError extends StacklessError {
  override readonly name = 'JsonError';
  /** Set when the JSON is well-formed but a string in it is not well-formed Unicode. */
  readonly unicode: boolean;
  constructor(message: string, unicode = false) {
    super(message);
    this.unicode = unicode;
  }
}

const MAX_DEPTH = 16;
const QUOTE = 0x22;
const PLUS = 0x2b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

/** The index after the run of digits that starts at `i` (`i` itself when there is none). */
function digitsFrom(text: string, i: number): number {
  while (isDigit(text.charCodeAt(i))) i++;
  return i;
}

export function parseStrictJson(bytes: Uint8Array): JsonValue {
  if (!isUtf8(bytes)) throw new JsonError('is not valid UTF-8');
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const parser = new Parser(text);
  parser.skipSpace();
  const value = parser.value(0);
  parser.skipSpace();
  if (parser.pos !== text.length) parser.fail('has trailing characters');
  return value;
}

/** A member name tokens carry, with its bit in an object's mask of the known names it holds. */
interface KnownName {
  name: string;
  bit: number;
}

/** The member names of token headers and payloads. */
const TOKEN_NAMES = ['alg', 'typ', 'kid', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'sub', 'role'];
/** The same, by their first character's code. */
const KNOWN_NAMES: Record<number, readonly KnownName[]> = {};
/** The same, by name: for a known name spelled with escapes, which `string` reads. */
const KNOWN_BITS = new Map<string, number>();
for (const [i, name] of TOKEN_NAMES.entries()) {
  const first = name.charCodeAt(0);
  KNOWN_NAMES[first] = [...(KNOWN_NAMES[first] ?? []), { name, bit: 1 << i }];
  KNOWN_BITS.set(name, 1 << i);
}

class Parser {
  pos = 0;
  readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  fail(what: string): never {
    throw new JsonError(`${what} at offset ${this.pos}`);
  }

  skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.pos++;
    }
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail('is nested too deeply');
    // Character codes, not one-character strings: this runs for every value of every token.
    const c = this.text.charCodeAt(this.pos);
    if (c === OPEN_BRACE) return this.object(depth);
    if (c === OPEN_BRACKET) return this.array(depth);
    if (c === QUOTE) return this.string();
    if (c === 0x74 && this.text.startsWith('true', this.pos)) return this.literal(4, true);
    if (c === 0x66 && this.text.startsWith('false', this.pos)) return this.literal(5, false);
    if (c === 0x6e && this.text.startsWith('null', this.pos)) return this.literal(4, null);
    return this.number();
  }

  literal<T>(length: number, value: T): T {
    this.pos += length;
    return value;
  }

  /**
   * The longest prefix that is a JSON number, as the grammar's regular expression would match it
   * (a fraction or an exponent without digits is left for the caller to refuse), scanned by hand:
   * a sticky RegExp allocated a match per number (each token has three).
   */
  number(): number {
    const t = this.text;
    const start = this.pos;
    let i = start;
    const negative = t.charCodeAt(i) === MINUS;
    if (negative) i++;
    const first = t.charCodeAt(i);
    if (first === ZERO) i++;
    else if (first > ZERO && first <= NINE) i = digitsFrom(t, i + 1);
    else this.fail('has an unexpected character');
    const integerEnd = i;
    if (t.charCodeAt(i) === DOT && isDigit(t.charCodeAt(i + 1))) i = digitsFrom(t, i + 2);
    const e = t.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      const sign = t.charCodeAt(i + 1);
      const at = sign === PLUS || sign === MINUS ? i + 2 : i + 1;
      if (isDigit(t.charCodeAt(at))) i = digitsFrom(t, at + 1);
    }
    this.pos = i;
    // An integer of at most 15 digits (every iat and exp) is exact in a double at every step of
    // summing its digits, which costs no slice and no conversion of one.
    if (i === integerEnd && i - start <= 15) {
      let value = 0;
      for (let j = negative ? start + 1 : start; j < i; j++) value = value * 10 + t.charCodeAt(j) - ZERO;
      return negative ? -value : value;
    }
    return Number(t.slice(start, i));
  }

  string(): string {
    const t = this.text;
    const start = this.pos + 1;
    let i = start;
    let escaped = false;
    for (;;) {
      if (i >= t.length) this.fail('has an unterminated string');
      const c = t.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) this.fail('has a control character in a string');
      if (c === 0x5c) {
        escaped = true;
        i++;
      }
      i++;
    }
    this.pos = i + 1;
    // Valid UTF-8 text holds no lone surrogate: only a \u escape can make one.
    if (!escaped) return t.slice(start, i);
    let value: string;
    try {
      // The slice is a complete, already-delimited JSON string; JSON.parse applies the escape rules.
      value = JSON.parse(t.slice(start - 1, i + 1)) as string;
    } catch {
      this.pos = start;
      return this.fail('has an invalid escape in a string');
    }
    if (!value.isWellFormed()) {
      this.pos = start;
      throw new JsonError(
        `has a string that is not well-formed Unicode (a lone surrogate escape) at offset ${start}`,
        true,
      );
    }
    return value;
  }

  /**
   * The member name at `pos` when it is one of the names tokens carry, written plainly, with its
   * bit: the constant itself, so that the object takes a name V8 has already made a property key. A name
   * sliced out of the text must be made one on first use, which was a quarter of the parser's
   * time (measured). Undefined for any other name, which `string` reads.
   */
  knownName(): KnownName | undefined {
    const t = this.text;
    const start = this.pos + 1;
    const candidate = KNOWN_NAMES[t.charCodeAt(start)];
    if (candidate === undefined) return undefined;
    for (const known of candidate) {
      const { name } = known;
      if (t.charCodeAt(start + name.length) === QUOTE && t.startsWith(name, start)) {
        this.pos = start + name.length + 1;
        return known;
      }
    }
    return undefined;
  }

  array(depth: number): JsonValue[] {
    const out: JsonValue[] = [];
    this.pos++;
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) === CLOSE_BRACKET) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      out.push(this.value(depth + 1));
      this.skipSpace();
      const c = this.text.charCodeAt(this.pos++);
      if (c === CLOSE_BRACKET) return out;
      if (c !== COMMA) this.fail('expected , or ] in an array');
    }
  }

  object(depth: number): JsonObject {
    const out: JsonObject = {};
    /** The known names (KNOWN_NAMES) among the members so far, a bit each. */
    let seen = 0;
    this.pos++;
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) === CLOSE_BRACE) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.text.charCodeAt(this.pos) !== QUOTE) this.fail('expected a member name');
      // A known name is told apart from the names before it by its bit in `seen`, with no
      // property lookup on `out`; any other name is looked up, and marks its bit when it is a
      // known name spelled with escapes, so that its plain spelling after it is refused too.
      const known = this.knownName();
      let key: string;
      if (known !== undefined) {
        key = known.name;
        if ((seen & known.bit) !== 0) this.fail(`has the member ${JSON.stringify(key)} twice`);
        seen |= known.bit;
      } else {
        key = this.string();
        if (key === '__proto__') this.fail('has a "__proto__" member');
        if (Object.hasOwn(out, key)) this.fail(`has the member ${JSON.stringify(key.slice(0, 40))} twice`);
        seen |= KNOWN_BITS.get(key) ?? 0;
      }
      this.skipSpace();
      if (this.text.charCodeAt(this.pos++) !== COLON) this.fail('expected : after a member name');
      this.skipSpace();
      out[key] = this.value(depth + 1);
      this.skipSpace();
      const c = this.text.charCodeAt(this.pos++);
      if (c === CLOSE_BRACE) return out;
      if (c !== COMMA) this.fail('expected , or } in an object');
    }
  }
}
