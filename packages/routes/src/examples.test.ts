/**
 * The worked examples of reference/routes-and-dataplane.md §6 and the observed `ip route` table of
 * the seeds, as tests: computed tables are rendered with formatIpRoute and compared line by line.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BlockAffinity, IPPool, Node, WorkloadEndpoint } from '@libcalico-ts/api';
import { computeRoutes, formatFdbEntry, formatIpRoute, formatNeighbor, parseIpRoute, type ClusterSnapshot, type RouteOptions } from './index.js';

function pool(name: string, cidr: string, spec: Partial<IPPool['spec']> = {}): IPPool {
  return { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name }, spec: { cidr, ...spec } };
}
function node(name: string, ipv4: string, extra: Partial<Node['spec']> = {}, ipv6?: string): Node {
  return {
    kind: 'Node',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name },
    spec: { bgp: { ipv4Address: ipv4, ...(ipv6 ? { ipv6Address: ipv6 } : {}) }, ...extra },
  };
}
function aff(nodeName: string, cidr: string): BlockAffinity['spec'] {
  return { node: nodeName, cidr, state: 'confirmed', deleted: false };
}
function wep(nodeName: string, pod: string, iface: string, ips: string[]): WorkloadEndpoint {
  return {
    kind: 'WorkloadEndpoint',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: `${nodeName}-k8s-${pod}-eth0`, namespace: 'default' },
    spec: { node: nodeName, pod, endpoint: 'eth0', orchestrator: 'k8s', interfaceName: iface, ipNetworks: ips },
  };
}

/** The §6 topology: node-a (local), node-b (same subnet), node-c (other subnet). */
function topology(poolSpec: Partial<IPPool['spec']>, vxlan = false): ClusterSnapshot {
  const tunnel = (addr: string) => (vxlan ? { ipv4VXLANTunnelAddr: addr } : {});
  return {
    pools: [pool('default-ipv4-ippool', '10.244.0.0/16', { blockSize: 26, natOutgoing: true, ...poolSpec })],
    nodes: [
      node('node-a', '192.168.3.125/24', tunnel('10.244.208.0')),
      node('node-b', '192.168.3.126/24', tunnel('10.244.92.128')),
      node('node-c', '192.168.4.10/24', tunnel('10.244.17.64')),
    ],
    blockAffinities: [aff('node-a', '10.244.208.0/26'), aff('node-b', '10.244.92.128/26'), aff('node-c', '10.244.17.64/26')],
    workloadEndpoints: [wep('node-a', 'nginx', 'cali573926084b2', ['10.244.208.1/32']), wep('node-b', 'web', 'cali0123456789a', ['10.244.92.129/32'])],
  };
}

function lines(snapshot: ClusterSnapshot, options: RouteOptions = {}, name = 'node-a'): string[] {
  const table = computeRoutes(name, snapshot, { parentDevice: 'eth0', ...options });
  return table.routes.map(formatIpRoute);
}

/** Compares as sets (kernel row order is not meaningful), after stripping `# comments`. */
function assertSameTable(actual: string[], expected: string): void {
  const want = expected
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l !== '');
  assert.deepEqual([...actual].sort(), [...want].sort());
}

