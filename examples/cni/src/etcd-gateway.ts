/**
 * A start-up-cheap etcd v3 datastore for the CNI plugins: the same keys, values, compare-and-swap
 * transactions and errors as `@libcalico-ts/datastore-etcd`, spoken over etcd's JSON gateway
 * (`POST /v3/kv/{range,put,txn,deleterange}` on the client URL, on by default in etcd >= 3.4)
 * over a minimal keep-alive HTTP/1.1 client (./http1.ts) instead of gRPC. Loading the gRPC stack
 * costs ~200 ms per process, which dominates a CNI invocation, and even `node:http`'s first
 * request costs ~8 ms of lazy loading; this module needs only `node:net` (`node:tls` for https).
 *
 * Watches are not needed by a CNI plugin and are refused (`OperationNotSupportedError`).
 * Select the gRPC datastore instead with `etcd_client: "grpc"` in the NetConf.
 */
import { readFileSync } from 'node:fs';
import {
  DatastoreError,
  DatastoreUnavailableError,
  OperationNotSupportedError,
  ResourceExistsError,
  ResourceNotFoundError,
  UpdateConflictError,
  ValidationError,
  type ErrorIdentifier,
  type V3Object,
} from '@libcalico-ts/api';
import {
  keyIdentifier,
  keyMatchesList,
  keyToPath,
  listToPrefixes,
  pathToKey,
  type Datastore,
  type Key,
  type KeyOfList,
  type KVList,
  type KVPair,
  type ListInterface,
  type TxnCondition,
  type TxnOperation,
  type TxnResult,
  type ValueOf,
  type Watch,
} from '@libcalico-ts/datastore';
import { decodeEtcdValue, encodeEtcdValue } from '@libcalico-ts/datastore-etcd';
import { Http1Client, type Http1Response } from './http1.js';

/** Options of {@link createEtcdGatewayDatastore}. */
export interface EtcdGatewayOptions {
  /** Client URLs (`http://` or `https://`); tried in order, failing over on connection errors. */
  endpoints: string[];
  /** CA bundle (PEM file) for https endpoints. */
  caFile?: string;
  /** Client certificate (PEM file). */
  certFile?: string;
  /** Client key (PEM file). */
  keyFile?: string;
  /** Per-request deadline in ms (default 10000). */
  requestTimeoutMs?: number;
}

interface GwKV {
  key: string;
  value?: string;
  mod_revision?: string;
}
interface GwRange {
  header?: { revision?: string };
  kvs?: GwKV[];
  more?: boolean;
}
interface GwTxn {
  header?: { revision?: string };
  succeeded?: boolean;
  responses?: { response_range?: GwRange; response_delete_range?: { deleted?: string; prev_kvs?: GwKV[] } }[];
}

const PAGE = 500;

let requestCount = 0;
/** Gateway requests made by this process so far (all datastores; for debug timings). */
export function gatewayRequestCount(): number {
  return requestCount;
}
const MAX_TXN_OPS = 128;
const REVISION = /^[1-9][0-9]{0,18}$/;

const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64');

function prefixEnd(prefix: string): string {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return b64(end.subarray(0, i + 1));
    }
  }
  return b64(Buffer.from([0]));
}

function checkRevision(revision: unknown, field = 'revision'): string {
  if (typeof revision !== 'string' || !REVISION.test(revision)) {
    throw new ValidationError([{ name: field, value: revision, reason: 'must be an etcd revision: a positive decimal integer string' }]);
  }
  return revision;
}

function readPem(file: string | undefined, field: string): Buffer | undefined {
  if (file === undefined || file === '') return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ValidationError([{ name: field, value: file, reason: `cannot read: ${(error as Error).message}` }]);
  }
}

/**
 * Creates the gateway datastore. Nothing is contacted until the first call; an unreachable etcd
 * then fails with `DatastoreUnavailableError`.
 * @throws ValidationError for missing/invalid endpoints or unreadable TLS files.
 */
export function createEtcdGatewayDatastore(options: EtcdGatewayOptions): Datastore {
  if (!Array.isArray(options.endpoints) || options.endpoints.length === 0) {
    throw new ValidationError([{ name: 'endpoints', value: options.endpoints, reason: 'at least one etcd endpoint is required' }]);
  }
  const urls = options.endpoints.map((e, i) => {
    try {
      const url = new URL(e);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme must be http or https');
      return url;
    } catch (error) {
      throw new ValidationError([{ name: `endpoints[${i}]`, value: e, reason: (error as Error).message }]);
    }
  });
  return new EtcdGatewayDatastore(urls, readPem(options.caFile, 'caFile'), readPem(options.certFile, 'certFile'), readPem(options.keyFile, 'keyFile'), options.requestTimeoutMs ?? 10_000);
}

