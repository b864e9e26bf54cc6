/**
 * The IPAM engine: libcalico-go's `ipam.Interface` over the datastore contract only.
 *
 * Every write is a compare-and-swap; the retry loops and the claim protocol follow
 * `docs/cas-loop.md` (packages/ipam/docs/cas-loop.md), which states the invariants each loop keeps.
 */
import {
  CalicoError,
  DatastoreError,
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
  ResourceKey,
  TxnCondition,
  TxnOperation,
} from '@libcalico-ts/datastore';
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
 * - `release:commit` — the block write (or delete) of releaseIPs / releaseByHandle / gc (with handles where atomic);
 * - `handle:increment` / `handle:decrement` — separate handle writes (non-atomic datastores only);
 * - `config:write` — setIPAMConfig;
 * - `gc:deleteHandle` — gc deleting a leaked handle.
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
  'release:commit',
  'handle:increment',
  'handle:decrement',
  'config:write',
  'gc:deleteHandle',
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
  /** Default hostname for requests that give none (else the OS hostname, under Node). */
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
}

/** Internal signals of the claim protocol. */
class NoFreeBlocksError extends Error {
  constructor() {
    super('No Free Blocks');
  }
}
class ClaimConflictSignal extends Error {}
class StaleAffinitySignal extends Error {}

const NO_ATTRS: Record<string, string> = {};

