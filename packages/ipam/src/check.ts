/**
 * Online leak and consistency check (`calicoctl ipam check` problem classes) and the garbage
 * collector that releases what a check proved leaked. Neither locks the datastore: every release
 * is conditional on the allocation's handle and sequence number, every handle deletion on the
 * handle's revision, so anything reused or changed in the meantime is left alone.
 */
import { ValidationError, type Node, type WorkloadEndpoint } from '@libcalico-ts/api';
import type { BlockAffinityKey, BlockKey, TxnCondition } from '@libcalico-ts/datastore';
import type { IPAM } from './engine.js';
import { allocatedCount, blockCIDR, sanitizeHandle, splitAffinity, ordinalAddress } from './block.js';
import { cidrContains, parseIP, formatIP } from './ip.js';
import { WINDOWS_RESERVED_HANDLE, type ReleaseOptions } from './types.js';
import { UpdateConflictError, ResourceExistsError, ResourceNotFoundError } from '@libcalico-ts/api';

/** One allocation seen in a block. */
export interface CheckedAllocation {
  ip: string;
  block: string;
  handle: string | null;
  /** Decimal string (uint64). */
  sequenceNumber: string;
  /** `node` attribute, else the block's host. */
  node: string;
  pod?: string;
  namespace?: string;
  type?: string;
  timestamp?: string;
  inUse: boolean;
  borrowed: boolean;
  coolingDown: boolean;
  /** Host-reserved (Windows) address: never a leak. */
  windowsReserved: boolean;
}

/**
 * An affinity record that confers nothing and that no running protocol step will finish: its
 * block is absent, or exists but does not name the record's owner.
 */
export interface StrandedAffinity {
  host: string;
  affinityType: 'host' | 'virtual';
  cidr: string;
  /** `pendingDeletion` (an interrupted release) or `pending` (an interrupted claim). */
  state: 'pendingDeletion' | 'pending';
  /** The record's revision when checked (gc deletes it only at this revision). */
  revision: string;
  /** `absent`: no block; `notOwned`: the block names no owner or another one. */
  block: 'absent' | 'notOwned';
}

/** The JSON-serialisable result of {@link IPAM.check}. */
export interface IPAMCheckReport {
  version: 1;
  /** RFC 3339 time of the check (the engine clock). */
  createdAt: string;
  blocks: { cidr: string; affinity: string | null; allocated: number }[];
  pools: string[];
  allocations: CheckedAllocation[];
  /** Allocated, not in use, not cooling down (host-reserved excluded). */
  leakedIPs: CheckedAllocation[];
  /** In use by a node or workload endpoint but not allocated: outside every enabled pool / inside one. */
  inUseNotAllocated: { outsidePools: string[]; insidePools: string[] };
  /** Handle records no allocation references, with the revision seen. */
  leakedHandles: { handleId: string; revision: string }[];
  /** Handles referenced by allocations that have no handle record (reported, not counted as problems, as upstream). */
  missingHandles: string[];
  /** Handle counts that differ from the allocations (beyond upstream; counted as problems). */
  handleCountMismatches: { handleId: string; block: string; recorded: number; actual: number }[];
  invalidBlocks: { cidr: string; reason: string }[];
  /**
   * `pendingDeletion` affinity records whose block is absent or no longer names their owner: a
   * release interrupted after its block step (reference §4.4 leaves such a record when it finds
   * the block gone). Counted as problems; `gc()` deletes them.
   */
  strandedAffinities: StrandedAffinity[];
  /**
   * `pending` affinity records whose block is absent or names another owner: a claim interrupted
   * before its block was created, or a lost claim not cleaned up. Not counted as problems (a claim
   * may be running right now, and the host's next claim repairs them); `gc()` deletes those an
   * earlier report listed at the same revision at least the grace period before.
   */
  pendingAffinities: StrandedAffinity[];
  /** Leaked IPs + in-use-not-allocated + leaked handles + count mismatches + invalid blocks + stranded affinities. */
  problemCount: number;
}

/** Options of {@link IPAM.gc}. */
export interface GCOptions {
  /**
   * An earlier report. Allocations on live nodes (and leaked handles) are released only if they
   * were already leaked in it, unchanged (same sequence number / revision), at least
   * `gracePeriodMs` ago. Without it only allocations whose node no longer exists are released.
   */
  previous?: IPAMCheckReport;
  /** Default 15 minutes, as kube-controllers' LeakGracePeriod. */
  gracePeriodMs?: number;
}

