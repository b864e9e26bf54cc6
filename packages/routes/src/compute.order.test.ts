/**
 * The cold path sorts its facts itself (already-ordered input, ordered blocks plus a tail of
 * borrowed addresses, or a radix sort for any other order). Whatever order the datastore lists
 * blocks, affinities and workloads in, the table must be the same, and equal to the incremental
 * calculator's (which orders destinations by comparison, independently).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IPPool, Node, WorkloadEndpoint } from '@libcalico-ts/api';
import { computeRoutes, RouteCalculator, type ClusterSnapshot, type SnapshotBlock, type SnapshotBlockAffinity } from './index.js';

/** Small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const ip4 = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/**
 * 120 nodes in 3 subnets; per node two /26 blocks (10.x), one /28 (10.200.x) and one IPv6 /122;
 * borrowed addresses (`borrowRate` of allocations), blocks known only by affinity (`affinityRate`),
 * conflicting affinities, a deleted record, a duplicated record, a /32 block, some workloads.
 */
function cluster(random: () => number, borrowRate: number, affinityRate: number, workloads: number): ClusterSnapshot {
  const NODES = 120;
  const pools: IPPool[] = [
    { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'v4' }, spec: { cidr: '10.0.0.0/8', vxlanMode: 'CrossSubnet', ipipMode: 'Never' } },
    { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'v6' }, spec: { cidr: 'fd00::/48', vxlanMode: 'Always', blockSize: 122 } },
  ];
  const nodes: Node[] = [];
  const blocks: SnapshotBlock[] = [];
  const blockAffinities: SnapshotBlockAffinity[] = [];
  const workloadEndpoints: WorkloadEndpoint[] = [];
  const base = 10 << 24;
  for (let i = 0; i < NODES; i++) {
    const name = `node-${i}`;
    nodes.push({
      kind: 'Node',
      apiVersion: 'projectcalico.org/v3',
      metadata: { name },
      spec: {
        bgp: { ipv4Address: `172.16.${i % 3}.${i + 1}/24`, ipv6Address: `fd01::${(i + 1).toString(16)}/64` },
        ipv4VXLANTunnelAddr: ip4(base + i * 128),
        ipv6VXLANTunnelAddr: `fd00::${(i * 64).toString(16)}`,
        interfaces: [{ name: 'eth0', addresses: [`172.16.${i % 3}.${i + 1}`] }],
      },
    });
    for (const [cidr, size] of [
      [`${ip4(base + i * 128)}/26`, 64],
      [`${ip4(base + i * 128 + 64)}/26`, 64],
      [`${ip4(base + (200 << 16) + i * 16)}/28`, 16],
      [`fd00::${(i * 64).toString(16)}/122`, 64],
    ] as const) {
      const allocations: (number | null)[] = new Array(size).fill(null);
      const attributes: { secondary: Record<string, string> | null }[] = [];
      for (let ord = 0; ord < size; ord++) {
        if (random() < 0.5) continue;
        const borrowed = random() < borrowRate;
        attributes.push({ secondary: { node: borrowed ? `node-${Math.floor(random() * NODES)}` : name } });
        allocations[ord] = attributes.length - 1;
      }
      if (random() < affinityRate) {
        // No record: known through its affinities only (sometimes two nodes claim it).
        blockAffinities.push({ node: name, cidr, state: 'confirmed' });
        if (random() < 0.3) blockAffinities.push({ node: `node-${Math.floor(random() * NODES)}`, cidr, state: random() < 0.5 ? '' : 'pending' });
        continue;
      }
      blocks.push({ cidr, affinity: `host:${name}`, allocations, attributes });
      if (random() < affinityRate / 2) blockAffinities.push({ node: `node-${(i + 1) % NODES}`, cidr, state: 'confirmed' });
    }
  }
  blocks.push({ cidr: '10.0.0.0/26', affinity: 'host:node-7', allocations: [], attributes: [] }); // duplicate record
  blocks.push({ cidr: '10.0.1.64/26', affinity: 'host:node-2', deleted: true });
  blocks.push({ cidr: '10.250.0.9/32', affinity: 'host:node-3', allocations: [0], attributes: [{ secondary: { node: 'node-4' } }] });
  for (let w = 0; w < workloads; w++) {
    const local = w % 3 === 0;
    const node = local ? 'node-0' : `node-${1 + (w % 7)}`;
    workloadEndpoints.push({
      kind: 'WorkloadEndpoint',
      apiVersion: 'projectcalico.org/v3',
      metadata: { name: `w${w}`, namespace: 'default' },
      spec: { node, interfaceName: `cali${String(w).padStart(11, '0')}`, ipNetworks: [`${ip4(base + Math.floor(random() * 120 * 128))}/32`, ...(w % 5 === 0 ? [`fd00::${(w * 3).toString(16)}/128`] : [])] },
    });
  }
  return { pools, nodes, blocks, blockAffinities, workloadEndpoints };
}

