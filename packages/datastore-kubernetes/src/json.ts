/**
 * Lossless JSON for Kubernetes responses.
 *
 * IPAM block sequence numbers are uint64 values initialised from Unix nanoseconds (about 1.8e18),
 * far beyond `Number.MAX_SAFE_INTEGER`. `JSON.parse` would round them, so every response body is
 * read with {@link parseJson}: integer literals outside the safe range become `bigint`, every
 * other value is what `JSON.parse` would give. {@link stringifyJson} writes `bigint` values back as
 * bare JSON integers.
 */
import { ParseError } from '@libcalico-ts/api';

/** A JSON value as read by {@link parseJson}: like `JSON.parse`'s, plus `bigint` for unsafe integers. */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

// A run of 16+ digits is the only way an unsafe integer can appear; without one JSON.parse is exact.
const LONG_DIGITS = /\d{16}/;

/**
 * Parses JSON text, keeping integers beyond 2^53 exact as `bigint`.
 * Fails with `ParseError` (with the character position) on malformed text.
 */
export function parseJson(text: string): JsonValue {
  if (!LONG_DIGITS.test(text)) {
    try {
      return JSON.parse(text) as JsonValue;
    } catch (error) {
      // Fall through to the slow parser for a precise position.
      return new Parser(text).parseDocument();
    }
  }
  return new Parser(text).parseDocument();
}

class Parser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parseDocument(): JsonValue {
    this.ws();
    const value = this.value();
    this.ws();
    if (this.pos !== this.text.length) this.fail('unexpected trailing characters');
    return value;
  }

  private fail(message: string): never {
    throw new ParseError(`invalid JSON at offset ${this.pos}: ${message}`, { position: this.pos });
  }

  private ws(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else break;
    }
  }

  private value(): JsonValue {
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.object();
      case '[':
        return this.array();
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail(c === undefined ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`);
    }
  }

  private literal<T extends JsonValue>(word: string, value: T): T {
    if (this.text.startsWith(word, this.pos)) {
      this.pos += word.length;
      return value;
    }
    return this.fail(`expected ${word}`);
  }

  private object(): { [key: string]: JsonValue } {
    const out: { [key: string]: JsonValue } = {};
    this.pos++;
    this.ws();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.text[this.pos] !== '"') this.fail('expected a string key');
      const key = this.string();
      this.ws();
      if (this.text[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      this.ws();
      const value = this.value();
      // Same semantics as JSON.parse for "__proto__": an own property, not the prototype.
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      this.ws();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === '}') {
        this.pos++;
        return out;
      }
      this.fail("expected ',' or '}'");
    }
  }

  private array(): JsonValue[] {
    const out: JsonValue[] = [];
    this.pos++;
    this.ws();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value());
      this.ws();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === ']') {
        this.pos++;
        return out;
      }
      this.fail("expected ',' or ']'");
    }
  }

  private string(): string {
    const start = this.pos;
    const t = this.text;
    let i = start + 1;
    // Scan to the closing quote; let JSON.parse decode escapes of the literal.
    for (;;) {
      if (i >= t.length) {
        this.pos = i;
        this.fail('unterminated string');
      }
      const c = t.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) i += 2;
      else if (c < 0x20) {
        this.pos = i;
        this.fail('control character in string');
      } else i++;
    }
    this.pos = i + 1;
    try {
      return JSON.parse(t.slice(start, i + 1)) as string;
    } catch {
      this.pos = start;
      return this.fail('invalid string escape');
    }
  }

  private number(): number | bigint {
    const t = this.text;
    const start = this.pos;
    let i = start;
    if (t[i] === '-') i++;
    if (t[i] === '0') i++;
    else if (t[i] !== undefined && t[i] >= '1' && t[i] <= '9') while (t[i] !== undefined && t[i] >= '0' && t[i] <= '9') i++;
    else {
      this.pos = i;
      this.fail('invalid number');
    }
    let integer = true;
    if (t[i] === '.') {
      integer = false;
      i++;
      const digits = i;
      while (t[i] !== undefined && t[i] >= '0' && t[i] <= '9') i++;
      if (i === digits) {
        this.pos = i;
        this.fail('invalid number');
      }
    }
    if (t[i] === 'e' || t[i] === 'E') {
      integer = false;
      i++;
      if (t[i] === '+' || t[i] === '-') i++;
      const digits = i;
      while (t[i] !== undefined && t[i] >= '0' && t[i] <= '9') i++;
      if (i === digits) {
        this.pos = i;
        this.fail('invalid number');
      }
    }
    this.pos = i;
    const literal = t.slice(start, i);
    const n = Number(literal);
    if (integer && !Number.isSafeInteger(n)) return BigInt(literal);
    return n;
  }
}

/**
 * Serialises a value to compact JSON, writing `bigint` as a bare integer. Otherwise it follows
 * `JSON.stringify`: undefined members are left out, undefined array slots and non-finite numbers
 * become `null`, `toJSON()` (e.g. on `Date`) is honoured.
 */
export function stringifyJson(value: unknown): string {
  return write(value) ?? 'null';
}

function write(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      const withToJson = value as { toJSON?: () => unknown };
      if (typeof withToJson.toJSON === 'function') return write(withToJson.toJSON());
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += write(value[i]) ?? 'null';
        }
        return out + ']';
      }
      let out = '{';
      let first = true;
      for (const key of Object.keys(value)) {
        const member = write((value as Record<string, unknown>)[key]);
        if (member === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += JSON.stringify(key) + ':' + member;
      }
      return out + '}';
    }
    default:
      return undefined;
  }
}

/** Reads a JSON integer (number or bigint, or a decimal string) as an exact `bigint`; undefined when absent or not an integer. */
export function toBigInt(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  return undefined;
}