/** What {@link IPAM.gc} did. */
export interface GCResult {
  report: IPAMCheckReport;
  released: string[];
  /** Confirmed leaks not released: reused or changed meanwhile, or their handle still holds a live address. */
  skipped: string[];
  deletedHandles: string[];
  /** Stranded affinity records deleted, as `<type>:<host> <cidr>`. */
  deletedAffinities: string[];
}

function nodeIPv4TunnelAddresses(node: Node): string[] {
  const out: string[] = [];
  const spec = node.spec ?? {};
  for (const a of [spec.bgp?.ipv4IPIPTunnelAddr, spec.ipv4VXLANTunnelAddr, spec.wireguard?.interfaceIPv4Address]) {
    if (typeof a !== 'string' || !a) continue;
    const ip = parseIP(a.split('/')[0]!);
    if (ip) out.push(formatIP(ip.version, ip.value));
  }
  return out;
}

function endpointAddresses(wep: WorkloadEndpoint): string[] {
  const out: string[] = [];
  for (const net of wep.spec?.ipNetworks ?? []) {
    const ip = parseIP(String(net).split('/')[0]!);
    if (ip) out.push(formatIP(ip.version, ip.value));
  }
  return out;
}

/** Runs the check on `ipam`'s datastore. */
export async function checkIPAM(ipam: IPAM): Promise<IPAMCheckReport> {
  const ds = ipam.datastore;
  const internals = ipam.internals;
  const report: IPAMCheckReport = {
    version: 1,
    createdAt: new Date(internals.clock.now()).toISOString(),
    blocks: [],
    pools: [],
    allocations: [],
    leakedIPs: [],
    inUseNotAllocated: { outsidePools: [], insidePools: [] },
    leakedHandles: [],
    missingHandles: [],
    handleCountMismatches: [],
    invalidBlocks: [],
    strandedAffinities: [],
    pendingAffinities: [],
    problemCount: 0,
  };
  const blocks = (await ds.listKV({ type: 'block' })).items.filter((b) => !b.value.deleted);
  const pools = (await internals.readPools()).filter((p) => p.enabled);
  report.pools = pools.map((p) => p.cidr.text);
  const nodes = (await ds.listKV({ type: 'resource', kind: 'Node' })).items.map((i) => i.value as Node);
  const weps = (await ds.listKV({ type: 'resource', kind: 'WorkloadEndpoint' })).items.map((i) => i.value as WorkloadEndpoint);
  const inUse = new Set<string>();
  for (const n of nodes) for (const a of nodeIPv4TunnelAddresses(n)) inUse.add(a);
  for (const w of weps) for (const a of endpointAddresses(w)) inUse.add(a);

  const allocated = new Set<string>();
  const handleCounts = new Map<string, Map<string, number>>();
  for (const kv of blocks) {
    const b = kv.value;
    report.blocks.push({ cidr: b.cidr, affinity: b.affinity ?? null, allocated: allocatedCount(b) });
    let cidr;
    try {
      cidr = blockCIDR(b);
    } catch {
      report.invalidBlocks.push({ cidr: b.cidr, reason: 'invalid CIDR' });
      continue;
    }
    const size = Number(cidr.size);
    const reasons: string[] = [];
    if (b.allocations.length !== size) reasons.push(`allocations has ${b.allocations.length} entries, block size is ${size}`);
    const referenced = new Set<number>();
    const [, blockHost] = b.affinity ? splitAffinity(b.affinity) : ['', ''];
    let allocatedN = 0;
    b.allocations.forEach((index, ordinal) => {
      if (index === null || index === undefined) return;
      allocatedN++;
      if (index < 0 || index >= b.attributes.length) {
        reasons.push(`allocation ${ordinal} points at missing attribute ${index}`);
        return;
      }
      referenced.add(index);
      const attr = b.attributes[index]!;
      const ip = ordinalAddress(cidr, ordinal);
      const handle = sanitizeHandle(attr.handleId);
      const secondary = attr.secondary ?? {};
      const windowsReserved = !!handle && handle.toLowerCase() === WINDOWS_RESERVED_HANDLE;
      const coolingDown = attr.releasedAt !== undefined;
      if (coolingDown && Date.parse(attr.releasedAt!) > internals.clock.now()) reasons.push(`releasedAt of ordinal ${ordinal} is in the future`);
      const node = secondary.node ?? blockHost;
      const record: CheckedAllocation = {
        ip,
        block: b.cidr,
        handle,
        sequenceNumber: String(b.sequenceNumberForAllocation[String(ordinal)] ?? 0n),
        node,
        inUse: windowsReserved || inUse.has(ip),
        borrowed: !!secondary.node && secondary.node !== blockHost,
        coolingDown,
        windowsReserved,
      };
      if (secondary.pod !== undefined) record.pod = secondary.pod;
      if (secondary.namespace !== undefined) record.namespace = secondary.namespace;
      if (secondary.type !== undefined) record.type = secondary.type;
      if (secondary.timestamp !== undefined) record.timestamp = secondary.timestamp;
      report.allocations.push(record);
      allocated.add(ip);
      if (!record.inUse && !coolingDown) report.leakedIPs.push(record);
      if (handle && !windowsReserved && !coolingDown) {
        let perBlock = handleCounts.get(handle);
        if (!perBlock) handleCounts.set(handle, (perBlock = new Map()));
        perBlock.set(b.cidr, (perBlock.get(b.cidr) ?? 0) + 1);
      }
    });
    b.attributes.forEach((_, i) => {
      if (!referenced.has(i)) reasons.push(`attribute ${i} is not referenced`);
    });
    const seen = new Set<number>();
    for (const o of b.unallocated) {
      if (!Number.isInteger(o) || o < 0 || o >= size) reasons.push(`unallocated ordinal ${o} out of range`);
      else if (seen.has(o)) reasons.push(`unallocated ordinal ${o} duplicated`);
      else if (b.allocations[o] !== null && b.allocations[o] !== undefined) reasons.push(`ordinal ${o} is both allocated and unallocated`);
      seen.add(o);
    }
    if (b.unallocated.length + allocatedN !== size) reasons.push(`unallocated (${b.unallocated.length}) + allocated (${allocatedN}) != ${size}`);
    for (const r of reasons) report.invalidBlocks.push({ cidr: b.cidr, reason: r });
  }

  for (const ip of inUse) {
    if (allocated.has(ip)) continue;
    const addr = parseIP(ip)!;
    const inPool = pools.some((p) => p.cidr.version === addr.version && cidrContains(p.cidr, addr.value));
    (inPool ? report.inUseNotAllocated.insidePools : report.inUseNotAllocated.outsidePools).push(ip);
  }

  const handles = (await ds.listKV({ type: 'handle' })).items.filter((h) => !h.value.deleted);
  const handleIds = new Set<string>();
  for (const h of handles) {
    const id = sanitizeHandle(h.key.handleId)!;
    handleIds.add(id);
    const actual = handleCounts.get(id);
    if (!actual) {
      report.leakedHandles.push({ handleId: h.key.handleId, revision: h.revision });
      continue;
    }
    const cidrs = new Set([...Object.keys(h.value.block), ...actual.keys()]);
    for (const c of cidrs) {
      const recorded = h.value.block[c] ?? 0;
      const real = actual.get(c) ?? 0;
      if (recorded !== real) report.handleCountMismatches.push({ handleId: id, block: c, recorded, actual: real });
    }
  }
  for (const id of handleCounts.keys()) if (!handleIds.has(id)) report.missingHandles.push(id);

  // Affinity records no protocol step will finish (read after the blocks: a block created since
  // then only makes a record look stranded here; gc re-validates before deleting).
  const owners = new Map(blocks.map((kv) => [kv.key.cidr, kv.value.affinity ?? null]));
  const affinities = (await ds.listKV({ type: 'blockAffinity' })).items;
  for (const a of affinities) {
    const state = a.value.state;
    if (a.value.deleted || (state !== 'pendingDeletion' && state !== 'pending')) continue;
    const type = a.key.affinityType ?? 'host';
    const owner = owners.get(a.key.cidr);
    if (owner === `${type}:${a.key.host}`) continue;
    const record: StrandedAffinity = { host: a.key.host, affinityType: type, cidr: a.key.cidr, state, revision: a.revision, block: owner === undefined ? 'absent' : 'notOwned' };
    (state === 'pendingDeletion' ? report.strandedAffinities : report.pendingAffinities).push(record);
  }
  const byId = (x: StrandedAffinity, y: StrandedAffinity) => affinityId(x).localeCompare(affinityId(y));
  report.strandedAffinities.sort(byId);
  report.pendingAffinities.sort(byId);
  report.problemCount =
    report.leakedIPs.length +
    report.inUseNotAllocated.outsidePools.length +
    report.inUseNotAllocated.insidePools.length +
    report.leakedHandles.length +
    report.handleCountMismatches.length +
    report.invalidBlocks.length +
    report.strandedAffinities.length;
  return report;
}

