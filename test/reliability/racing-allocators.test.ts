// Racing allocators, ten times upstream's racing test at full size, on real etcd and on memory.
//
// Size: CI-sized by default (inside `npm test`). Set LIBCALICO_RELIABILITY_FULL=1 for full size:
//   claim race   CI: 64 hosts for 32 blocks, 3 seeds        full: 320 hosts for 160 blocks, 8 seeds (etcd 3)
//   fill race    CI: 16 workers x 200 addresses, 3 seeds    full: 64 workers x 10,000 addresses, 8 seeds (etcd 2)
//   shared host  CI: 8 workers x 100 addresses on 2 hosts   full: 32 workers x 1,000 on 4 hosts
//
// One worker per host in the fill race, as Calico runs: its CNI plugin serialises a host's IPAM
// calls with a lock file, and so does the engine's contract (two concurrent autoAssigns on ONE
// host can fail with 'Block ... has 0 free ips' when the other fills the block it just found,
// exactly as upstream). The shared-host test covers that case separately: failures are typed
// and the datastore stays consistent.
//
// Every engine is a separate IPAM instance (on etcd: spread over separate client connections),
// as separate processes would be. After each run the IPAM health check (ipam.check() plus the
// affinity state machine) must find nothing: no address twice, exactly one confirmed affinity
// per owned block, handle counts equal to the allocations; and every acknowledged allocation
// is still held by its handle.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryDatastore, type Datastore } from '@libcalico-ts/datastore';
import { createIPAM, type IPAM } from '@libcalico-ts/ipam';
import { seededRandom } from '@libcalico-ts/ipam/testing';
import {
  AllocationLedger,
  FULL,
  assertHealthyIPAM,
  bareIP,
  rng,
  seed as put,
  shuffled,
  sized,
  startEtcdFixture,
  type EtcdFixture,
} from '../helpers/reliability.js';

interface Backend {
  name: string;
  /** Fresh empty data; `clients` datastores sharing it (one per simulated process group). */
  fresh(clients: number): Promise<Datastore[]>;
}

const CLAIM = sized({ hosts: 64, seeds: [1, 2, 3], etcdSeeds: [1, 2, 3] }, { hosts: 320, seeds: [1, 2, 3, 4, 5, 6, 7, 8], etcdSeeds: [1, 2, 3] });
const FILL = sized(
  { workers: 16, perWorker: 200, hosts: 16, seeds: [11, 12, 13], etcdSeeds: [11, 12, 13], pool: '10.64.0.0/19', blockSize: 26 },
  { workers: 64, perWorker: 10_000, hosts: 64, seeds: [11, 12, 13, 14, 15, 16, 17, 18], etcdSeeds: [11, 12], pool: '10.64.0.0/12', blockSize: 22 },
);
const SHARED = sized({ workers: 8, perWorker: 100, hosts: 2 }, { workers: 32, perWorker: 1000, hosts: 4 });
const ETCD_CLIENTS = 8;

function memory(atomicTransactions: boolean): Backend {
  return {
    name: `memory (${atomicTransactions ? 'atomic' : 'two-write'})`,
    async fresh(clients) {
      const ds = createMemoryDatastore({ atomicTransactions });
      return Array.from({ length: clients }, () => ds);
    },
  };
}

let etcd: EtcdFixture | undefined;
let opened: Datastore[] = [];
const etcdBackend: Backend = {
  name: 'etcd',
  async fresh(clients) {
    for (const ds of opened) await ds.close().catch(() => {});
    await etcd!.wipe();
    opened = [];
    for (let i = 0; i < clients; i++) opened.push(await etcd!.connect());
    return opened;
  },
};

before(async () => {
  etcd = await startEtcdFixture();
});
after(async () => {
  for (const ds of opened) await ds.close().catch(() => {});
  await etcd?.stop();
});

/**
 * Claim race: H hosts, strict affinity, a pool of H/2 blocks; every host asks for one address
 * at the same moment. Exactly H/2 hosts win a block each; the losers get nothing (strict
 * affinity forbids borrowing); no block has two confirmed owners.
 */
