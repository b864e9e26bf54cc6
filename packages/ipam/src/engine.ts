/**
 * The IPAM engine: libcalico-go's `ipam.Interface` over the datastore contract only.
 *
 * Every write is a compare-and-swap; the retry loops and the claim protocol follow
 * `docs/cas-loop.md` (packages/ipam/docs/cas-loop.md), which states the invariants each loop keeps.
 */
import {
  CalicoError,
  DatastoreError,
  DatastoreUnavailableError,
  describeIdentifier,
  ResourceExistsError,
  ResourceNotFoundError,
  UpdateConflictError,
  ValidationError,
  type FieldError,
  type IPPool,
  type IPReservation,
  type Node,
} from '@libcalico-ts/api';
import type {
  AllocationBlock,
  BlockAffinity,
  BlockAffinityKey,
  BlockKey,
  Datastore,
  HandleKey,
  IPAMConfig,
  IPAMConfigKey,
  IPAMHandle,
  Key,
  KVPair,
  ListCondition,
  ListInterface,
  ResourceKey,
  TxnCondition,
  TxnOperation,
  TxnOptions,
} from '@libcalico-ts/datastore';
import { describeKey } from '@libcalico-ts/datastore';
import {
  AffinityCheckError,
  AlreadyAssignedError,
  ReleaseMismatchError,
  assignOrdinal,
  autoAssignOrdinals,
  blockCIDR,
  cloneBlock,
  freeCount,
  gcPass,
  handleOrdinals,
  isBlockEmpty,
  newBlock,
  ordinalAddress,
  ordinalOf,
  releaseHandleOrdinals,
  releaseOrdinals,
  sanitizeHandle,
  splitAffinity,
  allocatedCount,
  allocationsPresent,
  releasePresent,
  sameBlock,
  type BlockReleaseItem,
} from './block.js';
import {
  BlockLimitError,
  IPAMError,
  IPInCooldownError,
  MaxRetriesError,
  NoQualifiedPoolError,
  StrictAffinityRequiredError,
  withPartialResult,
} from './errors.js';
import { bitsOf, cidrContains, cidrWithin, cidrsOverlap, formatIP, makeCIDR, parseCIDR, parseIP, type CIDR, type IPVersion } from './ip.js';
import { blockOf, blockWalk, poolBlockCount, poolInfo, walkPosition, type PoolInfo } from './pools.js';
import { ReservedSet } from './reservations.js';
import { checkIPAM, gcIPAM, releaseNodeResources, type GCOptions, type GCResult, type IPAMCheckReport, type NodeReleaseResult } from './check.js';
import { selectorMatches } from './selector.js';
import {
  IntendedUse,
  type AffinityConfig,
  type AssignIPArgs,
  type AssignmentAttributes,
  type AutoAssignArgs,
  type AutoAssignResult,
  type BlockUtilization,
  type ClaimAffinityResult,
  type EnsureBlockArgs,
  type EnsureBlockResult,
  type HostReservedAttr,
  type IPAMAssignments,
  type IPAMConfigUpdate,
  type PoolUtilization,
  type ReleaseOptions,
  type ReleaseResult,
  type UtilizationArgs,
} from './types.js';

/**
 * Named points where the engine writes to the datastore. Hooks (and the testing kit's fault
 * injection) see each write, with its key, before and after it happens.
 *
 * - `claimAffinity:pending` — create (or CAS back to) the `pending` affinity record;
 * - `claimAffinity:createBlock` — create the block for a claimed CIDR;
 * - `claimAffinity:touchBlock` — rewrite an existing block to confirm a non-confirmed affinity;
 * - `claimAffinity:confirm` — CAS the affinity record to `confirmed`;
 * - `claimAffinity:deleteStale` — delete an affinity record the block contradicts (or a lost claim's);
 * - `releaseAffinity:pendingDeletion` — CAS the affinity record to `pendingDeletion`;
 * - `releaseAffinity:deleteBlock` / `releaseAffinity:updateBlock` — delete an empty block / un-own a non-empty one;
 * - `releaseAffinity:deleteAffinity` — delete the affinity record;
 * - `assign:commit` — the block write of autoAssign / assignIP (with the handle, in one transaction where atomic);
 * - `assign:claimAndCommit` — atomic datastores: autoAssign claiming a CIDR nobody holds writes the
 *   confirmed affinity, the new block with its first allocations and the handle in one transaction
 *   (the same end state as the pending → createBlock → confirm → commit sequence);
 * - `release:commit` — the block write (or delete) of releaseIPs / releaseByHandle / gc (with handles where atomic);
 * - `handle:increment` / `handle:decrement` — separate handle writes (non-atomic datastores only);
 * - `config:write` — setIPAMConfig;
 * - `gc:deleteHandle` — gc deleting a leaked handle;
 * - `gc:deleteAffinity` — gc deleting a stranded affinity record (see `IPAMCheckReport.strandedAffinities`).
 */
export const WRITE_POINTS = [
  'claimAffinity:pending',
  'claimAffinity:createBlock',
  'claimAffinity:touchBlock',
  'claimAffinity:confirm',
  'claimAffinity:deleteStale',
  'releaseAffinity:pendingDeletion',
  'releaseAffinity:deleteBlock',
  'releaseAffinity:updateBlock',
  'releaseAffinity:deleteAffinity',
  'assign:commit',
  'assign:claimAndCommit',
  'release:commit',
  'handle:increment',
  'handle:decrement',
  'config:write',
  'gc:deleteHandle',
  'gc:deleteAffinity',
] as const;
export type WritePoint = (typeof WRITE_POINTS)[number];

/** Observes (or disrupts, in tests) every datastore write the engine makes. */
export interface WriteHooks {
  /** Called before the write; throwing aborts it (nothing written) and the error propagates as the datastore's would. */
  beforeWrite?(point: WritePoint, keys: readonly Key[]): void | Promise<void>;
  /** Called after a successful write; throwing simulates a crash right after it. */
  afterWrite?(point: WritePoint, keys: readonly Key[]): void | Promise<void>;
}

/** Time source. `now()` is Unix milliseconds; `nowNanos()` (default `now() * 10^6`) seeds new blocks' sequence numbers. */
export interface IPAMClock {
  now(): number;
  nowNanos?(): bigint;
  /** Waits (retry back-off); default `setTimeout`. */
  sleep?(ms: number): Promise<void>;
}

/** Options of {@link createIPAM}. */
export interface IPAMOptions {
  /**
   * Hostname used by `autoAssign`, `assignIP` and `ensureBlock` when the request gives none. No
   * default: the engine never reads the OS hostname (it has no I/O and runs in a browser), so a
   * request without a hostname fails with `ValidationError` unless this is set. Under Node,
   * `hostname: os.hostname()` reproduces upstream's fallback. Must be a non-empty string.
   */
  hostname?: string;
  /** Time source (default the system clock). */
  clock?: IPAMClock;
  /** Uniform [0, 1) source for retry jitter (default `Math.random`). */
  random?: () => number;
  /** Compare-and-swap retries per step (default 100, as upstream). */
  maxRetries?: number;
  /** Upper bound of the random back-off between conflicting retries, in ms (default 2; 0 disables). */
  maxRetryJitterMs?: number;
  /** Write observers / fault injection. */
  hooks?: WriteHooks;
  /** Behave as on a Windows node: a config with StrictAffinity false fails every operation (default false). */
  windows?: boolean;
  /** Minimum age of an empty block's affinity before another host may reclaim it (default 60,000 ms). */
  emptyBlockMinReclaimAgeMs?: number;
  /**
   * Commit a block and its handle in one `transact` where the datastore supports it (default
   * true). False forces Calico's two sequential CAS writes (handle first, roll back on failure).
   */
  useTransactions?: boolean;
  /**
   * Atomic datastores WITHOUT list conditions (or with `validatedCaches: false`; on etcd and
   * memory the validated caches below make this unnecessary): how long (ms, on `clock`) autoAssign may trust what it cached about
   * changes no transaction condition can detect — a pool or IPReservation CREATED by another
   * client, an affinity another client created for the host, a block it skipped as full — before
   * reading them again.
   *
   * Default {@link DEFAULT_CACHE_TTL_MS} (0): the pool list, the IPReservation list and the host's
   * affinities are re-read on every autoAssign, as Calico does, so a reservation or pool created
   * (or a pool disabled) by another client is honoured by the very next call. What is still
   * cached (IPAM config, node, blocks, handles) is committed with transaction conditions on the
   * revisions it relied on, so it can cost a retry, never a wrong answer.
   *
   * A value > 0 is an opt-in trade: those lists are read at most once per `cacheTtlMs` and a
   * fast path allocates with no read at all (one transaction per call), but for up to
   * `cacheTtlMs` after another client creates a pool or reservation this engine can still hand
   * out an address the new IPReservation excludes, ignore the new pool, or claim a new block
   * while another client's affinity for the host exists. Errors and partial results are always
   * decided on fresh reads. See docs/cas-loop.md.
   */
  cacheTtlMs?: number;
  /**
   * On datastores with list conditions (etcd, memory; `capabilities.listConditions`), autoAssign
   * keeps the pool list, the IPReservation list, the host's affinities and its blocks cached with
   * no time limit and commits each allocation in ONE transaction conditioned on all of them still
   * being what it read: the key revisions it relied on, and "nothing under the IPPool /
   * IPReservation / host-affinity lists created or modified since the revision they were listed
   * at". A change by another client fails that transaction (nothing is written) and the call is
   * decided again on fresh reads, so the answer is always the one a fresh read would give — the
   * staleness `cacheTtlMs` trades is gone. Default true; false restores the behaviour of
   * `cacheTtlMs` alone. See docs/cas-loop.md, "Validated caches".
   */
  validatedCaches?: boolean;
}

/** Internal signals of the claim protocol. */
class NoFreeBlocksError extends Error {
  constructor() {
    super('No Free Blocks');
  }
}
class ClaimConflictSignal extends Error {}
class StaleAffinitySignal extends Error {}
/** The view an autoAssign attempt decided on is stale, or cannot decide a non-allocation outcome: redo it on fresh reads. */
class StaleViewSignal extends Error {
  constructor(readonly onlyAffinities = false) {
    super('stale IPAM view');
  }
}
/** A block the walk took as absent or unchanged is not: walk again with what was learnt. */
class WalkChangedSignal extends Error {}

/** A CIDR `findUsableBlock` chose, and what the choice relied on. */
interface UsableBlock {
  cidr: CIDR;
  /** Not known to exist (never seen by this engine, or read absent): a claim must check absence. */
  absent: boolean;
  /** Revision conditions on cached blocks the walk passed over. */
  walked: TxnCondition[];
}

/** A cached block: the last value this engine read or wrote, with its revision. */
interface BlockEntry {
  readonly kv: KVPair<BlockKey>;
  /** Engine clock time of the read or write. */
  readonly at: number;
  /** Some attribute record carries `releasedAt` (free counts then need the cooldown pass). */
  readonly released: boolean;
}

interface ConfigEntry {
  readonly kv: KVPair<IPAMConfigKey> | undefined;
  readonly config: IPAMConfig;
  readonly at: number;
}

interface PoolsEntry {
  readonly pools: PoolInfo[];
  /** Revision conditions on every pool of each family. */
  readonly conditions: Record<IPVersion, TxnCondition[]>;
  /** The list it was built from (every key's name and revision): an identical re-read reuses it. */
  readonly signature: string;
  /** When it was last read (a re-read with the same signature renews it). */
  at: number;
  /** The revision of that read (list conditions: nothing under the list changed after it). */
  revision: string;
}

interface ReservationsEntry {
  readonly set: ReservedSet;
  readonly conditions: TxnCondition[];
  /** The list it was built from (every key's name and revision): an identical re-read reuses it. */
  readonly signature: string;
  /** When it was last read (a re-read with the same signature renews it). */
  at: number;
  /** The revision of that read (list conditions). */
  revision: string;
}

/** The owner's affinities of one family, as last listed. */
interface AffinitiesEntry {
  readonly items: KVPair<BlockAffinityKey>[];
  readonly at: number;
  /** Revision the items are exact at (list conditions); undefined once changed locally without one. */
  readonly revision: string | undefined;
}

/** An eligible affinity of a fast view, in Calico's order. */
interface FastCandidate {
  readonly affinity: KVPair<BlockAffinityKey>;
  readonly cidr: CIDR;
  conditions: TxnCondition[] | undefined;
}

/** autoAssign's fast path state for one (use, host, family); see `IPAM.fastView`. */
interface FastView {
  readonly config: ConfigEntry;
  readonly pools: PoolsEntry;
  readonly reservations: ReservationsEntry;
  readonly node: KVPair<ResourceKey> | undefined;
  readonly affinities: AffinitiesEntry;
  /** `host:<node>` or `virtual:<name>`. */
  readonly affinity: string;
  readonly host: string;
  readonly affinityType: 'host' | 'virtual';
  /** The owner's affinity list of the family (frozen: datastores may check it once). */
  readonly affinityList: ListInterface;
  readonly allowed: FastCandidate[];
  readonly conditions: TxnCondition[];
  /** Candidates before `hint` were full when seen (until `hintUntil`, while `blockEpoch` is `hintEpoch`). */
  hint: number;
  hintUntil: number;
  hintEpoch: number;
  /** Validated mode: revision conditions on the blocks before `hint` (the commit checks they are still full). */
  hintConditions: TxnCondition[];
}

/** What one autoAssign attempt decides with for one family. */
interface FamilyView {
  config: IPAMConfig;
  reserved: ReservedSet;
  nodeLabels: Record<string, string>;
  allPools: PoolInfo[];
  /** The owner's affinities of the family, not deleted, in etcd list order. */
  affinities: KVPair<BlockAffinityKey>[];
  /** Nothing came from a cache (or caching is off). */
  fresh: boolean;
  affinitiesFresh: boolean;
  /** Atomic datastores: conditions on the context the decision used (config, node, pools, reservations). */
  conditions: TxnCondition[];
  /**
   * Validated mode: list conditions proving the IPPool and IPReservation lists the view used are
   * still the current ones (they may come from the caches, with no TTL). Every commit made on the
   * view carries them.
   */
  listConditions: ListCondition[];
}

const POOL_LIST: ListInterface = Object.freeze({ type: 'resource', kind: 'IPPool' });
const RESERVATION_LIST: ListInterface = Object.freeze({ type: 'resource', kind: 'IPReservation' });

const CACHE_LIMITS = { nodes: 16_384, affinities: 16_384, blocks: 65_536, handles: 4_096 } as const;
/** Above this many pool + reservation conditions, those lists are read on every call instead. */
const MAX_CONTEXT_CONDITIONS = 48;
/** Walk blocks whose revisions a claim is conditioned on (beyond: cacheTtlMs bounds staleness). */
const MAX_WALK_CONDITIONS = 32;

/**
 * Sets `key` in a bounded cache. When full, the older half goes in one pass: evicting one entry
 * per insertion through `keys().next()` would walk the deleted slots V8 keeps at the front of
 * the table until its next rehash (microseconds per call on a full handle cache).
 */
function remember<K, V>(map: Map<K, V>, key: K, value: V, limit: number): void {
  if (map.size >= limit && !map.has(key)) {
    let drop = map.size - (limit >> 1);
    for (const old of map.keys()) {
      map.delete(old);
      if (--drop <= 0) break;
    }
  }
  map.set(key, value);
}

function hasReleased(block: AllocationBlock): boolean {
  for (const a of block.attributes) if (a.releasedAt !== undefined) return true;
  return false;
}

/** The key of `keys` a failed transaction names (its error identifier), if any. */
function failedKey(error: unknown, keys: readonly Key[]): Key | undefined {
  const identifier = (error as CalicoError).identifier;
  if (identifier === undefined) return undefined;
  const text = describeIdentifier(identifier);
  for (const key of keys) if (describeKey(key) === text) return key;
  return undefined;
}

/** Same per-block counts (the `deleted` flag aside). */
function sameHandle(a: IPAMHandle, b: IPAMHandle): boolean {
  const ka = Object.keys(a.block);
  if (ka.length !== Object.keys(b.block).length) return false;
  for (const k of ka) if (a.block[k] !== b.block[k]) return false;
  return true;
}

function configFrom(stored: IPAMConfig | undefined): IPAMConfig {
  return stored
    ? {
        ...stored,
        strictAffinity: !!stored.strictAffinity,
        autoAllocateBlocks: stored.autoAllocateBlocks === undefined ? true : !!stored.autoAllocateBlocks,
        maxBlocksPerHost: stored.maxBlocksPerHost ?? 0,
      }
    : { ...DEFAULT_CONFIG };
}

const NO_ATTRS: Record<string, string> = {};