function affinityId(a: { affinityType: string; host: string; cidr: string }): string {
  return `${a.affinityType}:${a.host} ${a.cidr}`;
}

/**
 * Deletes a stranded affinity record if it is still what the check saw: conditioned on the
 * record's revision (a claim or release in between rewrites it, so the delete fails) and on the
 * block being still absent, or still not naming the owner. Atomic datastores check both in one
 * transaction; others re-read the block first, then delete the record by revision (a claim must
 * rewrite the record before it creates or touches the block, so the revision guards the rest).
 * Returns whether it was deleted.
 */
async function deleteStrandedAffinity(ipam: IPAM, a: StrandedAffinity): Promise<boolean> {
  const ds = ipam.datastore;
  const aKey: BlockAffinityKey =
    a.affinityType === 'host' ? { type: 'blockAffinity', host: a.host, cidr: a.cidr } : { type: 'blockAffinity', host: a.host, cidr: a.cidr, affinityType: a.affinityType };
  const bKey: BlockKey = { type: 'block', cidr: a.cidr };
  const owner = `${a.affinityType}:${a.host}`;
  try {
    const block = await ipam.internals.get(bKey);
    if (block && (block.value.affinity ?? null) === owner) return false;
    if ((block ? 'notOwned' : 'absent') !== a.block) return false;
    await ipam.internals.write('gc:deleteAffinity', [aKey], async () => {
      if (ds.capabilities.atomicTransactions) {
        const blockCondition: TxnCondition = block ? { key: bKey, revision: block.revision } : { key: bKey, absent: true };
        await ds.transact([{ key: aKey, revision: a.revision }, blockCondition], [{ op: 'delete', key: aKey }]);
      } else {
        await ds.deleteKV(aKey, a.revision);
      }
    });
    return true;
  } catch (error) {
    if (UpdateConflictError.isInstance(error) || ResourceExistsError.isInstance(error) || ResourceNotFoundError.isInstance(error)) return false;
    throw error;
  }
}

