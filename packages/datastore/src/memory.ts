/**
 * The in-memory datastore: the whole contract (revisions, CAS, watch with history and compaction,
 * atomic transactions) in plain TypeScript, with no Node built-ins, so it runs in a browser.
 * It is deterministic: no clock and no randomness take part in its semantics.
 */
import {
  API_VERSION,
  DatastoreError,
  KINDS,
  OperationNotSupportedError,
  ParseError,
  ResourceExistsError,
  ResourceNotFoundError,
  UpdateConflictError,
  ValidationError,
  WatchTooOldError,
  type FieldError,
} from '@libcalico-ts/api';
import type {
  AllocationAttribute,
  AllocationBlock,
  BlockAffinity,
  BlockKey,
  Datastore,
  DatastoreCapabilities,
  IPAMConfig,
  IPAMHandle,
  Key,
  KeyOfList,
  KVList,
  KVPair,
  ListInterface,
  ListCondition,
  TxnCondition,
  TxnOperation,
  TxnOptions,
  TxnResult,
  ValueOf,
  Watch,
  WatchEvent,
  WatchOptions,
} from './contract.js';
import { parseCidr } from './cidr.js';
import { describeKey as describe, describeList, ipVersionOf, keyId, keyIdentifier, keyMatchesList, normalizeKey, validateKey, validateList } from './keys.js';
import { cloneData, clonePlain, decodeBigintJson, encodeBigintJson } from './values.js';

/** The write about to happen, as passed to {@link MemoryDatastoreOptions.beforeWrite}. */
export interface WriteOperationInfo {
  /** The datastore verb: `createKV` -> `create`, `updateKV` -> `update`, `applyKV` -> `apply`, `deleteKV` -> `delete`, `transact` -> `txn`. */
  kind: 'create' | 'update' | 'apply' | 'delete' | 'txn';
  /** The keys written (for a transaction: the keys of its operations, in order). */
  keys: Key[];
}

/** Options of {@link createMemoryDatastore}. */
export interface MemoryDatastoreOptions {
  /**
   * How many change events are kept for watches that resume from a revision (default 10,000).
   * Older events are dropped as if compacted: a watch from before them throws `WatchTooOldError`.
   */
  historyLimit?: number;
  /**
   * Called (and awaited) before every write, after the arguments were validated and before the
   * datastore is checked or changed. Throwing (or rejecting) aborts the write with nothing written,
   * and the error reaches the caller unchanged. Lets test kits inject faults and races.
   */
  beforeWrite?: (operation: WriteOperationInfo) => void | Promise<void>;
  /** Start from a snapshot made by {@link MemoryDatastore.snapshot} (throws `ParseError` when malformed). */
  snapshot?: string;
  /**
   * Whether `transact` commits several keys atomically (default true). Set false to behave like the
   * Kubernetes datastore: a transaction touching more than one key throws `OperationNotSupportedError`.
   */
  atomicTransactions?: boolean;
}

/** The in-memory datastore: the {@link Datastore} contract plus test and tooling helpers. */
export interface MemoryDatastore extends Datastore {
  readonly datastoreType: 'memory';
  /** The revision of the last change (`"0"` for a fresh datastore). */
  currentRevision(): string;
  /**
   * Forget change history up to and including `revision` (default: the current revision), as etcd
   * compaction does. Later watches from a revision below it throw `WatchTooOldError`; running
   * watches are not affected. Throws `ValidationError` for a malformed or future revision.
   */
  compact(revision?: string): void;
  /** The number of stored items. */
  readonly size: number;
  /**
   * The whole content as JSON (items with their revisions, and the current revision). Bigints
   * (block sequence numbers) are kept exactly. Change history is not included.
   */
  snapshot(): string;
  /**
   * Replace the whole content by a snapshot. The revision counter never goes backwards (it becomes
   * the larger of the current and the snapshot's revision) and history is compacted up to it, so
   * running watches end with `WatchTooOldError` and must relist.
   * @throws ParseError when the text is not a snapshot; nothing changes then.
   */
  restore(snapshot: string): void;
}

interface Entry {
  readonly key: Key;
  readonly id: string;
  /** Stored form: owned by the datastore, never mutated (see "Stored values" below). */
  readonly value: unknown;
  readonly revision: number;
  readonly createRevision: number;
  /** The value has the exact IPAM shape written by the fast copier (frozen block attribute records). */
  readonly fast: boolean;
}

interface LogEvent {
  readonly revision: number;
  readonly key: Key;
  readonly previous?: Entry;
  readonly current?: Entry;
}

const SNAPSHOT_FORMAT = 'libcalico-ts/memory-datastore';
const DECIMAL = /^(0|[1-9][0-9]*)$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Storage: one table per bucket (key type, or resource kind), with secondary indexes.
//
// A table is a Map from key id to entry plus a lazily sorted id list: lists return items in id
// order, and the sort is redone only after a key was added or removed (updates keep the order),
// so a write is O(1) and a list is O(result) (O(n log n) once after membership changed).
// Secondary indexes hold ids only, so an update (the common write) never touches them:
// - block affinities by host (list {host, ipVersion?, affinityType?}: O(that host's affinities));
// - blocks by IP version;
// - namespaced resources by kind + namespace.

/** A set of key ids with a cached sorted order. */
class IdSet {
  readonly ids = new Set<string>();
  private order: string[] | undefined;
  add(id: string): void {
    if (this.ids.has(id)) return;
    this.ids.add(id);
    this.order = undefined;
  }
  delete(id: string): void {
    if (this.ids.delete(id)) this.order = undefined;
  }
  sorted(): string[] {
    if (!this.order) this.order = [...this.ids].sort(byString);
    return this.order;
  }
}

/** The entries of one bucket by id, with a cached sorted id order. */
class Table {
  readonly map = new Map<string, Entry>();
  /** Revision of the last put or delete in this table (list conditions). */
  lastChange = 0;
  private order: string[] | undefined;
  get(id: string): Entry | undefined {
    return this.map.get(id);
  }
  put(entry: Entry, isNew: boolean): void {
    this.map.set(entry.id, entry);
    if (isNew) this.order = undefined;
  }
  remove(id: string): void {
    if (this.map.delete(id)) this.order = undefined;
  }
  sortedIds(): string[] {
    if (!this.order) this.order = [...this.map.keys()].sort(byString);
    return this.order;
  }
}

// ---------------------------------------------------------------------------------------------
// Keys: a fast validity check that returns the key's id without allocating; anything it does not
// accept goes through `validateKey`, which produces the exact `ValidationError`.

const CIDR_CACHE_LIMIT = 100_000;
const cidrValidity = new Map<string, boolean>();

