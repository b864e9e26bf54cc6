/**
 * Incremental route computation: apply one change at a time, get only the deltas.
 */
import {
  ResourceNotFoundError,
  ValidationError,
  type BGPConfiguration,
  type FelixConfiguration,
  type IPPool,
  type Node,
  type WorkloadEndpoint,
} from '@libcalico-ts/api';
import { type Addr, type Net, addressAt, compareNets, hostNet, maskV4, parseAddr, parseNet } from './internal/addr.js';
import {
  type Context,
  type DestinationSources,
  type NodeInfo,
  type PoolInfo,
  type WorkloadInfo,
  affinityCounts,
  affinityHost,
  buildContext,
  compareWarnings,
  decide,
  parseNode,
  parsePool,
  parseWorkload,
  sameRoute,
  sortPools,
  vtepEntries,
  workloadId,
} from './internal/context.js';
import { compareNeighbors, parseSnapshotBasics } from './compute.js';
import type {
  ClusterSnapshot,
  FdbEntry,
  NeighborEntry,
  Route,
  RouteOptions,
  RouteTable,
  RouteWarning,
  SnapshotBlock,
  SnapshotBlockAffinity,
} from './types.js';

/** One change to the cluster state. `...Updated` means created or replaced. */
export type RouteChange =
  | { type: 'poolUpdated'; pool: IPPool }
  | { type: 'poolDeleted'; name: string }
  | { type: 'nodeUpdated'; node: Node }
  | { type: 'nodeDeleted'; name: string }
  | { type: 'affinityUpdated'; affinity: SnapshotBlockAffinity }
  | { type: 'affinityDeleted'; node: string; cidr: string }
  | { type: 'blockUpdated'; block: SnapshotBlock }
  | { type: 'blockDeleted'; cidr: string }
  /** One address of an existing block record now belongs to `node` (null: released / no node attribute). */
  | { type: 'allocationUpdated'; ip: string; node: string | null }
  | { type: 'workloadUpdated'; endpoint: WorkloadEndpoint }
  | { type: 'workloadDeleted'; namespace?: string; name: string }
  | { type: 'felixConfigurationUpdated'; configuration: FelixConfiguration }
  | { type: 'felixConfigurationDeleted'; name: string }
  | { type: 'bgpConfigurationUpdated'; configuration: BGPConfiguration }
  | { type: 'bgpConfigurationDeleted'; name: string };

/** A change of one entry: added, removed, or replaced (`previous` is the old value). */
export type EntryDelta<T> = { op: 'add'; entry: T } | { op: 'delete'; entry: T } | { op: 'replace'; entry: T; previous: T };

/** What one {@link RouteCalculator.apply} changed. Empty arrays when nothing did. */
export interface RouteDeltas {
  routes: EntryDelta<Route>[];
  neighbors: EntryDelta<NeighborEntry>[];
  fdb: EntryDelta<FdbEntry>[];
}

interface BlockRecord {
  net: Net;
  owner: string | undefined;
  /** ordinal -> node attribute, for allocations that carry one. */
  allocations: Map<number, string>;
  /** Host-route keys of this block's currently borrowed addresses. */
  borrowedKeys: Set<string>;
}

interface AffinityEntry {
  net: Net;
  hosts: Set<string>;
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}
function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw new ValidationError([{ name, value, reason: 'must be a non-empty string' }]);
  return value;
}

function parseCIDRField(value: unknown, name: string): Net {
  try {
    return parseNet(requireString(value, name));
  } catch (error) {
    if (ValidationError.isInstance(error)) throw error;
    throw new ValidationError([{ name, value, reason: error instanceof Error ? error.message : String(error) }]);
  }
}