describe('worked examples (reference §6)', () => {
  it('6.1 IPIP Always, BIRD-owned', () => {
    assertSameTable(
      lines(topology({ ipipMode: 'Always' })),
      `10.244.17.64/26 via 192.168.4.10 dev tunl0 proto bird onlink
       10.244.92.128/26 via 192.168.3.126 dev tunl0 proto bird onlink
       blackhole 10.244.208.0/26 proto bird
       10.244.208.1 dev cali573926084b2 scope link`,
    );
  });

  it('6.1 IPIP Always, Felix-owned (v3.31+ rendering with mtu)', () => {
    assertSameTable(
      lines(topology({ ipipMode: 'Always' }), { calicoVersion: 'v3.31', routeOwners: { ipip: 'felix' } }),
      `10.244.17.64/26 via 192.168.4.10 dev tunl0 proto 80 onlink mtu 1480
       10.244.92.128/26 via 192.168.3.126 dev tunl0 proto 80 onlink mtu 1480
       blackhole 10.244.208.0/26 proto 80
       10.244.208.1 dev cali573926084b2 scope link`,
    );
  });

  it('6.1 borrowed address: node-c took 10.244.208.9 from node-a\'s block', () => {
    const snapshot = topology({ ipipMode: 'Always' });
    snapshot.blocks = [
      {
        cidr: '10.244.208.0/26',
        affinity: 'host:node-a',
        allocations: [0, 1, null, null, null, null, null, null, null, 2, ...new Array(54).fill(null)],
        attributes: [
          { secondary: { node: 'node-a', type: 'ipipTunnelAddress' } },
          { secondary: { node: 'node-a', pod: 'nginx', namespace: 'default' } },
          { secondary: { node: 'node-c', pod: 'x', namespace: 'default' } },
        ],
      },
    ];
    const expected = `10.244.17.64/26 via 192.168.4.10 dev tunl0 proto bird onlink
       10.244.92.128/26 via 192.168.3.126 dev tunl0 proto bird onlink
       blackhole 10.244.208.0/26 proto bird
       10.244.208.1 dev cali573926084b2 scope link
       10.244.208.9 via 192.168.4.10 dev tunl0 proto bird onlink`;
    assertSameTable(lines(snapshot), expected);
    // node-b also routes the borrowed /32 to node-c.
    const fromB = lines(snapshot, {}, 'node-b');
    assert.ok(fromB.includes('10.244.208.9 via 192.168.4.10 dev tunl0 proto bird onlink'));
    // node-c (the borrower) has a workload route instead, not a route to itself.
    assert.ok(!lines(snapshot, {}, 'node-c').some((l) => l.startsWith('10.244.208.9 ')));
  });

  it('6.2 IPIP CrossSubnet, BIRD-owned and Felix-owned', () => {
    const snapshot = topology({ ipipMode: 'CrossSubnet' });
    assertSameTable(
      lines(snapshot),
      `10.244.17.64/26 via 192.168.4.10 dev tunl0 proto bird onlink
       10.244.92.128/26 via 192.168.3.126 dev eth0 proto bird
       blackhole 10.244.208.0/26 proto bird
       10.244.208.1 dev cali573926084b2 scope link`,
    );
    assertSameTable(
      lines(snapshot, { calicoVersion: 'v3.34' }),
      `10.244.17.64/26 via 192.168.4.10 dev tunl0 proto 80 onlink mtu 1480
       10.244.92.128/26 via 192.168.3.126 dev eth0 proto 80 onlink
       blackhole 10.244.208.0/26 proto 80
       10.244.208.1 dev cali573926084b2 scope link metric 1024`,
    );
  });

  it('6.3 VXLAN Always with neighbour and FDB entries', () => {
    const snapshot = topology({ vxlanMode: 'Always' }, true);
    assertSameTable(
      lines(snapshot),
      `10.244.17.64/26 via 10.244.17.64 dev vxlan.calico onlink
       10.244.92.128/26 via 10.244.92.128 dev vxlan.calico onlink
       blackhole 10.244.208.0/26 proto 80
       10.244.208.1 dev cali573926084b2 scope link`,
    );
    assertSameTable(
      lines(snapshot, { calicoVersion: 'v3.31' }),
      `10.244.17.64/26 via 10.244.17.64 dev vxlan.calico onlink mtu 1450
       10.244.92.128/26 via 10.244.92.128 dev vxlan.calico onlink mtu 1450
       blackhole 10.244.208.0/26 proto 80
       10.244.208.1 dev cali573926084b2 scope link`,
    );
    const table = computeRoutes('node-a', snapshot, { parentDevice: 'eth0' });
    assertSameTable(
      [...table.neighbors.map(formatNeighbor), ...table.fdb.map(formatFdbEntry)],
      `10.244.17.64 dev vxlan.calico lladdr 66:1a:b9:f1:6e:af PERMANENT
       10.244.92.128 dev vxlan.calico lladdr 66:89:3a:22:7a:ac PERMANENT
       66:1a:b9:f1:6e:af dev vxlan.calico dst 192.168.4.10 self permanent
       66:89:3a:22:7a:ac dev vxlan.calico dst 192.168.3.126 self permanent`,
    );
  });

  it('6.4 VXLAN CrossSubnet: same-subnet node via eth0, other via the tunnel; same FDB as 6.3', () => {
    const snapshot = topology({ vxlanMode: 'CrossSubnet' }, true);
    assertSameTable(
      lines(snapshot),
      `10.244.17.64/26 via 10.244.17.64 dev vxlan.calico onlink
       10.244.92.128/26 via 192.168.3.126 dev eth0 proto 80 onlink
       blackhole 10.244.208.0/26 proto 80
       10.244.208.1 dev cali573926084b2 scope link`,
    );
    const table = computeRoutes('node-a', snapshot, { parentDevice: 'eth0' });
    assert.deepEqual(table.neighbors.map((n) => n.node).sort(), ['node-b', 'node-c']);
  });

  it('6.5 no encapsulation, BIRD-owned (recursive next hop) and Felix-owned', () => {
    const snapshot = topology({});
    const bird = computeRoutes('node-a', snapshot, { parentDevice: 'eth0' });
    // Without a next-hop resolver node-c's block cannot be routed: a documented skip.
    assertSameTable(
      bird.routes.map(formatIpRoute),
      `10.244.92.128/26 via 192.168.3.126 dev eth0 proto bird
       blackhole 10.244.208.0/26 proto bird
       10.244.208.1 dev cali573926084b2 scope link`,
    );
    assert.deepEqual(bird.warnings.map((w) => [w.code, w.destination]), [['nextHopUnresolved', '10.244.17.64/26']]);
    assertSameTable(
      lines(snapshot, { resolveNextHop: (ip) => (ip === '192.168.4.10' ? { gateway: '192.168.3.1', device: 'eth0' } : undefined) }),
      `10.244.92.128/26 via 192.168.3.126 dev eth0 proto bird
       10.244.17.64/26 via 192.168.3.1 dev eth0 proto bird
       blackhole 10.244.208.0/26 proto bird
       10.244.208.1 dev cali573926084b2 scope link`,
    );
    assertSameTable(
      lines(snapshot, { routeOwners: { noEncap: 'felix' } }),
      `10.244.92.128/26 via 192.168.3.126 dev eth0 proto 80 onlink
       10.244.17.64/26 via 192.168.4.10 dev eth0 proto 80 onlink
       blackhole 10.244.208.0/26 proto 80
       10.244.208.1 dev cali573926084b2 scope link`,
    );
  });
});

