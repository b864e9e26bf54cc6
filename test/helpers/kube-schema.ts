/**
 * The part of the apiserver's CRD structural-schema handling the test server reproduces:
 * defaulting, pruning of unknown fields, and OpenAPI v3 validation of types, `required`, `enum`,
 * `nullable`, `maxLength`/`minLength`, `pattern`, `minimum`/`maximum`, `maxItems`/`minItems`,
 * `x-kubernetes-int-or-string` and `x-kubernetes-preserve-unknown-fields`.
 * Not done: CEL rules (`x-kubernetes-validations`), `format` checks, list-type uniqueness.
 */
import { BigIntLiteral, cloneJson, type Json } from './kube-json.js';

export interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: Json[];
  nullable?: boolean;
  default?: Json;
  maxLength?: number;
  minLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  minItems?: number;
  anyOf?: Schema[];
  allOf?: Schema[];
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
}

/** One validation problem, shaped like a `StatusCause`. */
export interface SchemaCause {
  reason: 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueNotSupported' | 'FieldValueTooLong' | 'FieldValueTooMany';
  message: string;
  field: string;
}

function typeOf(v: Json): string {
  if (v === null) return 'null';
  if (v instanceof BigIntLiteral) return 'integer';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function quote(v: Json): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v instanceof BigIntLiteral ? v.digits : JSON.stringify(v));
}

/** Applies defaults in place (before pruning, as the apiserver does). */
export function applyDefaults(schema: Schema | undefined, value: Json): void {
  if (!schema || value === null || typeof value !== 'object' || value instanceof BigIntLiteral) return;
  if (Array.isArray(value)) {
    for (const item of value) applyDefaults(schema.items, item);
    return;
  }
  if (schema.properties) {
    for (const [name, prop] of Object.entries(schema.properties)) {
      if (!(name in value) && prop.default !== undefined) value[name] = cloneJson(prop.default);
      if (name in value) applyDefaults(prop, value[name]);
    }
  } else if (typeof schema.additionalProperties === 'object') {
    for (const v of Object.values(value)) applyDefaults(schema.additionalProperties, v);
  }
}

/** Removes fields the schema does not declare, in place. */
export function prune(schema: Schema | undefined, value: Json): void {
  if (!schema || value === null || typeof value !== 'object' || value instanceof BigIntLiteral) return;
  if (schema['x-kubernetes-preserve-unknown-fields'] && !schema.properties && !schema.additionalProperties && !schema.items) return;
  if (Array.isArray(value)) {
    for (const item of value) prune(schema.items, item);
    return;
  }
  if (schema.properties) {
    for (const key of Object.keys(value)) {
      const prop = schema.properties[key];
      if (prop) prune(prop, value[key]);
      else if (!schema['x-kubernetes-preserve-unknown-fields']) delete value[key];
    }
  } else if (typeof schema.additionalProperties === 'object') {
    for (const v of Object.values(value)) prune(schema.additionalProperties, v);
  } else if (schema.type === 'object' && schema.additionalProperties === undefined && !schema['x-kubernetes-preserve-unknown-fields']) {
    for (const key of Object.keys(value)) delete value[key];
  }
}

/** Validates `value` against `schema`; returns every problem found. */
export function validate(schema: Schema | undefined, value: Json, path: string, causes: SchemaCause[] = []): SchemaCause[] {
  if (!schema) return causes;
  if (value === null) {
    if (!schema.nullable && schema.type) {
      causes.push({ reason: 'FieldValueInvalid', field: path, message: `Invalid value: "null": ${path} in body must be of type ${schema.type}: "null"` });
    }
    return causes;
  }
  const actual = typeOf(value);
  if (schema['x-kubernetes-int-or-string']) {
    if (actual !== 'integer' && actual !== 'string') {
      causes.push({ reason: 'FieldValueInvalid', field: path, message: `Invalid value: "${actual}": ${path} in body must be of type integer,string: "${actual}"` });
    }
  } else if (schema.type) {
    const ok = schema.type === actual || (schema.type === 'number' && actual === 'integer');
    if (!ok) {
      causes.push({ reason: 'FieldValueInvalid', field: path, message: `Invalid value: "${actual}": ${path} in body must be of type ${schema.type}: "${actual}"` });
      return causes;
    }
  }
  if (schema.enum && !schema.enum.some((e) => e === value)) {
    causes.push({
      reason: 'FieldValueNotSupported',
      field: path,
      message: `Unsupported value: ${quote(value)}: supported values: ${schema.enum.map(quote).join(', ')}`,
    });
  }
  if (typeof value === 'string') {
    if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      causes.push({ reason: 'FieldValueTooLong', field: path, message: `Too long: may not be more than ${schema.maxLength} bytes` });
    }
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      causes.push({ reason: 'FieldValueInvalid', field: path, message: `Invalid value: ${quote(value)}: ${path} in body should be at least ${schema.minLength} chars long` });
    }
    if (schema.pattern !== undefined && !goPattern(schema.pattern).test(value)) {
      causes.push({ reason: 'FieldValueInvalid', field: path, message: `Invalid value: ${quote(value)}: ${path} in body should match '${schema.pattern}'` });
    }
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) {
      causes.push({ reason: 'FieldValueInvalid', field: path, message: `Invalid value: ${value}: ${path} in body should be greater than or equal to ${schema.minimum}` });
    }
    if (schema.maximum !== undefined && value > schema.maximum) {
      causes.push({ reason: 'FieldValueInvalid', field: path, message: `Invalid value: ${value}: ${path} in body should be less than or equal to ${schema.maximum}` });
    }
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      causes.push({ reason: 'FieldValueTooMany', field: path, message: `Too many: ${value.length}: must have at most ${schema.maxItems} items` });
    }
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      causes.push({ reason: 'FieldValueInvalid', field: path, message: `Invalid value: ${value.length}: ${path} in body should have at least ${schema.minItems} items` });
    }
    value.forEach((item, i) => validate(schema.items, item, `${path}[${i}]`, causes));
  } else if (typeof value === 'object' && !(value instanceof BigIntLiteral)) {
    for (const name of schema.required ?? []) {
      if (!(name in value)) causes.push({ reason: 'FieldValueRequired', field: `${path}.${name}`, message: 'Required value' });
    }
    for (const [key, v] of Object.entries(value)) {
      const prop = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      validate(prop, v, `${path}.${key}`, causes);
    }
  }
  for (const sub of schema.allOf ?? []) validate(sub, value, path, causes);
  return causes;
}

const patternCache = new Map<string, RegExp>();

/**
 * A CRD `pattern` as a JavaScript RegExp. CRD patterns are Go RE2 syntax; the one construct the
 * Calico CRDs use that JavaScript lacks is a leading inline flag group such as `(?i)` (possibly after `^`), which
 * becomes the RegExp flag.
 */
function goPattern(pattern: string): RegExp {
  let compiled = patternCache.get(pattern);
  if (compiled === undefined) {
    // `(?i)` at the start, or right after a leading `^` (as in `^(?i)(Trace|Debug|...)?$`).
    const inline = /^(\^?)\(\?([imsU]+)\)/.exec(pattern);
    const flags = inline ? [...new Set(inline[2]!.replace('U', ''))].join('') : '';
    compiled = new RegExp(inline ? inline[1]! + pattern.slice(inline[0].length) : pattern, flags);
    patternCache.set(pattern, compiled);
  }
  return compiled;
}