/** True when `cidr` is a canonical, masked CIDR string (memoised: IPAM reuses the same strings). */
function isCanonicalCidr(cidr: unknown): boolean {
  if (typeof cidr !== 'string') return false;
  let ok = cidrValidity.get(cidr);
  if (ok === undefined) {
    const parsed = parseCidr(cidr);
    ok = parsed.ok && parsed.masked && parsed.canonical === cidr;
    if (cidrValidity.size >= CIDR_CACHE_LIMIT) cidrValidity.clear();
    cidrValidity.set(cidr, ok);
  }
  return ok;
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** The id of a well-formed key (same as `keyId`), or undefined when `validateKey` must judge it. */
function quickKeyId(key: Key): string | undefined {
  if (typeof key !== 'object' || key === null) return undefined;
  switch (key.type) {
    case 'block':
      return isCanonicalCidr(key.cidr) ? `block/${key.cidr}` : undefined;
    case 'handle':
      return isNonEmptyString(key.handleId) ? `handle/${key.handleId}` : undefined;
    case 'blockAffinity': {
      const type = key.affinityType;
      if ((type !== undefined && type !== 'host' && type !== 'virtual') || !isNonEmptyString(key.host) || !isCanonicalCidr(key.cidr)) return undefined;
      return `blockAffinity/${type ?? 'host'}/${key.cidr}/${key.host}`;
    }
    case 'ipamConfig':
      return 'ipamConfig';
    case 'resource': {
      const kind = key.kind;
      if (typeof kind !== 'string' || !Object.prototype.hasOwnProperty.call(KINDS, kind) || !isNonEmptyString(key.name)) return undefined;
      if (KINDS[kind].namespaced) {
        if (!isNonEmptyString(key.namespace) || key.namespace.includes('/')) return undefined;
        return `resource/${kind}/${key.namespace}/${key.name}`;
      }
      return key.namespace === undefined ? `resource/${kind}/${key.name}` : undefined;
    }
  }
  return undefined;
}

// Ids of frozen keys (they cannot change): callers such as the IPAM engine reuse the same key
// objects in every transaction, and a remembered id is also a string whose hash is already known.
const frozenKeyIds = new WeakMap<object, string>();

/** Validates `key` and returns its id; throws the `ValidationError` of `validateKey` when malformed. */
function checkedKeyId(key: Key): string {
  if (typeof key === 'object' && key !== null && Object.isFrozen(key)) {
    let id = frozenKeyIds.get(key);
    if (id === undefined) {
      id = quickKeyId(key);
      if (id === undefined) {
        validateKey(key);
        id = keyId(normalizeKey(key));
      }
      frozenKeyIds.set(key, id);
    }
    return id;
  }
  const id = quickKeyId(key);
  if (id !== undefined) return id;
  validateKey(key);
  return keyId(normalizeKey(key));
}

// ---------------------------------------------------------------------------------------------
// Stored values.
//
// Values are copied on the way in and on the way out, so a caller can never change stored state.
// The IPAM values (blocks, handles, affinities, config) take a fast path when they have exactly
// the contract's shape: a specialised copier validates and copies them field by field (arrays by
// slice), much cheaper than the generic deep copy. In blocks stored that way, attribute records
// are deep-frozen and shared between the stored block and the copies handed out (they cannot be
// changed, so sharing them is safe); a record given back unchanged in a later write of the same
// block (same object) is kept as is instead of being validated and copied again. Anything else
// (resources, IPAM values with extra or unusual fields) takes the generic checked deep copy.

const BLOCK_FIELDS = new Set([
  'cidr',
  'affinity',
  'affinityClaimTime',
  'allocations',
  'unallocated',
  'attributes',
  'sequenceNumber',
  'sequenceNumberForAllocation',
  'deleted',
]);
const ATTRIBUTE_FIELDS = new Set(['handleId', 'secondary', 'alternateOwnerAttrs', 'releasedAt']);
const CONFIG_FIELDS = new Set(['strictAffinity', 'autoAllocateBlocks', 'maxBlocksPerHost', 'kubeVirtVMAddressPersistence', 'ipCooldownSeconds']);

function hasPlainPrototype(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function onlyFields(value: Record<string, unknown>, allowed: Set<string>): boolean {
  for (const name in value) if (!allowed.has(name)) return false;
  return true;
}

/** Copy of an array of finite numbers (and nulls when `nullable`); undefined when it is anything else. */
function copyNumberArray(value: unknown, nullable: boolean): (number | null)[] | undefined {
  if (!Array.isArray(value) || Object.getPrototypeOf(value) !== Array.prototype) return undefined;
  const out = value.slice() as unknown[];
  for (let i = 0; i < out.length; i++) {
    const item = out[i];
    if (item === null) {
      if (!nullable) return undefined;
    } else if (typeof item !== 'number' || !Number.isFinite(item)) {
      return undefined;
    }
  }
  return out as (number | null)[];
}

/** Frozen copy of a string map; undefined when it is not one. */
function frozenStringMap(value: unknown): Record<string, string> | undefined {
  if (!hasPlainPrototype(value)) return undefined;
  const out: Record<string, string> = {};
  for (const name in value) {
    const item = value[name];
    if (typeof item !== 'string') return undefined;
    out[name] = item;
  }
  return Object.freeze(out);
}

/** True for a frozen plain map of strings (immutable: safe to store and share as is). */
function isFrozenStringMap(value: unknown): boolean {
  if (!Object.isFrozen(value) || !hasPlainPrototype(value)) return false;
  for (const name in value) if (typeof value[name] !== 'string') return false;
  return true;
}

/**
 * A block attribute record to store: the record itself when it is already deep-frozen and valid
 * (immutable, so it can be shared), else a deep-frozen copy; undefined when it is not exactly a
 * record.
 */
function frozenAttribute(value: unknown): AllocationAttribute | undefined {
  if (!hasPlainPrototype(value) || !onlyFields(value, ATTRIBUTE_FIELDS)) return undefined;
  const { handleId, secondary, alternateOwnerAttrs, releasedAt } = value;
  if (
    Object.isFrozen(value) &&
    (handleId === null || typeof handleId === 'string') &&
    (secondary === null || isFrozenStringMap(secondary)) &&
    (alternateOwnerAttrs === undefined || isFrozenStringMap(alternateOwnerAttrs)) &&
    (releasedAt === undefined || typeof releasedAt === 'string')
  ) {
    return value as unknown as AllocationAttribute;
  }
  if (handleId !== null && typeof handleId !== 'string') return undefined;
  let secondaryCopy: Record<string, string> | null = null;
  if (secondary !== null) {
    const copy = frozenStringMap(secondary);
    if (!copy) return undefined;
    secondaryCopy = copy;
  }
  const out: AllocationAttribute = { handleId, secondary: secondaryCopy };
  if (alternateOwnerAttrs !== undefined) {
    const copy = frozenStringMap(alternateOwnerAttrs);
    if (!copy) return undefined;
    out.alternateOwnerAttrs = copy;
  }
  if (releasedAt !== undefined) {
    if (typeof releasedAt !== 'string') return undefined;
    out.releasedAt = releasedAt;
  }
  return Object.freeze(out);
}

function copyAttributes(value: unknown, previous: readonly AllocationAttribute[] | undefined): AllocationAttribute[] | undefined {
  if (!Array.isArray(value) || Object.getPrototypeOf(value) !== Array.prototype) return undefined;
  const out = new Array<AllocationAttribute>(value.length);
  let known: Set<AllocationAttribute> | undefined;
  for (let i = 0; i < value.length; i++) {
    const record = value[i] as AllocationAttribute;
    // A record of the previous value at the same index (the common case: appended records come
    // after it), or anywhere before the end (records shift down when a release compacts them).
    if (previous !== undefined && (record === previous[i] || (i < previous.length && (known ??= new Set(previous)).has(record)))) {
      out[i] = record; // already stored, frozen and checked
      continue;
    }
    const copy = frozenAttribute(record);
    if (!copy) return undefined;
    out[i] = copy;
  }
  return out;
}

function copyBigintMap(value: unknown): Record<string, bigint> | undefined {
  if (!hasPlainPrototype(value) || Object.getOwnPropertySymbols(value).length > 0) return undefined;
  // Spread + Object.values are fast paths for the ordinal-keyed (array-index) maps blocks use.
  const out = { ...value } as Record<string, unknown>;
  const values = Object.values(out);
  for (let i = 0; i < values.length; i++) if (typeof values[i] !== 'bigint') return undefined;
  return out as Record<string, bigint>;
}

/** Fast checked copy of a block (see "Stored values"); undefined sends it to the generic path. */
function fastBlockIn(key: BlockKey, value: unknown, previous: AllocationBlock | undefined): AllocationBlock | undefined {
  if (!hasPlainPrototype(value) || !onlyFields(value, BLOCK_FIELDS)) return undefined;
  const v = value as unknown as AllocationBlock;
  const { cidr, affinity, affinityClaimTime, sequenceNumber, deleted } = v;
  if (cidr !== key.cidr || (affinity !== null && typeof affinity !== 'string') || typeof sequenceNumber !== 'bigint' || typeof deleted !== 'boolean') return undefined;
  if (affinityClaimTime !== undefined && typeof affinityClaimTime !== 'string') return undefined;
  const allocations = copyNumberArray(v.allocations, true);
  const unallocated = copyNumberArray(v.unallocated, false) as number[] | undefined;
  const attributes = allocations && unallocated ? copyAttributes(v.attributes, previous?.attributes) : undefined;
  const sequenceNumberForAllocation = attributes ? copyBigintMap(v.sequenceNumberForAllocation) : undefined;
  if (!sequenceNumberForAllocation) return undefined;
  return affinityClaimTime === undefined
    ? { cidr, affinity, allocations: allocations!, unallocated: unallocated!, attributes: attributes!, sequenceNumber, sequenceNumberForAllocation, deleted }
    : { cidr, affinity, affinityClaimTime, allocations: allocations!, unallocated: unallocated!, attributes: attributes!, sequenceNumber, sequenceNumberForAllocation, deleted };
}

function blockOut(block: AllocationBlock): AllocationBlock {
  return block.affinityClaimTime === undefined
    ? {
        cidr: block.cidr,
        affinity: block.affinity,
        allocations: block.allocations.slice(),
        unallocated: block.unallocated.slice(),
        attributes: block.attributes.slice(),
        sequenceNumber: block.sequenceNumber,
        sequenceNumberForAllocation: { ...block.sequenceNumberForAllocation },
        deleted: block.deleted,
      }
    : {
        cidr: block.cidr,
        affinity: block.affinity,
        affinityClaimTime: block.affinityClaimTime,
        allocations: block.allocations.slice(),
        unallocated: block.unallocated.slice(),
        attributes: block.attributes.slice(),
        sequenceNumber: block.sequenceNumber,
        sequenceNumberForAllocation: { ...block.sequenceNumberForAllocation },
        deleted: block.deleted,
      };
}

function fastHandleIn(value: unknown): IPAMHandle | undefined {
  if (!hasPlainPrototype(value)) return undefined;
  const { block, deleted } = value;
  if (typeof deleted !== 'boolean' || !hasPlainPrototype(block)) return undefined;
  let fields = 0;
  for (const _name in value) fields++;
  if (fields !== 2) return undefined;
  const counts: Record<string, number> = {};
  for (const cidr in block) {
    const count = block[cidr];
    if (typeof count !== 'number' || !Number.isInteger(count)) return undefined;
    counts[cidr] = count;
  }
  return { block: counts, deleted };
}

function fastAffinityIn(value: unknown): BlockAffinity | undefined {
  if (!hasPlainPrototype(value)) return undefined;
  const { state, deleted } = value;
  if (typeof state !== 'string' || typeof deleted !== 'boolean') return undefined;
  let fields = 0;
  for (const _name in value) fields++;
  return fields === 2 ? { state: state as BlockAffinity['state'], deleted } : undefined;
}

function fastConfigIn(value: unknown): IPAMConfig | undefined {
  if (!hasPlainPrototype(value) || !onlyFields(value, CONFIG_FIELDS)) return undefined;
  const out: Record<string, unknown> = {};
  for (const name in value) {
    const item = value[name];
    if (typeof item === 'number' ? !Number.isFinite(item) : typeof item !== 'string' && typeof item !== 'boolean') return undefined;
    out[name] = item;
  }
  const config = out as unknown as IPAMConfig;
  if (typeof config.strictAffinity !== 'boolean' || typeof config.autoAllocateBlocks !== 'boolean') return undefined;
  if (typeof config.maxBlocksPerHost !== 'number' || !Number.isInteger(config.maxBlocksPerHost) || config.maxBlocksPerHost < 0) return undefined;
  return config;
}

/** The stored form of `value` under `key`: fast IPAM copy, else the generic checked copy (throws `ValidationError`). */
function storedValue(key: Key, value: unknown, previous: Entry | undefined): { value: unknown; fast: boolean } {
  let fast: unknown;
  switch (key.type) {
    case 'block':
      fast = fastBlockIn(key, value, previous?.fast ? (previous.value as AllocationBlock) : undefined);
      break;
    case 'handle':
      fast = fastHandleIn(value);
      break;
    case 'blockAffinity':
      fast = fastAffinityIn(value);
      break;
    case 'ipamConfig':
      fast = fastConfigIn(value);
      break;
  }
  return fast !== undefined ? { value: fast, fast: true } : { value: prepareValue(key, value), fast: false };
}

/** A fresh copy of a stored value for a caller. */
function valueOut(entry: Entry): unknown {
  if (!entry.fast) return clonePlain(entry.value);
  switch (entry.key.type) {
    case 'block':
      return blockOut(entry.value as AllocationBlock);
    case 'handle': {
      const handle = entry.value as IPAMHandle;
      return { block: { ...handle.block }, deleted: handle.deleted };
    }
    case 'blockAffinity': {
      const affinity = entry.value as BlockAffinity;
      return { state: affinity.state, deleted: affinity.deleted };
    }
    default:
      return { ...(entry.value as object) };
  }
}

/**
 * Checks a value against its key and returns the stored copy. Resources: `kind` and `apiVersion`
 * are set from the key, `metadata.name`/`namespace` must match the key (they are filled in when
 * absent), `metadata.resourceVersion` is dropped (the revision is the version). IPAM values are
 * checked for the shape the contract declares.
 */
function prepareValue(key: Key, value: unknown): unknown {
  const copy = cloneData(value, 'value');
  const errors: FieldError[] = [];
  if (!isPlainObject(copy)) {
    throw new ValidationError([{ name: 'value', value, reason: 'must be an object' }], { identifier: keyIdentifier(key) });
  }
  switch (key.type) {
    case 'resource': {
      if (copy.kind !== undefined && copy.kind !== key.kind) {
        errors.push({ name: 'value.kind', value: copy.kind, reason: `must be ${key.kind} (the key's kind)` });
      }
      if (copy.apiVersion !== undefined && copy.apiVersion !== API_VERSION) {
        errors.push({ name: 'value.apiVersion', value: copy.apiVersion, reason: `must be ${API_VERSION}` });
      }
      if (copy.metadata === undefined) copy.metadata = {};
      if (!isPlainObject(copy.metadata)) {
        errors.push({ name: 'value.metadata', value: copy.metadata, reason: 'must be an object' });
        break;
      }
      const metadata = copy.metadata;
      if (metadata.name !== undefined && metadata.name !== key.name) {
        errors.push({ name: 'value.metadata.name', value: metadata.name, reason: `must equal the key's name "${key.name}"` });
      }
      const namespaced = KINDS[key.kind].namespaced;
      if (namespaced) {
        if (metadata.namespace !== undefined && metadata.namespace !== key.namespace) {
          errors.push({ name: 'value.metadata.namespace', value: metadata.namespace, reason: `must equal the key's namespace "${key.namespace}"` });
        }
      } else if (metadata.namespace !== undefined && metadata.namespace !== '') {
        errors.push({ name: 'value.metadata.namespace', value: metadata.namespace, reason: `${key.kind} is cluster-scoped: no namespace allowed` });
      }
      if (errors.length > 0) break;
      delete metadata.resourceVersion;
      delete metadata.namespace;
      const { kind: _kind, apiVersion: _apiVersion, metadata: _metadata, ...rest } = copy;
      return {
        kind: key.kind,
        apiVersion: API_VERSION,
        metadata: namespaced ? { ...metadata, name: key.name, namespace: key.namespace } : { ...metadata, name: key.name },
        ...rest,
      };
    }
    case 'block': {
      if (copy.cidr !== key.cidr) errors.push({ name: 'value.cidr', value: copy.cidr, reason: `must equal the key's CIDR ${key.cidr}` });
      if (copy.affinity !== null && typeof copy.affinity !== 'string') errors.push({ name: 'value.affinity', value: copy.affinity, reason: 'must be a string or null' });
      for (const field of ['allocations', 'unallocated', 'attributes'] as const) {
        if (!Array.isArray(copy[field])) errors.push({ name: `value.${field}`, value: copy[field], reason: 'must be an array' });
      }
      if (typeof copy.sequenceNumber !== 'bigint') {
        errors.push({ name: 'value.sequenceNumber', value: copy.sequenceNumber, reason: 'must be a bigint (uint64)' });
      }
      if (!isPlainObject(copy.sequenceNumberForAllocation)) {
        errors.push({ name: 'value.sequenceNumberForAllocation', value: copy.sequenceNumberForAllocation, reason: 'must be an object' });
      } else {
        for (const [ordinal, seq] of Object.entries(copy.sequenceNumberForAllocation)) {
          if (typeof seq !== 'bigint') errors.push({ name: `value.sequenceNumberForAllocation.${ordinal}`, value: seq, reason: 'must be a bigint' });
        }
      }
      if (typeof copy.deleted !== 'boolean') errors.push({ name: 'value.deleted', value: copy.deleted, reason: 'must be a boolean' });
      break;
    }
    case 'blockAffinity':
      if (typeof copy.state !== 'string') errors.push({ name: 'value.state', value: copy.state, reason: 'must be a string' });
      if (typeof copy.deleted !== 'boolean') errors.push({ name: 'value.deleted', value: copy.deleted, reason: 'must be a boolean' });
      break;
    case 'handle':
      if (!isPlainObject(copy.block)) errors.push({ name: 'value.block', value: copy.block, reason: 'must be an object (block CIDR -> count)' });
      else {
        for (const [cidr, count] of Object.entries(copy.block)) {
          if (typeof count !== 'number' || !Number.isInteger(count)) errors.push({ name: `value.block.${cidr}`, value: count, reason: 'must be an integer' });
        }
      }
      if (typeof copy.deleted !== 'boolean') errors.push({ name: 'value.deleted', value: copy.deleted, reason: 'must be a boolean' });
      break;
    case 'ipamConfig':
      if (typeof copy.strictAffinity !== 'boolean') errors.push({ name: 'value.strictAffinity', value: copy.strictAffinity, reason: 'must be a boolean' });
      if (typeof copy.autoAllocateBlocks !== 'boolean') errors.push({ name: 'value.autoAllocateBlocks', value: copy.autoAllocateBlocks, reason: 'must be a boolean' });
      if (typeof copy.maxBlocksPerHost !== 'number' || !Number.isInteger(copy.maxBlocksPerHost) || copy.maxBlocksPerHost < 0) {
        errors.push({ name: 'value.maxBlocksPerHost', value: copy.maxBlocksPerHost, reason: 'must be an integer >= 0' });
      }
      break;
  }
  if (errors.length > 0) throw new ValidationError(errors, { identifier: keyIdentifier(key) });
  return copy;
}

function checkRevisionArgument(revision: unknown, name = 'revision'): string {
  if (typeof revision !== 'string' || revision.length === 0) {
    throw new ValidationError([{ name, value: revision, reason: 'must be a non-empty revision string' }]);
  }
  return revision;
}

function parseRevision(revision: unknown, name: string): number {
  if (typeof revision !== 'string' || !DECIMAL.test(revision) || !Number.isSafeInteger(Number(revision))) {
    throw new ValidationError([{ name, value: revision, reason: 'must be a decimal revision string as returned by this datastore' }]);
  }
  return Number(revision);
}

/** A live watch over the memory datastore's change log. */
class MemoryWatch<K extends Key> implements Watch<K> {
  private queue: WatchEvent<K>[] = [];
  private head = 0;
  private waiter: { resolve(result: IteratorResult<WatchEvent<K>>): void; reject(error: unknown): void } | undefined;
  private failure: Error | undefined;
  private finished = false;
  private readonly onAbort = () => this.stop();

  constructor(
    readonly list: ListInterface,
    /** Deliver only events after this revision. */
    public after: number,
    private readonly detach: (watch: MemoryWatch<K>) => void,
    private readonly signal: AbortSignal | undefined,
    private readonly toPair: (entry: Entry) => KVPair,
  ) {
    if (signal) {
      if (signal.aborted) this.finished = true;
      else signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  get active(): boolean {
    return !this.finished && this.failure === undefined;
  }

  /** Queue a synthetic or logged event. */
  push(event: WatchEvent<K>): void {
    if (!this.active) return;
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter.resolve({ done: false, value: event });
    } else {
      this.queue.push(event);
    }
  }

  deliver(event: LogEvent): void {
    if (!this.active || event.revision <= this.after || !keyMatchesList(event.key, this.list)) return;
    const previous = event.previous ? (this.toPair(event.previous) as KVPair<K>) : undefined;
    const current = event.current ? (this.toPair(event.current) as KVPair<K>) : undefined;
    const type = !event.current ? 'deleted' : event.current.createRevision === event.revision ? 'added' : 'modified';
    const out: WatchEvent<K> = { type, revision: String(event.revision) };
    if (previous) out.previous = previous;
    if (current) out.current = current;
    this.push(out);
  }

  /** End the watch with an error, after the events already queued. */
  fail(error: Error): void {
    if (!this.active) return;
    this.failure = error;
    this.detach(this);
    this.removeAbortListener();
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      this.failure = undefined;
      this.finished = true;
      waiter.reject(error);
    }
  }

  stop(): void {
    if (this.finished) return;
    this.finished = true;
    this.failure = undefined;
    this.queue = [];
    this.head = 0;
    this.detach(this);
    this.removeAbortListener();
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter.resolve({ done: true, value: undefined });
    }
  }

  private removeAbortListener(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  next(): Promise<IteratorResult<WatchEvent<K>>> {
    if (this.head < this.queue.length) {
      const value = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.failure) {
      const error = this.failure;
      this.failure = undefined;
      this.finished = true;
      return Promise.reject(error);
    }
    if (this.finished) return Promise.resolve({ done: true, value: undefined });
    if (this.waiter) return Promise.reject(new DatastoreError('watch: next() called again before the previous call settled'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent<K>> {
    return {
      next: () => this.next(),
      return: async () => {
        this.stop();
        return { done: true, value: undefined };
      },
    };
  }
}

/**
 * Creates an in-memory datastore.
 *
 * Semantics (shared with the etcd datastore): one global revision counter, incremented by every
 * write (a transaction takes one revision for all its keys); revisions are decimal strings.
 * Values are copied on the way in and out, so callers can never change stored state; bigints
 * are kept. IPAM values of the contract's exact shape take a fast field-by-field copier; in
 * blocks, attribute records are stored deep-frozen and shared with the copies handed out (a record
 * that is already deep-frozen is stored as is), everything else is copied. Lists use per-kind
 * tables and indexes (affinities by host, blocks by IP version, resources by namespace) and sort
 * only what they return. For v3 resources the stored object gets the key's kind, name and namespace, and the
 * object returned carries `metadata.resourceVersion` = the pair's revision. Watches keep their own
 * queue (a slow consumer never loses events) and resume from any revision still in the history
 * (see {@link MemoryDatastoreOptions.historyLimit} and {@link MemoryDatastore.compact}).
 * `close()` ends running watches by throwing `DatastoreError` from their iterators (after the
 * events already queued); every later call rejects with `DatastoreError`.
 *
 * @example
 * ```ts
 * const datastore = createMemoryDatastore();
 * const key = { type: 'handle', handleId: 'k8s-pod-network.abc' } as const;
 * const created = await datastore.createKV(key, { block: { '10.0.0.0/26': 1 }, deleted: false });
 * await datastore.updateKV(key, { block: {}, deleted: false }, created.revision); // CAS
 * ```
 */
export function createMemoryDatastore(options: MemoryDatastoreOptions = {}): MemoryDatastore {
  const historyLimit = options.historyLimit ?? 10_000;
  if (!Number.isInteger(historyLimit) || historyLimit < 0) {
    throw new ValidationError([{ name: 'historyLimit', value: options.historyLimit, reason: 'must be an integer >= 0' }]);
  }
  const beforeWrite = options.beforeWrite;
  const capabilities: DatastoreCapabilities = Object.freeze({
    atomicTransactions: options.atomicTransactions ?? true,
    softDeleteIPAM: false,
    // List conditions span many keys: only where transactions may.
    listConditions: options.atomicTransactions ?? true,
  });

  let store = new Store();
  let revision = 0;
  let compactedRevision = 0;
  let log: LogEvent[] = [];
  let logHead = 0;
  let closed = false;
  const watches = new Set<MemoryWatch<Key>>();

  if (options.snapshot !== undefined) {
    const loaded = parseSnapshot(options.snapshot);
    store = loaded.store;
    revision = loaded.revision;
    compactedRevision = loaded.revision;
  }

  const toPair = (entry: Entry): KVPair => {
    const value = valueOut(entry) as Record<string, unknown>;
    if (entry.key.type === 'resource') {
      (value.metadata as Record<string, unknown>).resourceVersion = String(entry.revision);
    }
    return { key: { ...entry.key }, value: value as unknown as ValueOf<Key>, revision: String(entry.revision) };
  };

  const ensureOpen = () => {
    if (closed) throw new DatastoreError('the memory datastore is closed');
  };

  /** One validated write: the key as given, its id and table, and the stored value (undefined = delete). */
  interface Change {
    readonly key: Key;
    readonly id: string;
    readonly table: Table;
    readonly value: unknown;
    readonly fast: boolean;
    /** The current entry when the caller just looked it up (null: absent), so commit need not. */
    known?: Entry | null;
  }

  /** Applies changes under one new revision, logs them and feeds the watches. */
  const commit = (changes: readonly Change[]): Entry[] => {
    const rev = revision + 1;
    const written: Entry[] = [];
    const recording = historyLimit > 0 || watches.size > 0;
    const events: LogEvent[] = [];
    let changed = false;
    for (const change of changes) {
      const previous = change.known !== undefined ? (change.known ?? undefined) : change.table.get(change.id);
      changed = changed || change.value !== undefined || previous !== undefined;
      if (change.value === undefined) {
        if (!previous) continue;
        store.remove(previous);
        store.touch(previous.key, change.table, rev);
        if (recording) events.push({ revision: rev, key: previous.key, previous });
      } else {
        const entry: Entry = {
          key: previous ? previous.key : normalizeKey(change.key),
          id: change.id,
          value: change.value,
          revision: rev,
          createRevision: previous?.createRevision ?? rev,
          fast: change.fast,
        };
        store.put(entry, previous, change.table);
        store.touch(entry.key, change.table, rev);
        written.push(entry);
        if (recording) events.push(previous ? { revision: rev, key: entry.key, previous, current: entry } : { revision: rev, key: entry.key, current: entry });
      }
    }
    if (!changed) return written;
    revision = rev;
    if (!recording) {
      // No history kept and nobody watching: the change is compacted at once.
      compactedRevision = rev;
      return written;
    }
    for (const event of events) log.push(event);
    trimHistory();
    if (watches.size > 0) for (const watch of [...watches]) for (const event of events) watch.deliver(event);
    return written;
  };

  const trimHistory = () => {
    let live = log.length - logHead;
    while (live > historyLimit) {
      // Drop whole revisions (a transaction's events go together).
      const dropRevision = log[logHead]!.revision;
      while (logHead < log.length && log[logHead]!.revision === dropRevision) {
        logHead++;
        live--;
      }
      compactedRevision = Math.max(compactedRevision, dropRevision);
    }
    if (logHead > 4096 && logHead * 2 > log.length) {
      log = log.slice(logHead);
      logHead = 0;
    }
  };

  const runHook = async (kind: WriteOperationInfo['kind'], keys: Key[]) => {
    if (beforeWrite) await beforeWrite({ kind, keys: keys.map((k) => normalizeKey(k)) });
  };

  /** A validated put of `value` under `key` (the existing entry, if any, lets unchanged block records be shared). */
  const putChange = (key: Key, id: string, value: unknown): Change => {
    const table = store.table(key, true)!;
    const stored = storedValue(key, value, key.type === 'block' ? table.get(id) : undefined);
    return { key, id, table, value: stored.value, fast: stored.fast };
  };
  const deleteChange = (key: Key, id: string): Change => ({ key, id, table: store.table(key, true)!, value: undefined, fast: false });

  const datastore: MemoryDatastore = {
    contractVersion: 'v1',
    datastoreType: 'memory',
    capabilities,

    async createKV<K extends Key>(key: K, value: ValueOf<K>): Promise<KVPair<K>> {
      ensureOpen();
      const id = checkedKeyId(key);
      const change = putChange(key, id, value);
      await runHook('create', [key]);
      ensureOpen();
      if (store.get(key, id)) throw new ResourceExistsError(keyIdentifier(normalizeKey(key)));
      return toPair(commit([change])[0]!) as KVPair<K>;
    },

    async updateKV<K extends Key>(key: K, value: ValueOf<K>, rev: string): Promise<KVPair<K>> {
      ensureOpen();
      const id = checkedKeyId(key);
      const change = putChange(key, id, value);
      checkRevisionArgument(rev);
      await runHook('update', [key]);
      ensureOpen();
      const existing = store.get(key, id);
      if (!existing) throw new ResourceNotFoundError(keyIdentifier(normalizeKey(key)));
      if (String(existing.revision) !== rev) {
        throw new UpdateConflictError(keyIdentifier(existing.key), {
          message: `update conflict: ${describe(existing.key)} is at revision ${existing.revision}, not ${rev}`,
        });
      }
      return toPair(commit([change])[0]!) as KVPair<K>;
    },

    async applyKV<K extends Key>(key: K, value: ValueOf<K>): Promise<KVPair<K>> {
      ensureOpen();
      const id = checkedKeyId(key);
      const change = putChange(key, id, value);
      await runHook('apply', [key]);
      ensureOpen();
      return toPair(commit([change])[0]!) as KVPair<K>;
    },

    async deleteKV<K extends Key>(key: K, rev?: string): Promise<KVPair<K>> {
      ensureOpen();
      const id = checkedKeyId(key);
      if (rev !== undefined) checkRevisionArgument(rev);
      await runHook('delete', [key]);
      ensureOpen();
      const existing = store.get(key, id);
      if (!existing) throw new ResourceNotFoundError(keyIdentifier(normalizeKey(key)));
      if (rev !== undefined && String(existing.revision) !== rev) {
        throw new UpdateConflictError(keyIdentifier(existing.key), {
          message: `delete conflict: ${describe(existing.key)} is at revision ${existing.revision}, not ${rev}`,
        });
      }
      commit([deleteChange(key, id)]);
      return toPair(existing) as KVPair<K>;
    },

    async getKV<K extends Key>(key: K): Promise<KVPair<K>> {
      ensureOpen();
      const id = checkedKeyId(key);
      const existing = store.get(key, id);
      if (!existing) throw new ResourceNotFoundError(keyIdentifier(normalizeKey(key)));
      return toPair(existing) as KVPair<K>;
    },

    async listKV<L extends ListInterface>(list: L): Promise<KVList<KeyOfList<L>>> {
      ensureOpen();
      validateList(list);
      const entries = store.matching(list);
      const items = new Array<KVPair<KeyOfList<L>>>(entries.length);
      for (let i = 0; i < entries.length; i++) items[i] = toPair(entries[i]!) as KVPair<KeyOfList<L>>;
      return { items, revision: String(revision) };
    },

    watchKV<L extends ListInterface>(list: L, watchOptions: WatchOptions = {}): Watch<KeyOfList<L>> {
      type K = KeyOfList<L>;
      const detach = (w: MemoryWatch<K>) => watches.delete(w as unknown as MemoryWatch<Key>);
      const watch = new MemoryWatch<K>(list, revision, detach, watchOptions.signal, toPair);
      if (!watch.active) return watch;
      try {
        ensureOpen();
        validateList(list);
        if (watchOptions.revision === undefined) {
          for (const entry of store.matching(list)) {
            watch.push({ type: 'added', current: toPair(entry) as KVPair<K>, revision: String(entry.revision) });
          }
          watch.after = revision;
        } else {
          const from = parseRevision(watchOptions.revision, 'options.revision');
          if (from < compactedRevision) throw new WatchTooOldError(watchOptions.revision);
          watch.after = from;
          for (let i = firstLogIndexAfter(from); i < log.length; i++) watch.deliver(log[i]!);
        }
        watches.add(watch as unknown as MemoryWatch<Key>);
      } catch (error) {
        watch.fail(error as Error);
      }
      return watch;
    },

    async transact(conditions: TxnCondition[], operations: TxnOperation[], txnOptions?: TxnOptions): Promise<TxnResult> {
      ensureOpen();
      if (!Array.isArray(conditions)) throw new ValidationError([{ name: 'conditions', value: conditions, reason: 'must be an array' }]);
      if (!Array.isArray(operations) || operations.length === 0) {
        throw new ValidationError([{ name: 'operations', value: operations, reason: 'must be a non-empty array' }]);
      }
      const checks: { key: Key; id: string; revision: string | undefined; existing?: Entry | null }[] = [];
      const listChecks = parseListConditions(txnOptions, capabilities);
      // (Each check is looked up after the hook, right before the commit.)
      for (let i = 0; i < conditions.length; i++) {
        const condition = conditions[i];
        if (!isPlainObject(condition)) throw new ValidationError([{ name: `conditions[${i}]`, value: condition, reason: 'must be an object' }]);
        const key = condition.key;
        const id = checkedKeyId(key);
        if ('absent' in condition && condition.absent === true) checks.push({ key, id, revision: undefined });
        else if ('revision' in condition) checks.push({ key, id, revision: checkRevisionArgument(condition.revision, `conditions[${i}].revision`) });
        else throw new ValidationError([{ name: `conditions[${i}]`, value: condition, reason: 'needs `revision` or `absent: true`' }]);
      }
      const writes = new Array<Change>(operations.length);
      const seen = new Set<string>();
      for (let i = 0; i < operations.length; i++) {
        const operation = operations[i];
        if (!isPlainObject(operation)) throw new ValidationError([{ name: `operations[${i}]`, value: operation, reason: 'must be an object' }]);
        const key = operation.key;
        const id = checkedKeyId(key);
        if (seen.has(id)) {
          throw new ValidationError([{ name: `operations[${i}].key`, value: describe(normalizeKey(key)), reason: 'the same key is written twice in one transaction' }]);
        }
        seen.add(id);
        if (operation.op === 'put') writes[i] = putChange(key, id, operation.value);
        else if (operation.op === 'delete') writes[i] = deleteChange(key, id);
        else throw new ValidationError([{ name: `operations[${i}].op`, value: (operation as { op: unknown }).op, reason: "must be 'put' or 'delete'" }]);
      }
      if (!capabilities.atomicTransactions) {
        const keys = new Set([...checks.map((c) => c.id), ...writes.map((w) => w.id)]);
        if (keys.size > 1) {
          throw new OperationNotSupportedError(`this datastore cannot commit ${keys.size} keys atomically (atomicTransactions is false)`);
        }
      }
      if (beforeWrite) await runHook('txn', writes.map((w) => w.key));
      ensureOpen();
      for (const check of checks) {
        const existing = store.get(check.key, check.id);
        check.existing = existing ?? null;
        if (check.revision === undefined) {
          if (existing) throw new ResourceExistsError(keyIdentifier(existing.key), { message: `transaction condition failed: ${describe(existing.key)} exists` });
        } else if (!existing || String(existing.revision) !== check.revision) {
          const key = existing?.key ?? normalizeKey(check.key);
          throw new UpdateConflictError(keyIdentifier(key), {
            message: `transaction condition failed: ${describe(key)} is ${existing ? `at revision ${existing.revision}` : 'absent'}, not at ${check.revision}`,
          });
        }
      }
      for (const check of listChecks) {
        const changed = store.changedSince(check.list);
        if (changed > check.after) {
          throw new UpdateConflictError(`list ${describeList(check.list)}`, {
            message: `transaction condition failed: listConditions[${check.index}]: ${describeList(check.list)} changed at revision ${changed}, after ${check.after}`,
          });
        }
      }
      // Keys just checked need no second lookup in commit (nothing can run in between).
      for (const w of writes) {
        for (const check of checks) {
          if (check.id === w.id) {
            w.known = check.existing;
            break;
          }
        }
      }
      const written = commit(writes);
      const results = new Array<{ key: Key; revision?: string }>(writes.length);
      for (let i = 0; i < writes.length; i++) {
        const w = writes[i]!;
        let entry: Entry | undefined;
        if (w.value !== undefined) for (const e of written) if (e.id === w.id) entry = e;
        results[i] = entry ? { key: { ...entry.key }, revision: String(entry.revision) } : { key: normalizeKey(w.key) };
      }
      return { results, revision: String(revision) };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const watch of [...watches]) watch.fail(new DatastoreError('the memory datastore was closed'));
      watches.clear();
    },

    currentRevision(): string {
      return String(revision);
    },

    compact(rev?: string): void {
      ensureOpen();
      const target = rev === undefined ? revision : parseRevision(rev, 'revision');
      if (target > revision) {
        throw new ValidationError([{ name: 'revision', value: rev, reason: `is in the future (current revision ${revision})` }]);
      }
      if (target <= compactedRevision) return;
      compactedRevision = target;
      while (logHead < log.length && log[logHead]!.revision <= target) logHead++;
      if (logHead > 0 && logHead * 2 > log.length) {
        log = log.slice(logHead);
        logHead = 0;
      }
    },

    get size(): number {
      return store.size;
    },

    snapshot(): string {
      ensureOpen();
      const entries = store
        .all()
        .sort((a, b) => byString(a.id, b.id))
        .map((entry) => {
          const { data, bigints } = encodeBigintJson(entry.value);
          const out: Record<string, unknown> = {
            key: entry.key,
            revision: String(entry.revision),
            createRevision: String(entry.createRevision),
            value: data,
          };
          if (bigints.length > 0) out.bigints = bigints;
          return out;
        });
      return JSON.stringify({ format: SNAPSHOT_FORMAT, version: 1, revision: String(revision), entries });
    },

    restore(text: string): void {
      ensureOpen();
      const loaded = parseSnapshot(text);
      store = loaded.store;
      revision = Math.max(revision, loaded.revision);
      compactedRevision = revision;
      store.floor = revision;
      log = [];
      logHead = 0;
      for (const watch of [...watches]) watch.fail(new WatchTooOldError(String(revision), { message: 'the memory datastore was restored from a snapshot; relist' }));
      watches.clear();
    },
  };

  /** Index of the first logged event with revision > `after` (binary search). */
  function firstLogIndexAfter(after: number): number {
    let lo = logHead;
    let hi = log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (log[mid]!.revision <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  return datastore;
}

/** Every stored entry, in tables per bucket, with the secondary indexes (see "Storage"). */
class Store {
  private readonly blocks = new Table();
  private readonly affinities = new Table();
  private readonly handles = new Table();
  private readonly config = new Table();
  private readonly resources = new Map<string, Table>();
  private readonly affinitiesByHost = new Map<string, Set<string>>();
  private readonly blocksByVersion = { 4: new IdSet(), 6: new IdSet() };
  private readonly resourcesByNamespace = new Map<string, Set<string>>();

  /** Revision of the last change to each host's affinities (list conditions narrowed to a host). */
  private readonly affinityChangeByHost = new Map<string, number>();
  /** Changes at or before this revision are unknown (a restored snapshot): list conditions treat them as changes. */
  floor = 0;

  /** Records a change of `key` at `rev` for list conditions. */
  touch(key: Key, table: Table, rev: number): void {
    table.lastChange = rev;
    if (key.type === 'blockAffinity') this.affinityChangeByHost.set(key.host, rev);
  }

  /**
   * The last revision at which anything `list` may match changed (created, modified or deleted):
   * per kind, per host for host-narrowed affinity lists. A superset of the list, as the contract allows.
   */
  changedSince(list: ListInterface): number {
    let rev: number;
    if (list.type === 'blockAffinity' && list.host !== undefined) rev = this.affinityChangeByHost.get(list.host) ?? 0;
    else rev = this.table(list, false)?.lastChange ?? 0;
    return Math.max(rev, this.floor);
  }

  table(key: { type: Key['type']; kind?: string }, create: boolean): Table | undefined {
    switch (key.type) {
      case 'block':
        return this.blocks;
      case 'blockAffinity':
        return this.affinities;
      case 'handle':
        return this.handles;
      case 'ipamConfig':
        return this.config;
      case 'resource': {
        let table = this.resources.get(key.kind!);
        if (!table && create) this.resources.set(key.kind!, (table = new Table()));
        return table;
      }
    }
  }

  /** The entry with id `id` (of `key`, already validated). */
  get(key: Key, id: string): Entry | undefined {
    return this.table(key, false)?.get(id);
  }

  put(entry: Entry, previous: Entry | undefined, table = this.table(entry.key, true)!): void {
    table.put(entry, !previous);
    if (!previous) this.index(entry, true);
  }

  remove(entry: Entry): void {
    this.table(entry.key, false)?.remove(entry.id);
    this.index(entry, false);
  }

  private index(entry: Entry, add: boolean): void {
    const key = entry.key;
    switch (key.type) {
      case 'blockAffinity': {
        let ids = this.affinitiesByHost.get(key.host);
        if (add) {
          if (!ids) this.affinitiesByHost.set(key.host, (ids = new Set()));
          ids.add(entry.id);
        } else if (ids) {
          ids.delete(entry.id);
          if (ids.size === 0) this.affinitiesByHost.delete(key.host);
        }
        break;
      }
      case 'block': {
        const ids = this.blocksByVersion[ipVersionOf(key.cidr)];
        if (add) ids.add(entry.id);
        else ids.delete(entry.id);
        break;
      }
      case 'resource': {
        if (key.namespace === undefined) break;
        const name = `${key.kind}/${key.namespace}`;
        let ids = this.resourcesByNamespace.get(name);
        if (add) {
          if (!ids) this.resourcesByNamespace.set(name, (ids = new Set()));
          ids.add(entry.id);
        } else if (ids) {
          ids.delete(entry.id);
          if (ids.size === 0) this.resourcesByNamespace.delete(name);
        }
        break;
      }
    }
  }

  /** The entries `list` selects, in id order. Uses the narrowest index; sorts only what it returns. */
  matching(list: ListInterface): Entry[] {
    const table = this.table(list, false);
    if (!table) return [];
    let ids: readonly string[];
    switch (list.type) {
      case 'resource':
        if (list.namespace !== undefined) {
          if (list.name !== undefined) ids = [`resource/${list.kind}/${list.namespace}/${list.name}`];
          else ids = [...(this.resourcesByNamespace.get(`${list.kind}/${list.namespace}`) ?? [])].sort(byString);
        } else if (list.name !== undefined && !KINDS[list.kind].namespaced) {
          ids = [`resource/${list.kind}/${list.name}`];
        } else {
          ids = table.sortedIds();
        }
        break;
      case 'block':
        ids = list.ipVersion !== undefined ? this.blocksByVersion[list.ipVersion].sorted() : table.sortedIds();
        break;
      case 'blockAffinity':
        ids = list.host !== undefined ? [...(this.affinitiesByHost.get(list.host) ?? [])].sort(byString) : table.sortedIds();
        break;
      default:
        ids = table.sortedIds();
    }
    const out: Entry[] = [];
    for (const id of ids) {
      const entry = table.get(id);
      if (entry && keyMatchesList(entry.key, list)) out.push(entry);
    }
    return out;
  }

  all(): Entry[] {
    const out: Entry[] = [];
    for (const table of [this.blocks, this.affinities, this.handles, this.config, ...this.resources.values()]) {
      for (const entry of table.map.values()) out.push(entry);
    }
    return out;
  }

  get size(): number {
    let n = this.blocks.map.size + this.affinities.map.size + this.handles.map.size + this.config.map.size;
    for (const table of this.resources.values()) n += table.map.size;
    return n;
  }
}

const validFrozenLists = new WeakSet<object>();

/** Validates `transact`'s list conditions (before anything is looked up). */
function parseListConditions(options: TxnOptions | undefined, capabilities: DatastoreCapabilities): { list: ListInterface; after: number; index: number }[] {
  if (options === undefined) return [];
  if (!isPlainObject(options)) throw new ValidationError([{ name: 'options', value: options, reason: 'must be an object' }]);
  const conditions = options.listConditions;
  if (conditions === undefined) return [];
  if (!Array.isArray(conditions)) throw new ValidationError([{ name: 'options.listConditions', value: conditions, reason: 'must be an array' }]);
  if (conditions.length === 0) return [];
  if (!capabilities.listConditions) {
    throw new OperationNotSupportedError('this datastore has no list conditions (capabilities.listConditions is false)');
  }
  return conditions.map((condition: ListCondition, index: number) => {
    if (!isPlainObject(condition)) throw new ValidationError([{ name: `options.listConditions[${index}]`, value: condition, reason: 'must be {list, notModifiedAfter}' }]);
    const list = condition.list;
    // A frozen list cannot change after it was checked: check it once (IPAM reuses its lists).
    if (!(typeof list === 'object' && list !== null && validFrozenLists.has(list))) {
      validateList(list);
      if (Object.isFrozen(list)) validFrozenLists.add(list);
    }
    return { list: condition.list, after: parseRevision(condition.notModifiedAfter, `options.listConditions[${index}].notModifiedAfter`), index };
  });
}

/** Reads a snapshot made by `snapshot()`; throws `ParseError` describing the first problem. */
function parseSnapshot(text: string): { store: Store; revision: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ParseError(`memory datastore snapshot is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!isPlainObject(parsed) || parsed.format !== SNAPSHOT_FORMAT || parsed.version !== 1) {
    throw new ParseError(`not a memory datastore snapshot (expected format "${SNAPSHOT_FORMAT}", version 1)`);
  }
  const revision = snapshotRevision(parsed.revision, 'revision');
  if (!Array.isArray(parsed.entries)) throw new ParseError('memory datastore snapshot: entries must be an array');
  const store = new Store();
  parsed.entries.forEach((raw: unknown, i: number) => {
    const where = `memory datastore snapshot: entries[${i}]`;
    if (!isPlainObject(raw)) throw new ParseError(`${where} must be an object`);
    try {
      validateKey(raw.key as Key);
    } catch (error) {
      throw new ParseError(`${where}.key is invalid: ${(error as Error).message}`, { cause: error });
    }
    const key = normalizeKey(raw.key as Key);
    const entryRevision = snapshotRevision(raw.revision, `entries[${i}].revision`);
    const createRevision = snapshotRevision(raw.createRevision, `entries[${i}].createRevision`);
    if (entryRevision > revision || createRevision > entryRevision) {
      throw new ParseError(`${where} has revisions inconsistent with the snapshot revision ${revision}`);
    }
    let stored: { value: unknown; fast: boolean };
    try {
      const value = decodeBigintJson(raw.value, Array.isArray(raw.bigints) ? (raw.bigints as (string | number)[][]) : []);
      stored = storedValue(key, value, undefined);
    } catch (error) {
      throw new ParseError(`${where}.value is invalid: ${(error as Error).message}`, { cause: error });
    }
    const id = keyId(key);
    if (store.get(key, id)) throw new ParseError(`${where} repeats the key ${id}`);
    store.put({ key, id, value: stored.value, revision: entryRevision, createRevision, fast: stored.fast }, undefined);
  });
  return { store, revision };
}

function snapshotRevision(value: unknown, name: string): number {
  if (typeof value !== 'string' || !DECIMAL.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new ParseError(`memory datastore snapshot: ${name} must be a decimal string`);
  }
  return Number(value);
}

/** Type guard: is this datastore the in-memory one (has `compact`, `snapshot`, `restore`)? */
export function isMemoryDatastore(datastore: Datastore): datastore is MemoryDatastore {
  return datastore.datastoreType === 'memory' && typeof (datastore as Partial<MemoryDatastore>).compact === 'function';
}
