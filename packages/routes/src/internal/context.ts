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
  maskV4,
  netContainsNet,
  parseAddr,
  parseNet,
  parseV4Fast,
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
  /** Node IPv4 address (no prefix) and the prefix length of its subnet (32 when written bare; 0 without an address). */
  readonly ipv4: Addr | undefined;
  readonly ipv4Prefix: number;
  readonly ipv6: Addr | undefined;
  readonly ipv6Prefix: number;
  readonly vxlanV4: Addr | undefined;
  readonly vxlanV6: Addr | undefined;
  readonly macV4Explicit: string | undefined;
  readonly macV6Explicit: string | undefined;
  /**
   * The node's `spec.interfaces` as given (read only for the local node's parent device, by
   * {@link parentFor}, which tolerates any shape): not copied, nodes are treated as immutable input.
   */
  readonly interfaces: unknown;
  macV4: string | undefined;
  macV6: string | undefined;
}

function nodePath(path: string, index: number): string {
  return index < 0 ? path : `${path}[${index}]`;
}

/**
 * Prefix length of the subnet of the address {@link nodeAddress} / {@link fastV4NodeAddress} last
 * returned (host length when written bare): an out-parameter, read right after the call, so that
 * parsing 5,000 nodes allocates no wrapper objects.
 */
let lastPrefix = 0;

/** `a.b.c.d` or `a.b.c.d/nn` (canonical dotted quad, 1-2 digit prefix <= 32), prefix in {@link lastPrefix}; undefined otherwise. */
function fastV4NodeAddress(text: string): Addr | undefined {
  const slash = text.indexOf('/');
  const end = slash < 0 ? text.length : slash;
  const ip = parseV4Fast(text, 0, end);
  if (ip < 0) return undefined;
  let prefix = 32;
  if (slash >= 0) {
    const n = text.length - slash - 1;
    const d0 = text.charCodeAt(slash + 1) - 48;
    if (n === 1 && d0 >= 0 && d0 <= 9) prefix = d0;
    else if (n === 2 && d0 >= 1 && d0 <= 9) {
      const d1 = text.charCodeAt(slash + 2) - 48;
      if (d1 < 0 || d1 > 9) return undefined;
      prefix = d0 * 10 + d1;
      if (prefix > 32) return undefined;
    } else return undefined;
  }
  lastPrefix = prefix;
  return { family: 4, v4: ip, v6: 0n, text: slash < 0 ? text : text.slice(0, slash) };
}

/** The node's address of `family` (BGP spec first, then its InternalIP/ExternalIP), prefix length in {@link lastPrefix}. */
function nodeAddress(problems: Problems, spec: NonNullable<Node['spec']>, path: string, index: number, family: 4 | 6): Addr | undefined {
  const bgpField = family === 4 ? 'ipv4Address' : 'ipv6Address';
  const fromBGP = spec.bgp?.[bgpField];
  let text: string | undefined;
  let addressIndex = -1;
  if (typeof fromBGP === 'string' && fromBGP !== '') {
    text = fromBGP;
    if (family === 4) {
      const fast = fastV4NodeAddress(text);
      if (fast) return fast;
    }
  } else if (Array.isArray(spec.addresses)) {
    // Fallback: first InternalIP, then ExternalIP, of this family.
    const addresses = spec.addresses;
    for (let w = 0; w < 2 && addressIndex < 0; w++) {
      const wanted = w === 0 ? 'InternalIP' : 'ExternalIP';
      for (let k = 0; k < addresses.length; k++) {
        const a = addresses[k];
        if (a?.type === wanted && typeof a.address === 'string' && (a.address.includes(':') ? 6 : 4) === family) {
          addressIndex = k;
          text = a.address;
          break;
        }
      }
    }
  }
  if (text === undefined) return undefined;
  const where = addressIndex < 0 ? `${nodePath(path, index)}.spec.bgp.${bgpField}` : `${nodePath(path, index)}.spec.addresses[${addressIndex}].address`;
  const net = netOrProblem(problems, where, text, true);
  if (!net) return undefined;
  if (net.family !== family) {
    problems.add(where, text, `must be an IPv${family} address`);
    return undefined;
  }
  const slash = text.indexOf('/');
  const addr = addrOrProblem(problems, where, slash < 0 ? text : text.slice(0, slash));
  lastPrefix = net.prefix;
  return addr;
}

