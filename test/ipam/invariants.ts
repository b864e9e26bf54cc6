/**
 * IPAM invariants (reference §12) checked over a whole datastore; used after every step of the
 * property and fault suites.
 */
import assert from 'node:assert/strict';
import type { Datastore } from '@libcalico-ts/datastore';

function parseV4orV6(cidr: string): { start: bigint; size: bigint; v6: boolean } {
  const [ip, prefix] = cidr.split('/');
  const v6 = ip!.includes(':');
  let value = 0n;
  if (!v6) for (const p of ip!.split('.')) value = value * 256n + BigInt(p);
  else {
    const [l, r] = ip!.split('::');
    const lg = l ? l.split(':') : [];
    const rg = r !== undefined && r ? r.split(':') : [];
    const groups = r === undefined ? lg : [...lg, ...Array(8 - lg.length - rg.length).fill('0'), ...rg];
    for (const g of groups) value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  const bits = v6 ? 128 : 32;
  return { start: value, size: 1n << BigInt(bits - Number(prefix)), v6 };
}

export interface InvariantOptions {
  /** Handle counts must equal allocations exactly (true unless a crash left a two-write datastore mid-way). */
  exactHandles?: boolean;
}

/** Asserts the invariants; returns a summary (allocated addresses per block). */
export async function assertIPAMInvariants(ds: Datastore, options: InvariantOptions = {}): Promise<{ allocated: number; blocks: number }> {
  const blocks = (await ds.listKV({ type: 'block' })).items;
  const handles = (await ds.listKV({ type: 'handle' })).items;
  const affinities = (await ds.listKV({ type: 'blockAffinity' })).items;
  const ranges: { start: bigint; end: bigint; v6: boolean; cidr: string }[] = [];
  const counted = new Map<string, Map<string, number>>();
  let allocatedTotal = 0;
  for (const { value: b } of blocks) {
    const r = parseV4orV6(b.cidr);
    ranges.push({ start: r.start, end: r.start + r.size, v6: r.v6, cidr: b.cidr });
    const size = Number(r.size);
    assert.equal(b.allocations.length, size, `${b.cidr}: allocations length`);
    const seen = new Set<number>();
    for (const o of b.unallocated) {
      assert.ok(Number.isInteger(o) && o >= 0 && o < size, `${b.cidr}: unallocated ${o} in range`);
      assert.ok(!seen.has(o), `${b.cidr}: unallocated ${o} listed once`);
      assert.equal(b.allocations[o], null, `${b.cidr}: ordinal ${o} free and allocated`);
      seen.add(o);
    }
    const used = new Set<number>();
    let allocated = 0;
    b.allocations.forEach((index, ordinal) => {
      if (index === null) {
        assert.ok(seen.has(ordinal), `${b.cidr}: ordinal ${ordinal} neither free nor allocated`);
        return;
      }
      allocated++;
      assert.ok(index >= 0 && index < b.attributes.length, `${b.cidr}: attribute index ${index}`);
      used.add(index);
      const attr = b.attributes[index]!;
      if (attr.releasedAt === undefined && attr.handleId) {
        const m = counted.get(attr.handleId) ?? new Map<string, number>();
        m.set(b.cidr, (m.get(b.cidr) ?? 0) + 1);
        counted.set(attr.handleId, m);
      }
      assert.ok(b.sequenceNumberForAllocation[String(ordinal)] !== undefined || attr.handleId === 'windows-reserved-ipam-handle', `${b.cidr}: ordinal ${ordinal} has a sequence number`);
    });
    assert.equal(b.attributes.length, used.size, `${b.cidr}: every attribute referenced`);
    assert.equal(allocated + b.unallocated.length, size, `${b.cidr}: partition`);
    for (const k of Object.keys(b.sequenceNumberForAllocation)) {
      assert.notEqual(b.allocations[Number(k)], null, `${b.cidr}: sequence entry ${k} for a free ordinal`);
    }
    assert.equal(typeof b.sequenceNumber, 'bigint');
    allocatedTotal += allocated;
  }
  // One block per CIDR, no overlap.
  ranges.sort((a, b) => (a.v6 === b.v6 ? (a.start < b.start ? -1 : 1) : a.v6 ? 1 : -1));
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i]!.v6 === ranges[i - 1]!.v6) assert.ok(ranges[i]!.start >= ranges[i - 1]!.end, `${ranges[i - 1]!.cidr} overlaps ${ranges[i]!.cidr}`);
  }
  // Confirmed affinities agree with their blocks.
  const byCidr = new Map(blocks.map((b) => [b.value.cidr, b.value]));
  for (const a of affinities) {
    if (a.value.state !== 'confirmed' && a.value.state !== '') continue;
    const b = byCidr.get(a.key.cidr);
    assert.ok(b, `confirmed affinity ${a.key.host} ${a.key.cidr} without a block`);
    assert.equal(b!.affinity, `${a.key.affinityType ?? 'host'}:${a.key.host}`, `confirmed affinity ${a.key.cidr} disagrees with its block`);
  }
  // Handle accounting.
  const exact = options.exactHandles ?? true;
  const handleMap = new Map(handles.map((h) => [h.key.handleId, h.value.block]));
  for (const [h, perBlock] of counted) {
    const stored = handleMap.get(h);
    assert.ok(stored, `handle ${h} has allocations but no record`);
    for (const [cidr, n] of perBlock) {
      if (exact) assert.equal(stored![cidr], n, `handle ${h} count in ${cidr}`);
      else assert.ok((stored![cidr] ?? 0) >= n, `handle ${h} under-counts ${cidr}`);
    }
  }
  for (const [h, stored] of handleMap) {
    assert.ok(Object.keys(stored).length > 0, `handle ${h} with an empty map exists`);
    for (const [cidr, n] of Object.entries(stored)) {
      assert.ok(n > 0, `handle ${h} count ${n} in ${cidr}`);
      if (exact) assert.equal(counted.get(h)?.get(cidr) ?? 0, n, `handle ${h} over-counts ${cidr}`);
    }
  }
  return { allocated: allocatedTotal, blocks: blocks.length };
}
