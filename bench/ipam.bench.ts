/**
 * IPAM benchmarks.
 *
 * Call shape measured (the TARGET rows): pod-like — one `autoAssign({ num4: 1, handleId, hostname,
 * intendedUse: 'Workload' })` per pod, a new handle per call (`k8s-pod-network.<n>`), hosts taken
 * round-robin over 1,000 Nodes, one long-lived engine (`createIPAM`) on one datastore, one /8 pool of
 * /26 blocks, calls issued one after the other (memory) or by N concurrent workers (etcd).
 *
 * - memory: 10^3 / 10^4 / 10^5 addresses (and 10^6 without --quick), each size on a fresh
 *   datastore and engine after a warm-up; sizes below 2·10^4 are repeated on fresh datastores
 *   until 2·10^4 addresses were assigned, so each figure covers enough work to be stable.
 *   Targets: >= 300,000 addresses/s at every size, per-address cost flat within 25% across sizes.
 *   Extra rows (information, not targets): the same with num4=16 per call (batched), and the
 *   floor of bench/ipam-floor.ts at each size (a bare loop doing only what Calico's data model
 *   forces: the ceiling for any engine on this machine), and its contract floor (the same loop
 *   committing each address through the memory datastore's `transact`: the ceiling for any engine
 *   over the datastore contract).
 * - etcd (a real server started for the run): autoAssign/s with 1, 16 and 64 concurrent workers
 *   (worker w allocates for its own hosts), against the raw etcd get + compare-and-swap loop at the
 *   same concurrency in the same run (`bench/etcd-baseline.ts`); target ratio >= 0.5.
 */
import { existsSync } from 'node:fs';
import { createMemoryDatastore, type Datastore } from '@libcalico-ts/datastore';
import { createIPAM } from '@libcalico-ts/ipam';
import { measureEtcdCasBaseline } from './etcd-baseline.js';
import { contractFloorRun, floorRun } from './ipam-floor.js';
import { fullGC, targetRow, type Bench, type BenchContext, type BenchRow } from './lib.js';

const HOSTS = 1000;
const MIN_ADDRESSES_PER_FIGURE = 20_000;

async function seed(ds: Datastore, hosts: string[], poolCidr: string): Promise<void> {
  await ds.createKV(
    { type: 'resource', kind: 'IPPool', name: 'bench-pool' },
    { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'bench-pool' }, spec: { cidr: poolCidr, blockSize: 26 } } as never,
  );
  for (const name of hosts) {
    await ds.createKV(
      { type: 'resource', kind: 'Node', name },
      { kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name }, spec: {}, status: {} } as never,
    );
  }
}

const HOST_NAMES = Array.from({ length: HOSTS }, (_, h) => `node-${h}`);

/** Assigns `total` addresses (`perCall` per autoAssign) on a fresh memory datastore; returns the seconds spent in autoAssign. */
async function memoryRun(total: number, perCall: number): Promise<number> {
  const ds = createMemoryDatastore({ historyLimit: 0 });
  await seed(ds, HOST_NAMES, '10.0.0.0/8');
  const ipam = createIPAM(ds, { maxRetryJitterMs: 0 });
  const calls = Math.ceil(total / perCall);
  const start = performance.now();
  for (let i = 0; i < calls; i++) {
    const r = await ipam.autoAssign({ num4: perCall, hostname: HOST_NAMES[i % HOSTS]!, intendedUse: 'Workload', handleId: `k8s-pod-network.c${i}` });
    if (r.ipv4!.ips.length !== perCall) throw new Error(`assignment ${i} got ${r.ipv4!.ips.length} of ${perCall} addresses`);
  }
  const seconds = (performance.now() - start) / 1000;
  await ds.close();
  return seconds;
}

/** Addresses per second for `size` addresses (repeated on fresh datastores up to the minimum work). */
async function memoryRate(size: number, perCall: number): Promise<number> {
  return rate(size, () => memoryRun(size, perCall));
}

/**
 * Addresses per second of `run` (`size` addresses a run), repeated up to the minimum work. Each
 * figure starts on a collected heap, so no figure pays for the garbage of the one before.
 */
async function rate(size: number, run: () => Promise<number>): Promise<number> {
  fullGC();
  const repeats = Math.max(1, Math.ceil(MIN_ADDRESSES_PER_FIGURE / size));
  let seconds = 0;
  for (let r = 0; r < repeats; r++) seconds += await run();
  return (size * repeats) / seconds;
}