function isNotFound(error: unknown): boolean {
  return ResourceNotFoundError.isInstance(error);
}
/** A failure of the datastore itself (conflict, unavailable, corrupt value, exhausted retries). */
function isDatastoreFailure(error: unknown): boolean {
  return isConflict(error) || isNotFound(error) || DatastoreError.isInstance(error) || MaxRetriesError.isInstance(error);
}
function isUnavailable(error: unknown): boolean {
  return CalicoError.isInstance(error) && (error as CalicoError).isRetryable;
}
function isConflict(error: unknown): boolean {
  return UpdateConflictError.isInstance(error) || ResourceExistsError.isInstance(error);
}
/**
 * A failed write whose effect is not certain: a conflict or a missing key (a client library may
 * have re-sent an applied write, which then fails its own condition) or a retryable failure (the
 * answer may have been lost after the write was applied).
 */
function isIndeterminate(error: unknown): boolean {
  return isConflict(error) || isNotFound(error) || isLostAnswer(error);
}
/** A retryable datastore failure (unreachable, timeout, leader change): a write may have been applied. */
function isLostAnswer(error: unknown): boolean {
  return DatastoreError.isInstance(error) && (error as CalicoError).isRetryable;
}

/**
 * Identifies a resource list by its members' names and revisions (a revision changes on every
 * write, and a re-created key gets a new one), so an identical signature means identical values.
 */
function listSignature(items: readonly KVPair<Key>[]): string {
  let signature = '';
  for (const item of items) {
    const key = item.key as ResourceKey;
    signature += `${key.name}\u0000${item.revision}\u0001`;
  }
  return signature;
}

function blockKey(cidr: string): BlockKey {
  return { type: 'block', cidr };
}
function handleKey(handleId: string): HandleKey {
  return { type: 'handle', handleId };
}
function affinityKey(host: string, cidr: string, affinityType: 'host' | 'virtual'): BlockAffinityKey {
  return affinityType === 'host' ? { type: 'blockAffinity', host, cidr } : { type: 'blockAffinity', host, cidr, affinityType };
}
// Keys the caches keep are frozen: a datastore may then remember what it derived from them.
const CONFIG_KEY: IPAMConfigKey = Object.freeze({ type: 'ipamConfig' });

const DEFAULT_CONFIG: IPAMConfig = { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 };

/** Upstream's limit when neither the request nor the config sets one. */
export const DEFAULT_MAX_BLOCKS_PER_HOST = 20;

/**
 * Default `IPAMOptions.cacheTtlMs`: 0 — pools, IPReservations and the host's affinities are
 * re-read on every autoAssign (Calico's behaviour: a new reservation or pool counts at once).
 */
export const DEFAULT_CACHE_TTL_MS = 0;

/** Sorts affinity pairs the way etcd lists them (by CIDR with `/` written `-`). */
function affinityListOrder(a: KVPair<BlockAffinityKey>, b: KVPair<BlockAffinityKey>): number {
  const x = a.key.cidr.replace('/', '-');
  const y = b.key.cidr.replace('/', '-');
  return x < y ? -1 : x > y ? 1 : 0;
}

interface FamilyContext {
  version: IPVersion;
  host: string;
  affinity: string;
  affinityType: 'host' | 'virtual';
  config: IPAMConfig;
  reserved: ReservedSet;
  handleId: string | null;
  attrs: Record<string, string> | null;
  rsvdAttr: HostReservedAttr | undefined;
  /** Atomic datastores: context conditions every commit of this attempt carries (see FamilyView). */
  conditions: TxnCondition[];
  /** Validated mode: list conditions every commit of this attempt carries (see FamilyView). */
  listConditions: ListCondition[];
  /** The view came from fresh reads only. */
  fresh: boolean;
  affinitiesFresh: boolean;
  /** Blocks of the walk found to exist although not cached (switches the walk to one list at 64). */
  probes: number;
}

/** The IPAM engine. Build it with {@link createIPAM}. */
export class IPAM {
  private readonly ds: Datastore;
  private readonly clock: IPAMClock;
  private readonly random: () => number;
  private readonly maxRetries: number;
  private readonly jitterMs: number;
  private readonly hooks: WriteHooks | undefined;
  private readonly windows: boolean;
  private readonly reclaimAgeMs: number;
  private readonly atomic: boolean;
  private readonly defaultHostname: string | undefined;
  /** Optimistic caches (atomic datastores only; see `cacheTtlMs` and docs/cas-loop.md). */
  private readonly caching: boolean;
  /**
   * The datastore takes list conditions too: autoAssign's fast path then trusts its caches with
   * no time limit, because every commit proves them current (docs/cas-loop.md, "Validated caches").
   */
  private readonly validated: boolean;
  private readonly cacheTtlMs: number;
  private configCache: ConfigEntry | undefined;
  private poolsCache: PoolsEntry | undefined;
  private reservationsCache: ReservationsEntry | undefined;
  /** Existing nodes by name (guarded by revision conditions). */
  private readonly nodeCache = new Map<string, KVPair<ResourceKey>>();
  /** `${affinityType}:${host}:${version}` -> the owner's affinities. */
  private readonly affinityCache = new Map<string, AffinitiesEntry>();
  private readonly blockCache = new Map<string, BlockEntry>();
  /** Handles as last read or written; a handle not here is assumed absent (the commit checks it). */
  private readonly handleCache = new Map<string, KVPair<HandleKey>>();
  /** `${use}:${host}:${version}` -> what autoAssign's fast path derived from the caches. */
  private readonly fastViews = new Map<string, FastView>();
  /** Bumped whenever a cached block may have gained free addresses (reads, releases, forgets). */
  private blockEpoch = 0;

  constructor(datastore: Datastore, options: IPAMOptions = {}) {
    if (!datastore || datastore.contractVersion !== 'v1') {
      throw new ValidationError([{ name: 'datastore', value: datastore?.contractVersion, reason: 'must implement the v1 datastore contract' }]);
    }
    const maxRetries = options.maxRetries ?? 100;
    if (!Number.isInteger(maxRetries) || maxRetries < 1) {
      throw new ValidationError([{ name: 'options.maxRetries', value: options.maxRetries, reason: 'must be an integer >= 1' }]);
    }
    this.ds = datastore;
    this.clock = options.clock ?? { now: () => Date.now() };
    this.random = options.random ?? Math.random;
    this.maxRetries = maxRetries;
    this.jitterMs = options.maxRetryJitterMs ?? 2;
    this.hooks = options.hooks;
    this.windows = options.windows ?? false;
    this.reclaimAgeMs = options.emptyBlockMinReclaimAgeMs ?? 60_000;
    this.atomic = (options.useTransactions ?? true) && datastore.capabilities.atomicTransactions;
    if (options.hostname !== undefined && (typeof options.hostname !== 'string' || options.hostname === '')) {
      throw new ValidationError([{ name: 'options.hostname', value: options.hostname, reason: 'must be a non-empty string when given' }]);
    }
    this.defaultHostname = options.hostname;
    const ttl = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
    if (typeof ttl !== 'number' || !(ttl >= 0)) {
      throw new ValidationError([{ name: 'options.cacheTtlMs', value: options.cacheTtlMs, reason: 'must be a number >= 0' }]);
    }
    this.cacheTtlMs = ttl;
    this.caching = this.atomic;
    this.validated = this.atomic && datastore.capabilities.listConditions === true && (options.validatedCaches ?? true);
  }

  /** The datastore this engine works on. */
  get datastore(): Datastore {
    return this.ds;
  }

  // -------------------------------------------------------------------------------------------
  // Plumbing

  private nowNanos = (): bigint => (this.clock.nowNanos ? this.clock.nowNanos() : BigInt(Math.floor(this.clock.now())) * 1_000_000n);