describe('observed table (seed 001, worker3, IPIP Always)', () => {
  const observed = `default via 192.168.3.1 dev ens192 proto static metric 100
10.244.71.64/26 via 192.168.3.127 dev tunl0 proto bird onlink
10.244.92.128/26 via 192.168.3.126 dev tunl0 proto bird onlink    # 目标IP 范围
10.244.174.192/26 via 192.168.3.125 dev tunl0 proto bird onlink
blackhole 10.244.208.0/26 proto bird
10.244.208.1 dev cali573926084b2 scope link
172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1 linkdown
192.168.3.0/24 dev ens192 proto kernel scope link src 192.168.3.128 metric 100`;

  const snapshot: ClusterSnapshot = {
    pools: [pool('default-ipv4-ippool', '10.244.0.0/16', { ipipMode: 'Always' })],
    nodes: [
      node('worker3', '192.168.3.128/24', { interfaces: [{ name: 'ens192', addresses: ['192.168.3.128'] }] }),
      node('worker1', '192.168.3.126/24'),
      node('worker2', '192.168.3.127/24'),
      node('master1', '192.168.3.125/24'),
    ],
    blockAffinities: [aff('worker3', '10.244.208.0/26'), aff('worker1', '10.244.92.128/26'), aff('worker2', '10.244.71.64/26'), aff('master1', '10.244.174.192/26')],
    workloadEndpoints: [wep('worker3', 'client', 'cali573926084b2', ['10.244.208.1/32']), wep('worker1', 'nginx', 'calia3c74f30c95', ['10.244.92.130/32'])],
  };

  it('computes exactly the Calico rows of the observed table', () => {
    const calicoRows = observed
      .split('\n')
      .map((l) => l.replace(/#.*$/, '').trim())
      .filter((l) => / proto bird/.test(l) || / dev cali/.test(l));
    assert.equal(calicoRows.length, 5);
    const table = computeRoutes('worker3', snapshot);
    assert.deepEqual(table.warnings, []);
    assert.deepEqual(table.routes.map(formatIpRoute).sort(), calicoRows.sort());
  });

  it('round-trips every observed row through parseIpRoute + formatIpRoute', () => {
    for (const line of observed.split('\n')) {
      const clean = line.replace(/#.*$/, '').trim();
      const parsed = parseIpRoute(clean);
      if (Object.keys(parsed.extra).length > 0 || parsed.destination === '0.0.0.0/0') continue; // src/linkdown are not modelled
      assert.equal(formatIpRoute(parsed as never), clean);
    }
    const computed = computeRoutes('worker3', snapshot).routes;
    for (const route of computed) {
      const parsed = parseIpRoute(formatIpRoute(route));
      assert.equal(parsed.destination, route.destination);
      assert.equal(parsed.gateway, route.gateway);
      assert.equal(parsed.device, route.device);
      assert.equal(parsed.protocol, route.protocol);
      assert.equal(parsed.onlink, route.onlink);
      assert.equal(parsed.type, route.type);
    }
  });
});

describe('IPv6 (VXLAN v6)', () => {
  const snapshot: ClusterSnapshot = {
    pools: [pool('v6', 'fd00:10:244::/48', { vxlanMode: 'Always', blockSize: 122 })],
    nodes: [
      node('node-a', '192.168.3.125/24', { ipv6VXLANTunnelAddr: 'fd00:10:244:0:1::' }, 'fd00:1::125/64'),
      node('node-b', '192.168.3.126/24', { ipv6VXLANTunnelAddr: 'fd00:10:244:0:2::' }, 'fd00:1::126/64'),
    ],
    blockAffinities: [aff('node-a', 'fd00:10:244:0:1::/122'), aff('node-b', 'fd00:10:244:0:2::/122')],
    workloadEndpoints: [wep('node-a', 'p6', 'cali6aaaaaaaaaa', ['fd00:10:244:0:1::1/128'])],
  };

  it('renders routes as ip -6 route does and derives the v6 VTEP MAC', () => {
    const table = computeRoutes('node-a', snapshot, { calicoVersion: 'v3.31' });
    assertSameTable(
      table.routes.map(formatIpRoute),
      `fd00:10:244:0:1::1 dev cali6aaaaaaaaaa metric 1024 pref medium
       blackhole fd00:10:244:0:1::/122 dev lo proto 80 metric 1024 pref medium
       fd00:10:244:0:2::/122 via fd00:10:244:0:2:: dev vxlan-v6.calico metric 1024 onlink mtu 1430 pref medium`,
    );
    assert.deepEqual(table.neighbors.map(formatNeighbor), ['fd00:10:244:0:2:: dev vxlan-v6.calico lladdr ' + table.neighbors[0]!.mac + ' PERMANENT']);
    assert.deepEqual(table.fdb.map(formatFdbEntry), [`${table.fdb[0]!.mac} dev vxlan-v6.calico dst fd00:1::126 self permanent`]);
  });

  it('CrossSubnet v6 uses the IPv6 prefix for the same-subnet test', () => {
    const cross: ClusterSnapshot = { ...snapshot, pools: [pool('v6', 'fd00:10:244::/48', { vxlanMode: 'CrossSubnet', blockSize: 122 })] };
    const table = computeRoutes('node-a', cross, { parentDevice: 'eth0' });
    assert.ok(table.routes.map(formatIpRoute).includes('fd00:10:244:0:2::/122 via fd00:1::126 dev eth0 proto 80 metric 1024 onlink pref medium'));
  });
});
