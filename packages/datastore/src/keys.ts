/**
 * Helpers over datastore keys: a stable string id, a human description (used in error
 * identifiers), validation, and list matching. Every backend may use them.
 */
import { KINDS, ValidationError, type ErrorIdentifier, type FieldError } from '@libcalico-ts/api';
import { parseCidr } from './cidr.js';
import type { AffinityType, Key, ListInterface } from './contract.js';

function isKnownKind(kind: unknown): kind is keyof typeof KINDS {
  return typeof kind === 'string' && Object.prototype.hasOwnProperty.call(KINDS, kind);
}

/**
 * A stable, unique string for a key, for use as a map key or in logs. Two keys have the same id
 * exactly when they name the same stored item (an affinity without `affinityType` is the same as
 * one with `affinityType: 'host'`). The key is not validated; pass it through {@link validateKey} first
 * when it comes from outside.
 *
 * Forms: `resource/IPPool/name`, `resource/NetworkPolicy/ns/name`, `block/10.0.0.0/26`,
 * `blockAffinity/host/10.0.0.0/26/node-1`, `handle/<id>`, `ipamConfig`.
 *
 * @example keyId({ type: 'block', cidr: '10.0.0.0/26' }) // 'block/10.0.0.0/26'
 */
export function keyId(key: Key): string {
  switch (key.type) {
    case 'resource':
      return key.namespace !== undefined
        ? `resource/${key.kind}/${key.namespace}/${key.name}`
        : `resource/${key.kind}/${key.name}`;
    case 'block':
      return `block/${key.cidr}`;
    case 'blockAffinity':
      return `blockAffinity/${key.affinityType ?? 'host'}/${key.cidr}/${key.host}`;
    case 'handle':
      return `handle/${key.handleId}`;
    case 'ipamConfig':
      return 'ipamConfig';
  }
}

/**
 * A short human description of a key, used in error messages and as the error `identifier`
 * of IPAM keys: `IPPool(default-pool)`, `NetworkPolicy(ns/name)`, `block 10.0.0.0/26`,
 * `affinity host:node-1 10.0.0.0/26`, `handle <id>`, `IPAM config`.
 */
export function describeKey(key: Key): string {
  switch (key.type) {
    case 'resource':
      return key.namespace !== undefined ? `${key.kind}(${key.namespace}/${key.name})` : `${key.kind}(${key.name})`;
    case 'block':
      return `block ${key.cidr}`;
    case 'blockAffinity':
      return `affinity ${key.affinityType ?? 'host'}:${key.host} ${key.cidr}`;
    case 'handle':
      return `handle ${key.handleId}`;
    case 'ipamConfig':
      return 'IPAM config';
  }
}

/** A short human description of a list: `IPPool list`, `affinity list host:node-1 IPv4`, `block list`. */
export function describeList(list: ListInterface): string {
  switch (list.type) {
    case 'resource': {
      const scope = [list.namespace, list.name].filter((p) => p !== undefined).join('/');
      return scope ? `${list.kind} list ${scope}` : `${list.kind} list`;
    }
    case 'block':
      return list.ipVersion !== undefined ? `block list IPv${list.ipVersion}` : 'block list';
    case 'blockAffinity': {
      const parts = ['affinity list'];
      if (list.host !== undefined) parts.push(`${list.affinityType ?? 'host'}:${list.host}`);
      if (list.ipVersion !== undefined) parts.push(`IPv${list.ipVersion}`);
      return parts.join(' ');
    }
    case 'handle':
      return 'handle list';
    case 'ipamConfig':
      return 'IPAM config list';
  }
}

/**
 * The error identifier for a key: `{kind, name, namespace?}` for resources (so resource errors
 * read `IPPool(name)` like the client's), {@link describeKey} for the IPAM keys.
 * `describeIdentifier(keyIdentifier(key)) === describeKey(key)` always holds.
 */
export function keyIdentifier(key: Key): ErrorIdentifier {
  if (key.type === 'resource') {
    return key.namespace !== undefined
      ? { kind: key.kind, name: key.name, namespace: key.namespace }
      : { kind: key.kind, name: key.name };
  }
  return describeKey(key);
}

