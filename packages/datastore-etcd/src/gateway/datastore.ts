/**
 * The start-up-cheap etcd datastore: the same keys, values, compare-and-swap transactions and
 * errors as the gRPC datastore (../datastore.ts, sharing ../internal/), spoken over etcd's JSON
 * gateway (`POST /v3/kv/{range,put,txn}` on the client URL, served by etcd >= 3.4 by default)
 * through a minimal keep-alive HTTP/1.1 client (./http1.ts).
 *
 * Loading `etcd3` and its gRPC stack costs ~200 ms per process, and even `node:http`'s first
 * request ~8 ms of lazy loading; this module needs only `node:net` (`node:tls` for https, loaded
 * on first use). It must never import `etcd3`, gRPC or `node:http` (a test checks).
 */
import {
  DatastoreError,
  OperationNotSupportedError,
  ResourceNotFoundError,
  ValidationError,
  type CalicoError,
  type ErrorIdentifier,
} from '@libcalico-ts/api';
import {
  keyToPath,
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
} from '@libcalico-ts/datastore';
import { EtcdGatewayStatusError, translateEtcdError } from '../errors.js';
import {
  checkCommonOptions,
  checkRevision,
  decodeListed,
  decodeStored,
  LIST_PAGE_SIZE,
  loadTlsFiles,
  MAX_TXN_OPS,
  prefixEnd,
  prepareKey,
  type PreparedKey,
} from '../internal/shared.js';
import * as etcdTxn from '../internal/txn.js';
import { Http1Client, parseHttpResponse, type Http1Response } from './http1.js';

/** Options of {@link createEtcdGatewayDatastore}. */
export interface EtcdGatewayDatastoreOptions {
  /**
   * Client URLs of the etcd members, e.g. `['http://127.0.0.1:2379']` (`https://` for TLS). Every
   * request goes to one member; on a connection failure, a timeout or an "unavailable" answer it is
   * sent to the next one, and the member that answered is used first from then on.
   */
  endpoints: string[];
  /** PEM file of the CA that signed the etcd server certificate. Default: Node's root CAs for `https://` endpoints. */
  caFile?: string;
  /** PEM client certificate, for etcd started with `--client-cert-auth`. Needs `keyFile`. */
  certFile?: string;
  /** PEM private key of `certFile`. */
  keyFile?: string;
  /** Deadline of each request to one member, connection included (ms, default 10000, Calico's client timeout). */
  requestTimeoutMs?: number;
}

/** A key-value as the gateway encodes it: bytes in base64, 64-bit integers as decimal strings. */
interface GwKV {
  key: string;
  value?: string;
  mod_revision?: string;
}
/** A range response (fields at their default value are omitted by the gateway). */
export interface GwRange {
  header?: { revision?: string };
  kvs?: GwKV[];
  more?: boolean;
}
interface GwTxn {
  header?: { revision?: string };
  succeeded?: boolean;
  responses?: { response_range?: GwRange; response_delete_range?: { deleted?: string; prev_kvs?: GwKV[] } }[];
}

let requestCount = 0;

/**
 * How many HTTP requests the gateway datastores of this process have sent so far (all of them
 * together, failovers included). Meant for debug timings of short-lived tools, e.g. to check that
 * {@link prefetching} saved the round trips it should.
 */
export function gatewayRequestCount(): number {
  return requestCount;
}

const b64 = (data: string | Buffer): string => Buffer.from(data).toString('base64');
const text64 = (data: string | undefined): string => Buffer.from(data ?? '', 'base64').toString('utf8');

/** The gateway's JSON form of a transport-neutral transaction. */
function gatewayTxn(request: etcdTxn.TxnRequest): object {
  return {
    compare: request.compare.map((c) => ({
      key: b64(c.key),
      ...(c.rangeEnd !== undefined ? { range_end: b64(c.rangeEnd) } : {}),
      target: c.target === 'version' ? 'VERSION' : 'MOD',
      result: c.result === 'equal' ? 'EQUAL' : 'LESS',
      ...(c.target === 'version' ? { version: c.value } : { mod_revision: c.value }),
    })),
    success: request.success.map(gatewayOp),
    failure: request.failure.map(gatewayOp),
  };
}