class EtcdGatewayDatastore implements Datastore {
  readonly contractVersion = 'v1' as const;
  readonly datastoreType = 'etcdv3';
  readonly capabilities = { atomicTransactions: true, softDeleteIPAM: false } as const;
  private readonly clients: Http1Client[];
  private closed = false;
  private preferred = 0;

  constructor(
    private readonly urls: URL[],
    ca: Buffer | undefined,
    cert: Buffer | undefined,
    key: Buffer | undefined,
    private readonly timeoutMs: number,
  ) {
    const tlsOptions = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
    this.clients = urls.map((url) => new Http1Client(url, tlsOptions, timeoutMs));
  }

  private async post<T>(index: number, path: string, body: unknown): Promise<T> {
    const url = this.urls[index]!;
    const fullPath = `${url.pathname.replace(/\/$/, '')}${path}`;
    let response: Http1Response;
    requestCount++;
    try {
      response = await this.clients[index]!.post(fullPath, JSON.stringify(body));
    } catch (error) {
      throw new DatastoreUnavailableError(`cannot reach etcd at ${url.origin}: ${(error as Error).message}`, { cause: error });
    }
    let parsed: unknown;
    try {
      parsed = response.body === '' ? {} : JSON.parse(response.body);
    } catch {
      throw new DatastoreError(`etcd gateway ${path}: unparsable answer (HTTP ${response.status})`);
    }
    if (response.status >= 300) {
      const e = parsed as { error?: string; message?: string; code?: number };
      const message = e.message ?? e.error ?? `HTTP ${response.status}`;
      // gRPC code 14 (Unavailable) and 4 (DeadlineExceeded) mean the cluster is not serving.
      if (e.code === 14 || e.code === 4 || response.status === 503) throw new DatastoreUnavailableError(`etcd ${path}: ${message}`);
      throw new DatastoreError(`etcd ${path}: ${message}`);
    }
    return parsed as T;
  }

  /** One call, failing over to the next endpoint while the failure is a connection problem. */
  private async call<T>(path: string, body: unknown): Promise<T> {
    if (this.closed) throw new DatastoreError('the etcd datastore is closed');
    let last: unknown;
    for (let i = 0; i < this.urls.length; i++) {
      const index = (this.preferred + i) % this.urls.length;
      try {
        const result = await this.post<T>(index, path, body);
        this.preferred = index;
        return result;
      } catch (error) {
        last = error;
        if (!DatastoreUnavailableError.isInstance(error)) throw error;
      }
    }
    throw last;
  }

  private decode<K extends Key>(key: K, path: string, kv: GwKV): KVPair<K> {
    let value: ValueOf<K>;
    try {
      value = decodeEtcdValue(key, Buffer.from(kv.value ?? '', 'base64').toString('utf8'));
    } catch (error) {
      throw new DatastoreError(`cannot decode the value stored at ${path}: ${(error as Error).message}`, { identifier: keyIdentifier(key), cause: error });
    }
    const revision = String(kv.mod_revision ?? '0');
    if (key.type === 'resource') (value as V3Object).metadata.resourceVersion = revision;
    return { key, value, revision };
  }

  private prepare<K extends Key>(key: K, value?: ValueOf<K>): { path: string; text?: string; canonical: K; identifier: ErrorIdentifier } {
    if (this.closed) throw new DatastoreError('the etcd datastore is closed');
    const path = keyToPath(key);
    const canonical = (pathToKey(path) ?? key) as K;
    const identifier = keyIdentifier(canonical);
    if (value === undefined) return { path, canonical, identifier };
    return { path, text: encodeEtcdValue(canonical, value), canonical, identifier };
  }

  private written<K extends Key>(key: K, path: string, text: string, revision: string | undefined): KVPair<K> {
    return this.decode(key, path, { key: b64(path), value: b64(text), mod_revision: revision ?? '0' });
  }

  private async casPut<K extends Key>(key: K, value: ValueOf<K>, compare: object[], notFound: boolean): Promise<KVPair<K>> {
    const { path, text, canonical, identifier } = this.prepare(key, value);
    const k = b64(path);
    const response = await this.call<GwTxn>('/v3/kv/txn', { compare, success: [{ request_put: { key: k, value: b64(text!) } }], failure: [{ request_range: { key: k } }] });
    if (!response.succeeded) {
      const current = response.responses?.[0]?.response_range?.kvs ?? [];
      if (!notFound) throw new ResourceExistsError(identifier);
      if (current.length === 0) throw new ResourceNotFoundError(identifier);
      throw new UpdateConflictError(identifier, { message: `update conflict: ${path} is at revision ${current[0]!.mod_revision}` });
    }
    return this.written(canonical, path, text!, response.header?.revision);
  }