function blockAllocations(block: SnapshotBlock, net: Net): Map<number, string> {
  const out = new Map<number, string>();
  const allocations = block.allocations;
  const attributes = block.attributes;
  if (!allocations || !attributes) return out;
  const limit = Math.min(allocations.length, net.family === 4 ? 2 ** (32 - net.prefix) : allocations.length);
  for (let ord = 0; ord < limit; ord++) {
    const ai = allocations[ord];
    if (ai === null || ai === undefined) continue;
    const node = attributes[ai]?.secondary?.node;
    if (node) out.set(ord, node);
  }
  return out;
}

/**
 * Incremental route calculator for one node. Build it from a snapshot, then feed it changes
 * (from a watch, a syncer, or tests) one at a time; each {@link apply} returns only the routes,
 * neighbours and FDB entries that changed. At any point {@link table} equals what
 * {@link computeRoutes} returns for the same state (checked by a property test).
 *
 * Cost per change: node, affinity, block, allocation and workload changes touch only the
 * destinations that depend on them (a node's blocks and borrowed addresses, one block, one
 * address, one workload's addresses). Pool and Felix/BGP configuration changes, and changes of
 * the local node itself, recompute everything (they can change every route).
 *
 * Bad input (malformed change, unknown change type, allocation in a block the calculator does
 * not know) throws a typed error and leaves the state unchanged.
 *
 * @throws {ResourceNotFoundError} from the constructor when `nodeName` is not in the snapshot.
 * @throws {ValidationError} from the constructor for a malformed snapshot or options.
 * @example
 * ```ts
 * const calc = new RouteCalculator('node-a', snapshot, { parentDevice: 'eth0' });
 * const { routes } = calc.apply({ type: 'affinityUpdated', affinity: { node: 'node-b', cidr: '10.244.5.0/26' } });
 * // routes: [{ op: 'add', entry: { destination: '10.244.5.0/26', device: 'tunl0', ... } }]
 * ```
 */
export class RouteCalculator {
  /** The node whose table this is. */
  readonly nodeName: string;
  private readonly options: RouteOptions;
  private ctx: Context;
  private readonly pools = new Map<string, PoolInfo>();
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly felixConfigs = new Map<string, FelixConfiguration>();
  private readonly bgpConfigs = new Map<string, BGPConfiguration>();
  private readonly blockRecords = new Map<string, BlockRecord>();
  private readonly affinities = new Map<string, AffinityEntry>();
  /** Block key -> effective owner (record's affinity, else first affinity host). */
  private readonly owners = new Map<string, string | undefined>();
  private readonly ownedBy = new Map<string, Set<string>>();
  /** Host route key -> borrowing node, and the reverse index. */
  private readonly borrowed = new Map<string, { node: string; net: Net }>();
  private readonly borrowedBy = new Map<string, Set<string>>();
  private readonly blockPrefixes = new Map<number, number>(); // family*1000+prefix -> count
  private readonly workloads = new Map<string, WorkloadInfo>();
  private readonly workloadsByIP = new Map<string, Set<string>>();
  private readonly workloadsByNode = new Map<string, Set<string>>();
  private readonly netsByKey = new Map<string, Net>();
  private readonly routeMap = new Map<string, Route>();
  private readonly dstWarnings = new Map<string, RouteWarning[]>();
  private readonly workloadWarnings = new Map<string, readonly RouteWarning[]>();
  private readonly vteps = new Map<string, { neighbor: NeighborEntry; fdb: FdbEntry }>();

