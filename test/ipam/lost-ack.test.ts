// Lost acknowledgements: a write the datastore APPLIED but whose answer the engine never got
// (an etcd leader change: `DatastoreUnavailableError`; or a client library that re-sent the
// applied write to another member and got that copy's conflict). The engine must recognise its
// own write on a re-read and not do it twice: no second address for the handle, no handle
// counted twice, no release reported as "not allocated", no affinity record left behind.
//
// Runs on memory with atomic transactions (as etcd), memory without (Calico's two-write protocol,
// as Kubernetes) and real etcd, through the testing kit's `lostAck` fault kind.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CalicoError, DatastoreUnavailableError } from '@libcalico-ts/api';
import type { Datastore } from '@libcalico-ts/datastore';
import { createIPAM, type AutoAssignArgs, type IPAM, type WritePoint } from '@libcalico-ts/ipam';
import { FakeClock, FaultInjector, seededRandom } from '@libcalico-ts/ipam/testing';
import { etcdBackend, memoryBackend, type Backend } from './backends.js';
import { assertIPAMInvariants } from './invariants.js';

const W = 'Workload' as const;
const retryable = (error: unknown) => CalicoError.isInstance(error) && (error as CalicoError).isRetryable;
const bare = (ips: string[]) => ips.map((ip) => ip.split('/')[0]!).sort();

interface Env {
  ds: Datastore;
  faults: FaultInjector;
  ipam: IPAM;
  atomic: boolean;
  /** Makes the next `n` reads of the engine fail with a retryable error (the check cannot read). */
  failReads(n: number): void;
}

async function seedResources(ds: Datastore): Promise<void> {
  await ds.createKV({ type: 'resource', kind: 'IPPool', name: 'p' }, { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'p' }, spec: { cidr: '10.9.0.0/24', blockSize: 28 } } as never);
  for (const name of ['a', 'b']) {
    await ds.createKV({ type: 'resource', kind: 'Node', name }, { kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name, labels: {} }, spec: {}, status: {} } as never);
  }
}