async function claimRace(backend: Backend, seedValue: number): Promise<void> {
  const hosts = CLAIM.hosts;
  const blocks = hosts / 2;
  const stores = await backend.fresh(backend.name === 'etcd' ? ETCD_CLIENTS : 1);
  const ds = stores[0]!;
  // /28 blocks (16 addresses). A pool holds a power-of-two number of blocks, so 160 blocks are
  // two pools (128 + 32); 32 blocks are one pool.
  const big = 1 << Math.floor(Math.log2(blocks));
  const pools: [string, string][] = [['race-a', `10.32.0.0/${32 - 4 - Math.log2(big)}`]];
  if (blocks > big) pools.push(['race-b', `10.48.0.0/${32 - 4 - Math.log2(blocks - big)}`]);
  assert.equal(Number.isInteger(Math.log2(blocks - big || 1)), true, 'block count splits into two power-of-two pools');
  for (const [name, cidr] of pools) await put.pool(ds, name, cidr, { blockSize: 28 });
  const names = Array.from({ length: hosts }, (_, i) => `claim-${seedValue}-${i}`);
  for (const h of names) await put.node(ds, h);
  await createIPAM(ds).setIPAMConfig({ strictAffinity: true });

  const order = shuffled(names, rng(seedValue));
  const engines = order.map((_, i) => createIPAM(stores[i % stores.length]!, { random: seededRandom(seedValue * 1000 + i), maxRetryJitterMs: 3 }));
  const results = await Promise.allSettled(
    order.map((h, i) => engines[i]!.autoAssign({ num4: 1, hostname: h, intendedUse: 'Workload', handleId: `claim.${h}` })),
  );
  const ledger = new AllocationLedger();
  results.forEach((r, i) => {
    const handle = `claim.${order[i]}`;
    if (r.status === 'fulfilled') {
      if (r.value.ipv4 && r.value.ipv4.ips.length) ledger.ack(handle, r.value.ipv4.ips);
    } else ledger.fail(handle, 1, r.reason);
  });
  assert.deepEqual(ledger.errors, [], 'no request failed with an error (losers get no address, not an error)');
  const winners = ledger.acknowledged.size;
  assert.equal(winners, blocks, `one winner per block: ${winners} hosts got an address, ${blocks} blocks`);
  const ips = [...ledger.acknowledged.values()].flat();
  assert.equal(new Set(ips).size, ips.length, 'no address handed out twice');

  const health = await assertHealthyIPAM(createIPAM(ds), { allowUnusedAllocations: true });
  assert.equal(health.blocks, blocks, 'every block created once');
  assert.equal(health.confirmedAffinities, blocks, 'exactly one confirmed affinity per block');
  ledger.assertAgainst(health.owners);
}

/**
 * Fill race: W workers on W hosts, racing for block claims in one pool, each allocating its share one request at a time (1-3 addresses, seeded) and releasing
 * about one handle in ten of its own as it goes, with non-strict affinity (borrowing allowed).
 */
async function fillRace(backend: Backend, seedValue: number): Promise<{ allocated: number; ms: number }> {
  const stores = await backend.fresh(backend.name === 'etcd' ? ETCD_CLIENTS : 1);
  const ds = stores[0]!;
  await put.pool(ds, 'fill', FILL.pool, { blockSize: FILL.blockSize });
  const hosts = Array.from({ length: FILL.hosts }, (_, i) => `fill-${seedValue}-${i}`);
  for (const h of hosts) await put.node(ds, h);
  const ledger = new AllocationLedger();
  const started = Date.now();
  await Promise.all(
    Array.from({ length: FILL.workers }, async (_, w) => {
      const random = rng(seedValue * 7919 + w);
      const ipam: IPAM = createIPAM(stores[w % stores.length]!, { random: seededRandom(seedValue * 104729 + w), maxRetryJitterMs: 3 });
      const host = hosts[w % hosts.length]!;
      const mine: string[] = [];
      let got = 0;
      for (let k = 0; got < FILL.perWorker; k++) {
        const want = Math.min(FILL.perWorker - got, 1 + Math.floor(random() * 3));
        const handle = `fill.${seedValue}.${w}.${k}`;
        try {
          const out = await ipam.autoAssign({ num4: want, hostname: host, intendedUse: 'Workload', handleId: handle, attrs: { node: host, pod: handle } });
          const ips = out.ipv4?.ips ?? [];
          assert.equal(ips.length, want, `worker ${w} got ${ips.length} of ${want} addresses (pool large enough)`);
          ledger.ack(handle, ips);
          mine.push(handle);
          got += ips.length;
        } catch (error) {
          ledger.fail(handle, want, error);
          throw error;
        }
        if (mine.length > 4 && random() < 0.1) {
          const victim = mine.splice(Math.floor(random() * mine.length), 1)[0]!;
          await ipam.releaseByHandle(victim);
          ledger.released.add(victim);
          got -= ledger.acknowledged.get(victim)!.length;
        }
      }
    }),
  );
  const ms = Date.now() - started;
  const health = await assertHealthyIPAM(createIPAM(ds), { allowUnusedAllocations: true });
  ledger.assertAgainst(health.owners);
  assert.equal(health.owners.size, FILL.workers * FILL.perWorker, 'live allocations = workers x addresses');
  // Borrowing is allowed, but addresses are the owners' until blocks run out: each host's
  // addresses sit mostly in its own blocks.
  const ownBlock = health.report.allocations.filter((a) => !a.borrowed).length;
  assert.ok(ownBlock >= health.owners.size * 0.9, `most addresses in the host's own blocks (${ownBlock}/${health.owners.size})`);
  return { allocated: health.owners.size, ms };
}

