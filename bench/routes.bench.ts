/**
 * Route computation on a 5,000-node / 20,000-block / 100,000-workload cluster with 1% borrowed
 * addresses (VXLAN CrossSubnet pool, nodes in 20 subnets). Targets: one node's table cold
 * < 50 ms; one change applied by the incremental calculator < 0.1 ms at p99. Memory reported.
 *
 * What is measured: `computeRoutes` as `bench/run.ts` resolves `@libcalico-ts/routes` (with
 * `--conditions=source`: the TypeScript sources through tsx) — the target row — and, when
 * `packages/routes/dist` is built and newer than the sources, the built package users import
 * (same target, for comparison). Every call is cold: nothing is cached between calls (no
 * per-snapshot or per-name memo); the snapshot construction is not timed. Wall time on a shared
 * host includes waiting for a CPU, so the process CPU time per call (main thread plus GC
 * helper threads) is reported too. "Datastore order" lists the blocks by CIDR text, as etcd
 * and Kubernetes return them, instead of numerically.
 */
import type { IPPool, Node, WorkloadEndpoint } from '@libcalico-ts/api';
import { computeRoutes, RouteCalculator, type ClusterSnapshot, type RouteChange, type SnapshotBlock } from '@libcalico-ts/routes';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fullGC, targetRow } from './lib.js';
import type { Bench, BenchRow } from './lib.js';

const NODES = 5000;
const BLOCKS_PER_NODE = 4;
const WORKLOADS_PER_NODE = 20;

function ipOf(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
const POOL_BASE = 10 << 24; // 10.0.0.0/8

function blockBase(block: number): number {
  return POOL_BASE + block * 64;
}
function nodeIP(i: number): string {
  // 250 nodes per /24 subnet: 20 subnets.
  return `172.16.${Math.floor(i / 250)}.${(i % 250) + 1}/24`;
}

function buildCluster(): ClusterSnapshot {
  const pools: IPPool[] = [
    { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'default-ipv4-ippool' }, spec: { cidr: '10.0.0.0/8', vxlanMode: 'CrossSubnet', ipipMode: 'Never', blockSize: 26 } },
  ];
  const nodes: Node[] = [];
  const blocks: SnapshotBlock[] = [];
  const workloadEndpoints: WorkloadEndpoint[] = [];
  for (let i = 0; i < NODES; i++) {
    const first = i * BLOCKS_PER_NODE;
    nodes.push({
      kind: 'Node',
      apiVersion: 'projectcalico.org/v3',
      metadata: { name: `node-${i}` },
      spec: { bgp: { ipv4Address: nodeIP(i) }, ipv4VXLANTunnelAddr: ipOf(blockBase(first)), interfaces: [{ name: 'eth0', addresses: [nodeIP(i).split('/')[0]!] }] },
    });
    for (let b = 0; b < BLOCKS_PER_NODE; b++) {
      const allocations: (number | null)[] = new Array(64).fill(null);
      if (b === 0) allocations[0] = 0; // tunnel address
      blocks.push({ cidr: `${ipOf(blockBase(first + b))}/26`, affinity: `host:node-${i}`, allocations, attributes: [{ secondary: { node: `node-${i}`, type: 'vxlanTunnelAddress' } }] });
    }
  }
  // Workloads: 20 per node in its first block (ordinals 1..20); 1% borrow from the next node's block 1.
  let k = 0;
  for (let i = 0; i < NODES; i++) {
    for (let w = 0; w < WORKLOADS_PER_NODE; w++, k++) {
      const borrowed = k % 100 === 0;
      const owner = borrowed ? (i + 1) % NODES : i;
      const blockIndex = owner * BLOCKS_PER_NODE + (borrowed ? 1 : 0);
      const block = blocks[blockIndex]!;
      const ord = borrowed ? 1 + Math.floor(w / 1) : 1 + w;
      const attrs = block.attributes as { secondary: Record<string, string> }[];
      attrs.push({ secondary: { node: `node-${i}`, pod: `pod-${k}`, namespace: 'default' } });
      (block.allocations as (number | null)[])[ord] = attrs.length - 1;
      workloadEndpoints.push({
        kind: 'WorkloadEndpoint',
        apiVersion: 'projectcalico.org/v3',
        metadata: { name: `node--${i}-k8s-pod--${k}-eth0`, namespace: 'default' },
        spec: { node: `node-${i}`, pod: `pod-${k}`, endpoint: 'eth0', interfaceName: `cali${k.toString(16).padStart(11, '0')}`, ipNetworks: [`${ipOf(blockBase(blockIndex) + ord)}/32`] },
      });
    }
  }
  return { pools, nodes, blocks, workloadEndpoints, blockAffinities: [] };
}

