/**
 * Plain-data types of the dataplane API. Every value is JSON-serialisable so that the same
 * operations can run in this process or in a worker entered into another network namespace
 * (see {@link NetnsSession}).
 */
import type { IPFamily } from './validate.js';

/** A network interface as the kernel reports it. */
export interface LinkInfo {
  /** Interface index (unique within its network namespace). */
  index: number;
  name: string;
  /** `IFLA_INFO_KIND`: `veth`, `vxlan`, `ipip`, `dummy`...; null for devices without one (lo, physical). */
  kind: string | null;
  mtu: number;
  /** Lower-case colon-separated MAC; null when the device has none (ipip). */
  mac: string | null;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Carrier present (IFF_LOWER_UP). */
  lowerUp: boolean;
  /** `IFLA_LINK`: the peer index for veth (in the peer's namespace), the parent for vxlan. */
  parentIndex?: number;
  /** `IFLA_LINK_NETNSID`: set when the peer/parent lives in another namespace. */
  linkNetnsId?: number;
  /** VXLAN parameters when `kind === 'vxlan'`. */
  vxlan?: VxlanInfo;
}

/** VXLAN device parameters read back from the kernel. */
export interface VxlanInfo {
  vni: number;
  /** UDP destination port. */
  port: number;
  /** Local (source) VTEP address, if set. */
  local?: string;
  /** Underlay device index, if set. */
  parentIndex?: number;
  learning: boolean;
}

/** An interface address. */
export interface AddressInfo {
  /** Interface index. */
  index: number;
  /** Interface name when known. */
  link?: string;
  family: IPFamily;
  /** The address without prefix. */
  address: string;
  prefixLength: number;
  /** `addr/len`. */
  cidr: string;
  /** Scope: 0 universe, 253 link, 254 host. */
  scope: number;
}

/** Route type names (`ip route` prefixes). Calico uses only `unicast` and `blackhole`. */
export type RouteTypeName = 'unicast' | 'local' | 'broadcast' | 'anycast' | 'multicast' | 'blackhole' | 'unreachable' | 'prohibit' | 'throw';
/** Route scope names. */
export type RouteScopeName = 'universe' | 'site' | 'link' | 'host' | 'nowhere';

/**
 * A route to program (or as read back). Defaults follow `ip route add`: `type` unicast,
 * `protocol` 3 (boot), `table` 254 (main), `metric` 0 (the kernel shows 1024 for IPv6),
 * `scope` `link` for a unicast route with a device and no gateway, otherwise `universe`.
 */
export interface RouteSpec {
  /** Destination CIDR (host bits must be zero), a bare address (host route) or `default`. */
  dst: string;
  /** Needed only to say which `default` is meant (default 4). */
  family?: IPFamily;
  type?: RouteTypeName;
  /** Output interface name. Required for unicast routes unless a gateway alone is enough. */
  dev?: string;
  gateway?: string;
  /** `onlink`: gateway need not be on a connected subnet (RTNH_F_ONLINK). */
  onlink?: boolean;
  /** Protocol number: 3 boot (CNI, Felix device routes), 80 Felix, 12 BIRD. Default 3. */
  protocol?: number;
  scope?: RouteScopeName;
  /** Route priority; default 0 (the kernel stores 1024 for IPv6). */
  metric?: number;
  /** Routing table; default 254 (main). */
  table?: number;
  /** Route MTU (RTAX_MTU); 0/absent = none. */
  mtu?: number;
  /** Preferred source address. */
  src?: string;
}

/** A route read from the kernel: every field resolved. */
export interface RouteInfo {
  /** Canonical destination CIDR (`0.0.0.0/0` for default). */
  dst: string;
  family: IPFamily;
  type: RouteTypeName;
  dev?: string;
  ifIndex?: number;
  gateway?: string;
  onlink: boolean;
  protocol: number;
  scope: RouteScopeName;
  metric: number;
  table: number;
  mtu?: number;
  src?: string;
}