/** The IP version of a canonical CIDR string (no validation). */
export function ipVersionOf(cidr: string): 4 | 6 {
  return cidr.includes(':') ? 6 : 4;
}

function checkCidr(cidr: unknown, field: string, errors: FieldError[]): void {
  if (typeof cidr !== 'string') {
    errors.push({ name: field, value: cidr, reason: 'must be a CIDR string' });
    return;
  }
  const parsed = parseCidr(cidr);
  if (!parsed.ok) errors.push({ name: field, value: cidr, reason: parsed.reason });
  else if (!parsed.masked) errors.push({ name: field, value: cidr, reason: `host bits are set; the block network is ${parsed.canonical}` });
  else if (parsed.canonical !== cidr) errors.push({ name: field, value: cidr, reason: `must be written in canonical form ${parsed.canonical}` });
}

function checkName(value: unknown, field: string, errors: FieldError[], what: string): void {
  if (typeof value !== 'string' || value.length === 0) errors.push({ name: field, value, reason: `${what} must be a non-empty string` });
}

function checkAffinityType(value: unknown, errors: FieldError[], field = 'affinityType'): void {
  if (value !== undefined && value !== 'host' && value !== 'virtual') {
    errors.push({ name: field, value, reason: "must be 'host' or 'virtual'" });
  }
}

/**
 * The problems with a key (empty when valid): unknown key type or kind, a namespaced kind without
 * a namespace or a cluster-scoped kind with one, an empty name, host or handle id, a namespace
 * containing `/`, a CIDR that does not parse, has host bits set or is not in canonical form.
 */
export function keyProblems(key: unknown): FieldError[] {
  const errors: FieldError[] = [];
  if (typeof key !== 'object' || key === null) {
    return [{ name: 'key', value: key, reason: 'must be a key object' }];
  }
  const k = key as Record<string, unknown>;
  switch (k.type) {
    case 'resource': {
      if (!isKnownKind(k.kind)) {
        errors.push({ name: 'key.kind', value: k.kind, reason: 'unknown resource kind' });
      } else if (KINDS[k.kind].namespaced) {
        if (typeof k.namespace !== 'string' || k.namespace.length === 0) {
          errors.push({ name: 'key.namespace', value: k.namespace, reason: `${k.kind} is namespaced: a namespace is required` });
        } else if (k.namespace.includes('/')) {
          errors.push({ name: 'key.namespace', value: k.namespace, reason: 'must not contain "/"' });
        }
      } else if (k.namespace !== undefined) {
        errors.push({ name: 'key.namespace', value: k.namespace, reason: `${k.kind} is cluster-scoped: no namespace allowed` });
      }
      checkName(k.name, 'key.name', errors, 'the name');
      break;
    }
    case 'block':
      checkCidr(k.cidr, 'key.cidr', errors);
      break;
    case 'blockAffinity':
      checkName(k.host, 'key.host', errors, 'the host');
      checkCidr(k.cidr, 'key.cidr', errors);
      checkAffinityType(k.affinityType, errors, 'key.affinityType');
      break;
    case 'handle':
      checkName(k.handleId, 'key.handleId', errors, 'the handle id');
      break;
    case 'ipamConfig':
      break;
    default:
      errors.push({ name: 'key.type', value: k.type, reason: 'unknown key type' });
  }
  return errors;
}

/** Throws a `ValidationError` listing every problem of `key` (see {@link keyProblems}). */
export function validateKey(key: Key): void {
  const problems = keyProblems(key);
  if (problems.length > 0) {
    const identifier = typeof key === 'object' && key !== null && problems[0]!.name !== 'key.type' ? safeDescribe(key) : undefined;
    throw new ValidationError(problems, identifier === undefined ? {} : { identifier });
  }
}

function safeDescribe(key: Key): string | undefined {
  try {
    return describeKey(key);
  } catch {
    return undefined;
  }
}