function tunnelAddress(problems: Problems, spec: NonNullable<Node['spec']>, path: string, index: number, family: 4 | 6): Addr | undefined {
  const field = family === 4 ? 'ipv4VXLANTunnelAddr' : 'ipv6VXLANTunnelAddr';
  const text = spec[field];
  if (text === undefined || text === '') return undefined;
  if (family === 4 && typeof text === 'string') {
    const v4 = parseV4Fast(text, 0, text.length);
    if (v4 >= 0) return { family: 4, v4, v6: 0n, text };
  }
  const addr = addrOrProblem(problems, `${nodePath(path, index)}.spec.${field}`, text);
  if (addr && addr.family !== family) {
    problems.add(`${nodePath(path, index)}.spec.${field}`, text, `must be an IPv${family} address`);
    return undefined;
  }
  return addr;
}

const MAC_PATTERN = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

function explicitMAC(problems: Problems, spec: NonNullable<Node['spec']>, path: string, index: number, field: 'vxlanTunnelMACAddr' | 'vxlanTunnelMACAddrV6'): string | undefined {
  const text = spec[field];
  if (text === undefined || text === '') return undefined;
  if (typeof text !== 'string' || !MAC_PATTERN.test(text)) {
    problems.add(`${nodePath(path, index)}.spec.${field}`, text, 'must be a MAC address like 66:07:02:c1:cc:60');
    return undefined;
  }
  return text.toLowerCase();
}

/**
 * Parses a node; malformed fields are recorded in `problems` under `path` (`path[index]` when
 * `index >= 0`; field paths are built only when a problem is recorded).
 */
export function parseNodeInto(problems: Problems, node: Node, path: string, index = -1): NodeInfo | undefined {
  if (!node || typeof node !== 'object' || typeof node.metadata?.name !== 'string' || node.metadata.name === '') {
    problems.add(`${nodePath(path, index)}.metadata.name`, node?.metadata?.name, 'a Node needs a name');
    return undefined;
  }
  const before = problems.fields.length;
  const spec = node.spec ?? {};
  const v4 = nodeAddress(problems, spec, path, index, 4);
  const v4Prefix = lastPrefix;
  const v6 = nodeAddress(problems, spec, path, index, 6);
  const v6Prefix = lastPrefix;
  const vxlanV4 = tunnelAddress(problems, spec, path, index, 4);
  const vxlanV6 = tunnelAddress(problems, spec, path, index, 6);
  const macV4Explicit = explicitMAC(problems, spec, path, index, 'vxlanTunnelMACAddr');
  const macV6Explicit = explicitMAC(problems, spec, path, index, 'vxlanTunnelMACAddrV6');
  if (problems.fields.length > before) return undefined;
  return {
    name: node.metadata.name,
    ipv4: v4,
    ipv4Prefix: v4 === undefined ? 0 : v4Prefix,
    ipv6: v6,
    ipv6Prefix: v6 === undefined ? 0 : v6Prefix,
    vxlanV4,
    vxlanV6,
    macV4Explicit,
    macV6Explicit,
    interfaces: spec.interfaces,
    macV4: undefined,
    macV6: undefined,
  };
}

