/**
 * The datastore contract (v1): typed keys, key/value pairs with opaque revisions, and the
 * backend operations every datastore implements (memory, etcd v3, Kubernetes).
 *
 * It mirrors libcalico-go's backend API (`lib/backend/api/api.go`). Users rarely call it
 * directly: build a datastore and hand it to `createClient({ datastore })` or `createIPAM(datastore)`.
 * Backend verbs are prefixed (`createKV`, `getKV`, ...) so that they are not mistaken for the
 * client's user verbs.
 */
import type { ResourceKind, V3Object } from '@libcalico-ts/api';

// ---------------------------------------------------------------------------------------------
// Keys

/** A v3 resource, e.g. `{type: 'resource', kind: 'IPPool', name: 'default-ipv4-ippool'}`. */
export interface ResourceKey {
  readonly type: 'resource';
  readonly kind: ResourceKind;
  readonly name: string;
  /** Required for namespaced kinds, absent for cluster-scoped ones. */
  readonly namespace?: string;
}

/** An IPAM allocation block, by its canonical masked CIDR (`10.244.208.0/26`, `fd00:10:244::/122`). */
export interface BlockKey {
  readonly type: 'block';
  readonly cidr: string;
}

/** Affinity owner type: `host` for nodes, `virtual` for e.g. the load-balancer controller. */
export const AffinityType = { Host: 'host', Virtual: 'virtual' } as const;
export type AffinityType = (typeof AffinityType)[keyof typeof AffinityType];

/** The claim of one block by one host (or virtual owner). */
export interface BlockAffinityKey {
  readonly type: 'blockAffinity';
  readonly host: string;
  readonly cidr: string;
  /** Defaults to `host`. */
  readonly affinityType?: AffinityType;
}

/** An IPAM handle, by its id in original case (`k8s-pod-network.<containerID>`). */
export interface HandleKey {
  readonly type: 'handle';
  readonly handleId: string;
}

/** The IPAM global configuration singleton (`/calico/ipam/v2/config`). */
export interface IPAMConfigKey {
  readonly type: 'ipamConfig';
}

/** Every key the datastore stores: a closed union, discriminated by `type`. */
export type Key = ResourceKey | BlockKey | BlockAffinityKey | HandleKey | IPAMConfigKey;
export type KeyType = Key['type'];

// ---------------------------------------------------------------------------------------------
// IPAM model values (camelCase here; each backend maps them to Calico's wire shapes)

/** One attribute entry of a block; several ordinals may share it. */
export interface AllocationAttribute {
  /** Owning handle (`handle_id` on the wire). Legacy rows may have null. */
  handleId: string | null;
  /** Owner attributes (`secondary` on the wire): node, pod, namespace, timestamp, type... Legacy rows may have null. */
  secondary: Record<string, string> | null;
  /** KubeVirt live-migration owner (`alternateOwnerAttrs`). */
  alternateOwnerAttrs?: Record<string, string>;
  /** Set while a released address is cooling down (RFC 3339). */
  releasedAt?: string;
}

/**
 * An allocation block. Sequence numbers are uint64 (initialised from Unix nanoseconds) and are
 * kept as `bigint`: they do not fit a JS number.
 */
export interface AllocationBlock {
  cidr: string;
  /** `host:<node>` or `virtual:<name>`, or null when the block is not affine. */
  affinity: string | null;
  /** RFC 3339; absent when unset. */
  affinityClaimTime?: string;
  /** Index = ordinal; null = free; a number = index into `attributes`. */
  allocations: (number | null)[];
  /** FIFO queue of free ordinals: allocate from the head, release to the tail. */
  unallocated: number[];
  attributes: AllocationAttribute[];
  sequenceNumber: bigint;
  /** Ordinal (decimal string) -> block sequence number when it was allocated. */
  sequenceNumberForAllocation: Record<string, bigint>;
  /** Soft-delete marker (Kubernetes only); readers treat true as absent. */
  deleted: boolean;
}

/** Block affinity states: absent -> pending -> confirmed -> pendingDeletion -> absent. `''` (legacy) means confirmed. */
export const BlockAffinityState = {
  Confirmed: 'confirmed',
  Pending: 'pending',
  PendingDeletion: 'pendingDeletion',
  Legacy: '',
} as const;
export type BlockAffinityState = (typeof BlockAffinityState)[keyof typeof BlockAffinityState];

/** The value of a block affinity; host, CIDR and type are in the key. */
export interface BlockAffinity {
  state: BlockAffinityState;
  deleted: boolean;
}

