/**
 * Block-level algorithms of Calico IPAM (reference §2.2 and §3), on one in-memory copy of an
 * allocation block. Callers persist the result with compare-and-swap. Internal.
 *
 * Invariants kept by every function here (reference §12): each ordinal is either in
 * `unallocated` exactly once or has a non-null allocation; every allocation indexes an existing
 * attribute record; after `gcPass` every record is referenced.
 */
import type { AllocationAttribute, AllocationBlock } from '@libcalico-ts/datastore';
import { formatIP, formatV4, parseCIDR, type CIDR } from './ip.js';
import type { ReservedSet } from './reservations.js';
import { WINDOWS_RESERVED_HANDLE, type HostReservedAttr } from './types.js';

/** Handle IDs are compared after dropping everything from the first carriage return. */
export function sanitizeHandle(handle: string | null | undefined): string | null {
  if (handle === null || handle === undefined) return null;
  const cr = handle.indexOf('\r');
  return cr >= 0 ? handle.slice(0, cr) : handle;
}

/** The block's parsed CIDR (throws on a corrupt block). */
export function blockCIDR(block: AllocationBlock): CIDR {
  const cidr = parseCIDR(block.cidr);
  if (!cidr) throw new Error(`invalid block CIDR ${block.cidr}`);
  return cidr;
}

/** Copy for modification: arrays and maps copied, attribute records shared (they are replaced, never edited). */
export function cloneBlock(block: AllocationBlock): AllocationBlock {
  const copy: AllocationBlock = {
    cidr: block.cidr,
    affinity: block.affinity,
    allocations: block.allocations.slice(),
    unallocated: block.unallocated.slice(),
    attributes: block.attributes.slice(),
    sequenceNumber: block.sequenceNumber,
    sequenceNumberForAllocation: { ...block.sequenceNumberForAllocation },
    deleted: block.deleted,
  };
  if (block.affinityClaimTime !== undefined) copy.affinityClaimTime = block.affinityClaimTime;
  return copy;
}

/** A new block per reference §2.2, optionally with host-reserved ordinals. */
export function newBlock(
  cidr: CIDR,
  affinity: string,
  sequenceNumber: bigint,
  claimTime: string,
  reserved?: HostReservedAttr | null,
): AllocationBlock {
  const size = Number(cidr.size);
  const allocations: (number | null)[] = new Array<number | null>(size).fill(null);
  const unallocated: number[] = [];
  const attributes: AllocationAttribute[] = [];
  const start = reserved ? reserved.startOfBlock : 0;
  const end = reserved ? reserved.endOfBlock : 0;
  if (reserved && start + end > 0) {
    attributes.push(attributeRecord(reserved.handle, { note: reserved.note }));
    for (let i = 0; i < size; i++) {
      if (i < start || i >= size - end) allocations[i] = 0;
      else unallocated.push(i);
    }
  } else {
    for (let i = 0; i < size; i++) unallocated.push(i);
  }
  return {
    cidr: cidr.text,
    affinity,
    affinityClaimTime: claimTime,
    allocations,
    unallocated,
    attributes,
    sequenceNumber,
    sequenceNumberForAllocation: {},
    deleted: false,
  };
}

function mapsEqual(a: Record<string, string> | null | undefined, b: Record<string, string> | null | undefined): boolean {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!Object.prototype.hasOwnProperty.call(b, k) || a[k] !== b[k]) return false;
  return true;
}

/**
 * A new attribute record. Records are immutable once made (frozen, with a frozen copy of the
 * map): blocks are copied by sharing them, and the memory datastore stores frozen records as they
 * are instead of copying them on every write.
 */
export function attributeRecord(handleId: string | null, secondary: Record<string, string> | null, releasedAt?: string): AllocationAttribute {
  const record: AllocationAttribute = { handleId, secondary: secondary === null ? null : Object.freeze({ ...secondary }) };
  if (releasedAt !== undefined) record.releasedAt = releasedAt;
  return Object.freeze(record);
}

/** Index of an attribute record equal to {handleId, secondary} (no alternate owner, no releasedAt), appending one if none. */
export function findOrAddAttribute(block: AllocationBlock, handleId: string | null, secondary: Record<string, string> | null): number {
  const attrs = block.attributes;
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i]!;
    if (a.releasedAt !== undefined || a.alternateOwnerAttrs !== undefined) continue;
    if ((a.handleId ?? null) === handleId && mapsEqual(a.secondary, secondary)) return i;
  }
  attrs.push(attributeRecord(handleId, secondary));
  return attrs.length - 1;
}

