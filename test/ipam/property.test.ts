// Property tests: random operation sequences on the deterministic test bed; the IPAM invariants
// (no address twice, handle counts = allocations, allocations inside affine or borrowed blocks,
// utilization adds up) are asserted after every step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createIPAMTestBed } from '@libcalico-ts/ipam/testing';
import { partialResultOf } from '@libcalico-ts/ipam';
import { assertIPAMInvariants } from './invariants.js';

type Op =
  | { op: 'assign'; host: number; n: number; handle: number }
  | { op: 'assignIP'; host: number; offset: number; handle: number }
  | { op: 'releaseIP'; pick: number }
  | { op: 'releaseHandle'; handle: number }
  | { op: 'releaseAffinities'; host: number }
  | { op: 'strict'; on: boolean }
  | { op: 'tick'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('assign' as const), host: fc.nat(3), n: fc.integer({ min: 1, max: 12 }), handle: fc.nat(5) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('assignIP' as const), host: fc.nat(3), offset: fc.nat(127), handle: fc.nat(5) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('releaseIP' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('releaseHandle' as const), handle: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('releaseAffinities' as const), host: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('strict' as const), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 120_000 }) }) },
);

for (const atomic of [true, false]) {
  test(`random operation sequences keep every invariant (${atomic ? 'atomic' : 'two-write'} commits)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), fc.nat(), async (ops, seed) => {
        const bed = await createIPAMTestBed({ seed, atomicTransactions: atomic, ipam: { maxRetryJitterMs: 0 } });
        await bed.addPool('p', '10.0.0.0/25', { blockSize: 29 });
        for (let h = 0; h < 4; h++) await bed.addNode(`host-${h}`);
        const held = new Map<string, string>(); // ip -> handle
        for (const op of ops) {
          switch (op.op) {
            case 'assign': {
              let ips: string[] = [];
              try {
                const r = await bed.ipam.autoAssign({ num4: op.n, hostname: `host-${op.host}`, intendedUse: 'Workload', handleId: `h${op.handle}` });
                ips = r.ipv4!.ips;
              } catch (error) {
                ips = partialResultOf(error)?.ipv4?.ips ?? [];
              }
              for (const ip of ips) {
                const a = ip.split('/')[0]!;
                assert.ok(!held.has(a), `address ${a} handed out twice`);
                held.set(a, `h${op.handle}`);
              }
              break;
            }
            case 'assignIP': {
              const a = `10.0.0.${op.offset}`;
              try {
                await bed.ipam.assignIP({ ip: a, hostname: `host-${op.host}`, handleId: `h${op.handle}` });
                assert.ok(!held.has(a), `assignIP gave out held ${a}`);
                held.set(a, `h${op.handle}`);
              } catch (error) {
                assert.ok(held.has(a) || /affinity/i.test((error as Error).message), `unexpected assignIP failure: ${(error as Error).message}`);
              }
              break;
            }
            case 'releaseIP': {
              const all = [...held.keys()];
              if (all.length === 0) break;
              const a = all[op.pick % all.length]!;
              const out = await bed.ipam.releaseIPs([{ address: a }]);
              assert.deepEqual(out.unallocated, []);
              held.delete(a);
              break;
            }
            case 'releaseHandle': {
              const h = `h${op.handle}`;
              const mine = [...held].filter(([, x]) => x === h).map(([a]) => a);
              try {
                await bed.ipam.releaseByHandle(h);
              } catch (error) {
                assert.equal(mine.length, 0, `releaseByHandle failed with addresses held: ${(error as Error).message}`);
              }
              for (const a of mine) held.delete(a);
              break;
            }
            case 'releaseAffinities':
              await bed.ipam.releaseHostAffinities({ host: `host-${op.host}` });
              break;
            case 'strict':
              await bed.ipam.setIPAMConfig({ strictAffinity: op.on });
              break;
            case 'tick':
              bed.clock.advance(op.ms);
              break;
          }
          const summary = await assertIPAMInvariants(bed.datastore);
          assert.equal(summary.allocated, held.size, 'allocations equal what the model holds');
          // Every held address lies in a block that exists (affine or borrowed).
          const u = await bed.ipam.getUtilization();
          const pool = u.find((p) => p.name === 'p')!;
          assert.equal(pool.inUse, BigInt(held.size));
          assert.equal(pool.inUse + pool.available, pool.capacity, 'utilization adds up');
          for (const b of pool.blocks) assert.equal(b.inUse + b.available, b.capacity);
        }
        for (const [a, h] of held) assert.ok((await bed.ipam.ipsByHandle(h)).includes(a));
      }),
      { numRuns: 60 },
    );
  });
}
