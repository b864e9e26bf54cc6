/**
 * The etcd v3 datastore: Calico's key layout and JSON values over the `etcd3` client.
 * Every operation is a single etcd request or transaction (reference datastore.md §6.3-§6.5).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  DatastoreError,
  DatastoreUnavailableError,
  ResourceExistsError,
  ResourceNotFoundError,
  UpdateConflictError,
  ValidationError,
  WatchTooOldError,
  type ErrorIdentifier,
  type V3Object,
} from '@libcalico-ts/api';
import {
  describeList,
  keyIdentifier,
  keyMatchesList,
  keyToPath,
  listToPrefixes,
  pathToKey,
  validateList,
  type Datastore,
  type DatastoreCapabilities,
  type Key,
  type KeyOfList,
  type KVList,
  type KVPair,
  type ListInterface,
  type TxnCondition,
  type ListCondition,
  type TxnOperation,
  type TxnOptions,
  type TxnResult,
  type ValueOf,
  type Watch,
  type WatchEvent,
  type WatchOptions,
} from '@libcalico-ts/datastore';
import { ConsecutiveBreaker, circuitBreaker, handleWhen, noop, retry } from 'cockatiel';
import { Etcd3, isRecoverableError, type IKeyValue, type IOptions, type IRangeResponse, type IRequestOp, type IResponseOp, type Watcher } from 'etcd3';
import { decodeEtcdValue, encodeEtcdValue } from './codec.js';
import { translateEtcdError } from './errors.js';

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

/** Keys per range request when listing; pages are read at one pinned revision. */
const LIST_PAGE_SIZE = 500;
/** etcd's default `--max-txn-ops`. */
const MAX_TXN_OPS = 128;

const REVISION = /^[1-9][0-9]{0,18}$/;

function checkRevision(revision: unknown, field = 'revision'): string {
  if (typeof revision !== 'string' || !REVISION.test(revision)) {
    throw new ValidationError([{ name: field, value: revision, reason: 'must be an etcd revision: a positive decimal integer string' }]);
  }
  return revision;
}

/** Exclusive end of the range of keys starting with `prefix`. */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

function readPem(path: string | undefined, field: string): Buffer | undefined {
  if (path === undefined) return undefined;
  if (typeof path !== 'string' || path === '') throw new ValidationError([{ name: field, value: path, reason: 'must be a file path' }]);
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ValidationError([{ name: field, value: path, reason: `cannot read the file: ${(error as Error).message}` }], { cause: error });
  }
}

function checkOptions(options: EtcdDatastoreOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError([{ name: 'options', value: options, reason: 'must be an object with endpoints' }]);
  }
  const fields: { name: string; value: unknown; reason: string }[] = [];
  if (!Array.isArray(options.endpoints) || options.endpoints.length === 0) {
    fields.push({ name: 'endpoints', value: options.endpoints, reason: 'must be a non-empty list of URLs' });
  } else {
    options.endpoints.forEach((endpoint, i) => {
      if (typeof endpoint !== 'string' || !/^https?:\/\/[^/\s]+\/?$/.test(endpoint)) {
        fields.push({ name: `endpoints[${i}]`, value: endpoint, reason: 'must be an http:// or https:// URL with a host and port' });
      }
    });
  }
  if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
    fields.push({ name: options.certFile === undefined ? 'certFile' : 'keyFile', value: undefined, reason: 'certFile and keyFile must be given together' });
  }
  for (const name of ['dialTimeoutMs', 'requestTimeoutMs'] as const) {
    const v = options[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) fields.push({ name, value: v, reason: 'must be a positive number of milliseconds' });
  }
  if (fields.length > 0) throw new ValidationError(fields);
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
  checkOptions(options);
  const ca = readPem(options.caFile, 'caFile');
  const cert = readPem(options.certFile, 'certFile');
  const key = readPem(options.keyFile, 'keyFile');
  checkTlsMaterial(options, ca, cert, key);
  try {
    return new EtcdDatastore(options, ca, cert, key);
  } catch (error) {
    // gRPC refuses credentials it cannot load; say which option, never what the file holds.
    throw new ValidationError([{ name: 'caFile/certFile/keyFile', value: undefined, reason: 'the TLS material could not be loaded' }], { cause: error });
  }
}

/**
 * Parses the TLS material before gRPC sees it, so that a corrupt file, a certificate given as the
 * key, or a key that does not belong to the certificate is a `ValidationError` naming the option
 * (with the file path, never the file's content) instead of an OpenSSL error from deep inside gRPC.
 */
