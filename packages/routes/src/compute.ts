/**
 * The full (from scratch) route computation for one node.
 */
import { ResourceNotFoundError, ValidationError } from '@libcalico-ts/api';
import { type Net, addressAt, compareNets, hostLength, parseNet } from './internal/addr.js';
import {
  type Context,
  type DestinationSources,
  type NodeInfo,
  type PoolInfo,
  Problems,
  affinityCounts,
  affinityHost,
  buildContext,
  compareWarnings,
  decide,
  parseNodeInto,
  parsePoolInto,
  parseWorkloadInto,
  sortPools,
  vtepEntries,
} from './internal/context.js';
import type { ClusterSnapshot, FdbEntry, NeighborEntry, Route, RouteOptions, RouteTable, RouteWarning } from './types.js';

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
    const info = parseNodeInto(problems, node, `snapshot.nodes[${i}]`);
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

export function compareNeighbors(a: NeighborEntry | FdbEntry, b: NeighborEntry | FdbEntry): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

/**
 * Computes node `nodeName`'s routes, VXLAN neighbour and FDB entries from a cluster snapshot:
 * IPIP / VXLAN × Always / CrossSubnet / Never and unencapsulated pools, blackholes for the
 * node's blocks, its workloads' `/32`s (`/128`s) on their `cali…` devices, `/32`s to borrowed
 * addresses, IPv6 (VXLAN v6), and the BIRD-vs-Felix route-owner switch with both renderings.
 * Pure and total: no I/O; the result is a new object.
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

function computeWithContext(ctx: Context, snapshot: ClusterSnapshot): RouteTable {
  const problems = new Problems();
  const warnings: RouteWarning[] = [...ctx.globalWarnings];
  const sources = new Map<string, { net: Net; sources: DestinationSources }>();
  const at = (net: Net): DestinationSources => {
    let entry = sources.get(net.key);
    if (!entry) {
      entry = { net, sources: {} };
      sources.set(net.key, entry);
    }
    return entry.sources;
  };

  if (!ctx.workloadIPs) {
    // Blocks: records first (authoritative), then affinities for blocks without a record.
    const records = snapshot.blocks ?? [];
    const allocationsToScan: { net: Net; index: number; owner: string | undefined }[] = [];
    const entries: { net: Net; block: { owner: string | undefined; record: boolean; affinityHosts: string[] } }[] = [];
    for (let i = 0; i < records.length; i++) {
      const block = records[i]!;
      if (!block || block.deleted === true) continue;
      let net: Net;
      try {
        net = parseNet(block.cidr);
      } catch (error) {
        problems.add(`snapshot.blocks[${i}].cidr`, block.cidr, error instanceof Error ? error.message : String(error));
        continue;
      }
      const owner = affinityHost(block.affinity);
      const s = at(net);
      s.block = { owner, record: true, affinityHosts: [] };
      entries.push({ net, block: s.block as { owner: string | undefined; record: boolean; affinityHosts: string[] } });
      allocationsToScan.push({ net, index: i, owner });
    }
    const affinities = snapshot.blockAffinities ?? [];
    for (let i = 0; i < affinities.length; i++) {
      const a = affinities[i]!;
      if (!a || !affinityCounts(a)) continue;
      let net: Net;
      try {
        net = parseNet(a.cidr);
      } catch (error) {
        problems.add(`snapshot.blockAffinities[${i}].cidr`, a.cidr, error instanceof Error ? error.message : String(error));
        continue;
      }
      const s = at(net);
      if (!s.block) {
        s.block = { owner: undefined, record: false, affinityHosts: [] };
        entries.push({ net, block: s.block as { owner: string | undefined; record: boolean; affinityHosts: string[] } });
      }
      (s.block.affinityHosts as string[]).push(a.node);
    }
    problems.throwIfAny();
    for (const entry of entries) {
      if (!entry.block.record) entry.block.owner = [...entry.block.affinityHosts].sort()[0];
    }
    // Borrowed addresses: allocations whose node differs from the block's owner. Attributes are
    // checked first: a block whose attributes all name its owner (the common case) is skipped.
    for (const { net, index, owner } of allocationsToScan) {
      const block = records[index]!;
      const allocations = block.allocations;
      const attributes = block.attributes;
      if (!allocations || !attributes) continue;
      let foreign: boolean[] | undefined;
      for (let ai = 0; ai < attributes.length; ai++) {
        const node = attributes[ai]?.secondary?.node;
        if (node && node !== owner) (foreign ??= [])[ai] = true;
      }
      if (!foreign) continue;
      const limit = Math.min(allocations.length, net.family === 4 ? 2 ** (32 - net.prefix) : allocations.length);
      for (let ord = 0; ord < limit; ord++) {
        const ai = allocations[ord];
        if (ai === null || ai === undefined || foreign[ai] !== true) continue;
        const ip = addressAt(net, ord);
        const host: Net = ip.family === 4
          ? { family: 4, v4: ip.v4, v6: 0n, prefix: 32, key: `${ip.text}/32` }
          : { family: 6, v4: 0, v6: ip.v6, prefix: 128, key: `${ip.text}/128` };
        at(host).borrowedBy = attributes[ai]!.secondary!.node;
      }
    }
  }

  // Workloads: local ones always; remote ones in WorkloadIPs mode.
  const weps = snapshot.workloadEndpoints ?? [];
  for (let i = 0; i < weps.length; i++) {
    const wep = weps[i]!;
    const node = wep?.spec?.node;
    if (!ctx.workloadIPs && node !== ctx.local) continue;
    const info = parseWorkloadInto(problems, wep, `snapshot.workloadEndpoints[${i}]`);
    if (!info) continue;
    warnings.push(...info.warnings);
    for (const net of info.nets) {
      const s = at(net);
      if (info.node === ctx.local) (s.localIfaces ??= []).push(info.iface);
      else (s.remoteWorkloadNodes ??= []).push(info.node);
    }
  }
  problems.throwIfAny();

  const routes: { route: Route; net: Net }[] = [];
  for (const { net, sources: s } of sources.values()) {
    const d = decide(ctx, net, s);
    if (d.route) routes.push({ route: d.route, net });
    if (d.warnings.length > 0) warnings.push(...d.warnings);
  }
  routes.sort((a, b) => compareNets(a.net, b.net));

  const neighbors: NeighborEntry[] = [];
  const fdb: FdbEntry[] = [];
  if (ctx.vxlanOn4 || ctx.vxlanOn6) {
    for (const node of ctx.nodes.values()) {
      for (const family of [4, 6] as const) {
        const e = vtepEntries(ctx, node, family);
        if (!e) continue;
        neighbors.push(e.neighbor);
        fdb.push(e.fdb);
      }
    }
    neighbors.sort(compareNeighbors);
    fdb.sort(compareNeighbors);
  }
  warnings.sort(compareWarnings);
  return { node: ctx.local, routes: routes.map((r) => r.route), neighbors, fdb, warnings, owners: { ...ctx.owners } };
}

export { hostLength };