  createKV<K extends Key>(key: K, value: ValueOf<K>): Promise<KVPair<K>> {
    const path = keyToPath(key);
    return this.casPut(key, value, [{ key: b64(path), target: 'VERSION', result: 'EQUAL', version: '0' }], false);
  }

  updateKV<K extends Key>(key: K, value: ValueOf<K>, revision: string): Promise<KVPair<K>> {
    const rev = checkRevision(revision);
    const path = keyToPath(key);
    return this.casPut(key, value, [{ key: b64(path), target: 'MOD', result: 'EQUAL', mod_revision: rev }], true);
  }

  async applyKV<K extends Key>(key: K, value: ValueOf<K>): Promise<KVPair<K>> {
    const { path, text, canonical } = this.prepare(key, value);
    const response = await this.call<GwRange>('/v3/kv/put', { key: b64(path), value: b64(text!) });
    return this.written(canonical, path, text!, response.header?.revision);
  }

  async deleteKV<K extends Key>(key: K, revision?: string): Promise<KVPair<K>> {
    const { path, canonical, identifier } = this.prepare(key);
    const rev = revision === undefined ? undefined : checkRevision(revision);
    const k = b64(path);
    const response = await this.call<GwTxn>('/v3/kv/txn', {
      compare: rev === undefined ? [] : [{ key: k, target: 'MOD', result: 'EQUAL', mod_revision: rev }],
      success: [{ request_delete_range: { key: k, prev_kv: true } }],
      failure: [{ request_range: { key: k } }],
    });
    if (!response.succeeded) {
      const current = response.responses?.[0]?.response_range?.kvs ?? [];
      if (current.length === 0) throw new ResourceNotFoundError(identifier);
      throw new UpdateConflictError(identifier, { message: `delete conflict: ${path} is at revision ${current[0]!.mod_revision}, not ${rev}` });
    }
    const previous = response.responses?.[0]?.response_delete_range?.prev_kvs?.[0];
    if (previous === undefined) throw new ResourceNotFoundError(identifier);
    return this.decode(canonical, path, previous);
  }

  async getKV<K extends Key>(key: K): Promise<KVPair<K>> {
    const { path, canonical, identifier } = this.prepare(key);
    const response = await this.call<GwRange>('/v3/kv/range', { key: b64(path) });
    const kv = response.kvs?.[0];
    if (kv === undefined) throw new ResourceNotFoundError(identifier);
    return this.decode(canonical, path, kv);
  }

  private decodePage<L extends ListInterface>(list: L, kvs: GwKV[], items: KVPair<KeyOfList<L>>[], errors: Error[]): void {
    for (const kv of kvs) {
      const path = Buffer.from(kv.key, 'base64').toString('utf8');
      const key = pathToKey(path);
      if (key === undefined || !keyMatchesList(key, list)) continue;
      try {
        items.push(this.decode(key, path, kv) as KVPair<KeyOfList<L>>);
      } catch (error) {
        errors.push(error as Error);
      }
    }
  }

  /**
   * @internal Reads many ranges in ONE request (an etcd transaction without conditions, so
   * all at one revision). Lists are read with the page size of {@link listKV}.
   */
  async rangeMany(reads: PrefetchRead[]): Promise<{ revision: string; ranges: GwRange[] }> {
    if (this.closed) throw new DatastoreError('the etcd datastore is closed');
    const success: object[] = [];
    for (const read of reads) {
      if ('key' in read) success.push({ request_range: { key: b64(keyToPath(read.key)) } });
      else for (const prefix of listToPrefixes(read.list)) success.push({ request_range: { key: b64(prefix), range_end: prefixEnd(prefix), limit: String(PAGE) } });
    }
    if (success.length > MAX_TXN_OPS) throw new ValidationError([{ name: 'reads', value: reads.length, reason: `at most ${MAX_TXN_OPS} ranges per request` }]);
    const response = await this.call<GwTxn>('/v3/kv/txn', { compare: [], success, failure: [] });
    return { revision: String(response.header?.revision ?? '0'), ranges: (response.responses ?? []).map((r) => r.response_range ?? {}) };
  }

