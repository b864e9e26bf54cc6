/**
 * Bad input: typed errors (nothing computed, calculator state unchanged) or documented skips
 * (warnings). Plus VTEP MAC derivation against Node's own SHA-1 and formatting edge cases.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { IPPool, Node } from '@libcalico-ts/api';
import { computeRoutes, formatIpRoute, parseIpRoute, protocolName, RouteCalculator, vtepMAC, type ClusterSnapshot } from './index.js';

const pool = (spec: Partial<IPPool['spec']>, name = 'p'): IPPool => ({ kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name }, spec: { cidr: '10.244.0.0/16', ...spec } });
const node = (name: string, spec: Node['spec'] = {}): Node => ({ kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name }, spec });
const base = (): ClusterSnapshot => ({
  pools: [pool({ ipipMode: 'Always' })],
  nodes: [node('a', { bgp: { ipv4Address: '10.0.0.1/24' } }), node('b', { bgp: { ipv4Address: '10.0.0.2/24' } })],
  blockAffinities: [
    { node: 'a', cidr: '10.244.1.0/26', state: 'confirmed' },
    { node: 'b', cidr: '10.244.2.0/26', state: 'confirmed' },
  ],
});

function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.equal((error as Error).name, 'ValidationError', String(error));
    return (error as { fields: { name: string }[] }).fields.map((f) => f.name);
  }
  assert.fail('expected a ValidationError');
}

describe('typed errors for malformed input', () => {
  it('unknown modes, both encaps, IPIP on IPv6, bad CIDRs: every problem listed', () => {
    const snapshot: ClusterSnapshot = {
      ...base(),
      pools: [
        pool({ ipipMode: 'Sometimes' as never }, 'p1'),
        pool({ cidr: '10.1.0.0/16', ipipMode: 'Always', vxlanMode: 'Always' }, 'p2'),
        pool({ cidr: 'fd00::/64', ipipMode: 'Always' }, 'p3'),
        pool({ cidr: '10.0.0.0/33' }, 'p4'),
      ],
    };
    assert.deepEqual(fieldsOf(() => computeRoutes('a', snapshot)), [
      'snapshot.pools[0].spec.ipipMode',
      'snapshot.pools[1].spec',
      'snapshot.pools[2].spec.ipipMode',
      'snapshot.pools[3].spec.cidr',
    ]);
  });

  it('malformed node addresses, MACs, tunnel addresses; duplicate node names', () => {
    const snapshot: ClusterSnapshot = {
      ...base(),
      nodes: [
        node('a', { bgp: { ipv4Address: '10.0.0.300/24' } }),
        node('b', { bgp: { ipv4Address: 'fd00::1/64' }, vxlanTunnelMACAddr: 'zz', ipv4VXLANTunnelAddr: 'fd00::2' }),
        node('c', {}),
        node('c', {}),
      ],
    };
    assert.deepEqual(fieldsOf(() => computeRoutes('a', snapshot)), [
      'snapshot.nodes[0].spec.bgp.ipv4Address',
      'snapshot.nodes[1].spec.bgp.ipv4Address',
      'snapshot.nodes[1].spec.ipv4VXLANTunnelAddr',
      'snapshot.nodes[1].spec.vxlanTunnelMACAddr',
      'snapshot.nodes[3].metadata.name',
    ]);
  });

  it('unknown local node, non-snapshot, bad options and configuration', () => {
    assert.throws(() => computeRoutes('nope', base()), { name: 'ResourceNotFoundError' });
    assert.throws(() => computeRoutes('', base()), { name: 'ValidationError' });
    assert.throws(() => computeRoutes('a', null as never), { name: 'ValidationError' });
    assert.throws(() => computeRoutes('a', { pools: 'x' } as never), { name: 'ValidationError' });
    assert.deepEqual(fieldsOf(() => computeRoutes('a', base(), { calicoVersion: 'banana' })), ['options.calicoVersion']);
    assert.deepEqual(fieldsOf(() => computeRoutes('a', base(), { hostMTU: 10 })), ['options.hostMTU']);
    assert.deepEqual(fieldsOf(() => computeRoutes('a', base(), { routeOwners: { ipip: 'kernel' as never } })), ['options.routeOwners.ipip']);
    const felix = (spec: object) => ({ ...base(), felixConfigurations: [{ kind: 'FelixConfiguration' as const, apiVersion: 'projectcalico.org/v3' as const, metadata: { name: 'default' }, spec }] });
    assert.deepEqual(fieldsOf(() => computeRoutes('a', felix({ routeSource: 'Magic' }))), ['felixConfiguration.spec.routeSource']);
    assert.deepEqual(fieldsOf(() => computeRoutes('a', felix({ deviceRouteProtocol: 300, vxlanMTU: -1 }))), ['felixConfiguration.spec.deviceRouteProtocol', 'felixConfiguration.spec.vxlanMTU']);
    assert.deepEqual(fieldsOf(() => computeRoutes('a', felix({ programClusterRoutes: 'Sometimes' }), { calicoVersion: 'v3.34' })), ['felixConfiguration.spec.programClusterRoutes']);
  });

  it('bad workload endpoints and block CIDRs', () => {
    const snapshot: ClusterSnapshot = {
      ...base(),
      blocks: [{ cidr: 'nope', affinity: 'host:a' }],
      workloadEndpoints: [
        { kind: 'WorkloadEndpoint', apiVersion: 'projectcalico.org/v3', metadata: { name: 'w', namespace: 'default' }, spec: { node: 'a', interfaceName: 'this-name-is-too-long', ipNetworks: ['10.244.1.5/32'] } },
      ],
    };
    assert.deepEqual(fieldsOf(() => computeRoutes('a', snapshot)), ['snapshot.blocks[0].cidr']);
    delete snapshot.blocks;
    assert.deepEqual(fieldsOf(() => computeRoutes('a', snapshot)), ['snapshot.workloadEndpoints[0].spec.interfaceName']);
  });

  it('the calculator rejects bad changes and keeps its state', () => {
    const calc = new RouteCalculator('a', base());
    const before = calc.table();
    assert.throws(() => calc.apply({ type: 'poolUpdated', pool: pool({ vxlanMode: 'Often' as never }) }), { name: 'ValidationError' });
    assert.throws(() => calc.apply({ type: 'nodeUpdated', node: node('b', { bgp: { ipv4Address: 'x' } }) }), { name: 'ValidationError' });
    assert.throws(() => calc.apply({ type: 'affinityUpdated', affinity: { node: 'b', cidr: '10.244.9.0/99' } }), { name: 'ValidationError' });
    assert.throws(() => calc.apply({ type: 'allocationUpdated', ip: '10.244.1.7', node: 'b' }), { name: 'ResourceNotFoundError' });
    assert.throws(() => calc.apply({ type: 'allocationUpdated', ip: 'ten', node: 'b' }), { name: 'ValidationError' });
    assert.throws(() => calc.apply({ type: 'felixConfigurationUpdated', configuration: { kind: 'FelixConfiguration', apiVersion: 'projectcalico.org/v3', metadata: { name: 'default' }, spec: { routeSource: 'Nope' } } }), { name: 'ValidationError' });
    assert.throws(() => calc.apply({ type: 'teleport' } as never), { name: 'ValidationError' });
    assert.throws(() => calc.apply(null as never), { name: 'ValidationError' });
    assert.deepEqual(calc.table(), before);
    assert.deepEqual(calc.table(), computeRoutes('a', base()));
  });
});

describe('documented skips (warnings)', () => {
  it('remote node without address, unknown node, block outside pools, pending affinity, non-host workload network', () => {
    const snapshot: ClusterSnapshot = {
      pools: [pool({ vxlanMode: 'Always' })],
      nodes: [node('a', { bgp: { ipv4Address: '10.0.0.1/24' } }), node('b', {}), node('c', { bgp: { ipv4Address: '10.0.0.3/24' } })],
      blockAffinities: [
        { node: 'b', cidr: '10.244.2.0/26', state: 'confirmed' },
        { node: 'ghost', cidr: '10.244.3.0/26', state: 'confirmed' },
        { node: 'c', cidr: '10.244.4.0/26', state: 'confirmed' },
        { node: 'c', cidr: '10.244.5.0/26', state: 'pending' },
        { node: 'a', cidr: '10.99.0.0/26', state: 'confirmed' },
      ],
      workloadEndpoints: [
        { kind: 'WorkloadEndpoint', apiVersion: 'projectcalico.org/v3', metadata: { name: 'w', namespace: 'default' }, spec: { node: 'a', interfaceName: 'cali1', ipNetworks: ['10.244.1.0/30'] } },
      ],
    };
    const table = computeRoutes('a', snapshot);
    assert.deepEqual(table.routes, []);
    assert.deepEqual(
      table.warnings.map((w) => [w.code, w.destination, w.node]),
      [
        ['blockOutsidePools', '10.99.0.0/26', 'a'],
        ['nodeAddressMissing', '10.244.2.0/26', 'b'],
        ['nodeNotFound', '10.244.3.0/26', 'ghost'],
        ['vtepMissing', '10.244.4.0/26', 'c'],
        ['workloadAddressInvalid', '10.244.1.0/30', 'a'],
      ],
    );
  });

  it('same-subnet routes need the parent device; LoadBalancer-only pools give no routes', () => {
    const snapshot: ClusterSnapshot = { ...base(), pools: [pool({ ipipMode: 'CrossSubnet' })] };
    const table = computeRoutes('a', snapshot);
    assert.deepEqual(table.warnings.map((w) => w.code), ['parentDeviceUnknown']);
    assert.deepEqual(table.routes.map(formatIpRoute), ['blackhole 10.244.1.0/26 proto bird']);
    const lb = computeRoutes('a', { ...base(), pools: [pool({ allowedUses: ['LoadBalancer'] })] });
    assert.deepEqual(lb.routes, []);
    assert.deepEqual(lb.warnings.map((w) => w.code), ['blockOutsidePools', 'blockOutsidePools']);
  });

  it('a bare node address (/32) makes CrossSubnet always encapsulate', () => {
    const snapshot: ClusterSnapshot = {
      ...base(),
      pools: [pool({ ipipMode: 'CrossSubnet' })],
      nodes: [node('a', { bgp: { ipv4Address: '10.0.0.1' } }), node('b', { bgp: { ipv4Address: '10.0.0.2/24' } })],
    };
    assert.ok(computeRoutes('a', snapshot, { parentDevice: 'eth0' }).routes.map(formatIpRoute).includes('10.244.2.0/26 via 10.0.0.2 dev tunl0 proto bird onlink'));
  });

  it('deviceRouteProtocol != 3 (77; 42 would print as babel) is stamped on every Felix route; InternalIP fallback address; WorkloadIPs mode', () => {
    const snapshot: ClusterSnapshot = {
      pools: [pool({ vxlanMode: 'Always' })],
      nodes: [node('a', { bgp: { ipv4Address: '10.0.0.1/24' } }), node('b', { addresses: [{ address: '10.0.0.2', type: 'InternalIP' }], ipv4VXLANTunnelAddr: '10.244.2.0' })],
      blockAffinities: [
        { node: 'a', cidr: '10.244.1.0/26', state: 'confirmed' },
        { node: 'b', cidr: '10.244.2.0/26', state: 'confirmed' },
      ],
      workloadEndpoints: [
        { kind: 'WorkloadEndpoint', apiVersion: 'projectcalico.org/v3', metadata: { name: 'w1', namespace: 'default' }, spec: { node: 'a', interfaceName: 'cali1', ipNetworks: ['10.244.1.1/32'] } },
        { kind: 'WorkloadEndpoint', apiVersion: 'projectcalico.org/v3', metadata: { name: 'w2', namespace: 'default' }, spec: { node: 'b', interfaceName: 'cali2', ipNetworks: ['10.244.2.1/32'] } },
      ],
      felixConfigurations: [{ kind: 'FelixConfiguration', apiVersion: 'projectcalico.org/v3', metadata: { name: 'default' }, spec: { deviceRouteProtocol: 77 } }],
    };
    assert.deepEqual(computeRoutes('a', snapshot).routes.map(formatIpRoute), [
      'blackhole 10.244.1.0/26 proto 77',
      '10.244.1.1 dev cali1 proto 77 scope link',
      '10.244.2.0/26 via 10.244.2.0 dev vxlan.calico proto 77 onlink',
    ]);
    // Per-node configuration overrides the default field by field.
    snapshot.felixConfigurations = [...snapshot.felixConfigurations!, { kind: 'FelixConfiguration', apiVersion: 'projectcalico.org/v3', metadata: { name: 'node.a' }, spec: { routeSource: 'WorkloadIPs' } }];
    assert.deepEqual(computeRoutes('a', snapshot).routes.map(formatIpRoute), ['10.244.1.1 dev cali1 proto 77 scope link', '10.244.2.1 via 10.244.2.0 dev vxlan.calico proto 77 onlink']);
  });
});

describe('VTEP MAC and formatting', () => {
  it('vtepMAC matches Calico\'s derivation (0x66 + SHA-1[0:5]) for many names, checked with node:crypto', () => {
    assert.equal(vtepMAC('node-a'), '66:07:02:c1:cc:60');
    assert.equal(vtepMAC('node-b'), '66:89:3a:22:7a:ac');
    assert.equal(vtepMAC('node-c'), '66:1a:b9:f1:6e:af');
    assert.equal(vtepMAC('node-a', { ipv6: true }), '66:d4:d5:51:3d:42');
    for (const name of ['x', 'worker1-k8s.myk8s.example.com', 'ünïcode-node', 'a'.repeat(55), 'b'.repeat(56), 'c'.repeat(64), 'd'.repeat(200)]) {
      const digest = createHash('sha1').update(name).digest();
      const expected = ['66', ...[...digest.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
      assert.equal(vtepMAC(name), expected, name);
    }
    assert.throws(() => vtepMAC(''), { name: 'ValidationError' });
  });

  it('protocol names, parse errors, IPv6 default route', () => {
    assert.equal(protocolName(12), 'bird');
    assert.equal(protocolName(80), '80');
    assert.equal(protocolName(2), 'kernel');
    assert.throws(() => parseIpRoute(''), { name: 'ParseError' });
    assert.throws(() => parseIpRoute('10.0.0.0/8 via'), { name: 'ParseError' });
    assert.throws(() => parseIpRoute('10.0.0.0/8 frobnicate 3'), { name: 'ParseError' });
    assert.throws(() => parseIpRoute('10.0.0.0/8 proto nonsense'), { name: 'ParseError' });
    assert.equal(parseIpRoute('default via fe80::1 dev eth0 proto ra metric 1024 pref medium').destination, '::/0');
    assert.throws(() => formatIpRoute({ destination: 'x', type: 'unicast', onlink: false, protocol: 3, scope: 'universe', metric: 0, mtu: 0 }), { name: 'ValidationError' });
  });
});