/**
 * Releases what a check proves leaked (reference §8 rules): an allocation is a confirmed leak when
 * its `node` no longer exists, or when it was already leaked (same sequence number) in
 * `options.previous` at least the grace period ago. A handle's allocations are released only if
 * all of them are confirmed leaks. Releases carry the handle and sequence number, so an address
 * reused since the check is not touched. Leaked handle records are deleted under the same
 * grace rule, conditioned on their revision.
 */
export async function gcIPAM(ipam: IPAM, options: GCOptions = {}): Promise<GCResult> {
  const grace = options.gracePeriodMs ?? 15 * 60_000;
  if (!Number.isFinite(grace) || grace < 0) throw new ValidationError([{ name: 'gracePeriodMs', value: options.gracePeriodMs, reason: 'must be >= 0' }]);
  const report = await checkIPAM(ipam);
  const now = ipam.internals.clock.now();
  const previous = options.previous;
  const previousOld = previous !== undefined && now - Date.parse(previous.createdAt) >= grace;
  const previousLeaks = new Set((previous?.leakedIPs ?? []).map((a) => `${a.ip}|${a.sequenceNumber}|${a.handle}`));
  const nodeNames = new Set((await ipam.datastore.listKV({ type: 'resource', kind: 'Node' })).items.map((i) => i.key.name));
  const confirmed = new Set<CheckedAllocation>();
  for (const a of report.leakedIPs) {
    if (!a.handle || a.windowsReserved) continue;
    const nodeGone = !!a.node && !nodeNames.has(a.node);
    const aged = previousOld && previousLeaks.has(`${a.ip}|${a.sequenceNumber}|${a.handle}`);
    if (nodeGone || aged) confirmed.add(a);
  }
  // All or none per handle.
  const byHandle = new Map<string, CheckedAllocation[]>();
  for (const a of report.allocations) {
    if (!a.handle || a.coolingDown) continue;
    let list = byHandle.get(a.handle);
    if (!list) byHandle.set(a.handle, (list = []));
    list.push(a);
  }
  const result: GCResult = { report, released: [], skipped: [], deletedHandles: [], deletedAffinities: [] };
  const toRelease: ReleaseOptions[] = [];
  for (const a of confirmed) {
    if (byHandle.get(a.handle!)!.every((x) => confirmed.has(x))) {
      toRelease.push({ address: a.ip, handleId: a.handle!, sequenceNumber: BigInt(a.sequenceNumber) });
    } else result.skipped.push(a.ip);
  }
  // One release call per address so that a stale one only fails itself.
  for (const option of toRelease) {
    try {
      const out = await ipam.releaseIPs([option]);
      if (out.unallocated.length === 0) result.released.push(option.address);
      else result.skipped.push(option.address);
    } catch (error) {
      if (!UpdateConflictError.isInstance(error)) throw error;
      result.skipped.push(option.address);
    }
  }
  if (previousOld) {
    const prevHandles = new Set(previous!.leakedHandles.map((h) => `${h.handleId}|${h.revision}`));
    for (const h of report.leakedHandles) {
      if (!prevHandles.has(`${h.handleId}|${h.revision}`)) continue;
      const key = { type: 'handle', handleId: h.handleId } as const;
      try {
        await ipam.internals.write('gc:deleteHandle', [key], () => ipam.datastore.deleteKV(key, h.revision));
        result.deletedHandles.push(h.handleId);
      } catch (error) {
        if (!UpdateConflictError.isInstance(error) && !ResourceNotFoundError.isInstance(error)) throw error;
      }
    }
  }
  // Stranded affinity records: interrupted releases at once; interrupted claims once an earlier
  // report at least the grace period old saw the same record (same revision) stranded too.
  const stale = [...report.strandedAffinities];
  if (previousOld) {
    const seen = new Set((previous!.pendingAffinities ?? []).map((a) => `${affinityId(a)}|${a.revision}`));
    for (const a of report.pendingAffinities) if (seen.has(`${affinityId(a)}|${a.revision}`)) stale.push(a);
  }
  for (const a of stale) if (await deleteStrandedAffinity(ipam, a)) result.deletedAffinities.push(affinityId(a));
  return result;
}