  /** @internal {@link getKV} answered from a range read by {@link rangeMany}. */
  getFromRange<K extends Key>(key: K, range: GwRange): KVPair<K> {
    const { path, canonical, identifier } = this.prepare(key);
    const kv = range.kvs?.[0];
    if (kv === undefined) throw new ResourceNotFoundError(identifier);
    return this.decode(canonical, path, kv);
  }

  /** @internal {@link listKV} answered from complete ranges read by {@link rangeMany} (one per prefix). */
  listFromRanges<L extends ListInterface>(list: L, ranges: GwRange[], revision: string): KVList<KeyOfList<L>> {
    const items: KVPair<KeyOfList<L>>[] = [];
    const errors: Error[] = [];
    for (const range of ranges) this.decodePage(list, range.kvs ?? [], items, errors);
    const result: KVList<KeyOfList<L>> = { items, revision };
    if (errors.length > 0) result.errors = errors;
    return result;
  }

  async listKV<L extends ListInterface>(list: L): Promise<KVList<KeyOfList<L>>> {
    if (this.closed) throw new DatastoreError('the etcd datastore is closed');
    const items: KVPair<KeyOfList<L>>[] = [];
    const errors: Error[] = [];
    let revision: string | undefined;
    for (const prefix of listToPrefixes(list)) {
      let from = b64(prefix);
      const end = prefixEnd(prefix);
      for (;;) {
        const page = await this.call<GwRange>('/v3/kv/range', { key: from, range_end: end, limit: String(PAGE), ...(revision ? { revision } : {}) });
        revision ??= String(page.header?.revision ?? '0');
        const kvs = page.kvs ?? [];
        this.decodePage(list, kvs, items, errors);
        if (!page.more || kvs.length === 0) break;
        from = b64(Buffer.concat([Buffer.from(kvs[kvs.length - 1]!.key, 'base64'), Buffer.from([0])]));
      }
    }
    const result: KVList<KeyOfList<L>> = { items, revision: revision ?? '0' };
    if (errors.length > 0) result.errors = errors;
    return result;
  }

  watchKV<L extends ListInterface>(_list: L): Watch<KeyOfList<L>> {
    throw new OperationNotSupportedError('the etcd gateway datastore of the CNI plugin does not watch; use @libcalico-ts/datastore-etcd');
  }

  async transact(conditions: TxnCondition[], operations: TxnOperation[]): Promise<TxnResult> {
    if (!Array.isArray(conditions) || !Array.isArray(operations)) throw new ValidationError([{ name: 'conditions', value: conditions, reason: 'conditions and operations must be lists' }]);
    if (operations.length > MAX_TXN_OPS) throw new ValidationError([{ name: 'operations', value: operations.length, reason: `etcd allows at most ${MAX_TXN_OPS} operations per transaction` }]);
    const compare: object[] = [];
    const failure: object[] = [];
    const checks: { path: string; identifier: ErrorIdentifier; absent: boolean; revision?: string }[] = [];
    conditions.forEach((condition, i) => {
      const { path, identifier } = this.prepare(condition.key);
      const k = b64(path);
      if ('absent' in condition && condition.absent === true) {
        compare.push({ key: k, target: 'VERSION', result: 'EQUAL', version: '0' });
        checks.push({ path, identifier, absent: true });
      } else if ('revision' in condition) {
        const rev = checkRevision(condition.revision, `conditions[${i}].revision`);
        compare.push({ key: k, target: 'MOD', result: 'EQUAL', mod_revision: rev });
        checks.push({ path, identifier, absent: false, revision: rev });
      } else {
        throw new ValidationError([{ name: `conditions[${i}]`, value: condition, reason: 'must be {key, revision} or {key, absent: true}' }]);
      }
      failure.push({ request_range: { key: k } });
    });
    const success: object[] = [];
    const results: { key: Key; put: boolean }[] = [];
    const seen = new Set<string>();
    operations.forEach((operation, i) => {
      if (operation?.op !== 'put' && operation?.op !== 'delete') {
        throw new ValidationError([{ name: `operations[${i}].op`, value: (operation as { op?: unknown })?.op, reason: "must be 'put' or 'delete'" }]);
      }
      const prepared = operation.op === 'put' ? this.prepare(operation.key, operation.value) : this.prepare(operation.key);
      if (seen.has(prepared.path)) throw new ValidationError([{ name: `operations[${i}].key`, value: operation.key, reason: `${prepared.path} appears twice in one transaction` }]);
      seen.add(prepared.path);
      const k = b64(prepared.path);
      success.push(operation.op === 'put' ? { request_put: { key: k, value: b64(prepared.text!) } } : { request_delete_range: { key: k } });
      results.push({ key: prepared.canonical, put: operation.op === 'put' });
    });
    const response = await this.call<GwTxn>('/v3/kv/txn', { compare, success, failure });
    const revision = String(response.header?.revision ?? '0');
    if (!response.succeeded) {
      for (let i = 0; i < checks.length; i++) {
        const check = checks[i]!;
        const kvs = response.responses?.[i]?.response_range?.kvs ?? [];
        if (check.absent && kvs.length > 0) throw new ResourceExistsError(check.identifier);
        if (!check.absent && (kvs.length === 0 || String(kvs[0]!.mod_revision) !== check.revision)) {
          throw new UpdateConflictError(check.identifier, { message: `transaction conflict: ${check.path} is ${kvs.length === 0 ? 'absent' : `at revision ${kvs[0]!.mod_revision}`}, not ${check.revision}` });
        }
      }
      throw new UpdateConflictError('transaction', { message: 'transaction conflict: a condition changed while checking it' });
    }
    return { results: results.map((r) => (r.put ? { key: r.key, revision } : { key: r.key })), revision };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const client of this.clients) client.close();
  }
}

