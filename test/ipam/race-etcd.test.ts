// Races on REAL etcd: many engines (separate clients, as separate processes would be) contend.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createIPAM, type IPAM } from '@libcalico-ts/ipam';
import { etcdBackend, makeEnv, type Backend, type Env } from './backends.js';
import { assertIPAMInvariants } from './invariants.js';

let backend: Backend;
before(async () => {
  const b = await etcdBackend();
  if (!b) throw new Error('the etcd datastore (createEtcdDatastore) is not available');
  backend = b;
});
after(async () => {
  await backend?.shutdown?.();
});

/** `n` engines, each on its own etcd client. */
async function engines(env: Env, n: number): Promise<IPAM[]> {
  const out: IPAM[] = [];
  for (let i = 0; i < n; i++) out.push(createIPAM(await backend.connect!(), { clock: env.clock, maxRetryJitterMs: 5 }));
  return out;
}

async function freshEnv(): Promise<Env> {
  return makeEnv(backend);
}

test('32 hosts racing for a 16-block pool: exactly one confirmed affinity per block, no address twice', async () => {
  const env = await freshEnv();
  await env.addPool('p', '10.0.0.0/24', { blockSize: 28 });
  const hosts = Array.from({ length: 32 }, (_, i) => `racer-${i}`);
  for (const h of hosts) await env.addNode(h);
  await env.ipam.setIPAMConfig({ strictAffinity: true });
  const ipams = await engines(env, 32);
  const results = await Promise.allSettled(
    hosts.map((h, i) => ipams[i]!.autoAssign({ num4: 1, hostname: h, intendedUse: 'Workload', handleId: `h-${h}` })),
  );
  const ips = results.flatMap((r) => (r.status === 'fulfilled' ? r.value.ipv4!.ips : []));
  assert.equal(new Set(ips).size, ips.length, 'no address twice');
  assert.equal(ips.length, 16, 'one address per block owner (strict affinity: losers get none)');
  const affinities = (await env.datastore.listKV({ type: 'blockAffinity' })).items.filter((a) => a.value.state === 'confirmed');
  const perBlock = new Map<string, number>();
  for (const a of affinities) perBlock.set(a.key.cidr, (perBlock.get(a.key.cidr) ?? 0) + 1);
  assert.equal(perBlock.size, 16);
  assert.ok([...perBlock.values()].every((n) => n === 1));
  await assertIPAMInvariants(env.datastore);
});

test('16 concurrent allocators on one host share its blocks without double allocation', async () => {
  const env = await freshEnv();
  await env.addPool('p', '10.1.0.0/22', { blockSize: 26 });
  await env.addNode('busy');
  const ipams = await engines(env, 16);
  const rounds = 8;
  const all: string[] = [];
  await Promise.all(
    ipams.map(async (ipam, i) => {
      for (let r = 0; r < rounds; r++) {
        const out = await ipam.autoAssign({ num4: 1, hostname: 'busy', intendedUse: 'Workload', handleId: `pod-${i}-${r}` });
        all.push(...out.ipv4!.ips);
      }
    }),
  );
  assert.equal(all.length, 16 * rounds);
  assert.equal(new Set(all).size, all.length);
  const blocks = (await env.datastore.listKV({ type: 'block' })).items;
  assert.ok(blocks.every((b) => b.value.affinity === 'host:busy'));
  assert.equal(blocks.length, 2, '128 addresses fill exactly two /26 blocks');
  await assertIPAMInvariants(env.datastore);
});

test('release racing a claim: the releasing host and a claiming host never corrupt the block', async () => {
  const env = await freshEnv();
  await env.addPool('p', '10.2.0.0/26', { blockSize: 26 });
  await env.addNode('old');
  await env.addNode('new');
  const [a, b] = await engines(env, 2);
  const [ip] = (await a!.autoAssign({ num4: 1, hostname: 'old', intendedUse: 'Workload', handleId: 'x' })).ipv4!.ips;
  env.clock.advance(120_000);
  // Strict affinity: 'new' can only get the block by reclaiming it once it is empty.
  await env.ipam.setIPAMConfig({ strictAffinity: true });
  const [released, claimed] = await Promise.all([
    a!.releaseIPs([{ address: ip!.split('/')[0]! }]),
    (async () => {
      const out: string[] = [];
      for (let i = 0; i < 20 && out.length === 0; i++) {
        out.push(...(await b!.autoAssign({ num4: 1, hostname: 'new', intendedUse: 'Workload', handleId: 'y' })).ipv4!.ips);
      }
      return out;
    })(),
  ]);
  assert.deepEqual(released.unallocated, []);
  assert.equal(claimed.length, 1, 'the empty block was reclaimed for the new host');
  const blk = (await env.datastore.listKV({ type: 'block' })).items;
  assert.equal(blk.length, 1);
  assert.equal(blk[0]!.value.affinity, 'host:new');
  await assertIPAMInvariants(env.datastore);
});
