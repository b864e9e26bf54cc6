// Affinity records an interrupted protocol leaves behind: `pendingDeletion` after a release died
// between its block step and its record delete (the release itself, faithful to upstream, leaves
// a record whose block is gone), `pending` after a claim died before creating its block. check()
// reports them; gc() deletes them by compare-and-swap, re-validating the block first, and never
// touches a record a claim or release rewrote meanwhile.
//
// Runs on memory (atomic, as etcd), memory (two-write, as Kubernetes) and real etcd.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Datastore } from '@libcalico-ts/datastore';
import { createIPAM, type IPAM, type WritePoint } from '@libcalico-ts/ipam';
import { FakeClock, FaultInjector, InjectedFault, seededRandom } from '@libcalico-ts/ipam/testing';
import { etcdBackend, memoryBackend, type Backend } from './backends.js';
import { assertIPAMInvariants } from './invariants.js';

const W = 'Workload' as const;

function suite(label: string, backendPromise: Promise<Backend | undefined>, atomic: boolean): void {
  describe(`stranded affinity records on ${label}`, async () => {
    const backend = await backendPromise;
    if (!backend) {
      test(`${label} unavailable`, () => assert.fail(`${label}: backend not available`));
      return;
    }
    const opened: Datastore[] = [];
    after(async () => {
      for (const ds of opened) await ds.close().catch(() => {});
      await backend.shutdown?.();
    });

    async function env() {
      const ds = await backend!.create();
      opened.push(ds);
      await ds.createKV({ type: 'resource', kind: 'IPPool', name: 'p' }, { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'p' }, spec: { cidr: '10.7.0.0/24', blockSize: 28 } } as never);
      for (const name of ['a', 'b']) {
        await ds.createKV({ type: 'resource', kind: 'Node', name }, { kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name, labels: {} }, spec: {}, status: {} } as never);
      }
      const clock = new FakeClock();
      const faults = new FaultInjector();
      faults.datastore = ds;
      const ipam = createIPAM(ds, { clock, random: seededRandom(9), maxRetryJitterMs: 0, hooks: faults, useTransactions: atomic });
      const other = createIPAM(ds, { clock, random: seededRandom(10), maxRetryJitterMs: 0, useTransactions: atomic });
      return { ds, clock, faults, ipam, other };
    }

    /** Runs `fn`, which must die at the injected point. */
    async function dies(fn: () => Promise<unknown>): Promise<void> {
      await assert.rejects(fn(), (error: unknown) => InjectedFault.isInstance(error));
    }

    async function records(ds: Datastore): Promise<string[]> {
      return (await ds.listKV({ type: 'blockAffinity' })).items.map((a) => `${a.key.host} ${a.key.cidr} ${a.value.state}`).sort();
    }

    async function firstBlock(ipam: IPAM, host: string, handle: string): Promise<string> {
      const ips = (await ipam.autoAssign({ num4: 1, hostname: host, intendedUse: W, handleId: handle })).ipv4!.ips;
      const [ip] = ips[0]!.split('/');
      const last = Number(ip!.split('.')[3]) & ~15;
      return `10.7.0.${last}/28`;
    }

    test('release killed after deleting the empty block: reported (counted), left by a repeated release, deleted by gc', async () => {
      const { ds, faults, ipam } = await env();
      const cidr = await firstBlock(ipam, 'a', 'h1');
      await ipam.releaseByHandle('h1');
      faults.inject('releaseAffinity:deleteBlock', { kind: 'crashAfter' });
      await dies(() => ipam.releaseHostAffinities({ host: 'a' }));
      faults.clear();
      assert.deepEqual(await records(ds), [`a ${cidr} pendingDeletion`]);

      const report = await ipam.check();
      assert.equal(report.strandedAffinities.length, 1);
      assert.deepEqual(
        { ...report.strandedAffinities[0], revision: undefined },
        { host: 'a', affinityType: 'host', cidr, state: 'pendingDeletion', block: 'absent', revision: undefined },
      );
      assert.equal(report.problemCount, 1, 'a stranded record is a problem');
      assert.deepEqual(report.pendingAffinities, []);

      // Upstream's release leaves a record whose block is absent (reference §4.4 step 2).
      await ipam.releaseHostAffinities({ host: 'a' });
      assert.deepEqual(await records(ds), [`a ${cidr} pendingDeletion`]);

      const gc = await ipam.gc();
      assert.deepEqual(gc.deletedAffinities, [`host:a ${cidr}`]);
      assert.deepEqual(await records(ds), []);
      const clean = await ipam.check();
      assert.equal(clean.problemCount, 0);
      assert.deepEqual(clean.strandedAffinities, []);
      // The host claims the CIDR again normally.
      assert.equal(await firstBlock(ipam, 'a', 'h2'), cidr);
      await assertIPAMInvariants(ds);
    });

    test('release of a non-empty block killed after un-owning it: the record is stranded (block not owned), gc deletes only the record', async () => {
      const { ds, faults, ipam } = await env();
      const cidr = await firstBlock(ipam, 'a', 'h1');
      faults.inject('releaseAffinity:updateBlock', { kind: 'crashAfter' });
      await dies(() => ipam.releaseHostAffinities({ host: 'a' }));
      faults.clear();
      const report = await ipam.check();
      assert.deepEqual(report.strandedAffinities.map((a) => [a.cidr, a.state, a.block]), [[cidr, 'pendingDeletion', 'notOwned']]);
      const gc = await ipam.gc();
      assert.deepEqual(gc.deletedAffinities, [`host:a ${cidr}`]);
      assert.deepEqual(await records(ds), []);
      const block = (await ds.getKV({ type: 'block', cidr })).value;
      assert.equal(block.affinity, null, 'the block stays, un-owned, with its allocation');
      assert.equal((await ipam.ipsByHandle('h1')).length, 1);
      await assertIPAMInvariants(ds);
    });

    test('a record a claim rewrote after the check is not deleted (CAS on its revision, block re-validated)', async () => {
      const { ds, faults, ipam, other } = await env();
      const cidr = await firstBlock(ipam, 'a', 'h1');
      await ipam.releaseByHandle('h1');
      faults.inject('releaseAffinity:deleteBlock', { kind: 'crashAfter' });
      await dies(() => ipam.releaseHostAffinities({ host: 'a' }));
      faults.clear();
      // Right before gc deletes the record, the host claims the CIDR again (another process).
      let raced = false;
      const before = faults.beforeWrite.bind(faults);
      faults.beforeWrite = async (point: WritePoint, keys) => {
        await before(point, keys);
        if (point === 'gc:deleteAffinity' && !raced) {
          raced = true;
          const claimed = await other.claimAffinity(cidr, { host: 'a' });
          assert.deepEqual(claimed.claimed, [cidr]);
        }
      };
      const gc = await ipam.gc();
      assert.ok(raced, 'gc reached its delete');
      assert.deepEqual(gc.deletedAffinities, [], 'nothing deleted: the record changed');
      assert.deepEqual(await records(ds), [`a ${cidr} confirmed`]);
      assert.equal((await ds.getKV({ type: 'block', cidr })).value.affinity, 'host:a');
      assert.equal((await ipam.check()).problemCount, 0);
      await assertIPAMInvariants(ds);
    });

    test('a claim killed before creating its block: pending record listed (not a problem), deleted by gc only after the grace period, unchanged', async () => {
      const { ds, clock, faults, ipam } = await env();
      // claimAffinity runs the two-phase protocol on every datastore.
      faults.inject('claimAffinity:pending', { kind: 'crashAfter' });
      await dies(() => ipam.claimAffinity('10.7.0.32/28', { host: 'b' }));
      faults.clear();
      const first = await ipam.check();
      assert.deepEqual(first.pendingAffinities.map((a) => [a.host, a.cidr, a.state, a.block]), [['b', '10.7.0.32/28', 'pending', 'absent']]);
      assert.equal(first.problemCount, 0, 'a pending record may be a claim in progress');

      assert.deepEqual((await ipam.gc()).deletedAffinities, [], 'no earlier report: kept');
      assert.deepEqual((await ipam.gc({ previous: first })).deletedAffinities, [], 'earlier report too recent: kept');
      clock.advance(16 * 60_000);
      // An earlier report that saw another revision of the record proves nothing.
      const stale = { ...first, pendingAffinities: first.pendingAffinities.map((a) => ({ ...a, revision: `${a.revision}0` })) };
      assert.deepEqual((await ipam.gc({ previous: stale })).deletedAffinities, []);
      const gc = await ipam.gc({ previous: first });
      assert.deepEqual(gc.deletedAffinities, ['host:b 10.7.0.32/28']);
      assert.deepEqual(await records(ds), []);
      await assertIPAMInvariants(ds);
    });

    test('a pending record whose block exists and is ours is a claim to finish, not stranded', async () => {
      const { ds, faults, ipam } = await env();
      faults.inject('claimAffinity:createBlock', { kind: 'crashAfter' });
      await dies(() => ipam.claimAffinity('10.7.0.48/28', { host: 'b' }));
      faults.clear();
      const report = await ipam.check();
      assert.deepEqual(report.pendingAffinities, []);
      assert.deepEqual(report.strandedAffinities, []);
      assert.deepEqual(await records(ds), ['b 10.7.0.48/28 pending']);
      // The host's next claim repairs it (reference §4.3).
      await ipam.claimAffinity('10.7.0.48/28', { host: 'b' });
      assert.deepEqual(await records(ds), ['b 10.7.0.48/28 confirmed']);
    });
  });
}

suite('memory (atomic)', Promise.resolve(memoryBackend(true)), true);
suite('memory (two-write)', Promise.resolve(memoryBackend(false)), false);
suite('etcd', etcdBackend(), true);