/** Throws a `ValidationError` when a list request is malformed (unknown kind, namespace on a cluster-scoped kind, bad ipVersion...). */
export function validateList(list: ListInterface): void {
  const errors: FieldError[] = [];
  if (typeof list !== 'object' || list === null) {
    throw new ValidationError([{ name: 'list', value: list, reason: 'must be a list object' }]);
  }
  const l = list as Record<string, unknown>;
  const checkIpVersion = () => {
    if (l.ipVersion !== undefined && l.ipVersion !== 4 && l.ipVersion !== 6) {
      errors.push({ name: 'list.ipVersion', value: l.ipVersion, reason: 'must be 4 or 6' });
    }
  };
  switch (l.type) {
    case 'resource':
      if (!isKnownKind(l.kind)) errors.push({ name: 'list.kind', value: l.kind, reason: 'unknown resource kind' });
      else if (!KINDS[l.kind].namespaced && l.namespace !== undefined) {
        errors.push({ name: 'list.namespace', value: l.namespace, reason: `${l.kind} is cluster-scoped: no namespace allowed` });
      }
      if (l.namespace !== undefined && (typeof l.namespace !== 'string' || l.namespace.length === 0)) {
        errors.push({ name: 'list.namespace', value: l.namespace, reason: 'must be a non-empty string when given' });
      }
      if (l.name !== undefined && (typeof l.name !== 'string' || l.name.length === 0)) {
        errors.push({ name: 'list.name', value: l.name, reason: 'must be a non-empty string when given' });
      }
      break;
    case 'block':
      checkIpVersion();
      break;
    case 'blockAffinity':
      checkIpVersion();
      if (l.host !== undefined && (typeof l.host !== 'string' || l.host.length === 0)) {
        errors.push({ name: 'list.host', value: l.host, reason: 'must be a non-empty string when given' });
      }
      checkAffinityType(l.affinityType, errors, 'list.affinityType');
      break;
    case 'handle':
    case 'ipamConfig':
      break;
    default:
      errors.push({ name: 'list.type', value: l.type, reason: 'unknown list type' });
  }
  if (errors.length > 0) throw new ValidationError(errors);
}

/**
 * True when `key` is one of the items `list` selects. Filters: resource kind (+ namespace, + exact
 * name); block IP version; affinity host, IP version and type (an omitted filter matches all).
 */
export function keyMatchesList(key: Key, list: ListInterface): boolean {
  if (key.type !== list.type) return false;
  switch (list.type) {
    case 'resource': {
      const k = key as Extract<Key, { type: 'resource' }>;
      return (
        k.kind === list.kind &&
        (list.namespace === undefined || k.namespace === list.namespace) &&
        (list.name === undefined || k.name === list.name)
      );
    }
    case 'block':
      return list.ipVersion === undefined || ipVersionOf((key as Extract<Key, { type: 'block' }>).cidr) === list.ipVersion;
    case 'blockAffinity': {
      const k = key as Extract<Key, { type: 'blockAffinity' }>;
      return (
        (list.host === undefined || k.host === list.host) &&
        (list.ipVersion === undefined || ipVersionOf(k.cidr) === list.ipVersion) &&
        (list.affinityType === undefined || (k.affinityType ?? 'host') === list.affinityType)
      );
    }
    case 'handle':
    case 'ipamConfig':
      return true;
  }
}

/**
 * A copy of `key` with only its own fields, defaults made explicit where they change nothing
 * (an affinity's `affinityType` is set to `host` when omitted), so stored keys compare equal.
 */
export function normalizeKey<K extends Key>(key: K): K {
  switch (key.type) {
    case 'resource':
      return (key.namespace !== undefined
        ? { type: 'resource', kind: key.kind, namespace: key.namespace, name: key.name }
        : { type: 'resource', kind: key.kind, name: key.name }) as K;
    case 'block':
      return { type: 'block', cidr: key.cidr } as K;
    case 'blockAffinity':
      return { type: 'blockAffinity', host: key.host, cidr: key.cidr, affinityType: (key.affinityType ?? 'host') as AffinityType } as K;
    case 'handle':
      return { type: 'handle', handleId: key.handleId } as K;
    case 'ipamConfig':
      return { type: 'ipamConfig' } as K;
  }
  return key;
}
