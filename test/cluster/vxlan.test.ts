/**
 * Three hosts in network namespaces (node1, node2 on 192.168.10.0/24, node3 on 192.168.20.0/24
 * behind the fabric router), one real etcd in the fabric namespace, one calico-agent per host
 * (run inside the host namespace), pods wired by the CNI plugin (or the SDK when the plugin is
 * not built). VXLAN Always, then CrossSubnet; then reliability: agent restart without route
 * flaps, SIGKILL + changes while down, a real etcd restart, and node deletion. Needs root.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ResourceNotFoundError, type IPPool } from '@libcalico-ts/api';
import type { Client } from '@libcalico-ts/client';
import { Cluster, clusterUnavailableReason, waitUntil, type Pod } from '../../examples/cluster/src/cluster.js';
import { runAgentCommand } from './helpers.js';

const skip = clusterUnavailableReason() ?? false;

function pool(vxlanMode: 'Always' | 'CrossSubnet'): IPPool {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: 'pool-vxlan' },
    spec: { cidr: '10.244.0.0/16', vxlanMode, ipipMode: 'Never', natOutgoing: true, blockSize: 26 },
  } as IPPool;
}

describe('cluster: VXLAN across three hosts on two subnets', { skip, timeout: 600_000 }, () => {
  let cluster: Cluster;
  let client: Client;
  const pods: Record<string, Pod> = {};
  const tunnel: Record<string, string> = {};
  const block: Record<string, string> = {};

  /** The /26 that holds `ip`. */
  const blockOf = (ip: string) => {
    const parts = ip.split('.').map(Number);
    return `${parts[0]}.${parts[1]}.${parts[2]}.${parts[3]! & 0xc0}/26`;
  };

  const setMode = async (mode: 'Always' | 'CrossSubnet') => {
    const current = await client.ipPools.get('pool-vxlan');
    await client.ipPools.update({ ...current, spec: { ...current.spec, vxlanMode: mode } });
  };

  const expectRoute = (host: string, pattern: RegExp, what: string) =>
    waitUntil(async () => pattern.test(await cluster.routes(host)), 30_000, `${host}: ${what}`).catch(async (error) => {
      throw new Error(`${(error as Error).message}\n--- routes ---\n${await cluster.routes(host)}\n--- agent ---\n${cluster.logs(`agent:${host}`).slice(-30).join('\n')}`);
    });

  before(async () => {
    cluster = await Cluster.create({
      id: `lcv${process.pid % 100000}`,
      hosts: [
        { name: 'node1', subnet: 'a' },
        { name: 'node2', subnet: 'a' },
        { name: 'node3', subnet: 'b' },
      ],
    });
    client = await cluster.client();
    await client.ipPools.create(pool('Always'));
    for (const host of cluster.hosts) cluster.startAgent(host.name, { backend: 'vxlan' });
    for (const host of cluster.hosts) {
      const node = await waitUntil(async () => {
        const n = await client.nodes.get(host.name).catch(() => undefined);
        return n?.spec.ipv4VXLANTunnelAddr ? n : undefined;
      }, 60_000, `${host.name} to register and get a VXLAN tunnel address (${cluster.logs(`agent:${host.name}`).slice(-5).join(' | ')})`);
      tunnel[host.name] = node.spec.ipv4VXLANTunnelAddr!;
      block[host.name] = blockOf(tunnel[host.name]!);
    }
    for (const [i, host] of cluster.hosts.entries()) pods[host.name] = await cluster.addPod(host.name, `pod-${i + 1}`, client);
  });

  after(async () => {
    await cluster?.destroy();
  });

  it('allocates each tunnel address through IPAM with the upstream handle and attributes', async () => {
    for (const host of cluster.hosts) {
      const attrs = await client.ipam.getAssignmentAttributes(tunnel[host.name]!);
      assert.equal(attrs.handleId, `vxlan-tunnel-addr-${host.name}`);
      assert.deepEqual({ node: attrs.attrs.node, type: attrs.attrs.type }, { node: host.name, type: 'vxlanTunnelAddress' });
    }
    // Ordinal 0 of the node's first block (reference §7.2).
    for (const host of cluster.hosts) assert.equal(tunnel[host.name], block[host.name]!.split('/')[0]);
  });

  it('VXLAN Always: every host routes the others\' blocks through vxlan.calico and pods ping across hosts', async () => {
    for (const host of cluster.hosts) {
      for (const other of cluster.hosts) {
        if (other === host) continue;
        const dst = block[other.name]!.replace(/\./g, '\\.');
        const gw = tunnel[other.name]!.replace(/\./g, '\\.');
        await expectRoute(host.name, new RegExp(`^${dst} via ${gw} dev vxlan\\.calico onlink`, 'm'), `route to ${other.name}'s block over VXLAN`);
      }
      await expectRoute(host.name, new RegExp(`^blackhole ${block[host.name]!.replace(/\./g, '\\.')} proto 80`, 'm'), 'own block blackhole');
      // The pod route written by the CNI plugin / dataplane stays (proto boot, via the cali veth).
      await expectRoute(host.name, new RegExp(`^${pods[host.name]!.ip.replace(/\./g, '\\.')} dev ${pods[host.name]!.hostInterface} scope link`, 'm'), 'local pod route');
    }
    const neigh = await cluster.exec(cluster.host('node1').netns, 'ip', 'neigh', 'show', 'dev', 'vxlan.calico');
    assert.match(neigh, new RegExp(`${tunnel.node2!.replace(/\./g, '\\.')} lladdr 66:[0-9a-f:]+ PERMANENT`));
    const fdb = await cluster.exec(cluster.host('node1').netns, 'bridge', 'fdb', 'show', 'dev', 'vxlan.calico');
    assert.match(fdb, /dst 192\.168\.20\.3 self permanent/);
    for (const [from, to] of [['node1', 'node2'], ['node1', 'node3'], ['node3', 'node2'], ['node2', 'node1']] as const) {
      assert.ok(await cluster.ping(pods[from]!, pods[to]!.ip, 10), `ping ${from} pod -> ${to} pod (${pods[to]!.ip})`);
    }
  });

  it('`calico-agent routes` prints what the running agent programmed', async () => {
    const printed = await runAgentCommand(cluster, 'node1', ['routes', '--node', 'node1', '--backend', 'vxlan']);
    assert.equal(printed.code, 0, printed.stderr);
    const kernel = (await cluster.routes('node1')).split('\n').map((l) => l.trim());
    const lines = printed.stdout.trim().split('\n');
    assert.ok(lines.length >= 4, printed.stdout);
    for (const line of lines) assert.ok(kernel.includes(line), `computed "${line}" is in the kernel table:\n${kernel.join('\n')}`);
  });

  it('VXLAN CrossSubnet: same-subnet peers go direct over eth0, the other subnet through VXLAN; pods still ping', async () => {
    await setMode('CrossSubnet');
    await expectRoute('node1', new RegExp(`^${block.node2!.replace(/\./g, '\\.')} via 192\\.168\\.10\\.2 dev eth0 proto 80 onlink`, 'm'), 'same-subnet route to node2');
    await expectRoute('node1', new RegExp(`^${block.node3!.replace(/\./g, '\\.')} via ${tunnel.node3!.replace(/\./g, '\\.')} dev vxlan\\.calico onlink`, 'm'), 'VXLAN route to node3');
    await expectRoute('node3', new RegExp(`^${block.node1!.replace(/\./g, '\\.')} via ${tunnel.node1!.replace(/\./g, '\\.')} dev vxlan\\.calico onlink`, 'm'), 'VXLAN route from node3');
    for (const [from, to] of [['node1', 'node2'], ['node2', 'node1'], ['node1', 'node3'], ['node3', 'node1']] as const) {
      assert.ok(await cluster.ping(pods[from]!, pods[to]!.ip, 10), `ping ${from} pod -> ${to} pod`);
    }
  });

  it('serves /healthz and Prometheus /metrics with IPAM and route gauges', async () => {
    const health = await waitUntil(async () => {
      const r = await cluster.agentHttp('node1', '/healthz');
      return r.status === 200 ? r : undefined;
    }, 20_000, 'healthz 200');
    assert.match(health.body, /"syncStatus":"in-sync"/);
    const metrics = (await cluster.agentHttp('node1', '/metrics')).body;
    assert.match(metrics, /^ipam_ippool_size\{ippool="pool-vxlan"\} 65536$/m);
    assert.match(metrics, /^ipam_blocks\{ippool="pool-vxlan",node="node1"\} 1$/m);
    // Tunnel address + pod on each node.
    assert.match(metrics, /^ipam_allocations_in_use\{ippool="pool-vxlan",node="node2"\} 2$/m);
    assert.match(metrics, /^calico_agent_sync_status\{status="in-sync"\} 1$/m);
    const programmed = Number(/^calico_agent_routes_programmed (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(programmed >= 4, `routes programmed: ${programmed}`);
  });

  it('restarting an agent (SIGTERM, exit 0) does not delete or re-add unchanged routes', async () => {
    const host = cluster.host('node1');
    const before = await cluster.routes('node1');
    const monitor = spawn('ip', ['-n', host.netns, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let events = '';
    monitor.stdout.on('data', (d: Buffer) => (events += d.toString()));
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await cluster.stopAgent('node1', 'SIGTERM'), 0, 'clean exit on SIGTERM');
      assert.equal(await cluster.routes('node1'), before, 'routes left in place while the agent is down');
      cluster.startAgent('node1', { backend: 'vxlan' });
      await waitUntil(async () => (await cluster.agentHttp('node1', '/healthz').catch(() => ({ status: 0 }))).status === 200, 60_000, 'restarted agent healthy');
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      monitor.kill();
    }
    assert.equal(events.trim(), '', `no route changes during the restart, saw:\n${events}`);
    assert.equal(await cluster.routes('node1'), before);
  });

  it('a SIGKILLed agent reconciles what changed while it was down when it starts again', async () => {
    assert.equal(await cluster.stopAgent('node1', 'SIGKILL'), 'SIGKILL');
    await setMode('Always'); // node1's route to node2 must move back to vxlan.calico
    await new Promise((r) => setTimeout(r, 500));
    assert.match(await cluster.routes('node1'), /via 192\.168\.10\.2 dev eth0 proto 80 onlink/, 'nothing changes while the agent is dead');
    cluster.startAgent('node1', { backend: 'vxlan' });
    await expectRoute('node1', new RegExp(`^${block.node2!.replace(/\./g, '\\.')} via ${tunnel.node2!.replace(/\./g, '\\.')} dev vxlan\\.calico onlink`, 'm'), 'VXLAN route to node2 after restart');
    assert.doesNotMatch(await cluster.routes('node1'), /dev eth0 proto 80 onlink/);
    assert.ok(await cluster.ping(pods.node1!, pods.node2!.ip, 10));
  });

  it('rides out a real etcd restart under running agents (resync, then follows new changes)', async () => {
    await cluster.killEtcd();
    await new Promise((r) => setTimeout(r, 3000));
    await cluster.startEtcd();
    await setMode('CrossSubnet');
    for (const name of ['node1', 'node2']) {
      const other = name === 'node1' ? 'node2' : 'node1';
      const gw = cluster.host(other).address.replace(/\./g, '\\.');
      await expectRoute(name, new RegExp(`^${block[other]!.replace(/\./g, '\\.')} via ${gw} dev eth0 proto 80 onlink`, 'm'), `CrossSubnet route after the etcd restart`);
    }
    for (const name of ['node1', 'node2', 'node3']) {
      await waitUntil(async () => (await cluster.agentHttp(name, '/healthz')).status === 200, 30_000, `${name} healthy after the etcd restart`);
    }
    assert.ok(await cluster.ping(pods.node3!, pods.node1!.ip, 10));
  });

  it('deleting a node through the client releases its addresses and the other agents remove its routes', async () => {
    await cluster.stopAgent('node3', 'SIGTERM');
    await client.nodes.delete('node3');
    await assert.rejects(client.ipam.ipsByHandle('vxlan-tunnel-addr-node3'), (e) => ResourceNotFoundError.isInstance(e));
    const affinities = await client.datastore.listKV({ type: 'blockAffinity', host: 'node3' });
    assert.equal(affinities.items.length, 0, 'node3 block affinities released');
    for (const name of ['node1', 'node2']) {
      await waitUntil(async () => !(await cluster.routes(name)).includes(block.node3!), 30_000, `${name} to drop node3's block route`);
      // Routes and VXLAN neighbours are reconciled in separate steps: wait for the VTEP entry too.
      const vtep = new RegExp(tunnel.node3!.replace(/\./g, '\\.'));
      await waitUntil(
        async () => !vtep.test(await cluster.exec(cluster.host(name).netns, 'ip', 'neigh', 'show', 'dev', 'vxlan.calico')),
        30_000,
        `${name} to remove node3's VTEP`,
      );
    }
    assert.ok(await cluster.ping(pods.node1!, pods.node2!.ip, 10), 'remaining pods still ping');
  });
});
