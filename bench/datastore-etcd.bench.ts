/**
 * The etcd datastore on a real etcd started here: create / get / CAS update / list throughput of
 * the backend, and a backend get + update cycle on an IPAM block compared with the raw etcd
 * get + CAS baseline (bench/etcd-baseline.ts) at concurrency 1, 16 and 64.
 */
import { existsSync } from 'node:fs';
import type { V3Object } from '@libcalico-ts/api';
import type { AllocationBlock, Datastore } from '@libcalico-ts/datastore';
import { createEtcdDatastore } from '@libcalico-ts/datastore-etcd';
import { startEtcd } from '../test/helpers/etcd.js';
import { measureEtcdCasBaseline } from './etcd-baseline.js';
import type { Bench, BenchRow } from './lib.js';

function pool(name: string, i: number): V3Object {
  return {
    kind: 'IPPool',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name, creationTimestamp: '2026-03-01T10:00:00Z', uid: '00000000-0000-4000-8000-000000000000' },
    spec: { cidr: `10.${i >> 8}.${i & 255}.0/24`, vxlanMode: 'Never', ipipMode: 'Always', natOutgoing: true, blockSize: 26, nodeSelector: 'all()', allowedUses: ['Workload', 'Tunnel'] },
  };
}

function block(cidr: string, sequenceNumber: bigint): AllocationBlock {
  return {
    cidr,
    affinity: 'host:node-1',
    affinityClaimTime: '2026-03-01T10:00:00Z',
    allocations: new Array<null>(64).fill(null),
    unallocated: Array.from({ length: 64 }, (_, i) => i),
    attributes: [],
    sequenceNumber,
    sequenceNumberForAllocation: {},
    deleted: false,
  };
}

/** Runs `worker(w, i)` on `concurrency` workers until `durationMs` passed; returns calls per second. */
async function rate(concurrency: number, durationMs: number, worker: (w: number, i: number) => Promise<void>): Promise<number> {
  let calls = 0;
  const start = performance.now();
  const until = start + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; performance.now() < until; i++) {
        await worker(w, i);
        calls++;
      }
    }),
  );
  return (calls / (performance.now() - start)) * 1000;
}

async function blockCycle(ds: Datastore, concurrency: number, durationMs: number): Promise<number> {
  const keys = Array.from({ length: concurrency }, (_, w) => ({ type: 'block', cidr: `10.200.${w}.0/26` }) as const);
  await Promise.all(keys.map((key) => ds.applyKV(key, block(key.cidr, 1772359200000000000n))));
  // One IPAM-like step per cycle: read the block, take an ordinal, CAS-write it back.
  const result = await rate(concurrency, durationMs, async (w) => {
    const key = keys[w]!;
    const current = await ds.getKV(key);
    const value = current.value;
    const ordinal = value.unallocated.shift() ?? 0;
    value.unallocated.push(ordinal);
    value.sequenceNumberForAllocation[String(ordinal)] = value.sequenceNumber;
    value.sequenceNumber += 1n;
    await ds.updateKV(key, value, current.revision);
  });
  await Promise.all(keys.map((key) => ds.deleteKV(key)));
  return result;
}

const bench: Bench = async (context) => {
  if (!existsSync(process.env.ETCD_BINARY ?? '/usr/bin/etcd')) throw new Error('etcd binary not found (install etcd-server or set ETCD_BINARY)');
  const durationMs = context.quick ? 400 : 2000;
  const server = await startEtcd();
  const ds = createEtcdDatastore({ endpoints: server.endpoints });
  const rows: BenchRow[] = [];
  try {
    const c = 16;
    const poolCount = context.quick ? 500 : 2000;
    // Fill: poolCount pools, 16 writers.
    await Promise.all(
      Array.from({ length: c }, async (_, w) => {
        for (let n = w; n < poolCount; n += c) await ds.createKV({ type: 'resource', kind: 'IPPool', name: `pool-${n}` }, pool(`pool-${n}`, n));
      }),
    );
    // Create throughput on fresh names for a fixed time.
    const createOps = await rate(c, durationMs, async (w, i) => {
      await ds.createKV({ type: 'resource', kind: 'IPPool', name: `extra-${w}-${i}` }, pool(`extra-${w}-${i}`, i));
    });
    rows.push({ name: `etcd datastore createKV (IPPool), concurrency ${c}`, value: createOps, unit: 'ops/s' });
    const getOps = await rate(c, durationMs, async (w, i) => {
      await ds.getKV({ type: 'resource', kind: 'IPPool', name: `pool-${(i * c + w) % poolCount}` });
    });
    rows.push({ name: `etcd datastore getKV (IPPool), concurrency ${c}`, value: getOps, unit: 'ops/s' });
    const revisions = await Promise.all(
      Array.from({ length: c }, (_, w) => ds.getKV({ type: 'resource', kind: 'IPPool', name: `pool-${w}` }).then((p) => p.revision)),
    );
    const updateOps = await rate(c, durationMs, async (w, i) => {
      const name = `pool-${w}`;
      const pair = await ds.updateKV({ type: 'resource', kind: 'IPPool', name }, pool(name, i), revisions[w]!);
      revisions[w] = pair.revision;
    });
    rows.push({ name: `etcd datastore updateKV CAS (IPPool), concurrency ${c}`, value: updateOps, unit: 'ops/s' });
    const listStart = performance.now();
    let lists = 0;
    let items = 0;
    while (performance.now() - listStart < durationMs) {
      items = (await ds.listKV({ type: 'resource', kind: 'IPPool' })).items.length;
      lists++;
    }
    const listMs = (performance.now() - listStart) / lists;
    rows.push({ name: `etcd datastore listKV of ${items} IPPools`, value: listMs, unit: 'ms/list' });
    rows.push({ name: `etcd datastore listKV items decoded`, value: (items / listMs) * 1000, unit: 'items/s' });

    for (const concurrency of [1, 16, 64]) {
      const baseline = await measureEtcdCasBaseline(server.endpoints, { concurrency, durationMs });
      rows.push({ name: `etcd raw get+CAS cycles, concurrency ${concurrency}`, value: baseline.cyclesPerSec, unit: 'cycles/s' });
      const cycles = await blockCycle(ds, concurrency, durationMs);
      rows.push({
        name: `etcd datastore block get+updateKV cycles, concurrency ${concurrency}`,
        value: cycles,
        unit: 'cycles/s',
        baseline: baseline.cyclesPerSec,
        ratio: cycles / baseline.cyclesPerSec,
      });
      context.log(`c=${concurrency}: raw ${baseline.cyclesPerSec.toFixed(0)}/s, datastore block cycle ${cycles.toFixed(0)}/s`);
    }
  } finally {
    await ds.close();
    await server.stop();
  }
  return rows;
};

export default bench;