/** True when `addr` lies in `node`'s own subnet of that family (its address and prefix length). */
export function inNodeSubnet(node: NodeInfo, addr: Addr): boolean {
  if (addr.family === 4) {
    const own = node.ipv4;
    if (own === undefined) return false;
    const mask = maskV4(node.ipv4Prefix);
    return ((addr.v4 & mask) >>> 0) === ((own.v4 & mask) >>> 0);
  }
  const own = node.ipv6;
  if (own === undefined) return false;
  const host = BigInt(128 - node.ipv6Prefix);
  return addr.v6 >> host === own.v6 >> host;
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
  if (!node || !addr || !Array.isArray(node.interfaces)) return undefined;
  for (const iface of node.interfaces as readonly ({ name?: unknown; addresses?: unknown } | null | undefined)[]) {
    if (!iface || typeof iface.name !== 'string' || !Array.isArray(iface.addresses)) continue;
    for (const text of iface.addresses as readonly unknown[]) {
      if (typeof text !== 'string') continue;
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

function metricFor(family: 4 | 6): number {
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
  return new FullRoute(destination, family, type, device, gateway, onlink, protocol, scope, metric, mtu, kind, encap, programmer, node) as Route;
}

/**
 * Constructor of the dominant route shape (every field present: remote routes via a gateway).
 * At 20,000 routes per table, `new` with in-object fields allocates measurably faster than a
 * 14-property object literal. Its prototype is `Object.prototype`, so the routes are plain
 * objects, indistinguishable from literals (same keys in the same order, deep-equal, same JSON).
 */
function initFullRoute(
  this: Route,
  destination: string,
  family: 4 | 6,
  type: 'unicast' | 'blackhole',
  device: string,
  gateway: string,
  onlink: boolean,
  protocol: number,
  scope: 'universe' | 'link',
  metric: number,
  mtu: number,
  kind: RouteKind,
  encap: RouteEncap,
  programmer: 'felix' | 'bird',
  node: string,
): void {
  this.destination = destination;
  this.family = family;
  this.type = type;
  this.device = device;
  this.gateway = gateway;
  this.onlink = onlink;
  this.protocol = protocol;
  this.scope = scope;
  this.metric = metric;
  this.mtu = mtu;
  this.kind = kind;
  this.encap = encap;
  this.programmer = programmer;
  this.node = node;
}
const FullRoute = initFullRoute as unknown as new (...args: Parameters<typeof initFullRoute>) => Route;
initFullRoute.prototype = Object.prototype;

/** A unicast route of a remote destination (kind, metric, node and family taken from the call). */
function remoteRoute(
  net: Net,
  device: string | undefined,
  gateway: string | undefined,
  onlink: boolean,
  protocol: number,
  mtu: number,
  kind: RouteKind,
  encap: RouteEncap,
  programmer: 'felix' | 'bird',
  scope: 'universe' | 'link',
  node: string,
): Route {
  return makeRoute(net.key, net.family, 'unicast', device, gateway, onlink, protocol, scope, metricFor(net.family), mtu, kind, encap, programmer, node);
}

function noParent(net: Net, nodeName: string, warnings: RouteWarning[]): undefined {
  warnings.push({
    code: 'parentDeviceUnknown',
    message: `no route to ${net.key}: the device carrying the local node's IPv${net.family} address is unknown (set options.parentDevice or node spec.interfaces)`,
    destination: net.key,
    node: nodeName,
  });
  return undefined;
}

/**
 * The route to a destination living on remote node `nodeName`, or undefined (with a warning
 * when the skip is worth reporting). Its precedence among competing routes is {@link rankOf}.
 * Module-level and closure-free: it runs once per remote block.
 */
function remoteCandidate(ctx: Context, net: Net, pool: PoolInfo, nodeName: string, kind: RouteKind, warnings: RouteWarning[]): Route | undefined {
  const type = pool.type;
  if (type !== 'vxlan' && type !== 'ipip' && type !== 'noencap') return undefined;
  const family = net.family;
  const node = ctx.nodes.get(nodeName);
  if (!node) {
    warnings.push({ code: 'nodeNotFound', message: `no route to ${net.key}: node ${nodeName} is not in the snapshot`, destination: net.key, node: nodeName });
    return undefined;
  }
  const owner: RouteProgrammer = type === 'vxlan' ? 'felix' : type === 'ipip' ? ctx.owners.ipip : ctx.owners.noEncap;
  if (owner === 'none') return undefined;
  if (owner === 'bird' && pool.disableBGPExport) return undefined;
  const nodeAddr = family === 4 ? node.ipv4 : node.ipv6;
  if (!nodeAddr) {
    warnings.push({ code: 'nodeAddressMissing', message: `no route to ${net.key}: node ${nodeName} has no IPv${family} address`, destination: net.key, node: nodeName });
    return undefined;
  }
  const local = ctx.localNode;
  const parent = family === 4 ? ctx.parent4 : ctx.parent6;
  const same = local !== undefined && inNodeSubnet(local, nodeAddr);
  const sameSubnet = pool.crossSubnet && same;
  if (type === 'vxlan') {
    if (sameSubnet) {
      if (!parent) return noParent(net, nodeName, warnings);
      return remoteRoute(net, parent, nodeAddr.text, true, ctx.exclusiveProto, 0, kind, 'none', 'felix', 'universe', nodeName);
    }
    const tunnel = family === 4 ? node.vxlanV4 : node.vxlanV6;
    if (!tunnel) {
      warnings.push({ code: 'vtepMissing', message: `no route to ${net.key}: node ${nodeName} has no IPv${family} VXLAN tunnel address`, destination: net.key, node: nodeName });
      return undefined;
    }
    const device = family === 4 ? VXLAN_DEVICE : VXLAN_V6_DEVICE;
    const mtu = ctx.routeMTU ? (family === 4 ? ctx.vxlanMTU : ctx.vxlanMTUV6) : 0;
    if (net.prefix === hostLength(family) && (family === 4 ? net.v4 === tunnel.v4 : net.v6 === tunnel.v6)) {
      // The destination is the remote VTEP itself (reference §4.5): a link-scope route.
      return remoteRoute(net, device, undefined, false, ctx.deviceProto, mtu, kind, 'vxlan', 'felix', 'link', nodeName);
    }
    return remoteRoute(net, device, tunnel.text, true, ctx.deviceProto, mtu, kind, 'vxlan', 'felix', 'universe', nodeName);
  }
  if (type === 'ipip') {
    if (owner === 'bird') {
      if (sameSubnet) {
        if (!parent) return noParent(net, nodeName, warnings);
        return remoteRoute(net, parent, nodeAddr.text, false, PROTO_BIRD, 0, kind, 'none', 'bird', 'universe', nodeName);
      }
      return remoteRoute(net, TUNL0, nodeAddr.text, true, PROTO_BIRD, 0, kind, 'ipip', 'bird', 'universe', nodeName);
    }
    if (sameSubnet) {
      if (!parent) return noParent(net, nodeName, warnings);
      return remoteRoute(net, parent, nodeAddr.text, true, ctx.exclusiveProto, 0, kind, 'none', 'felix', 'universe', nodeName);
    }
    return remoteRoute(net, TUNL0, nodeAddr.text, true, ctx.exclusiveProto, ctx.routeMTU ? ctx.ipipMTU : 0, kind, 'ipip', 'felix', 'universe', nodeName);
  }
  // No encapsulation.
  if (owner === 'bird') {
    if (same) {
      if (!parent) return noParent(net, nodeName, warnings);
      return remoteRoute(net, parent, nodeAddr.text, false, PROTO_BIRD, 0, kind, 'none', 'bird', 'universe', nodeName);
    }
    const hop = ctx.resolveNextHop?.(nodeAddr.text, family);
    if (!hop) {
      warnings.push({
        code: 'nextHopUnresolved',
        message: `no route to ${net.key}: node ${nodeName} (${nodeAddr.text}) is outside the local subnet and options.resolveNextHop gave no gateway`,
        destination: net.key,
        node: nodeName,
      });
      return undefined;
    }
    return remoteRoute(net, hop.device, hop.gateway, false, PROTO_BIRD, 0, kind, 'none', 'bird', 'universe', nodeName);
  }
  if (!parent) return noParent(net, nodeName, warnings);
  return remoteRoute(net, parent, nodeAddr.text, true, ctx.exclusiveProto, 0, kind, 'none', 'felix', 'universe', nodeName);
}

function blackholeCandidate(ctx: Context, net: Net, pool: PoolInfo): Route | undefined {
  if (net.prefix === hostLength(net.family)) return undefined;
  const owner: RouteProgrammer = pool.type === 'vxlan' ? 'felix' : pool.type === 'ipip' ? ctx.owners.ipip : pool.type === 'noencap' ? ctx.owners.noEncap : 'none';
  if (owner === 'none') return undefined;
  return makeRoute(net.key, net.family, 'blackhole', undefined, undefined, false, owner === 'bird' ? PROTO_BIRD : ctx.exclusiveProto, 'universe', metricFor(net.family), 0, 'localBlock', undefined, owner, ctx.local);
}

/**
 * Precedence of a candidate route (lower wins): local workload 0; remote via VXLAN same subnet 1,
 * VXLAN tunnel 2, IPIP same subnet 3, IPIP tunnel 4, no encapsulation 5; local blackhole 6
 * (VXLAN pool), 7 (IPIP), 8 (no encapsulation). Only consulted when routes compete.
 */
function rankOf(route: Route, pool: PoolInfo | undefined): number {
  if (route.kind === 'localWorkload') return 0;
  const type = pool?.type;
  if (route.kind === 'localBlock') return type === 'vxlan' ? 6 : type === 'ipip' ? 7 : 8;
  if (type === 'vxlan') return route.encap === 'none' ? 1 : 2;
  if (type === 'ipip') return route.encap === 'none' ? 3 : 4;
  return 5;
}

/** Sorted distinct values (a copy only when there is more than one). */
function distinctSorted(values: readonly string[]): readonly string[] {
  if (values.length <= 1) return values;
  return [...new Set(values)].sort();
}

/**
 * Decides the route (if any) for one destination from its sources, appending any warnings to
 * `warnings`. Reads `sources` only (callers may reuse one scratch object).
 */
export function decideInto(ctx: Context, net: Net, sources: DestinationSources, warnings: RouteWarning[]): Route | undefined {
  // The first candidate is held in `first`; `more` is allocated only when routes compete.
  let first: Route | undefined;
  let more: Route[] | undefined;
  const dst = net.key;
  const ifaces = sources.localIfaces;
  if (ifaces && ifaces.length > 0) {
    const sorted = distinctSorted(ifaces);
    if (sorted.length > 1) {
      warnings.push({ code: 'routeConflict', message: `${dst} is claimed by several local workload interfaces (${sorted.join(', ')}); ${sorted[0]} is used`, destination: dst, node: ctx.local });
    }
    first = makeRoute(dst, net.family, 'unicast', sorted[0], undefined, false, ctx.deviceProto, 'link', net.family === 4 ? ctx.workloadMetric4 : ctx.workloadMetric6, 0, 'localWorkload', undefined, 'felix', ctx.local);
  }
  const block = sources.block;
  const borrowedBy = sources.borrowedBy;
  const remoteNodes = sources.remoteWorkloadNodes;
  const needsPool = block !== undefined || borrowedBy !== undefined || (remoteNodes !== undefined && remoteNodes.length > 0);
  const pool = needsPool ? findPool(ctx.pools, net) : undefined;
  const routable = pool !== undefined && pool.type !== 'none';
  let c: Route | undefined;
  if (block && !ctx.workloadIPs) {
    const affinityHosts = block.affinityHosts;
    if (affinityHosts.length > 0) {
      const hosts = distinctSorted(affinityHosts);
      if (!block.record && hosts.length > 1) {
        warnings.push({ code: 'affinityMismatch', message: `block ${dst} has affinities for several nodes (${hosts.join(', ')}); ${hosts[0]} is used`, destination: dst });
      } else if (block.record) {
        let mismatch = false;
        for (let i = 0; i < hosts.length; i++) if (hosts[i] !== block.owner) mismatch = true;
        if (mismatch) {
          warnings.push({
            code: 'affinityMismatch',
            message: `block ${dst} is affine to ${block.owner ?? 'nobody'} but has affinity records for ${hosts.join(', ')}; the block's affinity is used`,
            destination: dst,
          });
        }
      }
    }
    if (!routable) {
      warnings.push({ code: 'blockOutsidePools', message: `block ${dst} is not inside any routable IP pool; no route`, destination: dst, node: block.owner });
    } else if (block.owner === ctx.local) {
      c = blackholeCandidate(ctx, net, pool);
    } else if (block.owner !== undefined) {
      c = remoteCandidate(ctx, net, pool, block.owner, 'remoteBlock', warnings);
    }
    if (c) {
      if (first === undefined) first = c;
      else (more ??= [first]).push(c);
    }
  }
  if (borrowedBy !== undefined && !ctx.workloadIPs && routable && borrowedBy !== ctx.local) {
    c = remoteCandidate(ctx, net, pool, borrowedBy, 'borrowed', warnings);
    if (c) {
      if (first === undefined) first = c;
      else (more ??= [first]).push(c);
    }
  }
  if (ctx.workloadIPs && remoteNodes && remoteNodes.length > 0 && routable) {
    const nodes = distinctSorted(remoteNodes);
    if (nodes.length > 1) {
      warnings.push({ code: 'routeConflict', message: `${dst} is claimed by workloads on several nodes (${nodes.join(', ')}); ${nodes[0]} is used`, destination: dst });
    }
    c = remoteCandidate(ctx, net, pool, nodes[0]!, 'remoteWorkload', warnings);
    if (c) {
      if (first === undefined) first = c;
      else (more ??= [first]).push(c);
    }
  }
  if (more === undefined) return first;
  let best = more[0]!;
  let bestRank = rankOf(best, pool);
  for (let i = 1; i < more.length; i++) {
    const rank = rankOf(more[i]!, pool);
    if (rank < bestRank) {
      best = more[i]!;
      bestRank = rank;
    }
  }
  warnings.push({
    code: 'routeConflict',
    message: `${dst} has ${more.length} competing routes (${more.map(kindOf).join(', ')}); the ${best.kind} route wins`,
    destination: dst,
  });
  return best;
}

function kindOf(route: Route): RouteKind {
  return route.kind;
}

/** Decides the route (if any) for one destination from its sources. */
export function decide(ctx: Context, net: Net, sources: DestinationSources): Decision {
  const warnings: RouteWarning[] = [];
  const route = decideInto(ctx, net, sources, warnings);
  return { route, warnings };
}

// ---------------------------------------------------------------------------------------------
// VXLAN layer 2

/** Neighbour + FDB entries for a remote node's VTEP of `family`, when VXLAN is on for it. */
export function vtepEntries(ctx: Context, node: NodeInfo, family: 4 | 6): { neighbor: NeighborEntry; fdb: FdbEntry } | undefined {
  const neighbors: NeighborEntry[] = [];
  const fdb: FdbEntry[] = [];
  return pushVtepEntries(ctx, node, family, neighbors, fdb) ? { neighbor: neighbors[0]!, fdb: fdb[0]! } : undefined;
}

/** Appends the neighbour and FDB entries of {@link vtepEntries} (no wrapper object); false when there are none. */
export function pushVtepEntries(ctx: Context, node: NodeInfo, family: 4 | 6, neighbors: NeighborEntry[], fdb: FdbEntry[]): boolean {
  if (node.name === ctx.local) return false;
  if (family === 4 ? !ctx.vxlanOn4 : !ctx.vxlanOn6) return false;
  const tunnel = family === 4 ? node.vxlanV4 : node.vxlanV6;
  const parent = family === 4 ? node.ipv4 : node.ipv6;
  if (!tunnel || !parent) return false;
  const device = family === 4 ? VXLAN_DEVICE : VXLAN_V6_DEVICE;
  const mac = nodeMAC(node, family);
  neighbors.push({ family, device, address: tunnel.text, mac, node: node.name });
  fdb.push({ family, device, mac, destination: parent.text, node: node.name });
  return true;
}

// ---------------------------------------------------------------------------------------------
// Ordering and comparison

function warningKey(w: RouteWarning): string {
  return `${w.code}\u0000${w.destination ?? ''}\u0000${w.node ?? ''}\u0000${w.message}`;
}

export function compareWarnings(a: RouteWarning, b: RouteWarning): number {
  const ka = warningKey(a);
  const kb = warningKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Sorts warnings in place in {@link compareWarnings} order, building each sort key once. */
export function sortWarnings(warnings: RouteWarning[]): RouteWarning[] {
  if (warnings.length < 2) return warnings;
  const keyed = warnings.map(keyedWarning);
  keyed.sort(compareKeyed);
  for (let i = 0; i < keyed.length; i++) warnings[i] = keyed[i]!.warning;
  return warnings;
}

function keyedWarning(warning: RouteWarning): { key: string; warning: RouteWarning } {
  return { key: warningKey(warning), warning };
}

function compareKeyed(a: { key: string }, b: { key: string }): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
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

