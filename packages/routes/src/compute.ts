/**
 * The full (from scratch) route computation for one node.
 */
import { ResourceNotFoundError, ValidationError } from '@libcalico-ts/api';
import { type Net, addressAt, compareNets, formatV4, hostLength, maskV4, parseNet, parseV4CIDR } from './internal/addr.js';
import {
  type Context,
  type DestinationSources,
  type NodeInfo,
  type PoolInfo,
  Problems,
  affinityCounts,
  affinityHost,
  buildContext,
  decideInto,
  parseNodeInto,
  parsePoolInto,
  parseWorkloadInto,
  sortPools,
  sortWarnings,
  pushVtepEntries,
} from './internal/context.js';
import type { ClusterSnapshot, FdbEntry, NeighborEntry, Route, RouteOptions, RouteTable, RouteWarning, SnapshotBlock } from './types.js';

/** Parsed pools and nodes of a snapshot. @throws {ValidationError} listing every malformed field. */
export function parseSnapshotBasics(snapshot: ClusterSnapshot): { pools: PoolInfo[]; nodes: Map<string, NodeInfo> } {
  if (!snapshot || typeof snapshot !== 'object') {
    throw new ValidationError([{ name: 'snapshot', value: snapshot, reason: 'must be a ClusterSnapshot object' }]);
  }
  const problems = new Problems();
  if (!Array.isArray(snapshot.pools)) problems.add('snapshot.pools', snapshot.pools, 'must be an array of IPPool');
  if (!Array.isArray(snapshot.nodes)) problems.add('snapshot.nodes', snapshot.nodes, 'must be an array of Node');
  for (const field of ['blockAffinities', 'blocks', 'workloadEndpoints', 'felixConfigurations', 'bgpConfigurations'] as const) {
    if (snapshot[field] !== undefined && !Array.isArray(snapshot[field])) problems.add(`snapshot.${field}`, snapshot[field], 'must be an array when given');
  }
  problems.throwIfAny();
  const pools: PoolInfo[] = [];
  snapshot.pools.forEach((pool, i) => {
    const info = parsePoolInto(problems, pool, `snapshot.pools[${i}]`);
    if (info) pools.push(info);
  });
  const nodes = new Map<string, NodeInfo>();
  snapshot.nodes.forEach((node, i) => {
    const info = parseNodeInto(problems, node, 'snapshot.nodes', i);
    if (!info) return;
    if (nodes.has(info.name)) problems.add(`snapshot.nodes[${i}].metadata.name`, info.name, 'duplicate node name');
    nodes.set(info.name, info);
  });
  problems.throwIfAny();
  return { pools: sortPools(pools), nodes };
}

/** Sorts routes by family, destination address, prefix length. */
export function sortRoutes(routes: Route[]): Route[] {
  const keyed = routes.map((route) => ({ route, net: parseNet(route.destination) }));
  keyed.sort((a, b) => compareNets(a.net, b.net));
  return keyed.map((k) => k.route);
}

function compareNodeNames(a: NodeInfo, b: NodeInfo): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function compareNeighbors(a: NeighborEntry | FdbEntry, b: NeighborEntry | FdbEntry): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

/**
 * Computes node `nodeName`'s routes, VXLAN neighbour and FDB entries from a cluster snapshot:
 * IPIP / VXLAN × Always / CrossSubnet / Never and unencapsulated pools, blackholes for the
 * node's blocks, its workloads' `/32`s (`/128`s) on their `cali…` devices, `/32`s to borrowed
 * addresses, IPv6 (VXLAN v6), and the BIRD-vs-Felix route-owner switch with both renderings.
 * Pure and total: no I/O; the result is a new object. Nothing is cached between calls; the cost
 * is linear in blocks, affinities and workload endpoints (about 30 ms for 5,000 nodes, 20,000
 * blocks and 100,000 workload endpoints), whatever order they are listed in.
 *
 * Skips are returned as `warnings` (e.g. a remote node without an address, a block outside every
 * pool); they never abort the computation.
 *
 * @throws {ResourceNotFoundError} when `nodeName` is not one of `snapshot.nodes`.
 * @throws {ValidationError} listing every malformed field (unparsable CIDR/address, unknown
 *   encapsulation mode, IPIP on IPv6, bad configuration values or options).
 * @example
 * ```ts
 * const table = computeRoutes('node-a', snapshot, { parentDevice: 'eth0' });
 * for (const route of table.routes) console.log(formatIpRoute(route));
 * // 10.244.92.128/26 via 192.168.3.126 dev tunl0 proto bird onlink
 * // blackhole 10.244.208.0/26 proto bird
 * ```
 */