function isNotFound(error: unknown): boolean {
  return ResourceNotFoundError.isInstance(error);
}
/** A failure of the datastore itself (conflict, unavailable, corrupt value, exhausted retries). */
function isDatastoreFailure(error: unknown): boolean {
  return isConflict(error) || isNotFound(error) || DatastoreError.isInstance(error) || MaxRetriesError.isInstance(error);
}
function isConflict(error: unknown): boolean {
  return UpdateConflictError.isInstance(error) || ResourceExistsError.isInstance(error);
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
const CONFIG_KEY: IPAMConfigKey = { type: 'ipamConfig' };

const DEFAULT_CONFIG: IPAMConfig = { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 };

/** Upstream's limit when neither the request nor the config sets one. */
export const DEFAULT_MAX_BLOCKS_PER_HOST = 20;

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
  /** Handles this engine has seen exist: their first commit reads them instead of assuming absence. */
  private readonly knownHandles = new Set<string>();

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
    this.defaultHostname = options.hostname;
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
    if (this.hooks?.beforeWrite) await this.hooks.beforeWrite(point, keys);
    const result = await fn();
    if (this.hooks?.afterWrite) await this.hooks.afterWrite(point, keys);
    return result;
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

  private async resolveHostname(hostname: string | undefined): Promise<string> {
    if (hostname !== undefined && hostname !== '') return hostname;
    if (this.defaultHostname) return this.defaultHostname;
    try {
      const os = await import('node:os');
      return os.hostname();
    } catch {
      throw new ValidationError([{ name: 'hostname', value: hostname, reason: 'required (no OS hostname available)' }]);
    }
  }

  /** Reads the IPAM config (defaults when absent, not written). */
  async getIPAMConfig(): Promise<IPAMConfig> {
    const kv = await this.ds.listKV({ type: 'ipamConfig' });
    const stored = kv.items[0]?.value;
    const config: IPAMConfig = stored
      ? {
          ...stored,
          strictAffinity: !!stored.strictAffinity,
          autoAllocateBlocks: stored.autoAllocateBlocks === undefined ? true : !!stored.autoAllocateBlocks,
          maxBlocksPerHost: stored.maxBlocksPerHost ?? 0,
        }
      : { ...DEFAULT_CONFIG };
    if (this.windows && !config.strictAffinity) throw new StrictAffinityRequiredError();
    return config;
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

  private async readReservations(): Promise<ReservedSet> {
    const list = await this.ds.listKV({ type: 'resource', kind: 'IPReservation' });
    if (list.items.length === 0) return new ReservedSet([]);
    const cidrs: string[] = [];
    for (const item of list.items) cidrs.push(...((item.value as IPReservation).spec?.reservedCIDRs ?? []));
    return new ReservedSet(cidrs);
  }

  /** All pools (any state), in list order = by name. */
  private async readPools(): Promise<PoolInfo[]> {
    const list = await this.ds.listKV({ type: 'resource', kind: 'IPPool' });
    const pools: PoolInfo[] = [];
    for (const item of list.items) {
      const info = poolInfo(item.value as IPPool);
      if (info) pools.push(info);
    }
    pools.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return pools;
  }

  private async readNode(name: string): Promise<Node | undefined> {
    const kv = await this.get<ResourceKey>({ type: 'resource', kind: 'Node', name });
    return kv?.value as Node | undefined;
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
        await this.write(point, [key], async () => {
          if (!current) await this.ds.createKV(key, next!);
          else if (next === null) await this.ds.deleteKV(key, current.revision);
          else await this.ds.updateKV(key, next, current.revision);
        });
        return;
      } catch (error) {
        if (!isConflict(error) && !isNotFound(error)) throw error;
        await this.backoff();
      }
    }
    throw new MaxRetriesError('Max retries hit');
  }

  /**
   * Commits a block write (put, or delete when `deleteBlock`) together with handle count changes.
   * Atomic datastores: one transaction conditioned on every revision read. Others: Calico's order —
   * for increments handle first then block (rolled back if the block write fails); for decrements
   * block first then handles.
   */
  private async commitBlock(
    point: 'assign:commit' | 'release:commit',
    blockKV: KVPair<BlockKey>,
    next: AllocationBlock | null,
    handleDeltas: Map<string, number>,
  ): Promise<KVPair<BlockKey> | undefined> {
    const bKey = blockKV.key;
    if (this.atomic) {
      const conditions: TxnCondition[] = [{ key: bKey, revision: blockKV.revision }];
      const operations: TxnOperation[] = [];
      const keys: Key[] = [bKey];
      for (const [handleId, delta] of handleDeltas) {
        const hKey = handleKey(handleId);
        keys.push(hKey);
        let current: KVPair<HandleKey> | undefined;
        if (delta < 0 || this.knownHandles.has(handleId)) current = await this.get(hKey);
        if (!current && delta < 0) continue;
        const value = IPAM.adjustHandle(current?.value, blockKV.value.cidr, delta);
        conditions.push(current ? { key: hKey, revision: current.revision } : { key: hKey, absent: true });
        operations.push(value === null ? { op: 'delete', key: hKey } : { op: 'put', key: hKey, value });
      }
      operations.push(next === null ? { op: 'delete', key: bKey } : { op: 'put', key: bKey, value: next });
      try {
        const result = await this.write(point, keys, () => this.ds.transact(conditions, operations));
        if (next === null) return undefined;
        const revision = result.results[result.results.length - 1]?.revision ?? result.revision;
        return { key: bKey, value: next, revision };
      } catch (error) {
        if (ResourceExistsError.isInstance(error)) for (const h of handleDeltas.keys()) this.knownHandles.add(h);
        throw error;
      }
    }
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
      for (const [h, d] of done) {
        try {
          await this.changeHandle(h, blockKV.value.cidr, -d, 'handle:decrement');
        } catch (rollbackError) {
          // The roll-back failed: the handle over-counts (check() reports it). Only datastore
          // failures are absorbed; anything else (a crash) propagates.
          if (!CalicoError.isInstance(rollbackError) || !isDatastoreFailure(rollbackError)) throw rollbackError;
        }
      }
      throw error;
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

  // -------------------------------------------------------------------------------------------
  // Claim protocol (reference §4.3) and affinity release (§4.4)

  /** Step 1: the pending affinity record. */
  private async getPendingAffinity(host: string, type: 'host' | 'virtual', cidr: string): Promise<KVPair<BlockAffinityKey>> {
    const key = affinityKey(host, cidr, type);
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      try {
        return await this.write('claimAffinity:pending', [key], () => this.ds.createKV(key, { state: 'pending', deleted: false }));
      } catch (error) {
        if (!ResourceExistsError.isInstance(error)) throw error;
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
    try {
      return await this.write('claimAffinity:confirm', [aff.key], () =>
        this.ds.updateKV(aff.key, { state: 'confirmed', deleted: false }, aff.revision),
      );
    } catch (error) {
      if (!isConflict(error)) throw error;
      const current = await this.get(aff.key);
      if (current && current.value.state === 'confirmed') return current;
      throw error;
    }
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
        const created = await this.write('claimAffinity:createBlock', [bKey], () => this.ds.createKV(bKey, fresh));
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
    const written = await this.write('claimAffinity:touchBlock', [bKey], () => this.ds.updateKV(bKey, touched, existing.revision));
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
    const pendingDeletion = await this.write('releaseAffinity:pendingDeletion', [aKey], () =>
      this.ds.updateKV(aKey, { state: 'pendingDeletion', deleted: false }, aff.revision),
    );
    if (empty) {
      await this.write('releaseAffinity:deleteBlock', [bKey], () => this.ds.deleteKV(bKey, block.revision));
    } else {
      const unowned = cloneBlock(block.value);
      unowned.affinity = null;
      delete unowned.affinityClaimTime;
      unowned.sequenceNumber += 1n;
      await this.write('releaseAffinity:updateBlock', [bKey], () => this.ds.updateKV(bKey, unowned, block.revision));
    }
    try {
      await this.write('releaseAffinity:deleteAffinity', [aKey], () => this.ds.deleteKV(aKey, pendingDeletion.revision));
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

  private async eligiblePools(
    version: IPVersion,
    use: string,
    hostname: string,
    requested: string[] | undefined,
    rsvdAttr: HostReservedAttr | undefined,
    nodeLabels: Record<string, string>,
    namespaceLabels: Record<string, string>,
    allPools: PoolInfo[],
  ): Promise<{ pools: PoolInfo[]; selecting: PoolInfo[]; enabled: PoolInfo[] }> {
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
    return { pools: allowed, selecting, enabled };
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
    const host = await this.resolveHostname(args.hostname);
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
    // Independent reads, issued together (one round trip of latency on remote datastores).
    const [config, reserved, node, allPools, affList] = await Promise.all([
      this.getIPAMConfig(),
      this.readReservations(),
      use !== 'LoadBalancer' ? this.readNode(host) : Promise.resolve(undefined),
      this.readPools(),
      this.ds.listKV({ type: 'blockAffinity', host, ipVersion: version, affinityType }),
    ]);
    let nodeLabels: Record<string, string> = {};
    if (use !== 'LoadBalancer') {
      if (!node) throw new ResourceNotFoundError({ kind: 'Node', name: host });
      nodeLabels = node.metadata?.labels ?? {};
    }
    const { pools, selecting, enabled } = await this.eligiblePools(
      version, use, host, requestedPools, rsvdAttr, nodeLabels, args.namespace?.labels ?? {}, allPools,
    );
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
    };
    const result: IPAMAssignments = { ips: [], ipVersion: version, numRequested: num, msgs: [] };
    if (rsvdAttr) result.hostReservedAttr = rsvdAttr;
    const addMsg = (m: string) => {
      if (!result.msgs.includes(m)) result.msgs.push(m);
    };
    const fail = (error: unknown): never => {
      Object.defineProperty(error as object, 'familyPartial', { value: result, enumerable: false, configurable: true });
      throw error;
    };

    // §5.4 the host's existing blocks.
    const affinities = affList.items.filter((a) => !(a.value as BlockAffinity).deleted).sort(affinityListOrder);
    const allowed: KVPair<BlockAffinityKey>[] = [];
    for (const aff of affinities) {
      const cidr = parseCIDR(aff.key.cidr);
      if (!cidr) continue;
      if (pools.some((p) => cidrWithin(cidr, p.cidr))) {
        allowed.push(aff);
        continue;
      }
      if (selecting.some((p) => cidrWithin(cidr, p.cidr))) continue;
      const pool = enabled.find((p) => cidrWithin(cidr, p.cidr));
      if (!pool || use === 'LoadBalancer') continue;
      if (!selectorMatches(pool.nodeSelector, nodeLabels)) {
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
    const candidates = allowed.slice();
    let allowNewClaim = true;
    let endedOnNoFreeBlocks = false;
    while (result.ips.length < num) {
      const rem = num - result.ips.length;
      if (numOwned >= limit) allowNewClaim = false;
      let blockKV: KVPair<BlockKey>;
      try {
        const found = await this.findOrClaimBlock(ctx, candidates, pools, allowNewClaim, 1);
        blockKV = found.block;
        if (found.claimed) numOwned++;
      } catch (error) {
        if (error instanceof NoFreeBlocksError) {
          if (config.strictAffinity) addMsg('No more free affine blocks and strict affinity enabled');
          endedOnNoFreeBlocks = true;
          break;
        }
        if (BlockLimitError.isInstance(error)) {
          addMsg(`Need to allocate an IPAM block but could not - limit of ${limit} blocks reached for this node`);
        }
        return fail(error);
      }
      try {
        const ips = await this.allocateFromBlock(ctx, blockKV, rem, config.strictAffinity);
        for (const ip of ips) result.ips.push(ip);
      } catch (error) {
        if (error instanceof AffinityCheckError || IPAMError.isInstance(error) || DatastoreError.isInstance(error)) {
          addMsg('Failed to assign IPs in newly allocated block');
          continue;
        }
        return fail(error);
      }
    }

    // §5.8 borrowing.
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
            if (!(error instanceof AffinityCheckError) && !IPAMError.isInstance(error) && !DatastoreError.isInstance(error)) return fail(error);
          }
          if (result.ips.length >= num) break;
        }
        if (result.ips.length < num) exhausted.push(pool.cidr.text);
      }
      if (exhausted.length) addMsg(`No IPs available in pools: [${exhausted.join(' ')}]`);
    }
    return result;
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
   */
  private async allocateFromBlock(ctx: FamilyContext, initial: KVPair<BlockKey>, rem: number, checkAffinity: boolean): Promise<string[]> {
    let blockKV: KVPair<BlockKey> | undefined = initial;
    const cooldown = ctx.config.ipCooldownSeconds ?? 0;
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
      try {
        await this.commitBlock('assign:commit', blockKV, copy, deltas);
        if (ctx.handleId) this.knownHandles.add(ctx.handleId);
        const suffix = `/${cidr.prefix}`;
        return ordinals.map((o) => ordinalAddress(cidr, o) + suffix);
      } catch (error) {
        if (!isConflict(error)) throw error;
        await this.backoff();
        blockKV = await this.get(blockKey(blockKV.key.cidr));
      }
    }
    throw new MaxRetriesError();
  }

  /**
   * Reference §5.6 step 2: the next affine block with at least `minFree` free addresses, else a
   * newly claimed (or reclaimed) one. Consumes `candidates` front to back.
   */
  private async findOrClaimBlock(
    ctx: FamilyContext,
    candidates: KVPair<BlockAffinityKey>[],
    pools: PoolInfo[],
    allowNewClaim: boolean,
    minFree: number,
  ): Promise<{ block: KVPair<BlockKey>; claimed: boolean }> {
    while (candidates.length > 0) {
      const aff = candidates.shift()!;
      const cidr = parseCIDR(aff.key.cidr);
      if (!cidr) continue;
      if (ctx.reserved.hasFamily(cidr.version) && ctx.reserved.coversWhole(cidr)) continue;
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
      const view = cloneBlock(block.value);
      gcPass(view, ctx.config.ipCooldownSeconds ?? 0, this.clock.now());
      if (freeCount(view, cidr, ctx.reserved) >= minFree) return { block, claimed: false };
    }
    if (!allowNewClaim) throw new BlockLimitError();
    if (!ctx.config.autoAllocateBlocks) throw new IPAMError('noBlock', 'failed to find or claim a block');
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      const cidr = await this.findUsableBlock(ctx, pools);
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
      const view = cloneBlock(block.value);
      gcPass(view, ctx.config.ipCooldownSeconds ?? 0, this.clock.now());
      const free = freeCount(view, cidr, ctx.reserved);
      if (free < minFree) {
        throw new IPAMError('insufficientFree', `Block '${cidr.text}' has ${free} free ips which is less than ${minFree} ips required.`);
      }
      return { block, claimed: true };
    }
    throw new MaxRetriesError();
  }

  /**
   * Reference §4.2: a CIDR to claim — the first unclaimed CIDR (or one affine to this host with
   * free space) in pool order and host walk order, else an empty block of another host claimed
   * at least a minute ago (its affinity released first). Throws NoFreeBlocksError.
   *
   * Blocks are probed one by one along the walk (a host's blocks are contiguous, so the first
   * free CIDR is usually a few steps away); after many probes in one pool it switches to a single
   * list of the family's blocks.
   */
  private async findUsableBlock(ctx: FamilyContext, pools: PoolInfo[]): Promise<CIDR> {
    const reclaim: { cidr: CIDR; block: KVPair<BlockKey> }[] = [];
    const minFree = 1;
    for (const pool of pools) {
      let probes = 0;
      let listed: Map<string, KVPair<BlockKey>> | undefined;
      for (const cidr of blockWalk(pool, ctx.host, this.nowNanos)) {
        if (ctx.reserved.hasFamily(cidr.version) && ctx.reserved.coversWhole(cidr)) continue;
        let kv: KVPair<BlockKey> | undefined;
        if (listed) kv = listed.get(cidr.text);
        else {
          kv = await this.get(blockKey(cidr.text));
          if (++probes >= 64) {
            const all = await this.ds.listKV({ type: 'block', ipVersion: ctx.version });
            listed = new Map(all.items.filter((i) => !i.value.deleted).map((i) => [i.key.cidr, i]));
          }
        }
        if (!kv) return cidr;
        const view = cloneBlock(kv.value);
        gcPass(view, ctx.config.ipCooldownSeconds ?? 0, this.clock.now());
        const free = freeCount(view, cidr, ctx.reserved);
        if (view.affinity === ctx.affinity && free >= minFree) return cidr;
        if (isBlockEmpty(view) && free >= minFree) reclaim.push({ cidr, block: kv });
      }
    }
    for (const { cidr, block } of reclaim) {
      const claimTime = block.value.affinityClaimTime ? Date.parse(block.value.affinityClaimTime) : 0;
      if (!Number.isNaN(claimTime) && this.clock.now() - claimTime < this.reclaimAgeMs) continue;
      if (!block.value.affinity) continue;
      const [type, owner] = splitAffinity(block.value.affinity);
      try {
        await this.releaseBlockAffinityOnce(owner, type === 'virtual' ? 'virtual' : 'host', cidr.text, true, block.value.sequenceNumber);
        return cidr;
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
    const host = await this.resolveHostname(args.hostname);
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
      try {
        await this.commitBlock('assign:commit', blockKV, copy, deltas);
        if (args.handleId) this.knownHandles.add(args.handleId);
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
      try {
        await this.commitBlock('release:commit', blockKV, deleteIt ? null : copy, deltas);
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
        try {
          await this.commitBlock('release:commit', blockKV, deleteIt ? null : copy, new Map([[handle, -released]]));
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
    const host = await this.resolveHostname(args.hostname);
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
      const { pools } = await this.eligiblePools(version, 'Workload', host, requested, rsvd, node.metadata?.labels ?? {}, {}, await this.readPools());
      const ctx: FamilyContext = { version, host, affinity: `host:${host}`, affinityType: 'host', config, reserved, handleId: null, attrs: null, rsvdAttr: rsvd };
      const affs = (await this.ds.listKV({ type: 'blockAffinity', host, ipVersion: version, affinityType: 'host' })).items.sort(affinityListOrder);
      const candidates = affs.filter((a) => {
        const c = parseCIDR(a.key.cidr);
        return !!c && pools.some((p) => cidrWithin(c, p.cidr));
      });
      const found = await this.findOrClaimBlock(ctx, candidates, pools, true, 0);
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

  /** @internal Access for check/gc. */
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