/**
 * Several workers per host with no per-host lock (outside Calico's contract, see the header):
 * a request may fail, but only with a typed error, nothing it half-did may stay allocated to a
 * failed handle beyond what it asked for, and the datastore stays consistent.
 */
async function sharedHostRace(backend: Backend, seedValue: number): Promise<{ failures: number; kinds: string[] }> {
  const stores = await backend.fresh(backend.name === 'etcd' ? ETCD_CLIENTS : 1);
  const ds = stores[0]!;
  await put.pool(ds, 'shared', '10.80.0.0/20', { blockSize: 27 });
  const hosts = Array.from({ length: SHARED.hosts }, (_, i) => `shared-${seedValue}-${i}`);
  for (const h of hosts) await put.node(ds, h);
  const ledger = new AllocationLedger();
  await Promise.all(
    Array.from({ length: SHARED.workers }, async (_, w) => {
      const ipam = createIPAM(stores[w % stores.length]!, { random: seededRandom(seedValue * 31 + w), maxRetryJitterMs: 3 });
      const host = hosts[w % hosts.length]!;
      let got = 0;
      for (let k = 0; got < SHARED.perWorker; k++) {
        assert.ok(k < SHARED.perWorker * 10, `worker ${w}: too many failed requests`);
        const handle = `shared.${w}.${k}`;
        try {
          const ips = (await ipam.autoAssign({ num4: 1, hostname: host, intendedUse: 'Workload', handleId: handle })).ipv4?.ips ?? [];
          if (ips.length === 0) continue;
          ledger.ack(handle, ips);
          got += ips.length;
        } catch (error) {
          ledger.fail(handle, 1, error);
        }
      }
    }),
  );
  const untyped = ledger.errors.filter((e) => !e.typed);
  assert.deepEqual(untyped, [], 'every failure is a CalicoError');
  const health = await assertHealthyIPAM(createIPAM(ds), { allowUnusedAllocations: true });
  ledger.assertAgainst(health.owners);
  return { failures: ledger.errors.length, kinds: [...new Set(ledger.errors.map((e) => e.message.replace(/'[^']*'/g, "'…'")))] };
}

for (const backend of [memory(true), memory(false), etcdBackend]) {
  describe(`racing allocators on ${backend.name}${FULL ? ' (full size)' : ''}`, () => {
    const claimSeeds = backend.name === 'etcd' ? CLAIM.etcdSeeds : CLAIM.seeds;
    for (const s of claimSeeds) {
      test(`${CLAIM.hosts} hosts race for ${CLAIM.hosts / 2} blocks (seed ${s})`, async () => {
        await claimRace(backend, s);
      });
    }
    const fillSeeds = backend.name === 'etcd' ? FILL.etcdSeeds : FILL.seeds;
    for (const s of fillSeeds) {
      test(`${FILL.workers} workers x ${FILL.perWorker} addresses on ${FILL.hosts} hosts (seed ${s})`, async (t) => {
        const { allocated, ms } = await fillRace(backend, s);
        t.diagnostic(`${allocated} live addresses in ${ms} ms (${Math.round((allocated * 1000) / Math.max(ms, 1))}/s)`);
      });
    }
    test(`${SHARED.workers} workers share ${SHARED.hosts} hosts without a host lock: typed failures only, consistent`, async (t) => {
      const { failures, kinds } = await sharedHostRace(backend, 21);
      t.diagnostic(`${failures} failed request(s)${kinds.length ? `: ${kinds.join(' | ')}` : ''}`);
    });
  });
}

test('the health check used above detects a double allocation and a second confirmed affinity', async () => {
  // The checker must be able to fail: corrupt a healthy datastore in two ways.
  const ds = createMemoryDatastore();
  await put.pool(ds, 'p', '10.9.0.0/24', { blockSize: 26 });
  await put.node(ds, 'a');
  await put.node(ds, 'b');
  const ipam = createIPAM(ds);
  const out = await ipam.autoAssign({ num4: 1, hostname: 'a', intendedUse: 'Workload', handleId: 'h' });
  const cidr = (await ds.listKV({ type: 'block' })).items[0]!.value.cidr;
  await assertHealthyIPAM(ipam, { allowUnusedAllocations: true });
  await ds.createKV({ type: 'blockAffinity', host: 'b', cidr, affinityType: 'host' } as never, { state: 'confirmed', deleted: false } as never);
  await assert.rejects(assertHealthyIPAM(ipam, { allowUnusedAllocations: true }), /contradicts its block/);
  await ds.deleteKV({ type: 'blockAffinity', host: 'b', cidr, affinityType: 'host' } as never);
  const ledger = new AllocationLedger();
  ledger.ack('h', ['10.9.0.200/26']);
  assert.throws(() => ledger.assertAgainst(new Map([[bareIP(out.ipv4!.ips[0]!), 'h']])));
});
