/**
 * JSON as Go's `encoding/json` writes it, and a reader that keeps big integers exact.
 *
 * Calico's IPAM blocks carry uint64 sequence numbers (~1.8e18) that do not fit a JS number, so
 * {@link parseJsonLossless} returns every integer literal outside the safe-integer range as a
 * `bigint` (and every other number as a `number`). The writer side mirrors Go: compact, `<`, `>`,
 * `&`, U+2028 and U+2029 escaped inside strings, `bigint` written as plain digits, map-typed
 * fields with sorted keys (the callers decide which objects are maps).
 */
import { ParseError, ValidationError } from '@libcalico-ts/api';

const MAX_DEPTH = 1000;

class Reader {
  position = 0;
  constructor(readonly text: string) {}

  fail(message: string, at = this.position): never {
    throw new ParseError(`invalid JSON at offset ${at}: ${message}`, { position: at });
  }

  skipSpace(): void {
    const text = this.text;
    let i = this.position;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.position = i;
  }

  value(depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail('nesting too deep');
    this.skipSpace();
    const c = this.text.charCodeAt(this.position);
    switch (c) {
      case 0x7b /* { */:
        return this.object(depth);
      case 0x5b /* [ */:
        return this.array(depth);
      case 0x22 /* " */:
        return this.string();
      case 0x74 /* t */:
        return this.literal('true', true);
      case 0x66 /* f */:
        return this.literal('false', false);
      case 0x6e /* n */:
        return this.literal('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        if (Number.isNaN(c)) this.fail('unexpected end of input');
        return this.fail(`unexpected character ${JSON.stringify(this.text[this.position])}`);
    }
  }

  literal<T>(word: string, result: T): T {
    if (!this.text.startsWith(word, this.position)) this.fail(`expected ${word}`);
    this.position += word.length;
    return result;
  }

  number(): number | bigint {
    const text = this.text;
    const start = this.position;
    let i = start;
    if (text.charCodeAt(i) === 0x2d) i++;
    const digitsStart = i;
    while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    if (i === digitsStart) this.fail('expected a digit', i);
    if (text.charCodeAt(digitsStart) === 0x30 && i - digitsStart > 1) this.fail('leading zero in number', digitsStart);
    let integer = true;
    if (text.charCodeAt(i) === 0x2e /* . */) {
      integer = false;
      i++;
      const fracStart = i;
      while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
      if (i === fracStart) this.fail('expected a digit after "."', i);
    }
    const e = text.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      integer = false;
      i++;
      const sign = text.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      const expStart = i;
      while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
      if (i === expStart) this.fail('expected a digit in the exponent', i);
    }
    this.position = i;
    const literal = text.slice(start, i);
    const value = Number(literal);
    if (integer && !Number.isSafeInteger(value)) return BigInt(literal);
    return value;
  }

  string(): string {
    const text = this.text;
    const start = this.position; // at the opening quote
    let i = start + 1;
    let escaped = false;
    for (;;) {
      if (i >= text.length) this.fail('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        escaped = true;
        i += 2;
        continue;
      }
      if (c < 0x20) this.fail('control character in string', i);
      i++;
    }
    this.position = i + 1;
    if (!escaped) return text.slice(start + 1, i);
    try {
      return JSON.parse(text.slice(start, i + 1)) as string;
    } catch {
      return this.fail('invalid escape in string', start);
    }
  }

  array(depth: number): unknown[] {
    this.position++; // [
    const out: unknown[] = [];
    this.skipSpace();
    if (this.text.charCodeAt(this.position) === 0x5d) {
      this.position++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.skipSpace();
      const c = this.text.charCodeAt(this.position);
      if (c === 0x2c) {
        this.position++;
        continue;
      }
      if (c === 0x5d) {
        this.position++;
        return out;
      }
      this.fail('expected "," or "]"');
    }
  }

