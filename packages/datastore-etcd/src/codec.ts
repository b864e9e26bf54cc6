/**
 * Values as Calico stores them in etcd: v3 resources as the compact JSON of the object in Go field
 * order, and the IPAM model objects (block, affinity, handle, config) in their own JSON shapes
 * (reference: datastore.md §6.2 and examples E1-E9).
 */
import { API_VERSION, DatastoreError, ParseError, ValidationError, type FieldError, type ObjectMeta, type OwnerReference, type V3Object } from '@libcalico-ts/api';
import type {
  AllocationAttribute,
  AllocationBlock,
  BlockAffinity,
  BlockAffinityState,
  IPAMConfig,
  IPAMHandle,
  Key,
  ResourceKey,
  ValueOf,
} from '@libcalico-ts/datastore';
import { compareGoKeys, encodeGoJson, goNumber, goString, goStringMap, parseJsonLossless } from './json.js';

/** The annotation under which Calico keeps a policy's v3 name in etcd (libcalico-go etcdv3 backend). */
export const POLICY_NAME_ANNOTATION = 'projectcalico.org/metadata';

const POLICY_KINDS: ReadonlySet<string> = new Set(['NetworkPolicy', 'GlobalNetworkPolicy', 'StagedNetworkPolicy', 'StagedGlobalNetworkPolicy']);

const UINT64_MAX = (1n << 64n) - 1n;

function fail(fields: FieldError[]): never {
  throw new ValidationError(fields);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// v3 resources

/** ObjectMeta fields in Go struct order (k8s.io/apimachinery ObjectMeta). */
const META_ORDER = [
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
] as const;
const META_KNOWN: ReadonlySet<string> = new Set(META_ORDER);
const OWNER_ORDER = ['apiVersion', 'kind', 'name', 'uid', 'controller', 'blockOwnerDeletion'] as const;

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === 0 || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (isRecord(value)) return Object.keys(value).length === 0;
  return false;
}

function encodeOwnerReference(ref: OwnerReference, field: string): string {
  if (!isRecord(ref)) fail([{ name: field, value: ref, reason: 'must be an object' }]);
  const parts: string[] = [];
  for (const name of OWNER_ORDER) {
    const v = (ref as unknown as Record<string, unknown>)[name];
    // apiVersion, kind, name, uid are always written by Go; the two bools are pointers (omitempty).
    if (name === 'controller' || name === 'blockOwnerDeletion') {
      if (v === undefined || v === null) continue;
      if (typeof v !== 'boolean') fail([{ name: `${field}.${name}`, value: v, reason: 'must be a boolean' }]);
      parts.push(`${goString(name)}:${v}`);
    } else {
      if (v !== undefined && typeof v !== 'string') fail([{ name: `${field}.${name}`, value: v, reason: 'must be a string' }]);
      parts.push(`${goString(name)}:${goString((v as string | undefined) ?? '')}`);
    }
  }
  return `{${parts.join(',')}}`;
}