function gatewayOp(op: etcdTxn.TxnRequestOp): object {
  if ('put' in op) return { request_put: { key: b64(op.put.key), value: b64(op.put.value) } };
  if ('deleteRange' in op) return { request_delete_range: { key: b64(op.deleteRange.key), ...(op.deleteRange.prevKv ? { prev_kv: true } : {}) } };
  const r = op.range;
  return {
    request_range: {
      key: b64(r.key),
      ...(r.rangeEnd !== undefined ? { range_end: b64(r.rangeEnd) } : {}),
      ...(r.minModRevision !== undefined ? { min_mod_revision: r.minModRevision } : {}),
      ...(r.limit !== undefined ? { limit: String(r.limit) } : {}),
      ...(r.keysOnly ? { keys_only: true } : {}),
    },
  };
}

function failureRange(response: GwTxn, i: number): etcdTxn.FailureRange {
  return (response.responses?.[i]?.response_range?.kvs ?? []).map((kv) => ({ key: text64(kv.key), modRevision: String(kv.mod_revision ?? '0') }));
}

/**
 * Creates an etcd v3 datastore that talks to etcd's JSON gateway over plain HTTP/1.1 instead of
 * gRPC: for short-lived processes (CNI plugins, CLIs, hooks, serverless functions), where loading
 * the gRPC stack (~200 ms) would cost more than the work. Data is the same as the gRPC datastore's
 * (`createEtcdDatastore` from `@libcalico-ts/datastore-etcd`), byte for byte: both can be used on
 * one cluster at once.
 *
 * Supported: `getKV`, `listKV` (paged at one revision), `createKV`, `updateKV`, `applyKV`,
 * `deleteKV`, `transact` with conditions and `listConditions` (capabilities `atomicTransactions`
 * and `listConditions`), with the same errors as the gRPC datastore:
 * `ResourceExistsError`, `ResourceNotFoundError`, `UpdateConflictError` as the contract says;
 * `DatastoreUnavailableError` (retryable) when no endpoint answers within `requestTimeoutMs`;
 * `DatastoreUnavailableError` (not retryable) when etcd refuses the credentials; `DatastoreError`
 * naming the key for a stored value that cannot be decoded (lists report it in `errors`);
 * `ValidationError` for bad options, keys or values (nothing is sent).
 *
 * Not supported (capability `watch: false`): `watchKV` throws `OperationNotSupportedError` (the
 * gateway streams watches, which this client does not read); use the gRPC datastore for watches.
 * No username/password auth.
 *
 * Creating the datastore reads and checks the TLS files but contacts nothing; the first request
 * connects. `close()` closes the kept-alive connections.
 *
 * @throws ValidationError for malformed options or unreadable / mismatched TLS files.
 * @example
 * ```ts
 * import { createEtcdGatewayDatastore } from '@libcalico-ts/datastore-etcd/gateway';
 * const datastore = createEtcdGatewayDatastore({ endpoints: ['https://10.0.0.1:2379'], caFile, certFile, keyFile });
 * const pools = await datastore.listKV({ type: 'resource', kind: 'IPPool' });
 * await datastore.close();
 * ```
 */
export function createEtcdGatewayDatastore(options: EtcdGatewayDatastoreOptions): Datastore {
  checkCommonOptions(options, ['requestTimeoutMs']);
  const tls = loadTlsFiles(options);
  return new EtcdGatewayDatastore(
    options.endpoints.map((e) => new URL(e)),
    tls,
    options.requestTimeoutMs ?? 10_000,
  );
}

class EtcdGatewayDatastore implements Datastore {
  readonly contractVersion = 'v1' as const;
  readonly datastoreType = 'etcdv3';
  readonly capabilities: DatastoreCapabilities = Object.freeze({ atomicTransactions: true, softDeleteIPAM: false, listConditions: true, watch: false });