  constructor(nodeName: string, snapshot: ClusterSnapshot = { pools: [], nodes: [] }, options: RouteOptions = {}) {
    this.nodeName = requireString(nodeName, 'nodeName');
    this.options = { ...options };
    const { pools, nodes } = parseSnapshotBasics(snapshot);
    if (!nodes.has(nodeName)) {
      throw new ResourceNotFoundError({ kind: 'Node', name: nodeName }, { message: `node ${nodeName} is not in the snapshot` });
    }
    for (const p of pools) this.pools.set(p.name, p);
    for (const [name, n] of nodes) this.nodes.set(name, n);
    for (const c of snapshot.felixConfigurations ?? []) if (c?.metadata?.name) this.felixConfigs.set(c.metadata.name, c);
    for (const c of snapshot.bgpConfigurations ?? []) if (c?.metadata?.name) this.bgpConfigs.set(c.metadata.name, c);
    this.ctx = this.makeContext();
    // Parse everything before storing anything, so a bad snapshot throws cleanly.
    const blocks: { key: string; record: BlockRecord }[] = [];
    const fields: { name: string; value: unknown; reason: string }[] = [];
    (snapshot.blocks ?? []).forEach((b, i) => {
      if (!b || b.deleted === true) return;
      try {
        const net = parseCIDRField(b.cidr, `snapshot.blocks[${i}].cidr`);
        blocks.push({ key: net.key, record: { net, owner: affinityHost(b.affinity), allocations: blockAllocations(b, net), borrowedKeys: new Set() } });
      } catch (error) {
        if (ValidationError.isInstance(error)) fields.push(...(error as ValidationError).fields);
        else throw error;
      }
    });
    const affinities: { net: Net; host: string }[] = [];
    (snapshot.blockAffinities ?? []).forEach((a, i) => {
      if (!a || !affinityCounts(a)) return;
      try {
        affinities.push({ net: parseCIDRField(a.cidr, `snapshot.blockAffinities[${i}].cidr`), host: requireString(a.node, `snapshot.blockAffinities[${i}].node`) });
      } catch (error) {
        if (ValidationError.isInstance(error)) fields.push(...(error as ValidationError).fields);
        else throw error;
      }
    });
    const workloads: WorkloadInfo[] = [];
    (snapshot.workloadEndpoints ?? []).forEach((w, i) => {
      try {
        workloads.push(parseWorkload(w, `snapshot.workloadEndpoints[${i}]`));
      } catch (error) {
        if (ValidationError.isInstance(error)) fields.push(...(error as ValidationError).fields);
        else throw error;
      }
    });
    if (fields.length > 0) throw new ValidationError(fields);
    for (const { key, record } of blocks) this.setBlockRecord(key, record);
    for (const { net, host } of affinities) {
      const before = this.owners.get(net.key);
      this.addAffinity(net, host);
      this.afterOwnerChange(net.key, before, new Set());
    }
    for (const w of workloads) this.indexWorkload(w);
    this.recomputeAll();
  }

  // -------------------------------------------------------------------------------------------
  // Public API