function encodeMetadata(meta: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const name of META_ORDER) {
    if (name === 'resourceVersion' || name === 'selfLink') continue; // never stored: the mod revision is the version
    const v = meta[name];
    const field = `metadata.${name}`;
    switch (name) {
      case 'creationTimestamp':
        // A struct in Go: always written, null when unset.
        if (v !== undefined && v !== null && typeof v !== 'string') fail([{ name: field, value: v, reason: 'must be an RFC 3339 string or null' }]);
        parts.push(`"creationTimestamp":${v === undefined || v === null ? 'null' : goString(v as string)}`);
        continue;
      case 'labels':
      case 'annotations':
        if (v === undefined || v === null) continue;
        if (!isRecord(v)) fail([{ name: field, value: v, reason: 'must be a map of strings' }]);
        if (Object.keys(v).length === 0) continue;
        parts.push(`${goString(name)}:${goStringMap(v as Record<string, string>, field)}`);
        continue;
      case 'ownerReferences':
        if (v === undefined || v === null) continue;
        if (!Array.isArray(v)) fail([{ name: field, value: v, reason: 'must be a list' }]);
        if (v.length === 0) continue;
        parts.push(`"ownerReferences":[${v.map((ref, i) => encodeOwnerReference(ref as OwnerReference, `${field}[${i}]`)).join(',')}]`);
        continue;
      default:
        if (isEmpty(v)) continue;
        if (name === 'generation' || name === 'deletionGracePeriodSeconds') {
          if (typeof v !== 'number' || !Number.isInteger(v)) fail([{ name: field, value: v, reason: 'must be an integer' }]);
        } else if (name !== 'finalizers' && name !== 'managedFields' && typeof v !== 'string') {
          fail([{ name: field, value: v, reason: 'must be a string' }]);
        }
        parts.push(`${goString(name)}:${encodeGoJson(v, field)}`);
    }
  }
  // Fields this SDK does not know are kept (after the known ones) rather than silently dropped.
  for (const [name, v] of Object.entries(meta)) {
    if (META_KNOWN.has(name) || v === undefined) continue;
    parts.push(`${goString(name)}:${encodeGoJson(v, `metadata.${name}`)}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * Encodes a v3 resource as Calico's etcd backend writes it: `kind`, `apiVersion` (set from the
 * key), `metadata` in Go field order without `resourceVersion`/`selfLink` (labels and annotations
 * with sorted keys, `creationTimestamp` always present), `spec` (`{}` when absent) and `status`
 * as given. Policies get the `projectcalico.org/metadata` name annotation; a `BlockAffinity`
 * resource stores `spec.deleted` as the string Calico's internal type uses.
 *
 * @throws ValidationError when the value is not an object, its name or namespace contradicts the
 *   key, or a metadata field has the wrong type.
 */
export function encodeResource(key: ResourceKey, value: V3Object): string {
  if (!isRecord(value)) fail([{ name: 'value', value, reason: 'must be a v3 object' }]);
  const metadata: Record<string, unknown> = value.metadata === undefined ? {} : (value.metadata as unknown as Record<string, unknown>);
  if (!isRecord(metadata)) fail([{ name: 'metadata', value: value.metadata, reason: 'must be an object' }]);
  const isPolicy = POLICY_KINDS.has(key.kind);
  const meta: Record<string, unknown> = { ...metadata };
  // Policies may be stored under a legacy `default.` key while the v3 name lacks the prefix: the
  // annotation carries the v3 name, so only other kinds must match the key exactly.
  if (meta.name === undefined || meta.name === '') meta.name = key.name;
  else if (!isPolicy && meta.name !== key.name) {
    fail([{ name: 'metadata.name', value: meta.name, reason: `does not match the key name "${key.name}"` }]);
  }
  if (key.namespace !== undefined) {
    if (meta.namespace === undefined || meta.namespace === '') meta.namespace = key.namespace;
    else if (meta.namespace !== key.namespace) {
      fail([{ name: 'metadata.namespace', value: meta.namespace, reason: `does not match the key namespace "${key.namespace}"` }]);
    }
  } else if (meta.namespace !== undefined && meta.namespace !== '') {
    fail([{ name: 'metadata.namespace', value: meta.namespace, reason: `${key.kind} is cluster-scoped` }]);
  }
  if (isPolicy) {
    const annotations = isRecord(meta.annotations) ? { ...(meta.annotations as Record<string, string>) } : {};
    annotations[POLICY_NAME_ANNOTATION] = `{"name":${goString(String(meta.name))}}`;
    meta.annotations = annotations;
  }
  let spec: unknown = value.spec;
  if (spec === undefined || spec === null) spec = {};
  if (key.kind === 'BlockAffinity' && isRecord(spec) && typeof spec.deleted === 'boolean') {
    spec = { ...spec, deleted: String(spec.deleted) };
  }
  const parts = [`"kind":${goString(key.kind)}`, `"apiVersion":${goString(API_VERSION)}`, `"metadata":${encodeMetadata(meta)}`, `"spec":${encodeGoJson(spec, 'spec')}`];
  if (value.status !== undefined) parts.push(`"status":${encodeGoJson(value.status, 'status')}`);
  for (const [name, v] of Object.entries(value)) {
    if (name === 'kind' || name === 'apiVersion' || name === 'metadata' || name === 'spec' || name === 'status' || v === undefined) continue;
    parts.push(`${goString(name)}:${encodeGoJson(v, name)}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * Decodes a stored v3 resource. `kind`/`apiVersion` come from the key; `resourceVersion` is not
 * set (it is the pair's `revision`); a null `creationTimestamp` is left out. Policies take their
 * name from the `projectcalico.org/metadata` annotation (which is removed), or, without it, lose a
 * legacy `default.` prefix when in the default tier. A `BlockAffinity` resource's string
 * `spec.deleted` becomes a boolean.
 *
 * @throws ParseError for text that is not JSON; DatastoreError for JSON that is not a v3 object.
 */
export function decodeResource(key: ResourceKey, text: string): V3Object {
  const parsed: unknown = JSON.parse(text);
  if (!isRecord(parsed)) throw new DatastoreError('stored value is not a JSON object');
  const metadata = parsed.metadata === undefined || parsed.metadata === null ? {} : parsed.metadata;
  if (!isRecord(metadata)) throw new DatastoreError('stored value has a metadata that is not an object');
  const meta = metadata as Record<string, unknown>;
  delete meta.resourceVersion;
  delete meta.selfLink;
  if (meta.creationTimestamp === null) delete meta.creationTimestamp;
  if (POLICY_KINDS.has(key.kind)) {
    const annotations = isRecord(meta.annotations) ? (meta.annotations as Record<string, string>) : undefined;
    const stored = annotations?.[POLICY_NAME_ANNOTATION];
    if (stored !== undefined && stored !== '') {
      let name: unknown;
      try {
        name = (JSON.parse(stored) as { name?: unknown }).name;
      } catch (cause) {
        throw new DatastoreError(`annotation ${POLICY_NAME_ANNOTATION} holds invalid JSON`, { cause });
      }
      delete annotations![POLICY_NAME_ANNOTATION];
      if (Object.keys(annotations!).length === 0) delete meta.annotations;
      meta.name = typeof name === 'string' ? name : '';
    } else {
      const tier = isRecord(parsed.spec) ? parsed.spec.tier : undefined;
      if ((tier === undefined || tier === '' || tier === 'default') && typeof meta.name === 'string' && meta.name.startsWith('default.')) {
        meta.name = meta.name.slice('default.'.length);
      }
    }
  }
  if (key.kind === 'BlockAffinity' && isRecord(parsed.spec) && typeof parsed.spec.deleted === 'string') {
    const deleted = parsed.spec.deleted;
    if (deleted !== 'true' && deleted !== 'false') throw new DatastoreError(`BlockAffinity spec.deleted is "${deleted}", expected "true" or "false"`);
    parsed.spec.deleted = deleted === 'true';
  }
  const out: Record<string, unknown> = { kind: key.kind, apiVersion: API_VERSION, metadata: meta };
  for (const [name, v] of Object.entries(parsed)) {
    if (name !== 'kind' && name !== 'apiVersion' && name !== 'metadata') out[name] = v;
  }
  return out as unknown as V3Object;
}

// ---------------------------------------------------------------------------------------------
// IPAM model values

function checkUint64(value: unknown, field: string): bigint {
  let n: bigint;
  if (typeof value === 'bigint') n = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) n = BigInt(value);
  else return fail([{ name: field, value, reason: 'must be a uint64 (bigint)' }]);
  if (n < 0n || n > UINT64_MAX) fail([{ name: field, value, reason: 'must be between 0 and 2^64-1' }]);
  return n;
}

function checkInt(value: unknown, field: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail([{ name: field, value, reason: min === 0 ? 'must be a non-negative integer' : `must be an integer >= ${min}` }]);
  }
  return value;
}

function checkBool(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') fail([{ name: field, value, reason: 'must be a boolean' }]);
  return value;
}

function checkString(value: unknown, field: string): string {
  if (typeof value !== 'string') fail([{ name: field, value, reason: 'must be a string' }]);
  return value;
}

function encodeAttribute(attr: AllocationAttribute, field: string): string {
  if (!isRecord(attr)) fail([{ name: field, value: attr, reason: 'must be an object' }]);
  const parts: string[] = [];
  // Go: handle_id and secondary are omitempty (nil pointer / empty map).
  if (attr.handleId !== null && attr.handleId !== undefined) parts.push(`"handle_id":${goString(checkString(attr.handleId, `${field}.handleId`))}`);
  if (attr.secondary !== null && attr.secondary !== undefined) {
    if (!isRecord(attr.secondary)) fail([{ name: `${field}.secondary`, value: attr.secondary, reason: 'must be a map of strings' }]);
    if (Object.keys(attr.secondary).length > 0) parts.push(`"secondary":${goStringMap(attr.secondary, `${field}.secondary`)}`);
  }
  if (attr.alternateOwnerAttrs !== undefined) {
    if (!isRecord(attr.alternateOwnerAttrs)) fail([{ name: `${field}.alternateOwnerAttrs`, value: attr.alternateOwnerAttrs, reason: 'must be a map of strings' }]);
    if (Object.keys(attr.alternateOwnerAttrs).length > 0) {
      parts.push(`"alternateOwnerAttrs":${goStringMap(attr.alternateOwnerAttrs, `${field}.alternateOwnerAttrs`)}`);
    }
  }
  if (attr.releasedAt !== undefined) parts.push(`"releasedAt":${goString(checkString(attr.releasedAt, `${field}.releasedAt`))}`);
  return `{${parts.join(',')}}`;
}

/**
 * Encodes an allocation block in the etcd model shape (E4): `cidr`, `affinity` (always, null when
 * not affine), `affinity_claim_time` (only when set), `allocations`, `unallocated`, `attributes`
 * (`handle_id`, `secondary` with sorted keys, ...), `sequenceNumber` and the
 * `sequenceNumberForAllocation` map (sorted keys) as exact uint64 digits, `deleted`.
 *
 * @throws ValidationError naming the first malformed field.
 */
export function encodeBlock(block: AllocationBlock): string {
  if (!isRecord(block)) fail([{ name: 'value', value: block, reason: 'must be an allocation block' }]);
  const cidr = checkString(block.cidr, 'value.cidr');
  if (block.affinity !== null && typeof block.affinity !== 'string') fail([{ name: 'value.affinity', value: block.affinity, reason: 'must be a string or null' }]);
  if (!Array.isArray(block.allocations)) fail([{ name: 'value.allocations', value: block.allocations, reason: 'must be a list' }]);
  if (!Array.isArray(block.unallocated)) fail([{ name: 'value.unallocated', value: block.unallocated, reason: 'must be a list' }]);
  if (!Array.isArray(block.attributes)) fail([{ name: 'value.attributes', value: block.attributes, reason: 'must be a list' }]);
  const allocations = block.allocations.map((a, i) => (a === null || a === undefined ? 'null' : String(checkInt(a, `value.allocations[${i}]`))));
  const unallocated = block.unallocated.map((u, i) => String(checkInt(u, `value.unallocated[${i}]`)));
  const attributes = block.attributes.map((a, i) => encodeAttribute(a, `value.attributes[${i}]`));
  const sequenceNumber = checkUint64(block.sequenceNumber, 'value.sequenceNumber');
  const seqMap = block.sequenceNumberForAllocation ?? {};
  if (!isRecord(seqMap)) fail([{ name: 'value.sequenceNumberForAllocation', value: seqMap, reason: 'must be a map' }]);
  const seqParts = Object.keys(seqMap)
    .sort(compareGoKeys)
    .map((ordinal) => `${goString(ordinal)}:${goNumber(checkUint64(seqMap[ordinal], `value.sequenceNumberForAllocation.${ordinal}`), 'value')}`);
  const deleted = block.deleted === undefined ? false : checkBool(block.deleted, 'value.deleted');
  let out = `{"cidr":${goString(cidr)},"affinity":${block.affinity === null ? 'null' : goString(block.affinity)}`;
  if (block.affinityClaimTime !== undefined && block.affinityClaimTime !== null) {
    out += `,"affinity_claim_time":${goString(checkString(block.affinityClaimTime, 'value.affinityClaimTime'))}`;
  }
  out += `,"allocations":[${allocations.join(',')}],"unallocated":[${unallocated.join(',')}],"attributes":[${attributes.join(',')}]`;
  out += `,"sequenceNumber":${sequenceNumber},"sequenceNumberForAllocation":{${seqParts.join(',')}},"deleted":${deleted}}`;
  return out;
}

function readStringMap(value: unknown, field: string): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (!isRecord(value)) throw new DatastoreError(`${field} is not an object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new DatastoreError(`${field}.${k} is not a string`);
    out[k] = v;
  }
  return out;
}

function readUint64(value: unknown, field: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw new DatastoreError(`${field} is not an unsigned integer`);
}

/**
 * Decodes a stored allocation block, keeping sequence numbers exact. Accepts the legacy
 * `hostAffinity` field (meaning `affinity: "host:<name>"`) and null lists/maps.
 *
 * @throws ParseError for text that is not JSON; DatastoreError for a malformed block.
 */
export function decodeBlock(text: string, keyCidr?: string): AllocationBlock {
  const raw = parseJsonLossless(text);
  if (!isRecord(raw)) throw new DatastoreError('stored block is not a JSON object');
  const cidr = raw.cidr ?? keyCidr;
  if (typeof cidr !== 'string') throw new DatastoreError('stored block has no cidr');
  let affinity: string | null = null;
  if (typeof raw.affinity === 'string') affinity = raw.affinity;
  else if (raw.affinity !== undefined && raw.affinity !== null) throw new DatastoreError('block affinity is not a string');
  else if (typeof raw.hostAffinity === 'string' && raw.hostAffinity !== '') affinity = `host:${raw.hostAffinity}`;
  const list = (value: unknown, field: string): unknown[] => {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw new DatastoreError(`block ${field} is not a list`);
    return value;
  };
  const allocations = list(raw.allocations, 'allocations').map((a, i) => {
    if (a === null) return null;
    if (typeof a !== 'number' || !Number.isInteger(a) || a < 0) throw new DatastoreError(`block allocations[${i}] is not an attribute index`);
    return a;
  });
  const unallocated = list(raw.unallocated, 'unallocated').map((u, i) => {
    if (typeof u !== 'number' || !Number.isInteger(u) || u < 0) throw new DatastoreError(`block unallocated[${i}] is not an ordinal`);
    return u;
  });
  const attributes = list(raw.attributes, 'attributes').map((a, i): AllocationAttribute => {
    if (!isRecord(a)) throw new DatastoreError(`block attributes[${i}] is not an object`);
    if (a.handle_id !== undefined && a.handle_id !== null && typeof a.handle_id !== 'string') {
      throw new DatastoreError(`block attributes[${i}].handle_id is not a string`);
    }
    const attr: AllocationAttribute = {
      handleId: (a.handle_id as string | null | undefined) ?? null,
      secondary: readStringMap(a.secondary, `attributes[${i}].secondary`),
    };
    const alternate = readStringMap(a.alternateOwnerAttrs, `attributes[${i}].alternateOwnerAttrs`);
    if (alternate !== null) attr.alternateOwnerAttrs = alternate;
    if (typeof a.releasedAt === 'string') attr.releasedAt = a.releasedAt;
    return attr;
  });
  const seqRaw = raw.sequenceNumberForAllocation;
  const sequenceNumberForAllocation: Record<string, bigint> = {};
  if (seqRaw !== undefined && seqRaw !== null) {
    if (!isRecord(seqRaw)) throw new DatastoreError('block sequenceNumberForAllocation is not an object');
    for (const [ordinal, n] of Object.entries(seqRaw)) {
      sequenceNumberForAllocation[ordinal] = readUint64(n, `sequenceNumberForAllocation.${ordinal}`);
    }
  }
  const block: AllocationBlock = {
    cidr,
    affinity,
    allocations,
    unallocated,
    attributes,
    sequenceNumber: raw.sequenceNumber === undefined || raw.sequenceNumber === null ? 0n : readUint64(raw.sequenceNumber, 'sequenceNumber'),
    sequenceNumberForAllocation,
    deleted: raw.deleted === true,
  };
  if (typeof raw.affinity_claim_time === 'string') block.affinityClaimTime = raw.affinity_claim_time;
  return block;
}

const AFFINITY_STATES: ReadonlySet<string> = new Set(['confirmed', 'pending', 'pendingDeletion', '']);

/** `{"state":"confirmed","deleted":false}` (E3). @throws ValidationError for an unknown state. */
export function encodeAffinity(value: BlockAffinity): string {
  if (!isRecord(value)) fail([{ name: 'value', value, reason: 'must be a block affinity' }]);
  const state = checkString(value.state, 'value.state');
  if (!AFFINITY_STATES.has(state)) fail([{ name: 'value.state', value: state, reason: "must be 'confirmed', 'pending', 'pendingDeletion' or ''" }]);
  const deleted = value.deleted === undefined ? false : checkBool(value.deleted, 'value.deleted');
  return `{"state":${goString(state)},"deleted":${deleted}}`;
}

/** Decodes an affinity; an empty value (legacy rows) is state `''` (confirmed). */
export function decodeAffinity(text: string): BlockAffinity {
  if (text.trim() === '') return { state: '', deleted: false };
  const raw = parseJsonLossless(text);
  if (!isRecord(raw)) throw new DatastoreError('stored affinity is not a JSON object');
  const state = raw.state ?? '';
  if (typeof state !== 'string') throw new DatastoreError('affinity state is not a string');
  return { state: state as BlockAffinityState, deleted: raw.deleted === true };
}

/** `{"block":{"<cidr>":<count>,...},"deleted":false}` with sorted block keys (E5). */
export function encodeHandle(value: IPAMHandle): string {
  if (!isRecord(value)) fail([{ name: 'value', value, reason: 'must be an IPAM handle' }]);
  if (!isRecord(value.block)) fail([{ name: 'value.block', value: value.block, reason: 'must be a map of block CIDR to count' }]);
  const parts = Object.keys(value.block)
    .sort(compareGoKeys)
    .map((cidr) => `${goString(cidr)}:${checkInt(value.block[cidr], `value.block.${cidr}`)}`);
  const deleted = value.deleted === undefined ? false : checkBool(value.deleted, 'value.deleted');
  return `{"block":{${parts.join(',')}},"deleted":${deleted}}`;
}

/** Decodes a handle value (the id is in the key). */
export function decodeHandle(text: string): IPAMHandle {
  const raw = parseJsonLossless(text);
  if (!isRecord(raw)) throw new DatastoreError('stored handle is not a JSON object');
  const block: Record<string, number> = {};
  if (raw.block !== undefined && raw.block !== null) {
    if (!isRecord(raw.block)) throw new DatastoreError('handle block is not an object');
    for (const [cidr, count] of Object.entries(raw.block)) {
      if (typeof count !== 'number' || !Number.isInteger(count)) throw new DatastoreError(`handle block.${cidr} is not an integer`);
      block[cidr] = count;
    }
  }
  return { block, deleted: raw.deleted === true };
}

/**
 * The IPAM config in Calico's etcd form (E6): `strict_affinity`, `auto_allocate_blocks`,
 * `maxBlocksPerHost`, `kubeVirtVMAddressPersistence`, `ipCooldownSeconds`, each omitted when
 * false/zero/unset.
 */
export function encodeIPAMConfig(value: IPAMConfig): string {
  if (!isRecord(value)) fail([{ name: 'value', value, reason: 'must be an IPAM config' }]);
  const parts: string[] = [];
  if (checkBool(value.strictAffinity ?? false, 'value.strictAffinity')) parts.push('"strict_affinity":true');
  if (checkBool(value.autoAllocateBlocks ?? false, 'value.autoAllocateBlocks')) parts.push('"auto_allocate_blocks":true');
  const max = checkInt(value.maxBlocksPerHost ?? 0, 'value.maxBlocksPerHost');
  if (max !== 0) parts.push(`"maxBlocksPerHost":${max}`);
  if (value.kubeVirtVMAddressPersistence !== undefined) {
    const p = value.kubeVirtVMAddressPersistence;
    if (p !== 'Enabled' && p !== 'Disabled') fail([{ name: 'value.kubeVirtVMAddressPersistence', value: p, reason: "must be 'Enabled' or 'Disabled'" }]);
    parts.push(`"kubeVirtVMAddressPersistence":${goString(p)}`);
  }
  const cooldown = checkInt(value.ipCooldownSeconds ?? 0, 'value.ipCooldownSeconds');
  if (cooldown !== 0) parts.push(`"ipCooldownSeconds":${cooldown}`);
  return `{${parts.join(',')}}`;
}

/** Decodes the IPAM config; a missing field is false/zero (so `{}` means auto-allocate off). */
export function decodeIPAMConfig(text: string): IPAMConfig {
  const raw = parseJsonLossless(text);
  if (!isRecord(raw)) throw new DatastoreError('stored IPAM config is not a JSON object');
  const int = (v: unknown, field: string): number => {
    if (v === undefined || v === null) return 0;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new DatastoreError(`IPAM config ${field} is not an integer`);
    return v;
  };
  const config: IPAMConfig = {
    strictAffinity: raw.strict_affinity === true,
    autoAllocateBlocks: raw.auto_allocate_blocks === true,
    maxBlocksPerHost: int(raw.maxBlocksPerHost, 'maxBlocksPerHost'),
  };
  const persistence = raw.kubeVirtVMAddressPersistence;
  if (persistence === 'Enabled' || persistence === 'Disabled') config.kubeVirtVMAddressPersistence = persistence;
  const cooldown = int(raw.ipCooldownSeconds, 'ipCooldownSeconds');
  if (cooldown !== 0) config.ipCooldownSeconds = cooldown;
  return config;
}

// ---------------------------------------------------------------------------------------------
// Dispatch

/**
 * Encodes `value` for `key` exactly as Calico stores it in etcd.
 *
 * @throws ValidationError when the value does not have the shape of its key type.
 * @example
 * ```ts
 * encodeEtcdValue({ type: 'ipamConfig' }, { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 });
 * // '{"auto_allocate_blocks":true}'
 * ```
 */
export function encodeEtcdValue<K extends Key>(key: K, value: ValueOf<K>): string {
  switch (key.type) {
    case 'resource':
      return encodeResource(key, value as V3Object);
    case 'block':
      return encodeBlock(value as AllocationBlock);
    case 'blockAffinity':
      return encodeAffinity(value as BlockAffinity);
    case 'handle':
      return encodeHandle(value as IPAMHandle);
    case 'ipamConfig':
      return encodeIPAMConfig(value as IPAMConfig);
    default:
      return fail([{ name: 'key.type', value: (key as { type?: unknown }).type, reason: 'unknown key type' }]);
  }
}

/**
 * Decodes the stored text under `key`.
 *
 * @throws DatastoreError (with the underlying ParseError as `cause`) when the text is not a valid
 *   value for the key type.
 */
export function decodeEtcdValue<K extends Key>(key: K, text: string): ValueOf<K> {
  try {
    switch (key.type) {
      case 'resource':
        return decodeResource(key, text) as ValueOf<K>;
      case 'block':
        return decodeBlock(text, key.cidr) as ValueOf<K>;
      case 'blockAffinity':
        return decodeAffinity(text) as ValueOf<K>;
      case 'handle':
        return decodeHandle(text) as ValueOf<K>;
      case 'ipamConfig':
        return decodeIPAMConfig(text) as ValueOf<K>;
      default:
        throw new DatastoreError(`unknown key type ${(key as { type?: unknown }).type}`);
    }
  } catch (error) {
    const reason = error instanceof SyntaxError || ParseError.isInstance(error) ? `invalid JSON (${(error as Error).message})` : (error as Error).message;
    throw new DatastoreError(`cannot decode ${key.type === 'resource' ? `a ${key.kind}` : `an IPAM ${key.type}`} value: ${reason}`, { cause: error });
  }
}