  /** RFC 3339 with whole seconds, as Calico persists times. */
  private nowSeconds(): string {
    return new Date(Math.floor(this.clock.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  }

  private async backoff(): Promise<void> {
    if (this.jitterMs <= 0) return;
    const ms = this.random() * this.jitterMs;
    if (this.clock.sleep) await this.clock.sleep(ms);
    else await new Promise((resolve) => setTimeout(resolve, ms));
  }

  private async write<T>(point: WritePoint, keys: Key[], fn: () => Promise<T>): Promise<T> {
    this.forget(keys);
    if (this.hooks?.beforeWrite) await this.hooks.beforeWrite(point, keys);
    const result = await fn();
    if (this.hooks?.afterWrite) await this.hooks.afterWrite(point, keys);
    return result;
  }

  /**
   * {@link IPAM.write} for a step whose effect can be recognised afterwards. When the write fails
   * with an indeterminate error (see `isIndeterminate`), `landed` reads what it would have
   * produced: a value means it was applied (the hooks see a completed write) and is returned;
   * undefined rethrows the failure. When `landed` cannot read, a retryable failure is rethrown and
   * a conflict becomes a retryable "undecided" error (retrying could repeat an applied write).
   * `only` limits the check to some failures (e.g. retryable ones, when a conflict has its own
   * handling in the caller).
   */
  private async writeIdempotent<T>(
    point: WritePoint,
    keys: Key[],
    fn: () => Promise<T>,
    landed: () => Promise<T | undefined>,
    only: (error: unknown) => boolean = isIndeterminate,
  ): Promise<T> {
    try {
      return await this.write(point, keys, fn);
    } catch (error) {
      if (!only(error)) throw error;
      let value: T | undefined;
      try {
        value = await landed();
      } catch {
        throw isConflict(error) ? this.undecided(error) : error;
      }
      if (value === undefined) throw error;
      if (this.hooks?.afterWrite) await this.hooks.afterWrite(point, keys);
      return value;
    }
  }

  private async get<K extends Key>(key: K): Promise<KVPair<K> | undefined> {
    try {
      const kv = await this.ds.getKV(key);
      if ((kv.value as { deleted?: unknown } | undefined)?.deleted === true) return undefined;
      return kv;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * The request's hostname, else `IPAMOptions.hostname`. The engine never asks the operating
   * system (it is I/O-free and runs in a browser): without either, `ValidationError`, before
   * anything is read or written. (Upstream falls back to the OS hostname; pass `os.hostname()`
   * as `IPAMOptions.hostname` to get that behaviour under Node.)
   */
  private resolveHostname(hostname: unknown): string {
    if (typeof hostname === 'string' && hostname !== '') return hostname;
    if (hostname !== undefined && hostname !== null && hostname !== '') {
      throw new ValidationError([{ name: 'hostname', value: hostname, reason: 'must be a string' }]);
    }
    if (this.defaultHostname !== undefined) return this.defaultHostname;
    throw new ValidationError([
      { name: 'hostname', value: hostname, reason: 'required: give it in the request or as IPAMOptions.hostname (the engine does not read the OS hostname)' },
    ]);
  }

  /** Reads the IPAM config (defaults when absent, not written). */
  async getIPAMConfig(): Promise<IPAMConfig> {
    const config = { ...(await this.fetchConfig()).config };
    if (this.windows && !config.strictAffinity) throw new StrictAffinityRequiredError();
    return config;
  }

  // -------------------------------------------------------------------------------------------
  // Caches (atomic datastores). Invariants in docs/cas-loop.md ("Optimistic caches").

  /** Drops what the caches know about keys about to be written outside autoAssign's commits. */
  private forget(keys: readonly Key[]): void {
    for (const key of keys) {
      switch (key.type) {
        case 'block':
          this.blockCache.delete(key.cidr);
          this.blockEpoch++;
          break;
        case 'handle':
          this.handleCache.delete(key.handleId);
          break;
        case 'blockAffinity': {
          const type = key.affinityType ?? 'host';
          this.affinityCache.delete(`${type}:${key.host}:4`);
          this.affinityCache.delete(`${type}:${key.host}:6`);
          break;
        }
        case 'ipamConfig':
          this.configCache = undefined;
          break;
        case 'resource':
          if (key.kind === 'IPPool') this.poolsCache = undefined;
          else if (key.kind === 'IPReservation') this.reservationsCache = undefined;
          else if (key.kind === 'Node') this.nodeCache.delete(key.name);
          break;
      }
    }
  }

  private cacheBlock(kv: KVPair<BlockKey>): BlockEntry {
    this.blockEpoch++;
    Object.freeze(kv.key);
    const entry: BlockEntry = { kv, at: this.clock.now(), released: hasReleased(kv.value) };
    remember(this.blockCache, kv.key.cidr, entry, CACHE_LIMITS.blocks);
    return entry;
  }

  /** Reads a block (undefined when absent or soft-deleted) and caches what it saw. */
  private async readBlock(cidr: string): Promise<KVPair<BlockKey> | undefined> {
    const kv = await this.get(blockKey(cidr));
    if (kv) this.cacheBlock(kv);
    else this.forget([blockKey(cidr)]);
    return kv;
  }

  private async fetchConfig(): Promise<ConfigEntry> {
    const list = await this.ds.listKV({ type: 'ipamConfig' });
    const kv = list.items[0];
    const entry: ConfigEntry = { kv, config: configFrom(kv?.value), at: this.clock.now() };
    this.configCache = entry;
    return entry;
  }

  /**
   * A re-read list whose names and revisions are those `previous` was built from: the parsed
   * entry (and what was derived from it) holds, renewed at the new read. Undefined otherwise.
   */
  private renewed<E extends PoolsEntry | ReservationsEntry>(previous: E | undefined, signature: string, revision: string): E | undefined {
    if (!previous || previous.signature !== signature) return undefined;
    previous.at = this.clock.now();
    previous.revision = revision;
    return previous;
  }

  private async fetchPools(): Promise<PoolsEntry> {
    const list = await this.ds.listKV({ type: 'resource', kind: 'IPPool' });
    const signature = listSignature(list.items);
    const same = this.renewed(this.poolsCache, signature, list.revision);
    if (same) return same;
    const pools: PoolInfo[] = [];
    const conditions: Record<IPVersion, TxnCondition[]> = { 4: [], 6: [] };
    for (const item of list.items) {
      const info = poolInfo(item.value as IPPool);
      if (!info) continue;
      pools.push(info);
      conditions[info.cidr.version].push({ key: Object.freeze(item.key), revision: item.revision });
    }
    pools.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const entry: PoolsEntry = { pools, conditions, signature, at: this.clock.now(), revision: list.revision };
    this.poolsCache = entry;
    return entry;
  }

  private async fetchReservations(): Promise<ReservationsEntry> {
    const list = await this.ds.listKV({ type: 'resource', kind: 'IPReservation' });
    const signature = listSignature(list.items);
    const same = this.renewed(this.reservationsCache, signature, list.revision);
    if (same) return same;
    const cidrs: string[] = [];
    const conditions: TxnCondition[] = [];
    for (const item of list.items) {
      cidrs.push(...((item.value as IPReservation).spec?.reservedCIDRs ?? []));
      conditions.push({ key: Object.freeze(item.key), revision: item.revision });
    }
    const entry: ReservationsEntry = { set: new ReservedSet(cidrs), conditions, signature, at: this.clock.now(), revision: list.revision };
    this.reservationsCache = entry;
    return entry;
  }

  private async fetchNode(name: string): Promise<KVPair<ResourceKey> | undefined> {
    const kv = await this.get<ResourceKey>({ type: 'resource', kind: 'Node', name });
    if (kv) {
      Object.freeze(kv.key);
      remember(this.nodeCache, name, kv, CACHE_LIMITS.nodes);
    }
    else this.nodeCache.delete(name);
    return kv;
  }

  private async fetchAffinities(host: string, type: 'host' | 'virtual', version: IPVersion): Promise<KVPair<BlockAffinityKey>[]> {
    const list = await this.ds.listKV({ type: 'blockAffinity', host, ipVersion: version, affinityType: type });
    const items = list.items.filter((a) => !(a.value as BlockAffinity).deleted).sort(affinityListOrder);
    for (const item of items) Object.freeze(item.key);
    remember(this.affinityCache, `${type}:${host}:${version}`, { items, at: this.clock.now(), revision: list.revision }, CACHE_LIMITS.affinities);
    return items;
  }

  /** Conditions on the context an autoAssign decision used: IPAM config, node, the family's pools, reservations. */
  private contextConditions(config: ConfigEntry, node: KVPair<ResourceKey> | undefined, pools: PoolsEntry, reservations: ReservationsEntry, version: IPVersion): TxnCondition[] {
    const conditions: TxnCondition[] = [config.kv ? { key: CONFIG_KEY, revision: config.kv.revision } : { key: CONFIG_KEY, absent: true }];
    if (node) conditions.push({ key: node.key, revision: node.revision });
    const poolConditions = pools.conditions[version];
    const reservationConditions = reservations.conditions;
    if (poolConditions.length + reservationConditions.length <= MAX_CONTEXT_CONDITIONS) {
      for (const c of poolConditions) conditions.push(c);
      for (const c of reservationConditions) conditions.push(c);
    } else {
      // Too many to guard: these lists are read on every call instead.
      if (this.poolsCache === pools) this.poolsCache = undefined;
      if (this.reservationsCache === reservations) this.reservationsCache = undefined;
    }
    return conditions;
  }

  /**
   * The config, reservations, node, pools and the owner's affinities for one autoAssign attempt:
   * from the caches where allowed (`fresh` false, caching on, within `cacheTtlMs` for the lists
   * no condition guards), else read (independent reads issued together).
   */
  private async loadView(version: IPVersion, host: string, affinityType: 'host' | 'virtual', needNode: boolean, fresh: boolean, freshAffinities: boolean): Promise<FamilyView> {
    const cached = this.caching && !fresh;
    const now = this.clock.now();
    const ttl = this.cacheTtlMs;
    let config = cached ? this.configCache : undefined;
    // Validated mode: the cached lists are used as they are; the commits prove them current.
    const validated = this.validated;
    let pools = cached && this.poolsCache && (validated || now - this.poolsCache.at < ttl) ? this.poolsCache : undefined;
    let reservations = cached && this.reservationsCache && (validated || now - this.reservationsCache.at < ttl) ? this.reservationsCache : undefined;
    let node = cached && needNode ? this.nodeCache.get(host) : undefined;
    const affEntry = cached && !freshAffinities ? this.affinityCache.get(`${affinityType}:${host}:${version}`) : undefined;
    let affinities = affEntry && now - affEntry.at < ttl ? affEntry.items : undefined;
    const allFetched = !config && !pools && !reservations && !affinities && (!needNode || !node);
    const affinitiesFresh = !affinities;
    const reads: Promise<unknown>[] = [];
    if (!config) reads.push(this.fetchConfig().then((e) => (config = e)));
    if (!reservations) reads.push(this.fetchReservations().then((e) => (reservations = e)));
    if (needNode && !node) reads.push(this.fetchNode(host).then((kv) => (node = kv)));
    if (!pools) reads.push(this.fetchPools().then((e) => (pools = e)));
    if (!affinities) reads.push(this.fetchAffinities(host, affinityType, version).then((items) => (affinities = items)));
    if (reads.length === 1) await reads[0];
    else if (reads.length > 1) await Promise.all(reads);
    const cfg = config!.config;
    if (this.windows && !cfg.strictAffinity) throw new StrictAffinityRequiredError();
    if (needNode && !node) throw new ResourceNotFoundError({ kind: 'Node', name: host });
    const conditions = this.caching ? this.contextConditions(config!, node, pools!, reservations!, version) : [];
    return {
      config: cfg,
      reserved: reservations!.set,
      nodeLabels: (node?.value as Node | undefined)?.metadata?.labels ?? {},
      allPools: pools!.pools,
      affinities: affinities!,
      fresh: !this.caching || allFetched,
      affinitiesFresh,
      conditions,
      listConditions: validated
        ? [
            { list: POOL_LIST, notModifiedAfter: pools!.revision },
            { list: RESERVATION_LIST, notModifiedAfter: reservations!.revision },
          ]
        : [],
    };
  }

  /**
   * Writes the IPAM config (fields not given keep their current value). Rejects StrictAffinity and
   * AutoAllocateBlocks both false, and MaxBlocksPerHost > 0 without StrictAffinity
   * (`ValidationError`, nothing written). A no-op when nothing changes.
   */
  async setIPAMConfig(update: IPAMConfigUpdate): Promise<IPAMConfig> {
    const errors: FieldError[] = [];
    if (typeof update !== 'object' || update === null) {
      throw new ValidationError([{ name: 'config', value: update, reason: 'must be an object' }]);
    }
    for (const field of ['strictAffinity', 'autoAllocateBlocks'] as const) {
      if (update[field] !== undefined && typeof update[field] !== 'boolean') errors.push({ name: field, value: update[field], reason: 'must be a boolean' });
    }
    if (update.maxBlocksPerHost !== undefined && (!Number.isInteger(update.maxBlocksPerHost) || update.maxBlocksPerHost < 0 || update.maxBlocksPerHost > 2147483647)) {
      errors.push({ name: 'maxBlocksPerHost', value: update.maxBlocksPerHost, reason: 'must be an integer 0..2147483647' });
    }
    if (update.ipCooldownSeconds !== undefined && (!Number.isInteger(update.ipCooldownSeconds) || update.ipCooldownSeconds < 0 || update.ipCooldownSeconds > 1200)) {
      errors.push({ name: 'ipCooldownSeconds', value: update.ipCooldownSeconds, reason: 'must be an integer 0..1200' });
    }
    if (update.kubeVirtVMAddressPersistence !== undefined && update.kubeVirtVMAddressPersistence !== 'Enabled' && update.kubeVirtVMAddressPersistence !== 'Disabled') {
      errors.push({ name: 'kubeVirtVMAddressPersistence', value: update.kubeVirtVMAddressPersistence, reason: 'must be Enabled or Disabled' });
    }
    if (errors.length) throw new ValidationError(errors, { identifier: 'IPAM config' });
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      const list = await this.ds.listKV({ type: 'ipamConfig' });
      const current = list.items[0];
      const base: IPAMConfig = current ? { ...DEFAULT_CONFIG, ...current.value } : { ...DEFAULT_CONFIG };
      const next: IPAMConfig = { ...base };
      for (const [k, v] of Object.entries(update)) if (v !== undefined) (next as unknown as Record<string, unknown>)[k] = v;
      if (!next.strictAffinity && !next.autoAllocateBlocks) {
        throw new ValidationError([{ name: 'autoAllocateBlocks', value: false, reason: "Cannot disable 'StrictAffinity' and 'AutoAllocateBlocks' at the same time" }]);
      }
      if (next.maxBlocksPerHost > 0 && !next.strictAffinity) {
        throw new ValidationError([{ name: 'maxBlocksPerHost', value: next.maxBlocksPerHost, reason: 'MaxBlocksPerHost requires StrictAffinity to be enabled' }]);
      }
      if (current && JSON.stringify(current.value) === JSON.stringify(next)) return next;
      try {
        await this.write('config:write', [CONFIG_KEY], () =>
          current ? this.ds.updateKV(CONFIG_KEY, next, current.revision) : this.ds.createKV(CONFIG_KEY, next),
        );
        return next;
      } catch (error) {
        if (!isConflict(error)) throw error;
        await this.backoff();
      }
    }
    throw new MaxRetriesError();
  }

  /** Reads the reservations (fresh). */
  private async readReservations(): Promise<ReservedSet> {
    return (await this.fetchReservations()).set;
  }

  /** All pools (any state), in list order = by name (fresh read). */
  private async readPools(): Promise<PoolInfo[]> {
    return (await this.fetchPools()).pools;
  }

  private async readNode(name: string): Promise<Node | undefined> {
    return (await this.fetchNode(name))?.value as Node | undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Handles

  /** Applies `delta` to handle `handleId`'s count for `cidr` in a value; returns the new value or null to delete. */
  private static adjustHandle(current: IPAMHandle | undefined, cidr: string, delta: number): IPAMHandle | null {
    const block = { ...(current?.block ?? {}) };
    const next = (block[cidr] ?? 0) + delta;
    if (next > 0) block[cidr] = next;
    else delete block[cidr];
    if (Object.keys(block).length === 0) return null;
    return { block, deleted: false };
  }

  /** Separate handle write with its own CAS loop (non-atomic datastores). */
  private async changeHandle(handleId: string, cidr: string, delta: number, point: 'handle:increment' | 'handle:decrement'): Promise<void> {
    const key = handleKey(handleId);
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      const current = await this.get(key);
      if (!current && delta < 0) return;
      const next = IPAM.adjustHandle(current?.value, cidr, delta);
      try {
        // A lost answer: the write counts as applied when the handle now holds exactly what it
        // wrote under a new revision (or is gone, for a delete). Only checked for retryable
        // failures: after a conflict the count is read again and re-applied, as upstream.
        await this.writeIdempotent(
          point,
          [key],
          async () => {
            if (!current) await this.ds.createKV(key, next!);
            else if (next === null) await this.ds.deleteKV(key, current.revision);
            else await this.ds.updateKV(key, next, current.revision);
            return true;
          },
          async () => {
            const stored = await this.get(key);
            if (next === null) return stored ? undefined : true;
            if (!stored || stored.revision === current?.revision || !sameHandle(stored.value, next)) return undefined;
            return true;
          },
          isLostAnswer,
        );
        return;
      } catch (error) {
        if (!isConflict(error) && !isNotFound(error)) throw error;
        await this.backoff();
      }
    }
    throw new MaxRetriesError('Max retries hit');
  }

  /**
   * After a failed atomic commit: learn what the failed condition names. A handle is re-read (the
   * caller's retry then conditions on its real revision); the committed-to block is forgotten;
   * a context key (config, node, pool, reservation, affinity, walk block) invalidates that cache
   * and throws StaleViewSignal so the autoAssign attempt starts again from fresh reads.
   */
  private async onCommitConflict(error: unknown, conditions: readonly TxnCondition[], bKey: BlockKey | undefined): Promise<void> {
    const key = failedKey(error, conditions.map((c) => c.key));
    if (!key) {
      // Unattributed (e.g. a condition changed while etcd reported it): forget everything involved.
      this.forget(conditions.map((c) => c.key));
      if (conditions.some((c) => c.key.type === 'resource' || c.key.type === 'ipamConfig' || c.key.type === 'blockAffinity')) throw new StaleViewSignal();
      return;
    }
    this.forget([key]);
    if (key.type === 'handle') {
      const current = await this.get(key);
      if (current) remember(this.handleCache, key.handleId, current, CACHE_LIMITS.handles);
      return;
    }
    if (bKey && key.type === 'block' && key.cidr === bKey.cidr) return;
    throw new StaleViewSignal(key.type === 'blockAffinity');
  }

  /** Records what a successful atomic commit wrote in the caches. */
  private afterCommit(operations: readonly TxnOperation[], results: readonly { revision?: string }[]): void {
    const now = this.clock.now();
    for (let i = 0; i < operations.length; i++) {
      const op = operations[i]!;
      const revision = results[i]?.revision;
      const key = op.key;
      if (key.type === 'block') {
        if (op.op === 'put' && revision !== undefined) {
          const value = op.value as AllocationBlock;
          Object.freeze(key);
          remember(this.blockCache, key.cidr, { kv: { key, value, revision }, at: now, released: hasReleased(value) }, CACHE_LIMITS.blocks);
        } else this.blockCache.delete(key.cidr);
      } else if (key.type === 'handle') {
        if (op.op === 'put' && revision !== undefined) remember(this.handleCache, key.handleId, { key, value: op.value as IPAMHandle, revision }, CACHE_LIMITS.handles);
        else this.handleCache.delete(key.handleId);
      }
    }
  }

  /**
   * After a block write failed in a way that leaves its outcome open — a conflict (a client
   * library may have re-sent a write that was applied, and the re-sent copy then fails its own
   * condition), a key gone, or a retryable failure whose answer was lost — reads the block again
   * and asks `verify` whether OUR write is in it. `landed` (with the stored pair, undefined when
   * the block is absent), `notLanded`, or `unknown` when the read itself failed.
   * See docs/cas-loop.md, "Indeterminate commits".
   */
  private async verifyBlockWrite(
    bKey: BlockKey,
    verify: (stored: AllocationBlock | undefined) => boolean,
  ): Promise<{ outcome: 'landed'; kv: KVPair<BlockKey> | undefined } | { outcome: 'notLanded' | 'unknown' }> {
    let stored: KVPair<BlockKey> | undefined;
    try {
      stored = await this.get(bKey);
    } catch {
      return { outcome: 'unknown' };
    }
    if (stored) this.cacheBlock(stored);
    else this.forget([bKey]);
    return verify(stored?.value) ? { outcome: 'landed', kv: stored } : { outcome: 'notLanded' };
  }

  /**
   * Commits a block write (put, or delete when `next` is null) together with handle count changes.
   * Atomic datastores: one transaction conditioned on the block revision, each handle's revision
   * (or absence; a handle this engine has not cached is assumed absent), and `context` (the
   * autoAssign view: config, node, pools, reservations, the block's affinity). A failed context
   * condition throws StaleViewSignal; a failed handle condition refreshes that handle; a block
   * conflict is returned to the caller's loop, as in Calico. Others: Calico's order — for
   * increments handle first then block (rolled back if the block write fails); for decrements
   * block first then handles.
   *
   * `verify` makes the commit idempotent under indeterminate failures: when the write fails with
   * a conflict, a missing key or a retryable error, the block is read again and, if `verify` finds
   * this write in it, the commit counts as done (handles included: they were in the same
   * transaction, or written before the block). A retryable failure that cannot be shown to have
   * landed is rethrown as it is (and, on the two-write protocol, when not even the check could
   * read the block, the handle increment is kept: over-counting is the safe side).
   */
  private async commitBlock(
    point: 'assign:commit' | 'release:commit',
    blockKV: KVPair<BlockKey>,
    next: AllocationBlock | null,
    handleDeltas: Map<string, number>,
    context: readonly TxnCondition[] = [],
    verify?: (stored: AllocationBlock | undefined) => boolean,
    listConditions: readonly ListCondition[] = [],
  ): Promise<KVPair<BlockKey> | undefined> {
    const bKey = blockKV.key;
    if (this.atomic) {
      const conditions: TxnCondition[] = [{ key: bKey, revision: blockKV.revision }];
      const operations: TxnOperation[] = [];
      const keys: Key[] = [bKey];
      const handleKeys: HandleKey[] = [];
      for (const [handleId, delta] of handleDeltas) {
        const hKey = handleKey(handleId);
        keys.push(hKey);
        const current = delta < 0 ? await this.get(hKey) : this.handleCache.get(handleId);
        if (!current && delta < 0) continue;
        const value = IPAM.adjustHandle(current?.value, blockKV.value.cidr, delta);
        conditions.push(current ? { key: hKey, revision: current.revision } : { key: hKey, absent: true });
        operations.push(value === null ? { op: 'delete', key: hKey } : { op: 'put', key: hKey, value });
        handleKeys.push(hKey);
      }
      for (const c of context) conditions.push(c);
      operations.push(next === null ? { op: 'delete', key: bKey } : { op: 'put', key: bKey, value: next });
      let result;
      try {
        if (this.hooks?.beforeWrite) await this.hooks.beforeWrite(point, keys);
        result = await this.ds.transact(conditions, operations, listConditions.length > 0 ? { listConditions: [...listConditions] } : undefined);
      } catch (error) {
        if (verify && isIndeterminate(error)) {
          // The handles' revisions are unknown now whatever happened: read them again when needed.
          this.forget(handleKeys);
          const check = await this.verifyBlockWrite(bKey, verify);
          if (check.outcome === 'landed') {
            if (point === 'release:commit') this.blockEpoch++;
            if (this.hooks?.afterWrite) await this.hooks.afterWrite(point, keys);
            return check.kv;
          }
          if (check.outcome === 'unknown' && isConflict(error)) throw this.undecided(error);
        }
        // A failed list condition is unattributed: onCommitConflict then sends the attempt to
        // fresh reads (the context conditions name resources), which renew the lists.
        if (isConflict(error)) await this.onCommitConflict(error, conditions, bKey);
        throw error;
      }
      this.afterCommit(operations, result.results);
      if (point === 'release:commit') this.blockEpoch++;
      if (this.hooks?.afterWrite) await this.hooks.afterWrite(point, keys);
      if (next === null) return undefined;
      const revision = result.results[result.results.length - 1]?.revision ?? result.revision;
      return { key: bKey, value: next, revision };
    }
    this.forget([bKey, ...[...handleDeltas.keys()].map(handleKey)]);
    // Calico's sequential protocol.
    const increments = [...handleDeltas].filter(([, d]) => d > 0);
    const decrements = [...handleDeltas].filter(([, d]) => d < 0);
    const done: [string, number][] = [];
    for (const [h, d] of increments) {
      await this.changeHandle(h, blockKV.value.cidr, d, 'handle:increment');
      done.push([h, d]);
    }
    let written: KVPair<BlockKey> | undefined;
    try {
      if (this.hooks?.beforeWrite) await this.hooks.beforeWrite(point, [bKey]);
      written = next === null ? (await this.ds.deleteKV(bKey, blockKV.revision), undefined) : await this.ds.updateKV(bKey, next, blockKV.revision);
    } catch (error) {
      let check: Awaited<ReturnType<IPAM['verifyBlockWrite']>> | undefined;
      if (verify && isIndeterminate(error)) check = await this.verifyBlockWrite(bKey, verify);
      if (check?.outcome === 'landed') {
        written = check.kv;
      } else {
        // A retryable failure may still be applied later (and the check may not have been able
        // to read): keep the increments — a handle may over-count (check() reports it), never
        // under-count. A refused write (conflict, crash before it) wrote nothing: roll them back.
        const keepIncrements = check?.outcome === 'unknown' || isLostAnswer(error);
        if (!keepIncrements) {
          for (const [h, d] of done) {
            try {
              await this.changeHandle(h, blockKV.value.cidr, -d, 'handle:decrement');
            } catch (rollbackError) {
              // The roll-back failed: the handle over-counts (check() reports it). Only datastore
              // failures are absorbed; anything else (a crash) propagates.
              if (!CalicoError.isInstance(rollbackError) || !isDatastoreFailure(rollbackError)) throw rollbackError;
            }
          }
        }
        if (check?.outcome === 'unknown' && isConflict(error)) throw this.undecided(error);
        throw error;
      }
    }
    // The block is written: a failure (or crash) from here on must not roll the handle back.
    if (this.hooks?.afterWrite) await this.hooks.afterWrite(point, [bKey]);
    for (const [h, d] of decrements) {
      try {
        await this.changeHandle(h, blockKV.value.cidr, d, 'handle:decrement');
      } catch (decrementError) {
        // Upstream only logs this; check() reports the mismatch. Non-datastore errors propagate.
        if (!isDatastoreFailure(decrementError)) throw decrementError;
      }
    }
    return written;
  }

  /**
   * A conflict whose cause could not be checked (the verifying read failed): retrying could
   * repeat a write that was applied, so the operation stops with a retryable error instead.
   */
  private undecided(error: unknown): DatastoreUnavailableError {
    return new DatastoreUnavailableError('a write failed and the datastore could not be read to tell whether it was applied', { cause: error });
  }

  // -------------------------------------------------------------------------------------------
  // Claim protocol (reference §4.3) and affinity release (§4.4)

  /** Step 1: the pending affinity record. */
  private async getPendingAffinity(host: string, type: 'host' | 'virtual', cidr: string): Promise<KVPair<BlockAffinityKey>> {
    const key = affinityKey(host, cidr, type);
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      try {
        return await this.write('claimAffinity:pending', [key], () => this.ds.createKV(key, { state: 'pending', deleted: false }));
      } catch (error) {
        // Exists (read it below), or a lost race reported as a conflict: re-read either way.
        if (!isConflict(error)) throw error;
      }
      const existing = await this.get(key);
      if (!existing) continue;
      if (existing.value.state === 'confirmed') return existing;
      try {
        return await this.write('claimAffinity:pending', [key], () =>
          this.ds.updateKV(key, { state: 'pending', deleted: false }, existing.revision),
        );
      } catch (error) {
        if (!isConflict(error) && !isNotFound(error)) throw error;
        await this.backoff();
      }
    }
    throw new MaxRetriesError();
  }

  private async confirmAffinity(aff: KVPair<BlockAffinityKey>): Promise<KVPair<BlockAffinityKey>> {
    // A conflict or a lost answer: confirmed (by us, or by another process of this host) is done.
    return this.writeIdempotent(
      'claimAffinity:confirm',
      [aff.key],
      () => this.ds.updateKV(aff.key, { state: 'confirmed', deleted: false }, aff.revision),
      async () => {
        const current = await this.get(aff.key);
        return current && current.value.state === 'confirmed' ? current : undefined;
      },
      (error) => isConflict(error) || isLostAnswer(error),
    );
  }

  private async deleteAffinityBestEffort(aff: KVPair<BlockAffinityKey>): Promise<void> {
    try {
      await this.write('claimAffinity:deleteStale', [aff.key], () => this.ds.deleteKV(aff.key, aff.revision));
    } catch (error) {
      if (!isNotFound(error) && !isConflict(error)) throw error;
    }
  }

  /**
   * Step 2 ("get block from affinity"): create the block if absent, verify ownership, confirm.
   * Throws ClaimConflictSignal / StaleAffinitySignal when another owner holds the block, and
   * datastore conflicts for the caller's retry loop.
   */
  private async getBlockFromAffinity(
    aff: KVPair<BlockAffinityKey>,
    rsvdAttr: HostReservedAttr | undefined,
  ): Promise<KVPair<BlockKey>> {
    const type = aff.key.affinityType ?? 'host';
    const ours = `${type}:${aff.key.host}`;
    const cidr = parseCIDR(aff.key.cidr);
    if (!cidr) throw new IPAMError('notInPool', `invalid affinity CIDR ${aff.key.cidr}`);
    const bKey = blockKey(cidr.text);
    const existing = await this.get(bKey);
    if (!existing) {
      let pending = aff;
      if (aff.value.state !== 'pending') {
        pending = await this.write('claimAffinity:pending', [aff.key], () =>
          this.ds.updateKV(aff.key, { state: 'pending', deleted: false }, aff.revision),
        );
      }
      const fresh = newBlock(cidr, ours, this.nowNanos(), this.nowSeconds(), rsvdAttr);
      try {
        const created = await this.writeIdempotent(
          'claimAffinity:createBlock',
          [bKey],
          () => this.ds.createKV(bKey, fresh),
          async () => {
            const stored = await this.get(bKey);
            return stored && sameBlock(stored.value, fresh) ? stored : undefined;
          },
        );
        await this.confirmAffinity(pending);
        return created;
      } catch (error) {
        if (!ResourceExistsError.isInstance(error)) throw error;
      }
      const winner = await this.get(bKey);
      if (winner && winner.value.affinity === ours) {
        await this.confirmAffinity(pending);
        return winner;
      }
      await this.deleteAffinityBestEffort(pending);
      throw new ClaimConflictSignal(`${cidr.text} already claimed by ${winner?.value.affinity ?? '<none>'}`);
    }
    if (existing.value.affinity !== ours) {
      await this.deleteAffinityBestEffort(aff);
      throw new StaleAffinitySignal(`affinity ${ours} ${cidr.text} is stale: the block's affinity is ${existing.value.affinity}`);
    }
    if (aff.value.state === 'confirmed' || aff.value.state === '') return existing;
    let pending = aff;
    if (aff.value.state !== 'pending') {
      pending = await this.write('claimAffinity:pending', [aff.key], () =>
        this.ds.updateKV(aff.key, { state: 'pending', deleted: false }, aff.revision),
      );
    }
    const touched = cloneBlock(existing.value);
    touched.sequenceNumber += 1n;
    const written = await this.writeIdempotent(
      'claimAffinity:touchBlock',
      [bKey],
      () => this.ds.updateKV(bKey, touched, existing.revision),
      async () => {
        const stored = await this.get(bKey);
        return stored && sameBlock(stored.value, touched) ? stored : undefined;
      },
    );
    await this.confirmAffinity(pending);
    return written;
  }

  /** Pending affinity + claim, retrying datastore conflicts. */
  private async claimBlock(host: string, type: 'host' | 'virtual', cidr: string, rsvdAttr: HostReservedAttr | undefined): Promise<KVPair<BlockKey>> {
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      const aff = await this.getPendingAffinity(host, type, cidr);
      try {
        return await this.getBlockFromAffinity(aff, rsvdAttr);
      } catch (error) {
        if (!isConflict(error) && !isNotFound(error)) throw error;
        await this.backoff();
      }
    }
    throw new MaxRetriesError();
  }

  /**
   * Reference §4.4. Returns normally when released. Throws `ResourceNotFoundError` (record or
   * block absent), ClaimConflictSignal (block owned by another), IPAMError blockNotEmpty /
   * staleBlock, or a datastore conflict.
   */
  private async releaseBlockAffinityOnce(
    host: string,
    type: 'host' | 'virtual',
    cidr: string,
    mustBeEmpty: boolean,
    requiredSequence?: bigint,
  ): Promise<void> {
    if (!host) throw new ValidationError([{ name: 'host', value: host, reason: 'Hostname must be specified to release block affinity' }]);
    const aKey = affinityKey(host, cidr, type);
    const aff = await this.get(aKey);
    if (!aff) throw new ResourceNotFoundError(aKey.type === 'blockAffinity' ? `affinity ${type}:${host} ${cidr}` : cidr);
    const bKey = blockKey(cidr);
    const block = await this.get(bKey);
    if (!block) throw new ResourceNotFoundError(`block ${cidr}`);
    if (requiredSequence !== undefined && block.value.sequenceNumber !== requiredSequence) {
      throw new IPAMError('staleBlock', 'IPAM block updated since we last read it');
    }
    const ours = `${type}:${host}`;
    if (block.value.affinity !== null && block.value.affinity !== undefined && block.value.affinity !== ours) {
      await this.deleteAffinityBestEffort(aff);
      throw new ClaimConflictSignal(`${cidr} already claimed by ${block.value.affinity}`);
    }
    const view = cloneBlock(block.value);
    gcPass(view, (await this.getIPAMConfig()).ipCooldownSeconds ?? 0, this.clock.now());
    const empty = isBlockEmpty(view);
    if (mustBeEmpty && !empty) throw new IPAMError('blockNotEmpty', `block '${cidr}' is not empty`);
    // Each step is idempotent under lost answers: an applied step is recognised on a re-read and
    // the protocol goes on (docs/cas-loop.md, "Indeterminate commits").
    const pendingDeletion = await this.writeIdempotent(
      'releaseAffinity:pendingDeletion',
      [aKey],
      () => this.ds.updateKV(aKey, { state: 'pendingDeletion', deleted: false }, aff.revision),
      async () => {
        const stored = await this.get(aKey);
        return stored && stored.revision !== aff.revision && stored.value.state === 'pendingDeletion' ? stored : undefined;
      },
      isLostAnswer,
    );
    if (empty) {
      await this.writeIdempotent(
        'releaseAffinity:deleteBlock',
        [bKey],
        () => this.ds.deleteKV(bKey, block.revision),
        async () => ((await this.get(bKey)) ? undefined : block),
      );
    } else {
      const unowned = cloneBlock(block.value);
      unowned.affinity = null;
      delete unowned.affinityClaimTime;
      unowned.sequenceNumber += 1n;
      await this.writeIdempotent(
        'releaseAffinity:updateBlock',
        [bKey],
        () => this.ds.updateKV(bKey, unowned, block.revision),
        async () => {
          const stored = await this.get(bKey);
          return stored && sameBlock(stored.value, unowned) ? stored : undefined;
        },
      );
    }
    try {
      await this.writeIdempotent(
        'releaseAffinity:deleteAffinity',
        [aKey],
        () => this.ds.deleteKV(aKey, pendingDeletion.revision),
        async () => ((await this.get(aKey)) ? undefined : pendingDeletion),
        isLostAnswer,
      );
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Releases with conflict retries; "not ours" and "does not exist" count as done. Other errors propagate. */
  private async releaseBlockAffinityRetrying(host: string, type: 'host' | 'virtual', cidr: string, mustBeEmpty: boolean): Promise<void> {
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      try {
        await this.releaseBlockAffinityOnce(host, type, cidr, mustBeEmpty);
        return;
      } catch (error) {
        if (error instanceof ClaimConflictSignal || isNotFound(error)) return;
        if (!isConflict(error)) throw error;
        await this.backoff();
      }
    }
    throw new MaxRetriesError();
  }

  // -------------------------------------------------------------------------------------------
  // Pool eligibility (reference §5.3)

  private eligiblePools(
    version: IPVersion,
    use: string,
    hostname: string,
    requested: string[] | undefined,
    rsvdAttr: HostReservedAttr | undefined,
    nodeLabels: Record<string, string>,
    namespaceLabels: Record<string, string>,
    allPools: PoolInfo[],
  ): { pools: PoolInfo[]; selecting: PoolInfo[]; enabled: PoolInfo[]; remaining: PoolInfo[] } {
    const bits = bitsOf(version);
    let maxPrefix = bits;
    if (rsvdAttr) {
      const total = rsvdAttr.startOfBlock + rsvdAttr.endOfBlock;
      if (total === 0) throw new ValidationError([{ name: 'hostReservedAttr', value: rsvdAttr, reason: 'HostReservedAttr has wrong parameters' }]);
      maxPrefix = bits - total.toString(2).length;
    }
    const enabled = allPools.filter((p) => p.enabled && p.cidr.version === version);
    const remaining = enabled.filter((p) => p.blockSize <= maxPrefix);
    if (remaining.length === 0) throw new NoQualifiedPoolError();
    let pools: PoolInfo[];
    let selecting: PoolInfo[];
    if (requested && requested.length > 0) {
      pools = [];
      for (const text of requested) {
        const cidr = parseCIDR(text);
        const match = cidr && remaining.find((p) => p.cidr.text === cidr.text);
        if (!match) throw new IPAMError('notInPool', `the given pool (${text}) does not exist, or is not enabled`);
        pools.push(match);
      }
      selecting = pools;
    } else {
      pools = remaining.filter(
        (p) => p.assignmentMode === 'Automatic' && selectorMatches(p.nodeSelector, nodeLabels) && selectorMatches(p.namespaceSelector, namespaceLabels),
      );
      selecting = pools;
    }
    if (pools.length === 0) throw new IPAMError('noPoolsForNode', `no configured Calico pools for node ${hostname}`);
    const allowed = pools.filter((p) => p.allowedUses.includes(use));
    if (allowed.length === 0) throw new NoQualifiedPoolError(use);
    return { pools: allowed, selecting, enabled, remaining };
  }

  // -------------------------------------------------------------------------------------------
  // AutoAssign (reference §5)

  /**
   * Assigns up to `num4` IPv4 and `num6` IPv6 addresses to `handleId` on `hostname`, from the
   * host's affine blocks first, then new blocks, then (StrictAffinity off) by borrowing.
   *
   * Fewer addresses than requested is NOT an error in several cases (as upstream): check
   * `ips.length` or use {@link partialFulfillmentError}. Errors: `ValidationError` (bad input,
   * nothing written), `NoQualifiedPoolError`, `IPAMError` (`notInPool`, `noPoolsForNode`,
   * `noBlock`, `insufficientFree`), `BlockLimitError`, `MaxRetriesError`,
   * `ResourceNotFoundError` (no Node named `hostname`), datastore errors. Errors raised after some
   * addresses were assigned carry them as `partialResult`.
   *
   * @example
   * const { ipv4 } = await ipam.autoAssign({ num4: 1, handleId: 'k8s-pod-network.abc', hostname: 'node-1',
   *   intendedUse: 'Workload', attrs: { pod: 'nginx', namespace: 'default', node: 'node-1' } });
   * ipv4!.ips; // ['10.244.84.128/26']
   */
  async autoAssign(args: AutoAssignArgs): Promise<AutoAssignResult> {
    const errors: FieldError[] = [];
    if (typeof args !== 'object' || args === null) throw new ValidationError([{ name: 'args', value: args, reason: 'must be an object' }]);
    const num4 = args.num4 ?? 0;
    const num6 = args.num6 ?? 0;
    for (const [name, n] of [['num4', num4], ['num6', num6]] as const) {
      if (!Number.isSafeInteger(n) || n < 0) errors.push({ name, value: n, reason: 'must be an integer >= 0' });
    }
    if (args.maxBlocksPerHost !== undefined && (!Number.isInteger(args.maxBlocksPerHost) || args.maxBlocksPerHost < 0)) {
      errors.push({ name: 'maxBlocksPerHost', value: args.maxBlocksPerHost, reason: 'must be an integer >= 0' });
    }
    if (!args.intendedUse) errors.push({ name: 'intendedUse', value: args.intendedUse, reason: 'must specify the intended use when assigning an IP' });
    else if (!Object.values(IntendedUse).includes(args.intendedUse)) {
      errors.push({ name: 'intendedUse', value: args.intendedUse, reason: 'must be Workload, Tunnel or LoadBalancer' });
    }
    validateHandle(args.handleId, 'handleId', errors);
    validateAttrs(args.attrs, 'attrs', errors);
    for (const [name, list] of [['ipv4Pools', args.ipv4Pools], ['ipv6Pools', args.ipv6Pools]] as const) {
      if (list === undefined) continue;
      if (!Array.isArray(list)) errors.push({ name, value: list, reason: 'must be a list of CIDRs' });
      else list.forEach((p, i) => {
        if (!parseCIDR(p)) errors.push({ name: `${name}[${i}]`, value: p, reason: 'not a valid CIDR' });
      });
    }
    for (const [name, r] of [['hostReservedAttrIPv4s', args.hostReservedAttrIPv4s], ['hostReservedAttrIPv6s', args.hostReservedAttrIPv6s]] as const) {
      if (r !== undefined && r !== null) validateReserved(r, name, errors);
    }
    if (errors.length) throw new ValidationError(errors);
    if (args.ipv4Pools?.some((p) => parseCIDR(p)!.version !== 4)) {
      throw new ValidationError([{ name: 'ipv4Pools', value: args.ipv4Pools, reason: 'provided IPv4 IPPools list contains one or more IPv6 IPPools' }]);
    }
    if (args.ipv6Pools?.some((p) => parseCIDR(p)!.version !== 6)) {
      throw new ValidationError([{ name: 'ipv6Pools', value: args.ipv6Pools, reason: 'provided IPv6 IPPools list contains one or more IPv4 IPPools' }]);
    }
    const host = this.resolveHostname(args.hostname);
    const result: AutoAssignResult = { ipv4: null, ipv6: null };
    if (num4 > 0) {
      try {
        result.ipv4 = await this.assignFamily(4, num4, args.ipv4Pools, args.hostReservedAttrIPv4s ?? undefined, host, args);
      } catch (error) {
        const partial = (error as { familyPartial?: IPAMAssignments }).familyPartial;
        if (partial) result.ipv4 = partial;
        throw withPartialResult(error, result);
      }
    }
    if (num6 > 0) {
      try {
        result.ipv6 = await this.assignFamily(6, num6, args.ipv6Pools, args.hostReservedAttrIPv6s ?? undefined, host, args);
      } catch (error) {
        const partial = (error as { familyPartial?: IPAMAssignments }).familyPartial;
        if (partial) result.ipv6 = partial;
        throw withPartialResult(error, result);
      }
    }
    return result;
  }

  private async assignFamily(
    version: IPVersion,
    num: number,
    requestedPools: string[] | undefined,
    rsvdAttr: HostReservedAttr | undefined,
    host: string,
    args: AutoAssignArgs,
  ): Promise<IPAMAssignments> {
    const use = args.intendedUse;
    const affinityType = use === 'LoadBalancer' ? 'virtual' : 'host';
    if (this.caching && requestedPools === undefined && rsvdAttr === undefined) {
      const fast = await this.tryFastAssign(version, num, host, affinityType, use, args);
      if (fast) return fast;
    }
    const result: IPAMAssignments = { ips: [], ipVersion: version, numRequested: num, msgs: [] };
    if (rsvdAttr) result.hostReservedAttr = rsvdAttr;
    // An attempt decides on a view that may come from the caches; when it turns out stale, or
    // when it would end in anything but committed allocations, it is redone on fresh reads
    // (addresses already committed are kept).
    let fresh = false;
    let freshAffinities = false;
    for (let attempt = 0; ; attempt++) {
      const view = await this.loadView(version, host, affinityType, use !== 'LoadBalancer', fresh, freshAffinities);
      try {
        await this.assignWithView(view, version, num, requestedPools, rsvdAttr, host, args, result);
        return result;
      } catch (error) {
        if (!(error instanceof StaleViewSignal)) throw error;
        if (attempt + 1 >= this.maxRetries) {
          const exhausted = new MaxRetriesError();
          Object.defineProperty(exhausted, 'familyPartial', { value: result, enumerable: false, configurable: true });
          throw exhausted;
        }
        if (error.onlyAffinities) freshAffinities = true;
        else fresh = true;
      }
    }
  }

  /**
   * What the fast path derives from the caches for (use, host, family): the eligible affinities in
   * order, with the context conditions. Undefined when something is not cached, too old, or needs
   * the full protocol (an affinity to release, one outside every known pool, namespace selectors).
   * Memoised while the cache entries it was built from are the current ones.
   */
  private fastView(version: IPVersion, host: string, affinityType: 'host' | 'virtual', use: string): FastView | undefined {
    const now = this.clock.now();
    const ttl = this.cacheTtlMs;
    const config = this.configCache;
    const pools = this.poolsCache;
    const reservations = this.reservationsCache;
    const validated = this.validated;
    if (!config || !pools || !reservations) return undefined;
    if (!validated && (now - pools.at >= ttl || now - reservations.at >= ttl)) return undefined;
    const needNode = use !== 'LoadBalancer';
    const node = needNode ? this.nodeCache.get(host) : undefined;
    if (needNode && !node) return undefined;
    const affinities = this.affinityCache.get(`${affinityType}:${host}:${version}`);
    if (!affinities || (validated ? affinities.revision === undefined : now - affinities.at >= ttl)) return undefined;
    const key = `${use}:${host}:${version}`;
    const memo = this.fastViews.get(key);
    if (memo && memo.config === config && memo.pools === pools && memo.reservations === reservations && memo.node === node && memo.affinities === affinities) {
      return memo;
    }
    if (this.windows && !config.config.strictAffinity) return undefined;
    const labels = (node?.value as Node | undefined)?.metadata?.labels ?? {};
    let eligible: ReturnType<IPAM['eligiblePools']>;
    try {
      eligible = this.eligiblePools(version, use, host, undefined, undefined, labels, {}, pools.pools);
    } catch {
      return undefined;
    }
    // Namespace labels must not matter (else each request's labels would have to be part of the key).
    if (eligible.remaining.some((p) => p.namespaceSelector.trim() !== '' && p.namespaceSelector.trim() !== 'all()')) return undefined;
    const reserved = reservations.set;
    const allowed: FastCandidate[] = [];
    for (const aff of affinities.items) {
      const cidr = parseCIDR(aff.key.cidr);
      if (!cidr) continue;
      if (eligible.pools.some((p) => cidrWithin(cidr, p.cidr))) {
        if (reserved.hasFamily(cidr.version) && reserved.coversWhole(cidr)) continue;
        allowed.push({ affinity: aff, cidr, conditions: undefined });
        continue;
      }
      if (eligible.selecting.some((p) => cidrWithin(cidr, p.cidr))) continue;
      const pool = eligible.enabled.find((p) => cidrWithin(cidr, p.cidr));
      if (!pool) return undefined;
      if (use !== 'LoadBalancer' && !selectorMatches(pool.nodeSelector, labels)) return undefined;
    }
    const view: FastView = {
      config,
      pools,
      reservations,
      node,
      affinities,
      affinity: `${affinityType}:${host}`,
      host,
      affinityType,
      affinityList: Object.freeze({ type: 'blockAffinity', host, ipVersion: version, affinityType }),
      allowed,
      conditions: this.contextConditions(config, node, pools, reservations, version),
      hint: 0,
      hintUntil: 0,
      hintEpoch: -1,
      hintConditions: [],
    };
    remember(this.fastViews, key, view, CACHE_LIMITS.affinities);
    return view;
  }

  /** Validated mode: the list conditions proving a fast view's pools, reservations and affinities current. */
  private fastListConditions(view: FastView): TxnOptions {
    return {
      listConditions: [
        { list: POOL_LIST, notModifiedAfter: view.pools.revision },
        { list: RESERVATION_LIST, notModifiedAfter: view.reservations.revision },
        { list: view.affinityList, notModifiedAfter: view.affinities.revision! },
      ],
    };
  }

  /**
   * autoAssign's fast path (atomic datastores): when the caches hold everything the decision
   * needs and the first eligible affine block with free space (in Calico's order) can satisfy the
   * whole request, allocate there and commit block + handle in one transaction conditioned on the
   * block, handle, affinity and context revisions. Undefined (nothing written) sends the request
   * to the full path: not cached, a claim needed, or a condition failed (the caches then learnt).
   */
  private async tryFastAssign(
    version: IPVersion,
    num: number,
    host: string,
    affinityType: 'host' | 'virtual',
    use: string,
    args: AutoAssignArgs,
  ): Promise<IPAMAssignments | undefined> {
    const view = this.fastView(version, host, affinityType, use);
    if (!view) return undefined;
    const now = this.clock.now();
    const ttl = this.cacheTtlMs;
    const config = view.config.config;
    const reserved = view.reservations.set;
    const context = { config, reserved };
    const candidates = view.allowed;
    const validated = this.validated;
    const fromHint = view.hintEpoch === this.blockEpoch && now < view.hintUntil;
    let i = fromHint ? view.hint : 0;
    let until = fromHint ? view.hintUntil : Infinity;
    // Validated mode: the blocks skipped as full go into the commit's conditions (still full then).
    const skipped: TxnCondition[] = fromHint && validated ? view.hintConditions.slice() : [];
    let entry: BlockEntry | undefined;
    for (; i < candidates.length; i++) {
      const candidate = candidates[i]!;
      const state = candidate.affinity.value.state;
      if (state !== 'confirmed' && state !== '') return undefined;
      entry = this.blockCache.get(candidate.cidr.text);
      if (!entry || entry.kv.value.affinity !== view.affinity) return undefined;
      if (this.freeInCached(entry, candidate.cidr, context) >= 1) break;
      if (validated) {
        if (skipped.length >= MAX_WALK_CONDITIONS) return undefined;
        skipped.push({ key: entry.kv.key, revision: entry.kv.revision });
        continue;
      }
      // Full when last seen: skipped for cacheTtlMs (then re-read by the full path).
      if (now - entry.at >= ttl) return undefined;
      if (entry.at + ttl < until) until = entry.at + ttl;
    }
    if (i >= candidates.length || !entry) return undefined;
    if (i > 0 && (!fromHint || i !== view.hint)) {
      view.hint = i;
      view.hintUntil = until;
      view.hintEpoch = this.blockEpoch;
      view.hintConditions = skipped.slice();
    }
    const candidate = candidates[i]!;
    const cidr = candidate.cidr;
    const copy = cloneBlock(entry.kv.value);
    gcPass(copy, config.ipCooldownSeconds ?? 0, now);
    const handleId = args.handleId ?? null;
    const ordinals = autoAssignOrdinals(copy, cidr, num, handleId, args.attrs ?? null, config.strictAffinity ? view.affinity : null, reserved);
    if (ordinals.length < num) return undefined; // needs more than this block: the full path does it all
    copy.sequenceNumber += 1n;
    const bKey = entry.kv.key;
    const conditions: TxnCondition[] = [{ key: bKey, revision: entry.kv.revision }];
    const operations: TxnOperation[] = [];
    const keys: Key[] = [bKey];
    if (handleId !== null) {
      const hKey = handleKey(handleId);
      const current = this.handleCache.get(handleId);
      conditions.push(current ? { key: hKey, revision: current.revision } : { key: hKey, absent: true });
      operations.push({ op: 'put', key: hKey, value: IPAM.adjustHandle(current?.value, cidr.text, ordinals.length)! });
      keys.push(hKey);
    }
    operations.push({ op: 'put', key: bKey, value: copy });
    for (const c of view.conditions) conditions.push(c);
    conditions.push({ key: candidate.affinity.key, revision: candidate.affinity.revision });
    for (const c of skipped) conditions.push(c);
    const options = validated ? this.fastListConditions(view) : undefined;
    let result;
    try {
      if (this.hooks?.beforeWrite) await this.hooks.beforeWrite('assign:commit', keys);
      result = await this.ds.transact(conditions, operations, options);
    } catch (error) {
      let failure = error;
      if (handleId !== null && isIndeterminate(error)) {
        // Was it applied after all (answer lost, or re-sent and refused)? Then it is our result.
        this.forget(keys.slice(1));
        let present: number[] = [];
        const check = await this.verifyBlockWrite(bKey, (stored) => (present = stored ? allocationsPresent(copy, stored, ordinals) : []).length > 0);
        if (check.outcome === 'landed') {
          if (this.hooks?.afterWrite) await this.hooks.afterWrite('assign:commit', keys);
          const suffix = `/${cidr.prefix}`;
          return { ips: present.map((o) => ordinalAddress(cidr, o) + suffix), ipVersion: version, numRequested: num, msgs: [] };
        }
        if (check.outcome === 'unknown' && isConflict(error)) failure = this.undecided(error);
      }
      if (!isConflict(failure)) {
        const empty: IPAMAssignments = { ips: [], ipVersion: version, numRequested: num, msgs: [] };
        Object.defineProperty(failure as object, 'familyPartial', { value: empty, enumerable: false, configurable: true });
        throw failure;
      }
      if (options && !failedKey(failure, conditions.map((c) => c.key))) {
        // A list condition failed (or an unattributed one): what the lists say is read again.
        this.poolsCache = undefined;
        this.reservationsCache = undefined;
        this.affinityCache.delete(`${affinityType}:${host}:${version}`);
      }
      try {
        await this.onCommitConflict(error, conditions, bKey);
      } catch (signal) {
        if (!(signal instanceof StaleViewSignal)) throw signal;
      }
      this.forget([bKey]);
      return undefined;
    }
    this.afterCommit(operations, result.results);
    if (this.hooks?.afterWrite) await this.hooks.afterWrite('assign:commit', keys);
    const suffix = `/${cidr.prefix}`;
    const ips = new Array<string>(ordinals.length);
    for (let k = 0; k < ordinals.length; k++) ips[k] = ordinalAddress(cidr, ordinals[k]!) + suffix;
    return { ips, ipVersion: version, numRequested: num, msgs: [] };
  }

  /** One autoAssign attempt for one family (reference §5.3 - §5.8) on `view`; adds to `result`. */
  private async assignWithView(
    view: FamilyView,
    version: IPVersion,
    num: number,
    requestedPools: string[] | undefined,
    rsvdAttr: HostReservedAttr | undefined,
    host: string,
    args: AutoAssignArgs,
    result: IPAMAssignments,
  ): Promise<void> {
    const use = args.intendedUse;
    const affinityType = use === 'LoadBalancer' ? 'virtual' : 'host';
    const { config, reserved, nodeLabels } = view;
    let eligible: { pools: PoolInfo[]; selecting: PoolInfo[]; enabled: PoolInfo[] };
    try {
      eligible = this.eligiblePools(version, use, host, requestedPools, rsvdAttr, nodeLabels, args.namespace?.labels ?? {}, view.allPools);
    } catch (error) {
      if (!view.fresh) throw new StaleViewSignal();
      throw error;
    }
    const { pools, selecting, enabled } = eligible;
    const ctx: FamilyContext = {
      version,
      host,
      affinity: `${affinityType}:${host}`,
      affinityType,
      config,
      reserved,
      handleId: args.handleId ?? null,
      attrs: args.attrs ?? null,
      rsvdAttr,
      conditions: view.conditions,
      listConditions: view.listConditions,
      fresh: view.fresh,
      affinitiesFresh: view.affinitiesFresh,
      probes: 0,
    };
    const addMsg = (m: string) => {
      if (!result.msgs.includes(m)) result.msgs.push(m);
    };
    const fail = (error: unknown): never => {
      if (error instanceof StaleViewSignal) throw error;
      Object.defineProperty(error as object, 'familyPartial', { value: result, enumerable: false, configurable: true });
      throw error;
    };

    // §5.4 the host's existing blocks.
    const allowed: KVPair<BlockAffinityKey>[] = [];
    for (const aff of view.affinities) {
      const cidr = parseCIDR(aff.key.cidr);
      if (!cidr) continue;
      if (pools.some((p) => cidrWithin(cidr, p.cidr))) {
        allowed.push(aff);
        continue;
      }
      if (selecting.some((p) => cidrWithin(cidr, p.cidr))) continue;
      const pool = enabled.find((p) => cidrWithin(cidr, p.cidr));
      // An affinity in no known pool may belong to a pool created since the pool list was cached.
      if (!pool && !view.fresh) throw new StaleViewSignal();
      if (!pool || use === 'LoadBalancer') continue;
      if (!selectorMatches(pool.nodeSelector, nodeLabels)) {
        if (!view.fresh) throw new StaleViewSignal();
        try {
          await this.releaseBlockAffinityRetrying(host, affinityType, aff.key.cidr, true);
        } catch {
          // Not empty (or another failure): kept, as upstream.
        }
      }
    }
    let numOwned = allowed.length;
    let limit = args.maxBlocksPerHost ?? 0;
    if (config.maxBlocksPerHost > 0 && (limit === 0 || limit > config.maxBlocksPerHost)) limit = config.maxBlocksPerHost;
    if (limit === 0) limit = DEFAULT_MAX_BLOCKS_PER_HOST;

    // §5.6 main loop.
    const candidates = { items: allowed, next: 0 };
    let allowNewClaim = true;
    let endedOnNoFreeBlocks = false;
    while (result.ips.length < num) {
      const rem = num - result.ips.length;
      if (numOwned >= limit) allowNewClaim = false;
      let found: { block: KVPair<BlockKey>; claimed: boolean; affinity?: KVPair<BlockAffinityKey>; ips?: string[] };
      try {
        found = await this.findOrClaimBlock(ctx, candidates, pools, allowNewClaim, 1, rem);
        if (found.claimed) numOwned++;
      } catch (error) {
        if (error instanceof NoFreeBlocksError) {
          if (!ctx.fresh) throw new StaleViewSignal();
          if (config.strictAffinity) addMsg('No more free affine blocks and strict affinity enabled');
          endedOnNoFreeBlocks = true;
          break;
        }
        if (!ctx.fresh && !(error instanceof StaleViewSignal) && !isUnavailable(error)) throw new StaleViewSignal();
        if (BlockLimitError.isInstance(error)) {
          addMsg(`Need to allocate an IPAM block but could not - limit of ${limit} blocks reached for this node`);
        }
        return fail(error);
      }
      if (found.ips) {
        for (const ip of found.ips) result.ips.push(ip);
        continue;
      }
      try {
        const ips = await this.allocateFromBlock(ctx, found.block, rem, config.strictAffinity, found.affinity);
        for (const ip of ips) result.ips.push(ip);
      } catch (error) {
        // A retryable datastore failure may hide an applied write (its answer lost, and the check
        // could not tell): allocating elsewhere could give the handle more than it asked for.
        if (isLostAnswer(error)) return fail(error);
        if (error instanceof AffinityCheckError || IPAMError.isInstance(error) || DatastoreError.isInstance(error)) {
          if (!ctx.fresh) throw new StaleViewSignal();
          addMsg('Failed to assign IPs in newly allocated block');
          continue;
        }
        return fail(error);
      }
    }

    // §5.8 borrowing (only ever on a fresh view: it follows NoFreeBlocks).
    if (result.ips.length < num && endedOnNoFreeBlocks && !config.strictAffinity) {
      const exhausted: string[] = [];
      for (const pool of pools) {
        if (result.ips.length >= num) break;
        for await (const blockKV of this.borrowCandidates(pool, host)) {
          const rem = num - result.ips.length;
          const cidr = parseCIDR(blockKV.key.cidr)!;
          if (reserved.hasFamily(version) && reserved.coversWhole(cidr)) continue;
          try {
            const ips = await this.allocateFromBlock(ctx, blockKV, rem, false);
            for (const ip of ips) result.ips.push(ip);
          } catch (error) {
            if (isLostAnswer(error) || (!(error instanceof AffinityCheckError) && !IPAMError.isInstance(error) && !DatastoreError.isInstance(error))) return fail(error);
          }
          if (result.ips.length >= num) break;
        }
        if (result.ips.length < num) exhausted.push(pool.cidr.text);
      }
      if (exhausted.length) addMsg(`No IPs available in pools: [${exhausted.join(' ')}]`);
    }
  }

  /** Blocks of `pool` in the host's walk order (reference §5.8), read lazily or from one list. */
  private async *borrowCandidates(pool: PoolInfo, host: string): AsyncGenerator<KVPair<BlockKey>> {
    const n = poolBlockCount(pool);
    if (n <= 4096n) {
      for (const cidr of blockWalk(pool, host, this.nowNanos)) {
        const kv = await this.get(blockKey(cidr.text));
        if (kv) yield kv;
      }
      return;
    }
    // Huge pools: one list, ordered by walk position (same order, without probing absent CIDRs).
    const list = await this.ds.listKV({ type: 'block', ipVersion: pool.cidr.version });
    const inPool = list.items
      .filter((kv) => !kv.value.deleted)
      .map((kv) => ({ kv, cidr: parseCIDR(kv.key.cidr) }))
      .filter((x): x is { kv: KVPair<BlockKey>; cidr: CIDR } => !!x.cidr && cidrWithin(x.cidr, pool.cidr))
      .map((x) => ({ kv: x.kv, pos: walkPosition(pool, host, x.cidr, this.nowNanos) }))
      .sort((a, b) => (a.pos < b.pos ? -1 : a.pos > b.pos ? 1 : 0));
    for (const x of inPool) yield x.kv;
  }

  /**
   * Reference §5.6 step 4: allocate up to `rem` from the block (after its GC view), count the
   * handle, write; conflicts re-read and retry. Returns the addresses with the block's prefix.
   * `affinity`: the owner's affinity record the block was found through; its revision becomes a
   * commit condition (atomic datastores), like the view's context conditions.
   */
  private async allocateFromBlock(
    ctx: FamilyContext,
    initial: KVPair<BlockKey>,
    rem: number,
    checkAffinity: boolean,
    affinity?: KVPair<BlockAffinityKey>,
  ): Promise<string[]> {
    let blockKV: KVPair<BlockKey> | undefined = initial;
    const cooldown = ctx.config.ipCooldownSeconds ?? 0;
    let context = ctx.conditions;
    if (affinity && this.caching) context = [...ctx.conditions, { key: affinity.key, revision: affinity.revision }];
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      if (!blockKV) return [];
      const cidr = blockCIDR(blockKV.value);
      const copy = cloneBlock(blockKV.value);
      gcPass(copy, cooldown, this.clock.now());
      const ordinals = autoAssignOrdinals(copy, cidr, rem, ctx.handleId, ctx.attrs, checkAffinity ? ctx.affinity : null, ctx.reserved);
      if (ordinals.length === 0) return [];
      copy.sequenceNumber += 1n;
      const deltas = new Map<string, number>();
      if (ctx.handleId) deltas.set(ctx.handleId, ordinals.length);
      // Idempotent under lost answers: a commit that turns out to be in the block is ours.
      let present = ordinals;
      const verify = ctx.handleId
        ? (stored: AllocationBlock | undefined) => (present = stored ? allocationsPresent(copy, stored, ordinals) : []).length > 0
        : undefined;
      try {
        await this.commitBlock('assign:commit', blockKV, copy, deltas, context, verify, ctx.listConditions);
        const suffix = `/${cidr.prefix}`;
        const out = new Array<string>(present.length);
        for (let i = 0; i < present.length; i++) out[i] = ordinalAddress(cidr, present[i]!) + suffix;
        return out;
      } catch (error) {
        if (!isConflict(error)) throw error;
        await this.backoff();
        blockKV = await this.readBlock(blockKV.key.cidr);
      }
    }
    throw new MaxRetriesError();
  }

  /** Free addresses of a cached block, without copying it when nothing is cooling down. */
  private freeInCached(entry: BlockEntry, cidr: CIDR, ctx: { config: IPAMConfig; reserved: ReservedSet }): number {
    if (!entry.released) return freeCount(entry.kv.value, cidr, ctx.reserved);
    const view = cloneBlock(entry.kv.value);
    gcPass(view, ctx.config.ipCooldownSeconds ?? 0, this.clock.now());
    return freeCount(view, cidr, ctx.reserved);
  }

  /**
   * Reference §5.6 step 2: the next affine block with at least `minFree` free addresses, else a
   * newly claimed (or reclaimed) one. Consumes `candidates` front to back. On atomic datastores a
   * confirmed affinity whose block is cached is taken from the cache (the commit is conditioned
   * on the block's and the affinity's revisions), and a claim of a CIDR nobody holds allocates
   * `rem` addresses in the same transaction (the result then carries `ips`).
   */
  private async findOrClaimBlock(
    ctx: FamilyContext,
    candidates: { items: KVPair<BlockAffinityKey>[]; next: number },
    pools: PoolInfo[],
    allowNewClaim: boolean,
    minFree: number,
    rem: number,
  ): Promise<{ block: KVPair<BlockKey>; claimed: boolean; affinity?: KVPair<BlockAffinityKey>; ips?: string[] }> {
    while (candidates.next < candidates.items.length) {
      const aff = candidates.items[candidates.next++]!;
      const cidr = parseCIDR(aff.key.cidr);
      if (!cidr) continue;
      if (ctx.reserved.hasFamily(cidr.version) && ctx.reserved.coversWhole(cidr)) continue;
      if (this.caching && !ctx.fresh && (aff.value.state === 'confirmed' || aff.value.state === '')) {
        const entry = this.blockCache.get(cidr.text);
        if (entry && entry.kv.value.affinity === ctx.affinity) {
          if (this.freeInCached(entry, cidr, ctx) >= minFree) return { block: entry.kv, claimed: false, affinity: aff };
          if (this.clock.now() - entry.at < this.cacheTtlMs) continue; // full, recently seen
        }
      }
      let block: KVPair<BlockKey> | undefined;
      let current: KVPair<BlockAffinityKey> | undefined = aff;
      for (let attempt = 0; attempt < this.maxRetries && current; attempt++) {
        try {
          block = await this.getBlockFromAffinity(current, ctx.rsvdAttr);
          break;
        } catch (error) {
          if (!isConflict(error)) break;
          await this.backoff();
          current = await this.get(aff.key);
        }
      }
      if (!block) continue;
      const entry = this.cacheBlock(block);
      if (this.freeInCached(entry, cidr, ctx) >= minFree) return { block, claimed: false };
    }
    // About to claim, or to fail: decide that on the owner's current affinities.
    if (!ctx.affinitiesFresh) throw new StaleViewSignal(true);
    if (!allowNewClaim) throw new BlockLimitError();
    if (!ctx.config.autoAllocateBlocks) throw new IPAMError('noBlock', 'failed to find or claim a block');
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      let usable: UsableBlock;
      try {
        usable = await this.findUsableBlock(ctx, pools);
      } catch (error) {
        if (error instanceof WalkChangedSignal) continue;
        throw error;
      }
      const { cidr } = usable;
      if (this.atomic && usable.absent && rem > 0) {
        try {
          const claimed = await this.claimAndAssign(ctx, usable, rem);
          if (claimed) return { block: claimed.block, claimed: true, ips: claimed.ips };
        } catch (error) {
          if (error instanceof WalkChangedSignal) {
            await this.backoff();
            continue;
          }
          throw error;
        }
      }
      // The plain protocol's writes carry no list conditions: decide them on lists just read.
      if (this.validated && !ctx.fresh) throw new StaleViewSignal();
      let block: KVPair<BlockKey>;
      try {
        block = await this.claimBlock(ctx.host, ctx.affinityType, cidr.text, ctx.rsvdAttr);
      } catch (error) {
        if (error instanceof ClaimConflictSignal || error instanceof StaleAffinitySignal || isConflict(error)) {
          await this.backoff();
          continue;
        }
        throw error;
      }
      const entry = this.cacheBlock(block);
      const free = this.freeInCached(entry, cidr, ctx);
      if (free < minFree) {
        throw new IPAMError('insufficientFree', `Block '${cidr.text}' has ${free} free ips which is less than ${minFree} ips required.`);
      }
      return { block, claimed: true };
    }
    throw new MaxRetriesError();
  }

