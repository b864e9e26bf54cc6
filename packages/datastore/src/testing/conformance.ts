/**
 * The datastore conformance suite: one `node:test` suite every backend (memory, etcd v3,
 * Kubernetes) must pass. It checks every operation and error of the contract in
 * `../contract.ts`. It uses one datastore for the whole suite and gives each test its own names,
 * CIDRs and namespace (under a random run prefix), so it can share a server with other suites
 * and with earlier runs; it deletes what it created.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import {
  API_VERSION,
  CalicoError,
  DatastoreError,
  OperationNotSupportedError,
  ResourceExistsError,
  ResourceNotFoundError,
  UpdateConflictError,
  ValidationError,
  WatchTooOldError,
  describeIdentifier,
} from '@libcalico-ts/api';
import type {
  AllocationBlock,
  BlockAffinityKey,
  BlockKey,
  Datastore,
  DatastoreCapabilities,
  HandleKey,
  IPAMConfig,
  Key,
  KVPair,
  ListInterface,
  ResourceKey,
  Watch,
  TxnOperation,
  WatchEvent,
} from '../contract.js';
import { describeKey, keyId } from '../keys.js';
import { isMemoryDatastore } from '../memory.js';

/** What a factory hands the suite: a ready datastore and how to dispose of it. */
export interface DatastoreUnderTest {
  datastore: Datastore;
  /** Called once after the suite (closing the datastore, stopping a server...). */
  cleanup(): Promise<void>;
}

/** Builds a datastore for a suite. Called once per suite, plus once by the `close()` test. */
export type DatastoreFactory = () => Promise<DatastoreUnderTest>;

/** Options of {@link describeDatastoreConformance}. */
export interface ConformanceOptions {
  /**
   * Capabilities the backend declares; default: the datastore's own `capabilities`. Without
   * `atomicTransactions`, the transaction tests expect `OperationNotSupportedError` for
   * multi-key transactions and check single-key ones.
   */
  capabilities?: Partial<DatastoreCapabilities>;
  /**
   * Make every revision returned so far unusable for watches (etcd: compact at the current
   * revision; Kubernetes: make the test server answer 410 Gone). Default: `compact()` on the memory
   * datastore; for other backends without this hook the `WatchTooOldError` test is skipped
   * (reported as skipped, with the reason).
   */
  compact?: (datastore: Datastore) => Promise<void>;
  /** How long to wait for a watch event before failing (default 5000 ms). */
  watchTimeoutMs?: number;
  /** Number of concurrent writers in the CAS race tests (default 16). */
  concurrency?: number;
  /**
   * Largest sequence number the backend keeps exactly. Calico's type is uint64 (etcd keeps every
   * value); a Kubernetes API server decodes custom-resource integers as int64, so values of 2^63
   * and above do not survive there. Default `'uint64'`.
   */
  sequenceNumberRange?: 'uint64' | 'int64';
}

/** A random lowercase prefix, unique per suite run, valid in DNS names. */
function runPrefix(): string {
  return `ct${Math.random().toString(36).slice(2, 8)}`;
}

async function rejectsWith(
  promise: Promise<unknown>,
  errorClass: { isInstance(error: unknown): boolean; name: string },
  check?: (error: CalicoError) => void,
): Promise<CalicoError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught !== undefined, `expected ${errorClass.name}, but the call succeeded`);
  assert.ok(errorClass.isInstance(caught), `expected ${errorClass.name}, got ${String((caught as Error)?.stack ?? caught)}`);
  check?.(caught as CalicoError);
  return caught as CalicoError;
}

/** The error names the key: its identifier reads like `describeKey(key)`. */
function identifiesKey(key: Key) {
  return (error: CalicoError) => assert.equal(describeIdentifier(error.identifier), describeKey(key), 'error identifier names the key');
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Reads events from a watch, keeping those `keep` accepts, until `count` are kept. */
async function take<K extends Key>(
  iterator: AsyncIterator<WatchEvent<K>>,
  count: number,
  ms: number,
  keep: (event: WatchEvent<K>) => boolean = () => true,
): Promise<WatchEvent<K>[]> {
  const out: WatchEvent<K>[] = [];
  while (out.length < count) {
    const result = await withTimeout(iterator.next(), ms, `watch event ${out.length + 1} of ${count}`);
    assert.ok(!result.done, `the watch ended after ${out.length} of ${count} events`);
    if (keep(result.value)) out.push(result.value);
  }
  return out;
}

/** Asserts that no kept event arrives within `ms`. */
async function expectQuiet<K extends Key>(iterator: AsyncIterator<WatchEvent<K>>, ms: number, keep: (event: WatchEvent<K>) => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return;
    const next = iterator.next();
    const result = await Promise.race([next, new Promise<'quiet'>((resolve) => setTimeout(() => resolve('quiet'), left))]);
    if (result === 'quiet') {
      // Leave the pending next() to be settled by stop(); swallow its outcome.
      next.catch(() => undefined);
      return;
    }
    if (result.done) return;
    assert.ok(!keep(result.value), `unexpected event ${result.value.type} ${eventKey(result.value)}`);
  }
}

function eventKey(event: WatchEvent): string {
  const pair = event.current ?? event.previous;
  return pair ? keyId(pair.key) : '(no pair)';
}

function eventShape(event: WatchEvent): string {
  return `${event.type} ${eventKey(event)}`;
}

// ---------------------------------------------------------------------------------------------
// Sample values

function ipPool(name: string, cidr: string, extra: Record<string, unknown> = {}) {
  return {
    kind: 'IPPool',
    apiVersion: API_VERSION,
    metadata: { name, labels: { 'conformance.test/owner': 'suite' } },
    // Fully defaulted (as the CRD schema would default it), so a server that applies CRD defaults stores it unchanged.
    spec: {
      cidr,
      blockSize: 26,
      ipipMode: 'Never',
      vxlanMode: 'Always',
      natOutgoing: true,
      nodeSelector: 'all()',
      allowedUses: ['Workload', 'Tunnel'],
      assignmentMode: 'Automatic',
      ...extra,
    },
  };
}

