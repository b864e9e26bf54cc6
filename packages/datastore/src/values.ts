/**
 * Plain-data helpers: a deep copy that keeps `bigint`s, and a JSON codec that round-trips them
 * exactly. Used by the memory datastore; safe in browsers (no Node built-ins).
 */
import { ValidationError } from '@libcalico-ts/api';

/**
 * Deep-copies plain data: objects with the Object prototype (or none), arrays, strings, finite
 * numbers, booleans, null and `bigint`. Object properties whose value is `undefined` are dropped
 * and `undefined` array entries become `null` (as JSON would store them).
 *
 * @throws ValidationError (field = the path of the offending value) for anything else: functions,
 * symbols, class instances (Date, Map...), non-finite numbers, cycles.
 */
export function cloneData<T>(value: T, path = 'value'): T {
  try {
    return fastCopy(value, 0) as T;
  } catch (error) {
    if (error !== NOT_PLAIN) throw error;
    // Slow pass, only to name the offending path.
    return copy(value, path, new Set()) as T;
  }
}

/**
 * Copies data already known to be plain (e.g. stored values): no checks at all.
 * Internal fast path of the memory datastore.
 */
export function clonePlain<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = value.slice();
    for (let i = 0; i < out.length; i++) {
      const item = out[i];
      if (typeof item === 'object' && item !== null) out[i] = clonePlain(item);
    }
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const name in value) out[name] = clonePlain((value as Record<string, unknown>)[name]);
  return out as T;
}

const NOT_PLAIN = Symbol('not plain data');
/** Deeper than this is treated as a cycle (Calico values are a few levels deep). */
const MAX_DEPTH = 200;

function fastCopy(value: unknown, depth: number): unknown {
  if (typeof value !== 'object') {
    if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'bigint') return value;
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    throw NOT_PLAIN;
  }
  if (value === null) return null;
  if (depth > MAX_DEPTH) throw NOT_PLAIN;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      out[i] = item === undefined ? null : fastCopy(item, depth + 1);
    }
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw NOT_PLAIN;
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[name];
    if (item !== undefined) out[name] = fastCopy(item, depth + 1);
  }
  return out;
}

function copy(value: unknown, path: string, seen: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new ValidationError([{ name: path, value, reason: 'numbers must be finite' }]);
      return value;
    case 'object': {
      if (value === null) return null;
      if (seen.has(value)) throw new ValidationError([{ name: path, value: '[cycle]', reason: 'values must not contain cycles' }]);
      if (Array.isArray(value)) {
        seen.add(value);
        const out = new Array<unknown>(value.length);
        for (let i = 0; i < value.length; i++) {
          const item = value[i];
          out[i] = item === undefined ? null : copy(item, `${path}[${i}]`, seen);
        }
        seen.delete(value);
        return out;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new ValidationError([{ name: path, value, reason: 'values must be plain data (objects, arrays, strings, numbers, booleans, null, bigint)' }]);
      }
      seen.add(value);
      const out: Record<string, unknown> = {};
      for (const name of Object.keys(value)) {
        const item = (value as Record<string, unknown>)[name];
        if (item === undefined) continue;
        out[name] = copy(item, `${path}.${name}`, seen);
      }
      seen.delete(value);
      return out;
    }
    default:
      throw new ValidationError([{ name: path, value: String(value), reason: `values of type ${typeof value} cannot be stored` }]);
  }
}

/**
 * Encodes plain data as JSON with its bigints kept exactly: returns `{data, bigints}` where every
 * bigint in `data` was replaced by its decimal string and `bigints` lists the paths (arrays of
 * property names / indexes) of those strings. {@link decodeBigintJson} reverses it.
 */
export function encodeBigintJson(value: unknown): { data: unknown; bigints: (string | number)[][] } {
  const bigints: (string | number)[][] = [];
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === 'bigint') {
      bigints.push(path);
      return node.toString();
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (typeof node === 'object' && node !== null) {
      const out: Record<string, unknown> = {};
      for (const [name, item] of Object.entries(node)) out[name] = walk(item, [...path, name]);
      return out;
    }
    return node;
  };
  const data = walk(value, []);
  return { data, bigints };
}

/** Reverses {@link encodeBigintJson}. Throws `Error` naming the path when a listed path is not a decimal string. */
export function decodeBigintJson(data: unknown, bigints: readonly (readonly (string | number)[])[]): unknown {
  let root = data;
  for (const path of bigints) {
    if (path.length === 0) {
      root = toBigint(root, path);
      continue;
    }
    let parent: unknown = root;
    for (let i = 0; i < path.length - 1; i++) {
      parent = typeof parent === 'object' && parent !== null ? (parent as Record<string | number, unknown>)[path[i]!] : undefined;
    }
    const last = path[path.length - 1]!;
    if (typeof parent !== 'object' || parent === null) throw new Error(`bigint path ${JSON.stringify(path)} does not exist`);
    (parent as Record<string | number, unknown>)[last] = toBigint((parent as Record<string | number, unknown>)[last], path);
  }
  return root;
}

function toBigint(value: unknown, path: readonly (string | number)[]): bigint {
  if (typeof value !== 'string' || !/^-?(0|[1-9][0-9]*)$/.test(value)) {
    throw new Error(`bigint at ${JSON.stringify(path)} is not a decimal string`);
  }
  return BigInt(value);
}
