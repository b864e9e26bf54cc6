/**
 * The etcd v3 datastore: Calico's key layout and JSON values over the `etcd3` client.
 * Every operation is a single etcd request or transaction (reference datastore.md §6.3-§6.5).
 */
import {
  DatastoreError,
  DatastoreUnavailableError,
  ResourceNotFoundError,
  ValidationError,
  WatchTooOldError,
  type ErrorIdentifier,
} from '@libcalico-ts/api';
import {
  listToPrefixes,
  type Datastore,
  type DatastoreCapabilities,
  type Key,
  type KeyOfList,
  type KVList,
  type KVPair,
  type ListInterface,
  type TxnCondition,
  type TxnOperation,
  type TxnOptions,
  type TxnResult,
  type ValueOf,
  type Watch,
  type WatchEvent,
  type WatchOptions,
} from '@libcalico-ts/datastore';
import { ConsecutiveBreaker, circuitBreaker, handleWhen, noop, retry } from 'cockatiel';
import { Etcd3, isRecoverableError, type IKeyValue, type IOptions, type IRangeResponse, type IRequestOp, type IResponseOp, type ITxnResponse, type Watcher } from 'etcd3';
import { translateEtcdError } from './errors.js';
import {
  checkCommonOptions,
  checkRevision,
  decodeListed,
  decodeStored,
  LIST_PAGE_SIZE,
  loadTlsFiles,
  prefixEnd,
  prepareKey,
  type DecodedKV,
  type PreparedKey,
} from './internal/shared.js';
import * as etcdTxn from './internal/txn.js';

/** Options of {@link createEtcdDatastore}. */
export interface EtcdDatastoreOptions {
  /**
   * Client URLs of the etcd members, e.g. `['http://127.0.0.1:2379']` (`https://` for TLS).
   * Requests are spread over them and fail over between them.
   */
  endpoints: string[];
  /** PEM file of the CA that signed the etcd server certificate (TLS). Default: the system roots for `https://` endpoints. */
  caFile?: string;
  /** PEM client certificate, for etcd started with `--client-cert-auth`. Needs `keyFile`. */
  certFile?: string;
  /** PEM private key of `certFile`. */
  keyFile?: string;
  /**
   * How long a request may wait for a connection before the datastore has ever connected
   * (ms, default 5000). Once connected, `requestTimeoutMs` bounds each request.
   */
  dialTimeoutMs?: number;
  /** Deadline of each request once connected (ms, default 10000, Calico's client timeout). */
  requestTimeoutMs?: number;
}

/**
 * Creates a datastore on an etcd v3 cluster, wire-compatible with Calico's etcdv3 backend: the
 * same keys (`/calico/resources/v3/...`, `/calico/ipam/v2/...`), the same JSON values, the same
 * compare-and-swap transactions. Revisions are etcd mod revisions (decimal strings).
 *
 * Creating the datastore does not connect; the first request does. Failures:
 * `ResourceExistsError`, `ResourceNotFoundError`, `UpdateConflictError` as the contract says;
 * `DatastoreUnavailableError` (retryable) when etcd cannot be reached within the dial/request
 * timeout; `WatchTooOldError` for a watch from a compacted revision; `DatastoreError` naming the
 * key for a stored value that cannot be decoded (lists skip such values and report them in
 * `errors`); `ValidationError` for bad options, keys or values (nothing is written).
 *
 * @throws ValidationError for malformed options or unreadable TLS files.
 * @example
 * ```ts
 * const datastore = createEtcdDatastore({ endpoints: ['http://127.0.0.1:2379'] });
 * const client = createClient({ datastore });
 * ```
 */
export function createEtcdDatastore(options: EtcdDatastoreOptions): Datastore {
  checkCommonOptions(options, ['dialTimeoutMs', 'requestTimeoutMs']);
  const { ca, cert, key } = loadTlsFiles(options);
  try {
    return new EtcdDatastore(options, ca, cert, key);
  } catch (error) {
    // gRPC refuses credentials it cannot load; say which option, never what the file holds.
    throw new ValidationError([{ name: 'caFile/certFile/keyFile', value: undefined, reason: 'the TLS material could not be loaded' }], { cause: error });
  }
}