export function computeRoutes(nodeName: string, snapshot: ClusterSnapshot, options: RouteOptions = {}): RouteTable {
  if (typeof nodeName !== 'string' || nodeName === '') {
    throw new ValidationError([{ name: 'nodeName', value: nodeName, reason: 'must be a non-empty node name' }]);
  }
  const { pools, nodes } = parseSnapshotBasics(snapshot);
  if (!nodes.has(nodeName)) {
    throw new ResourceNotFoundError({ kind: 'Node', name: nodeName }, { message: `node ${nodeName} is not in the snapshot` });
  }
  const ctx = buildContext(nodeName, { pools, nodes, felixConfigurations: snapshot.felixConfigurations, bgpConfigurations: snapshot.bgpConfigurations }, options);
  return computeWithContext(ctx, snapshot);
}

// ---------------------------------------------------------------------------------------------
// The cold path. Every destination fact (a block record, an affinity, a borrowed address, a
// workload address) becomes one entry of a flat list; the list is put in destination order once
// (IPv4: an ordered listing is merged with its short unordered tail, any other order is radix
// sorted on the numeric network; IPv6 by comparison), entries with the same destination are then
// adjacent, and no per-destination map, sources object or final route sort is needed.
// IPv4 facts are plain numbers (no object per fact): at 20,000 blocks the allocation volume,
// not the arithmetic, is what costs (every young-generation collection copies what is live).

const SOURCE_BLOCK = 0;
const SOURCE_AFFINITY = 1;
const SOURCE_BORROWED = 2;
const SOURCE_LOCAL_WORKLOAD = 3;
const SOURCE_REMOTE_WORKLOAD = 4;
/** `meta` bit marking an IPv6 fact (its network is `v6Nets[v4[i]]`). */
const META_V6 = 1 << 16;

/** Destination facts in insertion order, as parallel arrays (numbers in typed arrays, off the GC'd heap). */
class Facts {
  length = 0;
  /** `kind << 8 | prefix`, plus {@link META_V6}. */
  meta: Int32Array;
  /** IPv4 network as uint32; for IPv6 facts, the index into `v6Nets`. */
  v4: Uint32Array;
  /** Borrowed address: the fact index of the block record it was found in. */
  origin: Int32Array;
  /** Canonical destination text. */
  readonly keys: string[] = [];
  /** Block record: its `host:` owner (undefined = none); affinity: host; borrowed: borrowing node; local workload: interface; remote workload: node. */
  readonly values: (string | undefined)[] = [];
  readonly v6Nets: Net[] = [];

  constructor(capacity: number) {
    this.meta = new Int32Array(Math.max(16, capacity));
    this.v4 = new Uint32Array(this.meta.length);
    this.origin = new Int32Array(this.meta.length);
  }

  private grow(): void {
    const meta = new Int32Array(this.meta.length * 2);
    meta.set(this.meta);
    const v4 = new Uint32Array(meta.length);
    v4.set(this.v4);
    const origin = new Int32Array(meta.length);
    origin.set(this.origin);
    this.meta = meta;
    this.v4 = v4;
    this.origin = origin;
  }

  addV4(network: number, prefix: number, key: string, kind: number, value: string | undefined): void {
    const i = this.length;
    if (i === this.meta.length) this.grow();
    this.meta[i] = (kind << 8) | prefix;
    this.v4[i] = network;
    this.keys.push(key);
    this.values.push(value);
    this.length = i + 1;
  }

  addNet(net: Net, kind: number, value: string | undefined): void {
    if (net.family === 4) {
      this.addV4(net.v4, net.prefix, net.key, kind, value);
      return;
    }
    this.addV4(this.v6Nets.length, net.prefix, net.key, kind, value);
    this.meta[this.length - 1]! |= META_V6;
    this.v6Nets.push(net);
  }