/** One read for {@link prefetching}: a key (getKV) or a list (listKV). */
export type PrefetchRead = { key: Key } | { list: ListInterface };

interface RangeReader extends Datastore {
  rangeMany(reads: PrefetchRead[]): Promise<{ revision: string; ranges: GwRange[] }>;
  getFromRange<K extends Key>(key: K, range: GwRange): KVPair<K>;
  listFromRanges<L extends ListInterface>(list: L, ranges: GwRange[], revision: string): KVList<KeyOfList<L>>;
}

function isRangeReader(datastore: Datastore): datastore is RangeReader {
  return typeof (datastore as Partial<RangeReader>).rangeMany === 'function';
}

/**
 * A view of `datastore` that sends `reads` to etcd at once, in ONE request (a condition-less
 * transaction, so all at one revision), and answers the first `getKV` / `listKV` of each of them
 * from it; any later read, any read not listed and every write go to `datastore` as usual. A CNI
 * invocation knows which reads it and the IPAM engine will issue (readiness, endpoint, IPAM
 * config, pools, reservations, node, affinities, handles): one round trip instead of one each.
 *
 * The answers are as fresh as the request that starts the invocation: a value changed meanwhile
 * is the same race as a concurrent writer, and every write the IPAM engine makes is a
 * compare-and-swap on the revision it read. When the batch fails, or a list did not fit in one
 * page, the read simply goes to `datastore`. Without the gateway datastore (gRPC, Kubernetes),
 * `datastore` itself is returned.
 */
export function prefetching(datastore: Datastore, reads: PrefetchRead[]): Datastore {
  if (!isRangeReader(datastore) || reads.length === 0) return datastore;
  const batch = datastore.rangeMany(reads).catch(() => undefined);
  const gets = new Map<string, Promise<GwRange | undefined>>();
  const lists = new Map<string, Promise<{ revision: string; ranges: GwRange[] } | undefined>>();
  let index = 0;
  for (const read of reads) {
    const at = index;
    if ('key' in read) {
      index += 1;
      gets.set(keyToPath(read.key), batch.then((b) => b?.ranges[at]));
    } else {
      const count = listToPrefixes(read.list).length;
      index += count;
      lists.set(listToPrefixes(read.list).join('\0'), batch.then((b) => (b ? { revision: b.revision, ranges: b.ranges.slice(at, at + count) } : undefined)));
    }
  }
  const getKV = async <K extends Key>(key: K): Promise<KVPair<K>> => {
    const path = keyToPath(key);
    const entry = gets.get(path);
    if (entry !== undefined) {
      gets.delete(path);
      const range = await entry;
      if (range !== undefined) return datastore.getFromRange(key, range);
    }
    return datastore.getKV(key);
  };
  const listKV = async <L extends ListInterface>(list: L): Promise<KVList<KeyOfList<L>>> => {
    const id = listToPrefixes(list).join('\0');
    const entry = lists.get(id);
    if (entry !== undefined) {
      lists.delete(id);
      const answer = await entry;
      if (answer !== undefined && answer.ranges.every((r) => !r.more)) return datastore.listFromRanges(list, answer.ranges, answer.revision);
    }
    return datastore.listKV(list);
  };
  return new Proxy(datastore, {
    get(target, property) {
      if (property === 'getKV') return getKV;
      if (property === 'listKV') return listKV;
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