  private readonly clients: Http1Client[];
  private closed = false;
  /** The endpoint tried first: the last one that answered. */
  private preferred = 0;

  constructor(
    private readonly urls: URL[],
    tls: { ca?: Buffer; cert?: Buffer; key?: Buffer },
    timeoutMs: number,
  ) {
    this.clients = urls.map((url) => new Http1Client(url, tls, timeoutMs));
  }

  // -------------------------------------------------------------------------------------------
  // Plumbing

  private ensureOpen(): void {
    if (this.closed) throw new DatastoreError('the etcd datastore is closed');
  }

  /** One POST to one endpoint: the parsed answer, or an untranslated transport / status error. */
  private async post<T>(index: number, path: string, body: string): Promise<T> {
    requestCount++;
    const response: Http1Response = await this.clients[index]!.post(path, body);
    let parsed: unknown;
    try {
      parsed = response.body === '' ? {} : JSON.parse(response.body);
    } catch {
      throw new EtcdGatewayStatusError(`unparsable answer to ${path} (HTTP ${response.status})`, response.status, undefined);
    }
    if (response.status >= 300) {
      const e = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { error?: unknown; message?: unknown; code?: unknown };
      const message = typeof e.message === 'string' ? e.message : typeof e.error === 'string' ? e.error : `HTTP ${response.status}`;
      throw new EtcdGatewayStatusError(message, response.status, typeof e.code === 'number' ? e.code : undefined);
    }
    return parsed as T;
  }

  /**
   * One call: tries the endpoints in turn, starting with the preferred one, while the failure is
   * `DatastoreUnavailableError` and retryable (connection refused or lost, timeout, a member
   * without a leader); any other failure, or the last endpoint's, is thrown translated.
   */
  private async call<T>(operation: string, path: string, body: object, identifier?: ErrorIdentifier): Promise<T> {
    this.ensureOpen();
    const text = JSON.stringify(body);
    let last: CalicoError | undefined;
    for (let i = 0; i < this.urls.length; i++) {
      const index = (this.preferred + i) % this.urls.length;
      const url = this.urls[index]!;
      try {
        const result = await this.post<T>(index, `${url.pathname.replace(/\/$/, '')}${path}`, text);
        this.preferred = index;
        return result;
      } catch (error) {
        last = translateEtcdError(error, { operation: `${operation} (${url.host})`, ...(identifier !== undefined ? { identifier } : {}) });
        if (this.closed || last.name !== 'DatastoreUnavailableError' || (last as { isRetryable?: boolean }).isRetryable === false) throw last;
      }
    }
    throw last!;
  }

  private txn(operation: string, request: etcdTxn.TxnRequest, identifier?: ErrorIdentifier): Promise<GwTxn> {
    return this.call<GwTxn>(operation, '/v3/kv/txn', gatewayTxn(request), identifier);
  }

  private prepare<K extends Key>(key: K, value?: ValueOf<K>): PreparedKey<K> {
    this.ensureOpen();
    return prepareKey(key, value);
  }

  private decode<K extends Key>(key: K, path: string, kv: GwKV): KVPair<K> {
    return decodeStored(key, path, text64(kv.value), String(kv.mod_revision ?? '0'));
  }

  /** The pair written: the stored bytes decoded again, so it equals what a later get returns. */
  private written<K extends Key>(key: K, path: string, bytes: Buffer, revision: string | undefined): KVPair<K> {
    return decodeStored(key, path, bytes.toString('utf8'), String(revision ?? '0'));
  }

