/**
 * IPAM benchmarks.
 * - memory: autoAssign (1 address per call, like a CNI ADD) round-robin over 1,000 hosts until
 *   10^3 / 10^4 / 10^5 / 10^6 addresses are assigned (10^6 skipped with --quick); target
 *   >= 300,000 addresses/s and per-address cost flat within 25% across sizes.
 * - etcd (real server): autoAssign/s at concurrency 1, 16, 64 versus a raw get + CAS cycle loop on
 *   one key per worker at the same concurrency, in the same run; target ratio >= 0.5.
 */
import { existsSync } from 'node:fs';
import { createMemoryDatastore, type Datastore } from '@libcalico-ts/datastore';
import { createIPAM } from '@libcalico-ts/ipam';
import { targetRow, type Bench, type BenchRow } from './lib.js';

const HOSTS = 1000;

async function seed(ds: Datastore, hosts: number, poolCidr: string): Promise<void> {
  await ds.createKV(
    { type: 'resource', kind: 'IPPool', name: 'bench-pool' },
    { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'bench-pool' }, spec: { cidr: poolCidr, blockSize: 26 } } as never,
  );
  for (let h = 0; h < hosts; h++) {
    await ds.createKV(
      { type: 'resource', kind: 'Node', name: `node-${h}` },
      { kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name: `node-${h}` }, spec: {}, status: {} } as never,
    );
  }
}

async function memoryRun(total: number): Promise<number> {
  const ds = createMemoryDatastore({ historyLimit: 0 });
  await seed(ds, HOSTS, '10.0.0.0/8');
  const ipam = createIPAM(ds, { maxRetryJitterMs: 0 });
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const r = await ipam.autoAssign({ num4: 1, hostname: `node-${i % HOSTS}`, intendedUse: 'Workload', handleId: `k8s-pod-network.c${i}` });
    if (r.ipv4!.ips.length !== 1) throw new Error(`assignment ${i} failed`);
  }
  const seconds = (performance.now() - start) / 1000;
  await ds.close();
  return total / seconds;
}

async function etcdRows(context: Parameters<Bench>[0]): Promise<BenchRow[]> {
  if (!existsSync('/usr/bin/etcd') && !process.env.ETCD_BINARY) {
    context.log('ipam: etcd binary not found; etcd rows skipped');
    return [];
  }
  const mod = (await import('@libcalico-ts/datastore-etcd')) as Record<string, unknown>;
  const createEtcd = mod.createEtcdDatastore as ((o: { endpoints: string[] }) => Datastore) | undefined;
  if (typeof createEtcd !== 'function') return [];
  const { startEtcd } = await import('../test/helpers/etcd.js');
  const { Etcd3 } = await import('etcd3');
  const server = await startEtcd();
  const rows: BenchRow[] = [];
  const seconds = context.quick ? 2 : 5;
  try {
    const ds = createEtcd({ endpoints: server.endpoints });
    await seed(ds, 64, '10.0.0.0/8');
    const raw = new Etcd3({ hosts: server.endpoints });
    for (const concurrency of [1, 16, 64]) {
      // Baseline: each worker reads a key and writes it back conditioned on its mod revision.
      let cycles = 0;
      const deadline = performance.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: concurrency }, async (_, w) => {
          const key = `/bench/cas/${w}`;
          await raw.put(key).value('0');
          while (performance.now() < deadline) {
            const res = await raw.get(key).exec();
            const kv = res.kvs[0]!;
            await raw.if(key, 'Mod', '==', kv.mod_revision).then(raw.put(key).value(String(Number(kv.value.toString()) + 1))).commit();
            cycles++;
          }
        }),
      );
      const baseline = cycles / seconds;
      // IPAM: each worker is a CNI ADD on its own host (one engine per worker, shared client).
      const ipam = createIPAM(ds, { maxRetryJitterMs: 2 });
      let assigned = 0;
      const deadline2 = performance.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: concurrency }, async (_, w) => {
          let i = 0;
          while (performance.now() < deadline2) {
            const r = await ipam.autoAssign({ num4: 1, hostname: `node-${w}`, intendedUse: 'Workload', handleId: `c${concurrency}-${w}-${i++}` });
            assigned += r.ipv4!.ips.length;
          }
        }),
      );
      const rate = assigned / seconds;
      const ratio = rate / baseline;
      rows.push(
        targetRow(`ipam etcd autoAssign/s, concurrency ${concurrency}`, rate, 'ops/s', '>=', 0, { baseline, ratio, target: '>= 0.5 (ratio)', met: ratio >= 0.5 }),
      );
      context.log(`ipam etcd c=${concurrency}: ${rate.toFixed(0)}/s vs get+CAS ${baseline.toFixed(0)}/s`);
    }
    raw.close();
    await ds.close();
  } finally {
    await server.stop();
  }
  return rows;
}

const bench: Bench = async (context) => {
  const sizes = context.quick ? [1_000, 10_000, 100_000] : [1_000, 10_000, 100_000, 1_000_000];
  const rows: BenchRow[] = [];
  const rates: number[] = [];
  await memoryRun(2_000); // warm-up (JIT, per-host walk start cache)
  for (const n of sizes) {
    const rate = await memoryRun(n);
    rates.push(rate);
    context.log(`ipam memory ${n}: ${rate.toFixed(0)} addresses/s`);
    rows.push(targetRow(`ipam memory autoAssign, ${HOSTS} hosts, ${n} addresses`, rate, 'addr/s', '>=', 300_000));
  }
  const perAddress = rates.map((r) => 1 / r);
  const spread = Math.max(...perAddress) / Math.min(...perAddress) - 1;
  rows.push(targetRow('ipam memory per-address cost spread across sizes', spread * 100, '%', '<=', 25));
  rows.push(...(await etcdRows(context)));
  return rows;
};

export default bench;