/** etcd3's form of a transport-neutral transaction (./internal/txn.ts). */
function grpcTxn(request: etcdTxn.TxnRequest): Parameters<Etcd3['kv']['txn']>[0] {
  return {
    compare: request.compare.map((c) =>
      c.target === 'version'
        ? { key: c.key, target: 'Version' as const, result: c.result === 'equal' ? ('Equal' as const) : ('Less' as const), version: Number(c.value) }
        : {
            key: c.key,
            ...(c.rangeEnd !== undefined ? { range_end: c.rangeEnd } : {}),
            target: 'Mod' as const,
            result: c.result === 'equal' ? ('Equal' as const) : ('Less' as const),
            mod_revision: c.value,
          },
    ),
    success: request.success.map(grpcOp),
    failure: request.failure.map(grpcOp),
  };
}

function grpcOp(op: etcdTxn.TxnRequestOp): IRequestOp {
  if ('put' in op) return { request_put: { key: op.put.key, value: op.put.value } };
  if ('deleteRange' in op) return { request_delete_range: { key: op.deleteRange.key, ...(op.deleteRange.prevKv ? { prev_kv: true } : {}) } };
  const r = op.range;
  return {
    request_range: {
      key: r.key,
      ...(r.rangeEnd !== undefined ? { range_end: r.rangeEnd } : {}),
      ...(r.minModRevision !== undefined ? { min_mod_revision: r.minModRevision } : {}),
      ...(r.limit !== undefined ? { limit: r.limit } : {}),
      ...(r.keysOnly ? { keys_only: true } : {}),
    },
  };
}

/** The keys and mod revisions the failure range `i` of a failed transaction returned. */
function failureRange(response: ITxnResponse, i: number): etcdTxn.FailureRange {
  const kvs = (response.responses[i] as IResponseOp | undefined)?.response_range?.kvs ?? [];
  return kvs.map((kv) => ({ key: kv.key.toString(), modRevision: String(kv.mod_revision) }));
}

class EtcdDatastore implements Datastore {
  readonly contractVersion = 'v1' as const;
  readonly datastoreType = 'etcdv3';
  readonly capabilities: DatastoreCapabilities = { atomicTransactions: true, softDeleteIPAM: false, listConditions: true };

  private readonly client: Etcd3;
  private readonly dialTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private connected = false;
  private closed = false;
  private readonly watches = new Set<EtcdWatch>();