function networkPolicy(namespace: string, name: string, order = 100) {
  return {
    kind: 'NetworkPolicy',
    apiVersion: API_VERSION,
    metadata: { name, namespace },
    spec: { tier: 'default', order, selector: "app == 'web'", types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP' }] },
  };
}

/** Sequence numbers beyond JavaScript's safe integers: above 2^63 where the backend keeps uint64, just below it otherwise. */
let BIG_SEQUENCE = 2n ** 63n + 12_345n;
let MAX_SEQUENCE = 2n ** 64n - 1n;

function useSequenceRange(range: 'uint64' | 'int64'): void {
  BIG_SEQUENCE = range === 'uint64' ? 2n ** 63n + 12_345n : 2n ** 63n - 12_345n;
  MAX_SEQUENCE = range === 'uint64' ? 2n ** 64n - 1n : 2n ** 63n - 1n;
}

function block(cidr: string, affinity: string | null, sequenceNumber = BIG_SEQUENCE): AllocationBlock {
  const size = 64; // a /26 or a /122
  const allocations: (number | null)[] = new Array(size).fill(null);
  allocations[0] = 0;
  allocations[1] = 1;
  allocations[5] = 0;
  const unallocated: number[] = [];
  for (let i = 0; i < size; i++) if (allocations[i] === null) unallocated.push(i);
  return {
    cidr,
    affinity,
    affinityClaimTime: '2026-03-01T10:00:00Z',
    allocations,
    unallocated,
    attributes: [
      { handleId: 'k8s-pod-network.Abc123', secondary: { namespace: 'default', node: 'node-1', pod: 'web-0', timestamp: '2026-03-01 10:00:00.000000001 +0000 UTC' } },
      { handleId: null, secondary: null },
    ],
    sequenceNumber,
    sequenceNumberForAllocation: { '0': sequenceNumber - 3n, '1': MAX_SEQUENCE, '5': 2n ** 62n + 1n },
    deleted: false,
  };
}

function resourceKeys(pairs: KVPair[]): string[] {
  return pairs.map((pair) => keyId(pair.key)).sort();
}

// ---------------------------------------------------------------------------------------------

/**
 * Declares the conformance suite for one datastore with `node:test` (`describe`/`it`): every
 * operation and error of the contract on resource keys (cluster and namespaced), blocks (bigint
 * sequence numbers near 2^63 and 2^64 - 1), affinities, handles and the IPAM config; CAS
 * conflicts, create-exists, delete-CAS; list-then-watch without gaps; watch stop/abort;
 * `WatchTooOldError`; transactions (atomic or refused); concurrent CAS with exactly one winner.
 *
 * @example
 * ```ts
 * // test/datastore/etcd.test.ts
 * describeDatastoreConformance('etcd', async () => {
 *   const server = await startEtcd();
 *   const datastore = createEtcdDatastore({ endpoints: [server.url], prefix: server.prefix });
 *   return { datastore, cleanup: async () => { await datastore.close(); await server.stop(); } };
 * }, { compact: (ds) => compactEtcd(server) });
 * ```
 */
export function describeDatastoreConformance(name: string, factory: DatastoreFactory, options: ConformanceOptions = {}): void {
  const ms = options.watchTimeoutMs ?? 5_000;
  const concurrency = options.concurrency ?? 16;

  describe(`datastore conformance: ${name}`, () => {
    // Suites run one after another, so each sets the sample sequence numbers before its tests.
    before(() => useSequenceRange(options.sequenceNumberRange ?? 'uint64'));
    let underTest: DatastoreUnderTest | undefined;
    let ds: Datastore;
    let caps: DatastoreCapabilities;
    const prefix = runPrefix();
    let counter = 0;
    /** Keys to delete after the suite (best effort). */
    const created = new Map<string, Key>();
    // Random second/third octets so that reruns against one server do not collide.
    const octetA = 16 + Math.floor(Math.random() * 200);
    const octetB = Math.floor(Math.random() * 256);
    const hexA = Math.floor(Math.random() * 0xffff).toString(16);

    const unique = (label: string) => `${prefix}-${label}-${++counter}`;
    /** A fresh IPv4 /26 block CIDR (unique within the run). */
    const v4Block = () => {
      const n = ++counter;
      return `10.${octetA}.${(octetB + (n >> 2)) % 256}.${(n % 4) * 64}/26`;
    };
    /** A fresh IPv6 /122 block CIDR. */
    const v6Block = () => `fd00:${hexA}:${(++counter).toString(16)}::/122`;
    const track = <K extends Key>(key: K): K => {
      created.set(keyId(key), key);
      return key;
    };
    const poolKey = (label: string): ResourceKey => track({ type: 'resource', kind: 'IPPool', name: unique(label) });

    before(async () => {
      underTest = await factory();
      ds = underTest.datastore;
      caps = { ...ds.capabilities, ...options.capabilities };
    });

    after(async () => {
      if (!underTest) return;
      try {
        for (const key of created.values()) {
          try {
            await ds.deleteKV(key);
          } catch {
            // Already gone (most tests delete their own keys).
          }
        }
      } finally {
        await underTest.cleanup();
      }
    });

    describe('contract surface', () => {
      it('declares contract v1, a datastore type and its capabilities', () => {
        assert.equal(ds.contractVersion, 'v1');
        assert.equal(typeof ds.datastoreType, 'string');
        assert.ok(ds.datastoreType.length > 0);
        assert.equal(typeof ds.capabilities.atomicTransactions, 'boolean');
        assert.equal(typeof ds.capabilities.softDeleteIPAM, 'boolean');
      });
    });

    describe('key validation', () => {
      const invalid: [string, Key][] = [
        ['a namespaced kind without namespace', { type: 'resource', kind: 'NetworkPolicy', name: 'x' }],
        ['a cluster-scoped kind with a namespace', { type: 'resource', kind: 'IPPool', name: 'x', namespace: 'default' }],
        ['an empty resource name', { type: 'resource', kind: 'IPPool', name: '' }],
        ['an unknown kind', { type: 'resource', kind: 'NoSuchKind' as 'IPPool', name: 'x' }],
        ['a block CIDR that does not parse', { type: 'block', cidr: '10.0.0.300/26' }],
        ['a block CIDR with host bits set', { type: 'block', cidr: '10.0.0.1/26' }],
        ['a block without prefix length', { type: 'block', cidr: '10.0.0.0' }],
        ['an affinity with an empty host', { type: 'blockAffinity', host: '', cidr: '10.0.0.0/26' }],
        ['an affinity with an unknown type', { type: 'blockAffinity', host: 'h', cidr: '10.0.0.0/26', affinityType: 'other' as 'host' }],
        ['an empty handle id', { type: 'handle', handleId: '' }],
      ];
      for (const [what, key] of invalid) {
        it(`rejects ${what} with ValidationError and writes nothing`, async () => {
          await rejectsWith(ds.getKV(key), ValidationError, (error) => assert.ok((error as ValidationError).fields.length > 0));
          const value = key.type === 'resource' ? ipPool('x', '10.1.0.0/16') : key.type === 'block' ? block('10.0.0.0/26', null) : { state: 'confirmed', deleted: false, block: {} };
          await rejectsWith(ds.createKV(key, value as never), ValidationError);
          await rejectsWith(ds.applyKV(key, value as never), ValidationError);
          await rejectsWith(ds.deleteKV(key), ValidationError);
        });
      }

      it('rejects a malformed list request with ValidationError', async () => {
        await rejectsWith(ds.listKV({ type: 'resource', kind: 'IPPool', namespace: 'default' } as ListInterface), ValidationError);
        await rejectsWith(ds.listKV({ type: 'block', ipVersion: 5 } as unknown as ListInterface), ValidationError);
      });
    });

    describe('cluster-scoped resources', () => {
      it('create returns the stored pair; get returns the same value and revision', async () => {
        const key = poolKey('pool');
        const value = ipPool(key.name, '10.10.0.0/16');
        const createdPair = await ds.createKV(key, value);
        assert.equal(typeof createdPair.revision, 'string');
        assert.ok(createdPair.revision.length > 0);
        assert.equal(keyId(createdPair.key), keyId(key));
        const got = await ds.getKV(key);
        assert.equal(got.revision, createdPair.revision);
        assert.equal(got.value.kind, 'IPPool');
        assert.equal(got.value.apiVersion, API_VERSION);
        assert.equal(got.value.metadata.name, key.name);
        assert.equal(got.value.metadata.resourceVersion, got.revision, 'metadata.resourceVersion is the revision');
        assert.deepEqual(got.value.metadata.labels, value.metadata.labels);
        assert.deepEqual(got.value.spec, value.spec);
        await ds.deleteKV(key);
      });

      it('get of an absent key fails with ResourceNotFoundError naming the key', async () => {
        const key = poolKey('absent');
        await rejectsWith(ds.getKV(key), ResourceNotFoundError, identifiesKey(key));
      });

      it('create of a present key fails with ResourceExistsError and keeps the stored value', async () => {
        const key = poolKey('exists');
        const first = await ds.createKV(key, ipPool(key.name, '10.11.0.0/16'));
        await rejectsWith(ds.createKV(key, ipPool(key.name, '10.12.0.0/16')), ResourceExistsError, identifiesKey(key));
        const got = await ds.getKV(key);
        assert.equal(got.revision, first.revision);
        assert.equal((got.value.spec as { cidr: string }).cidr, '10.11.0.0/16');
        await ds.deleteKV(key);
      });

      it('update is a compare-and-swap on the revision', async () => {
        const key = poolKey('cas');
        const first = await ds.createKV(key, ipPool(key.name, '10.13.0.0/16'));
        const second = await ds.updateKV(key, ipPool(key.name, '10.13.0.0/16', { natOutgoing: false }), first.revision);
        assert.notEqual(second.revision, first.revision);
        assert.equal((second.value.spec as { natOutgoing: boolean }).natOutgoing, false);
        await rejectsWith(ds.updateKV(key, ipPool(key.name, '10.13.0.0/16', { disabled: true }), first.revision), UpdateConflictError, identifiesKey(key));
        const got = await ds.getKV(key);
        assert.equal(got.revision, second.revision, 'the failed update wrote nothing');
        assert.equal((got.value.spec as { disabled?: boolean }).disabled, undefined);
        await ds.deleteKV(key);
      });

      it('update of an absent key fails with ResourceNotFoundError', async () => {
        const key = poolKey('update-absent');
        const otherKey = poolKey('rev-source');
        const other = await ds.createKV(otherKey, ipPool(otherKey.name, '10.14.0.0/16'));
        await rejectsWith(ds.updateKV(key, ipPool(key.name, '10.15.0.0/16'), other.revision), ResourceNotFoundError, identifiesKey(key));
        await rejectsWith(ds.getKV(key), ResourceNotFoundError);
        await ds.deleteKV(otherKey);
      });

      it('apply creates and then replaces without a revision', async () => {
        const key = poolKey('apply');
        const first = await ds.applyKV(key, ipPool(key.name, '10.16.0.0/16'));
        const second = await ds.applyKV(key, ipPool(key.name, '10.16.0.0/16', { natOutgoing: false }));
        assert.notEqual(second.revision, first.revision);
        const got = await ds.getKV(key);
        assert.equal(got.revision, second.revision);
        assert.equal((got.value.spec as { natOutgoing: boolean }).natOutgoing, false);
        await ds.deleteKV(key);
      });

      it('delete: CAS on the revision when given, unconditional otherwise; returns the deleted pair', async () => {
        const key = poolKey('delete');
        const first = await ds.createKV(key, ipPool(key.name, '10.17.0.0/16'));
        const second = await ds.updateKV(key, ipPool(key.name, '10.17.0.0/16', { natOutgoing: false }), first.revision);
        await rejectsWith(ds.deleteKV(key, first.revision), UpdateConflictError, identifiesKey(key));
        assert.equal((await ds.getKV(key)).revision, second.revision, 'the failed delete deleted nothing');
        const deleted = await ds.deleteKV(key, second.revision);
        assert.equal(keyId(deleted.key), keyId(key));
        assert.equal(deleted.revision, second.revision, 'the deleted pair carries its last revision');
        assert.equal((deleted.value.spec as { natOutgoing: boolean }).natOutgoing, false);
        await rejectsWith(ds.getKV(key), ResourceNotFoundError);
        await rejectsWith(ds.deleteKV(key), ResourceNotFoundError, identifiesKey(key));

        const key2 = poolKey('delete-unconditional');
        await ds.createKV(key2, ipPool(key2.name, '10.18.0.0/16'));
        await ds.deleteKV(key2);
        await rejectsWith(ds.getKV(key2), ResourceNotFoundError);
      });

      it('list by kind and by name returns the matching items and a revision', async () => {
        const keys = [poolKey('list-a'), poolKey('list-b'), poolKey('list-c')];
        for (const [i, key] of keys.entries()) await ds.createKV(key, ipPool(key.name, `10.${20 + i}.0.0/16`));
        const all = await ds.listKV({ type: 'resource', kind: 'IPPool' });
        assert.equal(typeof all.revision, 'string');
        const ours = all.items.filter((pair) => keys.some((key) => keyId(key) === keyId(pair.key)));
        assert.deepEqual(resourceKeys(ours), keys.map(keyId).sort());
        for (const pair of ours) assert.equal(pair.value.metadata.resourceVersion, pair.revision);
        assert.ok(all.items.every((pair) => pair.key.type === 'resource' && pair.key.kind === 'IPPool'));
        const one = await ds.listKV({ type: 'resource', kind: 'IPPool', name: keys[1]!.name });
        assert.deepEqual(resourceKeys(one.items), [keyId(keys[1]!)]);
        const none = await ds.listKV({ type: 'resource', kind: 'IPPool', name: `${prefix}-no-such-pool` });
        assert.deepEqual(none.items, []);
        for (const key of keys) await ds.deleteKV(key);
      });

      it('values are copies: changing an input or a result never changes stored state', async () => {
        const key = poolKey('copy');
        const value = ipPool(key.name, '10.30.0.0/16');
        const createdPair = await ds.createKV(key, value);
        value.spec.cidr = '10.99.0.0/16';
        (createdPair.value.spec as { cidr: string }).cidr = '10.98.0.0/16';
        const got = await ds.getKV(key);
        assert.equal((got.value.spec as { cidr: string }).cidr, '10.30.0.0/16');
        (got.value.spec as { cidr: string }).cidr = '10.97.0.0/16';
        assert.equal(((await ds.getKV(key)).value.spec as { cidr: string }).cidr, '10.30.0.0/16');
        await ds.deleteKV(key);
      });
    });

    describe('namespaced resources', () => {
      it('keys include the namespace; list filters by namespace and name', async () => {
        const ns1 = unique('ns');
        const ns2 = unique('ns');
        const a = track<ResourceKey>({ type: 'resource', kind: 'NetworkPolicy', namespace: ns1, name: 'allow-web' });
        const b = track<ResourceKey>({ type: 'resource', kind: 'NetworkPolicy', namespace: ns2, name: 'allow-web' });
        const c = track<ResourceKey>({ type: 'resource', kind: 'NetworkPolicy', namespace: ns1, name: 'deny-all' });
        const pa = await ds.createKV(a, networkPolicy(ns1, 'allow-web'));
        await ds.createKV(b, networkPolicy(ns2, 'allow-web', 200));
        await ds.createKV(c, networkPolicy(ns1, 'deny-all', 300));
        const got = await ds.getKV(a);
        assert.equal(got.revision, pa.revision);
        assert.equal(got.value.metadata.namespace, ns1);
        assert.equal(got.value.metadata.name, 'allow-web');
        assert.equal((got.value.spec as { order: number }).order, 100);
        assert.equal(((await ds.getKV(b)).value.spec as { order: number }).order, 200, 'same name, other namespace: another item');
        assert.deepEqual(resourceKeys((await ds.listKV({ type: 'resource', kind: 'NetworkPolicy', namespace: ns1 })).items), [a, c].map(keyId).sort());
        assert.deepEqual(resourceKeys((await ds.listKV({ type: 'resource', kind: 'NetworkPolicy', namespace: ns2 })).items), [keyId(b)]);
        assert.deepEqual(
          resourceKeys((await ds.listKV({ type: 'resource', kind: 'NetworkPolicy', namespace: ns1, name: 'deny-all' })).items),
          [keyId(c)],
        );
        const across = (await ds.listKV({ type: 'resource', kind: 'NetworkPolicy' })).items.filter((pair) => [a, b, c].some((k) => keyId(k) === keyId(pair.key)));
        assert.equal(across.length, 3, 'a list without namespace spans namespaces');
        await ds.deleteKV(a, pa.revision);
        await ds.deleteKV(b);
        await ds.deleteKV(c);
        await rejectsWith(ds.getKV(a), ResourceNotFoundError, identifiesKey(a));
      });
    });

    describe('IPAM keys', () => {
      it('blocks round-trip exactly, with uint64 sequence numbers beyond 2^53', async () => {
        const key = track<BlockKey>({ type: 'block', cidr: v4Block() });
        const value = block(key.cidr, 'host:node-1');
        const first = await ds.createKV(key, value);
        assert.deepEqual(first.value, value);
        const got = await ds.getKV(key);
        assert.deepEqual(got.value, value);
        assert.equal(typeof got.value.sequenceNumber, 'bigint');
        assert.equal(got.value.sequenceNumber, BIG_SEQUENCE);
        assert.equal(got.value.sequenceNumberForAllocation['1'], MAX_SEQUENCE);
        const next = { ...value, sequenceNumber: BIG_SEQUENCE + 1n };
        const second = await ds.updateKV(key, next, got.revision);
        assert.equal((await ds.getKV(key)).value.sequenceNumber, BIG_SEQUENCE + 1n);
        await rejectsWith(ds.updateKV(key, value, first.revision), UpdateConflictError, identifiesKey(key));
        await rejectsWith(ds.createKV(key, value), ResourceExistsError, identifiesKey(key));
        await rejectsWith(ds.deleteKV(key, first.revision), UpdateConflictError);
        const deleted = await ds.deleteKV(key, second.revision);
        assert.equal(deleted.value.sequenceNumber, BIG_SEQUENCE + 1n);
        await rejectsWith(ds.getKV(key), ResourceNotFoundError, identifiesKey(key));
      });

      it('IPv6 blocks round-trip and block lists filter by IP version', async () => {
        const k4 = track<BlockKey>({ type: 'block', cidr: v4Block() });
        const k6 = track<BlockKey>({ type: 'block', cidr: v6Block() });
        await ds.createKV(k4, block(k4.cidr, null));
        await ds.createKV(k6, block(k6.cidr, 'host:node-6', 1_800_000_000_123_456_789n));
        assert.deepEqual((await ds.getKV(k6)).value, block(k6.cidr, 'host:node-6', 1_800_000_000_123_456_789n));
        const ours = (pairs: KVPair[]) => pairs.map((p) => keyId(p.key)).filter((id) => id === keyId(k4) || id === keyId(k6)).sort();
        assert.deepEqual(ours((await ds.listKV({ type: 'block' })).items), [keyId(k4), keyId(k6)].sort());
        assert.deepEqual(ours((await ds.listKV({ type: 'block', ipVersion: 4 })).items), [keyId(k4)]);
        assert.deepEqual(ours((await ds.listKV({ type: 'block', ipVersion: 6 })).items), [keyId(k6)]);
        const v4list = await ds.listKV({ type: 'block', ipVersion: 4 });
        assert.ok(v4list.items.every((p) => !p.key.cidr.includes(':')));
        await ds.deleteKV(k4);
        await ds.deleteKV(k6);
      });

      it('affinities: CRUD and lists by host, IP version and affinity type', async () => {
        const host = unique('node');
        const other = unique('node');
        const a4 = track<BlockAffinityKey>({ type: 'blockAffinity', host, cidr: v4Block() });
        const a6 = track<BlockAffinityKey>({ type: 'blockAffinity', host, cidr: v6Block(), affinityType: 'host' });
        const b4 = track<BlockAffinityKey>({ type: 'blockAffinity', host: other, cidr: v4Block() });
        const virt = track<BlockAffinityKey>({ type: 'blockAffinity', host, cidr: v4Block(), affinityType: 'virtual' });
        const pending = await ds.createKV(a4, { state: 'pending', deleted: false });
        await ds.createKV(a6, { state: 'confirmed', deleted: false });
        await ds.createKV(b4, { state: 'confirmed', deleted: false });
        await ds.createKV(virt, { state: 'confirmed', deleted: false });
        assert.deepEqual((await ds.getKV(a4)).value, { state: 'pending', deleted: false });
        const confirmed = await ds.updateKV(a4, { state: 'confirmed', deleted: false }, pending.revision);
        await rejectsWith(ds.updateKV(a4, { state: 'pendingDeletion', deleted: false }, pending.revision), UpdateConflictError, identifiesKey(a4));
        assert.equal((await ds.getKV({ type: 'blockAffinity', host, cidr: a4.cidr, affinityType: 'host' })).revision, confirmed.revision, 'affinityType defaults to host');
        const ids = (list: ListInterface) => ds.listKV(list).then((r) => r.items.map((p) => keyId(p.key)).sort());
        assert.deepEqual(await ids({ type: 'blockAffinity', host, affinityType: 'host' }), [a4, a6].map(keyId).sort());
        assert.deepEqual(await ids({ type: 'blockAffinity', host, ipVersion: 4, affinityType: 'host' }), [keyId(a4)]);
        assert.deepEqual(await ids({ type: 'blockAffinity', host, ipVersion: 6 }), [keyId(a6)]);
        assert.deepEqual(await ids({ type: 'blockAffinity', host, affinityType: 'virtual' }), [keyId(virt)]);
        assert.deepEqual(await ids({ type: 'blockAffinity', host }), [a4, a6, virt].map(keyId).sort());
        assert.deepEqual(await ids({ type: 'blockAffinity', host: other }), [keyId(b4)]);
        const everything = await ids({ type: 'blockAffinity' });
        for (const key of [a4, a6, b4, virt]) assert.ok(everything.includes(keyId(key)));
        for (const key of [a4, a6, b4, virt]) await ds.deleteKV(key);
        assert.deepEqual(await ids({ type: 'blockAffinity', host }), []);
      });

      it('handles keep the id in its original case', async () => {
        const key = track<HandleKey>({ type: 'handle', handleId: `k8s-pod-network.${prefix}MixedCase${++counter}` });
        const cidr = v4Block();
        const first = await ds.createKV(key, { block: { [cidr]: 2 }, deleted: false });
        assert.equal((first.key as HandleKey).handleId, key.handleId);
        const got = await ds.getKV(key);
        assert.deepEqual(got.value, { block: { [cidr]: 2 }, deleted: false });
        const lower = { type: 'handle', handleId: key.handleId.toLowerCase() } as const;
        await rejectsWith(ds.getKV(lower), ResourceNotFoundError, identifiesKey(lower));
        const listed = (await ds.listKV({ type: 'handle' })).items.filter((p) => keyId(p.key) === keyId(key));
        assert.equal(listed.length, 1);
        assert.equal(listed[0]!.revision, got.revision);
        await rejectsWith(ds.createKV(key, { block: {}, deleted: false }), ResourceExistsError, identifiesKey(key));
        await ds.updateKV(key, { block: { [cidr]: 3 }, deleted: false }, got.revision);
        assert.deepEqual((await ds.getKV(key)).value.block, { [cidr]: 3 });
        await rejectsWith(ds.deleteKV(key, got.revision), UpdateConflictError, identifiesKey(key));
        await ds.deleteKV(key);
        await rejectsWith(ds.getKV(key), ResourceNotFoundError);
      });

      it('the IPAM config singleton: apply, get, CAS update, list, delete', async () => {
        const key = { type: 'ipamConfig' } as const;
        let saved: KVPair<typeof key> | undefined;
        try {
          saved = await ds.getKV(key);
        } catch (error) {
          if (!ResourceNotFoundError.isInstance(error)) throw error;
        }
        try {
          const config: IPAMConfig = { strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: 7 };
          const first = await ds.applyKV(key, config);
          const got = await ds.getKV(key);
          assert.equal(got.revision, first.revision);
          assert.equal(got.value.strictAffinity, true);
          assert.equal(got.value.autoAllocateBlocks, true);
          assert.equal(got.value.maxBlocksPerHost, 7);
          const second = await ds.updateKV(key, { ...config, strictAffinity: false, maxBlocksPerHost: 0 }, first.revision);
          await rejectsWith(ds.updateKV(key, config, first.revision), UpdateConflictError, identifiesKey(key));
          const listed = await ds.listKV({ type: 'ipamConfig' });
          assert.equal(listed.items.length, 1);
          assert.equal(listed.items[0]!.revision, second.revision);
          assert.equal(listed.items[0]!.value.strictAffinity, false);
          await ds.deleteKV(key, second.revision);
          await rejectsWith(ds.getKV(key), ResourceNotFoundError, identifiesKey(key));
          assert.deepEqual((await ds.listKV({ type: 'ipamConfig' })).items, []);
        } finally {
          if (saved) {
            try {
              await ds.applyKV(key, saved.value);
            } catch {
              // best effort
            }
          }
        }
      });
    });

    describe('watch', () => {
      // A backend that declares `watch: false` refuses watchKV (checked below): these are skipped.
      const watchIt = (title: string, fn: (t: TestContext) => Promise<void>) =>
        it(title, async (t) => {
          if (caps.watch === false) {
            t.skip('backend declares no watches');
            return;
          }
          await fn(t);
        });
      it('a backend without watches refuses watchKV with OperationNotSupportedError', async (t) => {
        if (caps.watch !== false) {
          t.skip('backend has watches');
          return;
        }
        // Refused at the call, or by the watch's first `next()`.
        let watch: Watch<Key> | undefined;
        try {
          watch = ds.watchKV({ type: 'resource', kind: 'NetworkPolicy', namespace: 'x' });
        } catch (error) {
          assert.ok(OperationNotSupportedError.isInstance(error), `watchKV threw ${String(error)}`);
          return;
        }
        try {
          await rejectsWith(withTimeout(watch[Symbol.asyncIterator]().next(), ms, 'OperationNotSupportedError'), OperationNotSupportedError);
        } finally {
          watch.stop();
        }
      });
      const policyList = (namespace: string) => ({ type: 'resource', kind: 'NetworkPolicy', namespace }) as const;
      const policyKey = (namespace: string, name: string): ResourceKey =>
        track({ type: 'resource', kind: 'NetworkPolicy', namespace, name });

      watchIt('list, then watch from the list revision: exactly the later changes, in order', async () => {
        const ns = unique('ns');
        const early = policyKey(ns, 'early');
        await ds.createKV(early, networkPolicy(ns, 'early'));
        const listed = await ds.listKV(policyList(ns));
        assert.deepEqual(resourceKeys(listed.items), [keyId(early)]);

        // Changes made after the list, before the watch starts: none may be lost.
        const a = policyKey(ns, 'a');
        const b = policyKey(ns, 'b');
        const ca = await ds.createKV(a, networkPolicy(ns, 'a', 1));
        const watch = ds.watchKV(policyList(ns), { revision: listed.revision });
        const iterator = watch[Symbol.asyncIterator]();
        try {
          const cb = await ds.createKV(b, networkPolicy(ns, 'b', 2));
          const ua = await ds.updateKV(a, networkPolicy(ns, 'a', 3), ca.revision);
          await ds.deleteKV(b, cb.revision);
          const de = await ds.deleteKV(early);
          const events = await take(iterator, 5, ms);
          assert.deepEqual(events.map(eventShape), [
            `added ${keyId(a)}`,
            `added ${keyId(b)}`,
            `modified ${keyId(a)}`,
            `deleted ${keyId(b)}`,
            `deleted ${keyId(early)}`,
          ]);
          assert.equal(events[0]!.current!.revision, ca.revision);
          assert.equal(events[0]!.revision, ca.revision);
          assert.equal(events[1]!.current!.revision, cb.revision);
          assert.equal(events[2]!.current!.revision, ua.revision);
          assert.equal((events[2]!.current!.value.spec as { order: number }).order, 3);
          assert.equal(events[2]!.current!.value.metadata.resourceVersion, ua.revision);
          assert.equal(events[3]!.current, undefined);
          assert.equal(keyId(events[3]!.previous!.key), keyId(b));
          assert.equal((events[3]!.previous!.value.spec as { order: number }).order, 2, 'a deletion carries the last value');
          assert.equal(keyId(events[4]!.previous!.key), keyId(de.key));
          const revisions = new Set(events.map((e) => e.revision));
          assert.equal(revisions.size, 5, 'each change has its own revision');
          await expectQuiet(iterator, 50, () => true);
        } finally {
          watch.stop();
        }
      });

      watchIt('watch without a revision emits the existing items as added first, then changes', async () => {
        const ns = unique('ns');
        const x = policyKey(ns, 'x');
        const y = policyKey(ns, 'y');
        const px = await ds.createKV(x, networkPolicy(ns, 'x'));
        await ds.createKV(y, networkPolicy(ns, 'y'));
        const watch = ds.watchKV(policyList(ns));
        const iterator = watch[Symbol.asyncIterator]();
        try {
          const initial = await take(iterator, 2, ms);
          assert.deepEqual(initial.map((e) => e.type), ['added', 'added']);
          assert.deepEqual(initial.map(eventKey).sort(), [x, y].map(keyId).sort());
          for (const event of initial) assert.ok(event.current && event.current.revision.length > 0);
          const ux = await ds.updateKV(x, networkPolicy(ns, 'x', 5), px.revision);
          const [change] = await take(iterator, 1, ms);
          assert.equal(eventShape(change!), `modified ${keyId(x)}`);
          assert.equal(change!.current!.revision, ux.revision);
        } finally {
          watch.stop();
        }
      });

      watchIt('a watch resumed from an event revision continues after that event', async () => {
        const ns = unique('ns');
        const k = policyKey(ns, 'resume');
        const listed = await ds.listKV(policyList(ns));
        const watch1 = ds.watchKV(policyList(ns), { revision: listed.revision });
        const first = await ds.createKV(k, networkPolicy(ns, 'resume', 1));
        const [added] = await take(watch1[Symbol.asyncIterator](), 1, ms);
        watch1.stop();
        const second = await ds.updateKV(k, networkPolicy(ns, 'resume', 2), first.revision);
        await ds.updateKV(k, networkPolicy(ns, 'resume', 3), second.revision);
        const watch2 = ds.watchKV(policyList(ns), { revision: added!.revision });
        try {
          const events = await take(watch2[Symbol.asyncIterator](), 2, ms);
          assert.deepEqual(
            events.map((e) => (e.current!.value.spec as { order: number }).order),
            [2, 3],
          );
          assert.deepEqual(events.map((e) => e.type), ['modified', 'modified']);
        } finally {
          watch2.stop();
        }
      });

      watchIt('stop() ends the iterator, also while it waits for an event', async () => {
        const ns = unique('ns');
        const listed = await ds.listKV(policyList(ns));
        const watch = ds.watchKV(policyList(ns), { revision: listed.revision });
        const iterator = watch[Symbol.asyncIterator]();
        const pending = iterator.next();
        await new Promise((resolve) => setTimeout(resolve, 20));
        watch.stop();
        const result = await withTimeout(pending, ms, 'the stopped watch to end');
        assert.equal(result.done, true);
        const afterStop = await withTimeout(iterator.next(), ms, 'next() after stop');
        assert.equal(afterStop.done, true);
      });

      watchIt('an aborted signal ends the iterator; breaking out of for-await stops the watch', async () => {
        const ns = unique('ns');
        const k = policyKey(ns, 'abort');
        const listed = await ds.listKV(policyList(ns));
        const controller = new AbortController();
        const watch = ds.watchKV(policyList(ns), { revision: listed.revision, signal: controller.signal });
        const iterator = watch[Symbol.asyncIterator]();
        const pending = iterator.next();
        setTimeout(() => controller.abort(), 20);
        const result = await withTimeout(pending, ms, 'the aborted watch to end');
        assert.equal(result.done, true);

        const already = new AbortController();
        already.abort();
        const dead = ds.watchKV(policyList(ns), { signal: already.signal });
        const deadResult = await withTimeout(dead[Symbol.asyncIterator]().next(), ms, 'a watch with an aborted signal to end');
        assert.equal(deadResult.done, true);

        const loopWatch: Watch<ResourceKey> = ds.watchKV(policyList(ns), { revision: listed.revision });
        await ds.createKV(k, networkPolicy(ns, 'abort'));
        let seen = 0;
        await withTimeout(
          (async () => {
            for await (const event of loopWatch) {
              assert.equal(event.type, 'added');
              seen++;
              break;
            }
          })(),
          ms,
          'for-await over a watch',
        );
        assert.equal(seen, 1);
        // After break the watch is stopped: a fresh iterator ends at once.
        const again = await withTimeout(loopWatch[Symbol.asyncIterator]().next(), ms, 'next() after break');
        assert.equal(again.done, true);
      });

      watchIt('blocks and handles can be watched too (bigints intact in events)', async () => {
        const key = track<BlockKey>({ type: 'block', cidr: v4Block() });
        const listed = await ds.listKV({ type: 'block', ipVersion: 4 });
        const watch = ds.watchKV({ type: 'block', ipVersion: 4 }, { revision: listed.revision });
        const iterator = watch[Symbol.asyncIterator]();
        try {
          const value = block(key.cidr, 'host:w');
          const createdPair = await ds.createKV(key, value);
          await ds.deleteKV(key, createdPair.revision);
          const ours = (e: WatchEvent) => eventKey(e) === keyId(key);
          const events = await take(iterator, 2, ms, ours);
          assert.deepEqual(events.map((e) => e.type), ['added', 'deleted']);
          assert.deepEqual(events[0]!.current!.value, value);
          assert.equal((events[1]!.previous!.value as AllocationBlock).sequenceNumber, BIG_SEQUENCE);
        } finally {
          watch.stop();
        }
      });

      watchIt('a watch from a compacted revision throws WatchTooOldError from the iterator', async (t) => {
        const compact =
          options.compact ??
          (isMemoryDatastore(ds)
            ? async (d: Datastore) => {
                if (isMemoryDatastore(d)) d.compact();
              }
            : undefined);
        if (!compact) {
          t.skip('no compact hook given for this backend');
          return;
        }
        const ns = unique('ns');
        const k = policyKey(ns, 'old');
        const first = await ds.createKV(k, networkPolicy(ns, 'old', 1));
        await ds.updateKV(k, networkPolicy(ns, 'old', 2), first.revision);
        const latest = await ds.getKV(k);
        await ds.updateKV(k, networkPolicy(ns, 'old', 3), latest.revision);
        await compact(ds);
        const watch = ds.watchKV(policyList(ns), { revision: first.revision });
        try {
          await rejectsWith(withTimeout(watch[Symbol.asyncIterator]().next(), ms, 'WatchTooOldError'), WatchTooOldError);
        } finally {
          watch.stop();
        }
        // A fresh list and a watch from its revision work again.
        const relisted = await ds.listKV(policyList(ns));
        const fresh = ds.watchKV(policyList(ns), { revision: relisted.revision });
        try {
          await ds.deleteKV(k);
          const [deleted] = await take(fresh[Symbol.asyncIterator](), 1, ms);
          assert.equal(eventShape(deleted!), `deleted ${keyId(k)}`);
        } finally {
          fresh.stop();
        }
      });
    });

    describe('transactions', () => {
      it('commits block + handle atomically when every condition holds', async (t) => {
        if (!caps.atomicTransactions) {
          t.skip('backend declares no atomic multi-key transactions');
          return;
        }
        const blockKey = track<BlockKey>({ type: 'block', cidr: v4Block() });
        const handleKey = track<HandleKey>({ type: 'handle', handleId: unique('handle') });
        const result = await ds.transact(
          [
            { key: blockKey, absent: true },
            { key: handleKey, absent: true },
          ],
          [
            { op: 'put', key: blockKey, value: block(blockKey.cidr, 'host:t') },
            { op: 'put', key: handleKey, value: { block: { [blockKey.cidr]: 1 }, deleted: false } },
          ],
        );
        assert.equal(result.results.length, 2);
        assert.equal(keyId(result.results[0]!.key), keyId(blockKey));
        const gotBlock = await ds.getKV(blockKey);
        const gotHandle = await ds.getKV(handleKey);
        assert.equal(result.results[0]!.revision, gotBlock.revision);
        assert.equal(result.results[1]!.revision, gotHandle.revision);
        assert.equal(gotBlock.value.sequenceNumber, BIG_SEQUENCE);

        // Revision conditions that hold: update one, delete the other.
        const second = await ds.transact(
          [
            { key: blockKey, revision: gotBlock.revision },
            { key: handleKey, revision: gotHandle.revision },
          ],
          [
            { op: 'put', key: blockKey, value: { ...block(blockKey.cidr, 'host:t'), sequenceNumber: BIG_SEQUENCE + 1n } },
            { op: 'delete', key: handleKey },
          ],
        );
        assert.equal(second.results[1]!.revision, undefined, 'no revision for a delete');
        assert.equal((await ds.getKV(blockKey)).value.sequenceNumber, BIG_SEQUENCE + 1n);
        await rejectsWith(ds.getKV(handleKey), ResourceNotFoundError);
        await ds.deleteKV(blockKey);
      });

      it('writes nothing when one condition fails (UpdateConflictError / ResourceExistsError)', async (t) => {
        if (!caps.atomicTransactions) {
          t.skip('backend declares no atomic multi-key transactions');
          return;
        }
        const blockKey = track<BlockKey>({ type: 'block', cidr: v4Block() });
        const handleKey = track<HandleKey>({ type: 'handle', handleId: unique('handle') });
        const b1 = await ds.createKV(blockKey, block(blockKey.cidr, null));
        const b2 = await ds.updateKV(blockKey, block(blockKey.cidr, 'host:x'), b1.revision);
        // Stale revision on the block: neither the block nor the handle is written.
        await rejectsWith(
          ds.transact(
            [{ key: blockKey, revision: b1.revision }],
            [
              { op: 'put', key: blockKey, value: block(blockKey.cidr, 'host:y') },
              { op: 'put', key: handleKey, value: { block: {}, deleted: false } },
            ],
          ),
          UpdateConflictError,
          identifiesKey(blockKey),
        );
        assert.equal((await ds.getKV(blockKey)).revision, b2.revision);
        await rejectsWith(ds.getKV(handleKey), ResourceNotFoundError);
        // `absent` on a present key.
        await rejectsWith(
          ds.transact(
            [
              { key: handleKey, absent: true },
              { key: blockKey, absent: true },
            ],
            [
              { op: 'put', key: handleKey, value: { block: {}, deleted: false } },
              { op: 'delete', key: blockKey },
            ],
          ),
          ResourceExistsError,
          identifiesKey(blockKey),
        );
        assert.equal((await ds.getKV(blockKey)).revision, b2.revision);
        await rejectsWith(ds.getKV(handleKey), ResourceNotFoundError);
        // A revision condition on an absent key fails too.
        await rejectsWith(
          ds.transact(
            [{ key: handleKey, revision: b2.revision }],
            [{ op: 'put', key: blockKey, value: block(blockKey.cidr, 'host:z') }],
          ),
          UpdateConflictError,
        );
        assert.equal((await ds.getKV(blockKey)).value.affinity, 'host:x');
        await ds.deleteKV(blockKey);
      });

      it('single-key transactions work on every backend', async () => {
        const key = track<HandleKey>({ type: 'handle', handleId: unique('handle') });
        const created1 = await ds.transact([{ key, absent: true }], [{ op: 'put', key, value: { block: { '10.0.0.0/26': 1 }, deleted: false } }]);
        const got = await ds.getKV(key);
        assert.equal(created1.results[0]!.revision, got.revision);
        await rejectsWith(ds.transact([{ key, absent: true }], [{ op: 'put', key, value: { block: {}, deleted: false } }]), ResourceExistsError, identifiesKey(key));
        const updated = await ds.transact([{ key, revision: got.revision }], [{ op: 'put', key, value: { block: { '10.0.0.0/26': 2 }, deleted: false } }]);
        await rejectsWith(ds.transact([{ key, revision: got.revision }], [{ op: 'delete', key }]), UpdateConflictError, identifiesKey(key));
        assert.equal((await ds.getKV(key)).revision, updated.results[0]!.revision);
        await ds.transact([{ key, revision: updated.results[0]!.revision! }], [{ op: 'delete', key }]);
        await rejectsWith(ds.getKV(key), ResourceNotFoundError);
      });

      it('list conditions: hold while the list is unchanged, fail on a created or modified key, write nothing then', async (t) => {
        if (!caps.listConditions) {
          t.skip('backend declares no list conditions');
          return;
        }
        const host = unique('lc-host');
        const other = unique('lc-other');
        const affinities = { type: 'blockAffinity', host, ipVersion: 4 } as const;
        const affinity = (h: string) => track<BlockAffinityKey>({ type: 'blockAffinity', host: h, cidr: v4Block() });
        const a1 = await ds.createKV(affinity(host), { state: 'confirmed', deleted: false });
        const handleKey = track<HandleKey>({ type: 'handle', handleId: unique('lc-handle') });
        const listed = await ds.listKV(affinities);
        assert.equal(listed.items.length, 1);
        const put = (n: number): TxnOperation[] => [{ op: 'put', key: handleKey, value: { block: { [a1.key.cidr]: n }, deleted: false } }];
        const since = (revision: string) => ({ listConditions: [{ list: affinities, notModifiedAfter: revision }] });
        // Unchanged (a change to another host's affinities and to other kinds does not count).
        await ds.createKV(affinity(other), { state: 'confirmed', deleted: false });
        const lcPool = poolKey('lc-pool');
        await ds.createKV(lcPool, ipPool(lcPool.name, '10.13.0.0/16'));
        const first = await ds.transact([], put(1), since(listed.revision));
        assert.equal((await ds.getKV(handleKey)).revision, first.results[0]!.revision);
        // A key created under the list after the revision: the condition fails and nothing is written.
        const a2 = await ds.createKV(affinity(host), { state: 'pending', deleted: false });
        await rejectsWith(ds.transact([], put(2), since(listed.revision)), UpdateConflictError);
        assert.equal((await ds.getKV(handleKey)).revision, first.results[0]!.revision);
        // Listing again gives a revision the condition holds at.
        const relisted = await ds.listKV(affinities);
        await ds.transact([], put(3), since(relisted.revision));
        // A key modified after the revision fails it too.
        const relisted2 = await ds.listKV(affinities);
        await ds.updateKV(a2.key, { state: 'confirmed', deleted: false }, a2.revision);
        await rejectsWith(ds.transact([], put(4), since(relisted2.revision)), UpdateConflictError);
        assert.equal((await ds.getKV(handleKey)).value.block[a1.key.cidr], 3);
        // Checked together with key conditions: both must hold.
        const relisted3 = await ds.listKV(affinities);
        const h = await ds.getKV(handleKey);
        await rejectsWith(ds.transact([{ key: handleKey, revision: first.revision }], put(5), since(relisted3.revision)), UpdateConflictError);
        await ds.transact([{ key: handleKey, revision: h.revision }], put(6), since(relisted3.revision));
        // Malformed list conditions are refused before anything is written.
        await rejectsWith(ds.transact([], put(7), { listConditions: [{ list: { type: 'nope' } as never, notModifiedAfter: relisted3.revision }] }), ValidationError);
        await rejectsWith(ds.transact([], put(7), { listConditions: [{ list: affinities, notModifiedAfter: 'yesterday' }] }), ValidationError);
        assert.equal((await ds.getKV(handleKey)).value.block[a1.key.cidr], 6);
      });

      it('list conditions throw OperationNotSupportedError where the backend has none', async (t) => {
        if (caps.listConditions) {
          t.skip('backend has list conditions');
          return;
        }
        const key = track<HandleKey>({ type: 'handle', handleId: unique('handle') });
        const listed = await ds.listKV({ type: 'resource', kind: 'IPPool' });
        await rejectsWith(
          ds.transact([], [{ op: 'put', key, value: { block: {}, deleted: false } }], {
            listConditions: [{ list: { type: 'resource', kind: 'IPPool' }, notModifiedAfter: listed.revision }],
          }),
          OperationNotSupportedError,
        );
        await rejectsWith(ds.getKV(key), ResourceNotFoundError);
      });

      it('multi-key transactions throw OperationNotSupportedError without atomic transactions', async (t) => {
        if (caps.atomicTransactions) {
          t.skip('backend has atomic multi-key transactions');
          return;
        }
        const a = track<HandleKey>({ type: 'handle', handleId: unique('handle') });
        const b = track<HandleKey>({ type: 'handle', handleId: unique('handle') });
        await rejectsWith(
          ds.transact([], [
            { op: 'put', key: a, value: { block: {}, deleted: false } },
            { op: 'put', key: b, value: { block: {}, deleted: false } },
          ]),
          OperationNotSupportedError,
        );
        await rejectsWith(ds.getKV(a), ResourceNotFoundError);
        await rejectsWith(ds.getKV(b), ResourceNotFoundError);
      });
    });

    describe('concurrency', () => {
      it(`concurrent creates of one key: exactly one of ${concurrency} wins`, async () => {
        const key = track<HandleKey>({ type: 'handle', handleId: unique('race-create') });
        const outcomes = await Promise.allSettled(
          Array.from({ length: concurrency }, (_, i) => ds.createKV(key, { block: { [`writer-${i}`]: i }, deleted: false })),
        );
        const winners = outcomes.filter((o) => o.status === 'fulfilled');
        assert.equal(winners.length, 1);
        for (const loser of outcomes.filter((o) => o.status === 'rejected')) {
          assert.ok(ResourceExistsError.isInstance((loser as PromiseRejectedResult).reason), String((loser as PromiseRejectedResult).reason));
        }
        const winner = (winners[0] as PromiseFulfilledResult<KVPair<HandleKey>>).value;
        assert.deepEqual((await ds.getKV(key)).value, winner.value);
        await ds.deleteKV(key);
      });

      it(`concurrent CAS updates: exactly one winner per revision, over several rounds`, async () => {
        const key = track<HandleKey>({ type: 'handle', handleId: unique('race-cas') });
        let current = await ds.createKV(key, { block: { count: 0 }, deleted: false });
        for (let round = 1; round <= 3; round++) {
          const base = current;
          const outcomes = await Promise.allSettled(
            Array.from({ length: concurrency }, (_, i) => ds.updateKV(key, { block: { count: round, writer: i }, deleted: false }, base.revision)),
          );
          const winners = outcomes.filter((o): o is PromiseFulfilledResult<KVPair<HandleKey>> => o.status === 'fulfilled');
          assert.equal(winners.length, 1, `round ${round}: exactly one winner`);
          for (const loser of outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected')) {
            assert.ok(UpdateConflictError.isInstance(loser.reason), String(loser.reason));
            assert.equal((loser.reason as UpdateConflictError).isRetryable, true);
          }
          current = winners[0]!.value;
          const got = await ds.getKV(key);
          assert.equal(got.revision, current.revision);
          assert.deepEqual(got.value, current.value);
        }
        await ds.deleteKV(key, current.revision);
      });

      it('a read-modify-write loop with retries on conflict loses no increment', async () => {
        const key = track<HandleKey>({ type: 'handle', handleId: unique('counter') });
        await ds.createKV(key, { block: { n: 0 }, deleted: false });
        const increment = async () => {
          for (let attempt = 0; attempt < 200; attempt++) {
            const pair = await ds.getKV(key);
            try {
              await ds.updateKV(key, { block: { n: pair.value.block.n! + 1 }, deleted: false }, pair.revision);
              return;
            } catch (error) {
              if (!UpdateConflictError.isInstance(error)) throw error;
            }
          }
          throw new Error('too many conflicts');
        };
        const writers = Math.min(concurrency, 8);
        await Promise.all(Array.from({ length: writers }, () => Promise.all([increment(), increment()])));
        assert.equal((await ds.getKV(key)).value.block.n, writers * 2);
        await ds.deleteKV(key);
      });
    });

    describe('close', () => {
      it('after close() every call rejects with a DatastoreError; close is idempotent', async () => {
        const second = await factory();
        try {
          await second.datastore.close();
          await second.datastore.close();
          await rejectsWith(second.datastore.getKV({ type: 'ipamConfig' }), DatastoreError);
          await rejectsWith(second.datastore.listKV({ type: 'handle' }), DatastoreError);
          await rejectsWith(second.datastore.createKV({ type: 'handle', handleId: unique('closed') }, { block: {}, deleted: false }), DatastoreError);
        } finally {
          await second.cleanup();
        }
      });
    });
  });
}

/** A named datastore factory, for {@link describeEachDatastore}. */
export interface NamedDatastoreFactory {
  name: string;
  factory: DatastoreFactory;
}

/**
 * Runs a user suite once per datastore (libcalico-go's `e2e_describe` idea): `suite` is called
 * inside a `describe(<name>)` with a getter for that block's datastore, created before its tests
 * and cleaned up after them.
 *
 * @example
 * ```ts
 * describeEachDatastore([{ name: 'memory', factory: memoryFactory }], (getDatastore) => {
 *   it('stores a pool', async () => { await getDatastore().applyKV(key, pool); });
 * });
 * ```
 */
export function describeEachDatastore(
  factories: readonly NamedDatastoreFactory[],
  suite: (getDatastore: () => Datastore, name: string) => void,
): void {
  for (const { name, factory } of factories) {
    describe(name, () => {
      let underTest: DatastoreUnderTest | undefined;
      before(async () => {
        underTest = await factory();
      });
      after(async () => {
        await underTest?.cleanup();
      });
      suite(() => {
        if (!underTest) throw new Error(`datastore ${name} is not ready (use it inside it()/before())`);
        return underTest.datastore;
      }, name);
    });
  }
}