  private decodeInto<L extends ListInterface>(list: L, kvs: readonly GwKV[], items: KVPair<KeyOfList<L>>[], errors: Error[]): void {
    for (const kv of kvs) {
      const decoded = decodeListed(text64(kv.key), text64(kv.value), String(kv.mod_revision ?? '0'), list);
      if (decoded === undefined) continue;
      if (decoded.pair) items.push(decoded.pair as KVPair<KeyOfList<L>>);
      else errors.push(decoded.error!);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Single-key operations

  async createKV<K extends Key>(key: K, value: ValueOf<K>): Promise<KVPair<K>> {
    const { path, bytes, canonical, identifier } = this.prepare(key, value);
    const response = await this.txn(`create ${path}`, etcdTxn.createRequest(path, bytes!), identifier);
    if (!response.succeeded) throw etcdTxn.createFailure(identifier);
    return this.written(canonical, path, bytes!, response.header?.revision);
  }

  async updateKV<K extends Key>(key: K, value: ValueOf<K>, revision: string): Promise<KVPair<K>> {
    const { path, bytes, canonical, identifier } = this.prepare(key, value);
    const rev = checkRevision(revision);
    const response = await this.txn(`update ${path}`, etcdTxn.updateRequest(path, bytes!, rev), identifier);
    if (!response.succeeded) throw etcdTxn.updateFailure(identifier, path, rev, failureRange(response, 0));
    return this.written(canonical, path, bytes!, response.header?.revision);
  }

  async applyKV<K extends Key>(key: K, value: ValueOf<K>): Promise<KVPair<K>> {
    const { path, bytes, canonical, identifier } = this.prepare(key, value);
    const response = await this.call<GwRange>(`apply ${path}`, '/v3/kv/put', { key: b64(path), value: b64(bytes!) }, identifier);
    return this.written(canonical, path, bytes!, response.header?.revision);
  }

  async deleteKV<K extends Key>(key: K, revision?: string): Promise<KVPair<K>> {
    const { path, canonical, identifier } = this.prepare(key);
    const rev = revision === undefined ? undefined : checkRevision(revision);
    const response = await this.txn(`delete ${path}`, etcdTxn.deleteRequest(path, rev), identifier);
    if (!response.succeeded) throw etcdTxn.deleteFailure(identifier, path, rev, failureRange(response, 0));
    const deleted = response.responses?.[0]?.response_delete_range;
    const previous = deleted?.prev_kvs?.[0];
    return etcdTxn.deletedPair(
      canonical,
      path,
      identifier,
      deleted?.deleted ?? 0,
      previous === undefined ? undefined : { text: text64(previous.value), modRevision: String(previous.mod_revision ?? '0') },
    );
  }

  async getKV<K extends Key>(key: K): Promise<KVPair<K>> {
    const { path, canonical, identifier } = this.prepare(key);
    const response = await this.call<GwRange>(`get ${path}`, '/v3/kv/range', { key: b64(path) }, identifier);
    return this.fromRange(canonical, path, identifier, response);
  }

  private fromRange<K extends Key>(canonical: K, path: string, identifier: ErrorIdentifier, range: GwRange): KVPair<K> {
    const kv = range.kvs?.[0];
    if (kv === undefined) throw new ResourceNotFoundError(identifier);
    return this.decode(canonical, path, kv);
  }

  // -------------------------------------------------------------------------------------------
  // Lists

  async listKV<L extends ListInterface>(list: L): Promise<KVList<KeyOfList<L>>> {
    this.ensureOpen();
    const prefixes = listToPrefixes(list);
    const operation = `list ${prefixes.join(' + ')}`;
    const { kvs, revision } = await etcdTxn.readPrefixes<GwKV>(
      prefixes,
      operation,
      async (from, end, pinned) => {
        let page: GwRange;
        try {
          page = await this.call<GwRange>(operation, '/v3/kv/range', {
            key: b64(from),
            range_end: b64(end),
            limit: String(LIST_PAGE_SIZE),
            ...(pinned !== undefined ? { revision: pinned } : {}),
          });
        } catch (error) {
          if (pinned !== undefined && (error as Error).name === 'WatchTooOldError') throw new etcdTxn.PinnedRevisionCompacted();
          throw error;
        }
        return { kvs: page.kvs ?? [], more: page.more === true, revision: String(page.header?.revision ?? '0') };
      },
      (kv) => Buffer.from(kv.key, 'base64'),
    );
    const items: KVPair<KeyOfList<L>>[] = [];
    const errors: Error[] = [];
    this.decodeInto(list, kvs, items, errors);
    return errors.length > 0 ? { items, revision, errors } : { items, revision };
  }

  /**
   * Reads many keys and lists in ONE request: an etcd transaction without conditions, so every
   * range is read at one revision. A list's ranges are read with the list page size; a range with
   * `more` did not fit (see {@link prefetching}).
   * @internal
   */
  async rangeMany(reads: readonly PrefetchRead[]): Promise<{ revision: string; ranges: GwRange[] }> {
    this.ensureOpen();
    const success: etcdTxn.TxnRequestOp[] = [];
    for (const read of reads) {
      if ('key' in read) success.push({ range: { key: Buffer.from(keyToPath(read.key)) } });
      else {
        for (const prefix of listToPrefixes(read.list)) {
          const start = Buffer.from(prefix);
          success.push({ range: { key: start, rangeEnd: prefixEnd(start), limit: LIST_PAGE_SIZE } });
        }
      }
    }
    if (success.length > MAX_TXN_OPS) throw new ValidationError([{ name: 'reads', value: reads.length, reason: `at most ${MAX_TXN_OPS} ranges per request` }]);
    const response = await this.txn('batched read', { compare: [], success, failure: [] });
    return { revision: String(response.header?.revision ?? '0'), ranges: (response.responses ?? []).map((r) => r.response_range ?? {}) };
  }

  /** `getKV` answered from a range read by {@link rangeMany}. @internal */
  getFromRange<K extends Key>(key: K, range: GwRange): KVPair<K> {
    const { path, canonical, identifier } = this.prepare(key);
    return this.fromRange(canonical, path, identifier, range);
  }

  /** `listKV` answered from complete ranges read by {@link rangeMany} (one per prefix of the list). @internal */
  listFromRanges<L extends ListInterface>(list: L, ranges: readonly GwRange[], revision: string): KVList<KeyOfList<L>> {
    this.ensureOpen();
    const items: KVPair<KeyOfList<L>>[] = [];
    const errors: Error[] = [];
    for (const range of ranges) this.decodeInto(list, range.kvs ?? [], items, errors);
    return errors.length > 0 ? { items, revision, errors } : { items, revision };
  }

  // -------------------------------------------------------------------------------------------
  // Watches and transactions

  /** Not supported: always throws `OperationNotSupportedError` (use the gRPC datastore to watch). */
  watchKV<L extends ListInterface>(_list: L): Watch<KeyOfList<L>> {
    this.ensureOpen();
    throw new OperationNotSupportedError('the etcd gateway datastore does not watch; use createEtcdDatastore from @libcalico-ts/datastore-etcd');
  }

  async transact(conditions: TxnCondition[], operations: TxnOperation[], options?: TxnOptions): Promise<TxnResult> {
    this.ensureOpen();
    const plan = etcdTxn.planTransaction(conditions, operations, options);
    const response = await this.txn('transaction', plan.request);
    if (!response.succeeded) throw etcdTxn.transactionFailure(plan, plan.checks.map((_, i) => failureRange(response, i)));
    return etcdTxn.transactionResult(plan, String(response.header?.revision ?? '0'));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const client of this.clients) client.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Batched first reads

/** One read for {@link prefetching}: a key (answers `getKV`) or a list (answers `listKV`). */
export type PrefetchRead = { key: Key } | { list: ListInterface };

/** The batched-read methods of a gateway datastore (seen through wrapping proxies too). */
type RangeReader = Datastore & Pick<EtcdGatewayDatastore, 'rangeMany' | 'getFromRange' | 'listFromRanges'>;

function isRangeReader(datastore: Datastore): datastore is RangeReader {
  const candidate = datastore as Partial<RangeReader>;
  return typeof candidate.rangeMany === 'function' && typeof candidate.getFromRange === 'function' && typeof candidate.listFromRanges === 'function';
}

/**
 * A view of a gateway `datastore` that sends `reads` to etcd at once, in ONE request (a
 * condition-less transaction, so all at one revision), and answers the first `getKV` / `listKV`
 * of each of them from it; any later read, any read not listed and every write go to `datastore`
 * as usual. For a short-lived process that knows its first reads (a CNI invocation: readiness,
 * endpoint, IPAM config, pools, node, affinities, handles): one round trip instead of one each.
 *
 * The answers are as fresh as the moment the batch is sent (immediately): a value changed
 * meanwhile is the same race as a concurrent writer, and writes are compare-and-swap on the
 * revision read. When the batch fails, or a list did not fit in one page, the read simply goes to
 * `datastore` (so its error is the plain read's). At most 128 ranges (a list counts one per
 * prefix). Any other datastore (gRPC, Kubernetes, memory), or no reads, returns `datastore` itself.
 *
 * @example
 * ```ts
 * const view = prefetching(datastore, [{ key: nodeKey }, { list: { type: 'resource', kind: 'IPPool' } }]);
 * const [node, pools] = await Promise.all([view.getKV(nodeKey), view.listKV({ type: 'resource', kind: 'IPPool' })]); // one request
 * ```
 */
export function prefetching(datastore: Datastore, reads: readonly PrefetchRead[]): Datastore {
  if (!isRangeReader(datastore) || reads.length === 0) return datastore;
  const target = datastore;
  const batch = target.rangeMany(reads).catch(() => undefined);
  const gets = new Map<string, Promise<GwRange | undefined>>();
  const lists = new Map<string, Promise<{ revision: string; ranges: GwRange[] } | undefined>>();
  let index = 0;
  for (const read of reads) {
    const at = index;
    if ('key' in read) {
      index += 1;
      gets.set(keyToPath(read.key), batch.then((b) => b?.ranges[at]));
    } else {
      const prefixes = listToPrefixes(read.list);
      index += prefixes.length;
      lists.set(prefixes.join('\0'), batch.then((b) => (b ? { revision: b.revision, ranges: b.ranges.slice(at, at + prefixes.length) } : undefined)));
    }
  }
  const getKV = async <K extends Key>(key: K): Promise<KVPair<K>> => {
    const path = keyToPath(key);
    const entry = gets.get(path);
    if (entry !== undefined) {
      gets.delete(path);
      const range = await entry;
      if (range !== undefined) return target.getFromRange(key, range);
    }
    return datastore.getKV(key);
  };
  const listKV = async <L extends ListInterface>(list: L): Promise<KVList<KeyOfList<L>>> => {
    const id = listToPrefixes(list).join('\0');
    const entry = lists.get(id);
    if (entry !== undefined) {
      lists.delete(id);
      const answer = await entry;
      if (answer !== undefined && answer.ranges.every((r) => r.more !== true)) return target.listFromRanges(list, answer.ranges, answer.revision);
    }
    return datastore.listKV(list);
  };
  return new Proxy(datastore, {
    get(object, property) {
      if (property === 'getKV') return getKV;
      if (property === 'listKV') return listKV;
      const value = Reflect.get(object, property, object) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
    },
  });
}

/**
 * Runs the gateway's pure code paths once (HTTP response parsing, base64 and JSON decoding of a
 * range answer), so that a process that builds a V8 startup snapshot (`node --build-snapshot`)
 * holds them compiled instead of compiling them in every started process. No socket, file or
 * state is touched; calling it is never needed for correctness.
 */
export function warmUpEtcdGateway(): void {
  const kv = { key: b64('/calico/resources/v3/projectcalico.org/nodes/warm-up'), value: b64('{"kind":"Node"}'), mod_revision: '1' };
  const body = JSON.stringify({ header: { revision: '1' }, kvs: [kv] });
  const framed = [
    `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
  ];
  for (const text of framed) {
    const response = parseHttpResponse(text);
    const range = JSON.parse(response!.body) as GwRange;
    for (const item of range.kvs ?? []) decodeListed(text64(item.key), text64(item.value), String(item.mod_revision), { type: 'resource', kind: 'Node' });
  }
  gatewayTxn(etcdTxn.createRequest('/calico/warm-up', Buffer.from('{}')));
}