  constructor(options: EtcdDatastoreOptions, ca: Buffer | undefined, cert: Buffer | undefined, key: Buffer | undefined) {
    this.dialTimeoutMs = options.dialTimeoutMs ?? 5000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    const hosts = options.endpoints.map((e) => e.replace(/\/$/, ''));
    const multi = hosts.length > 1;
    const clientOptions: IOptions = {
      hosts,
      dialTimeout: this.dialTimeoutMs,
      defaultCallOptions: (context) =>
        context.isStream ? {} : { deadline: Date.now() + (this.connected ? this.requestTimeoutMs : Math.min(this.dialTimeoutMs, this.requestTimeoutMs)) },
      faultHandling: {
        // One host: no breaker (it would only delay recovery); several: skip a failing member for a second.
        host: () => (multi ? circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(2) }) : noop),
        // Fail over to another member on a transport error; one host: the caller decides (isRetryable).
        global: multi ? retry(handleWhen(isRecoverableError), { maxAttempts: hosts.length - 1 }) : noop,
      },
      grpcOptions: {
        'grpc.max_receive_message_length': 256 * 1024 * 1024,
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.keepalive_permit_without_calls': 1,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': Math.min(this.dialTimeoutMs, 2000),
      },
    };
    if (ca !== undefined || cert !== undefined) {
      clientOptions.credentials = {
        rootCertificate: ca as Buffer,
        ...(key !== undefined ? { privateKey: key } : {}),
        ...(cert !== undefined ? { certChain: cert } : {}),
      };
    }
    this.client = new Etcd3(clientOptions);
  }

  // -------------------------------------------------------------------------------------------
  // Plumbing

  private ensureOpen(): void {
    if (this.closed) throw new DatastoreError('the etcd datastore is closed');
  }

  /** Runs one etcd call, translating its failure. */
  private async call<T>(operation: string, run: () => Promise<T>, identifier?: ErrorIdentifier): Promise<T> {
    this.ensureOpen();
    try {
      const result = await run();
      this.connected = true;
      return result;
    } catch (error) {
      throw translateEtcdError(error, { operation, ...(identifier !== undefined ? { identifier } : {}) });
    }
  }

  private decode<K extends Key>(key: K, path: string, kv: IKeyValue): KVPair<K> {
    return decodeStored(key, path, kv.value.toString('utf8'), String(kv.mod_revision));
  }

  private decodeAny(kv: IKeyValue, list?: ListInterface): DecodedKV | undefined {
    return decodeListed(kv.key.toString('utf8'), kv.value.toString('utf8'), String(kv.mod_revision), list);
  }

  private prepare<K extends Key>(key: K, value?: ValueOf<K>): PreparedKey<K> {
    this.ensureOpen();
    return prepareKey(key, value);
  }

  /** The pair written: the stored bytes decoded again, so it equals what a later get returns. */
  private written<K extends Key>(key: K, path: string, bytes: Buffer, revision: string): KVPair<K> {
    return decodeStored(key, path, bytes.toString('utf8'), revision);
  }

  private txn(operation: string, request: etcdTxn.TxnRequest, identifier?: ErrorIdentifier): Promise<ITxnResponse> {
    return this.call(operation, () => this.client.kv.txn(grpcTxn(request)), identifier);
  }

  // -------------------------------------------------------------------------------------------
  // Single-key operations

  async createKV<K extends Key>(key: K, value: ValueOf<K>): Promise<KVPair<K>> {
    const { path, bytes, canonical, identifier } = this.prepare(key, value);
    const response = await this.txn(`create ${path}`, etcdTxn.createRequest(path, bytes!), identifier);
    if (!response.succeeded) throw etcdTxn.createFailure(identifier);
    return this.written(canonical, path, bytes!, String(response.header.revision));
  }

  async updateKV<K extends Key>(key: K, value: ValueOf<K>, revision: string): Promise<KVPair<K>> {
    const { path, bytes, canonical, identifier } = this.prepare(key, value);
    const rev = checkRevision(revision);
    const response = await this.txn(`update ${path}`, etcdTxn.updateRequest(path, bytes!, rev), identifier);
    if (!response.succeeded) throw etcdTxn.updateFailure(identifier, path, rev, failureRange(response, 0));
    return this.written(canonical, path, bytes!, String(response.header.revision));
  }

  async applyKV<K extends Key>(key: K, value: ValueOf<K>): Promise<KVPair<K>> {
    const { path, bytes, canonical, identifier } = this.prepare(key, value);
    const response = await this.call(`apply ${path}`, () => this.client.kv.put({ key: Buffer.from(path), value: bytes! }), identifier);
    return this.written(canonical, path, bytes!, String(response.header.revision));
  }

  async deleteKV<K extends Key>(key: K, revision?: string): Promise<KVPair<K>> {
    const { path, canonical, identifier } = this.prepare(key);
    const rev = revision === undefined ? undefined : checkRevision(revision);
    const response = await this.txn(`delete ${path}`, etcdTxn.deleteRequest(path, rev), identifier);
    if (!response.succeeded) throw etcdTxn.deleteFailure(identifier, path, rev, failureRange(response, 0));
    const deleted = response.responses[0]?.response_delete_range;
    const previous = deleted?.prev_kvs?.[0];
    return etcdTxn.deletedPair(
      canonical,
      path,
      identifier,
      deleted ? deleted.deleted : 0,
      previous === undefined ? undefined : { text: previous.value.toString('utf8'), modRevision: String(previous.mod_revision) },
    );
  }

  async getKV<K extends Key>(key: K): Promise<KVPair<K>> {
    const { path, canonical, identifier } = this.prepare(key);
    const response = await this.call(`get ${path}`, () => this.client.kv.range({ key: Buffer.from(path) }), identifier);
    const kv = response.kvs[0];
    if (kv === undefined) throw new ResourceNotFoundError(identifier);
    return this.decode(canonical, path, kv);
  }

  // -------------------------------------------------------------------------------------------
  // List

  /** Reads every key under `prefixes` at one revision, page by page. */
  private readPrefixes(prefixes: string[], operation: string): Promise<{ kvs: IKeyValue[]; revision: string }> {
    return etcdTxn.readPrefixes(
      prefixes,
      operation,
      async (from, end, pinned) => {
        let page: IRangeResponse;
        try {
          page = await this.call(operation, () =>
            this.client.kv.range({ key: from, range_end: end, limit: LIST_PAGE_SIZE, ...(pinned !== undefined ? { revision: pinned } : {}) }),
          );
        } catch (error) {
          if (pinned !== undefined && (error as Error).name === 'WatchTooOldError') throw new etcdTxn.PinnedRevisionCompacted();
          throw error;
        }
        return { kvs: page.kvs, more: page.more, revision: String(page.header.revision) };
      },
      (kv) => kv.key,
    );
  }

  async listKV<L extends ListInterface>(list: L): Promise<KVList<KeyOfList<L>>> {
    this.ensureOpen();
    const prefixes = listToPrefixes(list);
    const { kvs, revision } = await this.readPrefixes(prefixes, `list ${prefixes.join(' + ')}`);
    const items: KVPair<KeyOfList<L>>[] = [];
    const errors: Error[] = [];
    for (const kv of kvs) {
      const decoded = this.decodeAny(kv, list);
      if (decoded === undefined) continue;
      if (decoded.pair) items.push(decoded.pair as KVPair<KeyOfList<L>>);
      else errors.push(decoded.error!);
    }
    return errors.length > 0 ? { items, revision, errors } : { items, revision };
  }

  // -------------------------------------------------------------------------------------------
  // Watch

  watchKV<L extends ListInterface>(list: L, options: WatchOptions = {}): Watch<KeyOfList<L>> {
    this.ensureOpen();
    const prefixes = listToPrefixes(list);
    const revision = options.revision === undefined ? undefined : checkRevision(options.revision, 'options.revision');
    const watch = new EtcdWatch(this, list, prefixes, revision, options.signal);
    this.watches.add(watch);
    watch.onEnd(() => this.watches.delete(watch));
    watch.start();
    return watch as unknown as Watch<KeyOfList<L>>;
  }

  /** @internal used by {@link EtcdWatch}. */
  openWatcher(start: Buffer, end: Buffer, fromRevision: string): Watcher {
    this.ensureOpen();
    return this.client.watch().inRange({ start, end }).startRevision(fromRevision).withPreviousKV().watcher();
  }

  /** @internal used by {@link EtcdWatch}: true when `revision` has been compacted away. */
  async isCompacted(revision: string): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.client.kv.range({ key: Buffer.from('/calico/'), limit: 1, revision, keys_only: true });
      return false;
    } catch (error) {
      return WatchTooOldError.isInstance(translateEtcdError(error));
    }
  }

  /** @internal used by {@link EtcdWatch}. */
  initialList(list: ListInterface): Promise<KVList> {
    return this.listKV(list);
  }

  /** @internal used by {@link EtcdWatch}. */
  decodeEvent(kv: IKeyValue, list: ListInterface): DecodedKV | undefined {
    return this.decodeAny(kv, list);
  }

  // -------------------------------------------------------------------------------------------
  // Transactions

  async transact(conditions: TxnCondition[], operations: TxnOperation[], options?: TxnOptions): Promise<TxnResult> {
    this.ensureOpen();
    const plan = etcdTxn.planTransaction(conditions, operations, options);
    const response = await this.txn('transaction', plan.request);
    if (!response.succeeded) throw etcdTxn.transactionFailure(plan, plan.checks.map((_, i) => failureRange(response, i)));
    return etcdTxn.transactionResult(plan, String(response.header.revision));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const watch of [...this.watches]) watch.stop();
    this.client.close();
  }

  /** @internal */
  get isClosed(): boolean {
    return this.closed;
  }
}