/** The value of an IPAM handle; the id is in the key. `block` maps block CIDR -> addresses held there. */
export interface IPAMHandle {
  block: Record<string, number>;
  deleted: boolean;
}

/** The IPAM configuration as IPAM reads it. Missing key = defaults (strict false, auto-allocate true, max 0). */
export interface IPAMConfig {
  strictAffinity: boolean;
  autoAllocateBlocks: boolean;
  /** 0 = no limit configured (the engine then applies its own default). */
  maxBlocksPerHost: number;
  kubeVirtVMAddressPersistence?: 'Enabled' | 'Disabled';
  ipCooldownSeconds?: number;
}

/** The value type stored under each key type. */
export type ValueOf<K extends Key> = K extends ResourceKey
  ? V3Object
  : K extends BlockKey
    ? AllocationBlock
    : K extends BlockAffinityKey
      ? BlockAffinity
      : K extends HandleKey
        ? IPAMHandle
        : K extends IPAMConfigKey
          ? IPAMConfig
          : never;

/**
 * A key, its value and the value's revision. Revisions are opaque strings: compare them only for
 * equality, and pass them back for compare-and-swap. (etcd: the key's mod_revision; Kubernetes:
 * the object's resourceVersion.)
 *
 * For resource keys the value is stored with the key's kind, `apiVersion: projectcalico.org/v3`,
 * name and namespace (a value contradicting its key is a `ValidationError`), and every value a
 * backend returns carries `metadata.resourceVersion` equal to `revision` (a `resourceVersion` given
 * on write is ignored: the revision argument is what counts). The conformance suite checks this.
 */
export interface KVPair<K extends Key = Key> {
  key: K;
  value: ValueOf<K>;
  revision: string;
  /** Kubernetes only: the object's UID, used to delete exactly this object. */
  uid?: string;
}

// ---------------------------------------------------------------------------------------------
// Listing

/** What to list. A list of resources may be narrowed by namespace and by name. */
export type ListInterface =
  | { readonly type: 'resource'; readonly kind: ResourceKind; readonly namespace?: string; readonly name?: string }
  | { readonly type: 'block'; readonly ipVersion?: 4 | 6 }
  | { readonly type: 'blockAffinity'; readonly host?: string; readonly ipVersion?: 4 | 6; readonly affinityType?: AffinityType }
  | { readonly type: 'handle' }
  | { readonly type: 'ipamConfig' };

/** The key type a list returns. */
export type KeyOfList<L extends ListInterface> = Extract<Key, { type: L['type'] }>;

/** A list result: the items and the revision the list was read at (watch from it). */
export interface KVList<K extends Key = Key> {
  items: KVPair<K>[];
  revision: string;
  /** Values under matching keys that could not be decoded (each names its key); they are left out of `items`. */
  errors?: Error[];
}

// ---------------------------------------------------------------------------------------------
// Watching

export const WatchEventType = { Added: 'added', Modified: 'modified', Deleted: 'deleted' } as const;
export type WatchEventType = (typeof WatchEventType)[keyof typeof WatchEventType];

/**
 * One change. `previous` is set for deletions (the last value) and, where the backend knows it,
 * for modifications; `current` is set for additions and modifications.
 */
export interface WatchEvent<K extends Key = Key> {
  type: WatchEventType;
  previous?: KVPair<K>;
  current?: KVPair<K>;
  /** Revision of the change; resume a watch from here. */
  revision: string;
}

export interface WatchOptions {
  /**
   * Deliver changes made after this revision (as returned by a list or a previous event).
   * Omitted: the backend lists first and emits every existing item as `added`, then watches.
   * A compacted revision makes the iterator throw `WatchTooOldError`.
   */
  revision?: string;
  /** Stops the watch; the iterator then ends normally. */
  signal?: AbortSignal;
}

/**
 * A running watch. Iterate it with `for await`. A failure (datastore lost, revision compacted) is
 * thrown from the iterator; the iterator never ends silently unless `stop()` was called or the
 * signal aborted.
 */
export interface Watch<K extends Key = Key> extends AsyncIterable<WatchEvent<K>> {
  stop(): void;
}

// ---------------------------------------------------------------------------------------------
// Transactions

/** A condition checked atomically before a transaction writes. */
export type TxnCondition =
  /** The key holds exactly this revision. */
  | { readonly key: Key; readonly revision: string }
  /** The key is absent. */
  | { readonly key: Key; readonly absent: true };

/**
 * A condition over a whole list, checked atomically with a transaction's key conditions: no key
 * the list matches was created or modified after `notModifiedAfter` (a revision, e.g. the one a
 * `listKV` of the same list returned). It does not see deletions: guard each key the caller
 * relies on with a key condition as well. A backend may check a superset of the list (every key
 * of the same kind, or deletions too), so the condition can fail while the list itself is
 * unchanged, but never holds when it changed. On failure: `UpdateConflictError`.
 */