/** Neighbour (ARP / NDP) entry. */
export interface NeighbourSpec {
  /** Interface name. */
  link: string;
  /** IPv4 or IPv6 address. */
  address: string;
  /** Link-layer address `aa:bb:cc:dd:ee:ff`. */
  mac: string;
}

/** Neighbour entry read from the kernel. */
export interface NeighbourInfo {
  index: number;
  link?: string;
  family: IPFamily;
  address: string;
  mac?: string;
  /** NUD state names, e.g. `['permanent']`, `['reachable']`. */
  state: string[];
}

/** VXLAN forwarding-database entry (`bridge fdb ... dev vxlan.calico dst IP self permanent`). */
export interface FdbSpec {
  link: string;
  /** Remote VTEP MAC. */
  mac: string;
  /** Remote underlay (node) IP. */
  dst: string;
}

/** FDB entry read from the kernel. */
export interface FdbInfo {
  index: number;
  link?: string;
  mac: string;
  dst?: string;
  self: boolean;
  permanent: boolean;
}

/** Options of {@link NetlinkOps.createVethPair}. */
export interface VethPairOptions {
  /** Name of the end created in the current namespace. */
  name: string;
  /** Name of the other end. */
  peerName: string;
  /**
   * Namespace (name under /run/netns or a path such as /proc/PID/ns/net) where the peer is created
   * directly (IFLA_NET_NS_FD); default: the current one.
   */
  peerNetns?: string;
  /** MTU of both ends (default: kernel default 1500). */
  mtu?: number;
  /** MAC of the local end (default: random). */
  mac?: string;
  /** MAC of the peer (default: random). */
  peerMac?: string;
  /** RX/TX queues of both ends (default 1). */
  numQueues?: number;
}

/** Options of {@link NetlinkOps.createVxlan}. */
export interface VxlanOptions {
  name: string;
  /** VNI (default 4096). */
  vni?: number;
  /** UDP destination port (default 4789). */
  port?: number;
  /** Local VTEP (underlay) address. */
  local?: string;
  /** Underlay device name. */
  parent?: string;
  /** MAC learning (default false, as Felix). */
  learning?: boolean;
  mtu?: number;
  mac?: string;
}

/** Changes for {@link NetlinkOps.applyRouteChanges}. */
export interface RouteChanges {
  /** Routes to add or replace (NLM_F_CREATE|NLM_F_REPLACE). */
  replace?: RouteSpec[];
  /** Routes to delete (missing ones are ignored). */
  delete?: RouteSpec[];
}

/** Filter of {@link NetlinkOps.listRoutes}. */
export interface RouteFilter {
  family?: IPFamily;
  /** Table (default 254 main; pass `'all'` for every table). */
  table?: number | 'all';
  protocol?: number;
  /** Only routes through this interface. */
  dev?: string;
}

/** Options of {@link reconcileRoutes}. */
export interface ReconcileOptions {
  /**
   * Protocol number that marks routes as ours (default 80, Felix's exclusive protocol). Only kernel
   * routes with this protocol are ever deleted or replaced (unless `takeOverConflicts`).
   */
  protocol?: number;
  /** Table to reconcile (default 254). */
  table?: number;
  /** Families to reconcile (default both). */
  families?: IPFamily[];
  /** Compute and return the diff without applying it. */
  dryRun?: boolean;
  /**
   * When a desired route collides (same destination, table and metric) with a route of another
   * protocol: false (default) leaves it alone and reports it in `conflicts`; true replaces it.
   */
  takeOverConflicts?: boolean;
}

/** Outcome of a reconcile (also the dry-run diff). */
export interface RouteDiff {
  /** Desired routes missing from the kernel. */
  add: RouteSpec[];
  /** Desired routes present with different attributes (the kernel's current version is in `replacedFrom`). */
  replace: RouteSpec[];
  /** Kernel routes with our protocol that are not desired. */
  delete: RouteInfo[];
  /** Desired routes blocked by a route of another protocol (left untouched unless `takeOverConflicts`). */
  conflicts: { desired: RouteSpec; existing: RouteInfo }[];
  /** Number of desired routes already correct. */
  unchanged: number;
  /** True when nothing was (or would be) changed. */
  noop: boolean;
  /** Whether the changes were applied (false for dry-run). */
  applied: boolean;
}

