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
  Datastore,
  DatastoreCapabilities,
  Key,
  KeyOfList,
  KVList,
  KVPair,
  ListInterface,
  TxnCondition,
  TxnOperation,
  TxnResult,
  ValueOf,
  Watch,
  WatchEvent,
  WatchOptions,
} from './contract.js';
import { describeKey as describe, keyId, keyIdentifier, keyMatchesList, normalizeKey, validateKey, validateList } from './keys.js';
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
  /** Stored form: owned by the datastore, never handed out, never mutated. */
  readonly value: unknown;
  readonly revision: number;
  readonly createRevision: number;
}

interface LogEvent {
  readonly revision: number;
  readonly key: Key;
  readonly previous?: Entry;
  readonly current?: Entry;
}

const SNAPSHOT_FORMAT = 'libcalico-ts/memory-datastore';
const DECIMAL = /^(0|[1-9][0-9]*)$/;

function bucketOfKey(key: Key): string {
  return key.type === 'resource' ? `resource/${key.kind}` : key.type;
}

function bucketOfList(list: ListInterface): string {
  return list.type === 'resource' ? `resource/${list.kind}` : list.type;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
 * Values are deep-copied on the way in and out, so callers can never change stored state; bigints
 * are kept. For v3 resources the stored object gets the key's kind, name and namespace, and the
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
  });

  let buckets = new Map<string, Map<string, Entry>>();
  let revision = 0;
  let compactedRevision = 0;
  let log: LogEvent[] = [];
  let logHead = 0;
  let closed = false;
  const watches = new Set<MemoryWatch<Key>>();

  if (options.snapshot !== undefined) {
    const loaded = parseSnapshot(options.snapshot);
    buckets = loaded.buckets;
    revision = loaded.revision;
    compactedRevision = loaded.revision;
  }

  const toPair = (entry: Entry): KVPair => {
    const value = clonePlain(entry.value) as Record<string, unknown>;
    if (entry.key.type === 'resource') {
      (value.metadata as Record<string, unknown>).resourceVersion = String(entry.revision);
    }
    return { key: { ...entry.key }, value: value as unknown as ValueOf<Key>, revision: String(entry.revision) };
  };

  const ensureOpen = () => {
    if (closed) throw new DatastoreError('the memory datastore is closed');
  };

  const lookup = (key: Key): Entry | undefined => buckets.get(bucketOfKey(key))?.get(keyId(key));

  /** Applies changes under one new revision, logs them and feeds the watches. */
  const commit = (changes: { key: Key; value: unknown | undefined }[]): Entry[] => {
    const rev = revision + 1;
    const written: Entry[] = [];
    const events: LogEvent[] = [];
    for (const change of changes) {
      const bucketName = bucketOfKey(change.key);
      let bucket = buckets.get(bucketName);
      const id = keyId(change.key);
      const previous = bucket?.get(id);
      if (change.value === undefined) {
        if (!previous) continue;
        bucket!.delete(id);
        events.push({ revision: rev, key: previous.key, previous });
      } else {
        if (!bucket) buckets.set(bucketName, (bucket = new Map()));
        const entry: Entry = { key: change.key, id, value: change.value, revision: rev, createRevision: previous?.createRevision ?? rev };
        bucket.set(id, entry);
        written.push(entry);
        events.push(previous ? { revision: rev, key: entry.key, previous, current: entry } : { revision: rev, key: entry.key, current: entry });
      }
    }
    if (events.length === 0) return written;
    revision = rev;
    for (const event of events) log.push(event);
    trimHistory();
    for (const watch of [...watches]) for (const event of events) watch.deliver(event);
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
    if (beforeWrite) await beforeWrite({ kind, keys: keys.map((k) => ({ ...k })) });
  };

  const prepareKey = <K extends Key>(key: K): K => {
    validateKey(key);
    return normalizeKey(key);
  };

  const datastore: MemoryDatastore = {
    contractVersion: 'v1',
    datastoreType: 'memory',
    capabilities,

    async createKV<K extends Key>(key: K, value: ValueOf<K>): Promise<KVPair<K>> {
      ensureOpen();
      const k = prepareKey(key);
      const stored = prepareValue(k, value);
      await runHook('create', [k]);
      ensureOpen();
      if (lookup(k)) throw new ResourceExistsError(keyIdentifier(k));
      return toPair(commit([{ key: k, value: stored }])[0]!) as KVPair<K>;
    },

    async updateKV<K extends Key>(key: K, value: ValueOf<K>, rev: string): Promise<KVPair<K>> {
      ensureOpen();
      const k = prepareKey(key);
      const stored = prepareValue(k, value);
      checkRevisionArgument(rev);
      await runHook('update', [k]);
      ensureOpen();
      const existing = lookup(k);
      if (!existing) throw new ResourceNotFoundError(keyIdentifier(k));
      if (String(existing.revision) !== rev) {
        throw new UpdateConflictError(keyIdentifier(k), {
          message: `update conflict: ${describe(k)} is at revision ${existing.revision}, not ${rev}`,
        });
      }
      return toPair(commit([{ key: k, value: stored }])[0]!) as KVPair<K>;
    },

    async applyKV<K extends Key>(key: K, value: ValueOf<K>): Promise<KVPair<K>> {
      ensureOpen();
      const k = prepareKey(key);
      const stored = prepareValue(k, value);
      await runHook('apply', [k]);
      ensureOpen();
      return toPair(commit([{ key: k, value: stored }])[0]!) as KVPair<K>;
    },

    async deleteKV<K extends Key>(key: K, rev?: string): Promise<KVPair<K>> {
      ensureOpen();
      const k = prepareKey(key);
      if (rev !== undefined) checkRevisionArgument(rev);
      await runHook('delete', [k]);
      ensureOpen();
      const existing = lookup(k);
      if (!existing) throw new ResourceNotFoundError(keyIdentifier(k));
      if (rev !== undefined && String(existing.revision) !== rev) {
        throw new UpdateConflictError(keyIdentifier(k), {
          message: `delete conflict: ${describe(k)} is at revision ${existing.revision}, not ${rev}`,
        });
      }
      commit([{ key: k, value: undefined }]);
      return toPair(existing) as KVPair<K>;
    },

    async getKV<K extends Key>(key: K): Promise<KVPair<K>> {
      ensureOpen();
      const k = prepareKey(key);
      const existing = lookup(k);
      if (!existing) throw new ResourceNotFoundError(keyIdentifier(k));
      return toPair(existing) as KVPair<K>;
    },

    async listKV<L extends ListInterface>(list: L): Promise<KVList<KeyOfList<L>>> {
      ensureOpen();
      validateList(list);
      return { items: matching(list).map(toPair) as KVPair<KeyOfList<L>>[], revision: String(revision) };
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
          for (const entry of matching(list)) {
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

    async transact(conditions: TxnCondition[], operations: TxnOperation[]): Promise<TxnResult> {
      ensureOpen();
      if (!Array.isArray(conditions)) throw new ValidationError([{ name: 'conditions', value: conditions, reason: 'must be an array' }]);
      if (!Array.isArray(operations) || operations.length === 0) {
        throw new ValidationError([{ name: 'operations', value: operations, reason: 'must be a non-empty array' }]);
      }
      const checks = conditions.map((condition, i) => {
        if (!isPlainObject(condition)) throw new ValidationError([{ name: `conditions[${i}]`, value: condition, reason: 'must be an object' }]);
        const key = prepareKey(condition.key);
        if ('absent' in condition && condition.absent === true) return { key, absent: true as const };
        if ('revision' in condition) return { key, revision: checkRevisionArgument(condition.revision, `conditions[${i}].revision`) };
        throw new ValidationError([{ name: `conditions[${i}]`, value: condition, reason: 'needs `revision` or `absent: true`' }]);
      });
      const seen = new Set<string>();
      const writes = operations.map((operation, i) => {
        if (!isPlainObject(operation)) throw new ValidationError([{ name: `operations[${i}]`, value: operation, reason: 'must be an object' }]);
        const key = prepareKey(operation.key);
        const id = keyId(key);
        if (seen.has(id)) throw new ValidationError([{ name: `operations[${i}].key`, value: describe(key), reason: 'the same key is written twice in one transaction' }]);
        seen.add(id);
        if (operation.op === 'put') return { key, value: prepareValue(key, operation.value) };
        if (operation.op === 'delete') return { key, value: undefined };
        throw new ValidationError([{ name: `operations[${i}].op`, value: (operation as { op: unknown }).op, reason: "must be 'put' or 'delete'" }]);
      });
      if (!capabilities.atomicTransactions) {
        const keys = new Set([...checks.map((c) => keyId(c.key)), ...seen]);
        if (keys.size > 1) {
          throw new OperationNotSupportedError(`this datastore cannot commit ${keys.size} keys atomically (atomicTransactions is false)`);
        }
      }
      await runHook('txn', writes.map((w) => w.key));
      ensureOpen();
      for (const check of checks) {
        const existing = lookup(check.key);
        if ('absent' in check) {
          if (existing) throw new ResourceExistsError(keyIdentifier(check.key), { message: `transaction condition failed: ${describe(check.key)} exists` });
        } else if (!existing || String(existing.revision) !== check.revision) {
          throw new UpdateConflictError(keyIdentifier(check.key), {
            message: `transaction condition failed: ${describe(check.key)} is ${existing ? `at revision ${existing.revision}` : 'absent'}, not at ${check.revision}`,
          });
        }
      }
      const written = commit(writes);
      const byId = new Map(written.map((entry) => [entry.id, entry]));
      return {
        results: writes.map((w) => {
          const entry = w.value === undefined ? undefined : byId.get(keyId(w.key));
          return entry ? { key: { ...w.key }, revision: String(entry.revision) } : { key: { ...w.key } };
        }),
        revision: String(revision),
      };
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
      let n = 0;
      for (const bucket of buckets.values()) n += bucket.size;
      return n;
    },

    snapshot(): string {
      ensureOpen();
      const entries = [...buckets.values()]
        .flatMap((bucket) => [...bucket.values()])
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
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
      buckets = loaded.buckets;
      revision = Math.max(revision, loaded.revision);
      compactedRevision = revision;
      log = [];
      logHead = 0;
      for (const watch of [...watches]) watch.fail(new WatchTooOldError(String(revision), { message: 'the memory datastore was restored from a snapshot; relist' }));
      watches.clear();
    },
  };

  function matching(list: ListInterface): Entry[] {
    const bucket = buckets.get(bucketOfList(list));
    if (!bucket) return [];
    const out: Entry[] = [];
    for (const entry of bucket.values()) if (keyMatchesList(entry.key, list)) out.push(entry);
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

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

/** Reads a snapshot made by `snapshot()`; throws `ParseError` describing the first problem. */
function parseSnapshot(text: string): { buckets: Map<string, Map<string, Entry>>; revision: number } {
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
  const buckets = new Map<string, Map<string, Entry>>();
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
    let value: unknown;
    try {
      value = decodeBigintJson(raw.value, Array.isArray(raw.bigints) ? (raw.bigints as (string | number)[][]) : []);
      value = prepareValue(key, value);
    } catch (error) {
      throw new ParseError(`${where}.value is invalid: ${(error as Error).message}`, { cause: error });
    }
    const bucketName = bucketOfKey(key);
    let bucket = buckets.get(bucketName);
    if (!bucket) buckets.set(bucketName, (bucket = new Map()));
    const id = keyId(key);
    if (bucket.has(id)) throw new ParseError(`${where} repeats the key ${id}`);
    bucket.set(id, { key, id, value, revision: entryRevision, createRevision });
  });
  return { buckets, revision };
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
