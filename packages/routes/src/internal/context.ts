/**
 * Shared core of the full computation and the incremental calculator: input parsing and
 * validation, the effective configuration, and the per-destination decision (which route, if
 * any, a destination gets from its sources). The two callers differ only in how they gather a
 * destination's sources, which is what the property test cross-checks.
 */
import {
  ValidationError,
  type BGPConfiguration,
  type BGPConfigurationSpec,
  type FelixConfiguration,
  type FelixConfigurationSpec,
  type FieldError,
  type IPPool,
  type Node,
  type WorkloadEndpoint,
} from '@libcalico-ts/api';
import {
  type Addr,
  type Net,
  hostLength,
  netContainsAddr,
  netContainsNet,
  parseAddr,
  parseNet,
} from './addr.js';
import type {
  NeighborEntry,
  FdbEntry,
  Route,
  RouteEncap,
  RouteKind,
  RouteOptions,
  RouteOwners,
  RouteProgrammer,
  RouteWarning,
  SnapshotBlockAffinity,
} from '../types.js';
import { vtepMAC } from '../vtep.js';

// ---------------------------------------------------------------------------------------------
// Devices and protocols

export const TUNL0 = 'tunl0';
export const VXLAN_DEVICE = 'vxlan.calico';
export const VXLAN_V6_DEVICE = 'vxlan-v6.calico';
export const PROTO_BOOT = 3;
export const PROTO_FELIX = 80;
export const PROTO_BIRD = 12;

// ---------------------------------------------------------------------------------------------
// Validation helpers

/** Collects field errors; `throwIfAny` raises one ValidationError with all of them. */
export class Problems {
  readonly fields: FieldError[] = [];
  add(name: string, value: unknown, reason: string): void {
    this.fields.push({ name, value, reason });
  }
  throwIfAny(message?: string): void {
    if (this.fields.length > 0) throw new ValidationError(this.fields, message ? { message: `${message}: ${this.fields.map((f) => `${f.name}: ${f.reason}`).join('; ')}` } : {});
  }
}

function errorReason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Parses `text` as a network (bare address allowed when `bare`); records a problem and returns undefined when it does not parse. */
export function netOrProblem(problems: Problems, path: string, text: unknown, bare = false): Net | undefined {
  if (typeof text !== 'string') {
    problems.add(path, text, 'must be a CIDR string');
    return undefined;
  }
  try {
    return parseNet(text, bare);
  } catch (error) {
    problems.add(path, text, errorReason(error));
    return undefined;
  }
}