  /**
   * Applies one change and returns what it changed.
   * @throws {ValidationError} for a malformed change (state unchanged).
   * @throws {ResourceNotFoundError} for `allocationUpdated` outside every known block record.
   */
  apply(change: RouteChange): RouteDeltas {
    if (!change || typeof change !== 'object') throw new ValidationError([{ name: 'change', value: change, reason: 'must be a RouteChange object' }]);
    const touched = new Set<string>();
    const touchedNodes = new Set<string>();
    let all = false;
    switch (change.type) {
      case 'poolUpdated': {
        const info = parsePool(change.pool, 'change.pool');
        for (const [name, p] of this.pools) if (p.net.key === info.net.key && name !== info.name) {
          throw new ValidationError([{ name: 'change.pool.spec.cidr', value: change.pool.spec.cidr, reason: `same CIDR as pool ${name}` }]);
        }
        this.pools.set(info.name, info);
        all = true;
        break;
      }
      case 'poolDeleted':
        this.pools.delete(requireString(change.name, 'change.name'));
        all = true;
        break;
      case 'nodeUpdated': {
        const info = parseNode(change.node, 'change.node');
        this.nodes.set(info.name, info);
        if (info.name === this.nodeName) all = true;
        else this.touchNode(info.name, touched, touchedNodes);
        break;
      }
      case 'nodeDeleted': {
        const name = requireString(change.name, 'change.name');
        this.nodes.delete(name);
        if (name === this.nodeName) all = true;
        else this.touchNode(name, touched, touchedNodes);
        break;
      }
      case 'affinityUpdated': {
        const a = change.affinity;
        const net = parseCIDRField(a?.cidr, 'change.affinity.cidr');
        const host = requireString(a?.node, 'change.affinity.node');
        const before = this.ownerOf(net.key);
        this.removeAffinity(net.key, host);
        if (affinityCounts(a)) this.addAffinity(net, host);
        else this.netsByKey.set(net.key, net);
        this.afterOwnerChange(net.key, before, touched);
        touched.add(net.key);
        break;
      }
      case 'affinityDeleted': {
        const net = parseCIDRField(change.cidr, 'change.cidr');
        const host = requireString(change.node, 'change.node');
        const before = this.ownerOf(net.key);
        this.removeAffinity(net.key, host);
        this.afterOwnerChange(net.key, before, touched);
        touched.add(net.key);
        break;
      }
      case 'blockUpdated': {
        const b = change.block;
        const net = parseCIDRField(b?.cidr, 'change.block.cidr');
        const record: BlockRecord | undefined = b.deleted === true ? undefined : { net, owner: affinityHost(b.affinity), allocations: blockAllocations(b, net), borrowedKeys: new Set() };
        this.replaceBlockRecord(net, record, touched);
        break;
      }
      case 'blockDeleted': {
        const net = parseCIDRField(change.cidr, 'change.cidr');
        this.replaceBlockRecord(net, undefined, touched);
        break;
      }
      case 'allocationUpdated': {
        let addr: Addr;
        try {
          addr = parseAddr(requireString(change.ip, 'change.ip'));
        } catch (error) {
          if (ValidationError.isInstance(error)) throw error;
          throw new ValidationError([{ name: 'change.ip', value: change.ip, reason: error instanceof Error ? error.message : String(error) }]);
        }
        if (change.node !== null && (typeof change.node !== 'string' || change.node === '')) {
          throw new ValidationError([{ name: 'change.node', value: change.node, reason: 'must be a node name or null' }]);
        }
        const record = this.recordContaining(addr);
        if (!record) throw new ResourceNotFoundError(addr.text, { message: `no known IPAM block contains ${addr.text}` });
        const ordinal = addr.family === 4 ? addr.v4 - record.net.v4 : Number(addr.v6 - record.net.v6);
        const key = hostNet(addr).key;
        if (change.node === null) record.allocations.delete(ordinal);
        else record.allocations.set(ordinal, change.node);
        this.reindexBorrowed(record, touched);
        touched.add(key);
        break;
      }
      case 'workloadUpdated': {
        const info = parseWorkload(change.endpoint, 'change.endpoint');
        const old = this.workloads.get(info.id);
        if (old) this.unindexWorkload(old, touched);
        this.indexWorkload(info, touched);
        break;
      }
      case 'workloadDeleted': {
        const id = workloadId(change.namespace, requireString(change.name, 'change.name'));
        const old = this.workloads.get(id);
        if (old) this.unindexWorkload(old, touched);
        break;
      }
      case 'felixConfigurationUpdated':
      case 'bgpConfigurationUpdated': {
        const c = change.configuration;
        const name = requireString(c?.metadata?.name, 'change.configuration.metadata.name');
        const map = change.type === 'felixConfigurationUpdated' ? this.felixConfigs : this.bgpConfigs;
        const previous = map.get(name);
        map.set(name, c as never);
        try {
          this.ctx = this.makeContext();
        } catch (error) {
          if (previous) map.set(name, previous as never);
          else map.delete(name);
          throw error;
        }
        all = true;
        break;
      }
      case 'felixConfigurationDeleted':
        this.felixConfigs.delete(requireString(change.name, 'change.name'));
        all = true;
        break;
      case 'bgpConfigurationDeleted':
        this.bgpConfigs.delete(requireString(change.name, 'change.name'));
        all = true;
        break;
      default:
        throw new ValidationError([{ name: 'change.type', value: (change as { type?: unknown }).type, reason: 'unknown change type' }]);
    }
    if (all) {
      this.ctx = this.makeContext();
      return this.recomputeAll();
    }
    const deltas: RouteDeltas = { routes: [], neighbors: [], fdb: [] };
    for (const key of touched) this.refresh(key, deltas);
    for (const name of touchedNodes) this.refreshVtep(name, deltas);
    return deltas;
  }