function checkTlsMaterial(options: EtcdDatastoreOptions, ca: Buffer | undefined, cert: Buffer | undefined, key: Buffer | undefined): void {
  const problems: { name: string; value: unknown; reason: string }[] = [];
  let certificate: X509Certificate | undefined;
  if (ca !== undefined) {
    try {
      new X509Certificate(ca);
    } catch {
      problems.push({ name: 'caFile', value: options.caFile, reason: 'is not a PEM certificate' });
    }
  }
  if (cert !== undefined) {
    try {
      certificate = new X509Certificate(cert);
    } catch {
      problems.push({ name: 'certFile', value: options.certFile, reason: 'is not a PEM certificate' });
    }
  }
  if (key !== undefined) {
    try {
      const privateKey = createPrivateKey(key);
      if (certificate && !certificate.checkPrivateKey(privateKey)) {
        problems.push({ name: 'keyFile', value: options.keyFile, reason: 'does not match the certificate in certFile' });
      }
    } catch {
      problems.push({ name: 'keyFile', value: options.keyFile, reason: 'is not a PEM private key' });
    }
  }
  if (problems.length > 0) throw new ValidationError(problems);
}

interface DecodedKV {
  pair?: KVPair;
  error?: Error;
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
    let value: ValueOf<K>;
    try {
      value = decodeEtcdValue(key, kv.value.toString('utf8'));
    } catch (error) {
      throw new DatastoreError(`cannot decode the value stored at ${path}: ${(error as Error).message}`, {
        identifier: keyIdentifier(key),
        cause: error,
      });
    }
    const revision = String(kv.mod_revision);
    // Resources carry their revision as metadata.resourceVersion, as Calico's clients return them.
    if (key.type === 'resource') (value as V3Object).metadata.resourceVersion = revision;
    return { key, value, revision };
  }

  private decodeAny(kv: IKeyValue, list?: ListInterface): DecodedKV | undefined {
    const path = kv.key.toString('utf8');
    const key = pathToKey(path);
    if (key === undefined || (list !== undefined && !keyMatchesList(key, list))) return undefined;
    try {
      return { pair: this.decode(key, path, kv) };
    } catch (error) {
      return { error: error as Error };
    }
  }

  private prepare<K extends Key>(key: K, value?: ValueOf<K>): { path: string; bytes?: Buffer; canonical: K; identifier: ErrorIdentifier } {
    this.ensureOpen();
    const path = keyToPath(key);
    const canonical = (pathToKey(path) ?? key) as K;
    const identifier = keyIdentifier(canonical);
    if (value === undefined) return { path, canonical, identifier };
    const text = encodeEtcdValue(canonical, value);
    return { path, bytes: Buffer.from(text, 'utf8'), canonical, identifier };
  }

  /** The pair written: the stored bytes decoded again, so it equals what a later get returns. */
  private written<K extends Key>(key: K, path: string, bytes: Buffer, revision: string): KVPair<K> {
    return this.decode(key, path, { key: Buffer.from(path), value: bytes, mod_revision: revision } as IKeyValue);
  }

  // -------------------------------------------------------------------------------------------
  // Single-key operations

  async createKV<K extends Key>(key: K, value: ValueOf<K>): Promise<KVPair<K>> {
    const { path, bytes, canonical, identifier } = this.prepare(key, value);
    const keyBuffer = Buffer.from(path);
    const response = await this.call(
      `create ${path}`,
      () =>
        this.client.kv.txn({
          compare: [{ key: keyBuffer, target: 'Version', result: 'Equal', version: 0 }],
          success: [{ request_put: { key: keyBuffer, value: bytes! } }],
          failure: [{ request_range: { key: keyBuffer } }],
        }),
      identifier,
    );
    if (!response.succeeded) throw new ResourceExistsError(identifier);
    return this.written(canonical, path, bytes!, String(response.header.revision));
  }

  async updateKV<K extends Key>(key: K, value: ValueOf<K>, revision: string): Promise<KVPair<K>> {
    const { path, bytes, canonical, identifier } = this.prepare(key, value);
    const rev = checkRevision(revision);
    const keyBuffer = Buffer.from(path);
    const response = await this.call(
      `update ${path}`,
      () =>
        this.client.kv.txn({
          compare: [{ key: keyBuffer, target: 'Mod', result: 'Equal', mod_revision: rev }],
          success: [{ request_put: { key: keyBuffer, value: bytes! } }],
          failure: [{ request_range: { key: keyBuffer } }],
        }),
      identifier,
    );
    if (!response.succeeded) {
      const current = response.responses[0]?.response_range?.kvs ?? [];
      if (current.length === 0) throw new ResourceNotFoundError(identifier);
      throw new UpdateConflictError(identifier, {
        message: `update conflict: ${path} is at revision ${current[0]!.mod_revision}, not ${rev}`,
      });
    }
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
    const keyBuffer = Buffer.from(path);
    const response = await this.call(
      `delete ${path}`,
      () =>
        this.client.kv.txn({
          compare: rev === undefined ? [] : [{ key: keyBuffer, target: 'Mod', result: 'Equal', mod_revision: rev }],
          success: [{ request_delete_range: { key: keyBuffer, prev_kv: true } }],
          failure: [{ request_range: { key: keyBuffer } }],
        }),
      identifier,
    );
    if (!response.succeeded) {
      const current = response.responses[0]?.response_range?.kvs ?? [];
      if (current.length === 0) throw new ResourceNotFoundError(identifier);
      throw new UpdateConflictError(identifier, {
        message: `delete conflict: ${path} is at revision ${current[0]!.mod_revision}, not ${rev}`,
      });
    }
    const deleted = response.responses[0]?.response_delete_range;
    const previous = deleted?.prev_kvs?.[0];
    if (!deleted || Number(deleted.deleted) === 0 || previous === undefined) throw new ResourceNotFoundError(identifier);
    try {
      return this.decode(canonical, path, previous);
    } catch (error) {
      throw new DatastoreError(`${path} was deleted, but its previous value could not be decoded: ${(error as Error).message}`, {
        identifier: { key: path },
        cause: error,
      });
    }
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
  private async readPrefixes(prefixes: string[], operation: string): Promise<{ kvs: IKeyValue[]; revision: string }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.readPrefixesOnce(prefixes, operation);
      } catch (error) {
        // A compaction between two pages invalidates the pinned revision: read again from scratch.
        if (error instanceof PinnedRevisionCompacted && attempt < 3) continue;
        if (error instanceof PinnedRevisionCompacted) throw new DatastoreUnavailableError(`${operation}: etcd compacted the list revision repeatedly`);
        throw error;
      }
    }
  }

  private async readPrefixesOnce(prefixes: string[], operation: string): Promise<{ kvs: IKeyValue[]; revision: string }> {
    const kvs: IKeyValue[] = [];
    let revision: string | undefined;
    for (const prefix of prefixes) {
      const start = Buffer.from(prefix);
      const end = prefixEnd(start);
      let from = start;
      for (;;) {
        const pinned = revision;
        let page: IRangeResponse;
        try {
          page = await this.call(operation, () =>
            this.client.kv.range({ key: from, range_end: end, limit: LIST_PAGE_SIZE, ...(pinned !== undefined ? { revision: pinned } : {}) }),
          );
        } catch (error) {
          if (pinned !== undefined && (error as Error).name === 'WatchTooOldError') throw new PinnedRevisionCompacted();
          throw error;
        }
        revision ??= String(page.header.revision);
        kvs.push(...page.kvs);
        if (!page.more || page.kvs.length === 0) break;
        from = Buffer.concat([page.kvs[page.kvs.length - 1]!.key, Buffer.from([0])]);
      }
    }
    return { kvs, revision: revision! };
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
    if (!Array.isArray(conditions)) throw new ValidationError([{ name: 'conditions', value: conditions, reason: 'must be a list' }]);
    if (!Array.isArray(operations)) throw new ValidationError([{ name: 'operations', value: operations, reason: 'must be a list' }]);
    if (operations.length > MAX_TXN_OPS) {
      throw new ValidationError([{ name: 'operations', value: operations.length, reason: `etcd allows at most ${MAX_TXN_OPS} operations per transaction` }]);
    }
    const compare: NonNullable<Parameters<Etcd3['kv']['txn']>[0]['compare']> = [];
    const failure: IRequestOp[] = [];
    // One entry per failure op, in order: what to report when the transaction fails.
    const checks: (
      | { path: string; identifier: ErrorIdentifier; absent: boolean; revision?: string; list?: undefined }
      | { list: ListInterface; index: number; after: string; path: string }
    )[] = [];
    conditions.forEach((condition, i) => {
      if (typeof condition !== 'object' || condition === null) {
        throw new ValidationError([{ name: `conditions[${i}]`, value: condition, reason: 'must be {key, revision} or {key, absent: true}' }]);
      }
      const { path, identifier } = this.prepare(condition.key);
      const keyBuffer = Buffer.from(path);
      if ('absent' in condition && condition.absent === true) {
        compare.push({ key: keyBuffer, target: 'Version', result: 'Equal', version: 0 });
        checks.push({ path, identifier, absent: true });
      } else if ('revision' in condition) {
        const rev = checkRevision(condition.revision, `conditions[${i}].revision`);
        compare.push({ key: keyBuffer, target: 'Mod', result: 'Equal', mod_revision: rev });
        checks.push({ path, identifier, absent: false, revision: rev });
      } else {
        throw new ValidationError([{ name: `conditions[${i}]`, value: condition, reason: 'must be {key, revision} or {key, absent: true}' }]);
      }
      failure.push({ request_range: { key: keyBuffer } });
    });
    const listConditions = options?.listConditions ?? [];
    if (!Array.isArray(listConditions)) throw new ValidationError([{ name: 'options.listConditions', value: listConditions, reason: 'must be an array' }]);
    listConditions.forEach((condition: ListCondition, i: number) => {
      if (typeof condition !== 'object' || condition === null) {
        throw new ValidationError([{ name: `options.listConditions[${i}]`, value: condition, reason: 'must be {list, notModifiedAfter}' }]);
      }
      // Every key under the list's prefixes has a mod revision <= notModifiedAfter (an empty range holds).
      validateList(condition.list);
      const after = checkRevision(condition.notModifiedAfter, `options.listConditions[${i}].notModifiedAfter`);
      const next = (BigInt(after) + 1n).toString();
      for (const prefix of listToPrefixes(condition.list)) {
        const start = Buffer.from(prefix);
        const end = prefixEnd(start);
        compare.push({ key: start, range_end: end, target: 'Mod', result: 'Less', mod_revision: next });
        failure.push({ request_range: { key: start, range_end: end, min_mod_revision: next, limit: 1, keys_only: true } });
        checks.push({ list: condition.list, index: i, after, path: prefix });
      }
    });
    const success: IRequestOp[] = [];
    const results: { key: Key; path: string; bytes?: Buffer }[] = [];
    const seen = new Set<string>();
    operations.forEach((operation, i) => {
      if (typeof operation !== 'object' || operation === null || (operation.op !== 'put' && operation.op !== 'delete')) {
        throw new ValidationError([{ name: `operations[${i}].op`, value: (operation as { op?: unknown } | null)?.op, reason: "must be 'put' or 'delete'" }]);
      }
      const prepared = operation.op === 'put' ? this.prepare(operation.key, operation.value) : this.prepare(operation.key);
      if (seen.has(prepared.path)) {
        throw new ValidationError([{ name: `operations[${i}].key`, value: operation.key, reason: `${prepared.path} appears twice in one transaction` }]);
      }
      seen.add(prepared.path);
      const keyBuffer = Buffer.from(prepared.path);
      success.push(operation.op === 'put' ? { request_put: { key: keyBuffer, value: prepared.bytes! } } : { request_delete_range: { key: keyBuffer } });
      results.push({ key: prepared.canonical, path: prepared.path, ...(operation.op === 'put' ? { bytes: prepared.bytes! } : {}) });
    });
    const response = await this.call('transaction', () => this.client.kv.txn({ compare, success, failure }));
    const revision = String(response.header.revision);
    if (!response.succeeded) {
      // Report the first condition that does not hold, as the contract asks.
      for (let i = 0; i < checks.length; i++) {
        const check = checks[i]!;
        const kvs = (response.responses[i] as IResponseOp | undefined)?.response_range?.kvs ?? [];
        if (check.list !== undefined) {
          if (kvs.length > 0) {
            throw new UpdateConflictError(`list ${describeList(check.list)}`, {
              message: `transaction conflict: listConditions[${check.index}]: ${kvs[0]!.key.toString()} changed at revision ${kvs[0]!.mod_revision}, after ${check.after}`,
            });
          }
          continue;
        }
        if (check.absent && kvs.length > 0) throw new ResourceExistsError(check.identifier);
        if (!check.absent && (kvs.length === 0 || String(kvs[0]!.mod_revision) !== check.revision)) {
          throw new UpdateConflictError(check.identifier, {
            message: `transaction conflict: ${check.path} is ${kvs.length === 0 ? 'absent' : `at revision ${kvs[0]!.mod_revision}`}, not ${check.revision}`,
          });
        }
      }
      throw new UpdateConflictError('transaction', { message: 'transaction conflict: a condition changed while checking it' });
    }
    return { results: results.map((r) => (r.bytes !== undefined ? { key: r.key, revision } : { key: r.key })), revision };
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

class PinnedRevisionCompacted extends Error {}

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