  /**
   * Indices in destination order (family, network, prefix length), insertion order among equal
   * destinations. IPv4: when the facts are an ordered run plus a short tail (blocks listed in
   * order, then their borrowed addresses), the tail is sorted and merged; otherwise a stable LSD
   * radix sort (prefix length, then the network in 11-bit digits), linear time.
   */
  order(): Int32Array {
    const { meta, v4: values } = this;
    const n = this.length;
    const v4n = n - this.v6Nets.length;
    let v4: Int32Array = new Int32Array(v4n);
    // Length of the leading run (in IPv4 order) that is already sorted.
    let run = -1;
    let previousValue = -1;
    let previousPrefix = -1;
    for (let i = 0, j = 0; i < n; i++) {
      const m = meta[i]!;
      if ((m & META_V6) !== 0) continue;
      const value = values[i]!;
      const prefix = m & 0xff;
      if (run < 0 && (value < previousValue || (value === previousValue && prefix < previousPrefix))) run = j;
      v4[j++] = i;
      previousValue = value;
      previousPrefix = prefix;
    }
    if (run >= 0) {
      if (v4n - run <= v4n >> 3) v4 = mergeTail(v4, run, meta, values);
      else v4 = radixOrder(v4, meta, values);
    }
    if (v4n === n) return v4;
    const v6: number[] = [];
    for (let i = 0; i < n; i++) if ((meta[i]! & META_V6) !== 0) v6.push(i);
    const nets = this.v6Nets;
    v6.sort((a, b) => compareNets(nets[values[a]!]!, nets[values[b]!]!) || a - b);
    const out = new Int32Array(n);
    out.set(v4);
    for (let i = 0; i < v6.length; i++) out[v4n + i] = v6[i]!;
    return out;
  }
}

/** IPv4 order of facts `a` and `b` (network, then prefix length, then insertion). */
function compareV4Facts(a: number, b: number, meta: Int32Array, values: Uint32Array): number {
  return values[a]! - values[b]! || (meta[a]! & 0xff) - (meta[b]! & 0xff) || a - b;
}

/** `order[0, run)` is sorted: sorts the rest by comparison and merges (stable: ties keep insertion order). */
function mergeTail(order: Int32Array, run: number, meta: Int32Array, values: Uint32Array): Int32Array {
  const tail = Array.from(order.subarray(run));
  tail.sort((a, b) => compareV4Facts(a, b, meta, values));
  const out = new Int32Array(order.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < run && j < tail.length) out[k++] = compareV4Facts(order[i]!, tail[j]!, meta, values) <= 0 ? order[i++]! : tail[j++]!;
  while (i < run) out[k++] = order[i++]!;
  while (j < tail.length) out[k++] = tail[j++]!;
  return out;
}

/** Stable LSD radix sort of fact indices: prefix length, then bits 0-10, 11-21 and 22-31 of the network. */
function radixOrder(order: Int32Array, meta: Int32Array, values: Uint32Array): Int32Array {
  const n = order.length;
  let from: Int32Array = order;
  let to: Int32Array = new Int32Array(n);
  const count = new Int32Array(2049);
  for (let pass = 0; pass < 4; pass++) {
    count.fill(0);
    const shift = pass === 0 ? 0 : (pass - 1) * 11;
    const mask = pass === 0 ? 0xff : 0x7ff;
    const source = pass === 0 ? meta : values;
    for (let i = 0; i < n; i++) count[((source[from[i]!]! >>> shift) & mask) + 1]!++;
    for (let b = 1; b < 2049; b++) count[b]! += count[b - 1]!;
    for (let i = 0; i < n; i++) {
      const index = from[i]!;
      to[count[(source[index]! >>> shift) & mask]!++] = index;
    }
    const swap = from;
    from = to;
    to = swap;
  }
  return from;
}

function fieldError(problems: Problems, path: string, value: unknown, error: unknown): void {
  problems.add(path, value, error instanceof Error ? error.message : String(error));
}

/** Adds the borrowed addresses of block record fact `record`: allocations whose `secondary.node` differs from the record's owner. */
function addBorrowed(facts: Facts, block: SnapshotBlock, net: Net, record: number): void {
  const owner = facts.values[record];
  const allocations = block.allocations;
  const attributes = block.attributes;
  if (!allocations || !attributes) return;
  // Attributes first: a block whose attributes all name its owner (the common case) is skipped.
  let foreign: boolean[] | undefined;
  for (let ai = 0; ai < attributes.length; ai++) {
    const node = attributes[ai]?.secondary?.node;
    if (node && node !== owner) (foreign ??= [])[ai] = true;
  }
  if (!foreign) return;
  const limit = Math.min(allocations.length, net.family === 4 ? 2 ** (32 - net.prefix) : allocations.length);
  for (let ord = 0; ord < limit; ord++) {
    const ai = allocations[ord];
    if (ai === null || ai === undefined || foreign[ai] !== true) continue;
    const node = attributes[ai]!.secondary!.node;
    if (net.family === 4) {
      const v = (net.v4 + ord) >>> 0;
      facts.addV4(v, 32, `${formatV4(v)}/32`, SOURCE_BORROWED, node);
    } else {
      const ip = addressAt(net, ord);
      facts.addNet({ family: 6, v4: 0, v6: ip.v6, prefix: 128, key: `${ip.text}/128` }, SOURCE_BORROWED, node);
    }
    facts.origin[facts.length - 1] = record;
  }
}

