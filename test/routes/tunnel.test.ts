/**
 * Tunnel addresses through the real IPAM engine on the memory datastore, and the whole chain
 * client -> snapshotFromClient -> computeRoutes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IPPool, Node } from '@libcalico-ts/api';
import { createMemoryDatastore } from '@libcalico-ts/datastore';
import { createIPAM } from '@libcalico-ts/ipam';
import { createClient } from '@libcalico-ts/client';
import { parseSelector } from '@libcalico-ts/selector';
import {
  computeRoutes,
  ensureTunnelAddresses,
  formatIpRoute,
  hostLocalTunnelAddress,
  snapshotFromClient,
  tunnelAddressPlan,
  tunnelHandleId,
  vtepMAC,
  type SnapshotSource,
} from '@libcalico-ts/routes';

function pool(name: string, cidr: string, spec: Partial<IPPool['spec']> = {}): IPPool {
  const v6 = cidr.includes(':');
  return {
    kind: 'IPPool',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name },
    spec: { cidr, blockSize: v6 ? 122 : 26, ipipMode: 'Never', vxlanMode: 'Never', nodeSelector: 'all()', allowedUses: ['Workload', 'Tunnel'], ...spec },
  };
}
function node(name: string, ipv4: string, labels: Record<string, string> = {}): Node {
  return { kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name, labels }, spec: { bgp: { ipv4Address: ipv4 } }, status: {} };
}

async function setup(pools: IPPool[], nodes: Node[]) {
  const datastore = createMemoryDatastore();
  for (const p of pools) await datastore.createKV({ type: 'resource', kind: 'IPPool', name: p.metadata.name! }, p);
  for (const n of nodes) await datastore.createKV({ type: 'resource', kind: 'Node', name: n.metadata.name! }, n);
  const ipam = createIPAM(datastore, { maxRetryJitterMs: 0 });
  return { datastore, ipam };
}

describe('tunnel addresses through IPAM (memory datastore)', () => {
  it('IPIP: ordinal 0 of the node\'s first block, upstream handle and attributes; idempotent', async () => {
    const pools = [pool('p4', '10.244.0.0/16', { ipipMode: 'Always' })];
    const nodeA = node('node-a', '192.168.3.125/24');
    const { ipam, datastore } = await setup(pools, [nodeA]);
    const first = await ensureTunnelAddresses(ipam, nodeA, pools);
    assert.equal(first.changed, true);
    const ipip = first.results.find((r) => r.type === 'ipipTunnelAddress')!;
    assert.equal(ipip.action, 'assigned');
    assert.equal(ipip.handleId, 'ipip-tunnel-addr-node-a');
    const address = first.node.spec!.bgp!.ipv4IPIPTunnelAddr!;
    assert.equal(ipip.address, address);
    assert.match(address, /^10\.244\.\d+\.(0|64|128|192)$/, 'ordinal 0 of a /26');
    assert.equal(first.node.spec!.bgp!.ipv4Address, '192.168.3.125/24', 'other fields kept');
    assert.equal(nodeA.spec!.bgp!.ipv4IPIPTunnelAddr, undefined, 'input node not mutated');
    const attrs = await ipam.getAssignmentAttributes(address);
    assert.equal(attrs.handleId, 'ipip-tunnel-addr-node-a');
    assert.deepEqual(attrs.attrs, { node: 'node-a', type: 'ipipTunnelAddress' });
    assert.deepEqual(await ipam.ipsByHandle('ipip-tunnel-addr-node-a'), [address]);
    const affinities = await datastore.listKV({ type: 'blockAffinity', host: 'node-a' });
    assert.deepEqual(affinities.items.map((a) => a.key.cidr), [`${address}/26`]);
    // VXLAN is not enabled by any pool: nothing for it.
    assert.equal(first.results.find((r) => r.type === 'vxlanTunnelAddress')!.action, 'none');

    const again = await ensureTunnelAddresses(ipam, first.node, pools);
    assert.equal(again.changed, false);
    assert.equal(again.results.find((r) => r.type === 'ipipTunnelAddress')!.action, 'kept');
    assert.deepEqual(await ipam.ipsByHandle('ipip-tunnel-addr-node-a'), [address]);
  });

  it('pool switched from IPIP to VXLAN: IPIP address released and cleared, VXLAN address assigned with the derived VTEP MAC', async () => {
    const ipipPools = [pool('p4', '10.244.0.0/16', { ipipMode: 'Always' })];
    const nodeA = node('node-a', '192.168.3.125/24');
    const { ipam } = await setup(ipipPools, [nodeA]);
    const withIPIP = await ensureTunnelAddresses(ipam, nodeA, ipipPools);
    const old = withIPIP.node.spec!.bgp!.ipv4IPIPTunnelAddr!;
    const vxlanPools = [pool('p4', '10.244.0.0/16', { vxlanMode: 'Always' })];
    const result = await ensureTunnelAddresses(ipam, withIPIP.node, vxlanPools);
    const ipip = result.results.find((r) => r.type === 'ipipTunnelAddress')!;
    assert.equal(ipip.action, 'released');
    assert.equal(ipip.previous, old);
    assert.equal(result.node.spec!.bgp!.ipv4IPIPTunnelAddr, undefined);
    await assert.rejects(ipam.ipsByHandle('ipip-tunnel-addr-node-a'), { name: 'ResourceNotFoundError' });
    const vxlan = result.results.find((r) => r.type === 'vxlanTunnelAddress')!;
    assert.equal(vxlan.action, 'assigned');
    assert.equal(result.node.spec!.ipv4VXLANTunnelAddr, vxlan.address);
    assert.equal(vxlan.vtepMAC, vtepMAC('node-a'));
    assert.equal(vxlan.vtepMAC, '66:07:02:c1:cc:60');
    assert.deepEqual((await ipam.getAssignmentAttributes(vxlan.address!)).attrs, { node: 'node-a', type: 'vxlanTunnelAddress' });
  });

  it('re-assigns an address that is not allocated, and leaves someone else\'s address alone', async () => {
    const pools = [pool('p4', '10.244.0.0/16', { vxlanMode: 'Always' })];
    const { ipam } = await setup(pools, [node('node-a', '192.168.3.125/24')]);
    const stale: Node = { ...node('node-a', '192.168.3.125/24'), spec: { bgp: { ipv4Address: '192.168.3.125/24' }, ipv4VXLANTunnelAddr: '10.244.7.7' } };
    const r1 = await ensureTunnelAddresses(ipam, stale, pools);
    const v1 = r1.results.find((r) => r.type === 'vxlanTunnelAddress')!;
    assert.equal(v1.action, 'reassigned');
    assert.equal(v1.previous, '10.244.7.7');
    assert.notEqual(v1.address, '10.244.7.7');

    // An address owned by a pod: keep the pod's allocation, get a new tunnel address.
    await ipam.assignIP({ ip: '10.244.9.9', handleId: 'k8s-pod-network.abc', attrs: { node: 'node-a', pod: 'p' }, hostname: 'node-a' });
    const taken: Node = { ...r1.node, spec: { ...r1.node.spec, ipv4VXLANTunnelAddr: '10.244.9.9' } };
    const r2 = await ensureTunnelAddresses(ipam, taken, pools);
    const v2 = r2.results.find((r) => r.type === 'vxlanTunnelAddress')!;
    assert.equal(v2.action, 'reassigned');
    assert.notEqual(v2.address, '10.244.9.9');
    assert.equal((await ipam.getAssignmentAttributes('10.244.9.9')).handleId, 'k8s-pod-network.abc');
    assert.deepEqual(await ipam.ipsByHandle('vxlan-tunnel-addr-node-a'), [v2.address]);
  });

  it('IPv6 VXLAN uses vxlan-v6-tunnel-addr-<node> and the -v6 MAC', async () => {
    const pools = [pool('p6', 'fd00:10:244::/48', { vxlanMode: 'CrossSubnet' })];
    const { ipam } = await setup(pools, [node('node-a', '192.168.3.125/24')]);
    const r = await ensureTunnelAddresses(ipam, node('node-a', '192.168.3.125/24'), pools);
    const v6 = r.results.find((x) => x.type === 'vxlanV6TunnelAddress')!;
    assert.equal(v6.action, 'assigned');
    assert.equal(v6.handleId, tunnelHandleId('vxlanV6TunnelAddress', 'node-a'));
    assert.equal(v6.handleId, 'vxlan-v6-tunnel-addr-node-a');
    assert.equal(r.node.spec!.ipv6VXLANTunnelAddr, v6.address);
    assert.equal(v6.vtepMAC, '66:d4:d5:51:3d:42');
  });

  it('pool eligibility: Tunnel use, disabled, node selectors (needs a matcher)', async () => {
    const nodeA = node('node-a', '192.168.3.125/24', { zone: 'a' });
    const pools = [
      pool('workload-only', '10.1.0.0/16', { ipipMode: 'Always', allowedUses: ['Workload'] }),
      pool('disabled', '10.2.0.0/16', { ipipMode: 'Always', disabled: true }),
      pool('zone-b', '10.3.0.0/16', { ipipMode: 'Always', nodeSelector: "zone == 'b'" }),
      pool('zone-a', '10.4.0.0/16', { ipipMode: 'Always', nodeSelector: "zone == 'a'" }),
    ];
    assert.throws(() => tunnelAddressPlan(nodeA, pools), (e: unknown) => {
      assert.equal((e as Error).name, 'ValidationError');
      assert.equal((e as { fields: { name: string }[] }).fields[0]!.name, 'pools[2].spec.nodeSelector');
      return true;
    });
    const selectsNode = (s: string, labels: Readonly<Record<string, string>>) => parseSelector(s).matches(labels);
    const plan = tunnelAddressPlan(nodeA, pools, { selectsNode });
    assert.deepEqual(plan.find((p) => p.type === 'ipipTunnelAddress')!.pools, ['10.4.0.0/16']);
    const { ipam } = await setup(pools, [nodeA]);
    const r = await ensureTunnelAddresses(ipam, nodeA, pools, { selectsNode });
    assert.match(r.node.spec!.bgp!.ipv4IPIPTunnelAddr!, /^10\.4\./);
  });

  it('bad input: malformed pool CIDR, missing node name, non-IPAM object, unparsable current address', async () => {
    const { ipam } = await setup([], []);
    await assert.rejects(ensureTunnelAddresses(ipam, node('n', '1.2.3.4/24'), [pool('bad', '10.0.0.0/33')]), { name: 'ValidationError' });
    await assert.rejects(ensureTunnelAddresses(ipam, { ...node('n', '1.2.3.4/24'), metadata: {} }, []), { name: 'ValidationError' });
    await assert.rejects(ensureTunnelAddresses({} as never, node('n', '1.2.3.4/24'), []), { name: 'ValidationError' });
    const pools = [pool('p4', '10.244.0.0/16', { ipipMode: 'Always' })];
    const bad: Node = { ...node('n', '1.2.3.4/24'), spec: { bgp: { ipv4Address: '1.2.3.4/24', ipv4IPIPTunnelAddr: 'not-an-ip' } } };
    await assert.rejects(ensureTunnelAddresses(ipam, bad, pools), { name: 'ValidationError' });
    assert.equal(hostLocalTunnelAddress('10.244.1.0/24'), '10.244.1.1');
    assert.throws(() => hostLocalTunnelAddress('10.244.1.0/32'), { name: 'ValidationError' });
  });
});

describe('client -> snapshotFromClient -> computeRoutes', () => {
  it('VXLAN routes use the tunnel addresses IPAM gave each node; borrowed address routed to the borrower', async () => {
    const datastore = createMemoryDatastore();
    const client = createClient({ datastore, ipam: { maxRetryJitterMs: 0 } });
    const source: SnapshotSource = client; // the real Client fits the structural type
    const vxlanPool = pool('default-ipv4-ippool', '10.244.0.0/16', { vxlanMode: 'CrossSubnet', blockSize: 26 });
    await client.ipPools.create(vxlanPool);
    const nodes = [node('node-a', '192.168.3.125/24'), node('node-b', '192.168.3.126/24'), node('node-c', '192.168.4.10/24')];
    for (const n of nodes) {
      await client.nodes.create(n);
      const current = await client.nodes.get(n.metadata.name!);
      const { node: updated } = await ensureTunnelAddresses(client.ipam, current, [vxlanPool]);
      await client.nodes.update(updated);
    }
    // One pod on node-a; node-c borrows from node-a's block (its own affine block limit is 0 after the tunnel block).
    const pod = await client.ipam.autoAssign({ num4: 1, handleId: 'k8s-pod-network.pod1', attrs: { node: 'node-a' }, hostname: 'node-a', intendedUse: 'Workload' });
    const podIP = pod.ipv4!.ips[0]!.split('/')[0]!;
    const aBlock = (await datastore.listKV({ type: 'blockAffinity', host: 'node-a' })).items[0]!.key.cidr;
    const borrowedIP = aBlock.replace(/\d+\/26$/, (m) => String(Number(m.split('/')[0]) + 9));
    await client.ipam.assignIP({ ip: borrowedIP, handleId: 'k8s-pod-network.pod2', attrs: { node: 'node-c' }, hostname: 'node-c' });
    await client.workloadEndpoints.create({
      kind: 'WorkloadEndpoint',
      apiVersion: 'projectcalico.org/v3',
      metadata: { name: 'node--a-k8s-pod1-eth0', namespace: 'default' },
      spec: { orchestrator: 'k8s', node: 'node-a', pod: 'pod1', endpoint: 'eth0', interfaceName: 'cali573926084b2', ipNetworks: [`${podIP}/32`] },
    });

    const snapshot = await snapshotFromClient(source, { workloadsOfNode: 'node-a' });
    const table = computeRoutes('node-a', snapshot, { parentDevice: 'eth0' });
    const byNode = new Map((await client.nodes.list()).items.map((n) => [n.metadata.name!, n]));
    const tunnelOf = (name: string) => byNode.get(name)!.spec!.ipv4VXLANTunnelAddr!;
    const blockOf = async (name: string) => (await datastore.listKV({ type: 'blockAffinity', host: name })).items[0]!.key.cidr;
    const expected = [
      `blackhole ${aBlock} proto 80`,
      `${podIP} dev cali573926084b2 scope link`,
      `${await blockOf('node-b')} via 192.168.3.126 dev eth0 proto 80 onlink`,
      `${await blockOf('node-c')} via ${tunnelOf('node-c')} dev vxlan.calico onlink`,
      `${borrowedIP} via ${tunnelOf('node-c')} dev vxlan.calico onlink`,
    ];
    assert.deepEqual(table.routes.map(formatIpRoute).sort(), expected.sort());
    assert.deepEqual(table.warnings, []);
    assert.deepEqual(
      table.neighbors.map((n) => [n.node, n.address, n.mac]),
      [
        ['node-b', tunnelOf('node-b'), vtepMAC('node-b')],
        ['node-c', tunnelOf('node-c'), vtepMAC('node-c')],
      ],
    );
    await client.close();
  });
});