/** The address text of `ordinal` (no prefix). */
export function ordinalAddress(cidr: CIDR, ordinal: number): string {
  return cidr.version === 4 ? formatV4(Number(cidr.network) + ordinal) : formatIP(6, cidr.network + BigInt(ordinal));
}

/** Ordinal of an address value in the block, or -1 when outside. */
export function ordinalOf(cidr: CIDR, value: bigint): number {
  if (value < cidr.network || value >= cidr.network + cidr.size) return -1;
  return Number(value - cidr.network);
}

/** Error from the affinity check of `autoAssignOrdinals` / `assignOrdinal`. */
export class AffinityCheckError extends Error {}

function checkAffinity(block: AllocationBlock, affinity: string, assignIP: boolean): void {
  if (block.affinity !== null && block.affinity !== undefined) {
    if (block.affinity !== affinity) {
      if (assignIP) throw new AffinityCheckError('Block host affinity does not match');
      const [type, host] = splitAffinity(affinity);
      throw new AffinityCheckError(`Block affinity (${block.affinity}) does not match provided (${host}:${type})`);
    }
  } else {
    throw new AffinityCheckError(`Attempt to assign from block ${block.cidr} with no affinity`);
  }
}

/** `host:node-a` -> ['host', 'node-a']. */
export function splitAffinity(affinity: string): [string, string] {
  const i = affinity.indexOf(':');
  return i < 0 ? ['', affinity] : [affinity.slice(0, i), affinity.slice(i + 1)];
}

/**
 * Reference §3.1: allocate up to `n` ordinals from the head of `unallocated`, skipping reserved
 * addresses in place. Mutates `block` (a copy). Returns the ordinals, in order.
 */
export function autoAssignOrdinals(
  block: AllocationBlock,
  cidr: CIDR,
  n: number,
  handleId: string | null,
  secondary: Record<string, string> | null,
  affinity: string | null,
  reserved: ReservedSet,
): number[] {
  if (affinity !== null) checkAffinity(block, affinity, false);
  const taken: number[] = [];
  if (n <= 0) return taken;
  const queue = block.unallocated;
  const checkReserved = reserved.hasFamily(cidr.version);
  let i = 0;
  let kept: number[] | undefined;
  for (; i < queue.length && taken.length < n; i++) {
    const ordinal = queue[i]!;
    if (checkReserved && reserved.covers(cidr.version, cidr.network + BigInt(ordinal))) {
      (kept ??= []).push(ordinal);
      continue;
    }
    taken.push(ordinal);
  }
  if (taken.length === 0) return taken;
  const rest = queue.slice(i);
  block.unallocated = kept ? kept.concat(rest) : rest;
  const index = findOrAddAttribute(block, handleId, secondary);
  const seq = block.sequenceNumber;
  for (const ordinal of taken) {
    block.allocations[ordinal] = index;
    block.sequenceNumberForAllocation[String(ordinal)] = seq;
  }
  return taken;
}

/** Thrown by `assignOrdinal` when the ordinal is taken. */
export class AlreadyAssignedError extends Error {
  constructor() {
    super('Address already assigned in block');
  }
}

/** Reference §3.2: assign one specific ordinal. Mutates `block`. */
export function assignOrdinal(
  block: AllocationBlock,
  ordinal: number,
  handleId: string | null,
  secondary: Record<string, string> | null,
  affinity: string | null,
): void {
  if (affinity !== null) checkAffinity(block, affinity, true);
  block.sequenceNumberForAllocation[String(ordinal)] = block.sequenceNumber;
  if (block.allocations[ordinal] !== null && block.allocations[ordinal] !== undefined) throw new AlreadyAssignedError();
  const index = findOrAddAttribute(block, handleId, secondary);
  block.allocations[ordinal] = index;
  const pos = block.unallocated.indexOf(ordinal);
  if (pos >= 0) block.unallocated.splice(pos, 1);
}

/** A stale release request: its sequence number or handle does not match (whole block group fails). */
export class ReleaseMismatchError extends Error {
  constructor(
    message: string,
    readonly kind: 'sequenceNumber' | 'handle',
  ) {
    super(message);
  }
}

export interface BlockReleaseItem {
  ordinal: number;
  address: string;
  handleId?: string | null;
  sequenceNumber?: bigint;
}