/**
 * Owner of a block per its `host:<node>` affinity. Memoised per computation, keyed by the
 * snapshot's own affinity strings: the blocks of one node share one name string (the routes
 * keep it) instead of a slice each.
 */
function ownerOf(owners: Map<string, string | undefined>, affinity: string | null | undefined): string | undefined {
  if (typeof affinity !== 'string') return undefined;
  let owner = owners.get(affinity);
  if (owner === undefined) {
    owner = affinityHost(affinity);
    if (owner !== undefined) owners.set(affinity, owner);
  }
  return owner;
}

interface MutableNet {
  family: 4 | 6;
  v4: number;
  v6: bigint;
  prefix: number;
  key: string;
}

function computeWithContext(ctx: Context, snapshot: ClusterSnapshot): RouteTable {
  const problems = new Problems();
  const warnings: RouteWarning[] = ctx.globalWarnings.slice();
  const records = ctx.workloadIPs ? [] : (snapshot.blocks ?? []);
  const affinities = ctx.workloadIPs ? [] : (snapshot.blockAffinities ?? []);
  const facts = new Facts(records.length + affinities.length + 64);

  if (!ctx.workloadIPs) {
    // Blocks: records (authoritative owner; the last record of a CIDR wins), then affinities.
    const owners = new Map<string, string | undefined>();
    const firstRecordFact = facts.length;
    for (let i = 0; i < records.length; i++) {
      const block = records[i];
      if (!block || block.deleted === true) continue;
      const owner = ownerOf(owners, block.affinity);
      const cidr = block.cidr;
      const packed = parseV4CIDR(cidr);
      if (packed >= 0) {
        const prefix = packed % 64;
        const ip = (packed - prefix) / 64;
        const network = (ip & maskV4(prefix)) >>> 0;
        facts.addV4(network, prefix, network === ip ? cidr : `${formatV4(network)}/${prefix}`, SOURCE_BLOCK, owner);
      } else {
        let net: Net;
        try {
          net = parseNet(cidr);
        } catch (error) {
          fieldError(problems, `snapshot.blocks[${i}].cidr`, cidr, error);
          continue;
        }
        facts.addNet(net, SOURCE_BLOCK, owner);
      }
    }
    for (let i = 0; i < affinities.length; i++) {
      const a = affinities[i];
      if (!a || !affinityCounts(a)) continue;
      let net: Net;
      try {
        net = parseNet(a.cidr);
      } catch (error) {
        fieldError(problems, `snapshot.blockAffinities[${i}].cidr`, a.cidr, error);
        continue;
      }
      facts.addNet(net, SOURCE_AFFINITY, a.node);
    }
    problems.throwIfAny();
    // Borrowed addresses, in record order (the last claim of an address wins).
    const scratch: MutableNet = { family: 4, v4: 0, v6: 0n, prefix: 0, key: '' };
    for (let i = 0, f = firstRecordFact; i < records.length; i++) {
      const block = records[i];
      if (!block || block.deleted === true) continue;
      // Record i is fact f (records were added first, in order; skipped ones added nothing).
      const fact = f++;
      if (!block.attributes || !block.allocations) continue;
      // The record's network, from its fact.
      let net: Net;
      if ((facts.meta[fact]! & META_V6) !== 0) {
        net = facts.v6Nets[facts.v4[fact]!]!;
      } else {
        scratch.v4 = facts.v4[fact]!;
        scratch.prefix = facts.meta[fact]! & 0xff;
        net = scratch;
      }
      addBorrowed(facts, block, net, fact);
    }
  }

  // Workloads: local ones always; remote ones in WorkloadIPs mode.
  const weps = snapshot.workloadEndpoints ?? [];
  const local = ctx.local;
  const workloadIPs = ctx.workloadIPs;
  for (let i = 0; i < weps.length; i++) {
    const wep = weps[i]!;
    if (!workloadIPs && wep?.spec?.node !== local) continue;
    const info = parseWorkloadInto(problems, wep, `snapshot.workloadEndpoints[${i}]`);
    if (!info) continue;
    for (let w = 0; w < info.warnings.length; w++) warnings.push(info.warnings[w]!);
    const isLocal = info.node === local;
    for (const net of info.nets) facts.addNet(net, isLocal ? SOURCE_LOCAL_WORKLOAD : SOURCE_REMOTE_WORKLOAD, isLocal ? info.iface : info.node);
  }
  problems.throwIfAny();

  // One pass over the sorted facts: each run of equal destinations is one decision.
  const order = facts.order();
  const { meta, v4, keys, values, v6Nets, origin } = facts;
  // Block records listed twice for one CIDR: the last one wins and the others are ignored,
  // including their borrowed addresses (as the calculator replaces a record). A block sorts
  // before the addresses inside it, so these are known before those addresses are reached.
  let superseded: Set<number> | undefined;
  const routes: Route[] = [];
  const scratchBlock = { owner: undefined as string | undefined, record: false, affinityHosts: NO_HOSTS as string[] };
  const sources: DestinationSources = {};
  // decideInto reads the destination and keeps only its key string: IPv4 destinations share one object.
  const net4: MutableNet = { family: 4, v4: 0, v6: 0n, prefix: 0, key: '' };
  const n = order.length;
  for (let start = 0; start < n; ) {
    const first = order[start]!;
    const firstMeta = meta[first]!;
    const isV6 = (firstMeta & META_V6) !== 0;
    let end = start + 1;
    if (isV6) {
      while (end < n && keys[order[end]!] === keys[first]) end++;
    } else {
      const value = v4[first]!;
      const prefix = firstMeta & 0xff;
      while (end < n) {
        const next = order[end]!;
        const m = meta[next]!;
        if ((m & META_V6) !== 0 || (m & 0xff) !== prefix || v4[next] !== value) break;
        end++;
      }
    }
    let hasBlock = false;
    let record = false;
    let owner: string | undefined;
    let hosts: string[] | undefined;
    let borrowedBy: string | undefined;
    let ifaces: string[] | undefined;
    let remoteNodes: string[] | undefined;
    let recordFact = -1;
    for (let k = start; k < end; k++) {
      const index = order[k]!;
      const value = values[index];
      switch ((meta[index]! >> 8) & 0xff) {
        case SOURCE_BLOCK:
          if (recordFact >= 0) (superseded ??= new Set()).add(recordFact);
          recordFact = index;
          hasBlock = true;
          record = true;
          owner = value;
          break;
        case SOURCE_AFFINITY:
          hasBlock = true;
          (hosts ??= []).push(value!);
          break;
        case SOURCE_BORROWED:
          if (superseded === undefined || !superseded.has(origin[index]!)) borrowedBy = value;
          break;
        case SOURCE_LOCAL_WORKLOAD:
          (ifaces ??= []).push(value!);
          break;
        default:
          (remoteNodes ??= []).push(value!);
      }
    }
    if (hasBlock) {
      if (!record) {
        // No record: the affinity hosts decide (the smallest name, as the calculator does).
        owner = hosts![0];
        for (let h = 1; h < hosts!.length; h++) if (hosts![h]! < owner!) owner = hosts![h];
      }
      scratchBlock.owner = owner;
      scratchBlock.record = record;
      scratchBlock.affinityHosts = hosts ?? NO_HOSTS;
      sources.block = scratchBlock;
    } else {
      sources.block = undefined;
    }
    sources.borrowedBy = borrowedBy;
    sources.localIfaces = ifaces;
    sources.remoteWorkloadNodes = remoteNodes;
    let net: Net;
    if (isV6) {
      net = v6Nets[v4[first]!]!;
    } else {
      net4.v4 = v4[first]!;
      net4.prefix = firstMeta & 0xff;
      net4.key = keys[first]!;
      net = net4;
    }
    const route = decideInto(ctx, net, sources, warnings);
    if (route !== undefined) routes.push(route);
    start = end;
  }

  const neighbors: NeighborEntry[] = [];
  const fdb: FdbEntry[] = [];
  if (ctx.vxlanOn4 || ctx.vxlanOn6) {
    // Nodes in name order, IPv4 entries then IPv6 ones: both lists come out in their documented
    // order (family, then node name) with one sort of the nodes instead of one per list.
    const byName = [...ctx.nodes.values()].sort(compareNodeNames);
    if (ctx.vxlanOn4) for (const node of byName) pushVtepEntries(ctx, node, 4, neighbors, fdb);
    if (ctx.vxlanOn6) for (const node of byName) pushVtepEntries(ctx, node, 6, neighbors, fdb);
  }
  return { node: ctx.local, routes, neighbors, fdb, warnings: sortWarnings(warnings), owners: { ...ctx.owners } };
}

const NO_HOSTS: string[] = [];

export { hostLength };
