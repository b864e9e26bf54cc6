/**
 * The IPAM rule suite (reference ipam.md), run on every backend by engine.test.ts.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceExistsError, ResourceNotFoundError, UpdateConflictError, ValidationError } from '@libcalico-ts/api';
import {
  BlockLimitError,
  IPAMError,
  IPInCooldownError,
  NoQualifiedPoolError,
  partialFulfillmentError,
  partialResultOf,
  type IPAM,
} from '@libcalico-ts/ipam';
import type { Datastore } from '@libcalico-ts/datastore';
import { makeEnv, type Backend, type Env } from './backends.js';
import { assertIPAMInvariants } from './invariants.js';

const W = 'Workload' as const;

async function dump(ds: Datastore): Promise<string> {
  const parts: unknown[] = [];
  for (const type of ['block', 'blockAffinity', 'handle', 'ipamConfig'] as const) {
    const list = await ds.listKV({ type } as never);
    parts.push(list.items.map((i) => [i.key, i.revision]));
  }
  return JSON.stringify(parts, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
}

async function block(ds: Datastore, cidr: string) {
  return (await ds.getKV({ type: 'block', cidr })).value;
}

async function assign(ipam: IPAM, host: string, num4: number, handleId?: string, extra: Record<string, unknown> = {}) {
  const r = await ipam.autoAssign({ num4, hostname: host, intendedUse: W, ...(handleId ? { handleId } : {}), ...extra });
  return r.ipv4!.ips;
}

export function ipamSuite(backendPromise: Promise<Backend | undefined>, label: string): void {
  describe(`IPAM rules on ${label}`, async () => {
    const backend = await backendPromise;
    if (!backend) {
      test(`backend ${label} unavailable`, { skip: `${label}: backend not available in this build` }, () => {});
      return;
    }
    const envs: Env[] = [];
    const env = async (options = {}) => {
      const e = await makeEnv(backend, options);
      envs.push(e);
      return e;
    };
    after(async () => {
      for (const e of envs) await e.close().catch(() => {});
      await backend.shutdown?.();
    });

    test('first block follows the per-host walk; ordinals ascend from the network address; prefix is the block prefix', async () => {
      const e = await env();
      await e.addPool('default-ipv4-ippool', '10.244.0.0/16');
      await e.addNode('node-1');
      const ips = await assign(e.ipam, 'node-1', 3, 'h1');
      assert.deepEqual(ips, ['10.244.84.128/26', '10.244.84.129/26', '10.244.84.130/26']);
      const aff = await e.datastore.getKV({ type: 'blockAffinity', host: 'node-1', cidr: '10.244.84.128/26' });
      assert.equal(aff.value.state, 'confirmed');
      const b = await block(e.datastore, '10.244.84.128/26');
      assert.equal(b.affinity, 'host:node-1');
      assert.equal(b.affinityClaimTime, '2024-05-01T10:00:00Z');
      await assertIPAMInvariants(e.datastore);
    });

    test('a /30 pool of /30 blocks returns /30 addresses and hands out all four ordinals', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/30', { blockSize: 30 });
      await e.addNode('n');
      assert.deepEqual(await assign(e.ipam, 'n', 4, 'h'), ['10.0.0.0/30', '10.0.0.1/30', '10.0.0.2/30', '10.0.0.3/30']);
    });

    test("a host's blocks are contiguous in walk order, wrapping around the pool", async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/24', { blockSize: 26 });
      await e.addNode('node-1'); // start index 2 of 4
      const ips = await assign(e.ipam, 'node-1', 256, 'h');
      const blocks = [...new Set(ips.map((ip) => ip.split('.').slice(0, 3).join('.') + '.' + (Number(ip.split('.')[3]!.split('/')[0]) & 0xc0)))];
      assert.deepEqual(blocks, ['10.0.0.128', '10.0.0.192', '10.0.0.0', '10.0.0.64']);
    });

    test('released ordinals are reused FIFO, after the never-used tail', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/29', { blockSize: 29 });
      await e.addNode('n');
      const ips = await assign(e.ipam, 'n', 6, 'h');
      await e.ipam.releaseIPs([{ address: '10.0.0.4' }, { address: '10.0.0.1' }]);
      await e.ipam.releaseIPs([{ address: '10.0.0.3' }]);
      const b = await block(e.datastore, '10.0.0.0/29');
      assert.deepEqual(b.unallocated, [6, 7, 1, 4, 3]);
      assert.deepEqual(await assign(e.ipam, 'n', 5, 'h2'), ['10.0.0.6/29', '10.0.0.7/29', '10.0.0.1/29', '10.0.0.4/29', '10.0.0.3/29']);
      assert.equal(ips.length, 6);
      await assertIPAMInvariants(e.datastore);
    });

    test('sequence numbers: uint64 from the creation time in ns, +1 per update, recorded per allocation', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/26');
      await e.addNode('n');
      await assign(e.ipam, 'n', 1, 'h');
      const b1 = await block(e.datastore, '10.0.0.0/26');
      assert.equal(typeof b1.sequenceNumber, 'bigint');
      assert.ok(b1.sequenceNumber > 2n ** 53n);
      const created = b1.sequenceNumber - 1n;
      assert.equal(b1.sequenceNumberForAllocation['0'], created);
      await assign(e.ipam, 'n', 1, 'h');
      const b2 = await block(e.datastore, '10.0.0.0/26');
      assert.equal(b2.sequenceNumber, created + 2n);
      assert.equal(b2.sequenceNumberForAllocation['1'], created + 1n);
      // A release with the right sequence number works; with a stale one it conflicts and changes nothing.
      const before = await dump(e.datastore);
      await assert.rejects(e.ipam.releaseIPs([{ address: '10.0.0.1', sequenceNumber: created }]), (err) => UpdateConflictError.isInstance(err));
      assert.equal(await dump(e.datastore), before);
      await assert.rejects(e.ipam.releaseIPs([{ address: '10.0.0.1', handleId: 'other' }]), (err) => UpdateConflictError.isInstance(err));
      assert.equal(await dump(e.datastore), before);
      const out = await e.ipam.releaseIPs([{ address: '10.0.0.1', handleId: 'h', sequenceNumber: created + 1n }]);
      assert.deepEqual(out.unallocated, []);
      assert.equal((await block(e.datastore, '10.0.0.0/26')).sequenceNumber, created + 3n);
    });

    test('handle accounting: counts equal allocations; the record goes when empty', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/26', { blockSize: 28 });
      await e.addNode('n');
      const ips = await assign(e.ipam, 'n', 20, 'k8s-pod-network.abc'); // straddles two /28 blocks
      assert.equal(ips.length, 20);
      const h = await e.datastore.getKV({ type: 'handle', handleId: 'k8s-pod-network.abc' });
      assert.equal(Object.values(h.value.block).reduce((a, b) => a + b, 0), 20);
      await assertIPAMInvariants(e.datastore);
      assert.equal((await e.ipam.ipsByHandle('k8s-pod-network.abc')).length, 20);
      await e.ipam.releaseByHandle('k8s-pod-network.abc');
      await assert.rejects(e.datastore.getKV({ type: 'handle', handleId: 'k8s-pod-network.abc' }), (err) => ResourceNotFoundError.isInstance(err));
      await assert.rejects(e.ipam.ipsByHandle('k8s-pod-network.abc'), (err) => ResourceNotFoundError.isInstance(err));
      await assert.rejects(e.ipam.releaseByHandle('k8s-pod-network.abc'), (err) => ResourceNotFoundError.isInstance(err));
      await assertIPAMInvariants(e.datastore);
    });

    test('attributes are stored, shared by identical requests, and read back', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/26');
      await e.addNode('n');
      const attrs = { pod: 'web', namespace: 'default', node: 'n' };
      await assign(e.ipam, 'n', 1, 'h', { attrs });
      await assign(e.ipam, 'n', 1, 'h', { attrs });
      const b = await block(e.datastore, '10.0.0.0/26');
      assert.equal(b.attributes.length, 1);
      assert.deepEqual(await e.ipam.getAssignmentAttributes('10.0.0.1'), { handleId: 'h', attrs, alternateOwnerAttrs: {} });
      await assert.rejects(e.ipam.getAssignmentAttributes('10.0.0.9'), (err) => ResourceNotFoundError.isInstance(err));
      await assert.rejects(e.ipam.getAssignmentAttributes('192.168.0.1'), (err) => ResourceNotFoundError.isInstance(err));
    });

    test('IPReservations: reserved addresses are skipped in place; wholly reserved blocks are never claimed', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/28', { blockSize: 30 });
      await e.addNode('n');
      await e.addReservation('r', ['10.0.0.1', ' 10.0.0.4/30 ', '', 'garbage']);
      const ips = await assign(e.ipam, 'n', 12, 'h');
      assert.equal(ips.length, 11);
      assert.ok(!ips.some((ip) => ip.startsWith('10.0.0.1/') || /^10\.0\.0\.[4-7]\//.test(ip)));
      const blocks = (await e.datastore.listKV({ type: 'block' })).items.map((b) => b.key.cidr).sort();
      assert.ok(!blocks.includes('10.0.0.4/30'));
      const b0 = await block(e.datastore, '10.0.0.0/30');
      assert.deepEqual(b0.unallocated, [1]);
      const util = await e.ipam.getUtilization({ pools: ['p'] });
      assert.equal(util[0]!.reserved, 5n);
    });

    test('a warm engine honours, on its very next call, a reservation, a pool and a freed address made by another client', async () => {
      const e = await env();
      await e.addPool('b-pool', '10.0.1.0/24', { blockSize: 30 });
      await e.addNode('n');
      const other = e.makeIPAM();
      const first = await assign(e.ipam, 'n', 4, 'w0'); // fills the first /30
      for (let i = 1; i <= 3; i++) await assign(e.ipam, 'n', 1, `w${i}`); // warm: the fast path skips the full block
      // Reserve the next two addresses the engine would hand out (in its current, second block).
      const current = await e.ipam.ipsByHandle('w3');
      const base = current[0]!.split('/')[0]!.split('.').map(Number);
      const ahead = [1, 2].map((d) => `${base[0]}.${base[1]}.${base[2]}.${base[3]! + d}`);
      await e.addReservation('late', ahead);
      const after = await assign(e.ipam, 'n', 1, 'w4');
      assert.ok(!ahead.some((a) => after[0]!.startsWith(`${a}/`)), `${after[0]} must not be one of the reserved ${ahead.join(', ')}`);
      // Another client frees an address of the full first block: FIFO reuse brings it back at once.
      await other.releaseIPs([{ address: first[1]!.split('/')[0]! }]);
      assert.deepEqual(await assign(e.ipam, 'n', 1, 'w5'), [first[1]]);
      // A pool created by another client that sorts first is where the next new block comes from.
      await e.addPool('a-pool', '10.0.0.0/24', { blockSize: 30 });
      const many = await assign(e.ipam, 'n', 8, 'w6');
      assert.ok(many.some((ip) => ip.startsWith('10.0.0.')), `a block of the new pool was claimed: ${many.join(' ')}`);
      await assertIPAMInvariants(e.datastore);
    });

    test('pool eligibility: disabled, node selector, allowed uses, namespace selector, manual mode, explicit pools', async () => {
      const e = await env();
      await e.addPool('a-disabled', '10.1.0.0/24', { disabled: true });
      await e.addPool('b-zone', '10.2.0.0/24', { nodeSelector: 'zone == "b"' });
      await e.addPool('c-tunnel', '10.3.0.0/24', { allowedUses: ['Tunnel'] });
      await e.addPool('d-ns', '10.4.0.0/24', { namespaceSelector: 'team == "x"' });
      await e.addPool('e-manual', '10.5.0.0/24', { assignmentMode: 'Manual' });
      await e.addPool('f-lb', '10.6.0.0/24', { allowedUses: ['LoadBalancer'] });
      await e.addNode('na', { zone: 'a' });
      await e.addNode('nb', { zone: 'b' });
      assert.match((await assign(e.ipam, 'nb', 1, 'h1'))[0]!, /^10\.2\./);
      assert.match((await assign(e.ipam, 'na', 1, 'h2', { namespace: { labels: { team: 'x' } } }))[0]!, /^10\.4\./);
      const t = await e.ipam.autoAssign({ num4: 1, hostname: 'na', intendedUse: 'Tunnel' });
      assert.match(t.ipv4!.ips[0]!, /^10\.3\./);
      await assert.rejects(assign(e.ipam, 'na', 1, 'h3'), (err) => NoQualifiedPoolError.isInstance(err) && /required use \(Workload\)/.test((err as Error).message));
      assert.match((await assign(e.ipam, 'na', 1, 'h4', { ipv4Pools: ['10.5.0.0/24'] }))[0]!, /^10\.5\./);
      await assert.rejects(assign(e.ipam, 'na', 1, 'h5', { ipv4Pools: ['10.1.0.0/24'] }), (err) => IPAMError.isInstance(err) && /does not exist, or is not enabled/.test((err as Error).message));
      const lb = await e.ipam.autoAssign({ num4: 1, hostname: 'load-balancer', intendedUse: 'LoadBalancer' });
      assert.match(lb.ipv4!.ips[0]!, /^10\.6\./);
      const lbBlock = (await e.datastore.listKV({ type: 'block' })).items.find((b) => b.key.cidr.startsWith('10.6.'))!;
      assert.equal(lbBlock.value.affinity, 'virtual:load-balancer');
    });

    test('IPv4 and IPv6 in one call; wrong-family pool lists are rejected before anything is written', async () => {
      const e = await env();
      await e.addPool('v4', '10.0.0.0/24');
      await e.addPool('v6', 'fd00:10:244::/64');
      await e.addNode('n');
      const r = await e.ipam.autoAssign({ num4: 2, num6: 2, hostname: 'n', intendedUse: W, handleId: 'dual' });
      assert.equal(r.ipv4!.ips.length, 2);
      assert.equal(r.ipv6!.ips.length, 2);
      assert.match(r.ipv6!.ips[0]!, /^fd00:10:244:[0-9a-f:]+\/122$/);
      const before = await dump(e.datastore);
      await assert.rejects(e.ipam.autoAssign({ num4: 1, hostname: 'n', intendedUse: W, ipv4Pools: ['fd00:10:244::/64'] }), (err) => ValidationError.isInstance(err));
      await assert.rejects(e.ipam.autoAssign({ num6: 1, hostname: 'n', intendedUse: W, ipv6Pools: ['10.0.0.0/24'] }), (err) => ValidationError.isInstance(err));
      assert.equal(await dump(e.datastore), before);
    });

    test('bad input gets typed errors and writes nothing', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/24');
      await e.addNode('n');
      const before = await dump(e.datastore);
      const bad: [string, () => Promise<unknown>, (err: unknown) => boolean][] = [
        ['negative count', () => e.ipam.autoAssign({ num4: -1, hostname: 'n', intendedUse: W }), ValidationError.isInstance.bind(ValidationError)],
        ['fractional count', () => e.ipam.autoAssign({ num4: 1.5, hostname: 'n', intendedUse: W }), ValidationError.isInstance.bind(ValidationError)],
        ['no intended use', () => e.ipam.autoAssign({ num4: 1, hostname: 'n' } as never), ValidationError.isInstance.bind(ValidationError)],
        ['empty handle', () => e.ipam.autoAssign({ num4: 1, hostname: 'n', intendedUse: W, handleId: '' }), ValidationError.isInstance.bind(ValidationError)],
        ['handle with slash', () => e.ipam.autoAssign({ num4: 1, hostname: 'n', intendedUse: W, handleId: 'a/b' }), ValidationError.isInstance.bind(ValidationError)],
        ['non-string attr', () => e.ipam.autoAssign({ num4: 1, hostname: 'n', intendedUse: W, attrs: { a: 1 } as never }), ValidationError.isInstance.bind(ValidationError)],
        ['unknown pool', () => e.ipam.autoAssign({ num4: 1, hostname: 'n', intendedUse: W, ipv4Pools: ['10.9.0.0/24'] }), IPAMError.isInstance.bind(IPAMError)],
        ['malformed pool', () => e.ipam.autoAssign({ num4: 1, hostname: 'n', intendedUse: W, ipv4Pools: ['nope'] }), ValidationError.isInstance.bind(ValidationError)],
        ['unknown node', () => e.ipam.autoAssign({ num4: 1, hostname: 'ghost', intendedUse: W }), ResourceNotFoundError.isInstance.bind(ResourceNotFoundError)],
        ['assignIP outside pools', () => e.ipam.assignIP({ ip: '192.168.1.1', hostname: 'n' }), IPAMError.isInstance.bind(IPAMError)],
        ['assignIP malformed', () => e.ipam.assignIP({ ip: '10.0.0.300', hostname: 'n' }), ValidationError.isInstance.bind(ValidationError)],
        ['release malformed', () => e.ipam.releaseIPs([{ address: '10.0.0.1' }, { address: 'x' }]), ValidationError.isInstance.bind(ValidationError)],
        ['release bad seq type', () => e.ipam.releaseIPs([{ address: '10.0.0.1', sequenceNumber: 5 as never }]), ValidationError.isInstance.bind(ValidationError)],
        ['releaseByHandle empty', () => e.ipam.releaseByHandle(''), ValidationError.isInstance.bind(ValidationError)],
        ['ipsByHandle non-string', () => e.ipam.ipsByHandle(42 as never), ValidationError.isInstance.bind(ValidationError)],
        ['claimAffinity outside pools', () => e.ipam.claimAffinity('192.168.0.0/26', { host: 'n' }), IPAMError.isInstance.bind(IPAMError)],
        ['claimAffinity smaller than a block', () => e.ipam.claimAffinity('10.0.0.0/28', { host: 'n' }), ValidationError.isInstance.bind(ValidationError)],
        ['claimAffinity no host', () => e.ipam.claimAffinity('10.0.0.0/26', { host: '' }), ValidationError.isInstance.bind(ValidationError)],
        ['config both off', () => e.ipam.setIPAMConfig({ strictAffinity: false, autoAllocateBlocks: false }), ValidationError.isInstance.bind(ValidationError)],
        ['config max without strict', () => e.ipam.setIPAMConfig({ maxBlocksPerHost: 4 }), ValidationError.isInstance.bind(ValidationError)],
        ['config negative max', () => e.ipam.setIPAMConfig({ strictAffinity: true, maxBlocksPerHost: -1 }), ValidationError.isInstance.bind(ValidationError)],
      ];
      for (const [name, call, check] of bad) {
        await assert.rejects(call(), (err) => {
          assert.ok(check(err), `${name}: got ${(err as Error).name}: ${(err as Error).message}`);
          return true;
        });
      }
      assert.equal(await dump(e.datastore), before);
      // Releasing an address outside every pool and block is "unallocated", not an error.
      assert.deepEqual((await e.ipam.releaseIPs([{ address: '192.168.7.7' }])).unallocated, ['192.168.7.7']);
    });

    test('block limit: partial result with BlockLimitError and no borrowing, even when not strict', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/24', { blockSize: 29 });
      await e.addNode('n');
      await assert.rejects(assign(e.ipam, 'n', 20, 'h', { maxBlocksPerHost: 2 }), (err) => {
        assert.ok(BlockLimitError.isInstance(err));
        const partial = partialResultOf(err)!;
        assert.equal(partial.ipv4!.ips.length, 16);
        assert.match(partial.ipv4!.msgs[0]!, /limit of 2 blocks reached/);
        return true;
      });
      await e.ipam.setIPAMConfig({ strictAffinity: true, maxBlocksPerHost: 1 });
      await e.addNode('m');
      await assert.rejects(assign(e.ipam, 'm', 9, 'hm', { maxBlocksPerHost: 5 }), (err) => BlockLimitError.isInstance(err) && partialResultOf(err)!.ipv4!.ips.length === 8);
      await assertIPAMInvariants(e.datastore);
    });

    test('outcome matrix when the pool has no room for a new block', async () => {
      // Non-strict: borrow from another host's block, with a message, no error.
      const e = await env();
      await e.addPool('p', '10.0.0.0/28', { blockSize: 29 });
      await e.addNode('a');
      await e.addNode('b');
      await assign(e.ipam, 'a', 1, 'ha');
      await assign(e.ipam, 'b', 8, 'hb'); // b takes the other block
      const r = await e.ipam.autoAssign({ num4: 10, hostname: 'b', intendedUse: W, handleId: 'hb2' });
      assert.equal(r.ipv4!.ips.length, 7); // borrowed all of a's free addresses
      assert.deepEqual(r.ipv4!.msgs, ['No IPs available in pools: [10.0.0.0/28]']);
      assert.match(partialFulfillmentError(r.ipv4)!.message, /^Assigned 7 out of 10 requested IPv4 addresses; No IPs available/);
      await assertIPAMInvariants(e.datastore);

      // Strict: no borrowing, message, no error.
      const s = await env();
      await s.addPool('p', '10.0.0.0/28', { blockSize: 29 });
      await s.addNode('a');
      await s.addNode('b');
      await s.ipam.setIPAMConfig({ strictAffinity: true });
      await assign(s.ipam, 'a', 1, 'ha');
      const rs = await s.ipam.autoAssign({ num4: 10, hostname: 'b', intendedUse: W, handleId: 'hb' });
      assert.equal(rs.ipv4!.ips.length, 8);
      assert.deepEqual(rs.ipv4!.msgs, ['No more free affine blocks and strict affinity enabled']);

      // Strict, no auto-allocation: error with partial result.
      await s.ipam.setIPAMConfig({ autoAllocateBlocks: false });
      await assert.rejects(s.ipam.autoAssign({ num4: 1, hostname: 'b', intendedUse: W }), (err) => IPAMError.isInstance(err) && (err as IPAMError).code === 'noBlock');
      await s.addNode('c');
      await assert.rejects(s.ipam.autoAssign({ num4: 1, hostname: 'c', intendedUse: W }), /failed to find or claim a block/);
    });

    test('empty blocks of other hosts are reclaimed only after a minute', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/29', { blockSize: 29 });
      await e.addNode('a');
      await e.addNode('b');
      const [ip] = await assign(e.ipam, 'a', 1, 'ha');
      await e.ipam.releaseIPs([{ address: ip!.split('/')[0]! }]);
      await e.ipam.setIPAMConfig({ strictAffinity: true });
      const r1 = await e.ipam.autoAssign({ num4: 1, hostname: 'b', intendedUse: W, handleId: 'hb' });
      assert.equal(r1.ipv4!.ips.length, 0);
      e.clock.advance(61_000);
      const r2 = await e.ipam.autoAssign({ num4: 1, hostname: 'b', intendedUse: W, handleId: 'hb' });
      assert.deepEqual(r2.ipv4!.ips, ['10.0.0.0/29']);
      assert.equal((await block(e.datastore, '10.0.0.0/29')).affinity, 'host:b');
      await assertIPAMInvariants(e.datastore);
    });

    test('assignIP claims the block, refuses a taken address, honours strict affinity', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/24');
      await e.addNode('a');
      await e.ipam.assignIP({ ip: '10.0.0.70', hostname: 'a', handleId: 'x', attrs: { note: 'static' } });
      assert.equal((await block(e.datastore, '10.0.0.64/26')).affinity, 'host:a');
      await assert.rejects(e.ipam.assignIP({ ip: '10.0.0.70', hostname: 'a' }), (err) => ResourceExistsError.isInstance(err));
      await e.ipam.assignIP({ ip: '10.0.0.71', hostname: 'b' }); // borrow, not strict
      await e.ipam.setIPAMConfig({ strictAffinity: true });
      await assert.rejects(e.ipam.assignIP({ ip: '10.0.0.72', hostname: 'b' }), (err) => IPAMError.isInstance(err) && (err as IPAMError).code === 'affinityMismatch');
      await assert.rejects(e.ipam.assignIP({ ip: '10.0.0.73', hostname: 'a', intendedUse: 'LoadBalancer' }), (err) => IPAMError.isInstance(err) && (err as IPAMError).code === 'notAllowedUse');
      assert.deepEqual(await e.ipam.ipsByHandle('x'), ['10.0.0.70']);
      await assertIPAMInvariants(e.datastore);
    });

    test('a lost block race leaves nothing on the loser\'s handle (two-write roll-back on conflict)', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/24');
      await e.addNode('a');
      await e.addNode('b');
      // The block exists (owned by a) before the race.
      await e.ipam.assignIP({ ip: '10.0.0.65', hostname: 'a', handleId: 'first' });
      const winner = e.makeIPAM();
      // The loser's block write is preceded, at its last moment, by the winner's: its CAS (or
      // transaction) then fails on the block revision it read.
      let raced = 0;
      const loser = e.makeIPAM({
        hooks: {
          async beforeWrite(point) {
            if (point !== 'assign:commit' || raced++ > 0) return;
            await winner.assignIP({ ip: '10.0.0.70', hostname: 'a', handleId: 'winner' });
            await winner.autoAssign({ num4: 1, hostname: 'a', intendedUse: W, handleId: 'winner-auto' });
          },
        },
      });
      // assignIP of the address the winner takes: the loser ends with "in use" and no count.
      await assert.rejects(loser.assignIP({ ip: '10.0.0.70', hostname: 'a', handleId: 'loser' }), (err) => ResourceExistsError.isInstance(err));
      assert.equal(raced, 1);
      await assert.rejects(e.datastore.getKV({ type: 'handle', handleId: 'loser' }), (err) => ResourceNotFoundError.isInstance(err));
      // autoAssign losing the same block retries it: one address, counted once.
      raced = 0;
      const r = await loser.autoAssign({ num4: 1, hostname: 'a', intendedUse: W, handleId: 'loser-auto' });
      assert.equal(raced, 2, 'the first commit lost the race, the second won');
      assert.equal(r.ipv4!.ips.length, 1);
      const handle = await e.datastore.getKV({ type: 'handle', handleId: 'loser-auto' });
      assert.deepEqual(handle.value.block, { '10.0.0.64/26': 1 });
      assert.deepEqual(await e.ipam.ipsByHandle('winner'), ['10.0.0.70']);
      await assertIPAMInvariants(e.datastore);
    });

    test('releases: an un-owned block emptied by a release is deleted; an owned one stays', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/24');
      await e.addNode('a');
      const two = await assign(e.ipam, 'a', 2, 'h');
      await e.ipam.releaseIPs(two.map((ip) => ({ address: ip.split('/')[0]! })));
      const blocks = (await e.datastore.listKV({ type: 'block' })).items;
      assert.equal(blocks.length, 1); // owned and empty: kept
      const cidr = blocks[0]!.key.cidr;
      const [ip] = await assign(e.ipam, 'a', 1, 'h2');
      await e.ipam.releaseAffinity(cidr, 'a'); // non-empty: un-owned, kept
      assert.equal((await block(e.datastore, cidr)).affinity, null);
      await e.ipam.releaseIPs([{ address: ip!.split('/')[0]! }]);
      await assert.rejects(e.datastore.getKV({ type: 'block', cidr }), (err) => ResourceNotFoundError.isInstance(err));
      await assertIPAMInvariants(e.datastore);
    });

    test('affinity management: claim, conflicts, release with and without mustBeEmpty, host and pool releases', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/24');
      await e.addNode('a');
      const c1 = await e.ipam.claimAffinity('10.0.0.0/25', { host: 'a' });
      assert.deepEqual(c1, { claimed: ['10.0.0.0/26', '10.0.0.64/26'], failed: [] });
      const c2 = await e.ipam.claimAffinity('10.0.0.0/24', { host: 'b' });
      assert.deepEqual(c2, { claimed: ['10.0.0.128/26', '10.0.0.192/26'], failed: ['10.0.0.0/26', '10.0.0.64/26'] });
      await e.ipam.assignIP({ ip: '10.0.0.1', hostname: 'a', handleId: 'keep' });
      await assert.rejects(e.ipam.releaseAffinity('10.0.0.0/26', 'a', true), (err) => IPAMError.isInstance(err) && (err as IPAMError).code === 'blockNotEmpty');
      await e.ipam.releaseAffinity('10.0.0.64/26', 'a', true);
      await assert.rejects(e.datastore.getKV({ type: 'block', cidr: '10.0.0.64/26' }), (err) => ResourceNotFoundError.isInstance(err));
      await e.ipam.releaseHostAffinities({ host: 'a' });
      assert.equal((await block(e.datastore, '10.0.0.0/26')).affinity, null);
      assert.equal((await e.datastore.listKV({ type: 'blockAffinity', host: 'a' })).items.length, 0);
      await e.ipam.releasePoolAffinities('10.0.0.0/24');
      assert.equal((await e.datastore.listKV({ type: 'blockAffinity' })).items.length, 0);
      await assertIPAMInvariants(e.datastore);
    });

    test('a release from a block whose pool no longer selects its node drops the affinity', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/24', { nodeSelector: 'all()' });
      await e.addNode('a', { role: 'x' });
      const [ip] = await assign(e.ipam, 'a', 1, 'h');
      const pool = await e.datastore.getKV({ type: 'resource', kind: 'IPPool', name: 'p' });
      await e.datastore.updateKV(pool.key, { ...pool.value, spec: { ...(pool.value.spec as object), nodeSelector: 'role == "y"' } } as never, pool.revision);
      await e.ipam.releaseIPs([{ address: ip!.split('/')[0]! }]);
      assert.equal((await e.datastore.listKV({ type: 'block' })).items.length, 0);
      assert.equal((await e.datastore.listKV({ type: 'blockAffinity' })).items.length, 0);
    });

    test('cooldown: a released address is not reused before ipCooldownSeconds and reports as cooling down', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/30', { blockSize: 30 });
      await e.addNode('n');
      await e.ipam.setIPAMConfig({ ipCooldownSeconds: 60 });
      await assign(e.ipam, 'n', 4, 'h');
      await e.ipam.releaseIPs([{ address: '10.0.0.2' }]);
      await assert.rejects(e.ipam.getAssignmentAttributes('10.0.0.2'), (err) => IPInCooldownError.isInstance(err));
      const r = await e.ipam.autoAssign({ num4: 1, hostname: 'n', intendedUse: W, handleId: 'h2' });
      assert.equal(r.ipv4!.ips.length, 0);
      e.clock.advance(61_000);
      assert.deepEqual(await assign(e.ipam, 'n', 1, 'h2'), ['10.0.0.2/30']);
      await assertIPAMInvariants(e.datastore);
    });

    test('host-reserved (Windows) ordinals: 3 at the start and 1 at the end of every claimed block', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/24');
      await e.addNode('win');
      const rsvd = { startOfBlock: 3, endOfBlock: 1, handle: 'windows-reserved-ipam-handle', note: 'windows host rsvd' };
      const r = await e.ipam.autoAssign({ num4: 240, hostname: 'win', intendedUse: W, handleId: 'h', hostReservedAttrIPv4s: rsvd });
      assert.equal(r.ipv4!.ips.length, 240);
      assert.ok(!r.ipv4!.ips.some((ip) => /\.(0|1|2|63|64|65|66|127|128|129|130|191|192|193|194|255)\/26$/.test(ip)));
      const ensured = await e.ipam.ensureBlock({ hostname: 'win', hostReservedAttrIPv4s: rsvd });
      assert.ok(ensured.ipv4);
      assert.equal((await e.ipam.ensureBlock({ hostname: 'win', hostReservedAttrIPv4s: rsvd })).ipv4, ensured.ipv4);
    });

    test('utilization per pool and block, with the orphan pseudo-pool', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/24');
      await e.addNode('n');
      await assign(e.ipam, 'n', 1, 'h');
      const u = await e.ipam.getUtilization();
      assert.equal(u.length, 2);
      assert.deepEqual(
        { capacity: u[0]!.capacity, inUse: u[0]!.inUse, available: u[0]!.available, reserved: u[0]!.reserved },
        { capacity: 256n, inUse: 1n, available: 255n, reserved: 0n },
      );
      assert.deepEqual(u[0]!.blocks.map((b) => [b.capacity, b.inUse, b.available]), [[64n, 1n, 63n]]);
      assert.equal(u[1]!.name, 'orphaned allocation blocks');
    });

    test('config: defaults without writing, validation, no-op when unchanged', async () => {
      const e = await env();
      assert.deepEqual(await e.ipam.getIPAMConfig(), { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 });
      assert.equal((await e.datastore.listKV({ type: 'ipamConfig' })).items.length, 0);
      await e.ipam.setIPAMConfig({ strictAffinity: true, maxBlocksPerHost: 4 });
      const stored = await e.datastore.getKV({ type: 'ipamConfig' });
      await e.ipam.setIPAMConfig({ strictAffinity: true });
      assert.equal((await e.datastore.getKV({ type: 'ipamConfig' })).revision, stored.revision);
      const windows = e.makeIPAM({ windows: true });
      await e.ipam.setIPAMConfig({ strictAffinity: false, maxBlocksPerHost: 0 });
      await assert.rejects(windows.getIPAMConfig(), /strict affinity should not be false for Windows/);
    });

    test('node delete releases endpoint and IPv4 tunnel addresses, then the host affinities', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/24');
      await e.addPool('p6', 'fd00::/120', { blockSize: 122 });
      await e.addNode('gone');
      const [w] = await assign(e.ipam, 'gone', 1, 'pod1');
      const t = await e.ipam.autoAssign({ num4: 1, num6: 1, hostname: 'gone', intendedUse: 'Tunnel', handleId: 'vxlan-tunnel-addr-gone' });
      const tunnel = t.ipv4!.ips[0]!.split('/')[0]!;
      const [leftover] = await assign(e.ipam, 'gone', 1, 'no-endpoint');
      const node = await e.datastore.getKV({ type: 'resource', kind: 'Node', name: 'gone' });
      await e.datastore.updateKV(node.key, { ...node.value, spec: { ipv4VXLANTunnelAddr: tunnel, ipv6VXLANTunnelAddr: t.ipv6!.ips[0]!.split('/')[0] } } as never, node.revision);
      await e.addWorkloadEndpoint('default', 'gone-k8s-pod1-eth0', 'gone', [w!.replace(/\/\d+$/, '/32')]);
      const out = await e.ipam.releaseNodeResources('gone');
      assert.deepEqual(out.released.sort(), [w!.split('/')[0]!, tunnel].sort());
      assert.deepEqual(out.workloadEndpoints, [{ namespace: 'default', name: 'gone-k8s-pod1-eth0' }]);
      assert.equal((await e.datastore.listKV({ type: 'blockAffinity', host: 'gone' })).items.length, 0);
      // The leftover v4 address and the v6 tunnel address survive in un-owned blocks (as upstream).
      const blocks = (await e.datastore.listKV({ type: 'block' })).items;
      assert.equal(blocks.length, 2);
      assert.ok(blocks.every((b) => b.value.affinity === null));
      assert.deepEqual(await e.ipam.ipsByHandle('no-endpoint'), [leftover!.split('/')[0]!]);
      await assertIPAMInvariants(e.datastore);
    });

    test('check and gc: leaks found; node-gone leaks released; live-node leaks need an aged earlier report; handles all-or-none', async () => {
      const e = await env();
      await e.addPool('p', '10.0.0.0/24');
      await e.addNode('live');
      await e.addNode('dead');
      const [used] = await assign(e.ipam, 'live', 1, 'used', { attrs: { node: 'live', pod: 'a', namespace: 'ns' } });
      await e.addWorkloadEndpoint('ns', 'live-k8s-a-eth0', 'live', [used!.replace(/\/\d+$/, '/32')]);
      const [leakLive] = await assign(e.ipam, 'live', 1, 'leak-live', { attrs: { node: 'live', pod: 'b', namespace: 'ns' } });
      await assign(e.ipam, 'dead', 1, 'leak-dead', { attrs: { node: 'dead', pod: 'c', namespace: 'ns' } });
      const [shared1] = await assign(e.ipam, 'dead', 1, 'shared', { attrs: { node: 'dead', pod: 'd', namespace: 'ns' } });
      await assign(e.ipam, 'live', 1, 'shared', { attrs: { node: 'live', pod: 'd', namespace: 'ns' } });
      await e.datastore.createKV({ type: 'handle', handleId: 'orphan-handle' }, { block: { '10.0.0.0/26': 1 }, deleted: false });
      await e.deleteNode('dead');
      const report = await e.ipam.check();
      assert.doesNotThrow(() => JSON.stringify(report));
      assert.deepEqual(report.leakedIPs.map((l) => l.handle).sort(), ['leak-dead', 'leak-live', 'shared', 'shared']);
      assert.deepEqual(report.leakedHandles.map((h) => h.handleId), ['orphan-handle']);
      assert.equal(report.invalidBlocks.length, 0);
      const first = await e.ipam.gc({ gracePeriodMs: 60_000 });
      assert.equal(first.released.length, 1); // leak-dead only; shared has a live-node sibling
      assert.ok(first.skipped.includes(shared1!.split('/')[0]!));
      assert.deepEqual(first.deletedHandles, []);
      e.clock.advance(61_000);
      const second = await e.ipam.gc({ previous: first.report, gracePeriodMs: 60_000 });
      assert.ok(second.released.includes(leakLive!.split('/')[0]!));
      assert.deepEqual(second.deletedHandles, ['orphan-handle']);
      const final = await e.ipam.check();
      assert.deepEqual(final.leakedIPs, []);
      assert.equal(final.problemCount, 0);
      assert.deepEqual(await e.ipam.ipsByHandle('used'), [used!.split('/')[0]!]);
      await assertIPAMInvariants(e.datastore);
    });
  });
}
