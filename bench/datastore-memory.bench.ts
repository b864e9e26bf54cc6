/**
 * The in-memory datastore: create / get / update (CAS) / list / transact operations per second.
 * Values are an IPAM handle (small) and a /26 allocation block (64 ordinals, bigint sequence numbers),
 * since IPAM is the hottest user of the datastore.
 */
import { createMemoryDatastore, type AllocationBlock, type BlockKey, type HandleKey } from '@libcalico-ts/datastore';
import { measureAsync, type Bench, type BenchRow } from './lib.js';

function blockValue(cidr: string): AllocationBlock {
  const allocations: (number | null)[] = new Array(64).fill(null);
  for (let i = 0; i < 32; i++) allocations[i] = i % 4;
  return {
    cidr,
    affinity: 'host:node-1',
    affinityClaimTime: '2026-03-01T10:00:00Z',
    allocations,
    unallocated: Array.from({ length: 32 }, (_, i) => 32 + i),
    attributes: [0, 1, 2, 3].map((i) => ({ handleId: `k8s-pod-network.${i}`, secondary: { node: 'node-1', pod: `p${i}`, namespace: 'default' } })),
    sequenceNumber: 1_800_000_000_000_000_000n,
    sequenceNumberForAllocation: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [String(i), 1_800_000_000_000_000_000n + BigInt(i)])),
    deleted: false,
  };
}

const bench: Bench = async ({ quick, log }) => {
  const minMs = quick ? 150 : 600;
  const rows: BenchRow[] = [];
  const ds = createMemoryDatastore({ historyLimit: 1000 });
  const batch = 100;

  let n = 0;
  log('createKV (handle)');
  const create = await measureAsync(
    async () => {
      for (let i = 0; i < batch; i++) await ds.createKV({ type: 'handle', handleId: `h-${n++}` }, { block: { '10.0.0.0/26': 1 }, deleted: false });
    },
    { minMs, batch },
  );
  rows.push({ name: 'memory datastore createKV (handle)', value: create.opsPerSec, unit: 'ops/s' });

  log('getKV (handle)');
  const total = n;
  let g = 0;
  const get = await measureAsync(
    async () => {
      for (let i = 0; i < batch; i++) await ds.getKV({ type: 'handle', handleId: `h-${g++ % total}` });
    },
    { minMs, batch },
  );
  rows.push({ name: 'memory datastore getKV (handle)', value: get.opsPerSec, unit: 'ops/s' });

  log('updateKV CAS (block /26)');
  const key: BlockKey = { type: 'block', cidr: '10.0.0.0/26' };
  const value = blockValue(key.cidr);
  let revision = (await ds.createKV(key, value)).revision;
  const update = await measureAsync(
    async () => {
      for (let i = 0; i < batch; i++) revision = (await ds.updateKV(key, value, revision)).revision;
    },
    { minMs, batch },
  );
  rows.push({ name: 'memory datastore updateKV CAS (block /26)', value: update.opsPerSec, unit: 'ops/s' });

  log('transact block + handle');
  const handleKey: HandleKey = { type: 'handle', handleId: 'txn-handle' };
  let handleRevision = (await ds.createKV(handleKey, { block: {}, deleted: false })).revision;
  const txn = await measureAsync(
    async () => {
      for (let i = 0; i < batch; i++) {
        const result = await ds.transact(
          [
            { key, revision },
            { key: handleKey, revision: handleRevision },
          ],
          [
            { op: 'put', key, value },
            { op: 'put', key: handleKey, value: { block: { [key.cidr]: i }, deleted: false } },
          ],
        );
        revision = result.results[0]!.revision!;
        handleRevision = result.results[1]!.revision!;
      }
    },
    { minMs, batch },
  );
  rows.push({ name: 'memory datastore transact (block + handle)', value: txn.opsPerSec, unit: 'txn/s' });

  log('listKV (1,000 handles)');
  const listStore = createMemoryDatastore();
  for (let i = 0; i < 1000; i++) await listStore.createKV({ type: 'handle', handleId: `l-${i}` }, { block: { '10.0.0.0/26': 1 }, deleted: false });
  const list = await measureAsync(
    async () => {
      await listStore.listKV({ type: 'handle' });
    },
    { minMs },
  );
  rows.push({ name: 'memory datastore listKV (1,000 handles)', value: list.opsPerSec, unit: 'lists/s' });
  rows.push({ name: 'memory datastore listKV items/s', value: list.opsPerSec * 1000, unit: 'items/s' });
  await ds.close();
  await listStore.close();
  return rows;
};

export default bench;
