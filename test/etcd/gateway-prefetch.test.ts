/**
 * The gateway datastore's batched first reads (`prefetching`, used by the CNI plugin) against a
 * real etcd: they answer exactly as the plain reads would, once each, in one request.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DatastoreUnavailableError, ResourceNotFoundError, type V3Object } from '@libcalico-ts/api';
import type { Datastore, ResourceKey } from '@libcalico-ts/datastore';
import { createEtcdGatewayDatastore, gatewayRequestCount, prefetching } from '@libcalico-ts/datastore-etcd/gateway';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { seedCluster } from '../cni/harness.js';

describe('etcd gateway datastore: prefetching', () => {
  let etcd: EtcdServer;
  let ds: Datastore;
  const node: ResourceKey = { type: 'resource', kind: 'Node', name: 'gw-node' };

  before(async () => {
    etcd = await startEtcd();
    ds = createEtcdGatewayDatastore({ endpoints: etcd.endpoints });
    await seedCluster(ds, { node: 'gw-node', pools: [{ name: 'p1', cidr: '10.1.0.0/16' }, { name: 'p2', cidr: '10.2.0.0/16' }] });
  });
  after(async () => {
    await ds?.close();
    await etcd?.stop();
  });

  it('answers the listed reads from one request, as the plain reads do, then reads afresh', async () => {
    const missing: ResourceKey = { type: 'resource', kind: 'Node', name: 'no-such-node' };
    const plainNode = await ds.getKV(node);
    const plainPools = await ds.listKV({ type: 'resource', kind: 'IPPool' });
    const before = gatewayRequestCount();
    const view = prefetching(ds, [{ key: node }, { key: missing }, { list: { type: 'resource', kind: 'IPPool' } }, { list: { type: 'ipamConfig' } }]);
    const [got, pools, none, config] = await Promise.all([
      view.getKV(node),
      view.listKV({ type: 'resource', kind: 'IPPool' }),
      view.getKV(missing).then(
        () => 'found',
        (e: unknown) => (ResourceNotFoundError.isInstance(e) ? 'not found' : String(e)),
      ),
      view.listKV({ type: 'ipamConfig' }),
    ]);
    assert.equal(gatewayRequestCount() - before, 1, 'one request for all four reads');
    assert.deepEqual(got, plainNode);
    assert.deepEqual(pools.items, plainPools.items);
    assert.equal(pools.revision, config.revision, 'all answers come from one revision');
    assert.equal(none, 'not found');
    assert.deepEqual(config.items, []);
    // Each answer is used once: a second read goes to etcd and sees a change made meanwhile.
    const updated = { ...(got.value as V3Object), spec: { bgp: { ipv4Address: '192.0.2.1/24' } } } as V3Object;
    await ds.updateKV(node, updated, got.revision);
    const again = await view.getKV(node);
    assert.deepEqual((again.value as V3Object).spec, { bgp: { ipv4Address: '192.0.2.1/24' } });
    assert.equal(gatewayRequestCount() - before, 3);
    // Writes and unlisted reads pass through.
    assert.equal((await view.getKV({ type: 'resource', kind: 'ClusterInformation', name: 'default' })).key.name, 'default');
  });

  it('falls back to plain reads when the batch fails', async () => {
    const dead = createEtcdGatewayDatastore({ endpoints: ['http://127.0.0.1:1'], requestTimeoutMs: 500 });
    const view = prefetching(dead, [{ key: node }]);
    await assert.rejects(view.getKV(node), (e: unknown) => DatastoreUnavailableError.isInstance(e) && (e as DatastoreUnavailableError).isRetryable);
    await dead.close();
  });
});