/** What {@link IPAM.releaseNodeResources} did. */
export interface NodeReleaseResult {
  /** Addresses released (workload endpoints' and the node's IPv4 tunnel addresses). */
  released: string[];
  /** Collected addresses that were not allocated. */
  unallocated: string[];
  /** The node's workload endpoints (the caller deletes them, as Calico's node delete does). */
  workloadEndpoints: { namespace: string; name: string }[];
}

/**
 * What Calico's node deletion does to IPAM (reference §7, steps 1-3 and 5): releases every
 * address of the node's workload endpoints and the node's IPv4 tunnel addresses (IPIP, VXLAN,
 * WireGuard; IPv6 tunnel addresses are not released, as upstream), whoever holds them, then
 * releases all the node's affinities (empty blocks deleted, others left un-owned). A missing Node
 * is tolerated. Deleting the endpoints and the node is the caller's job.
 */
export async function releaseNodeResources(ipam: IPAM, nodeName: string): Promise<NodeReleaseResult> {
  if (typeof nodeName !== 'string' || !nodeName) throw new ValidationError([{ name: 'node', value: nodeName, reason: 'must be a non-empty node name' }]);
  const ds = ipam.datastore;
  const weps = (await ds.listKV({ type: 'resource', kind: 'WorkloadEndpoint' })).items.filter(
    (i) => (i.value as WorkloadEndpoint).spec?.node === nodeName,
  );
  const addresses: string[] = [];
  for (const w of weps) addresses.push(...endpointAddresses(w.value as WorkloadEndpoint));
  const node = await ipam.internals.readNode(nodeName);
  if (node) addresses.push(...nodeIPv4TunnelAddresses(node));
  const unique = [...new Set(addresses)];
  const out = unique.length ? await ipam.releaseIPs(unique.map((address) => ({ address }))) : { unallocated: [], processed: [] };
  await ipam.removeIPAMHost({ host: nodeName });
  const unallocated = new Set(out.unallocated);
  return {
    released: unique.filter((a) => !unallocated.has(a)),
    unallocated: out.unallocated,
    workloadEndpoints: weps.map((w) => ({ namespace: w.key.namespace ?? '', name: w.key.name })),
  };
}