/** Numeric order (IPv4 first): what the cold path can take as an ordered run. */
function numericOrder(blocks: readonly SnapshotBlock[]): SnapshotBlock[] {
  const key = (b: SnapshotBlock) => {
    const [address, prefix] = b.cidr.split('/');
    if (address!.includes(':')) return `6:${address!.split(':').map((g) => g.padStart(4, '0')).join(':')}/${prefix!.padStart(3, '0')}`;
    return `4:${address!.split('.').map((o) => o.padStart(3, '0')).join('.')}/${prefix!.padStart(3, '0')}`;
  };
  return [...blocks].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Blocks sorted by CIDR text, as etcd and Kubernetes list them (not numeric order). */
function textOrder(snapshot: ClusterSnapshot): ClusterSnapshot {
  return { ...snapshot, blocks: [...snapshot.blocks!].sort((a, b) => (a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0)) };
}

describe('computeRoutes in any listing order', () => {
  // Seed 3 has few borrowed addresses and few affinity-only blocks: numerically listed blocks then
  // take the "ordered run + short tail" path; the other listings take the radix sort.
  for (const [seed, borrowRate, affinityRate, workloads] of [[1, 1 / 12, 0.08, 30], [2, 1 / 12, 0.08, 30], [3, 1 / 1000, 0.01, 10]] as const) {
    it(`seed ${seed}: sorted, reversed, shuffled and text-ordered listings give one table, equal to the calculator's`, () => {
      const random = prng(seed);
      const snapshot = cluster(random, borrowRate, affinityRate, workloads);
      const numeric: ClusterSnapshot = { ...snapshot, blocks: numericOrder(snapshot.blocks!) };
      const options = { parentDevice: 'eth0' };
      const reference = computeRoutes('node-0', numeric, options);
      assert.ok(reference.routes.length > 400, `routes: ${reference.routes.length}`);
      const kinds = new Set(reference.routes.map((r) => `${r.kind}/${r.family}`));
      for (const kind of ['remoteBlock/4', 'remoteBlock/6', 'borrowed/4', 'borrowed/6', 'localBlock/4', 'localWorkload/4', 'localWorkload/6']) {
        assert.ok(kinds.has(kind), `the generated cluster has no ${kind} route`);
      }
      assert.ok(reference.warnings.some((w) => w.code === 'affinityMismatch'));
      // Routes are plain objects whatever path built them (a constructor is used for speed).
      for (const route of reference.routes) assert.equal(Object.getPrototypeOf(route), Object.prototype);
      const remote = reference.routes.find((r) => r.gateway !== undefined)!;
      assert.deepEqual(Object.keys(remote), ['destination', 'family', 'type', 'device', 'gateway', 'onlink', 'protocol', 'scope', 'metric', 'mtu', 'kind', 'encap', 'programmer', 'node']);
      const variants: [string, ClusterSnapshot][] = [
        ['as generated', snapshot],
        ['reversed', { ...snapshot, blocks: [...snapshot.blocks!].reverse(), blockAffinities: [...snapshot.blockAffinities!].reverse() }],
        ['shuffled', { ...snapshot, blocks: shuffled(snapshot.blocks!, random), blockAffinities: shuffled(snapshot.blockAffinities!, random), workloadEndpoints: shuffled(snapshot.workloadEndpoints!, random) }],
        ['text order', textOrder(snapshot)],
      ];
      for (const [name, variant] of variants) {
        const table = computeRoutes('node-0', variant, options);
        // Duplicate records of 10.0.0.0/26: the last one listed wins (with its borrowed addresses), so
        // when a listing reorders the duplicates only the rest of the table must be the same.
        const dupes = (s: ClusterSnapshot) => s.blocks!.filter((b) => b.cidr === '10.0.0.0/26').map((b) => b.affinity).join();
        if (dupes(variant) !== dupes(numeric)) {
          const outside = (r: { destination: string }) => !/^10\.0\.0\.([0-9]|[1-5][0-9]|6[0-3])\//.test(r.destination);
          assert.deepEqual(table.routes.filter(outside), reference.routes.filter(outside), name);
          assert.deepEqual(table.neighbors, reference.neighbors, name);
        } else {
          assert.deepEqual(table, reference, name);
        }
      }
      const calc = new RouteCalculator('node-0', numeric, options);
      const incremental = calc.table();
      assert.deepEqual(incremental.routes, reference.routes);
      assert.deepEqual(incremental.neighbors, reference.neighbors);
      assert.deepEqual(incremental.fdb, reference.fdb);
    });
  }
});
