/**
 * JSON for the Kubernetes API test server: like the real apiserver (Go, int64), it never rounds
 * integers. Integer literals outside JavaScript's safe range are kept as {@link BigIntLiteral}
 * objects holding their digits, and written back verbatim. Independent of the SDK's own codec on
 * purpose, so that the two check each other in wire tests.
 */

/** An integer literal too large for a JS number, kept as its exact digits. */
export class BigIntLiteral {
  constructor(readonly digits: string) {}
  toString(): string {
    return this.digits;
  }
}

export type Json = null | boolean | number | string | BigIntLiteral | Json[] | { [key: string]: Json };

export class JsonSyntaxError extends Error {}

/** Parses JSON text; unsafe integers become {@link BigIntLiteral}. Throws JsonSyntaxError. */
export function parseLossless(text: string): Json {
  let pos = 0;
  const fail = (message: string): never => {
    throw new JsonSyntaxError(`invalid JSON at ${pos}: ${message}`);
  };
  const ws = () => {
    while (pos < text.length && ' \t\n\r'.includes(text[pos])) pos++;
  };
  const value = (): Json => {
    ws();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const out: { [key: string]: Json } = {};
      ws();
      if (text[pos] === '}') {
        pos++;
        return out;
      }
      for (;;) {
        ws();
        if (text[pos] !== '"') fail('expected key');
        const key = str();
        ws();
        if (text[pos++] !== ':') fail("expected ':'");
        Object.defineProperty(out, key, { value: value(), enumerable: true, writable: true, configurable: true });
        ws();
        const d = text[pos++];
        if (d === '}') return out;
        if (d !== ',') fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      pos++;
      const out: Json[] = [];
      ws();
      if (text[pos] === ']') {
        pos++;
        return out;
      }
      for (;;) {
        out.push(value());
        ws();
        const d = text[pos++];
        if (d === ']') return out;
        if (d !== ',') fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', pos)) return (pos += 4), true;
    if (text.startsWith('false', pos)) return (pos += 5), false;
    if (text.startsWith('null', pos)) return (pos += 4), null;
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(pos, pos + 400));
    if (!m) return fail('unexpected character');
    pos += m[0].length;
    const n = Number(m[0]);
    if (!m[2] && !m[3] && !Number.isSafeInteger(n)) return new BigIntLiteral(m[0]);
    return n;
  };
  const str = (): string => {
    const start = pos;
    pos++;
    while (pos < text.length && text[pos] !== '"') pos += text[pos] === '\\' ? 2 : 1;
    if (pos >= text.length) fail('unterminated string');
    pos++;
    try {
      return JSON.parse(text.slice(start, pos)) as string;
    } catch {
      return fail('bad string');
    }
  };
  const result = value();
  ws();
  if (pos !== text.length) fail('trailing characters');
  return result;
}

/**
 * Writes JSON. `sortKeys` reproduces how the apiserver encodes custom resources (Go maps are
 * written with sorted keys); built-in objects keep their field order.
 */
export function stringifyLossless(value: unknown, sortKeys = false): string {
  const write = (v: unknown): string | undefined => {
    if (v === null) return 'null';
    if (v instanceof BigIntLiteral) return v.digits;
    switch (typeof v) {
      case 'string':
        return JSON.stringify(v);
      case 'number':
        return Number.isFinite(v) ? String(v) : 'null';
      case 'bigint':
        return v.toString();
      case 'boolean':
        return String(v);
      case 'object': {
        if (Array.isArray(v)) return '[' + v.map((x) => write(x) ?? 'null').join(',') + ']';
        const keys = Object.keys(v as object);
        if (sortKeys) keys.sort();
        const parts: string[] = [];
        for (const k of keys) {
          const w = write((v as Record<string, unknown>)[k]);
          if (w !== undefined) parts.push(JSON.stringify(k) + ':' + w);
        }
        return '{' + parts.join(',') + '}';
      }
      default:
        return undefined;
    }
  };
  return write(value) ?? 'null';
}

/** Deep copy of a parsed JSON value (BigIntLiteral instances are immutable and shared). */
export function cloneJson<T>(value: T): T {
  if (value === null || typeof value !== 'object' || value instanceof BigIntLiteral) return value;
  if (Array.isArray(value)) return value.map(cloneJson) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = cloneJson(v);
  return out as T;
}

/** Structural equality of parsed JSON values. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a instanceof BigIntLiteral || b instanceof BigIntLiteral) {
    return a instanceof BigIntLiteral && b instanceof BigIntLiteral && a.digits === b.digits;
  }
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]));
  }
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