function suite(label: string, backendPromise: Promise<Backend | undefined>, atomic: boolean): void {
  describe(`lost acknowledgements on ${label}`, async () => {
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

    /** Another engine runs `args` right before the first `assign:commit` of `e`'s engine (a real lost race). */
    function raceAtFirstCommit(e: Env, args: AutoAssignArgs): { raced: boolean } {
      const other = createIPAM(e.ds, { clock: new FakeClock(), maxRetryJitterMs: 0, useTransactions: atomic });
      const race = { raced: false };
      const before = e.faults.beforeWrite.bind(e.faults);
      e.faults.beforeWrite = async (point, keys) => {
        await before(point, keys);
        if (point === 'assign:commit' && !race.raced) {
          race.raced = true;
          await other.autoAssign(args);
        }
      };
      return race;
    }

    async function env(): Promise<Env> {
      const ds = await backend!.create();
      opened.push(ds);
      await seedResources(ds);
      const faults = new FaultInjector();
      faults.datastore = ds;
      let failing = 0;
      // Reads fail on demand, on top of the lost-answer wrapper.
      const flaky = new Proxy(faults.wrap(ds), {
        get(target, property) {
          const value = Reflect.get(target, property, target) as unknown;
          if (typeof value !== 'function') return value;
          const fn = (value as (...a: unknown[]) => unknown).bind(target);
          if (property !== 'getKV' && property !== 'listKV') return fn;
          return async (...args: unknown[]) => {
            if (failing > 0) {
              failing--;
              throw new DatastoreUnavailableError('injected: etcd has no leader');
            }
            return fn(...args);
          };
        },
      });
      const ipam = createIPAM(flaky, { clock: new FakeClock(), random: seededRandom(5), maxRetryJitterMs: 0, hooks: faults, useTransactions: atomic });
      return { ds, faults, ipam, atomic, failReads: (n) => (failing = n) };
    }

    /** The handle holds exactly `ips` and the datastore is consistent (handle counts exact). */
    async function assertHolds(e: Env, handle: string, ips: string[]): Promise<void> {
      assert.deepEqual(bare(await e.ipam.ipsByHandle(handle)), bare(ips), `${handle} holds exactly what was returned`);
      await assertIPAMInvariants(e.ds, { exactHandles: true });
    }

    const allocationPoints: WritePoint[] = atomic ? ['assign:claimAndCommit', 'assign:commit'] : ['claimAffinity:pending', 'claimAffinity:createBlock', 'claimAffinity:confirm', 'handle:increment', 'assign:commit'];
    for (const point of allocationPoints) {
      for (const then of ['unavailable', 'resend'] as const) {
        test(`autoAssign: the write at ${point} applied, answer lost (${then}): one allocation, returned`, async () => {
          const e = await env();
          // 'assign:commit' on a block the host already has (the cached fast path on atomic
          // datastores); the claim points on a host's first allocation.
          const host = point === 'assign:commit' ? 'a' : 'b';
          await e.ipam.autoAssign({ num4: 1, hostname: 'a', intendedUse: W, handleId: 'warm' });
          e.faults.inject(point, { kind: 'lostAck', then });
          let out: string[] = [];
          try {
            out = (await e.ipam.autoAssign({ num4: 3, hostname: host, intendedUse: W, handleId: 'h1' })).ipv4!.ips;
          } catch (error) {
            // Only a step that precedes the decisive write may fail the request (retryably);
            // the allocation then holds nothing, and a retry of the request succeeds.
            assert.ok(retryable(error), `typed retryable error: ${String(error)}`);
            assert.ok(point === 'claimAffinity:pending', `${point}: unexpected failure ${String(error)}`);
            out = (await e.ipam.autoAssign({ num4: 3, hostname: host, intendedUse: W, handleId: 'h1' })).ipv4!.ips;
          }
          assert.equal(e.faults.lostAcks, 1, 'the lost answer was injected');
          assert.equal(out.length, 3);
          if (point === 'handle:increment' && then === 'resend') {
            // Two-write protocol: a re-sent handle increment that conflicts is re-read and applied
            // again, as upstream: the handle may over-count (check() reports it), never the
            // allocations. (A lost answer proper is recognised: the 'unavailable' case is exact.)
            assert.deepEqual(bare(await e.ipam.ipsByHandle('h1')), bare(out));
            await assertIPAMInvariants(e.ds, { exactHandles: false });
            return;
          }
          await assertHolds(e, 'h1', out);
        });
      }
    }

    test('autoAssign: a lost answer the engine cannot check (reads fail too) fails the request retryably, never doubles it', async () => {
      const e = await env();
      await e.ipam.autoAssign({ num4: 1, hostname: 'a', intendedUse: W, handleId: 'warm' });
      e.faults.inject('assign:commit', { kind: 'lostAck' });
      // The verifying read fails: a hook arms the read failure right before the commit.
      const before = e.faults.beforeWrite.bind(e.faults);
      e.faults.beforeWrite = async (point, keys) => {
        await before(point, keys);
        if (point === 'assign:commit') e.failReads(5);
      };
      await assert.rejects(
        e.ipam.autoAssign({ num4: 2, hostname: 'a', intendedUse: W, handleId: 'h1' }),
        (error: unknown) => retryable(error),
      );
      e.failReads(0);
      // The write was applied: the handle holds what it asked for, once.
      assert.equal((await e.ipam.ipsByHandle('h1')).length, 2);
      await assertIPAMInvariants(e.ds, { exactHandles: true });
    });

    test('autoAssign: a real lost race (another writer, same block version, other handle) is not mistaken for ours', async () => {
      const e = await env();
      await e.ipam.autoAssign({ num4: 1, hostname: 'a', intendedUse: W, handleId: 'warm' });
      const race = raceAtFirstCommit(e, { num4: 1, hostname: 'a', intendedUse: W, handleId: 'rival' });
      const mine = (await e.ipam.autoAssign({ num4: 1, hostname: 'a', intendedUse: W, handleId: 'h1' })).ipv4!.ips;
      assert.ok(race.raced);
      const theirs = await e.ipam.ipsByHandle('rival');
      assert.notDeepEqual(bare(mine), bare(theirs), 'different addresses');
      await assertHolds(e, 'h1', mine);
    });

    test('autoAssign: same handle, same block version, more addresses by another writer: not taken as ours', async () => {
      const e = await env();
      await e.ipam.autoAssign({ num4: 1, hostname: 'a', intendedUse: W, handleId: 'warm' });
      const race = raceAtFirstCommit(e, { num4: 2, hostname: 'a', intendedUse: W, handleId: 'shared' });
      const mine = (await e.ipam.autoAssign({ num4: 1, hostname: 'a', intendedUse: W, handleId: 'shared' })).ipv4!.ips;
      assert.ok(race.raced);
      const all = await e.ipam.ipsByHandle('shared');
      assert.equal(all.length, 3, 'both requests counted: 2 + 1');
      assert.ok(all.includes(bare(mine)[0]!));
      await assertIPAMInvariants(e.ds, { exactHandles: true });
    });

    for (const then of ['unavailable', 'resend'] as const) {
      test(`assignIP: the commit applied, answer lost (${then}): success, not "already assigned"`, async () => {
        const e = await env();
        e.faults.inject('assign:commit', { kind: 'lostAck', then });
        await e.ipam.assignIP({ ip: '10.9.0.77', hostname: 'a', handleId: 'pinned' });
        assert.equal(e.faults.lostAcks, 1);
        await assertHolds(e, 'pinned', ['10.9.0.77']);
      });

      test(`releaseIPs / releaseByHandle: the release applied, answer lost (${then}): reported released, counts exact`, async () => {
        const e = await env();
        const ips = (await e.ipam.autoAssign({ num4: 3, hostname: 'a', intendedUse: W, handleId: 'h1' })).ipv4!.ips;
        e.faults.inject('release:commit', { kind: 'lostAck', then });
        const first = bare(ips)[0]!;
        const out = await e.ipam.releaseIPs([{ address: first, handleId: 'h1' }]);
        assert.deepEqual(out.unallocated, [], 'the released address is not reported as unallocated');
        await assertHolds(e, 'h1', bare(ips).slice(1));
        e.faults.inject(e.atomic ? 'release:commit' : 'handle:decrement', { kind: 'lostAck', then });
        await e.ipam.releaseByHandle('h1');
        assert.equal(e.faults.lostAcks, 2);
        await assert.rejects(e.ipam.ipsByHandle('h1'), /does not exist/);
        await assertIPAMInvariants(e.ds, { exactHandles: true });
      });

      for (const point of ['releaseAffinity:pendingDeletion', 'releaseAffinity:deleteBlock', 'releaseAffinity:deleteAffinity', 'releaseAffinity:updateBlock'] as WritePoint[]) {
        test(`releaseHostAffinities: ${point} applied, answer lost (${then}): no affinity record left behind`, async () => {
          const e = await env();
          const ips = (await e.ipam.autoAssign({ num4: 1, hostname: 'a', intendedUse: W, handleId: 'h1' })).ipv4!.ips;
          // updateBlock is the non-empty case; the others release an empty block.
          if (point !== 'releaseAffinity:updateBlock') await e.ipam.releaseByHandle('h1');
          e.faults.inject(point, { kind: 'lostAck', then });
          try {
            await e.ipam.releaseHostAffinities({ host: 'a' });
          } catch (error) {
            // The pendingDeletion CAS re-sent is a conflict the release loop retries; a lost
            // answer there may surface as a retryable error: the repeated call finishes the job.
            assert.ok(retryable(error), String(error));
            await e.ipam.releaseHostAffinities({ host: 'a' });
          }
          assert.equal(e.faults.lostAcks, 1);
          const affinities = (await e.ds.listKV({ type: 'blockAffinity' })).items;
          assert.deepEqual(affinities.map((a) => `${a.key.host} ${a.key.cidr} ${a.value.state}`), []);
          const report = await e.ipam.check();
          assert.deepEqual(report.strandedAffinities, []);
          if (point === 'releaseAffinity:updateBlock') await assertHolds(e, 'h1', ips);
          else assert.equal((await e.ds.listKV({ type: 'block' })).items.length, 0, 'the empty block is deleted');
        });
      }

      test(`setIPAMConfig: the write applied, answer lost (${then})`, async () => {
        const e = await env();
        e.faults.inject('config:write', { kind: 'lostAck', then });
        try {
          await e.ipam.setIPAMConfig({ strictAffinity: true });
        } catch (error) {
          assert.ok(retryable(error), String(error));
          await e.ipam.setIPAMConfig({ strictAffinity: true });
        }
        assert.equal((await e.ipam.getIPAMConfig()).strictAffinity, true);
      });
    }
  });
}

suite('memory (atomic)', Promise.resolve(memoryBackend(true)), true);
suite('memory (two-write)', Promise.resolve(memoryBackend(false)), false);
suite('etcd', etcdBackend(), true);
