// The Kubernetes datastore against the Kubernetes API test server: wire compatibility with the
// reference examples E10-E15 (objects put raw into the server read field by field, objects written
// by the backend compared with the reference), errors, soft delete, affinity label lookups, native
// Node / WorkloadEndpoint / Profile views, and watch bookmarks, ERROR events and reconnects.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DatastoreUnavailableError,
  OperationNotSupportedError,
  ResourceNotFoundError,
  UpdateConflictError,
  ValidationError,
  WatchTooOldError,
  type V3Object,
} from '@libcalico-ts/api';
import type { AllocationBlock, BlockAffinityKey, BlockKey, HandleKey, KVPair, ResourceKey, WatchEvent } from '@libcalico-ts/datastore';
import { createKubernetesDatastore, parseJson, type KubernetesDatastore } from '@libcalico-ts/datastore-kubernetes';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';

const V1 = '/apis/crd.projectcalico.org/v1';

// Reference §9 examples, verbatim.
const E10 = `{"kind":"IPPool","apiVersion":"crd.projectcalico.org/v1","metadata":{"name":"default-ipv4-ippool","uid":"11f27d4a-0c2e-4b7d-9a3e-5b6c7d8e9f00","resourceVersion":"71342","generation":1,"creationTimestamp":"2026-03-01T10:00:00Z","annotations":{"projectcalico.org/metadata":"{\\"creationTimestamp\\":\\"2026-03-01T10:00:00Z\\"}"}},"spec":{"cidr":"192.168.0.0/16","vxlanMode":"Never","ipipMode":"Always","natOutgoing":true,"blockSize":26,"nodeSelector":"all()","allowedUses":["Workload","Tunnel"],"assignmentMode":"Automatic"}}`;
const NULLS = (n: number) => new Array(n).fill('null').join(',');
const E11 = `{"kind":"IPAMBlock","apiVersion":"crd.projectcalico.org/v1","metadata":{"name":"192-168-84-128-26","uid":"e5b9506f-72af-4661-b9ad-7d27d1355255","resourceVersion":"71877","generation":3,"creationTimestamp":"2026-03-01T10:00:00Z","annotations":{"projectcalico.org/metadata":"{\\"creationTimestamp\\":null}"}},"spec":{"cidr":"192.168.84.128/26","affinity":"host:node-1","affinityClaimTime":"2026-03-01T10:00:00Z","allocations":[0,1,${NULLS(62)}],"unallocated":[${Array.from({ length: 62 }, (_, i) => i + 2).join(',')}],"attributes":[{"handle_id":"ipip-tunnel-addr-node-1","secondary":{"node":"node-1","type":"ipipTunnelAddress"}},{"handle_id":"k8s-pod-network.3f9c1a7be0d24c6b8e5f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d","secondary":{"namespace":"default","node":"node-1","pod":"nginx-6799fc88d8-x2vqk","timestamp":"2026-03-01 10:05:07.123456789 +0000 UTC"}}],"sequenceNumber":1772359200000000002,"sequenceNumberForAllocation":{"0":1772359200000000000,"1":1772359200000000001},"deleted":false,"strictAffinity":false}}`;
const E12 = `{"kind":"BlockAffinity","apiVersion":"crd.projectcalico.org/v1","metadata":{"name":"node-1-192-168-84-128-26","resourceVersion":"71870","creationTimestamp":"2026-03-01T10:00:00Z","labels":{"projectcalico.org/affinity-type":"host","projectcalico.org/hostname-hash":"A3XPYDATRKB7Q4SM2O5FN4RXIHBFIL2PITFX26BAIP5XAB2X74CA","projectcalico.org/ip-version":"4"},"annotations":{"projectcalico.org/metadata":"{\\"creationTimestamp\\":null,\\"labels\\":{\\"projectcalico.org/affinity-type\\":\\"host\\",\\"projectcalico.org/hostname-hash\\":\\"A3XPYDATRKB7Q4SM2O5FN4RXIHBFIL2PITFX26BAIP5XAB2X74CA\\",\\"projectcalico.org/ip-version\\":\\"4\\"}}"}},"spec":{"state":"confirmed","node":"node-1","type":"host","cidr":"192.168.84.128/26","deleted":"false"}}`;
const E13 = `{"kind":"IPAMHandle","apiVersion":"crd.projectcalico.org/v1","metadata":{"name":"ipip-tunnel-addr-node-1","resourceVersion":"71880","creationTimestamp":"2026-03-01T10:00:00Z","annotations":{"projectcalico.org/metadata":"{\\"creationTimestamp\\":null}"}},"spec":{"handleID":"ipip-tunnel-addr-node-1","block":{"192.168.84.128/26":1},"deleted":false}}`;
const E14 = `{"kind":"IPAMConfig","apiVersion":"crd.projectcalico.org/v1","metadata":{"name":"default","resourceVersion":"1200","creationTimestamp":"2026-03-01T10:00:00Z","annotations":{"projectcalico.org/metadata":"{\\"creationTimestamp\\":null}"}},"spec":{"strictAffinity":false,"autoAllocateBlocks":true}}`;
const E15_NODE = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: {
    name: 'TestNode',
    resourceVersion: '1234',
    annotations: {
      'projectcalico.org/IPv4Address': '172.17.17.10',
      'projectcalico.org/ASNumber': '2546',
      'projectcalico.org/Interfaces': '[{"name":"eth1","addresses":["172.31.11.4"]},{"name":"eth0","addresses":["172.17.17.10","172.17.17.11"]}]',
    },
  },
  spec: { podCIDR: '10.0.0.1/24' },
  status: {
    addresses: [
      { type: 'InternalIP', address: '172.17.17.10' },
      { type: 'ExternalIP', address: '192.168.1.100' },
      { type: 'Hostname', address: '172-17-17-10' },
    ],
  },
};
const E15_CALICO = `{"kind":"Node","apiVersion":"projectcalico.org/v3","metadata":{"name":"TestNode","resourceVersion":"1234","creationTimestamp":null,"annotations":{"projectcalico.org/kube-labels":"null"}},"spec":{"bgp":{"asNumber":2546,"ipv4Address":"172.17.17.10"},"orchRefs":[{"nodeName":"TestNode","orchestrator":"k8s"}],"addresses":[{"address":"172.17.17.10","type":"CalicoNodeIP"},{"address":"172.17.17.10","type":"InternalIP"},{"address":"192.168.1.100","type":"ExternalIP"}],"interfaces":[{"name":"eth1","addresses":["172.31.11.4"]},{"name":"eth0","addresses":["172.17.17.10","172.17.17.11"]}]},"status":{}}`;