/**
 * Reference §3.3. Mutates `block` only when something is releasable. Returns the addresses that
 * were not allocated and, per stored handle, how many were released. Throws `ReleaseMismatchError`
 * (nothing changed) on a stale handle or sequence number.
 */
export function releaseOrdinals(
  block: AllocationBlock,
  items: BlockReleaseItem[],
  releasedAt: string,
  cooldownSeconds: number,
  nowMs: number,
): { unallocated: string[]; released: number; handleCounts: Map<string, number> } {
  const unallocated: string[] = [];
  const handleCounts = new Map<string, number>();
  const toRelease: number[] = [];
  for (const item of items) {
    const stored = block.sequenceNumberForAllocation[String(item.ordinal)] ?? 0n;
    if (item.sequenceNumber !== undefined && item.sequenceNumber !== stored) {
      throw new ReleaseMismatchError(
        `the given sequence number (${item.sequenceNumber}) does not match (${stored}) when attempting to release IP`,
        'sequenceNumber',
      );
    }
    const index = block.allocations[item.ordinal];
    if (index === null || index === undefined || block.attributes[index]?.releasedAt !== undefined) {
      unallocated.push(item.address);
      continue;
    }
    const storedHandle = sanitizeHandle(block.attributes[index]?.handleId ?? null);
    if (item.handleId !== undefined && item.handleId !== null && item.handleId !== (storedHandle ?? '')) {
      throw new ReleaseMismatchError(
        `the given handle (${item.handleId}) does not match (${storedHandle ?? ''}) when attempting to release IP`,
        'handle',
      );
    }
    if (storedHandle) handleCounts.set(storedHandle, (handleCounts.get(storedHandle) ?? 0) + 1);
    toRelease.push(item.ordinal);
  }
  if (toRelease.length === 0) return { unallocated, released: 0, handleCounts };
  block.attributes.push(attributeRecord(null, null, releasedAt));
  const index = block.attributes.length - 1;
  const seq = block.sequenceNumber;
  for (const ordinal of toRelease) {
    block.allocations[ordinal] = index;
    block.sequenceNumberForAllocation[String(ordinal)] = seq;
  }
  gcPass(block, cooldownSeconds, nowMs);
  return { unallocated, released: toRelease.length, handleCounts };
}

/** Reference §3.4: release every ordinal of `handle` (optionally only those with `sequenceNumber`). Mutates `block`. */
export function releaseHandleOrdinals(
  block: AllocationBlock,
  handle: string,
  releasedAt: string,
  cooldownSeconds: number,
  nowMs: number,
  sequenceNumber?: bigint,
): number {
  const matching = new Set<number>();
  block.attributes.forEach((a, i) => {
    if (a.releasedAt === undefined && sanitizeHandle(a.handleId) === handle) matching.add(i);
  });
  if (matching.size === 0) return 0;
  const ordinals: number[] = [];
  block.allocations.forEach((index, ordinal) => {
    if (index === null || !matching.has(index)) return;
    if (sequenceNumber !== undefined && (block.sequenceNumberForAllocation[String(ordinal)] ?? 0n) !== sequenceNumber) return;
    ordinals.push(ordinal);
  });
  if (ordinals.length === 0) return 0;
  block.attributes.push(attributeRecord(null, null, releasedAt));
  const index = block.attributes.length - 1;
  for (const ordinal of ordinals) block.allocations[ordinal] = index;
  gcPass(block, cooldownSeconds, nowMs);
  return ordinals.length;
}

/**
 * Reference §3.5: deallocate ordinals whose cooldown has elapsed (ascending ordinal order,
 * appended to `unallocated`), then drop unreferenced attribute records and renumber. Returns
 * whether anything changed. Mutates `block`.
 */