async function etcdRows(context: BenchContext): Promise<BenchRow[]> {
  if (!existsSync('/usr/bin/etcd') && !process.env.ETCD_BINARY) {
    context.log('ipam: etcd binary not found; etcd rows skipped');
    return [];
  }
  const mod = (await import('@libcalico-ts/datastore-etcd')) as Record<string, unknown>;
  const createEtcd = mod.createEtcdDatastore as ((o: { endpoints: string[] }) => Datastore) | undefined;
  if (typeof createEtcd !== 'function') return [];
  const { startEtcd } = await import('../test/helpers/etcd.js');
  const server = await startEtcd();
  const rows: BenchRow[] = [];
  const durationMs = context.quick ? 2000 : 5000;
  // Four hosts per worker (64 workers -> 256 Nodes), so no host reaches its block limit.
  const hostsPerWorker = 4;
  const hosts = Array.from({ length: 64 * hostsPerWorker }, (_, h) => `node-${h}`);
  try {
    const ds = createEtcd({ endpoints: server.endpoints });
    await seed(ds, hosts, '10.0.0.0/8');
    for (const concurrency of [1, 16, 64]) {
      const baseline = (await measureEtcdCasBaseline(server.endpoints, { concurrency, durationMs })).cyclesPerSec;
      const ipam = createIPAM(ds, { maxRetryJitterMs: 2 });
      let assigned = 0;
      let counting = false;
      const worker = async (w: number, until: number) => {
        for (let i = 0; performance.now() < until; i++) {
          const host = hosts[w + 64 * (i % hostsPerWorker)]!;
          const r = await ipam.autoAssign({ num4: 1, hostname: host, intendedUse: 'Workload', handleId: `k8s-pod-network.c${concurrency}-${w}-${i}-${until}` });
          if (counting) assigned += r.ipv4!.ips.length;
        }
      };
      const warmUntil = performance.now() + Math.min(300, durationMs / 4);
      await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w, warmUntil)));
      counting = true;
      const start = performance.now();
      await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w, start + durationMs)));
      const rate = assigned / ((performance.now() - start) / 1000);
      const ratio = rate / baseline;
      rows.push(
        targetRow(`ipam etcd autoAssign/s (num4=1, handle per call), concurrency ${concurrency}`, rate, 'ops/s', '>=', 0, {
          baseline,
          ratio,
          target: '>= 0.5 (ratio)',
          met: ratio >= 0.5,
        }),
      );
      context.log(`ipam etcd c=${concurrency}: ${rate.toFixed(0)}/s vs get+CAS ${baseline.toFixed(0)}/s (ratio ${ratio.toFixed(2)})`);
    }
    await ds.close();
  } finally {
    await server.stop();
  }
  return rows;
}

/** How much the slowest per-address cost exceeds the fastest (0.25 = 25%). */
function spreadOf(rates: readonly number[]): number {
  const perAddress = rates.map((r) => 1 / r);
  return Math.max(...perAddress) / Math.min(...perAddress) - 1;
}

const bench: Bench = async (context) => {
  const sizes = context.quick ? [1_000, 10_000, 100_000] : [1_000, 10_000, 100_000, 1_000_000];
  const rows: BenchRow[] = [];
  const rates: number[] = [];
  // Warm-up: JIT and the per-host walk starts (a pure function of pool and hostname, memoised).
  for (let w = 0; w < 3; w++) await memoryRun(10_000, 1);
  for (const n of sizes) {
    const rate = await memoryRate(n, 1);
    rates.push(rate);
    context.log(`ipam memory ${n}: ${rate.toFixed(0)} addresses/s (heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB)`);
    rows.push(targetRow(`ipam memory autoAssign (num4=1, handle per call, ${HOSTS} hosts round-robin), ${n.toLocaleString('en-US')} addresses`, rate, 'addr/s', '>=', 300_000));
  }
  const spread = spreadOf(rates);
  rows.push(targetRow('ipam memory per-address cost spread across sizes', spread * 100, '%', '<=', 25));
  // The floor (bench/ipam-floor.ts): only what Calico's data model forces, no engine at all.
  for (let w = 0; w < 3; w++) await floorRun(10_000, HOST_NAMES);
  const floors: number[] = [];
  for (const n of sizes) {
    const floor = await rate(n, () => floorRun(n, HOST_NAMES));
    floors.push(floor);
    context.log(`ipam memory floor ${n}: ${floor.toFixed(0)} addresses/s`);
    rows.push({ name: `ipam memory floor: bare loop on Calico's data model, no checks (information), ${n.toLocaleString('en-US')} addresses`, value: floor, unit: 'addr/s' });
  }
  rows.push({ name: 'ipam memory floor: per-address cost spread across sizes (information)', value: spreadOf(floors) * 100, unit: '%' });
  // The contract floor: the same loop committing through the memory datastore's transact.
  for (let w = 0; w < 3; w++) await contractFloorRun(10_000, HOST_NAMES);
  const contractFloors: number[] = [];
  for (const n of sizes) {
    const floor = await rate(n, () => contractFloorRun(n, HOST_NAMES));
    contractFloors.push(floor);
    context.log(`ipam memory contract floor ${n}: ${floor.toFixed(0)} addresses/s`);
    rows.push({ name: `ipam memory contract floor: the bare loop through the memory datastore's transact (information), ${n.toLocaleString('en-US')} addresses`, value: floor, unit: 'addr/s' });
  }
  rows.push({ name: 'ipam memory contract floor: per-address cost spread across sizes (information)', value: spreadOf(contractFloors) * 100, unit: '%' });
  // The engine against that ceiling, size by size (the share of the best any engine over the contract could do).
  sizes.forEach((n, i) => {
    const ratio = rates[i]! / contractFloors[i]!;
    rows.push({ name: `ipam memory autoAssign / contract floor (information), ${n.toLocaleString('en-US')} addresses`, value: ratio, unit: 'x', baseline: contractFloors[i]!, ratio });
  });
  const batched = await memoryRate(100_000, 16);
  context.log(`ipam memory batched num4=16: ${batched.toFixed(0)} addresses/s`);
  rows.push({ name: 'ipam memory autoAssign batched (num4=16 per call; information, not the target), 100,000 addresses', value: batched, unit: 'addr/s' });
  rows.push(...(await etcdRows(context)));
  return rows;
};

export default bench;