/** The stored object at `path` as the server encodes it, parsed losslessly. */
function stored(server: KubeApiServer, path: string): Record<string, any> {
  const raw = server.getRaw(path);
  assert.ok(raw, `nothing stored at ${path}`);
  return parseJson(raw) as Record<string, any>;
}

function take<T>(iterator: AsyncIterator<T>, count: number, ms = 5000): Promise<T[]> {
  const out: T[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${out.length} of ${count} events`)), ms);
    const loop = async () => {
      while (out.length < count) {
        const r = await iterator.next();
        if (r.done) throw new Error(`watch ended after ${out.length} events`);
        out.push(r.value);
      }
    };
    loop().then(
      () => {
        clearTimeout(timer);
        resolve(out);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

async function rejects(promise: Promise<unknown>, check: (e: unknown) => boolean, what: string): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    assert.ok(check(error), `${what}: got ${String((error as Error)?.stack ?? error)}`);
    return error;
  }
  assert.fail(`${what}: the call succeeded`);
}

describe('kubernetes datastore: wire compatibility with the reference (E10-E15)', () => {
  let server: KubeApiServer;
  let ds: KubernetesDatastore;
  before(async () => {
    server = await startKubeApiServer();
    ds = createKubernetesDatastore({ kubeconfig: server.kubeconfigPath });
  });
  after(async () => {
    await ds.close();
    await server.stop();
  });

  it('E10: reads an IPPool CR as the v3 object (metadata from the annotation, converted uid)', async () => {
    const rv = server.putRaw(E10);
    const pair = await ds.getKV({ type: 'resource', kind: 'IPPool', name: 'default-ipv4-ippool' });
    assert.equal(pair.revision, rv);
    assert.equal(pair.value.kind, 'IPPool');
    assert.equal(pair.value.apiVersion, 'projectcalico.org/v3');
    assert.deepEqual(pair.value.metadata, { creationTimestamp: '2026-03-01T10:00:00Z', name: 'default-ipv4-ippool', resourceVersion: rv, uid: '884fbe52-3074-4bbe-9a7c-da36be71f900' });
    assert.deepEqual(pair.value.spec, JSON.parse(E10).spec);
  });

  it('E10: writes an IPPool exactly as Calico does (annotation text, spec, no labels)', async () => {
    const e10 = JSON.parse(E10);
    await ds.createKV({ type: 'resource', kind: 'IPPool', name: 'pool-written' }, {
      kind: 'IPPool',
      apiVersion: 'projectcalico.org/v3',
      metadata: { name: 'pool-written', creationTimestamp: '2026-03-01T10:00:00Z' },
      spec: e10.spec,
    });
    const cr = stored(server, `${V1}/ippools/pool-written`);
    assert.equal(cr.apiVersion, 'crd.projectcalico.org/v1');
    assert.equal(cr.kind, 'IPPool');
    assert.deepEqual(cr.metadata.annotations, e10.metadata.annotations);
    assert.equal(cr.metadata.labels, undefined);
    assert.deepEqual(cr.spec, e10.spec);
    const post = server.requests.find((r) => r.method === 'POST' && r.path === `${V1}/ippools`);
    assert.equal(post?.contentType, 'application/json');
  });

  it('E11: reads and writes an IPAMBlock with exact uint64 sequence numbers', async () => {
    const rv = server.putRaw(E11);
    const key: BlockKey = { type: 'block', cidr: '192.168.84.128/26' };
    const pair = await ds.getKV(key);
    assert.equal(pair.revision, rv);
    const block = pair.value;
    assert.equal(block.sequenceNumber, 1772359200000000002n);
    assert.deepEqual(block.sequenceNumberForAllocation, { '0': 1772359200000000000n, '1': 1772359200000000001n });
    assert.equal(block.affinity, 'host:node-1');
    assert.equal(block.affinityClaimTime, '2026-03-01T10:00:00Z');
    assert.deepEqual(block.allocations.slice(0, 3), [0, 1, null]);
    assert.equal(block.allocations.length, 64);
    assert.equal(block.unallocated[0], 2);
    assert.deepEqual(block.attributes[0], { handleId: 'ipip-tunnel-addr-node-1', secondary: { node: 'node-1', type: 'ipipTunnelAddress' } });
    assert.equal(block.deleted, false);
    // Written back through the backend (delete, then create from the model): the same CR body.
    await ds.deleteKV(key);
    await ds.createKV(key, block);
    const cr = stored(server, `${V1}/ipamblocks/192-168-84-128-26`);
    const reference = parseJson(E11) as Record<string, any>;
    assert.deepEqual(cr.spec, reference.spec);
    assert.equal(cr.metadata.annotations['projectcalico.org/metadata'], '{"creationTimestamp":null}');
    assert.match(server.getRaw(`${V1}/ipamblocks/192-168-84-128-26`)!, /"sequenceNumber":1772359200000000002[,}]/);
  });

  it('E12: writes a BlockAffinity with its name, lookup labels, metadata annotation and string deleted', async () => {
    const key: BlockAffinityKey = { type: 'blockAffinity', host: 'node-1', cidr: '192.168.84.128/26' };
    await ds.createKV(key, { state: 'confirmed', deleted: false });
    const cr = stored(server, `${V1}/blockaffinities/node-1-192-168-84-128-26`);
    const reference = JSON.parse(E12);
    assert.deepEqual(cr.metadata.labels, reference.metadata.labels);
    assert.equal(cr.metadata.annotations['projectcalico.org/metadata'], reference.metadata.annotations['projectcalico.org/metadata']);
    assert.deepEqual(cr.spec, reference.spec);
    assert.equal(typeof cr.spec.deleted, 'string');
    await ds.deleteKV(key);
    // And the reference object put raw reads back as the model value.
    server.putRaw(E12);
    const pair = await ds.getKV(key);
    assert.deepEqual(pair.value, { state: 'confirmed', deleted: false });
    const listed = await ds.listKV({ type: 'blockAffinity', host: 'node-1', ipVersion: 4 });
    assert.deepEqual(listed.items.map((p) => p.key), [{ type: 'blockAffinity', host: 'node-1', cidr: '192.168.84.128/26', affinityType: 'host' }]);
    const lookup = server.requests.filter((r) => r.method === 'GET' && r.path === `${V1}/blockaffinities` && r.query.labelSelector);
    assert.ok(lookup.some((r) => r.query.labelSelector.includes('projectcalico.org/hostname-hash=A3XPYDATRKB7Q4SM2O5FN4RXIHBFIL2PITFX26BAIP5XAB2X74CA')));
  });

  it('E12 note: unlabelled affinities (older releases) get their labels back-filled and are found by host', async () => {
    server.putRaw({
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'BlockAffinity',
      metadata: { name: 'old-host-10-9-0-0-26' },
      spec: { state: 'confirmed', node: 'old-host', type: 'host', cidr: '10.9.0.0/26', deleted: 'false' },
    });
    const fresh = createKubernetesDatastore({ kubeconfig: server.kubeconfigPath });
    try {
      const listed = await fresh.listKV({ type: 'blockAffinity', host: 'old-host' });
      assert.deepEqual(listed.items.map((p) => p.key.cidr), ['10.9.0.0/26']);
      const cr = stored(server, `${V1}/blockaffinities/old-host-10-9-0-0-26`);
      assert.equal(cr.metadata.labels['projectcalico.org/hostname-hash'], fresh && (await import('@libcalico-ts/datastore-kubernetes')).hostnameHash('old-host'));
      assert.equal(cr.metadata.labels['projectcalico.org/ip-version'], '4');
    } finally {
      await fresh.close();
    }
  });

  it('E13: handles: lowercased CR name, handleID in original case', async () => {
    await ds.createKV({ type: 'handle', handleId: 'ipip-tunnel-addr-node-1' }, { block: { '192.168.84.128/26': 1 }, deleted: false });
    const cr = stored(server, `${V1}/ipamhandles/ipip-tunnel-addr-node-1`);
    const reference = JSON.parse(E13);
    assert.deepEqual(cr.spec, reference.spec);
    assert.equal(cr.metadata.annotations['projectcalico.org/metadata'], '{"creationTimestamp":null}');
    const mixed: HandleKey = { type: 'handle', handleId: 'k8s-pod-network.AbCdEf' };
    await ds.createKV(mixed, { block: {}, deleted: false });
    assert.equal(stored(server, `${V1}/ipamhandles/k8s-pod-network.abcdef`).spec.handleID, 'k8s-pod-network.AbCdEf');
    const listed = await ds.listKV({ type: 'handle' });
    assert.ok(listed.items.some((p) => p.key.handleId === 'k8s-pod-network.AbCdEf'));
  });

  it('E14: the IPAM config is the ipamconfigs/default CR of kind IPAMConfig; IPAMConfiguration maps onto it', async () => {
    server.putRaw(E14);
    const pair = await ds.getKV({ type: 'ipamConfig' });
    assert.deepEqual(pair.value, { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 });
    await ds.updateKV({ type: 'ipamConfig' }, { strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: 4 }, pair.revision);
    const cr = stored(server, `${V1}/ipamconfigs/default`);
    assert.equal(cr.kind, 'IPAMConfig');
    assert.deepEqual(cr.spec, { autoAllocateBlocks: true, maxBlocksPerHost: 4, strictAffinity: true });
    const v3 = await ds.getKV({ type: 'resource', kind: 'IPAMConfiguration', name: 'default' });
    assert.equal(v3.value.kind, 'IPAMConfiguration');
    assert.deepEqual(v3.value.spec, { autoAllocateBlocks: true, maxBlocksPerHost: 4, strictAffinity: true });
  });

  it('E15: a Kubernetes Node reads as the reference Calico Node, field by field', async () => {
    const rv = server.putRaw(E15_NODE);
    const pair = await ds.getKV({ type: 'resource', kind: 'Node', name: 'TestNode' });
    const expected = JSON.parse(E15_CALICO) as V3Object;
    expected.metadata.resourceVersion = rv;
    assert.deepEqual(pair.value, expected);
    assert.equal(pair.revision, rv);
  });
});

describe('kubernetes datastore: behaviour against the test server', () => {
  let server: KubeApiServer;
  let ds: KubernetesDatastore;
  before(async () => {
    server = await startKubeApiServer({ bookmarkIntervalMs: 100 });
    ds = createKubernetesDatastore({ kubeconfig: server.kubeconfigPath });
  });
  after(async () => {
    await ds.close();
    await server.stop();
  });

  const pool = (name: string, cidr: string) => ({ kind: 'IPPool', apiVersion: 'projectcalico.org/v3' as const, metadata: { name }, spec: { cidr } });

  it('404 -> ResourceNotFoundError, 409 -> UpdateConflictError (the Status is kept as cause)', async () => {
    const key: ResourceKey = { type: 'resource', kind: 'IPPool', name: 'conflicts' };
    await rejects(ds.getKV(key), (e) => ResourceNotFoundError.isInstance(e), 'get of an absent pool');
    const first = await ds.createKV(key, pool('conflicts', '10.50.0.0/16'));
    await ds.updateKV(key, { ...pool('conflicts', '10.50.0.0/16'), spec: { cidr: '10.50.0.0/16', natOutgoing: true } }, first.revision);
    const error = (await rejects(ds.updateKV(key, pool('conflicts', '10.50.0.0/16'), first.revision), (e) => UpdateConflictError.isInstance(e), 'stale update')) as Error;
    assert.match(JSON.stringify((error.cause as { status: unknown }).status), /the object has been modified/);
  });

  it('an invalid object rejected by the API server (422) is a ValidationError naming the field', async () => {
    const key: ResourceKey = { type: 'resource', kind: 'IPPool', name: 'invalid' };
    const error = (await rejects(ds.createKV(key, { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'invalid' }, spec: { vxlanMode: 'Sometimes' } }), (e) => ValidationError.isInstance(e), '422')) as ValidationError;
    assert.deepEqual(error.fields.map((f) => f.name).sort(), ['spec.cidr', 'spec.vxlanMode']);
  });

  it('server faults (500/503) are retryable DatastoreUnavailableErrors; an unreachable server is too, quickly', async () => {
    server.failNext(1, { code: 503 });
    const e1 = await rejects(ds.listKV({ type: 'handle' }), (e) => DatastoreUnavailableError.isInstance(e), '503');
    assert.equal((e1 as DatastoreUnavailableError).isRetryable, true);
    server.failNext(1, { code: 500, method: 'GET' });
    await rejects(ds.getKV({ type: 'ipamConfig' }), (e) => DatastoreUnavailableError.isInstance(e), '500');
    const stopped = await startKubeApiServer();
    const gone = createKubernetesDatastore({ kubeconfig: stopped.kubeconfigPath, requestTimeoutMs: 2000 });
    await stopped.stop();
    const started = Date.now();
    await rejects(gone.getKV({ type: 'ipamConfig' }), (e) => DatastoreUnavailableError.isInstance(e), 'unreachable');
    assert.ok(Date.now() - started < 5000);
    await gone.close();
  });

  it('a wrong token is a (non-retryable) DatastoreError, not a raw 401', async () => {
    const text = server.kubeconfigText.replace(/token: .*/, 'token: wrong');
    const bad = createKubernetesDatastore({ kubeconfigText: text });
    const error = await rejects(bad.getKV({ type: 'ipamConfig' }), (e) => e instanceof Error && e.name === 'DatastoreError', '401');
    assert.match((error as Error).message, /401/);
    await bad.close();
  });

  it('soft delete of IPAM objects: PUT deleted=true (CAS), then DELETE with a UID precondition', async () => {
    const key: BlockKey = { type: 'block', cidr: '10.60.0.0/26' };
    const block: AllocationBlock = { cidr: key.cidr, affinity: null, allocations: new Array(64).fill(null), unallocated: Array.from({ length: 64 }, (_, i) => i), attributes: [], sequenceNumber: 1n, sequenceNumberForAllocation: {}, deleted: false };
    const created = await ds.createKV(key, block);
    server.clearRequests();
    await ds.deleteKV(key, created.revision);
    const writes = server.requests.filter((r) => r.method !== 'GET');
    assert.deepEqual(writes.map((r) => r.method), ['PUT', 'DELETE']);
    const put = parseJson(writes[0].body) as Record<string, any>;
    assert.equal(put.spec.deleted, true);
    assert.equal(put.metadata.resourceVersion, created.revision);
    assert.deepEqual((JSON.parse(writes[1].body) as Record<string, any>).preconditions, { uid: created.uid });
    assert.equal(server.getRaw(`${V1}/ipamblocks/10-60-0-0-26`), undefined);
  });

  it('readers treat a soft-deleted leftover as absent and finish its deletion', async () => {
    server.putRaw({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPAMHandle', metadata: { name: 'leftover', uid: '6a1f1b8e-1111-4222-8333-444455556666' }, spec: { handleID: 'leftover', block: {}, deleted: true } });
    const key: HandleKey = { type: 'handle', handleId: 'leftover' };
    assert.ok(!(await ds.listKV({ type: 'handle' })).items.some((p) => p.key.handleId === 'leftover'));
    await rejects(ds.getKV(key), (e) => ResourceNotFoundError.isInstance(e), 'soft-deleted get');
    assert.equal(server.getRaw(`${V1}/ipamhandles/leftover`), undefined);
    // And a create over a leftover works.
    server.putRaw({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPAMHandle', metadata: { name: 'leftover', uid: '6a1f1b8e-1111-4222-8333-444455556667' }, spec: { handleID: 'leftover', block: {}, deleted: true } });
    await ds.createKV(key, { block: { '10.0.0.0/26': 1 }, deleted: false });
    assert.deepEqual((await ds.getKV(key)).value, { block: { '10.0.0.0/26': 1 }, deleted: false });
  });

  it('watch: bookmarks move the resume point; a closed or broken stream resumes without gaps or repeats', async () => {
    const listed = await ds.listKV({ type: 'resource', kind: 'IPPool' });
    const watch = ds.watchKV({ type: 'resource', kind: 'IPPool' }, { revision: listed.revision });
    const it = watch[Symbol.asyncIterator]();
    try {
      const a = await ds.createKV({ type: 'resource', kind: 'IPPool', name: 'w-a' }, pool('w-a', '10.70.0.0/16'));
      const [ea] = await take(it, 1);
      assert.equal(ea.type, 'added');
      assert.equal(ea.revision, a.revision);
      await new Promise((r) => setTimeout(r, 250)); // a bookmark or two
      const watchRequests = () => server.requests.filter((r) => r.query.watch === '1' && r.path === `${V1}/ippools`);
      assert.equal(watchRequests().at(-1)?.query.allowWatchBookmarks, 'true');
      server.closeWatches();
      const b = await ds.createKV({ type: 'resource', kind: 'IPPool', name: 'w-b' }, pool('w-b', '10.71.0.0/16'));
      server.closeWatches({ abrupt: true });
      await ds.deleteKV({ type: 'resource', kind: 'IPPool', name: 'w-a' });
      const events = await take(it, 2);
      assert.deepEqual(events.map((e) => `${e.type} ${(e.current ?? e.previous)!.key.type === 'resource' ? ((e.current ?? e.previous)!.key as ResourceKey).name : ''}`), ['added w-b', 'deleted w-a']);
      assert.equal(events[0].revision, b.revision);
      assert.equal((events[1].previous!.value.spec as { cidr: string }).cidr, '10.70.0.0/16');
      assert.ok(watchRequests().length >= 3, 'the watch was reopened');
      assert.ok(Number(watchRequests().at(-1)!.query.resourceVersion) > Number(listed.revision), 'resumed from a later revision');
    } finally {
      watch.stop();
    }
  });

  it('watch: an ERROR event with 410 Expired throws WatchTooOldError; another Status is translated', async () => {
    const listed = await ds.listKV({ type: 'handle' }).catch(() => undefined);
    void listed;
    const w1 = ds.watchKV({ type: 'block' });
    const it1 = w1[Symbol.asyncIterator]();
    await new Promise((r) => setTimeout(r, 100));
    server.sendWatchError();
    await rejects(it1.next(), (e) => WatchTooOldError.isInstance(e), 'ERROR 410');
    assert.deepEqual(await it1.next(), { value: undefined, done: true });
    const w2 = ds.watchKV({ type: 'block' });
    const it2 = w2[Symbol.asyncIterator]();
    await new Promise((r) => setTimeout(r, 100));
    server.sendWatchError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'internal error', reason: 'InternalError', code: 500 });
    await rejects(it2.next(), (e) => DatastoreUnavailableError.isInstance(e), 'ERROR 500');
  });

  it('watch: a soft delete is reported once, as a deletion with the last live value', async () => {
    const key: HandleKey = { type: 'handle', handleId: 'watched' };
    const listed = await ds.listKV({ type: 'block' });
    const created = await ds.createKV({ type: 'block', cidr: '10.80.0.0/26' }, { cidr: '10.80.0.0/26', affinity: 'host:x', allocations: new Array(64).fill(null), unallocated: [], attributes: [], sequenceNumber: 5n, sequenceNumberForAllocation: {}, deleted: false });
    void key;
    const watch = ds.watchKV({ type: 'block' }, { revision: listed.revision });
    const it = watch[Symbol.asyncIterator]();
    try {
      await ds.deleteKV({ type: 'block', cidr: '10.80.0.0/26' });
      const events = (await take(it, 2)) as WatchEvent<BlockKey>[];
      assert.deepEqual(events.map((e) => e.type), ['added', 'deleted']);
      assert.equal(events[1].previous!.revision, created.revision);
      assert.equal(events[1].previous!.value.deleted, false);
      const quiet = await Promise.race([it.next(), new Promise((r) => setTimeout(() => r('quiet'), 200))]);
      assert.equal(quiet, 'quiet', 'the final DELETED is not reported again');
    } finally {
      watch.stop();
    }
  });

  it('handles cannot be watched (as in Calico)', async () => {
    const watch = ds.watchKV({ type: 'handle' });
    await rejects(watch[Symbol.asyncIterator]().next(), (e) => OperationNotSupportedError.isInstance(e), 'handle watch');
  });

  it('Nodes: create/delete refused; update writes annotations through nodes/status and keeps Kubernetes labels', async () => {
    const created = await (await fetchJson(server, 'POST', '/api/v1/nodes', { metadata: { name: 'node-9', labels: { 'kubernetes.io/hostname': 'node-9' } } }));
    assert.equal(created.metadata.name, 'node-9');
    const key: ResourceKey = { type: 'resource', kind: 'Node', name: 'node-9' };
    await rejects(ds.createKV(key, { kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name: 'node-9' }, spec: {} }), (e) => OperationNotSupportedError.isInstance(e), 'node create');
    await rejects(ds.deleteKV(key), (e) => OperationNotSupportedError.isInstance(e), 'node delete');
    const pair = await ds.getKV(key);
    assert.deepEqual(pair.value.metadata.labels, { 'kubernetes.io/hostname': 'node-9' });
    const next = structuredClone(pair.value);
    next.metadata.labels = { ...next.metadata.labels, rack: 'r1' };
    next.spec = { ...(next.spec as object), bgp: { ipv4Address: '10.0.0.9/24', ipv4IPIPTunnelAddr: '192.168.9.1' } };
    server.clearRequests();
    const updated = await ds.updateKV(key, next, pair.revision);
    assert.ok(server.requests.some((r) => r.method === 'PUT' && r.path === '/api/v1/nodes/node-9/status'));
    const node = stored(server, '/api/v1/nodes/node-9');
    assert.deepEqual(node.metadata.labels, { 'kubernetes.io/hostname': 'node-9' });
    assert.equal(node.metadata.annotations['projectcalico.org/labels'], '{"rack":"r1"}');
    assert.equal(node.metadata.annotations['projectcalico.org/IPv4Address'], '10.0.0.9/24');
    assert.equal(node.metadata.annotations['projectcalico.org/IPv4IPIPTunnelAddr'], '192.168.9.1');
    assert.deepEqual(updated.value.metadata.labels, { 'kubernetes.io/hostname': 'node-9', rack: 'r1' });
    assert.deepEqual(updated.value.spec, { bgp: { ipv4Address: '10.0.0.9/24', ipv4IPIPTunnelAddr: '192.168.9.1' }, orchRefs: [{ nodeName: 'node-9', orchestrator: 'k8s' }], addresses: [{ address: '10.0.0.9/24', type: 'CalicoNodeIP' }] });
    await rejects(ds.updateKV(key, next, pair.revision), (e) => UpdateConflictError.isInstance(e), 'stale node update');
  });

  it('WorkloadEndpoints: the upstream pod vector, CNI-mode writes as a strategic merge patch of pods/status', async () => {
    const rv = server.putRaw({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'podA', namespace: 'default', uid: 'c5ff0b5c-1c4d-4c3e-9d3a-2f1b0a9e8d7c' }, spec: { nodeName: 'nodeA', serviceAccountName: 'default', containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }, { containerPort: 81 }] }] }, status: { podIP: '192.168.0.1' } });
    const key: ResourceKey = { type: 'resource', kind: 'WorkloadEndpoint', namespace: 'default', name: 'nodeA-k8s-podA-eth0' };
    const pair = await ds.getKV(key);
    assert.equal(pair.revision, rv);
    const spec = pair.value.spec as Record<string, unknown>;
    assert.deepEqual(spec.ipNetworks, ['192.168.0.1/32']);
    assert.equal(spec.interfaceName, 'cali7f94ce7c295');
    assert.deepEqual(spec.profiles, ['kns.default', 'ksa.default.default']);
    assert.deepEqual(spec.ports, [{ name: 'http', protocol: 'TCP', port: 80, hostPort: 0, hostIP: '' }]);
    assert.deepEqual(pair.value.metadata.labels, { 'projectcalico.org/namespace': 'default', 'projectcalico.org/orchestrator': 'k8s', 'projectcalico.org/serviceaccount': 'default' });
    const listed = await ds.listKV({ type: 'resource', kind: 'WorkloadEndpoint', namespace: 'default' });
    assert.deepEqual(listed.items.map((p) => p.key), [key]);

    server.clearRequests();
    const written = await ds.createKV(key, { ...pair.value, spec: { ...spec, ipNetworks: ['192.168.0.7/32'], containerID: 'abc123' } });
    const patch = server.requests.find((r) => r.method === 'PATCH');
    assert.equal(patch?.path, '/api/v1/namespaces/default/pods/podA/status');
    assert.equal(patch?.contentType, 'application/strategic-merge-patch+json');
    assert.deepEqual(JSON.parse(patch!.body), { metadata: { annotations: { 'cni.projectcalico.org/podIP': '192.168.0.7/32', 'cni.projectcalico.org/podIPs': '192.168.0.7/32', 'cni.projectcalico.org/containerID': 'abc123' }, uid: 'c5ff0b5c-1c4d-4c3e-9d3a-2f1b0a9e8d7c' } });
    assert.equal((written.value.spec as { containerID: string }).containerID, 'abc123');
    await ds.deleteKV(key);
    const pod = stored(server, '/api/v1/namespaces/default/pods/podA');
    assert.equal(pod.metadata.annotations['cni.projectcalico.org/podIP'], '');
    assert.equal(pod.metadata.annotations['cni.projectcalico.org/containerID'], 'abc123');
  });

  it('Profiles: synthetic default-allow, kns.<ns> and ksa.<ns>.<sa> derived from Namespaces and ServiceAccounts; read-only', async () => {
    await fetchJson(server, 'POST', '/api/v1/namespaces/default/serviceaccounts', { metadata: { name: 'builder', labels: { team: 'ci' } } });
    const listed = await ds.listKV({ type: 'resource', kind: 'Profile' });
    const names = listed.items.map((p) => p.key.name);
    for (const n of ['projectcalico-default-allow', 'kns.default', 'kns.kube-system', 'ksa.default.builder']) assert.ok(names.includes(n), n);
    assert.match(listed.revision, /^\d+\/\d+$/);
    const ksa = (await ds.getKV({ type: 'resource', kind: 'Profile', name: 'ksa.default.builder' })) as KVPair<ResourceKey>;
    assert.deepEqual(ksa.value.spec, { labelsToApply: { 'pcsa.team': 'ci', 'pcsa.projectcalico.org/name': 'builder' } });
    assert.match(ksa.revision, /^\/\d+$/);
    const kns = await ds.getKV({ type: 'resource', kind: 'Profile', name: 'kns.default' });
    assert.deepEqual((kns.value.spec as { labelsToApply: unknown }).labelsToApply, { 'pcns.kubernetes.io/metadata.name': 'default', 'pcns.projectcalico.org/name': 'default' });
    await rejects(ds.createKV({ type: 'resource', kind: 'Profile', name: 'x' }, { kind: 'Profile', apiVersion: 'projectcalico.org/v3', metadata: { name: 'x' }, spec: {} }), (e) => OperationNotSupportedError.isInstance(e), 'profile create');
  });
});

describe('kubernetes datastore: projectcalico.org/v3 CRD mode (discovery)', () => {
  it('uses plain v3 objects when only projectcalico.org is served', async () => {
    const server = await startKubeApiServer({ calicoGroups: ['projectcalico.org'], tls: false });
    const ds = createKubernetesDatastore({ kubeconfigText: server.kubeconfigText });
    try {
      assert.equal(await ds.apiGroup(), 'projectcalico.org/v3');
      await ds.createKV({ type: 'resource', kind: 'IPPool', name: 'p3' }, { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'p3', labels: { a: 'b' } }, spec: { cidr: '10.90.0.0/16' } });
      const cr = stored(server, '/apis/projectcalico.org/v3/ippools/p3');
      assert.equal(cr.apiVersion, 'projectcalico.org/v3');
      assert.deepEqual(cr.metadata.labels, { a: 'b' });
      assert.equal(cr.metadata.annotations, undefined);
      await ds.createKV({ type: 'blockAffinity', host: 'n', cidr: '10.90.0.0/26' }, { state: 'pending', deleted: false });
      assert.equal(stored(server, '/apis/projectcalico.org/v3/blockaffinities/n-10-90-0-0-26').spec.deleted, false);
      await ds.applyKV({ type: 'ipamConfig' }, { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 });
      assert.equal(stored(server, '/apis/projectcalico.org/v3/ipamconfigurations/default').kind, 'IPAMConfiguration');
    } finally {
      await ds.close();
      await server.stop();
    }
  });
});

async function fetchJson(server: KubeApiServer, method: string, path: string, body: unknown): Promise<Record<string, any>> {
  const { request } = await import('node:https');
  const ca = Buffer.from(/certificate-authority-data: (\S+)/.exec(server.kubeconfigText)![1], 'base64').toString();
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { method, ca, headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => (res.statusCode! < 300 ? resolve(JSON.parse(text)) : reject(new Error(`${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('kubernetes datastore: WorkloadEndpoint watch', () => {
  it('a pod that gets scheduled appears as added; its IP annotation change as modified', async () => {
    const server = await startKubeApiServer();
    const ds = createKubernetesDatastore({ kubeconfig: server.kubeconfigPath });
    const watch = ds.watchKV({ type: 'resource', kind: 'WorkloadEndpoint', namespace: 'default' });
    const it = watch[Symbol.asyncIterator]();
    try {
      await new Promise((r) => setTimeout(r, 100));
      server.putRaw({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default', uid: '0a0b0c0d-1111-4222-8333-444455556666' }, spec: { containers: [] } });
      server.putRaw({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default', uid: '0a0b0c0d-1111-4222-8333-444455556666' }, spec: { nodeName: 'node-1', containers: [] } });
      server.putRaw({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default', uid: '0a0b0c0d-1111-4222-8333-444455556666', annotations: { 'cni.projectcalico.org/podIP': '10.1.2.3/32' } }, spec: { nodeName: 'node-1', containers: [] } });
      const events = await take(it, 2);
      assert.deepEqual(events.map((e) => e.type), ['added', 'modified']);
      assert.equal((events[0].current!.key as ResourceKey).name, 'node--1-k8s-web-eth0');
      assert.deepEqual((events[1].current!.value.spec as { ipNetworks: string[] }).ipNetworks, ['10.1.2.3/32']);
      assert.equal((events[1].previous!.value.spec as { ipNetworks?: string[] }).ipNetworks, undefined);
    } finally {
      watch.stop();
      await ds.close();
      await server.stop();
    }
  });
});