  /**
   * Atomic claim of a CIDR the walk found free (reference §4.3 + §5.6 step 4 in one step): the
   * confirmed affinity, the new block holding the first `rem` allocations, and the handle, in one
   * transaction conditioned on the affinity and block being absent, on the walk blocks skipped
   * before it, on the handle and on the view. Returns undefined when the plain claim protocol
   * must handle this CIDR (an affinity record already exists, or the new block would have no
   * free address); throws WalkChangedSignal when a walk block turned out different.
   */
  private async claimAndAssign(ctx: FamilyContext, usable: UsableBlock, rem: number): Promise<{ block: KVPair<BlockKey>; ips: string[] } | undefined> {
    const { cidr } = usable;
    const block = newBlock(cidr, ctx.affinity, this.nowNanos(), this.nowSeconds(), ctx.rsvdAttr);
    const ordinals = autoAssignOrdinals(block, cidr, rem, ctx.handleId, ctx.attrs, null, ctx.reserved);
    if (ordinals.length === 0) return undefined;
    block.sequenceNumber += 1n;
    const aKey = affinityKey(ctx.host, cidr.text, ctx.affinityType);
    const bKey = blockKey(cidr.text);
    const conditions: TxnCondition[] = [{ key: aKey, absent: true }, { key: bKey, absent: true }];
    const operations: TxnOperation[] = [{ op: 'put', key: aKey, value: { state: 'confirmed', deleted: false } }];
    const keys: Key[] = [aKey, bKey];
    if (ctx.handleId) {
      const hKey = handleKey(ctx.handleId);
      const current = this.handleCache.get(ctx.handleId);
      conditions.push(current ? { key: hKey, revision: current.revision } : { key: hKey, absent: true });
      operations.push({ op: 'put', key: hKey, value: IPAM.adjustHandle(current?.value, cidr.text, ordinals.length)! });
      keys.push(hKey);
    }
    operations.push({ op: 'put', key: bKey, value: block });
    for (const c of usable.walked) conditions.push(c);
    for (const c of ctx.conditions) conditions.push(c);
    const cacheKey = `${ctx.affinityType}:${ctx.host}:${ctx.version}`;
    const cachedAffinities = this.affinityCache.get(cacheKey);
    // Validated mode: also prove the host's affinities unchanged since they were listed, so that
    // after the commit the cached list plus this affinity is exact at the commit's revision.
    const listRevision = this.validated ? cachedAffinities?.revision : undefined;
    const listConditions: ListCondition[] = [...ctx.listConditions];
    if (listRevision !== undefined) {
      listConditions.push({ list: { type: 'blockAffinity', host: ctx.host, ipVersion: ctx.version, affinityType: ctx.affinityType }, notModifiedAfter: listRevision });
    }
    const options: TxnOptions | undefined = listConditions.length > 0 ? { listConditions } : undefined;
    let result;
    try {
      if (this.hooks?.beforeWrite) await this.hooks.beforeWrite('assign:claimAndCommit', keys);
      result = await this.ds.transact(conditions, operations, options);
    } catch (error) {
      if (ctx.handleId && isIndeterminate(error)) {
        // Applied after all (answer lost, or re-sent and refused because it was applied)? The
        // new block then holds our allocations under the sequence number only this claim used.
        this.forget(keys);
        let present: number[] = [];
        const check = await this.verifyBlockWrite(bKey, (stored) => (present = stored ? allocationsPresent(block, stored, ordinals) : []).length > 0);
        if (check.outcome === 'landed') {
          if (this.hooks?.afterWrite) await this.hooks.afterWrite('assign:claimAndCommit', keys);
          const suffix = `/${cidr.prefix}`;
          return { block: check.kv!, ips: present.map((o) => ordinalAddress(cidr, o) + suffix) };
        }
        if (check.outcome === 'unknown' && isConflict(error)) throw this.undecided(error);
      }
      if (!isConflict(error)) throw error;
      const key = failedKey(error, conditions.map((c) => c.key));
      if (key && key.type === 'blockAffinity' && key.cidr === cidr.text) return undefined; // a record exists: the plain protocol repairs or uses it
      if (key && key.type === 'block') {
        await this.readBlock(key.cidr); // now known: the walk takes it into account
        ctx.probes++;
        throw new WalkChangedSignal();
      }
      await this.onCommitConflict(error, conditions, undefined);
      throw new WalkChangedSignal();
    }
    this.afterCommit(operations, result.results);
    const affinityRevision = result.results[0]?.revision ?? result.revision;
    if (cachedAffinities && this.affinityCache.get(cacheKey) === cachedAffinities) {
      const items = [...cachedAffinities.items, { key: aKey, value: { state: 'confirmed' as const, deleted: false }, revision: affinityRevision }].sort(affinityListOrder);
      this.affinityCache.set(cacheKey, { items, at: cachedAffinities.at, revision: listRevision !== undefined ? result.revision : undefined });
    }
    if (this.hooks?.afterWrite) await this.hooks.afterWrite('assign:claimAndCommit', keys);
    const suffix = `/${cidr.prefix}`;
    return {
      block: this.blockCache.get(cidr.text)?.kv ?? { key: bKey, value: block, revision: result.revision },
      ips: ordinals.map((o) => ordinalAddress(cidr, o) + suffix),
    };
  }