  /** Applies several changes in order and concatenates their deltas (a later delta may undo an earlier one). */
  applyAll(changes: Iterable<RouteChange>): RouteDeltas {
    const out: RouteDeltas = { routes: [], neighbors: [], fdb: [] };
    for (const change of changes) {
      const d = this.apply(change);
      out.routes.push(...d.routes);
      out.neighbors.push(...d.neighbors);
      out.fdb.push(...d.fdb);
    }
    return out;
  }

  /** The current routes, sorted like {@link computeRoutes}. */
  routes(): Route[] {
    const entries = [...this.routeMap.values()].map((route) => ({ route, net: this.netsByKey.get(route.destination) ?? parseNet(route.destination) }));
    entries.sort((a, b) => compareNets(a.net, b.net));
    return entries.map((e) => e.route);
  }

  /** The current table: routes, neighbours, FDB entries, warnings and owners, as {@link computeRoutes} returns them. */
  table(): RouteTable {
    const vteps = [...this.vteps.values()];
    const neighbors = vteps.map((v) => v.neighbor).sort(compareNeighbors);
    const fdb = vteps.map((v) => v.fdb).sort(compareNeighbors);
    const warnings: RouteWarning[] = [...this.ctx.globalWarnings];
    for (const list of this.dstWarnings.values()) warnings.push(...list);
    if (!this.ctx.workloadIPs) {
      for (const [id, list] of this.workloadWarnings) if (this.workloads.get(id)?.node === this.nodeName) warnings.push(...list);
    } else {
      for (const list of this.workloadWarnings.values()) warnings.push(...list);
    }
    if (!this.nodes.has(this.nodeName)) {
      warnings.push({ code: 'localNodeMissing', message: `the local node ${this.nodeName} is not known (deleted?); routes needing its address are skipped`, node: this.nodeName });
    }
    warnings.sort(compareWarnings);
    return { node: this.nodeName, routes: this.routes(), neighbors, fdb, warnings, owners: { ...this.ctx.owners } };
  }

  // -------------------------------------------------------------------------------------------
  // State maintenance

  private makeContext(): Context {
    return buildContext(
      this.nodeName,
      {
        pools: sortPools([...this.pools.values()]),
        nodes: this.nodes,
        felixConfigurations: [...this.felixConfigs.values()],
        bgpConfigurations: [...this.bgpConfigs.values()],
      },
      this.options,
    );
  }

  private ownerOf(key: string): string | undefined {
    return this.owners.get(key);
  }

  private computeOwner(key: string): string | undefined {
    const record = this.blockRecords.get(key);
    if (record) return record.owner;
    const aff = this.affinities.get(key);
    if (!aff || aff.hosts.size === 0) return undefined;
    let best: string | undefined;
    for (const h of aff.hosts) if (best === undefined || h < best) best = h;
    return best;
  }

  /** Re-derives the owner of block `key`, moving indexes; touches the block's addresses when it changed. */
  private afterOwnerChange(key: string, before: string | undefined, touched: Set<string>): void {
    const after = this.computeOwner(key);
    const known = this.blockRecords.has(key) || this.affinities.has(key);
    if (before !== undefined) removeFrom(this.ownedBy, before, key);
    if (known) this.owners.set(key, after);
    else this.owners.delete(key);
    if (after !== undefined) addTo(this.ownedBy, after, key);
    if (before !== after) {
      const record = this.blockRecords.get(key);
      if (record) this.reindexBorrowed(record, touched);
    }
  }

  private addAffinity(net: Net, host: string): void {
    let entry = this.affinities.get(net.key);
    if (!entry) this.affinities.set(net.key, (entry = { net, hosts: new Set() }));
    entry.hosts.add(host);
    this.netsByKey.set(net.key, net);
  }