// ---------------------------------------------------------------------------------------------
// Watch

type Pending = { resolve: (result: IteratorResult<WatchEvent>) => void; reject: (error: unknown) => void };

/**
 * A watch over one etcd range: list first (when no revision is given), then an etcd watch from
 * the next revision with previous values. A broken connection, a cancelled watch or a compacted
 * revision is thrown from the iterator; `stop()` (or the abort signal) ends it normally.
 */
class EtcdWatch implements Watch<Key>, AsyncIterator<WatchEvent> {
  private readonly queue: WatchEvent[] = [];
  private pending: Pending | undefined;
  private failure: unknown;
  private ended = false;
  private watcher: Watcher | undefined;
  private lastRevision: string | undefined;
  private readonly endCallbacks: (() => void)[] = [];
  private readonly abortListener = () => this.stop();

  constructor(
    private readonly datastore: EtcdDatastore,
    private readonly list: ListInterface,
    private readonly prefixes: string[],
    private readonly revision: string | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {}

  onEnd(callback: () => void): void {
    this.endCallbacks.push(callback);
  }

  start(): void {
    if (this.signal?.aborted) {
      this.stop();
      return;
    }
    this.signal?.addEventListener('abort', this.abortListener, { once: true });
    void this.run().catch((error: unknown) => this.fail(error));
  }

  private async run(): Promise<void> {
    let from = this.revision;
    if (from === undefined) {
      const listed = await this.datastore.initialList(this.list);
      if (this.ended) return;
      for (const item of listed.items) this.push({ type: 'added', current: item, revision: listed.revision });
      from = listed.revision;
    }
    this.lastRevision = from;
    const starts = this.prefixes.map((p) => Buffer.from(p));
    const start = starts.reduce((a, b) => (Buffer.compare(a, b) <= 0 ? a : b));
    const end = starts.map(prefixEnd).reduce((a, b) => (Buffer.compare(a, b) >= 0 ? a : b));
    const next = (BigInt(from) + 1n).toString();
    const watcher = this.datastore.openWatcher(start, end, next);
    this.watcher = watcher;
    watcher.on('data', (response) => {
      if (this.ended) return;
      for (const event of response.events) this.handle(event.type, event.kv, event.prev_kv);
    });
    watcher.on('disconnected', (error: Error) => {
      this.fail(
        new DatastoreUnavailableError(`watch of ${this.prefixes.join(' + ')} lost its connection to etcd: ${error.message}`, { cause: error }),
      );
    });
    watcher.on('error', (error: Error) => {
      // etcd cancels a watch on a compacted revision without a reason text (only compact_revision,
      // which etcd3 does not pass on): confirm by reading at the watched revision.
      const watched = this.lastRevision ?? from!;
      void this.datastore.isCompacted(watched).then((compacted) =>
        this.fail(
          compacted
            ? new WatchTooOldError(watched, { cause: error })
            : translateEtcdError(error, { operation: `watch ${this.prefixes.join(' + ')}`, revision: watched }),
        ),
      );
    });
    if (this.ended) this.cancelWatcher();
  }

  private handle(type: string, kv: IKeyValue, prevKv: IKeyValue | undefined): void {
    const revision = String(kv.mod_revision);
    this.lastRevision = revision;
    const previous = prevKv && prevKv.key ? this.datastore.decodeEvent(prevKv, this.list) : undefined;
    if (type === 'Delete') {
      // A value nobody could read was never delivered: its deletion is not news either.
      if (previous?.pair) this.push({ type: 'deleted', previous: { ...previous.pair, revision: String(prevKv!.mod_revision) }, revision });
      return;
    }
    const current = this.datastore.decodeEvent(kv, this.list);
    if (current === undefined) return; // not a key of this list
    if (current.pair) {
      const added = String(kv.create_revision) === String(kv.mod_revision);
      this.push(
        added
          ? { type: 'added', current: current.pair, revision }
          : { type: 'modified', current: current.pair, ...(previous?.pair ? { previous: previous.pair } : {}), revision },
      );
    } else if (previous?.pair) {
      // Overwritten with an undecodable value: to the reader the old value is gone.
      this.push({ type: 'deleted', previous: previous.pair, revision });
    }
  }

  private push(event: WatchEvent): void {
    if (this.ended) return;
    if (this.pending) {
      const { resolve } = this.pending;
      this.pending = undefined;
      resolve({ value: event, done: false });
    } else {
      this.queue.push(event);
    }
  }

  private fail(error: unknown): void {
    if (this.ended || this.failure !== undefined) return;
    this.failure = translateEtcdError(error, { operation: `watch ${this.prefixes.join(' + ')}`, ...(this.lastRevision ? { revision: this.lastRevision } : {}) });
    this.cancelWatcher();
    this.finish();
    if (this.pending && this.queue.length === 0) {
      const { reject } = this.pending;
      this.pending = undefined;
      reject(this.failure);
    }
  }

  private cancelWatcher(): void {
    const watcher = this.watcher;
    this.watcher = undefined;
    if (watcher) {
      watcher.removeAllListeners('data');
      // Keep a no-op error listener: an EventEmitter 'error' without listeners would throw.
      watcher.removeAllListeners('error');
      watcher.on('error', () => undefined);
      watcher.removeAllListeners('disconnected');
      if (!this.datastore.isClosed) void watcher.cancel().catch(() => undefined);
    }
  }

  private finish(): void {
    this.signal?.removeEventListener('abort', this.abortListener);
    for (const callback of this.endCallbacks.splice(0)) callback();
  }

  stop(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue.length = 0;
    this.cancelWatcher();
    this.finish();
    if (this.pending) {
      const { resolve } = this.pending;
      this.pending = undefined;
      resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    if (this.queue.length > 0) return Promise.resolve({ value: this.queue.shift()!, done: false });
    if (this.failure !== undefined) {
      const failure = this.failure;
      this.ended = true;
      return Promise.reject(failure);
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.pending) return Promise.reject(new DatastoreError('a watch supports one reader at a time'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<WatchEvent>> {
    this.stop();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return this;
  }
}