  /**
   * Reference §4.2: a CIDR to claim — the first unclaimed CIDR (or one affine to this host with
   * free space) in pool order and host walk order, else an empty block of another host claimed
   * at least a minute ago (its affinity released first). Throws NoFreeBlocksError.
   *
   * Without caching, blocks are probed one by one along the walk (a host's blocks are contiguous,
   * so the first free CIDR is usually a few steps away); after many probes in one pool it
   * switches to a single list of the family's blocks. With caching (atomic datastores), a CIDR
   * this engine knows nothing about is taken as absent (`absent`: the claim transaction checks
   * it), blocks seen within `cacheTtlMs` are taken from the cache and their revisions returned in
   * `walked` (the claim is conditioned on them), older ones are read again.
   */
  private async findUsableBlock(ctx: FamilyContext, pools: PoolInfo[]): Promise<UsableBlock> {
    const reclaim: { cidr: CIDR; block: KVPair<BlockKey> }[] = [];
    const walked: TxnCondition[] = [];
    const minFree = 1;
    const now = this.clock.now();
    for (const pool of pools) {
      let probes = 0;
      let listed: Map<string, KVPair<BlockKey>> | undefined;
      const listAll = async () => {
        const all = await this.ds.listKV({ type: 'block', ipVersion: ctx.version });
        listed = new Map();
        for (const item of all.items) {
          if (item.value.deleted) continue;
          listed.set(item.key.cidr, item);
          if (this.caching) this.cacheBlock(item);
        }
      };
      if (this.caching && !ctx.fresh && ctx.probes >= 64) await listAll();
      for (const cidr of blockWalk(pool, ctx.host, this.nowNanos)) {
        if (ctx.reserved.hasFamily(cidr.version) && ctx.reserved.coversWhole(cidr)) continue;
        let kv: KVPair<BlockKey> | undefined;
        let fromCache = false;
        if (listed) kv = listed.get(cidr.text);
        else if (this.caching && !ctx.fresh) {
          const entry = this.blockCache.get(cidr.text);
          if (!entry) return { cidr, absent: true, walked };
          if (now - entry.at < this.cacheTtlMs) {
            kv = entry.kv;
            fromCache = true;
          } else {
            kv = await this.readBlock(cidr.text);
            if (++ctx.probes >= 64) await listAll();
          }
        } else {
          kv = this.caching ? await this.readBlock(cidr.text) : await this.get(blockKey(cidr.text));
          if (++probes >= 64) await listAll();
        }
        if (!kv) return { cidr, absent: true, walked };
        const view = cloneBlock(kv.value);
        gcPass(view, ctx.config.ipCooldownSeconds ?? 0, this.clock.now());
        const free = freeCount(view, cidr, ctx.reserved);
        if (view.affinity === ctx.affinity && free >= minFree) return { cidr, absent: false, walked };
        if (isBlockEmpty(view) && free >= minFree) reclaim.push({ cidr, block: kv });
        if (fromCache && walked.length < MAX_WALK_CONDITIONS) walked.push({ key: kv.key, revision: kv.revision });
      }
    }
    for (const { cidr, block } of reclaim) {
      const claimTime = block.value.affinityClaimTime ? Date.parse(block.value.affinityClaimTime) : 0;
      if (!Number.isNaN(claimTime) && this.clock.now() - claimTime < this.reclaimAgeMs) continue;
      if (!block.value.affinity) continue;
      const [type, owner] = splitAffinity(block.value.affinity);
      try {
        await this.releaseBlockAffinityOnce(owner, type === 'virtual' ? 'virtual' : 'host', cidr.text, true, block.value.sequenceNumber);
        return { cidr, absent: false, walked };
      } catch {
        // Moved on: not empty any more, changed, or raced.
      }
    }
    throw new NoFreeBlocksError();
  }

