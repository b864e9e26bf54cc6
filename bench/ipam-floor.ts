/**
 * A floor for the in-memory IPAM target: the least work ANY implementation does for a pod-like
 * autoAssign (one address, a new handle, 1,000 hosts round-robin) when it keeps Calico's data model
 * with value semantics, measured in the same run as the engine.
 *
 * Per call it only: finds the host's current /26 in a Map; when the host has none or it is full,
 * builds a new block (64 allocation slots, 64 free ordinals); otherwise makes the block's next
 * value (its arrays and sequence-number map copied, as a stored value must not change under a
 * reader); takes the first free ordinal, appends an attribute record and a 64-bit sequence
 * number; stores the new block and a handle record in Maps; formats the address; awaits once
 * (the API is async).
 *
 * Everything the engine adds is missing on purpose: argument validation, pools, reservations,
 * node selectors, the walk, conditions, the datastore's checks and copies, caches, the claim
 * protocol. So this is not a competitor but the ceiling on this machine: an engine cannot be
 * faster than the loop that does only what Calico's data model forces.
 */

import { createMemoryDatastore, type AllocationBlock, type BlockKey, type TxnCondition } from '@libcalico-ts/datastore';

interface FloorBlock {
  cidr: string;
  affinity: string;
  allocations: (number | null)[];
  unallocated: number[];
  attributes: { handleId: string | null; secondary: Record<string, string> | null }[];
  sequenceNumber: bigint;
  sequenceNumberForAllocation: Record<string, bigint>;
  deleted: boolean;
}

const EMPTY_ALLOCATIONS: (number | null)[] = new Array<number | null>(64).fill(null);
const ALL_FREE: number[] = Array.from({ length: 64 }, (_, k) => k);

/** The value of the `n`-th /26 of 10.0.0.0/8, new and empty, affine to `host`. */
function newFloorBlock(n: number, host: string): FloorBlock {
  const base = n * 64;
  return {
    cidr: `10.${(base >>> 16) & 255}.${(base >>> 8) & 255}.${base & 255}/26`,
    affinity: `host:${host}`,
    allocations: EMPTY_ALLOCATIONS.slice(),
    unallocated: ALL_FREE.slice(),
    attributes: [],
    sequenceNumber: 0n,
    sequenceNumberForAllocation: {},
    deleted: false,
  };
}

/** The next value of `b` (its arrays and sequence-number map copied: a stored value must not change under a reader). */
function nextFloorBlock(b: FloorBlock): FloorBlock {
  return {
    cidr: b.cidr,
    affinity: b.affinity,
    allocations: b.allocations.slice(),
    unallocated: b.unallocated.slice(),
    attributes: b.attributes.slice(),
    sequenceNumber: b.sequenceNumber,
    sequenceNumberForAllocation: { ...b.sequenceNumberForAllocation },
    deleted: false,
  };
}

/** Takes the first free ordinal of `next` for `handleId` (one attribute record, one sequence number); returns it. */
function assignFirstFree(next: FloorBlock, handleId: string): number {
  const ordinal = next.unallocated.shift()!;
  next.attributes.push(Object.freeze({ handleId, secondary: null }));
  next.allocations[ordinal] = next.attributes.length - 1;
  next.sequenceNumberForAllocation[String(ordinal)] = next.sequenceNumber;
  next.sequenceNumber += 1n;
  return ordinal;
}

/** The address text of `ordinal` in the block at `base` (as autoAssign returns it). */
function floorAddress(base: number, ordinal: number): string {
  const address = base + ordinal;
  return `10.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}/26`;
}

/** Assigns `total` addresses over `hostNames` round-robin; returns the seconds spent. */
export async function floorRun(total: number, hostNames: readonly string[]): Promise<number> {
  const blocks = new Map<string, { value: FloorBlock; revision: number; base: number }>();
  const handles = new Map<string, { value: { block: Record<string, number>; deleted: boolean }; revision: number }>();
  const current = new Map<string, string>();
  let revision = 0;
  let nextBlock = 0;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const host = hostNames[i % hostNames.length]!;
    const cidr0 = current.get(host);
    const stored = cidr0 === undefined ? undefined : blocks.get(cidr0);
    let next: FloorBlock;
    let base: number;
    if (stored === undefined || stored.value.unallocated.length === 0) {
      base = nextBlock * 64;
      next = newFloorBlock(nextBlock++, host);
      current.set(host, next.cidr);
    } else {
      base = stored.base;
      next = nextFloorBlock(stored.value);
    }
    const handleId = `k8s-pod-network.c${i}`;
    const ordinal = assignFirstFree(next, handleId);
    await undefined;
    revision++;
    blocks.set(next.cidr, { value: next, revision, base });
    handles.set(handleId, { value: { block: { [next.cidr]: 1 }, deleted: false }, revision });
    if (floorAddress(base, ordinal).length === 0) throw new Error('unreachable');
  }
  return (performance.now() - start) / 1000;
}

/**
 * The same loop, committing through the memory datastore's contract: each call is one
 * `transact` with the two conditions no engine over the contract can drop (the block at the
 * revision the new value was derived from, or absent; the new handle absent) and two puts (handle,
 * block). Still no engine: no pools, affinities, config, node or list conditions, no validation
 * of the request. So this is the ceiling for any engine built on the datastore contract with this
 * datastore (which copies and checks what it stores), on this machine.
 */
export async function contractFloorRun(total: number, hostNames: readonly string[]): Promise<number> {
  const ds = createMemoryDatastore({ historyLimit: 0 });
  const current = new Map<string, { key: BlockKey; value: FloorBlock; revision: string | undefined; base: number }>();
  let nextBlock = 0;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const host = hostNames[i % hostNames.length]!;
    let stored = current.get(host);
    let next: FloorBlock;
    if (stored === undefined || stored.value.unallocated.length === 0) {
      const base = nextBlock * 64;
      next = newFloorBlock(nextBlock++, host);
      stored = { key: Object.freeze({ type: 'block', cidr: next.cidr }), value: next, revision: undefined, base };
      current.set(host, stored);
    } else {
      next = nextFloorBlock(stored.value);
    }
    const handleId = `k8s-pod-network.c${i}`;
    const ordinal = assignFirstFree(next, handleId);
    const hKey = { type: 'handle', handleId } as const;
    const conditions: TxnCondition[] = [
      stored.revision === undefined ? { key: stored.key, absent: true } : { key: stored.key, revision: stored.revision },
      { key: hKey, absent: true },
    ];
    const result = await ds.transact(conditions, [
      { op: 'put', key: hKey, value: { block: { [next.cidr]: 1 }, deleted: false } },
      { op: 'put', key: stored.key, value: next as AllocationBlock },
    ]);
    stored.value = next;
    stored.revision = result.results[1]!.revision;
    if (floorAddress(stored.base, ordinal).length === 0) throw new Error('unreachable');
  }
  const seconds = (performance.now() - start) / 1000;
  await ds.close();
  return seconds;
}