/**
 * The operations available on one network namespace. {@link NetlinkClient} implements them in this
 * process; {@link NetnsSession} runs them in a worker entered into another namespace. All methods
 * validate their input first (ValidationError) and translate kernel errors (NetlinkError, or
 * ResourceNotFoundError for a missing interface).
 */
export interface NetlinkOps {
  listLinks(): Promise<LinkInfo[]>;
  /** The interface or null. */
  findLink(name: string): Promise<LinkInfo | null>;
  /** The interface; ResourceNotFoundError when missing. */
  getLink(name: string): Promise<LinkInfo>;
  createVethPair(options: VethPairOptions): Promise<LinkInfo>;
  createVxlan(options: VxlanOptions): Promise<LinkInfo>;
  /** Creates an ipip device (KernelNotSupportedError when the kernel has no ipip). */
  createIpip(options: { name: string; mtu?: number }): Promise<LinkInfo>;
  /** Creates a dummy device (handy as an underlay/parent in tests). */
  createDummy(options: { name: string; mtu?: number; mac?: string }): Promise<LinkInfo>;
  setLinkUp(name: string): Promise<void>;
  setLinkDown(name: string): Promise<void>;
  setLinkMtu(name: string, mtu: number): Promise<void>;
  setLinkMac(name: string, mac: string): Promise<void>;
  renameLink(name: string, newName: string): Promise<void>;
  /** Moves an interface into another namespace (name or path). It loses its addresses and routes. */
  moveLinkToNetns(name: string, netns: string): Promise<void>;
  /** Deletes an interface; returns false when it did not exist and `ignoreMissing` is set. */
  deleteLink(name: string, options?: { ignoreMissing?: boolean }): Promise<boolean>;
  listAddresses(filter?: { link?: string; family?: IPFamily }): Promise<AddressInfo[]>;
  /** Adds `addr/len` to an interface (idempotent: an existing identical address is accepted). */
  addAddress(link: string, cidr: string, options?: { noDad?: boolean }): Promise<void>;
  deleteAddress(link: string, cidr: string, options?: { ignoreMissing?: boolean }): Promise<boolean>;
  listRoutes(filter?: RouteFilter): Promise<RouteInfo[]>;
  /** `ip route replace`. */
  replaceRoute(route: RouteSpec): Promise<void>;
  /** `ip route add` (ResourceExistsError when present). */
  addRoute(route: RouteSpec): Promise<void>;
  deleteRoute(route: RouteSpec, options?: { ignoreMissing?: boolean }): Promise<boolean>;
  /** Applies many route changes, pipelined over one socket. */
  applyRouteChanges(changes: RouteChanges): Promise<void>;
  /** Diffs desired routes against the kernel and applies the difference (see {@link reconcileRoutes}). */
  reconcileRoutes(desired: RouteSpec[], options?: ReconcileOptions): Promise<RouteDiff>;
  listNeighbours(filter?: { link?: string; family?: IPFamily }): Promise<NeighbourInfo[]>;
  /** Adds or replaces a PERMANENT neighbour entry. */
  replaceNeighbour(entry: NeighbourSpec): Promise<void>;
  deleteNeighbour(entry: Omit<NeighbourSpec, 'mac'>, options?: { ignoreMissing?: boolean }): Promise<boolean>;
  listFdb(filter?: { link?: string }): Promise<FdbInfo[]>;
  /** Adds or replaces a permanent `self` FDB entry. */
  replaceFdb(entry: FdbSpec): Promise<void>;
  deleteFdb(entry: FdbSpec, options?: { ignoreMissing?: boolean }): Promise<boolean>;
  /** Reads a sysctl of this namespace (see {@link readSysctl}). */
  readSysctl(key: string | string[]): Promise<string>;
  /** Writes a sysctl of this namespace (see {@link writeSysctl}). */
  writeSysctl(key: string | string[], value: string | number): Promise<void>;
  /** Releases the socket / worker. */
  close(): Promise<void>;
}
