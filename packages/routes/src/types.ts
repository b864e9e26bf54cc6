/**
 * Public types of @libcalico-ts/routes: the cluster snapshot routes are computed from, the
 * route/neighbour/FDB records, warnings and options.
 */
import type {
  BGPConfiguration,
  BGPConfigurationSpec,
  FelixConfiguration,
  FelixConfigurationSpec,
  IPPool,
  Node,
  WorkloadEndpoint,
} from '@libcalico-ts/api';

// ---------------------------------------------------------------------------------------------
// Snapshot

/**
 * A block affinity: `node` claims block `cidr`. Same fields as the v3 `BlockAffinity` spec, so
 * `affinity.spec` can be passed directly. `state: 'pending'` and `deleted: true` are treated as
 * absent; `''` (legacy), `confirmed` and `pendingDeletion` own the block. `type: 'virtual'`
 * affinities (load-balancer controller) do not produce routes.
 */
export interface SnapshotBlockAffinity {
  node: string;
  cidr: string;
  state?: string;
  type?: string;
  deleted?: boolean;
}

/** One attribute entry of a block (only `secondary.node` matters for routing). */
export interface SnapshotAllocationAttribute {
  secondary?: Readonly<Record<string, string>> | null;
}

/**
 * An IPAM block: the `@libcalico-ts/datastore` `AllocationBlock` value fits this type, so blocks
 * listed from a datastore can be passed as they are. `affinity` is `host:<node>` (or
 * `virtual:<name>`, or null); `allocations[ordinal]` indexes `attributes`. An allocation whose
 * `secondary.node` differs from the block's owner is a *borrowed* address and gets its own
 * `/32` (`/128`) route to that node. Blocks with `deleted: true` are ignored. If a snapshot
 * holds two records for one CIDR, the last one listed is used and the earlier ones are ignored
 * entirely, borrowed addresses included (as {@link RouteCalculator} replaces a record).
 */
export interface SnapshotBlock {
  cidr: string;
  affinity?: string | null;
  allocations?: readonly (number | null)[];
  attributes?: readonly SnapshotAllocationAttribute[];
  deleted?: boolean;
}

/**
 * Everything route computation reads about a cluster. Build it by hand, or with
 * {@link snapshotFromClient}.
 *
 * Block ownership: when `blocks` holds a record for a CIDR, that record's `affinity` is
 * authoritative (as in Felix, which reads blocks); `blockAffinities` give the owner of blocks
 * that have no record in `blocks`. A disagreement between the two is reported as a warning.
 *
 * Configuration: `felixConfigurations` / `bgpConfigurations` are the resources as stored;
 * `default` is overlaid by `node.<local node>` field by field. Selector-scoped Felix
 * configurations are not evaluated (a warning names them).
 */
export interface ClusterSnapshot {
  pools: readonly IPPool[];
  nodes: readonly Node[];
  blockAffinities?: readonly SnapshotBlockAffinity[];
  blocks?: readonly SnapshotBlock[];
  /** Workload endpoints; only the local node's matter unless `routeSource` is `WorkloadIPs`. */
  workloadEndpoints?: readonly WorkloadEndpoint[];
  felixConfigurations?: readonly FelixConfiguration[];
  bgpConfigurations?: readonly BGPConfiguration[];
}

// ---------------------------------------------------------------------------------------------
// Options

/** Who writes a class of cluster routes: BIRD (`proto bird`), Felix/the agent, or nobody. */
export type RouteProgrammer = 'bird' | 'felix' | 'none';

/** Owner of the IPIP and the unencapsulated cluster routes (VXLAN routes are always Felix's). */
export interface RouteOwners {
  ipip: RouteProgrammer;
  noEncap: RouteProgrammer;
}

/** Result of resolving the next hop of a BIRD-owned unencapsulated route. */
export interface NextHop {
  gateway: string;
  device: string;
}