  // -------------------------------------------------------------------------------------------
  // AssignIP (reference §6.1)

  /**
   * Assigns the specific address `ip` to `handleId` on `hostname`, claiming its block for the
   * host when the block does not exist. Ignores IPReservations, selectors and block limits (as
   * upstream). Errors: `ValidationError` (malformed input), `IPAMError` `notInPool` /
   * `notAllowedUse` / `affinityMismatch` / `claimConflict`, `ResourceExistsError` (already
   * assigned), `MaxRetriesError`.
   */
  async assignIP(args: AssignIPArgs): Promise<void> {
    const errors: FieldError[] = [];
    if (typeof args !== 'object' || args === null) throw new ValidationError([{ name: 'args', value: args, reason: 'must be an object' }]);
    const ip = parseIP(args.ip);
    if (!ip) errors.push({ name: 'ip', value: args.ip, reason: 'not a valid IP address' });
    validateHandle(args.handleId, 'handleId', errors);
    validateAttrs(args.attrs, 'attrs', errors);
    if (args.hostReservedAttr) validateReserved(args.hostReservedAttr, 'hostReservedAttr', errors);
    if (args.intendedUse !== undefined && !Object.values(IntendedUse).includes(args.intendedUse)) {
      errors.push({ name: 'intendedUse', value: args.intendedUse, reason: 'must be Workload, Tunnel or LoadBalancer' });
    }
    if (errors.length) throw new ValidationError(errors);
    const host = this.resolveHostname(args.hostname);
    const affinityType = args.intendedUse === 'LoadBalancer' ? 'virtual' : 'host';
    const affinity = `${affinityType}:${host}`;
    const config = await this.getIPAMConfig();
    const pools = (await this.readPools()).filter((p) => p.enabled && p.cidr.version === ip!.version);
    const pool = pools.find((p) => cidrContains(p.cidr, ip!.value));
    if (!pool) throw new IPAMError('notInPool', 'The provided IP address is not in a configured pool\n', { identifier: args.ip });
    if (args.intendedUse && !pool.allowedUses.includes(args.intendedUse)) {
      throw new IPAMError(
        'notAllowedUse',
        `IP address ${args.ip} is in IP pool "${pool.name}", which is not allowed for use "${args.intendedUse}" (allowedUses: [${pool.allowedUses.join(' ')}])`,
      );
    }
    const cidr = blockOf(pool, ip!.value);
    const ordinal = ordinalOf(cidr, ip!.value);
    const addressText = formatIP(ip!.version, ip!.value);
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      let blockKV = await this.get(blockKey(cidr.text));
      if (!blockKV) {
        try {
          blockKV = await this.claimBlock(host, affinityType, cidr.text, args.hostReservedAttr);
        } catch (error) {
          if (error instanceof ClaimConflictSignal) throw new IPAMError('claimConflict', error.message);
          if (error instanceof StaleAffinitySignal || isConflict(error)) continue;
          throw error;
        }
      }
      const copy = cloneBlock(blockKV.value);
      gcPass(copy, config.ipCooldownSeconds ?? 0, this.clock.now());
      try {
        assignOrdinal(copy, ordinal, args.handleId ?? null, args.attrs ?? null, config.strictAffinity ? affinity : null);
      } catch (error) {
        if (error instanceof AlreadyAssignedError) {
          throw new ResourceExistsError(addressText, { message: `resource already exists: ${addressText} with error: Address already assigned in block` });
        }
        if (error instanceof AffinityCheckError) throw new IPAMError('affinityMismatch', error.message);
        throw error;
      }
      copy.sequenceNumber += 1n;
      const deltas = new Map<string, number>();
      if (args.handleId) deltas.set(args.handleId, 1);
      const verify = args.handleId ? (stored: AllocationBlock | undefined) => !!stored && allocationsPresent(copy, stored, [ordinal]).length > 0 : undefined;
      try {
        await this.commitBlock('assign:commit', blockKV, copy, deltas, [], verify);
        return;
      } catch (error) {
        if (!isConflict(error)) throw error;
        await this.backoff();
      }
    }
    throw new MaxRetriesError();
  }

  // -------------------------------------------------------------------------------------------
  // Release (reference §6.2 - §6.3, §6.16)

  /**
   * Releases addresses (reference §6.2). A `handleId` and/or `sequenceNumber` makes a release
   * conditional: when either does not match, nothing in that block is released and the call
   * ends with an `UpdateConflictError` (after every other block was processed; the error carries
   * the `releaseResult`). Addresses that are not allocated are returned in `unallocated`.
   * Malformed input: `ValidationError`, nothing written.
   */
  async releaseIPs(items: ReleaseOptions[]): Promise<ReleaseResult> {
    if (!Array.isArray(items)) throw new ValidationError([{ name: 'items', value: items, reason: 'must be a list' }]);
    const errors: FieldError[] = [];
    const parsed: { option: ReleaseOptions; ip: { version: IPVersion; value: bigint }; text: string }[] = [];
    items.forEach((option, i) => {
      if (typeof option !== 'object' || option === null || !option.address) {
        errors.push({ name: `items[${i}].address`, value: option, reason: 'No IP address specified in options' });
        return;
      }
      const ip = parseIP(option.address);
      if (!ip) {
        errors.push({ name: `items[${i}].address`, value: option.address, reason: 'failed to parse IP' });
        return;
      }
      if (option.handleId !== undefined) validateHandle(option.handleId, `items[${i}].handleId`, errors);
      if (option.sequenceNumber !== undefined && (typeof option.sequenceNumber !== 'bigint' || option.sequenceNumber < 0n)) {
        errors.push({ name: `items[${i}].sequenceNumber`, value: option.sequenceNumber, reason: 'must be a non-negative bigint' });
      }
      parsed.push({ option, ip, text: formatIP(ip.version, ip.value) });
    });
    if (errors.length) throw new ValidationError(errors);
    // De-duplicate by address (a later duplicate overrides an earlier one).
    const byAddress = new Map<string, (typeof parsed)[number]>();
    for (const p of parsed) {
      byAddress.delete(p.text);
      byAddress.set(p.text, p);
    }
    const pools = await this.readPools();
    const config = await this.getIPAMConfig();
    const unallocated: string[] = [];
    const processed: ReleaseOptions[] = [];
    const groups = new Map<string, { cidr: CIDR; items: (typeof parsed)[number][] }>();
    let blockList: KVPair<BlockKey>[] | undefined;
    for (const p of byAddress.values()) {
      const pool = pools.find((x) => x.cidr.version === p.ip.version && cidrContains(x.cidr, p.ip.value));
      let cidr: CIDR | undefined;
      if (pool) cidr = blockOf(pool, p.ip.value);
      else {
        blockList ??= (await this.ds.listKV({ type: 'block' })).items;
        for (const kv of blockList) {
          const c = parseCIDR(kv.key.cidr);
          if (c && c.version === p.ip.version && cidrContains(c, p.ip.value)) {
            cidr = c;
            break;
          }
        }
      }
      if (!cidr) {
        unallocated.push(p.text);
        continue;
      }
      let group = groups.get(cidr.text);
      if (!group) groups.set(cidr.text, (group = { cidr, items: [] }));
      group.items.push(p);
    }
    let firstError: unknown;
    for (const group of groups.values()) {
      const items: BlockReleaseItem[] = group.items.map((p) => {
        const item: BlockReleaseItem = { ordinal: ordinalOf(group.cidr, p.ip.value), address: p.text };
        if (p.option.handleId !== undefined) item.handleId = sanitizeHandle(p.option.handleId);
        if (p.option.sequenceNumber !== undefined) item.sequenceNumber = p.option.sequenceNumber;
        return item;
      });
      try {
        const out = await this.releaseInBlock(group.cidr, items, config);
        unallocated.push(...out.unallocated);
        processed.push(...group.items.map((p) => p.option));
      } catch (error) {
        firstError ??= error;
      }
    }
    const result = { unallocated, processed };
    if (firstError !== undefined) {
      Object.defineProperty(firstError as object, 'releaseResult', { value: result, enumerable: false, configurable: true });
      throw firstError;
    }
    return result;
  }

  private async releaseInBlock(cidr: CIDR, items: BlockReleaseItem[], config: IPAMConfig): Promise<{ unallocated: string[] }> {
    const bKey = blockKey(cidr.text);
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      const blockKV = await this.get(bKey);
      if (!blockKV) return { unallocated: items.map((i) => i.address) };
      const copy = cloneBlock(blockKV.value);
      gcPass(copy, config.ipCooldownSeconds ?? 0, this.clock.now());
      let out: ReturnType<typeof releaseOrdinals>;
      try {
        out = releaseOrdinals(copy, items, this.nowSeconds(), config.ipCooldownSeconds ?? 0, this.clock.now());
      } catch (error) {
        if (error instanceof ReleaseMismatchError) {
          throw new UpdateConflictError(`block ${cidr.text}`, { message: `update conflict: block ${cidr.text}: ${error.message}`, cause: error });
        }
        throw error;
      }
      if (out.released === 0) return { unallocated: out.unallocated };
      copy.sequenceNumber += 1n;
      const deltas = new Map<string, number>();
      for (const [h, n] of out.handleCounts) deltas.set(h, -n);
      const deleteIt = isBlockEmpty(copy) && !copy.affinity && (config.ipCooldownSeconds ?? 0) <= 0;
      const ordinals = items.map((i) => i.ordinal);
      const base = blockKV.value;
      const verify = (stored: AllocationBlock | undefined) => (deleteIt ? !stored : !!stored && releasePresent(base, copy, stored, ordinals));
      try {
        await this.commitBlock('release:commit', blockKV, deleteIt ? null : copy, deltas, [], verify);
      } catch (error) {
        if (!isConflict(error) && !isNotFound(error)) throw error;
        await this.backoff();
        continue;
      }
      if (copy.affinity) await this.affinityConsistencyCheck(copy);
      return { unallocated: out.unallocated };
    }
    throw new MaxRetriesError();
  }

  /** Reference §6.16: after a release from an affine block, drop the affinity if the pool no longer selects the node. */
  private async affinityConsistencyCheck(block: AllocationBlock): Promise<void> {
    if (!block.affinity) return;
    const [type, host] = splitAffinity(block.affinity);
    if (type !== 'host') return;
    try {
      const node = await this.readNode(host);
      if (!node) return;
      const cidr = blockCIDR(block);
      const pool = (await this.readPools()).find((p) => p.enabled && cidrWithin(cidr, p.cidr));
      if (!pool) return;
      if (selectorMatches(pool.nodeSelector, node.metadata?.labels ?? {})) return;
      await this.releaseBlockAffinityRetrying(host, 'host', cidr.text, true);
    } catch {
      // Best effort, as upstream (not empty, raced, ...).
    }
  }

  /**
   * Releases every address of `handleId` (reference §6.3) and deletes the handle record once its
   * counts reach zero. Throws `ResourceNotFoundError` when the handle does not exist (CNI callers
   * treat that as success), `ValidationError` for a malformed id.
   */
  async releaseByHandle(handleId: string): Promise<void> {
    const errors: FieldError[] = [];
    validateHandle(handleId, 'handleId', errors, true);
    if (errors.length) throw new ValidationError(errors);
    const handle = sanitizeHandle(handleId)!;
    const hKV = await this.get(handleKey(handle));
    if (!hKV) throw new ResourceNotFoundError(`handle ${handle}`, { message: `resource does not exist: handle ${handle}` });
    const config = await this.getIPAMConfig();
    for (const blockCidr of Object.keys(hKV.value.block)) {
      const bKey = blockKey(blockCidr);
      let done = false;
      for (let attempt = 0; attempt < this.maxRetries && !done; attempt++) {
        const blockKV = await this.get(bKey);
        if (!blockKV) break;
        const copy = cloneBlock(blockKV.value);
        gcPass(copy, config.ipCooldownSeconds ?? 0, this.clock.now());
        const released = releaseHandleOrdinals(copy, handle, this.nowSeconds(), config.ipCooldownSeconds ?? 0, this.clock.now());
        if (released === 0) break;
        copy.sequenceNumber += 1n;
        const deleteIt = isBlockEmpty(copy) && !copy.affinity && (config.ipCooldownSeconds ?? 0) <= 0;
        const base = blockKV.value;
        const ordinals = handleOrdinals(base, handle);
        const verify = (stored: AllocationBlock | undefined) => (deleteIt ? !stored : !!stored && releasePresent(base, copy, stored, ordinals));
        try {
          await this.commitBlock('release:commit', blockKV, deleteIt ? null : copy, new Map([[handle, -released]]), [], verify);
          done = true;
          if (copy.affinity) await this.affinityConsistencyCheck(copy);
        } catch (error) {
          if (!isConflict(error) && !isNotFound(error)) throw error;
          await this.backoff();
        }
      }
      if (!done && (await this.get(bKey))) {
        const current = await this.get(bKey);
        if (current && handleOrdinals(current.value, handle).length > 0) throw new MaxRetriesError();
      }
    }
  }

  /**
   * Addresses (no prefix) held by `handleId`, ascending within each block. Throws
   * `ResourceNotFoundError` when the handle does not exist.
   */
  async ipsByHandle(handleId: string): Promise<string[]> {
    const errors: FieldError[] = [];
    validateHandle(handleId, 'handleId', errors, true);
    if (errors.length) throw new ValidationError(errors);
    const handle = sanitizeHandle(handleId)!;
    const hKV = await this.get(handleKey(handle));
    if (!hKV) throw new ResourceNotFoundError(`handle ${handle}`, { message: `resource does not exist: handle ${handle}` });
    const out: string[] = [];
    for (const blockCidr of Object.keys(hKV.value.block)) {
      const kv = await this.get(blockKey(blockCidr));
      if (!kv) continue;
      const cidr = blockCIDR(kv.value);
      for (const o of handleOrdinals(kv.value, handle)) out.push(ordinalAddress(cidr, o));
    }
    return out;
  }

  /**
   * The handle and owner attributes of an assigned address. Throws `ResourceNotFoundError` when it
   * is in no enabled pool, its block does not exist or it is not assigned; `IPInCooldownError`
   * while it cools down; `ValidationError` when malformed.
   */
  async getAssignmentAttributes(ip: string): Promise<AssignmentAttributes> {
    const addr = parseIP(ip);
    if (!addr) throw new ValidationError([{ name: 'ip', value: ip, reason: 'not a valid IP address' }]);
    const text = formatIP(addr.version, addr.value);
    const pool = (await this.readPools()).find((p) => p.enabled && p.cidr.version === addr.version && cidrContains(p.cidr, addr.value));
    if (!pool) throw new ResourceNotFoundError(text, { message: `resource does not exist: ${text} with error: No valid IPPool` });
    const cidr = blockOf(pool, addr.value);
    const kv = await this.get(blockKey(cidr.text));
    if (!kv) throw new ResourceNotFoundError(text, { message: `resource does not exist: ${text} with error: block ${cidr.text} does not exist` });
    const config = await this.getIPAMConfig();
    const view = cloneBlock(kv.value);
    gcPass(view, config.ipCooldownSeconds ?? 0, this.clock.now());
    const index = view.allocations[ordinalOf(cidr, addr.value)];
    if (index === null || index === undefined) throw new ResourceNotFoundError(text, { message: `resource does not exist: ${text} with error: IP is unassigned` });
    const attr = view.attributes[index]!;
    if (attr.releasedAt !== undefined) throw new IPInCooldownError(text);
    return {
      handleId: sanitizeHandle(attr.handleId),
      attrs: { ...(attr.secondary ?? NO_ATTRS) },
      alternateOwnerAttrs: { ...(attr.alternateOwnerAttrs ?? NO_ATTRS) },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Affinity management (reference §6.7 - §6.12)

  private async blocksOfCIDR(cidrText: string): Promise<{ cidr: CIDR; blocks: CIDR[] }> {
    const cidr = parseCIDR(cidrText);
    if (!cidr) throw new ValidationError([{ name: 'cidr', value: cidrText, reason: 'not a valid CIDR' }]);
    const pool = (await this.readPools()).find((p) => p.enabled && p.cidr.version === cidr.version && cidrContains(p.cidr, cidr.network));
    if (!pool) throw new IPAMError('notInPool', `The requested CIDR (${cidrText}) is not within any configured pools.`);
    if (cidr.prefix > pool.blockSize) throw new ValidationError([{ name: 'cidr', value: cidrText, reason: `The requested CIDR (${cidrText}) is smaller than the minimum.` }]);
    const blocks: CIDR[] = [];
    const step = 1n << BigInt(bitsOf(cidr.version) - pool.blockSize);
    for (let v = cidr.network; v < cidr.network + cidr.size; v += step) blocks.push(makeCIDR(cidr.version, v, pool.blockSize));
    return { cidr, blocks };
  }

  /**
   * Claims every block of `cidr` for the owner (reference §6.7). Blocks owned by someone else are
   * listed in `failed`. Node existence and block limits are not checked.
   */
  async claimAffinity(cidr: string, affinity: AffinityConfig): Promise<ClaimAffinityResult> {
    const { host, type } = validateAffinity(affinity);
    const { blocks } = await this.blocksOfCIDR(cidr);
    const result: ClaimAffinityResult = { claimed: [], failed: [] };
    for (const block of blocks) {
      try {
        await this.claimBlock(host, type, block.text, undefined);
        result.claimed.push(block.text);
      } catch (error) {
        if (error instanceof ClaimConflictSignal || error instanceof StaleAffinitySignal) result.failed.push(block.text);
        else throw error;
      }
    }
    return result;
  }

  /**
   * Releases `host`'s affinity for every block of `cidr` (reference §6.8). Empty blocks are
   * deleted; non-empty ones lose their owner, or, with `mustBeEmpty`, make the call fail with
   * `IPAMError` `blockNotEmpty` (earlier blocks stay released).
   */
  async releaseAffinity(cidr: string, host: string, mustBeEmpty = false): Promise<void> {
    validateAffinity({ host });
    const { blocks } = await this.blocksOfCIDR(cidr);
    for (const block of blocks) await this.releaseBlockAffinityRetrying(host, 'host', block.text, mustBeEmpty);
  }

  /**
   * Releases every affinity of the owner, IPv4 then IPv6, best effort (reference §6.10): the last
   * error is thrown after everything was tried.
   */
  async releaseHostAffinities(affinity: AffinityConfig, mustBeEmpty = false): Promise<void> {
    const { host, type } = validateAffinity(affinity);
    let lastError: unknown;
    for (const version of [4, 6] as const) {
      const list = await this.ds.listKV({ type: 'blockAffinity', host, ipVersion: version, affinityType: type });
      for (const aff of list.items.sort(affinityListOrder)) {
        try {
          await this.releaseBlockAffinityRetrying(host, type, aff.key.cidr, mustBeEmpty);
        } catch (error) {
          lastError = error;
        }
      }
    }
    if (lastError !== undefined) throw lastError;
  }

  /** Releases every host affinity of blocks inside the pool `poolCidr` (reference §6.11), emptiness not required. */
  async releasePoolAffinities(poolCidr: string): Promise<void> {
    const pool = parseCIDR(poolCidr);
    if (!pool) throw new ValidationError([{ name: 'poolCidr', value: poolCidr, reason: 'not a valid CIDR' }]);
    const list = await this.ds.listKV({ type: 'blockAffinity', ipVersion: pool.version, affinityType: 'host' });
    let lastError: unknown;
    for (const aff of list.items.sort(affinityListOrder)) {
      const cidr = parseCIDR(aff.key.cidr);
      if (!cidr || !cidrWithin(cidr, pool)) continue;
      try {
        await this.releaseBlockAffinityRetrying(aff.key.host, 'host', aff.key.cidr, false);
      } catch (error) {
        lastError = error;
      }
    }
    if (lastError !== undefined) throw lastError;
  }

  /**
   * Reference §6.12: releases all of the host's affinities (empty blocks deleted, others un-owned).
   * Does not release addresses. (The etcd-only host marker key is not part of the datastore
   * contract, so there is nothing else to delete.)
   */
  async removeIPAMHost(affinity: AffinityConfig): Promise<void> {
    await this.releaseHostAffinities(affinity, false);
  }

  /**
   * Reference §6.13: for each family whose reserved spec is given (non-null; zeros allowed),
   * returns the host's first affine block (even if full), claiming one when it has none.
   */
  async ensureBlock(args: EnsureBlockArgs): Promise<EnsureBlockResult> {
    if (typeof args !== 'object' || args === null) throw new ValidationError([{ name: 'args', value: args, reason: 'must be an object' }]);
    const errors: FieldError[] = [];
    for (const [name, r] of [['hostReservedAttrIPv4s', args.hostReservedAttrIPv4s], ['hostReservedAttrIPv6s', args.hostReservedAttrIPv6s]] as const) {
      if (r) validateReserved(r, name, errors, true);
    }
    if (errors.length) throw new ValidationError(errors);
    const host = this.resolveHostname(args.hostname);
    const result: EnsureBlockResult = { ipv4: null, ipv6: null };
    for (const version of [4, 6] as const) {
      const spec = version === 4 ? args.hostReservedAttrIPv4s : args.hostReservedAttrIPv6s;
      if (spec === null || spec === undefined) continue;
      const requested = version === 4 ? args.ipv4Pools : args.ipv6Pools;
      if (requested?.some((p) => parseCIDR(p)?.version !== version)) {
        throw new ValidationError([{ name: version === 4 ? 'ipv4Pools' : 'ipv6Pools', value: requested, reason: `provided IPv${version} IPPools list contains pools of the other family or invalid CIDRs` }]);
      }
      const config = await this.getIPAMConfig();
      const reserved = await this.readReservations();
      const node = await this.readNode(host);
      if (!node) throw new ResourceNotFoundError({ kind: 'Node', name: host });
      const rsvd = spec.startOfBlock + spec.endOfBlock > 0 ? spec : undefined;
      const { pools } = this.eligiblePools(version, 'Workload', host, requested, rsvd, node.metadata?.labels ?? {}, {}, await this.readPools());
      const ctx: FamilyContext = {
        version, host, affinity: `host:${host}`, affinityType: 'host', config, reserved, handleId: null, attrs: null, rsvdAttr: rsvd,
        conditions: [], listConditions: [], fresh: true, affinitiesFresh: true, probes: 0,
      };
      const affs = (await this.ds.listKV({ type: 'blockAffinity', host, ipVersion: version, affinityType: 'host' })).items.sort(affinityListOrder);
      const candidates = affs.filter((a) => {
        const c = parseCIDR(a.key.cidr);
        return !!c && pools.some((p) => cidrWithin(c, p.cidr));
      });
      const found = await this.findOrClaimBlock(ctx, { items: candidates, next: 0 }, pools, true, 0, 0);
      result[version === 4 ? 'ipv4' : 'ipv6'] = found.block.key.cidr;
    }
    return result;
  }

  // -------------------------------------------------------------------------------------------
  // Utilization (reference §6.15)

  /**
   * Usage per pool (all pools, disabled included; filtered by name or exact CIDR when `pools` is
   * given) with per-block figures; without a filter a last `orphaned allocation blocks` entry
   * collects blocks in no pool.
   */
  async getUtilization(args: UtilizationArgs = {}): Promise<PoolUtilization[]> {
    let pools = await this.readPools();
    if (args.pools && args.pools.length > 0) pools = pools.filter((p) => args.pools!.includes(p.name) || args.pools!.includes(p.raw.spec?.cidr ?? ''));
    const reserved = await this.readReservations();
    const entries: { pool: PoolInfo | null; cidr: CIDR; out: PoolUtilization }[] = pools.map((p) => ({
      pool: p,
      cidr: p.cidr,
      out: { name: p.name, cidr: p.cidr.text, capacity: 0n, inUse: 0n, reserved: 0n, available: 0n, blocks: [] },
    }));
    if (!args.pools || args.pools.length === 0) {
      const orphan = makeCIDR(4, 0n, 0);
      entries.push({ pool: null, cidr: orphan, out: { name: 'orphaned allocation blocks', cidr: '0.0.0.0/0', capacity: 0n, inUse: 0n, reserved: 0n, available: 0n, blocks: [] } });
    }
    const blocks = (await this.ds.listKV({ type: 'block' })).items.filter((b) => !b.value.deleted);
    const blockCidrs = new Map<PoolUtilization, CIDR[]>();
    for (const kv of blocks) {
      const cidr = parseCIDR(kv.key.cidr);
      if (!cidr) continue;
      const entry = entries.find((e) => (e.pool ? cidrsOverlap(e.cidr, cidr) : true));
      if (!entry) continue;
      const size = cidr.size;
      const b: BlockUtilization = {
        cidr: cidr.text,
        capacity: size,
        inUse: size - BigInt(kv.value.unallocated.length),
        reserved: reserved.countIn(cidr),
        available: BigInt(freeCount(kv.value, cidr, reserved)),
      };
      entry.out.blocks.push(b);
      if (!blockCidrs.has(entry.out)) blockCidrs.set(entry.out, []);
      blockCidrs.get(entry.out)!.push(cidr);
    }
    for (const e of entries) {
      if (!e.pool) continue;
      const out = e.out;
      out.capacity = e.cidr.size;
      out.reserved = reserved.countIn(e.cidr);
      let available = 0n;
      for (const b of out.blocks) {
        out.inUse += b.inUse;
        available += b.available;
      }
      // Addresses of the pool outside every block and every reservation.
      const covered = new ReservedSet([...(blockCidrs.get(out) ?? []).map((c) => c.text), ...reservedTexts(reserved, e.cidr)]);
      available += e.cidr.size - covered.countIn(e.cidr);
      out.available = available;
    }
    return entries.map((e) => e.out);
  }

  /** Leak and consistency report (see {@link IPAMCheckReport}); read-only, runs online. */
  check(): Promise<IPAMCheckReport> {
    return checkIPAM(this);
  }

  /** Releases confirmed leaks (see {@link GCOptions}); runs online, every release re-validated by CAS. */
  gc(options: GCOptions = {}): Promise<GCResult> {
    return gcIPAM(this, options);
  }

  /** Releases what Calico releases when a node is deleted (see {@link NodeReleaseResult}). */
  releaseNodeResources(nodeName: string): Promise<NodeReleaseResult> {
    return releaseNodeResources(this, nodeName);
  }

  /**
   * The engine's plumbing for check/gc in this package (not part of the public API).
   *
   * @internal
   */
  get internals() {
    return {
      get: <K extends Key>(key: K) => this.get(key),
      readPools: () => this.readPools(),
      readNode: (name: string) => this.readNode(name),
      write: <T>(point: WritePoint, keys: Key[], fn: () => Promise<T>) => this.write(point, keys, fn),
      clock: this.clock,
    };
  }
}

function reservedTexts(reserved: ReservedSet, within: CIDR): string[] {
  // Reservations clipped to `within`, as CIDR texts, to merge with block CIDRs.
  const out: string[] = [];
  const ranges = (reserved as unknown as { ranges: Record<IPVersion, [bigint, bigint][]> }).ranges[within.version];
  const lo = within.network;
  const hi = within.network + within.size;
  for (const [s0, e0] of ranges) {
    let s = s0 > lo ? s0 : lo;
    const e = e0 < hi ? e0 : hi;
    while (s < e) {
      // Largest aligned CIDR starting at s that fits in [s, e).
      let size = 1n;
      const bits = bitsOf(within.version);
      let prefix = bits;
      while (prefix > 0 && s % (size * 2n) === 0n && s + size * 2n <= e) {
        size *= 2n;
        prefix--;
      }
      out.push(`${formatIP(within.version, s)}/${prefix}`);
      s += size;
    }
  }
  return out;
}

function validateHandle(handleId: unknown, name: string, errors: FieldError[], required = false): void {
  if (handleId === undefined || handleId === null) {
    if (required) errors.push({ name, value: handleId, reason: 'required' });
    return;
  }
  if (typeof handleId !== 'string' || handleId.length === 0) {
    errors.push({ name, value: handleId, reason: 'must be a non-empty string' });
    return;
  }
  if (handleId.length > 1024 || /[\n\0/]/.test(sanitizeHandle(handleId)!)) {
    errors.push({ name, value: handleId, reason: 'must be at most 1024 characters without "/", newline or NUL' });
  }
}

function validateAttrs(attrs: unknown, name: string, errors: FieldError[]): void {
  if (attrs === undefined || attrs === null) return;
  if (typeof attrs !== 'object' || Array.isArray(attrs)) {
    errors.push({ name, value: attrs, reason: 'must be a string map' });
    return;
  }
  for (const [k, v] of Object.entries(attrs)) if (typeof v !== 'string') errors.push({ name: `${name}.${k}`, value: v, reason: 'must be a string' });
}

function validateReserved(r: HostReservedAttr, name: string, errors: FieldError[], allowZero = false): void {
  if (typeof r !== 'object' || r === null) {
    errors.push({ name, value: r, reason: 'must be an object' });
    return;
  }
  for (const f of ['startOfBlock', 'endOfBlock'] as const) {
    if (!Number.isInteger(r[f]) || r[f] < 0) errors.push({ name: `${name}.${f}`, value: r[f], reason: 'must be an integer >= 0' });
  }
  if (!allowZero && r.startOfBlock + r.endOfBlock === 0) errors.push({ name, value: r, reason: 'HostReservedAttr has wrong parameters' });
  if (typeof r.handle !== 'string' || !r.handle) errors.push({ name: `${name}.handle`, value: r.handle, reason: 'must be a non-empty string' });
}

function validateAffinity(affinity: AffinityConfig): { host: string; type: 'host' | 'virtual' } {
  const errors: FieldError[] = [];
  if (typeof affinity !== 'object' || affinity === null) throw new ValidationError([{ name: 'affinity', value: affinity, reason: 'must be an object' }]);
  if (typeof affinity.host !== 'string' || !affinity.host) errors.push({ name: 'host', value: affinity.host, reason: 'Hostname must be specified' });
  const type = affinity.affinityType ?? 'host';
  if (type !== 'host' && type !== 'virtual') errors.push({ name: 'affinityType', value: type, reason: 'must be host or virtual' });
  if (errors.length) throw new ValidationError(errors);
  return { host: affinity.host, type };
}

/**
 * libcalico-go's `PartialFulfillmentError`: undefined when every requested address was assigned,
 * else an error `Assigned <n> out of <m> requested IPv<v> addresses; <msg>...`.
 */
export function partialFulfillmentError(assignments: IPAMAssignments | null): CalicoError | undefined {
  if (!assignments || assignments.ips.length >= assignments.numRequested) return undefined;
  let text = `Assigned ${assignments.ips.length} out of ${assignments.numRequested} requested IPv${assignments.ipVersion} addresses`;
  for (const m of assignments.msgs) text += `; ${m}`;
  if (assignments.hostReservedAttr) text += `; HostReservedAttr: ${assignments.hostReservedAttr.handle}`;
  return new CalicoError(text);
}

/** Allocated count helper, exported for check(). */
export { allocatedCount };

/**
 * Builds the IPAM engine over `datastore`.
 *
 * @example
 * const ipam = createIPAM(createMemoryDatastore(), { hostname: 'node-1' });
 * const { ipv4 } = await ipam.autoAssign({ num4: 1, handleId: 'h1', intendedUse: 'Workload' });
 */
export function createIPAM(datastore: Datastore, options: IPAMOptions = {}): IPAM {
  return new IPAM(datastore, options);
}
