/**
 * Property: after any sequence of changes, the incremental calculator's table equals a full
 * recompute of the same state, and replaying the emitted deltas on the initial table gives the
 * current table.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FelixConfiguration, IPPool, Node, WorkloadEndpoint } from '@libcalico-ts/api';
import { computeRoutes, RouteCalculator, type ClusterSnapshot, type Route, type RouteChange, type RouteDeltas, type RouteOptions, type SnapshotBlock } from './index.js';

const LOCAL = 'n0';
const NODE_NAMES = ['n0', 'n1', 'n2', 'n3', 'n4'];
const V4_BLOCKS = ['10.0.0.0/26', '10.0.0.64/26', '10.0.0.128/26', '10.0.1.0/26', '10.0.1.64/32', '10.2.0.0/26'];
const V6_BLOCKS = ['fd00::/122', 'fd00::40/122'];
const BLOCKS = [...V4_BLOCKS, ...V6_BLOCKS];
const MODES = ['Never', 'Always', 'CrossSubnet'] as const;

const arbNode: fc.Arbitrary<Node> = fc
  .record({
    name: fc.constantFrom(...NODE_NAMES),
    ipv4: fc.constantFrom(undefined, '10.10.0.1/24', '10.10.0.2/24', '10.20.0.3/24', '10.10.0.4', '10.10.0.5/16', '10.30.0.6/24'),
    vxlan: fc.constantFrom(undefined, '10.0.0.0', '10.0.0.64', '10.0.1.64', '10.0.1.0'),
    ipv6: fc.constantFrom(undefined, 'fd01::1/64', 'fd01::2/64', 'fd02::3/64'),
    vxlan6: fc.constantFrom(undefined, 'fd00::', 'fd00::40'),
    mac: fc.constantFrom(undefined, '66:00:00:00:00:01'),
  })
  .map(({ name, ipv4, vxlan, ipv6, vxlan6, mac }) => ({
    kind: 'Node',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name },
    spec: {
      ...(ipv4 || ipv6 ? { bgp: { ...(ipv4 ? { ipv4Address: ipv4 } : {}), ...(ipv6 ? { ipv6Address: ipv6 } : {}) } } : {}),
      ...(vxlan ? { ipv4VXLANTunnelAddr: vxlan } : {}),
      ...(vxlan6 ? { ipv6VXLANTunnelAddr: vxlan6 } : {}),
      ...(mac ? { vxlanTunnelMACAddr: mac } : {}),
      interfaces: [{ name: 'eth0', addresses: ipv4 ? [ipv4.split('/')[0]!] : [] }],
    },
  }));

const arbPool4: fc.Arbitrary<IPPool> = fc
  .record({ ipip: fc.constantFrom(...MODES), vxlan: fc.constantFrom(...MODES), export: fc.boolean(), lb: fc.integer({ min: 0, max: 9 }).map((n) => n === 0) })
  .map(({ ipip, vxlan, export: disableExport, lb }) => ({
    kind: 'IPPool',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'pool4' },
    spec: {
      cidr: '10.0.0.0/16',
      ipipMode: vxlan !== 'Never' ? 'Never' : ipip,
      vxlanMode: vxlan,
      disableBGPExport: disableExport,
      ...(lb ? { allowedUses: ['LoadBalancer' as const] } : {}),
    },
  }));
const arbPool6: fc.Arbitrary<IPPool> = fc.constantFrom(...MODES).map((vxlan) => ({
  kind: 'IPPool',
  apiVersion: 'projectcalico.org/v3',
  metadata: { name: 'pool6' },
  spec: { cidr: 'fd00::/64', vxlanMode: vxlan, blockSize: 122 },
}));

function blockSize(cidr: string): number {
  const prefix = Number(cidr.split('/')[1]);
  return cidr.includes(':') ? 2 ** (128 - prefix) : 2 ** (32 - prefix);
}

const arbBlock: fc.Arbitrary<SnapshotBlock> = fc
  .record({
    cidr: fc.constantFrom(...BLOCKS),
    owner: fc.constantFrom(undefined, 'host:n0', 'host:n1', 'host:n2', 'host:n9', 'virtual:load-balancer'),
    allocs: fc.array(fc.record({ ord: fc.nat(63), node: fc.constantFrom(undefined, 'n0', 'n1', 'n2', 'n3', 'n9') }), { maxLength: 5 }),
    deleted: fc.boolean().map((b) => b && Math.random() < 0), // never true here; deletion is its own change
  })
  .map(({ cidr, owner, allocs }) => {
    const size = blockSize(cidr);
    const allocations: (number | null)[] = new Array(size).fill(null);
    const attributes: { secondary: Record<string, string> | null }[] = [];
    for (const a of allocs) {
      const ord = a.ord % size;
      attributes.push({ secondary: a.node ? { node: a.node } : null });
      allocations[ord] = attributes.length - 1;
    }
    return { cidr, affinity: owner ?? null, allocations, attributes };
  });

const arbWorkload: fc.Arbitrary<WorkloadEndpoint> = fc
  .record({
    name: fc.constantFrom('w1', 'w2', 'w3', 'w4'),
    node: fc.constantFrom('n0', 'n0', 'n1', 'n2'),
    iface: fc.constantFrom('cali1', 'cali2', 'cali3'),
    ips: fc.array(fc.constantFrom('10.0.0.1/32', '10.0.0.65/32', '10.0.0.2/32', '10.0.1.64/32', 'fd00::1/128', '10.0.0.0/30', '10.9.0.1/32'), { maxLength: 3 }),
  })
  .map(({ name, node, iface, ips }) => ({
    kind: 'WorkloadEndpoint',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name, namespace: 'default' },
    spec: { node, interfaceName: iface, ipNetworks: ips },
  }));

const arbFelix: fc.Arbitrary<FelixConfiguration> = fc
  .record({
    name: fc.constantFrom('default', 'node.n0', 'node.n1'),
    pcr: fc.constantFrom(undefined, 'Enabled', 'Disabled', 'EnabledIPIPOnly', 'EnabledNoEncapOnly'),
    routeSource: fc.constantFrom(undefined, 'CalicoIPAM', 'WorkloadIPs'),
    proto: fc.constantFrom(undefined, 3, 42),
    vxlanMTU: fc.constantFrom(undefined, 1400),
  })
  .map(({ name, pcr, routeSource, proto, vxlanMTU }) => ({
    kind: 'FelixConfiguration',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name },
    spec: {
      ...(pcr ? { programClusterRoutes: pcr as 'Enabled' } : {}),
      ...(routeSource ? { routeSource } : {}),
      ...(proto ? { deviceRouteProtocol: proto } : {}),
      ...(vxlanMTU ? { vxlanMTU } : {}),
    },
  }));

const arbChange: fc.Arbitrary<RouteChange> = fc.oneof(
  { weight: 3, arbitrary: arbNode.map((node) => ({ type: 'nodeUpdated' as const, node })) },
  { weight: 1, arbitrary: fc.constantFrom('n1', 'n2', 'n3', 'n4').map((name) => ({ type: 'nodeDeleted' as const, name })) },
  { weight: 3, arbitrary: fc.oneof(arbPool4, arbPool6).map((pool) => ({ type: 'poolUpdated' as const, pool })) },
  { weight: 1, arbitrary: fc.constantFrom('pool4', 'pool6').map((name) => ({ type: 'poolDeleted' as const, name })) },
  {
    weight: 4,
    arbitrary: fc
      .record({ node: fc.constantFrom(...NODE_NAMES, 'n9'), cidr: fc.constantFrom(...BLOCKS), state: fc.constantFrom('confirmed', '', 'pending', 'pendingDeletion') })
      .map((affinity) => ({ type: 'affinityUpdated' as const, affinity: { ...affinity, deleted: false } })),
  },
  {
    weight: 2,
    arbitrary: fc.record({ node: fc.constantFrom(...NODE_NAMES), cidr: fc.constantFrom(...BLOCKS) }).map((a) => ({ type: 'affinityDeleted' as const, ...a })),
  },
  { weight: 3, arbitrary: arbBlock.map((block) => ({ type: 'blockUpdated' as const, block })) },
  { weight: 1, arbitrary: fc.constantFrom(...BLOCKS).map((cidr) => ({ type: 'blockDeleted' as const, cidr })) },
  {
    weight: 4,
    arbitrary: fc
      .record({ ip: fc.constantFrom('10.0.0.5', '10.0.0.70', '10.0.1.64', '10.0.1.3', 'fd00::7', 'fd00::41', '10.2.0.9'), node: fc.constantFrom(null, 'n0', 'n1', 'n2', 'n3', 'n9') })
      .map((a) => ({ type: 'allocationUpdated' as const, ...a })),
  },
  { weight: 3, arbitrary: arbWorkload.map((endpoint) => ({ type: 'workloadUpdated' as const, endpoint })) },
  { weight: 1, arbitrary: fc.constantFrom('w1', 'w2', 'w3', 'w4').map((name) => ({ type: 'workloadDeleted' as const, namespace: 'default', name })) },
  { weight: 2, arbitrary: arbFelix.map((configuration) => ({ type: 'felixConfigurationUpdated' as const, configuration })) },
  { weight: 1, arbitrary: fc.constantFrom('default', 'node.n0').map((name) => ({ type: 'felixConfigurationDeleted' as const, name })) },
);

function canonicalCIDR(cidr: string): string {
  return cidr; // the generators only use canonical spellings
}

function containing(blocks: SnapshotBlock[], ip: string): { block: SnapshotBlock; ord: number } | undefined {
  for (const block of blocks) {
    if (block.deleted) continue;
    const [base, p] = block.cidr.split('/');
    if (ip.includes(':') !== base!.includes(':')) continue;
    if (!ip.includes(':')) {
      const toNum = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
      const size = 2 ** (32 - Number(p));
      const off = toNum(ip) - toNum(base!);
      if (off >= 0 && off < size) return { block, ord: off };
    } else {
      const last = (s: string) => parseInt(s.split(':').pop() || '0', 16);
      const size = 2 ** (128 - Number(p));
      const off = last(ip) - last(base!);
      if (off >= 0 && off < size) return { block, ord: off };
    }
  }
  return undefined;
}

/** Applies a change to the plain snapshot model; returns false when the calculator must reject it. */
function applyToModel(model: Required<Pick<ClusterSnapshot, 'pools' | 'nodes'>> & ClusterSnapshot, change: RouteChange): boolean {
  const m = model as { pools: IPPool[]; nodes: Node[]; blocks: SnapshotBlock[]; blockAffinities: NonNullable<ClusterSnapshot['blockAffinities']>[number][]; workloadEndpoints: WorkloadEndpoint[]; felixConfigurations: FelixConfiguration[] };
  switch (change.type) {
    case 'nodeUpdated':
      m.nodes = [...m.nodes.filter((n) => n.metadata.name !== change.node.metadata.name), change.node];
      return true;
    case 'nodeDeleted':
      m.nodes = m.nodes.filter((n) => n.metadata.name !== change.name);
      return true;
    case 'poolUpdated':
      m.pools = [...m.pools.filter((p) => p.metadata.name !== change.pool.metadata.name), change.pool];
      return true;
    case 'poolDeleted':
      m.pools = m.pools.filter((p) => p.metadata.name !== change.name);
      return true;
    case 'affinityUpdated':
      m.blockAffinities = [...m.blockAffinities.filter((a) => !(a.node === change.affinity.node && a.cidr === change.affinity.cidr)), change.affinity];
      return true;
    case 'affinityDeleted':
      m.blockAffinities = m.blockAffinities.filter((a) => !(a.node === change.node && a.cidr === change.cidr));
      return true;
    case 'blockUpdated':
      m.blocks = [...m.blocks.filter((b) => canonicalCIDR(b.cidr) !== change.block.cidr), change.block];
      return true;
    case 'blockDeleted':
      m.blocks = m.blocks.filter((b) => b.cidr !== change.cidr);
      return true;
    case 'allocationUpdated': {
      const found = containing(m.blocks, change.ip);
      if (!found) return false;
      const attributes = [...(found.block.attributes ?? [])];
      const allocations = [...(found.block.allocations ?? new Array(blockSize(found.block.cidr)).fill(null))];
      if (change.node === null) allocations[found.ord] = null;
      else {
        attributes.push({ secondary: { node: change.node } });
        allocations[found.ord] = attributes.length - 1;
      }
      m.blocks = m.blocks.map((b) => (b === found.block ? { ...b, allocations, attributes } : b));
      return true;
    }
    case 'workloadUpdated':
      m.workloadEndpoints = [...m.workloadEndpoints.filter((w) => w.metadata.name !== change.endpoint.metadata.name), change.endpoint];
      return true;
    case 'workloadDeleted':
      m.workloadEndpoints = m.workloadEndpoints.filter((w) => w.metadata.name !== change.name);
      return true;
    case 'felixConfigurationUpdated':
      m.felixConfigurations = [...m.felixConfigurations.filter((c) => c.metadata.name !== change.configuration.metadata.name), change.configuration];
      return true;
    case 'felixConfigurationDeleted':
      m.felixConfigurations = m.felixConfigurations.filter((c) => c.metadata.name !== change.name);
      return true;
    default:
      return true;
  }
}