export function gcPass(block: AllocationBlock, cooldownSeconds: number, nowMs: number): boolean {
  const attrs = block.attributes;
  let expired: boolean[] | undefined;
  for (let i = 0; i < attrs.length; i++) {
    const at = attrs[i]!.releasedAt;
    if (at === undefined) continue;
    const released = Date.parse(at);
    if (cooldownSeconds < 0 || Number.isNaN(released) || nowMs - released >= cooldownSeconds * 1000) {
      (expired ??= new Array<boolean>(attrs.length).fill(false))[i] = true;
    }
  }
  let changed = false;
  if (expired) {
    const allocations = block.allocations;
    for (let ordinal = 0; ordinal < allocations.length; ordinal++) {
      const index = allocations[ordinal];
      if (index !== null && index !== undefined && expired[index]) {
        allocations[ordinal] = null;
        block.unallocated.push(ordinal);
        delete block.sequenceNumberForAllocation[String(ordinal)];
        changed = true;
      }
    }
  }
  // Drop unreferenced records and renumber the survivors.
  const used = new Array<boolean>(attrs.length).fill(false);
  for (const index of block.allocations) if (index !== null && index !== undefined && index < used.length) used[index] = true;
  if (used.every(Boolean)) return changed;
  const remap = new Array<number>(attrs.length).fill(-1);
  const kept: AllocationAttribute[] = [];
  for (let i = 0; i < attrs.length; i++) {
    if (used[i]) {
      remap[i] = kept.length;
      kept.push(attrs[i]!);
    }
  }
  block.attributes = kept;
  const allocations = block.allocations;
  for (let ordinal = 0; ordinal < allocations.length; ordinal++) {
    const index = allocations[ordinal];
    if (index !== null && index !== undefined) allocations[ordinal] = remap[index]!;
  }
  return true;
}

/** True when every allocation belongs to the Windows-reserved handle (reference §2.2). */
export function isBlockEmpty(block: AllocationBlock): boolean {
  for (const index of block.allocations) {
    if (index === null || index === undefined) continue;
    const handle = block.attributes[index]?.handleId;
    if (!handle || handle.toLowerCase() !== WINDOWS_RESERVED_HANDLE || block.attributes[index]?.releasedAt !== undefined) return false;
  }
  return true;
}

/** Free addresses: `unallocated` minus reserved ones (0 when the whole block is reserved). */
export function freeCount(block: AllocationBlock, cidr: CIDR, reserved: ReservedSet): number {
  if (!reserved.hasFamily(cidr.version)) return block.unallocated.length;
  if (reserved.coversWhole(cidr)) return 0;
  let n = 0;
  for (const ordinal of block.unallocated) if (!reserved.covers(cidr.version, cidr.network + BigInt(ordinal))) n++;
  return n;
}

/** Reference §3.6: ordinals (ascending) carrying `handle`. */
export function handleOrdinals(block: AllocationBlock, handle: string): number[] {
  const out: number[] = [];
  block.allocations.forEach((index, ordinal) => {
    if (index === null || index === undefined) return;
    const a = block.attributes[index];
    if (a && a.releasedAt === undefined && sanitizeHandle(a.handleId) === handle) out.push(ordinal);
  });
  return out;
}

/** Number of allocated ordinals (including host-reserved and cooling-down ones). */
export function allocatedCount(block: AllocationBlock): number {
  return block.allocations.length - block.unallocated.length;
}

// ---------------------------------------------------------------------------------------------
// Did a write land? (docs/cas-loop.md, "Indeterminate commits")

/** String maps equal, with null, undefined and `{}` all meaning "empty" (the etcd codec drops empty maps). */
function sameStringMap(a: Record<string, string> | null | undefined, b: Record<string, string> | null | undefined): boolean {
  const ea = !a || Object.keys(a).length === 0;
  const eb = !b || Object.keys(b).length === 0;
  if (ea || eb) return ea && eb;
  return mapsEqual(a, b);
}

function sameAttribute(a: AllocationAttribute | undefined, b: AllocationAttribute | undefined): boolean {
  if (!a || !b) return a === b;
  return (
    (a.handleId ?? null) === (b.handleId ?? null) &&
    sameStringMap(a.secondary, b.secondary) &&
    a.releasedAt === b.releasedAt &&
    sameStringMap(a.alternateOwnerAttrs, b.alternateOwnerAttrs)
  );
}