  private removeAffinity(key: string, host: string): void {
    const entry = this.affinities.get(key);
    if (!entry) return;
    entry.hosts.delete(host);
    if (entry.hosts.size === 0) this.affinities.delete(key);
  }

  private setBlockRecord(key: string, record: BlockRecord): void {
    this.replaceBlockRecord(record.net, record, new Set());
  }

  private replaceBlockRecord(net: Net, record: BlockRecord | undefined, touched: Set<string>): void {
    const key = net.key;
    const old = this.blockRecords.get(key);
    const before = this.owners.get(key);
    if (old) {
      this.dropBorrowed(old, touched);
      this.countPrefix(old.net, -1);
      this.blockRecords.delete(key);
    }
    if (record) {
      this.blockRecords.set(key, record);
      this.countPrefix(net, 1);
      this.netsByKey.set(key, net);
    }
    this.afterOwnerChange(key, before, touched);
    if (record) this.reindexBorrowed(record, touched);
    touched.add(key);
  }

  private countPrefix(net: Net, delta: number): void {
    const k = net.family * 1000 + net.prefix;
    const n = (this.blockPrefixes.get(k) ?? 0) + delta;
    if (n > 0) this.blockPrefixes.set(k, n);
    else this.blockPrefixes.delete(k);
  }

  private recordContaining(addr: Addr): BlockRecord | undefined {
    for (const k of this.blockPrefixes.keys()) {
      const family = Math.floor(k / 1000) as 4 | 6;
      if (family !== addr.family) continue;
      const prefix = k % 1000;
      let key: string;
      if (family === 4) {
        const v = (addr.v4 & maskV4(prefix)) >>> 0;
        key = `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}/${prefix}`;
      } else {
        key = parseNet(`${addr.text}/${prefix}`).key;
      }
      const record = this.blockRecords.get(key);
      if (record) return record;
    }
    return undefined;
  }

  private dropBorrowed(record: BlockRecord, touched?: Set<string>): void {
    for (const key of record.borrowedKeys) {
      const b = this.borrowed.get(key);
      if (b) {
        removeFrom(this.borrowedBy, b.node, key);
        this.borrowed.delete(key);
      }
      touched?.add(key);
    }
    record.borrowedKeys.clear();
  }

  /** Rebuilds the borrowed index of one block (after its owner or allocations changed), touching every address in it that was or is borrowed. */
  private reindexBorrowed(record: BlockRecord, touched: Set<string>): void {
    const owner = this.owners.get(record.net.key);
    this.dropBorrowed(record, touched);
    for (const [ord, node] of record.allocations) {
      if (node === owner) continue;
      const net = hostNet(addressAt(record.net, ord));
      touched.add(net.key);
      this.borrowed.set(net.key, { node, net });
      addTo(this.borrowedBy, node, net.key);
      record.borrowedKeys.add(net.key);
      this.netsByKey.set(net.key, net);
    }
  }

  private indexWorkload(info: WorkloadInfo, touched?: Set<string>): void {
    this.workloads.set(info.id, info);
    addTo(this.workloadsByNode, info.node, info.id);
    if (info.warnings.length > 0) this.workloadWarnings.set(info.id, info.warnings);
    for (const net of info.nets) {
      addTo(this.workloadsByIP, net.key, info.id);
      this.netsByKey.set(net.key, net);
      touched?.add(net.key);
    }
  }

  private unindexWorkload(info: WorkloadInfo, touched: Set<string>): void {
    this.workloads.delete(info.id);
    removeFrom(this.workloadsByNode, info.node, info.id);
    this.workloadWarnings.delete(info.id);
    for (const net of info.nets) {
      removeFrom(this.workloadsByIP, net.key, info.id);
      touched.add(net.key);
    }
  }

