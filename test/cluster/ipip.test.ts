/**
 * IPIP where the kernel has it: detected in a throwaway namespace, never assumed. On a kernel
 * without the ipip module the suite is skipped and says why (creating an ipip device fails with
 * "Unknown device type"). With ipip: IPIP Always pool, Felix-owned IPIP routes (v3.34 layout,
 * no BIRD), pods ping across two hosts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IPPool } from '@libcalico-ts/api';
import type { Client } from '@libcalico-ts/client';
import { createNetns, deleteNetns, kernelSupportsIpip, openNetns } from '@libcalico-ts/dataplane';
import { Cluster, clusterUnavailableReason, waitUntil, type Pod } from '../../examples/cluster/src/cluster.js';

async function ipipSkipReason(): Promise<string | false> {
  const reason = clusterUnavailableReason();
  if (reason) return reason;
  const name = `lcts-ipip-probe-${process.pid}`;
  await createNetns(name);
  try {
    const session = await openNetns(name);
    try {
      return (await kernelSupportsIpip(session)) ? false : 'this kernel has no ipip support (creating an ipip device fails: module not available), so IPIP cannot be tested here';
    } finally {
      await session.close();
    }
  } finally {
    await deleteNetns(name, { ignoreMissing: true });
  }
}

const skip = await ipipSkipReason();

describe('cluster: IPIP Always (Felix-owned routes)', { skip, timeout: 300_000 }, () => {
  let cluster: Cluster;
  let client: Client;
  const pods: Record<string, Pod> = {};

  before(async () => {
    cluster = await Cluster.create({ id: `lci${process.pid % 100000}`, hosts: [{ name: 'node1', subnet: 'a' }, { name: 'node2', subnet: 'b' }] });
    client = await cluster.client();
    await client.ipPools.create({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'pool-ipip' }, spec: { cidr: '10.246.0.0/16', ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true } } as IPPool);
    for (const host of cluster.hosts) cluster.startAgent(host.name, { backend: 'none', args: ['--calico-version', 'v3.34'] });
    for (const host of cluster.hosts) {
      await waitUntil(async () => (await client.nodes.get(host.name).catch(() => undefined))?.spec.bgp?.ipv4IPIPTunnelAddr, 60_000, `${host.name} IPIP tunnel address`);
    }
    pods.node1 = await cluster.addPod('node1', 'ipip-pod-1', client);
    pods.node2 = await cluster.addPod('node2', 'ipip-pod-2', client);
  });

  after(async () => {
    await cluster?.destroy();
  });

  it('routes the remote block through tunl0 (onlink, proto 80) and pods ping', async () => {
    await waitUntil(async () => /dev tunl0 proto 80 onlink/.test(await cluster.routes('node1')), 30_000, 'IPIP route on node1');
    assert.ok(await cluster.ping(pods.node1!, pods.node2!.ip, 10));
  });
});
