// Crash at every named write point (before and after the write) and lost CAS races: the engine
// must leave the datastore consistent, and a retry of the same request must succeed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createIPAMTestBed, InjectedFault, WRITE_POINTS, type WritePoint } from '@libcalico-ts/ipam/testing';
import { assertIPAMInvariants } from './invariants.js';

async function scenario(atomic: boolean) {
  const bed = await createIPAMTestBed({ atomicTransactions: atomic, ipam: { maxRetryJitterMs: 0 } });
  await bed.addPool('p', '10.0.0.0/26', { blockSize: 29 });
  await bed.addNode('a');
  await bed.addNode('b');
  return bed;
}

/** A workload exercising every write point. */
async function workload(bed: Awaited<ReturnType<typeof scenario>>) {
  const ipam = bed.ipam;
  await ipam.setIPAMConfig({ strictAffinity: false });
  const r = await ipam.autoAssign({ num4: 10, hostname: 'a', intendedUse: 'Workload', handleId: 'h1' });
  await ipam.assignIP({ ip: '10.0.0.60', hostname: 'b', handleId: 'h2' });
  await ipam.claimAffinity('10.0.0.0/29', { host: 'b' }); // the two-phase claim protocol, on every datastore
  await ipam.releaseIPs([{ address: r.ipv4!.ips[0]!.split('/')[0]! }]);
  await ipam.releaseByHandle('h1');
  await ipam.releaseHostAffinities({ host: 'a' });
  bed.clock.advance(120_000);
  await ipam.check();
  await ipam.gc({ gracePeriodMs: 0 });
}

for (const atomic of [true, false]) {
  test(`the workload reaches the expected write points (${atomic ? 'atomic' : 'two-write'})`, async () => {
    const bed = await scenario(atomic);
    await workload(bed);
    const reached = new Set(bed.faults.log.map((e) => e.point));
    for (const p of ['claimAffinity:pending', 'claimAffinity:createBlock', 'claimAffinity:confirm', 'assign:commit', 'release:commit', 'releaseAffinity:pendingDeletion', 'releaseAffinity:deleteAffinity', 'config:write'] as WritePoint[]) {
      assert.ok(reached.has(p), `${p} reached`);
    }
    if (!atomic) assert.ok(reached.has('handle:increment') && reached.has('handle:decrement'));
    // Atomic datastores claim a free CIDR for autoAssign in one transaction with its first allocations.
    if (atomic) assert.ok(reached.has('assign:claimAndCommit'), 'assign:claimAndCommit reached');
    else assert.ok(!reached.has('assign:claimAndCommit'), 'no multi-key claim without atomic transactions');
  });

  for (const point of WRITE_POINTS) {
    for (const kind of ['crash', 'crashAfter'] as const) {
      test(`${kind} at ${point} (${atomic ? 'atomic' : 'two-write'}): consistent, and the retry succeeds`, async () => {
        const bed = await scenario(atomic);
        bed.faults.inject(point, { kind });
        let crashed = false;
        try {
          await workload(bed);
        } catch (error) {
          assert.ok(InjectedFault.isInstance(error), `unexpected ${(error as Error).message}`);
          crashed = true;
        }
        // Two-write datastores may over-count a handle after a crash between the writes (never under-count).
        await assertIPAMInvariants(bed.datastore, { exactHandles: atomic || !crashed });
        bed.faults.clear();
        if (crashed) {
          // The restarted process repeats the request.
          await bed.ipam.releaseByHandle('h1').catch(() => {});
          await bed.ipam.releaseByHandle('h2').catch(() => {});
          const again = await bed.ipam.autoAssign({ num4: 3, hostname: 'a', intendedUse: 'Workload', handleId: 'h3' });
          assert.equal(again.ipv4!.ips.length, 3);
          await assertIPAMInvariants(bed.datastore, { exactHandles: atomic });
        }
      });
    }
  }

  test(`lost CAS races at every point are retried transparently (${atomic ? 'atomic' : 'two-write'})`, async () => {
    const bed = await scenario(atomic);
    for (const point of WRITE_POINTS) bed.faults.inject(point, { kind: 'conflict', times: 3 });
    await workload(bed);
    await assertIPAMInvariants(bed.datastore);
    assert.ok(bed.faults.count('assign:commit') >= 4, 'assign:commit retried after conflicts');
  });
}