export interface ListCondition {
  readonly list: ListInterface;
  readonly notModifiedAfter: string;
}

/** Options of `transact`. */
export interface TxnOptions {
  /**
   * List conditions, checked with the key conditions. Only backends with
   * `capabilities.listConditions` take them; others throw `OperationNotSupportedError`
   * (a backend written before they existed ignores them: check the capability first).
   */
  readonly listConditions?: readonly ListCondition[];
}

/**
 * A write inside a transaction. A key may appear in at most one operation (else `ValidationError`).
 * Deleting a key that is absent is a no-op (etcd semantics), not an error: guard it with a
 * condition when it matters.
 */
export type TxnOperation =
  | { readonly op: 'put'; readonly key: Key; readonly value: ValueOf<Key> }
  | { readonly op: 'delete'; readonly key: Key };

/** The outcome of a successful transaction: the new revision of every key that was put. */
export interface TxnResult {
  /** Same order as the operations; `revision` is absent for deletes. */
  results: { key: Key; revision?: string }[];
  revision: string;
}

// ---------------------------------------------------------------------------------------------
// The backend

/** Capabilities that differ between backends; IPAM uses them to pick its commit strategy. */
export interface DatastoreCapabilities {
  /** `transact` commits several keys atomically. False on Kubernetes (each object is its own CAS). */
  readonly atomicTransactions: boolean;
  /** Deletes are soft (mark `deleted`, then delete by UID), as Calico does on Kubernetes. */
  readonly softDeleteIPAM: boolean;
  /**
   * `transact` takes `options.listConditions` (etcd, memory). Absent means false: added without
   * breaking contract v1, so backends written before it keep working (callers check it first).
   */
  readonly listConditions?: boolean;
  /**
   * `watchKV` works. Absent means true (every backend watched when it was added); false: `watchKV`
   * refuses with `OperationNotSupportedError` (e.g. etcd's JSON gateway datastore, made for
   * short-lived processes).
   */
  readonly watch?: boolean;
}

/**
 * A datastore backend. Failure modes, shared by all implementations:
 * - `ResourceNotFoundError`: get/update/delete of an absent key;
 * - `ResourceExistsError`: create of a present key;
 * - `UpdateConflictError`: a revision (CAS) did not match, or a transaction condition failed;
 * - `DatastoreUnavailableError` (`isRetryable`): the datastore cannot be reached;
 * - `WatchTooOldError`: a watch from a compacted revision;
 * - `DatastoreError`: a stored value that cannot be decoded (naming its key).
 */
export interface Datastore {
  readonly contractVersion: 'v1';
  /** `memory`, `etcdv3` or `kubernetes`. */
  readonly datastoreType: string;
  readonly capabilities: DatastoreCapabilities;

  /** Create `key`; fails with `ResourceExistsError` when present. */
  createKV<K extends Key>(key: K, value: ValueOf<K>): Promise<KVPair<K>>;
  /** Replace `key` if its revision is still `revision` (compare-and-swap). */
  updateKV<K extends Key>(key: K, value: ValueOf<K>, revision: string): Promise<KVPair<K>>;
  /** Create or replace `key` unconditionally. */
  applyKV<K extends Key>(key: K, value: ValueOf<K>): Promise<KVPair<K>>;
  /** Delete `key`, only if its revision is `revision` when given. Returns the deleted pair. */
  deleteKV<K extends Key>(key: K, revision?: string): Promise<KVPair<K>>;
  /** Read `key`. */
  getKV<K extends Key>(key: K): Promise<KVPair<K>>;
  /** List every pair matching `list`, with the revision the list was read at. Undecodable values are left out of `items` and reported in `errors`. */
  listKV<L extends ListInterface>(list: L): Promise<KVList<KeyOfList<L>>>;
  /** Watch the pairs matching `list`. */
  watchKV<L extends ListInterface>(list: L, options?: WatchOptions): Watch<KeyOfList<L>>;
  /**
   * Check every condition and apply every operation atomically; if any condition fails nothing
   * is written and `UpdateConflictError` (or `ResourceExistsError` for a failed `absent`
   * condition) is thrown. Backends without `capabilities.atomicTransactions` throw
   * `OperationNotSupportedError` for more than one key.
   */
  transact(conditions: TxnCondition[], operations: TxnOperation[], options?: TxnOptions): Promise<TxnResult>;
  /** Release connections. Further calls fail. */
  close(): Promise<void>;
}