/** A full GC before each heap reading, so the memory rows measure retained size (not garbage). */
function heapUsedAfterGC(): number {
  fullGC();
  return process.memoryUsage().heapUsed;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function changes(count: number): RouteChange[] {
  const out: RouteChange[] = [];
  const extraBase = blockBase(NODES * BLOCKS_PER_NODE + 10);
  for (let c = 0; c < count; c++) {
    const i = 1 + (c % (NODES - 1));
    switch (c % 6) {
      case 0: // remote node readdressed (moves subnet: all its routes change encapsulation)
        out.push({ type: 'nodeUpdated', node: { kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name: `node-${i}` }, spec: { bgp: { ipv4Address: nodeIP((i + 250 * (1 + (c % 3))) % NODES) }, ipv4VXLANTunnelAddr: ipOf(blockBase(i * BLOCKS_PER_NODE)) } } });
        break;
      case 1: // a remote node claims a new block
        out.push({ type: 'affinityUpdated', affinity: { node: `node-${i}`, cidr: `${ipOf(extraBase + (c % 5000) * 64)}/26`, state: 'confirmed' } });
        break;
      case 2: // and releases it
        out.push({ type: 'affinityDeleted', node: `node-${i}`, cidr: `${ipOf(extraBase + ((c - 1) % 5000) * 64)}/26` });
        break;
      case 3: // a local workload added
        out.push({ type: 'workloadUpdated', endpoint: { kind: 'WorkloadEndpoint', apiVersion: 'projectcalico.org/v3', metadata: { name: `bench-${c % 30}`, namespace: 'default' }, spec: { node: 'node-0', interfaceName: `calib${String(c % 30).padStart(10, '0')}`, ipNetworks: [`${ipOf(blockBase(2) + (c % 30))}/32`] } } });
        break;
      case 4: // a borrowed address appears in a remote block
        out.push({ type: 'allocationUpdated', ip: ipOf(blockBase(i * BLOCKS_PER_NODE + 3) + (c % 64)), node: `node-${(i + 7) % NODES}` });
        break;
      default: // and is released
        out.push({ type: 'allocationUpdated', ip: ipOf(blockBase(i * BLOCKS_PER_NODE + 3) + ((c - 1) % 64)), node: null });
    }
  }
  return out;
}

/**
 * Wall milliseconds and process CPU milliseconds per call of `fn`, over at least `minMs`, after
 * a warm-up of a quarter of that (compiled code, and a heap that has settled after the 88 MiB
 * snapshot was built: otherwise the first row measured pays the heap's growth).
 */
function measureCold(fn: () => void, minMs: number): { wallMs: number; cpuMs: number } {
  const warmUntil = performance.now() + minMs / 4;
  do fn();
  while (performance.now() < warmUntil);
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let calls = 0;
  do {
    fn();
    calls++;
  } while (performance.now() - start < minMs);
  const wall = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs: wall / calls, cpuMs: (cpu.user + cpu.system) / 1000 / calls };
}