/** Options of {@link computeRoutes} and {@link RouteCalculator}. */
export interface RouteOptions {
  /**
   * Calico release whose rendering to reproduce, `v3.N` or `3.N` (default `v3.30`, the layout of
   * the observed tables: no route MTU, no workload metric, BIRD-owned IPIP/no-encap routes).
   * `>= v3.31`: VXLAN and Felix-IPIP routes carry `mtu`; `>= v3.32`: workload routes carry
   * metric 1024 (`ipv4NormalRoutePriority`); `>= v3.34`: Felix owns IPIP routes by default.
   */
  calicoVersion?: string;
  /** BIRD runs on the nodes (`calico_backend: bird`, default true). False: nobody but Felix writes routes. */
  birdEnabled?: boolean;
  /** Overrides the owners derived from version and `programClusterRoutes`. */
  routeOwners?: Partial<RouteOwners>;
  /**
   * Device carrying the local node's IPv4 address (same-subnet and no-encap routes). Default:
   * the local node's `spec.interfaces` entry that lists that address; without either, routes
   * that need it are skipped with a `parentDeviceUnknown` warning.
   */
  parentDevice?: string;
  /** Same for IPv6. Default: the interface listing the node's IPv6 address, else `parentDevice`. */
  parentDeviceV6?: string;
  /** Host MTU the encapsulation MTUs derive from when FelixConfiguration does not set them (default 1500). */
  hostMTU?: number;
  /**
   * BIRD installs unencapsulated routes to nodes outside the local subnet through whatever
   * gateway reaches them (recursive next hop). Give the host's answer here; without it such
   * routes are skipped with a `nextHopUnresolved` warning. Must be pure (same answer every call).
   */
  resolveNextHop?: (address: string, family: 4 | 6) => NextHop | undefined;
}

// ---------------------------------------------------------------------------------------------
// Output

/** Why a route exists. */
export type RouteKind =
  | 'localWorkload'
  | 'localBlock'
  | 'remoteBlock'
  | 'borrowed'
  | 'remoteWorkload';

/** How a remote destination is reached. */
export type RouteEncap = 'vxlan' | 'ipip' | 'none';

/**
 * One kernel route in the main table. Field values are what Felix/BIRD program:
 * `protocol` 3 = boot (Felix's default `deviceRouteProtocol`), 80 = Felix's exclusive protocol,
 * 12 = bird; `metric` and `mtu` are 0 when absent. Render with {@link formatIpRoute}.
 */
export interface Route {
  /** Canonical destination CIDR (`10.244.92.128/26`, `10.244.208.1/32`, `fd00:10:244::/122`). */
  destination: string;
  family: 4 | 6;
  type: 'unicast' | 'blackhole';
  device?: string;
  gateway?: string;
  onlink: boolean;
  protocol: number;
  scope: 'universe' | 'link';
  metric: number;
  mtu: number;
  kind: RouteKind;
  /** Encapsulation of a remote route (absent for local ones). */
  encap?: RouteEncap;
  /** Who writes the route: `felix` (the agent), `bird`, or `cni` never (Felix re-asserts CNI routes). */
  programmer: 'felix' | 'bird';
  /** The node the destination lives on (remote routes), or the local node. */
  node: string;
}

/** A permanent neighbour (ARP/NDP) entry for a remote VTEP. */
export interface NeighborEntry {
  family: 4 | 6;
  device: string;
  /** Remote VTEP tunnel address. */
  address: string;
  mac: string;
  node: string;
}

/** A permanent bridge FDB entry for a remote VTEP. */
export interface FdbEntry {
  family: 4 | 6;
  device: string;
  mac: string;
  /** Remote node's underlay address. */
  destination: string;
  node: string;
}

/** Warning codes: documented skips, never fatal. */
export type RouteWarningCode =
  | 'localNodeMissing'
  | 'nodeNotFound'
  | 'nodeAddressMissing'
  | 'vtepMissing'
  | 'parentDeviceUnknown'
  | 'nextHopUnresolved'
  | 'blockOutsidePools'
  | 'affinityMismatch'
  | 'routeConflict'
  | 'workloadAddressInvalid'
  | 'ownerConflict'
  | 'selectorScopedConfigIgnored';

/** Something the computation skipped or resolved arbitrarily. */
export interface RouteWarning {
  code: RouteWarningCode;
  message: string;
  destination?: string;
  node?: string;
}

/** A node's computed dataplane state. */
export interface RouteTable {
  node: string;
  /** Routes sorted by family, destination address, prefix length. */
  routes: Route[];
  /** Neighbour entries on `vxlan.calico` / `vxlan-v6.calico`, sorted by family, then node name. */
  neighbors: NeighborEntry[];
  /** FDB entries, in the same order as `neighbors`. */
  fdb: FdbEntry[];
  warnings: RouteWarning[];
  /** The route owners in effect. */
  owners: RouteOwners;
}

export type { BGPConfigurationSpec, FelixConfigurationSpec };