/** Whether two copies of a block hold the same data (as a datastore round trip keeps it). */
export function sameBlock(a: AllocationBlock, b: AllocationBlock): boolean {
  if (a.cidr !== b.cidr || (a.affinity ?? null) !== (b.affinity ?? null) || a.sequenceNumber !== b.sequenceNumber) return false;
  if ((a.affinityClaimTime ?? '') !== (b.affinityClaimTime ?? '')) return false;
  if (a.allocations.length !== b.allocations.length || a.unallocated.length !== b.unallocated.length || a.attributes.length !== b.attributes.length) return false;
  for (let i = 0; i < a.allocations.length; i++) if ((a.allocations[i] ?? null) !== (b.allocations[i] ?? null)) return false;
  for (let i = 0; i < a.unallocated.length; i++) if (a.unallocated[i] !== b.unallocated[i]) return false;
  for (let i = 0; i < a.attributes.length; i++) if (!sameAttribute(a.attributes[i], b.attributes[i])) return false;
  const ka = Object.keys(a.sequenceNumberForAllocation);
  if (ka.length !== Object.keys(b.sequenceNumberForAllocation).length) return false;
  for (const k of ka) if (a.sequenceNumberForAllocation[k] !== b.sequenceNumberForAllocation[k]) return false;
  return true;
}

/**
 * `ordinals` when `stored` shows the allocation write `written` (all of them), else `[]`.
 *
 * Every block write increments the block's sequence number, and an allocation records the
 * sequence number of the block version it was made from, so only ONE write from a given version
 * can be in the block. `stored` shows ours when it is exactly the block we wrote (same sequence
 * number and data), or — when later writes followed — when the allocations recorded with our base
 * sequence number are exactly `ordinals`, still allocated and not released, to our handle with our
 * attributes. Only a write identical to ours (same block version, same addresses, same handle and
 * attributes: the same request sent twice) could look the same. Allocations without a handle
 * could be identical for two different callers, so they prove nothing and never match.
 */
export function allocationsPresent(written: AllocationBlock, stored: AllocationBlock, ordinals: readonly number[]): number[] {
  if (ordinals.length === 0 || stored.cidr !== written.cidr) return [];
  const first = written.allocations[ordinals[0]!];
  const attr = first === null || first === undefined ? undefined : written.attributes[first];
  if (!attr || !sanitizeHandle(attr.handleId)) return [];
  if (stored.sequenceNumber === written.sequenceNumber) return sameBlock(stored, written) ? [...ordinals] : [];
  if (stored.sequenceNumber < written.sequenceNumber) return [];
  const base = written.sequenceNumberForAllocation[String(ordinals[0]!)];
  if (base === undefined) return [];
  const wanted = new Set(ordinals);
  let seen = 0;
  for (const [key, seq] of Object.entries(stored.sequenceNumberForAllocation)) {
    if (seq !== base) continue;
    const ordinal = Number(key);
    const index = stored.allocations[ordinal];
    if (index === null || index === undefined) continue;
    const sa = stored.attributes[index];
    if (!sa || sa.releasedAt !== undefined) continue;
    if (!wanted.has(ordinal)) return []; // that write allocated something we did not
    const w = written.allocations[ordinal];
    const wa = w === null || w === undefined ? undefined : written.attributes[w];
    if (!wa || written.sequenceNumberForAllocation[key] !== base) return [];
    if (sanitizeHandle(sa.handleId) !== sanitizeHandle(wa.handleId) || !sameStringMap(sa.secondary, wa.secondary)) return [];
    seen++;
  }
  return seen === wanted.size ? [...ordinals] : [];
}

/**
 * Whether `stored` shows the release write `written` (from the block version `base`): the same
 * block version (same sequence number and data), or one of `ordinals` still cooling down under
 * the release record that write made (same `releasedAt` and allocation sequence number). A
 * release whose effect a later write has erased (no cooldown) cannot be told from one that never
 * happened: false.
 */
export function releasePresent(base: AllocationBlock, written: AllocationBlock, stored: AllocationBlock, ordinals: readonly number[]): boolean {
  if (stored.sequenceNumber === written.sequenceNumber) return sameBlock(stored, written);
  if (stored.cidr !== written.cidr || stored.sequenceNumber < written.sequenceNumber) return false;
  for (const ordinal of ordinals) {
    const w = written.allocations[ordinal];
    const s = stored.allocations[ordinal];
    if (w === null || w === undefined || s === null || s === undefined) continue;
    const wa = written.attributes[w];
    const sa = stored.attributes[s];
    if (!wa || !sa || wa.releasedAt === undefined || wa.releasedAt !== sa.releasedAt) continue;
    const b = base.allocations[ordinal];
    if (b !== null && b !== undefined && base.attributes[b]?.releasedAt !== undefined) continue; // was already cooling down
    if (stored.sequenceNumberForAllocation[String(ordinal)] === written.sequenceNumberForAllocation[String(ordinal)]) return true;
  }
  return false;
}