  private touchNode(name: string, touched: Set<string>, touchedNodes: Set<string>): void {
    touchedNodes.add(name);
    for (const key of this.ownedBy.get(name) ?? []) touched.add(key);
    for (const key of this.borrowedBy.get(name) ?? []) touched.add(key);
    if (this.ctx.workloadIPs) {
      for (const id of this.workloadsByNode.get(name) ?? []) for (const net of this.workloads.get(id)!.nets) touched.add(net.key);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Evaluation

  private sourcesOf(key: string): DestinationSources {
    const s: DestinationSources = {};
    const ids = this.workloadsByIP.get(key);
    if (ids) {
      for (const id of ids) {
        const w = this.workloads.get(id)!;
        if (w.node === this.nodeName) (s.localIfaces ??= []).push(w.iface);
        else if (this.ctx.workloadIPs) (s.remoteWorkloadNodes ??= []).push(w.node);
      }
    }
    if (!this.ctx.workloadIPs) {
      if (this.owners.has(key)) {
        s.block = { owner: this.owners.get(key), record: this.blockRecords.has(key), affinityHosts: [...(this.affinities.get(key)?.hosts ?? [])] };
      }
      const b = this.borrowed.get(key);
      if (b) s.borrowedBy = b.node;
    }
    return s;
  }

  private refresh(key: string, deltas: RouteDeltas): void {
    const net = this.netsByKey.get(key) ?? parseNet(key);
    const d = decide(this.ctx, net, this.sourcesOf(key));
    const old = this.routeMap.get(key);
    if (d.warnings.length > 0) this.dstWarnings.set(key, d.warnings);
    else this.dstWarnings.delete(key);
    if (d.route) {
      this.netsByKey.set(key, net);
      if (!old) {
        this.routeMap.set(key, d.route);
        deltas.routes.push({ op: 'add', entry: d.route });
      } else if (!sameRoute(old, d.route)) {
        this.routeMap.set(key, d.route);
        deltas.routes.push({ op: 'replace', entry: d.route, previous: old });
      }
    } else if (old) {
      this.routeMap.delete(key);
      deltas.routes.push({ op: 'delete', entry: old });
    }
  }

  private refreshVtep(name: string, deltas: RouteDeltas): void {
    for (const family of [4, 6] as const) {
      const id = `${family}|${name}`;
      const node = this.nodes.get(name);
      const next = node ? vtepEntries(this.ctx, node, family) : undefined;
      const old = this.vteps.get(id);
      if (next) this.vteps.set(id, next);
      else this.vteps.delete(id);
      diffEntry(old?.neighbor, next?.neighbor, deltas.neighbors, (a, b) => a.address === b.address && a.mac === b.mac && a.device === b.device);
      diffEntry(old?.fdb, next?.fdb, deltas.fdb, (a, b) => a.destination === b.destination && a.mac === b.mac && a.device === b.device);
    }
  }

  private recomputeAll(): RouteDeltas {
    const deltas: RouteDeltas = { routes: [], neighbors: [], fdb: [] };
    const keys = new Set<string>(this.routeMap.keys());
    for (const k of this.dstWarnings.keys()) keys.add(k);
    for (const k of this.owners.keys()) keys.add(k);
    for (const k of this.borrowed.keys()) keys.add(k);
    for (const k of this.workloadsByIP.keys()) keys.add(k);
    for (const key of keys) this.refresh(key, deltas);
    const names = new Set<string>(this.nodes.keys());
    for (const id of this.vteps.keys()) names.add(id.slice(id.indexOf('|') + 1));
    for (const name of names) this.refreshVtep(name, deltas);
    return deltas;
  }
}

function diffEntry<T>(old: T | undefined, next: T | undefined, out: EntryDelta<T>[], same: (a: T, b: T) => boolean): void {
  if (old && next) {
    if (!same(old, next)) out.push({ op: 'replace', entry: next, previous: old });
  } else if (old) out.push({ op: 'delete', entry: old });
  else if (next) out.push({ op: 'add', entry: next });
}