/** The built package, when `dist/index.js` exists and is newer than every source file; else undefined and why. */
async function builtPackage(): Promise<{ computeRoutes?: typeof computeRoutes; reason?: string }> {
  const root = fileURLToPath(new URL('../packages/routes/', import.meta.url));
  const dist = join(root, 'dist', 'index.js');
  let built: number;
  try {
    built = statSync(dist).mtimeMs;
  } catch {
    return { reason: 'packages/routes/dist is not built (npm run build -w packages/routes)' };
  }
  const newest = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : e.name.endsWith('.test.ts') ? 0 : statSync(join(dir, e.name)).mtimeMs)));
  if (newest(join(root, 'src')) > built) return { reason: 'packages/routes/dist is older than src (npm run build -w packages/routes)' };
  const mod = (await import(pathToFileURL(dist).href)) as { computeRoutes: typeof computeRoutes };
  return { computeRoutes: mod.computeRoutes };
}

const bench: Bench = async ({ quick, log }) => {
  const heap0 = heapUsedAfterGC();
  const snapshot = buildCluster();
  const heapSnapshot = heapUsedAfterGC() - heap0;
  const table = computeRoutes('node-0', snapshot);
  log(`node-0: ${table.routes.length} routes, ${table.neighbors.length} neighbours, ${table.warnings.length} warnings`);
  if (table.routes.length < NODES * BLOCKS_PER_NODE) throw new Error(`unexpectedly small table: ${table.routes.length} routes`);
  const minMs = quick ? 1000 : 4000;
  const cold = measureCold(() => computeRoutes('node-0', snapshot), minMs);
  const byText = (a: SnapshotBlock, b: SnapshotBlock) => (a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0);
  const datastoreOrder: ClusterSnapshot = { ...snapshot, blocks: [...snapshot.blocks!].sort(byText) };
  const coldDatastoreOrder = measureCold(() => computeRoutes('node-0', datastoreOrder), minMs);
  const built = await builtPackage();
  let coldBuilt: { wallMs: number; cpuMs: number } | undefined;
  if (built.computeRoutes) {
    const fn = built.computeRoutes;
    if (JSON.stringify(fn('node-0', snapshot)) !== JSON.stringify(table)) throw new Error('the built package computes a different table than the sources');
    coldBuilt = measureCold(() => fn('node-0', snapshot), minMs);
  } else {
    log(`no built-package row: ${built.reason}`);
  }

  const heap1 = heapUsedAfterGC();
  const t0 = performance.now();
  const calc = new RouteCalculator('node-0', snapshot);
  const buildMs = performance.now() - t0;
  const heapCalc = heapUsedAfterGC() - heap1;

  const list = changes(quick ? 12_000 : 60_000);
  const warm = Math.floor(list.length / 6);
  const times: number[] = [];
  let deltas = 0;
  for (let c = 0; c < list.length; c++) {
    const start = performance.now();
    const d = calc.apply(list[c]!);
    const end = performance.now();
    deltas += d.routes.length;
    if (c >= warm) times.push((end - start) * 1000);
  }
  times.sort((a, b) => a - b);
  log(`${list.length} changes, ${deltas} route deltas`);
  const rows: BenchRow[] = [
    targetRow('routes: one node table cold (5k nodes, 20k blocks, 100k workloads)', cold.wallMs, 'ms', '<', 50),
    { name: 'routes: one node table cold, process CPU per call', value: cold.cpuMs, unit: 'ms' },
    { name: 'routes: one node table cold, blocks in datastore order', value: coldDatastoreOrder.wallMs, unit: 'ms' },
    ...(coldBuilt
      ? [
          targetRow('routes: one node table cold, built package (dist)', coldBuilt.wallMs, 'ms', '<', 50),
          { name: 'routes: one node table cold, built package, process CPU per call', value: coldBuilt.cpuMs, unit: 'ms' },
        ]
      : []),
    targetRow('routes: one change applied, p99', percentile(times, 99), 'us', '<', 100),
    { name: 'routes: one change applied, p50', value: percentile(times, 50), unit: 'us' },
    { name: 'routes: RouteCalculator build from snapshot', value: buildMs, unit: 'ms' },
    { name: 'routes: snapshot heap (5k nodes, 20k blocks, 100k WEPs)', value: heapSnapshot / 2 ** 20, unit: 'MiB' },
    { name: 'routes: RouteCalculator heap', value: heapCalc / 2 ** 20, unit: 'MiB' },
  ];
  return rows;
};

export default bench;
