// Node deletion at scale through the client (client.nodes.delete does Calico's IPAM clean-up),
// on memory and on REAL etcd.
//
// Size: CI-sized by default (inside `npm test`): 150 nodes x 10 addresses.
// LIBCALICO_RELIABILITY_FULL=1: 1,000 nodes x 10 addresses.
//
// Each node gets an IPIP tunnel address (in its Node spec), pod addresses with their
// WorkloadEndpoints, and every tenth node one address borrowed from its neighbour's block (so
// deleting the neighbour first leaves a non-empty, un-owned block, emptied later). Then every
// node is deleted, eight at a time, in a seeded random order. Afterwards the datastore must hold
// no block, no handle, no affinity, no endpoint and no node.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkloadEndpoint } from '@libcalico-ts/api';
import { createClient, type Client } from '@libcalico-ts/client';
import { createMemoryDatastore, type Datastore } from '@libcalico-ts/datastore';
import { FULL, bareIP, mapLimit, rng, shuffled, sized, startEtcdFixture, type EtcdFixture } from '../helpers/reliability.js';

const NODES = sized(150, 1_000);
const PER_NODE = 10;

let etcd: EtcdFixture | undefined;
before(async () => {
  etcd = await startEtcdFixture();
});
after(async () => {
  await etcd?.stop();
});

function wep(node: string, pod: string, ip: string): WorkloadEndpoint {
  return {
    kind: 'WorkloadEndpoint',
    apiVersion: 'projectcalico.org/v3',
    metadata: { namespace: 'default' },
    spec: { orchestrator: 'k8s', node, pod, endpoint: 'eth0', interfaceName: `cali${pod.replace(/[^a-z0-9]/g, '').slice(-11)}`, ipNetworks: [`${ip}/32`] },
  } as WorkloadEndpoint;
}

async function populate(client: Client): Promise<{ addresses: number }> {
  await client.ipPools.create({
    kind: 'IPPool',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'scale' },
    spec: { cidr: '10.160.0.0/16', blockSize: 28, ipipMode: 'Always', natOutgoing: true, nodeSelector: 'all()' },
  } as never);
  const names = Array.from({ length: NODES }, (_, i) => `scale-${String(i).padStart(4, '0')}`);
  let addresses = 0;
  await mapLimit(names, 8, async (name) => {
    await client.nodes.create({ kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name }, spec: { bgp: { ipv4Address: '192.168.0.1/24' } } } as never);
  });
  await mapLimit(names, 8, async (name) => {
    const tunnel = await client.ipam.autoAssign({ num4: 1, hostname: name, intendedUse: 'Tunnel', handleId: `ipip-tunnel-addr-${name}`, attrs: { node: name, type: 'ipipTunnelAddress' } });
    const node = await client.nodes.get(name);
    await client.nodes.update({ ...node, spec: { ...node.spec, bgp: { ...node.spec!.bgp!, ipv4IPIPTunnelAddr: bareIP(tunnel.ipv4!.ips[0]!) } } });
    addresses++;
    for (let p = 1; p < PER_NODE; p++) {
      const pod = `${name}-p${p}`;
      const out = await client.ipam.autoAssign({ num4: 1, hostname: name, intendedUse: 'Workload', handleId: `k8s-pod-network.${pod}`, attrs: { node: name, namespace: 'default', pod } });
      await client.workloadEndpoints.create(wep(name, pod, bareIP(out.ipv4!.ips[0]!)));
      addresses++;
    }
  });
  // Every tenth node (after the first) borrows one address from its neighbour's block.
  for (let i = 10; i < NODES; i += 10) {
    const name = names[i]!;
    const neighbour = names[i - 1]!;
    const block = (await client.datastore.listKV({ type: 'blockAffinity', host: neighbour })).items[0]!.key.cidr;
    const base = block.split('/')[0]!.split('.').map(Number);
    const ip = `${base[0]}.${base[1]}.${base[2]}.${base[3]! + 15}`;
    const pod = `${name}-borrowed`;
    await client.ipam.assignIP({ ip, hostname: name, handleId: `k8s-pod-network.${pod}`, attrs: { node: name, namespace: 'default', pod } });
    await client.workloadEndpoints.create(wep(name, pod, ip));
    addresses++;
  }
  return { addresses };
}

async function counts(ds: Datastore): Promise<Record<string, number>> {
  return {
    blocks: (await ds.listKV({ type: 'block' })).items.filter((b) => !b.value.deleted).length,
    handles: (await ds.listKV({ type: 'handle' })).items.filter((h) => !h.value.deleted).length,
    affinities: (await ds.listKV({ type: 'blockAffinity' })).items.filter((a) => !a.value.deleted).length,
    workloadEndpoints: (await ds.listKV({ type: 'resource', kind: 'WorkloadEndpoint' })).items.length,
    nodes: (await ds.listKV({ type: 'resource', kind: 'Node' })).items.length,
  };
}

const backends: { name: string; datastore(): Promise<Datastore> }[] = [
  { name: 'memory', datastore: async () => createMemoryDatastore() },
  {
    name: 'etcd',
    async datastore() {
      await etcd!.wipe();
      return etcd!.connect();
    },
  },
];

for (const backend of backends) {
  describe(`node deletion at scale on ${backend.name}${FULL ? ' (full size)' : ''}`, () => {
    test(`${NODES} nodes x ${PER_NODE} addresses, every node deleted: all addresses, handles and affinities released`, async (t) => {
      const ds = await backend.datastore();
      const client = createClient({ datastore: ds });
      try {
        const { addresses } = await populate(client);
        const before = await counts(ds);
        t.diagnostic(`populated: ${addresses} addresses, ${JSON.stringify(before)}`);
        assert.equal(before.nodes, NODES);
        assert.equal(before.affinities, NODES, 'one block per node');
        assert.equal(before.handles, addresses, 'one handle per address');
        const report = await client.ipam.check();
        assert.equal(report.problemCount, 0, `healthy before deletion: ${JSON.stringify(report.leakedIPs.slice(0, 3))}`);
        assert.equal(report.allocations.length, addresses);
        assert.ok(report.allocations.filter((a) => a.borrowed).length >= Math.floor((NODES - 1) / 10), 'borrowed addresses present');

        const order = shuffled(
          (await client.nodes.list()).items.map((n) => n.metadata.name!),
          rng(2024),
        );
        const started = Date.now();
        await mapLimit(order, 8, async (name) => {
          await client.nodes.delete(name);
        });
        t.diagnostic(`deleted ${order.length} nodes in ${Date.now() - started} ms`);
        const afterCounts = await counts(ds);
        assert.deepEqual(afterCounts, { blocks: 0, handles: 0, affinities: 0, workloadEndpoints: 0, nodes: 0 });
        const final = await client.ipam.check();
        assert.equal(final.allocations.length, 0);
        assert.equal(final.problemCount, 0);
      } finally {
        await client.close();
      }
    });
  });
}