  object(depth: number): Record<string, unknown> {
    this.position++; // {
    const out: Record<string, unknown> = {};
    this.skipSpace();
    if (this.text.charCodeAt(this.position) === 0x7d) {
      this.position++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.text.charCodeAt(this.position) !== 0x22) this.fail('expected a string key');
      const key = this.string();
      this.skipSpace();
      if (this.text.charCodeAt(this.position) !== 0x3a) this.fail('expected ":"');
      this.position++;
      const value = this.value(depth + 1);
      // defineProperty so that a "__proto__" key is an ordinary property.
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      this.skipSpace();
      const c = this.text.charCodeAt(this.position);
      if (c === 0x2c) {
        this.position++;
        continue;
      }
      if (c === 0x7d) {
        this.position++;
        return out;
      }
      this.fail('expected "," or "}"');
    }
  }
}

/**
 * Parses JSON text. Integer literals outside `Number.MIN_SAFE_INTEGER..MAX_SAFE_INTEGER` come back
 * as `bigint` (exactly); every other number as a `number`.
 *
 * @throws ParseError (with `position`) on malformed input.
 * @example
 * ```ts
 * parseJsonLossless('{"sequenceNumber":1772359200000000002}'); // { sequenceNumber: 1772359200000000002n }
 * ```
 */
export function parseJsonLossless(text: string): unknown {
  const reader = new Reader(text);
  const value = reader.value(0);
  reader.skipSpace();
  if (reader.position !== text.length) reader.fail('unexpected data after the value');
  return value;
}

const HTML_UNSAFE = /[<>&\u2028\u2029]/g;
const HTML_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** A JSON string literal exactly as Go's `json.Marshal` writes it (HTML-safe escaping). */
export function goString(value: string): string {
  const json = JSON.stringify(value);
  return HTML_UNSAFE.test(json) ? json.replace(HTML_UNSAFE, (c) => HTML_ESCAPES[c]!) : json;
}

/** A JSON number as Go writes it; rejects NaN and infinities (Go refuses them too). */
export function goNumber(value: number | bigint, field: string): string {
  if (typeof value === 'bigint') return value.toString();
  if (!Number.isFinite(value)) {
    throw new ValidationError([{ name: field, value, reason: 'must be a finite number' }]);
  }
  // JS and Go agree on the shortest round-trip form, including the exponent cut-offs (1e-7, 1e+21).
  return Object.is(value, -0) ? '0' : String(value);
}

/**
 * Writes `value` as compact JSON the way Go would for the same data. Objects keep their key order,
 * except objects whose path is in `sortedPaths` (Go maps), which are written with sorted keys.
 * `undefined` properties are left out; `bigint` is written as digits.
 *
 * @throws ValidationError naming the field for values JSON cannot hold (functions, symbols,
 *   non-finite numbers).
 */
export function encodeGoJson(value: unknown, field = 'value', isMap?: (path: string) => boolean): string {
  const out: string[] = [];
  write(value, field, out, isMap);
  return out.join('');
}

function write(value: unknown, path: string, out: string[], isMap?: (path: string) => boolean): void {
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'string':
      out.push(goString(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
    case 'bigint':
      out.push(goNumber(value, path));
      return;
    case 'object':
      break;
    default:
      throw new ValidationError([{ name: path, value, reason: `a ${typeof value} cannot be stored as JSON` }]);
  }
  if (Array.isArray(value)) {
    out.push('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',');
      const item: unknown = value[i];
      write(item === undefined ? null : item, `${path}[${i}]`, out, isMap);
    }
    out.push(']');
    return;
  }
  const record = value as Record<string, unknown>;
  let keys = Object.keys(record);
  if (isMap?.(path)) keys = keys.sort(compareGoKeys);
  out.push('{');
  let first = true;
  for (const key of keys) {
    const item = record[key];
    if (item === undefined) continue;
    if (!first) out.push(',');
    first = false;
    out.push(goString(key), ':');
    write(item, `${path}.${key}`, out, isMap);
  }
  out.push('}');
}

/** Go sorts map keys by their UTF-8 bytes; for BMP text without surrogates that is code-unit order. */
export function compareGoKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A JSON object of string values with sorted keys (a Go `map[string]string`). */
export function goStringMap(map: Record<string, string>, field: string): string {
  const keys = Object.keys(map).sort(compareGoKeys);
  const parts: string[] = [];
  for (const key of keys) {
    const v = map[key];
    if (typeof v !== 'string') throw new ValidationError([{ name: `${field}.${key}`, value: v, reason: 'must be a string' }]);
    parts.push(`${goString(key)}:${goString(v)}`);
  }
  return `{${parts.join(',')}}`;
}