function addrOrProblem(problems: Problems, path: string, text: unknown): Addr | undefined {
  if (typeof text !== 'string') {
    problems.add(path, text, 'must be an IP address string');
    return undefined;
  }
  try {
    return parseAddr(text);
  } catch (error) {
    problems.add(path, text, errorReason(error));
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Pools

export type PoolType = 'vxlan' | 'ipip' | 'noencap' | 'none';

export interface PoolInfo {
  readonly name: string;
  readonly net: Net;
  readonly type: PoolType;
  readonly crossSubnet: boolean;
  readonly disableBGPExport: boolean;
}

const MODES = new Set(['Never', 'Always', 'CrossSubnet']);

/** Parses and validates one pool. @throws {ValidationError} */
export function parsePool(pool: IPPool, path = 'pool'): PoolInfo {
  const problems = new Problems();
  const info = parsePoolInto(problems, pool, path);
  problems.throwIfAny();
  return info!;
}

export function parsePoolInto(problems: Problems, pool: IPPool, path: string): PoolInfo | undefined {
  if (!pool || typeof pool !== 'object' || !pool.spec || typeof pool.spec !== 'object') {
    problems.add(`${path}.spec`, pool?.spec, 'an IPPool needs a spec');
    return undefined;
  }
  const spec = pool.spec;
  const name = pool.metadata?.name ?? spec.cidr;
  const net = netOrProblem(problems, `${path}.spec.cidr`, spec.cidr);
  const ipipMode = spec.ipipMode ?? 'Never';
  const vxlanMode = spec.vxlanMode ?? 'Never';
  let ok = net !== undefined;
  if (!MODES.has(ipipMode)) {
    problems.add(`${path}.spec.ipipMode`, spec.ipipMode, 'must be Never, Always or CrossSubnet');
    ok = false;
  }
  if (!MODES.has(vxlanMode)) {
    problems.add(`${path}.spec.vxlanMode`, spec.vxlanMode, 'must be Never, Always or CrossSubnet');
    ok = false;
  }
  if (ok && ipipMode !== 'Never' && vxlanMode !== 'Never') {
    problems.add(`${path}.spec`, { ipipMode, vxlanMode }, 'ipipMode and vxlanMode cannot both be enabled');
    ok = false;
  }
  if (ok && ipipMode !== 'Never' && net!.family === 6) {
    problems.add(`${path}.spec.ipipMode`, ipipMode, 'IPIP is not supported on IPv6 pools');
    ok = false;
  }
  if (!ok) return undefined;
  const uses = spec.allowedUses;
  const lbOnly = Array.isArray(uses) && uses.length > 0 && uses.every((u) => u === 'LoadBalancer');
  const type: PoolType = lbOnly ? 'none' : vxlanMode !== 'Never' ? 'vxlan' : ipipMode !== 'Never' ? 'ipip' : 'noencap';
  return {
    name,
    net: net!,
    type,
    crossSubnet: ipipMode === 'CrossSubnet' || vxlanMode === 'CrossSubnet',
    disableBGPExport: spec.disableBGPExport === true,
  };
}

/** Longest-prefix pool containing `net` (pools sorted by prefix length, longest first). */
export function findPool(pools: readonly PoolInfo[], net: Net): PoolInfo | undefined {
  for (const pool of pools) if (netContainsNet(pool.net, net)) return pool;
  return undefined;
}

export function sortPools(pools: PoolInfo[]): PoolInfo[] {
  return pools.sort((a, b) => b.net.prefix - a.net.prefix || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// Nodes

export interface NodeInfo {
  readonly name: string;
  /** Node IPv4 address (no prefix) and its network (with the node's prefix; /32 when written bare). */
  readonly ipv4?: Addr;
  readonly ipv4Net?: Net;
  readonly ipv6?: Addr;
  readonly ipv6Net?: Net;
  readonly vxlanV4?: Addr;
  readonly vxlanV6?: Addr;
  readonly macV4Explicit?: string;
  readonly macV6Explicit?: string;
  /** Interfaces by name -> addresses (for the local parent device). */
  readonly interfaces: readonly { name: string; addresses: readonly string[] }[];
  macV4?: string;
  macV6?: string;
}

function nodeAddress(problems: Problems, node: Node, path: string, family: 4 | 6): { addr?: Addr; net?: Net } {
  const spec = node.spec ?? {};
  const bgpField = family === 4 ? 'ipv4Address' : 'ipv6Address';
  const fromBGP = spec.bgp?.[bgpField];
  let text: string | undefined;
  let where = '';
  if (typeof fromBGP === 'string' && fromBGP !== '') {
    text = fromBGP;
    where = `${path}.spec.bgp.${bgpField}`;
  } else if (Array.isArray(spec.addresses)) {
    // Fallback: first InternalIP, then ExternalIP, of this family.
    for (const wanted of ['InternalIP', 'ExternalIP']) {
      const index = spec.addresses.findIndex((a) => a?.type === wanted && typeof a.address === 'string' && (a.address.includes(':') ? 6 : 4) === family);
      if (index >= 0) {
        text = spec.addresses[index]!.address;
        where = `${path}.spec.addresses[${index}].address`;
        break;
      }
    }
  }
  if (text === undefined) return {};
  const net = netOrProblem(problems, where, text, true);
  if (!net) return {};
  if (net.family !== family) {
    problems.add(where, text, `must be an IPv${family} address`);
    return {};
  }
  const slash = text.indexOf('/');
  const addr = addrOrProblem(problems, where, slash < 0 ? text : text.slice(0, slash));
  return addr ? { addr, net } : {};
}

/** Parses a node; malformed fields are recorded in `problems`. */
export function parseNodeInto(problems: Problems, node: Node, path: string): NodeInfo | undefined {
  if (!node || typeof node !== 'object' || typeof node.metadata?.name !== 'string' || node.metadata.name === '') {
    problems.add(`${path}.metadata.name`, node?.metadata?.name, 'a Node needs a name');
    return undefined;
  }
  const before = problems.fields.length;
  const spec = node.spec ?? {};
  const v4 = nodeAddress(problems, node, path, 4);
  const v6 = nodeAddress(problems, node, path, 6);
  const tunnel = (field: 'ipv4VXLANTunnelAddr' | 'ipv6VXLANTunnelAddr', family: 4 | 6): Addr | undefined => {
    const text = spec[field];
    if (text === undefined || text === '') return undefined;
    const addr = addrOrProblem(problems, `${path}.spec.${field}`, text);
    if (addr && addr.family !== family) {
      problems.add(`${path}.spec.${field}`, text, `must be an IPv${family} address`);
      return undefined;
    }
    return addr;
  };
  const vxlanV4 = tunnel('ipv4VXLANTunnelAddr', 4);
  const vxlanV6 = tunnel('ipv6VXLANTunnelAddr', 6);
  const mac = (field: 'vxlanTunnelMACAddr' | 'vxlanTunnelMACAddrV6'): string | undefined => {
    const text = spec[field];
    if (text === undefined || text === '') return undefined;
    if (typeof text !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) {
      problems.add(`${path}.spec.${field}`, text, 'must be a MAC address like 66:07:02:c1:cc:60');
      return undefined;
    }
    return text.toLowerCase();
  };
  const macV4Explicit = mac('vxlanTunnelMACAddr');
  const macV6Explicit = mac('vxlanTunnelMACAddrV6');
  if (problems.fields.length > before) return undefined;
  const interfaces = Array.isArray(spec.interfaces)
    ? spec.interfaces.map((i) => ({ name: i.name, addresses: Array.isArray(i.addresses) ? i.addresses : [] }))
    : [];
  return {
    name: node.metadata.name,
    ipv4: v4.addr,
    ipv4Net: v4.net,
    ipv6: v6.addr,
    ipv6Net: v6.net,
    vxlanV4,
    vxlanV6,
    macV4Explicit,
    macV6Explicit,
    interfaces,
  };
}

/** Parses one node. @throws {ValidationError} */
export function parseNode(node: Node, path = 'node'): NodeInfo {
  const problems = new Problems();
  const info = parseNodeInto(problems, node, path);
  problems.throwIfAny();
  return info!;
}

export function nodeMAC(node: NodeInfo, family: 4 | 6): string {
  if (family === 4) return (node.macV4 ??= node.macV4Explicit ?? vtepMAC(node.name));
  return (node.macV6 ??= node.macV6Explicit ?? vtepMAC(node.name, { ipv6: true }));
}

// ---------------------------------------------------------------------------------------------
// Workload endpoints

export interface WorkloadInfo {
  readonly id: string;
  readonly node: string;
  readonly iface: string;
  readonly nets: readonly Net[];
  readonly warnings: readonly RouteWarning[];
}

export function workloadId(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

/** Parses a workload endpoint's interface and host addresses. @throws {ValidationError} */
export function parseWorkload(wep: WorkloadEndpoint, path = 'workloadEndpoint'): WorkloadInfo {
  const problems = new Problems();
  const info = parseWorkloadInto(problems, wep, path);
  problems.throwIfAny();
  return info!;
}

export function parseWorkloadInto(problems: Problems, wep: WorkloadEndpoint, path: string): WorkloadInfo | undefined {
  const name = wep?.metadata?.name;
  if (typeof name !== 'string' || name === '') {
    problems.add(`${path}.metadata.name`, name, 'a WorkloadEndpoint needs a name');
    return undefined;
  }
  const spec = wep.spec;
  const node = spec?.node;
  if (typeof node !== 'string' || node === '') {
    problems.add(`${path}.spec.node`, node, 'required');
    return undefined;
  }
  const iface = spec.interfaceName;
  if (typeof iface !== 'string' || !/^[a-zA-Z0-9_.-]{1,15}$/.test(iface)) {
    problems.add(`${path}.spec.interfaceName`, iface, 'required; 1-15 characters of [a-zA-Z0-9_.-]');
    return undefined;
  }
  const nets: Net[] = [];
  const warnings: RouteWarning[] = [];
  const list = spec.ipNetworks ?? [];
  for (let i = 0; i < list.length; i++) {
    const net = netOrProblem(problems, `${path}.spec.ipNetworks[${i}]`, list[i], true);
    if (!net) continue;
    if (net.prefix !== hostLength(net.family)) {
      warnings.push({
        code: 'workloadAddressInvalid',
        message: `workload ${workloadId(wep.metadata.namespace, name)} network ${list[i]} is not a /${hostLength(net.family)}; skipped`,
        destination: net.key,
        node,
      });
      continue;
    }
    nets.push(net);
  }
  return { id: workloadId(wep.metadata.namespace, name), node, iface, nets, warnings };
}

// ---------------------------------------------------------------------------------------------
// Affinities

/** Host owning a block per an affinity string `host:<node>`; undefined for none/virtual. */
export function affinityHost(affinity: string | null | undefined): string | undefined {
  if (typeof affinity !== 'string' || !affinity.startsWith('host:')) return undefined;
  const host = affinity.slice(5);
  return host === '' ? undefined : host;
}

/** True when an affinity record owns its block (not pending, not deleted, host type). */
export function affinityCounts(a: SnapshotBlockAffinity): boolean {
  if (a.deleted === true || a.state === 'pending') return false;
  return a.type === undefined || a.type === '' || a.type === 'host';
}

// ---------------------------------------------------------------------------------------------
// Effective configuration

function mergeConfig<T extends object>(items: readonly { metadata?: { name?: string }; spec?: T }[] | undefined, node: string): T {
  let base: T | undefined;
  let specific: T | undefined;
  for (const item of items ?? []) {
    const name = item?.metadata?.name;
    if (name === 'default') base = item.spec;
    else if (name === `node.${node}`) specific = item.spec;
  }
  const out = { ...(base ?? {}) } as Record<string, unknown>;
  for (const [key, value] of Object.entries(specific ?? {})) if (value !== undefined) out[key] = value;
  return out as T;
}

export interface Context {
  readonly local: string;
  readonly minor: number;
  readonly felix: FelixConfigurationSpec;
  readonly bgp: BGPConfigurationSpec;
  readonly owners: RouteOwners;
  readonly deviceProto: number;
  readonly exclusiveProto: number;
  readonly ipipMTU: number;
  readonly vxlanMTU: number;
  readonly vxlanMTUV6: number;
  readonly routeMTU: boolean;
  readonly workloadMetric4: number;
  readonly workloadMetric6: number;
  readonly workloadIPs: boolean;
  readonly pools: readonly PoolInfo[];
  readonly vxlanOn4: boolean;
  readonly vxlanOn6: boolean;
  readonly nodes: ReadonlyMap<string, NodeInfo>;
  readonly localNode: NodeInfo | undefined;
  readonly parent4: string | undefined;
  readonly parent6: string | undefined;
  readonly resolveNextHop: RouteOptions['resolveNextHop'];
  readonly globalWarnings: readonly RouteWarning[];
}

/** Parses `v3.30` / `3.30` / `v3.30.2` into the minor number. @throws {ValidationError} */
export function parseCalicoVersion(version: string | undefined): number {
  if (version === undefined) return 30;
  const m = typeof version === 'string' ? /^v?3\.(\d+)(?:\.\d+)?(?:[-+].*)?$/.exec(version) : null;
  if (!m) throw new ValidationError([{ name: 'options.calicoVersion', value: version, reason: 'must look like v3.30 (Calico 3.x)' }]);
  return Number(m[1]);
}

const PROGRAM_CLUSTER_ROUTES = new Set(['Enabled', 'Disabled', 'EnabledIPIPOnly', 'EnabledNoEncapOnly']);

function covers(setting: string, type: 'ipip' | 'noEncap'): boolean {
  return setting === 'Enabled' || (type === 'ipip' ? setting === 'EnabledIPIPOnly' : setting === 'EnabledNoEncapOnly');
}

/** Works out who writes IPIP / no-encap routes (reference §1.1). */
export function resolveOwners(
  minor: number,
  felix: FelixConfigurationSpec,
  bgp: BGPConfigurationSpec,
  options: RouteOptions,
  warnings: RouteWarning[],
): RouteOwners {
  const problems = new Problems();
  if (felix.programClusterRoutes !== undefined && !PROGRAM_CLUSTER_ROUTES.has(felix.programClusterRoutes)) {
    problems.add('felixConfiguration.spec.programClusterRoutes', felix.programClusterRoutes, 'must be Enabled, Disabled, EnabledIPIPOnly or EnabledNoEncapOnly');
  }
  if (bgp.programClusterRoutes !== undefined && !PROGRAM_CLUSTER_ROUTES.has(bgp.programClusterRoutes)) {
    problems.add('bgpConfiguration.spec.programClusterRoutes', bgp.programClusterRoutes, 'must be Enabled, Disabled, EnabledIPIPOnly or EnabledNoEncapOnly');
  }
  for (const key of ['ipip', 'noEncap'] as const) {
    const value = options.routeOwners?.[key];
    if (value !== undefined && value !== 'bird' && value !== 'felix' && value !== 'none') {
      problems.add(`options.routeOwners.${key}`, value, 'must be bird, felix or none');
    }
  }
  problems.throwIfAny();
  const bird = options.birdEnabled !== false;
  let felixSetting: string;
  let birdSetting: string;
  if (minor <= 30) {
    felixSetting = 'Disabled';
    birdSetting = 'Enabled';
  } else if (minor <= 33) {
    felixSetting = felix.programClusterRoutes ?? 'Disabled';
    birdSetting = felixSetting === 'Enabled' ? 'Disabled' : 'Enabled';
  } else {
    felixSetting = felix.programClusterRoutes ?? 'EnabledIPIPOnly';
    birdSetting = bgp.programClusterRoutes ?? 'EnabledNoEncapOnly';
  }
  const decide = (type: 'ipip' | 'noEncap'): RouteProgrammer => {
    const forced = options.routeOwners?.[type];
    if (forced !== undefined) return forced;
    const byFelix = covers(felixSetting, type);
    const byBird = bird && covers(birdSetting, type);
    if (byFelix && byBird) {
      warnings.push({
        code: 'ownerConflict',
        message: `both Felix (programClusterRoutes ${felixSetting}) and BIRD (BGPConfiguration programClusterRoutes ${birdSetting}) would program ${type} routes; Felix's rendering is used`,
      });
    }
    return byFelix ? 'felix' : byBird ? 'bird' : 'none';
  };
  return { ipip: decide('ipip'), noEncap: decide('noEncap') };
}

function positiveInt(problems: Problems, path: string, value: unknown): number | undefined {
  if (value === undefined || value === 0) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    problems.add(path, value, 'must be a non-negative integer');
    return undefined;
  }
  return value;
}

function parentFor(node: NodeInfo | undefined, addr: Addr | undefined): string | undefined {
  if (!node || !addr) return undefined;
  for (const iface of node.interfaces) {
    for (const text of iface.addresses) {
      const slash = text.indexOf('/');
      const bare = slash < 0 ? text : text.slice(0, slash);
      try {
        if (parseAddr(bare).text === addr.text) return iface.name;
      } catch {
        // A malformed detected address cannot match; ignore it.
      }
    }
  }
  return undefined;
}

export interface ContextInput {
  pools: readonly PoolInfo[];
  nodes: ReadonlyMap<string, NodeInfo>;
  felixConfigurations?: readonly FelixConfiguration[];
  bgpConfigurations?: readonly BGPConfiguration[];
}

/** Builds the effective context for `local`. @throws {ValidationError} on bad options/config. */
export function buildContext(local: string, input: ContextInput, options: RouteOptions): Context {
  const warnings: RouteWarning[] = [];
  const minor = parseCalicoVersion(options.calicoVersion);
  const felix = mergeConfig<FelixConfigurationSpec>(input.felixConfigurations, local);
  const bgp = mergeConfig<BGPConfigurationSpec>(input.bgpConfigurations, local);
  for (const fc of input.felixConfigurations ?? []) {
    const name = fc?.metadata?.name;
    if (name !== 'default' && !(typeof name === 'string' && name.startsWith('node.'))) {
      warnings.push({ code: 'selectorScopedConfigIgnored', message: `FelixConfiguration ${String(name)} is selector-scoped and was not evaluated` });
    }
  }
  const owners = resolveOwners(minor, felix, bgp, options, warnings);
  const problems = new Problems();
  const hostMTU = options.hostMTU ?? 1500;
  if (!Number.isInteger(hostMTU) || hostMTU < 576 || hostMTU > 65535) problems.add('options.hostMTU', options.hostMTU, 'must be an integer from 576 to 65535');
  const deviceProto = felix.deviceRouteProtocol ?? PROTO_BOOT;
  if (!Number.isInteger(deviceProto) || deviceProto < 0 || deviceProto > 255) {
    problems.add('felixConfiguration.spec.deviceRouteProtocol', felix.deviceRouteProtocol, 'must be an integer from 0 to 255');
  }
  const ipipMTU = positiveInt(problems, 'felixConfiguration.spec.ipipMTU', felix.ipipMTU);
  const vxlanMTU = positiveInt(problems, 'felixConfiguration.spec.vxlanMTU', felix.vxlanMTU);
  const vxlanMTUV6 = positiveInt(problems, 'felixConfiguration.spec.vxlanMTUV6', felix.vxlanMTUV6);
  const prio4 = positiveInt(problems, 'felixConfiguration.spec.ipv4NormalRoutePriority', felix.ipv4NormalRoutePriority);
  const prio6 = positiveInt(problems, 'felixConfiguration.spec.ipv6NormalRoutePriority', (felix as { ipv6NormalRoutePriority?: number }).ipv6NormalRoutePriority);
  const routeSource = felix.routeSource ?? 'CalicoIPAM';
  if (routeSource !== 'CalicoIPAM' && routeSource !== 'WorkloadIPs') {
    problems.add('felixConfiguration.spec.routeSource', felix.routeSource, 'must be CalicoIPAM or WorkloadIPs');
  }
  if (options.resolveNextHop !== undefined && typeof options.resolveNextHop !== 'function') {
    problems.add('options.resolveNextHop', options.resolveNextHop, 'must be a function');
  }
  problems.throwIfAny();
  const localNode = input.nodes.get(local);
  const parent4 = options.parentDevice ?? parentFor(localNode, localNode?.ipv4);
  const parent6 = options.parentDeviceV6 ?? parentFor(localNode, localNode?.ipv6) ?? options.parentDevice;
  const felixAny = felix as { vxlanEnabledV6?: boolean };
  return {
    local,
    minor,
    felix,
    bgp,
    owners,
    deviceProto,
    exclusiveProto: deviceProto === PROTO_BOOT ? PROTO_FELIX : deviceProto,
    ipipMTU: ipipMTU ?? hostMTU - 20,
    vxlanMTU: vxlanMTU ?? hostMTU - 50,
    vxlanMTUV6: vxlanMTUV6 ?? hostMTU - 70,
    routeMTU: minor >= 31,
    workloadMetric4: minor >= 32 ? (prio4 ?? 1024) : 0,
    workloadMetric6: minor >= 32 ? (prio6 ?? 1024) : 1024,
    workloadIPs: routeSource === 'WorkloadIPs',
    pools: input.pools,
    vxlanOn4: felix.vxlanEnabled === true || input.pools.some((p) => p.type === 'vxlan' && p.net.family === 4),
    vxlanOn6: felixAny.vxlanEnabledV6 === true || input.pools.some((p) => p.type === 'vxlan' && p.net.family === 6),
    nodes: input.nodes,
    localNode,
    parent4,
    parent6,
    resolveNextHop: options.resolveNextHop,
    globalWarnings: warnings,
  };
}

// ---------------------------------------------------------------------------------------------
// Per-destination decision

/** What points at one destination. */
export interface DestinationSources {
  /** Interfaces of local workloads holding this address. */
  localIfaces?: string[];
  /**
   * The destination is a block: its effective owner (undefined = no owner), whether a block
   * record exists (its affinity is authoritative), and the hosts of counted affinity records.
   */
  block?: { owner: string | undefined; record: boolean; affinityHosts: readonly string[] };
  /** The destination is an address allocated to this node inside a block owned by another (or none). */
  borrowedBy?: string;
  /** WorkloadIPs mode: remote nodes with a workload holding this address. */
  remoteWorkloadNodes?: string[];
}

export interface Decision {
  route: Route | undefined;
  warnings: RouteWarning[];
}

interface Candidate {
  route: Route;
  rank: number;
}

function metricFor(ctx: Context, family: 4 | 6): number {
  return family === 6 ? 1024 : 0;
}

/** Builds a route with its fields in a fixed order (few hidden classes: object spread here was a hot-path cliff). */
function makeRoute(
  destination: string,
  family: 4 | 6,
  type: 'unicast' | 'blackhole',
  device: string | undefined,
  gateway: string | undefined,
  onlink: boolean,
  protocol: number,
  scope: 'universe' | 'link',
  metric: number,
  mtu: number,
  kind: RouteKind,
  encap: RouteEncap | undefined,
  programmer: 'felix' | 'bird',
  node: string,
): Route {
  // One literal per shape, absent optional fields left out (no `delete`: it would drop the object to dictionary mode).
  if (device === undefined) return { destination, family, type, onlink, protocol, scope, metric, mtu, kind, programmer, node };
  if (encap === undefined) return { destination, family, type, device, onlink, protocol, scope, metric, mtu, kind, programmer, node };
  if (gateway === undefined) return { destination, family, type, device, onlink, protocol, scope, metric, mtu, kind, encap, programmer, node };
  return { destination, family, type, device, gateway, onlink, protocol, scope, metric, mtu, kind, encap, programmer, node };
}

function remoteCandidate(ctx: Context, net: Net, pool: PoolInfo, nodeName: string, kind: RouteKind, warnings: RouteWarning[]): Candidate | undefined {
  const dst = net.key;
  const family = net.family;
  const node = ctx.nodes.get(nodeName);
  if (!node) {
    warnings.push({ code: 'nodeNotFound', message: `no route to ${dst}: node ${nodeName} is not in the snapshot`, destination: dst, node: nodeName });
    return undefined;
  }
  const nodeAddr = family === 4 ? node.ipv4 : node.ipv6;
  const local = ctx.localNode;
  const localNet = family === 4 ? local?.ipv4Net : local?.ipv6Net;
  const parent = family === 4 ? ctx.parent4 : ctx.parent6;
  const metric = metricFor(ctx, family);
  const via = (device: string | undefined, gateway: string | undefined, onlink: boolean, protocol: number, mtu: number, encap: RouteEncap, programmer: 'felix' | 'bird', scope: 'universe' | 'link' = 'universe'): Route =>
    makeRoute(dst, family, 'unicast', device, gateway, onlink, protocol, scope, metric, mtu, kind, encap, programmer, nodeName);
  const noParent = (): undefined => {
    warnings.push({ code: 'parentDeviceUnknown', message: `no route to ${dst}: the device carrying the local node's IPv${family} address is unknown (set options.parentDevice or node spec.interfaces)`, destination: dst, node: nodeName });
    return undefined;
  };
  if (pool.type === 'vxlan' || pool.type === 'ipip' || pool.type === 'noencap') {
    const owner: RouteProgrammer = pool.type === 'vxlan' ? 'felix' : pool.type === 'ipip' ? ctx.owners.ipip : ctx.owners.noEncap;
    if (owner === 'none') return undefined;
    if (owner === 'bird' && pool.disableBGPExport) return undefined;
    if (!nodeAddr) {
      warnings.push({ code: 'nodeAddressMissing', message: `no route to ${dst}: node ${nodeName} has no IPv${family} address`, destination: dst, node: nodeName });
      return undefined;
    }
    const same = localNet !== undefined && netContainsAddr(localNet, nodeAddr);
    const sameSubnet = pool.crossSubnet && same;
    if (pool.type === 'vxlan') {
      if (sameSubnet) {
        if (!parent) return noParent();
        return { rank: 1, route: via(parent, nodeAddr.text, true, ctx.exclusiveProto, 0, 'none', 'felix') };
      }
      const tunnel = family === 4 ? node.vxlanV4 : node.vxlanV6;
      if (!tunnel) {
        warnings.push({ code: 'vtepMissing', message: `no route to ${dst}: node ${nodeName} has no IPv${family} VXLAN tunnel address`, destination: dst, node: nodeName });
        return undefined;
      }
      const device = family === 4 ? VXLAN_DEVICE : VXLAN_V6_DEVICE;
      const mtu = ctx.routeMTU ? (family === 4 ? ctx.vxlanMTU : ctx.vxlanMTUV6) : 0;
      if (net.prefix === hostLength(family) && dst === `${tunnel.text}/${hostLength(family)}`) {
        // The destination is the remote VTEP itself (reference §4.5): a link-scope route.
        return { rank: 2, route: via(device, undefined, false, ctx.deviceProto, mtu, 'vxlan', 'felix', 'link') };
      }
      return { rank: 2, route: via(device, tunnel.text, true, ctx.deviceProto, mtu, 'vxlan', 'felix') };
    }
    if (pool.type === 'ipip') {
      if (owner === 'bird') {
        if (sameSubnet) {
          if (!parent) return noParent();
          return { rank: 3, route: via(parent, nodeAddr.text, false, PROTO_BIRD, 0, 'none', 'bird') };
        }
        return { rank: 4, route: via(TUNL0, nodeAddr.text, true, PROTO_BIRD, 0, 'ipip', 'bird') };
      }
      if (sameSubnet) {
        if (!parent) return noParent();
        return { rank: 3, route: via(parent, nodeAddr.text, true, ctx.exclusiveProto, 0, 'none', 'felix') };
      }
      return { rank: 4, route: via(TUNL0, nodeAddr.text, true, ctx.exclusiveProto, ctx.routeMTU ? ctx.ipipMTU : 0, 'ipip', 'felix') };
    }
    // No encapsulation.
    if (owner === 'bird') {
      if (same) {
        if (!parent) return noParent();
        return { rank: 5, route: via(parent, nodeAddr.text, false, PROTO_BIRD, 0, 'none', 'bird') };
      }
      const hop = ctx.resolveNextHop?.(nodeAddr.text, family);
      if (!hop) {
        warnings.push({ code: 'nextHopUnresolved', message: `no route to ${dst}: node ${nodeName} (${nodeAddr.text}) is outside the local subnet and options.resolveNextHop gave no gateway`, destination: dst, node: nodeName });
        return undefined;
      }
      return { rank: 5, route: via(hop.device, hop.gateway, false, PROTO_BIRD, 0, 'none', 'bird') };
    }
    if (!parent) return noParent();
    return { rank: 5, route: via(parent, nodeAddr.text, true, ctx.exclusiveProto, 0, 'none', 'felix') };
  }
  return undefined;
}

function blackholeCandidate(ctx: Context, net: Net, pool: PoolInfo): Candidate | undefined {
  if (net.prefix === hostLength(net.family)) return undefined;
  const owner: RouteProgrammer = pool.type === 'vxlan' ? 'felix' : pool.type === 'ipip' ? ctx.owners.ipip : pool.type === 'noencap' ? ctx.owners.noEncap : 'none';
  if (owner === 'none') return undefined;
  const rank = pool.type === 'vxlan' ? 6 : pool.type === 'ipip' ? 7 : 8;
  return {
    rank,
    route: makeRoute(net.key, net.family, 'blackhole', undefined, undefined, false, owner === 'bird' ? PROTO_BIRD : ctx.exclusiveProto, 'universe', metricFor(ctx, net.family), 0, 'localBlock', undefined, owner, ctx.local),
  };
}

/** Decides the route (if any) for one destination from its sources. */
export function decide(ctx: Context, net: Net, sources: DestinationSources): Decision {
  const warnings: RouteWarning[] = [];
  const candidates: Candidate[] = [];
  const dst = net.key;
  const ifaces = sources.localIfaces;
  if (ifaces && ifaces.length > 0) {
    const sorted = [...new Set(ifaces)].sort();
    if (sorted.length > 1) {
      warnings.push({ code: 'routeConflict', message: `${dst} is claimed by several local workload interfaces (${sorted.join(', ')}); ${sorted[0]} is used`, destination: dst, node: ctx.local });
    }
    candidates.push({
      rank: 0,
      route: makeRoute(dst, net.family, 'unicast', sorted[0], undefined, false, ctx.deviceProto, 'link', net.family === 4 ? ctx.workloadMetric4 : ctx.workloadMetric6, 0, 'localWorkload', undefined, 'felix', ctx.local),
    });
  }
  const needsPool = sources.block !== undefined || sources.borrowedBy !== undefined || (sources.remoteWorkloadNodes?.length ?? 0) > 0;
  const pool = needsPool ? findPool(ctx.pools, net) : undefined;
  const routable = pool !== undefined && pool.type !== 'none';
  if (sources.block && !ctx.workloadIPs) {
    const hosts = [...new Set(sources.block.affinityHosts)].sort();
    if (!sources.block.record && hosts.length > 1) {
      warnings.push({ code: 'affinityMismatch', message: `block ${dst} has affinities for several nodes (${hosts.join(', ')}); ${hosts[0]} is used`, destination: dst });
    } else if (sources.block.record && hosts.some((h) => h !== sources.block!.owner)) {
      warnings.push({
        code: 'affinityMismatch',
        message: `block ${dst} is affine to ${sources.block.owner ?? 'nobody'} but has affinity records for ${hosts.join(', ')}; the block's affinity is used`,
        destination: dst,
      });
    }
    if (!routable) {
      warnings.push({ code: 'blockOutsidePools', message: `block ${dst} is not inside any routable IP pool; no route`, destination: dst, node: sources.block.owner });
    } else if (sources.block.owner === ctx.local) {
      const c = blackholeCandidate(ctx, net, pool);
      if (c) candidates.push(c);
    } else if (sources.block.owner !== undefined) {
      const c = remoteCandidate(ctx, net, pool, sources.block.owner, 'remoteBlock', warnings);
      if (c) candidates.push(c);
    }
  }
  if (sources.borrowedBy !== undefined && !ctx.workloadIPs && routable && sources.borrowedBy !== ctx.local) {
    const c = remoteCandidate(ctx, net, pool, sources.borrowedBy, 'borrowed', warnings);
    if (c) candidates.push(c);
  }
  if (ctx.workloadIPs && sources.remoteWorkloadNodes && sources.remoteWorkloadNodes.length > 0 && routable) {
    const nodes = [...new Set(sources.remoteWorkloadNodes)].sort();
    if (nodes.length > 1) {
      warnings.push({ code: 'routeConflict', message: `${dst} is claimed by workloads on several nodes (${nodes.join(', ')}); ${nodes[0]} is used`, destination: dst });
    }
    const c = remoteCandidate(ctx, net, pool, nodes[0]!, 'remoteWorkload', warnings);
    if (c) candidates.push(c);
  }
  if (candidates.length === 0) return { route: undefined, warnings };
  let best = candidates[0]!;
  for (const c of candidates) if (c.rank < best.rank) best = c;
  if (candidates.length > 1) {
    warnings.push({
      code: 'routeConflict',
      message: `${dst} has ${candidates.length} competing routes (${candidates.map((c) => c.route.kind).join(', ')}); the ${best.route.kind} route wins`,
      destination: dst,
    });
  }
  return { route: best.route, warnings };
}

// ---------------------------------------------------------------------------------------------
// VXLAN layer 2

/** Neighbour + FDB entries for a remote node's VTEP of `family`, when VXLAN is on for it. */
export function vtepEntries(ctx: Context, node: NodeInfo, family: 4 | 6): { neighbor: NeighborEntry; fdb: FdbEntry } | undefined {
  if (node.name === ctx.local) return undefined;
  if (family === 4 ? !ctx.vxlanOn4 : !ctx.vxlanOn6) return undefined;
  const tunnel = family === 4 ? node.vxlanV4 : node.vxlanV6;
  const parent = family === 4 ? node.ipv4 : node.ipv6;
  if (!tunnel || !parent) return undefined;
  const device = family === 4 ? VXLAN_DEVICE : VXLAN_V6_DEVICE;
  const mac = nodeMAC(node, family);
  return {
    neighbor: { family, device, address: tunnel.text, mac, node: node.name },
    fdb: { family, device, mac, destination: parent.text, node: node.name },
  };
}

// ---------------------------------------------------------------------------------------------
// Ordering and comparison

export function compareWarnings(a: RouteWarning, b: RouteWarning): number {
  const ka = `${a.code}\u0000${a.destination ?? ''}\u0000${a.node ?? ''}\u0000${a.message}`;
  const kb = `${b.code}\u0000${b.destination ?? ''}\u0000${b.node ?? ''}\u0000${b.message}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function sameRoute(a: Route, b: Route): boolean {
  return (
    a.destination === b.destination &&
    a.type === b.type &&
    a.device === b.device &&
    a.gateway === b.gateway &&
    a.onlink === b.onlink &&
    a.protocol === b.protocol &&
    a.scope === b.scope &&
    a.metric === b.metric &&
    a.mtu === b.mtu &&
    a.kind === b.kind &&
    a.encap === b.encap &&
    a.programmer === b.programmer &&
    a.node === b.node
  );
}