function replay(routes: Map<string, Route>, deltas: RouteDeltas): void {
  for (const d of deltas.routes) {
    if (d.op === 'delete') {
      assert.ok(routes.has(d.entry.destination), `delete of unknown ${d.entry.destination}`);
      routes.delete(d.entry.destination);
    } else if (d.op === 'add') {
      assert.ok(!routes.has(d.entry.destination), `add of existing ${d.entry.destination}`);
      routes.set(d.entry.destination, d.entry);
    } else {
      assert.deepEqual(routes.get(d.entry.destination), d.previous);
      routes.set(d.entry.destination, d.entry);
    }
  }
}

const initialNode = (name: string, ipv4: string, vxlan: string, ipv6?: string, vxlan6?: string): Node => ({
  kind: 'Node',
  apiVersion: 'projectcalico.org/v3',
  metadata: { name },
  spec: {
    bgp: { ipv4Address: ipv4, ...(ipv6 ? { ipv6Address: ipv6 } : {}) },
    ipv4VXLANTunnelAddr: vxlan,
    ...(vxlan6 ? { ipv6VXLANTunnelAddr: vxlan6 } : {}),
    interfaces: [{ name: 'eth0', addresses: [ipv4.split('/')[0]!] }],
  },
});

describe('RouteCalculator property', () => {
  it('incremental == full recompute after random change sequences', () => {
    const seen = new Map<string, number>();
    const count = (what: string) => seen.set(what, (seen.get(what) ?? 0) + 1);
    fc.assert(
      fc.property(
        fc.constantFrom('v3.30', 'v3.31', 'v3.32', 'v3.34'),
        fc.boolean(),
        fc.array(arbChange, { minLength: 1, maxLength: 40 }),
        (calicoVersion, birdEnabled, changes) => {
          const options: RouteOptions = {
            calicoVersion,
            birdEnabled,
            resolveNextHop: (ip) => (ip.startsWith('10.20.') ? { gateway: '10.10.0.254', device: 'eth0' } : undefined),
          };
          const model = {
            pools: [
              { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'pool4' }, spec: { cidr: '10.0.0.0/16', ipipMode: 'Always' } },
              { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'pool6' }, spec: { cidr: 'fd00::/64', vxlanMode: 'Always', blockSize: 122 } },
            ] as IPPool[],
            nodes: [
              initialNode('n0', '10.10.0.1/24', '10.0.0.0', 'fd01::1/64', 'fd00::'),
              initialNode('n1', '10.10.0.2/24', '10.0.0.64', 'fd01::2/64', 'fd00::40'),
              initialNode('n2', '10.30.0.6/24', '10.0.1.0'),
            ],
            blocks: [] as SnapshotBlock[],
            blockAffinities: [
              { node: 'n0', cidr: '10.0.0.0/26', state: 'confirmed' },
              { node: 'n1', cidr: '10.0.0.64/26', state: 'confirmed' },
              { node: 'n2', cidr: '10.0.1.0/26', state: 'confirmed' },
              { node: 'n0', cidr: 'fd00::/122', state: 'confirmed' },
              { node: 'n1', cidr: 'fd00::40/122', state: 'confirmed' },
            ],
            workloadEndpoints: [] as WorkloadEndpoint[],
            felixConfigurations: [] as FelixConfiguration[],
          };
          const calc = new RouteCalculator(LOCAL, model, options);
          const replayed = new Map(calc.routes().map((r) => [r.destination, r]));
          for (const change of changes) {
            const accepted = applyToModel(model, change);
            if (!accepted) {
              assert.throws(() => calc.apply(change), { name: 'ResourceNotFoundError' });
              continue;
            }
            const deltas = calc.apply(change);
            replay(replayed, deltas);
            const full = computeRoutes(LOCAL, model, options);
            const incremental = calc.table();
            assert.deepEqual(incremental, full);
            for (const r of full.routes) count(`${r.kind}/${r.encap ?? '-'}/${r.programmer}/${r.family}`);
            for (const w of full.warnings) count(w.code);
            if (full.neighbors.length > 0) count('neighbors');
            for (const d of deltas.routes) count(`delta:${d.op}`);
            assert.deepEqual([...replayed.values()].sort((a, b) => (a.destination < b.destination ? -1 : 1)), [...full.routes].sort((a, b) => (a.destination < b.destination ? -1 : 1)));
          }
        },
      ),
      { numRuns: 1000 },
    );
    if (process.env.ROUTES_PROP_DEBUG) console.error(seen);
    // The generators must actually reach every case (otherwise the equality above proves little).
    for (const what of [
      'localWorkload/-/felix/4', 'localWorkload/-/felix/6', 'localBlock/-/bird/4', 'localBlock/-/felix/4', 'localBlock/-/felix/6',
      'remoteBlock/ipip/bird/4', 'remoteBlock/ipip/felix/4', 'remoteBlock/vxlan/felix/4', 'remoteBlock/vxlan/felix/6',
      'remoteBlock/none/felix/4', 'remoteBlock/none/bird/4', 'borrowed/vxlan/felix/4', 'borrowed/ipip/bird/4', 'remoteWorkload/',
      'neighbors', 'delta:add', 'delta:delete', 'delta:replace',
      'nodeNotFound', 'nodeAddressMissing', 'vtepMissing', 'blockOutsidePools', 'affinityMismatch', 'routeConflict', 'workloadAddressInvalid', 'ownerConflict', 'nextHopUnresolved',
    ]) {
      const hits = what.endsWith('/') ? [...seen].filter(([k]) => k.startsWith(what)).length : (seen.get(what) ?? 0);
      assert.ok(hits > 0, `the generated sequences never produced ${what}`);
    }
  });
});
