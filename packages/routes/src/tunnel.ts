/**
 * Node tunnel addresses (calico-node's `allocateip`): which address each tunnel device of a node
 * gets and from where, allocated through an IPAM engine.
 *
 * Dependency choice: this package does not import `@libcalico-ts/ipam` (routes is a pure leaf over
 * api/net). The functions take any object with the four IPAM methods they use
 * ({@link TunnelIPAM}); `createIPAM(datastore)` and `client.ipam` fit it as they are.
 */
import { CalicoError, ResourceNotFoundError, ValidationError, type IPPool, type Node } from '@libcalico-ts/api';
import { type Net, addressAt, netContainsAddr, parseAddr, parseNet } from './internal/addr.js';
import { vtepMAC } from './vtep.js';

/** The `type` attribute Calico stores on each tunnel allocation. */
export const TunnelAddressType = {
  IPIP: 'ipipTunnelAddress',
  VXLAN: 'vxlanTunnelAddress',
  VXLANV6: 'vxlanV6TunnelAddress',
  WireGuard: 'wireguardTunnelAddress',
  WireGuardV6: 'wireguardV6TunnelAddress',
} as const;
export type TunnelAddressType = (typeof TunnelAddressType)[keyof typeof TunnelAddressType];

interface TypeInfo {
  family: 4 | 6;
  handlePrefix: string;
  field: string;
}

const TYPES: Readonly<Record<TunnelAddressType, TypeInfo>> = {
  wireguardTunnelAddress: { family: 4, handlePrefix: 'wireguard-tunnel-addr-', field: 'spec.wireguard.interfaceIPv4Address' },
  wireguardV6TunnelAddress: { family: 6, handlePrefix: 'wireguard-v6-tunnel-addr-', field: 'spec.wireguard.interfaceIPv6Address' },
  ipipTunnelAddress: { family: 4, handlePrefix: 'ipip-tunnel-addr-', field: 'spec.bgp.ipv4IPIPTunnelAddr' },
  vxlanTunnelAddress: { family: 4, handlePrefix: 'vxlan-tunnel-addr-', field: 'spec.ipv4VXLANTunnelAddr' },
  vxlanV6TunnelAddress: { family: 6, handlePrefix: 'vxlan-v6-tunnel-addr-', field: 'spec.ipv6VXLANTunnelAddr' },
};

/** Upstream's processing order. */
const ORDER: readonly TunnelAddressType[] = ['wireguardTunnelAddress', 'wireguardV6TunnelAddress', 'ipipTunnelAddress', 'vxlanTunnelAddress', 'vxlanV6TunnelAddress'];

/** The IPAM handle id Calico uses for a node's tunnel address of `type`, e.g. `ipip-tunnel-addr-node-a`. */
export function tunnelHandleId(type: TunnelAddressType, nodeName: string): string {
  const info = TYPES[type];
  if (!info) throw new ValidationError([{ name: 'type', value: type, reason: 'unknown tunnel address type' }]);
  if (typeof nodeName !== 'string' || nodeName === '') throw new ValidationError([{ name: 'nodeName', value: nodeName, reason: 'must be a non-empty node name' }]);
  return `${info.handlePrefix}${nodeName}`;
}

/**
 * The IPAM methods tunnel allocation uses: a structural subset of `@libcalico-ts/ipam`'s `IPAM`.
 * Failure modes are the engine's: `getAssignmentAttributes` throws `ResourceNotFoundError` for an
 * unallocated address; `releaseByHandle` of an unknown handle is a no-op or `ResourceNotFoundError`.
 */
export interface TunnelIPAM {
  autoAssign(args: {
    num4?: number;
    num6?: number;
    handleId?: string;
    attrs?: Record<string, string>;
    hostname?: string;
    ipv4Pools?: string[];
    ipv6Pools?: string[];
    intendedUse: 'Tunnel';
  }): Promise<{ ipv4: { ips: string[]; msgs?: string[] } | null; ipv6: { ips: string[]; msgs?: string[] } | null }>;
  assignIP(args: { ip: string; handleId?: string; attrs?: Record<string, string>; hostname?: string; intendedUse?: 'Tunnel' }): Promise<void>;
  getAssignmentAttributes(ip: string): Promise<{ handleId: string | null; attrs: Record<string, string> }>;
  releaseByHandle(handleId: string): Promise<void>;
  releaseIPs(items: { address: string }[]): Promise<unknown>;
}

/** Options of {@link ensureTunnelAddresses} / {@link tunnelAddressPlan}. */
export interface TunnelAddressOptions {
  /**
   * Whether a pool's `nodeSelector` selects the node. Default: only `all()` / empty selectors
   * are understood (routes does not depend on the selector package); any other selector needs
   * this hook, e.g. `(selector, labels) => parseSelector(selector).matches(labels)` from
   * `@libcalico-ts/selector`. Without it such a pool is a `ValidationError`.
   */
  selectsNode?: (selector: string, labels: Readonly<Record<string, string>>) => boolean;
  /** Which types to manage (default all five; WireGuard only when the node has a public key). */
  types?: readonly TunnelAddressType[];
}

/** The plan for one tunnel type: eligible pool CIDRs (empty: the node must have no such address). */
export interface TunnelTypePlan {
  type: TunnelAddressType;
  handleId: string;
  /** Node field holding the address (dotted path). */
  field: string;
  family: 4 | 6;
  pools: string[];
}

/** What {@link ensureTunnelAddresses} did for one type. */
export interface TunnelAddressResult extends TunnelTypePlan {
  /** `kept`: valid address unchanged; `assigned`: a new address where there was none; `reassigned`: replaced; `released`: removed; `none`: nothing to do. */
  action: 'kept' | 'assigned' | 'reassigned' | 'released' | 'none';
  address?: string;
  previous?: string;
  /** For VXLAN types: the VTEP MAC Felix will use (node override, else derived). */
  vtepMAC?: string;
}

/** Result of {@link ensureTunnelAddresses}: the updated node (a copy; persist it yourself) and per-type results. */
export interface EnsureTunnelAddressesResult {
  node: Node;
  changed: boolean;
  results: TunnelAddressResult[];
}

function getField(node: Node, type: TunnelAddressType): string | undefined {
  const spec = node.spec ?? {};
  switch (type) {
    case 'ipipTunnelAddress':
      return spec.bgp?.ipv4IPIPTunnelAddr || undefined;
    case 'vxlanTunnelAddress':
      return spec.ipv4VXLANTunnelAddr || undefined;
    case 'vxlanV6TunnelAddress':
      return spec.ipv6VXLANTunnelAddr || undefined;
    case 'wireguardTunnelAddress':
      return spec.wireguard?.interfaceIPv4Address || undefined;
    case 'wireguardV6TunnelAddress':
      return spec.wireguard?.interfaceIPv6Address || undefined;
  }
}

function setField(node: Node, type: TunnelAddressType, value: string | undefined): void {
  const spec = (node.spec ??= {});
  switch (type) {
    case 'ipipTunnelAddress': {
      const bgp = { ...(spec.bgp ?? {}) };
      if (value) bgp.ipv4IPIPTunnelAddr = value;
      else delete bgp.ipv4IPIPTunnelAddr;
      if (Object.keys(bgp).length > 0) spec.bgp = bgp;
      else delete spec.bgp; // a present spec.bgp must not be empty
      return;
    }
    case 'vxlanTunnelAddress':
      if (value) spec.ipv4VXLANTunnelAddr = value;
      else delete spec.ipv4VXLANTunnelAddr;
      return;
    case 'vxlanV6TunnelAddress':
      if (value) spec.ipv6VXLANTunnelAddr = value;
      else delete spec.ipv6VXLANTunnelAddr;
      return;
    case 'wireguardTunnelAddress':
    case 'wireguardV6TunnelAddress': {
      const wg = { ...(spec.wireguard ?? {}) };
      const key = type === 'wireguardTunnelAddress' ? 'interfaceIPv4Address' : 'interfaceIPv6Address';
      if (value) wg[key] = value;
      else delete wg[key];
      if (Object.keys(wg).length > 0) spec.wireguard = wg;
      else delete spec.wireguard;
      return;
    }
  }
}

function selects(pool: IPPool, node: Node, options: TunnelAddressOptions, index: number): boolean {
  const selector = (pool.spec.nodeSelector ?? '').trim();
  if (selector === '' || selector === 'all()') return true;
  if (!options.selectsNode) {
    throw new ValidationError([
      { name: `pools[${index}].spec.nodeSelector`, value: selector, reason: 'a selector other than all() needs options.selectsNode (e.g. parseSelector(s).matches(labels) from @libcalico-ts/selector)' },
    ]);
  }
  return options.selectsNode(selector, { ...(node.metadata.labels ?? {}) });
}

/**
 * Which tunnel addresses `node` should have and the pools each may come from (reference §7.1
 * step 1): pools allowing `Tunnel` use, selecting the node, not disabled and not being deleted;
 * IPIP needs an IPv4 pool with `ipipMode` Always/CrossSubnet, VXLAN an IPv4 (VXLAN v6: IPv6)
 * pool with `vxlanMode` Always/CrossSubnet, WireGuard any such pool of the family and a node
 * WireGuard public key. Pure.
 * @throws {ValidationError} for a malformed node/pool or a selector that cannot be evaluated.
 */
export function tunnelAddressPlan(node: Node, pools: readonly IPPool[], options: TunnelAddressOptions = {}): TunnelTypePlan[] {
  const name = node?.metadata?.name;
  if (typeof name !== 'string' || name === '') throw new ValidationError([{ name: 'node.metadata.name', value: name, reason: 'a Node needs a name' }]);
  if (!Array.isArray(pools)) throw new ValidationError([{ name: 'pools', value: pools, reason: 'must be an array of IPPool' }]);
  const parsed: { pool: IPPool; net: Net; index: number }[] = [];
  const problems: { name: string; value: unknown; reason: string }[] = [];
  pools.forEach((pool, index) => {
    try {
      parsed.push({ pool, net: parseNet(pool.spec.cidr), index });
    } catch (error) {
      problems.push({ name: `pools[${index}].spec.cidr`, value: pool?.spec?.cidr, reason: error instanceof Error ? error.message : String(error) });
    }
  });
  if (problems.length > 0) throw new ValidationError(problems);
  const types = options.types ?? ORDER;
  const out: TunnelTypePlan[] = [];
  for (const type of ORDER) {
    if (!types.includes(type)) continue;
    const info = TYPES[type];
    const wgKey = info.family === 4 ? node.status?.wireguardPublicKey : node.status?.wireguardPublicKeyV6;
    const candidates = parsed.filter(({ pool, net, index }) => {
      const spec = pool.spec;
      if (net.family !== info.family) return false;
      if (spec.disabled === true || pool.metadata.deletionTimestamp) return false;
      const uses = spec.allowedUses;
      if (Array.isArray(uses) && uses.length > 0 && !uses.includes('Tunnel')) return false;
      const on = (mode: string | undefined) => mode === 'Always' || mode === 'CrossSubnet';
      switch (type) {
        case 'ipipTunnelAddress':
          if (!on(spec.ipipMode)) return false;
          break;
        case 'vxlanTunnelAddress':
        case 'vxlanV6TunnelAddress':
          if (!on(spec.vxlanMode)) return false;
          break;
        default:
          if (!wgKey) return false;
      }
      return selects(pool, node, options, index);
    });
    out.push({ type, handleId: tunnelHandleId(type, name), field: info.field, family: info.family, pools: candidates.map((c) => c.net.key) });
  }
  return out;
}

function isNotFound(error: unknown): boolean {
  return ResourceNotFoundError.isInstance(error);
}

async function releaseHandle(ipam: TunnelIPAM, handleId: string): Promise<void> {
  try {
    await ipam.releaseByHandle(handleId);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/**
 * Makes `node`'s tunnel addresses match the pools, through IPAM, as calico-node does at start-up
 * and on pool/node changes (reference §7): for each type, no eligible pool → release by handle and
 * clear the node field; a valid existing address (allocated with attributes `type`/`node` of this
 * node, in an eligible pool) is kept; one in a now-ineligible pool, or not allocated, is
 * released by handle and re-assigned; one owned by something else is left alone and a new one
 * assigned; a legacy allocation without handle/attributes is re-claimed with them. New addresses
 * come from `autoAssign` (one address, `intendedUse: 'Tunnel'`, handle `<kind>-tunnel-addr-<node>`,
 * attributes `{node, type}`, the eligible pools passed explicitly), so on a fresh node the
 * address is ordinal 0 of the node's first block.
 *
 * Returns the updated node (a deep copy; write it back with your client) — the datastore's
 * IPAM state is already updated.
 *
 * @throws {ValidationError} for malformed input (see {@link tunnelAddressPlan}).
 * @throws {CalicoError} when IPAM returns no address (pools exhausted); addresses handled before
 *   that type stay as they are in IPAM, and the node is not returned — call again after fixing.
 * @example
 * ```ts
 * const ipam = createIPAM(datastore);
 * const { node: updated, results } = await ensureTunnelAddresses(ipam, node, pools);
 * await client.nodes.update(updated);
 * ```
 */
export async function ensureTunnelAddresses(
  ipam: TunnelIPAM,
  node: Node,
  pools: readonly IPPool[],
  options: TunnelAddressOptions = {},
): Promise<EnsureTunnelAddressesResult> {
  if (!ipam || typeof ipam.autoAssign !== 'function' || typeof ipam.getAssignmentAttributes !== 'function' || typeof ipam.releaseByHandle !== 'function') {
    throw new ValidationError([{ name: 'ipam', value: ipam, reason: 'must provide autoAssign, assignIP, getAssignmentAttributes, releaseByHandle and releaseIPs' }]);
  }
  const plan = tunnelAddressPlan(node, pools, options);
  const name = node.metadata.name as string; // checked by tunnelAddressPlan
  const updated: Node = structuredClone(node);
  const results: TunnelAddressResult[] = [];
  let changed = false;
  for (const p of plan) {
    const current = getField(node, p.type);
    const eligible = p.pools.map((c) => parseNet(c));
    const attrs = { node: name, type: p.type };
    const result: TunnelAddressResult = { ...p, action: 'none' };
    if (p.type === 'vxlanTunnelAddress') result.vtepMAC = node.spec?.vxlanTunnelMACAddr || vtepMAC(name);
    if (p.type === 'vxlanV6TunnelAddress') result.vtepMAC = node.spec?.vxlanTunnelMACAddrV6 || vtepMAC(name, { ipv6: true });
    if (eligible.length === 0) {
      // Step 2: no pool for this type — release whatever the handle holds and clear the field.
      await releaseHandle(ipam, p.handleId);
      if (current !== undefined) {
        setField(updated, p.type, undefined);
        changed = true;
        result.action = 'released';
        result.previous = current;
      }
      results.push(result);
      continue;
    }
    let keep = false;
    let releaseFirst = current !== undefined;
    if (current !== undefined) {
      let addr;
      try {
        addr = parseAddr(current);
      } catch (error) {
        throw new ValidationError([{ name: `node.${p.field}`, value: current, reason: error instanceof Error ? error.message : String(error) }]);
      }
      try {
        const owner = await ipam.getAssignmentAttributes(addr.text);
        const ours = owner.attrs?.type === p.type && owner.attrs?.node === name;
        const legacy = owner.handleId === null && Object.keys(owner.attrs ?? {}).length === 0;
        const inEligible = eligible.some((net) => netContainsAddr(net, addr));
        if (ours && inEligible) keep = true;
        else if (legacy && inEligible) {
          // Re-claim the same address with our handle and attributes.
          await ipam.releaseIPs([{ address: addr.text }]);
          await ipam.assignIP({ ip: addr.text, handleId: p.handleId, attrs, hostname: name, intendedUse: 'Tunnel' });
          keep = true;
        } else if (!ours && !legacy) {
          releaseFirst = false; // someone else's address: not ours to release, but our handle may hold a stale one
          await releaseHandle(ipam, p.handleId);
        }
      } catch (error) {
        if (!isNotFound(error)) throw error; // not allocated at all: re-assign
      }
    }
    if (keep) {
      result.action = 'kept';
      result.address = parseAddr(current!).text;
      results.push(result);
      continue;
    }
    if (releaseFirst) await releaseHandle(ipam, p.handleId);
    const assigned = await ipam.autoAssign({
      ...(p.family === 4 ? { num4: 1, ipv4Pools: p.pools } : { num6: 1, ipv6Pools: p.pools }),
      handleId: p.handleId,
      attrs,
      hostname: name,
      intendedUse: 'Tunnel',
    });
    const family = p.family === 4 ? assigned.ipv4 : assigned.ipv6;
    const ip = family?.ips[0];
    if (!ip) {
      throw new CalicoError(
        `failed to allocate a ${p.type} for node ${name} from ${p.pools.join(', ')}${family?.msgs?.length ? `: ${family.msgs.join('; ')}` : ''}`,
        { identifier: { kind: 'Node', name } },
      );
    }
    const address = ip.includes('/') ? ip.slice(0, ip.indexOf('/')) : ip;
    setField(updated, p.type, address);
    changed = true;
    result.action = current === undefined ? 'assigned' : 'reassigned';
    result.address = address;
    if (current !== undefined) result.previous = current;
    results.push(result);
  }
  return { node: updated, changed, results };
}

/**
 * The IPIP (and WireGuard) tunnel address with host-local IPAM (`USE_POD_CIDR=true`): the
 * node's pod CIDR network address plus one (`10.244.1.0/24` → `10.244.1.1`). No allocation.
 * @throws {ValidationError} for a malformed CIDR or one too small to have a second address.
 */
export function hostLocalTunnelAddress(podCIDR: string): string {
  let net: Net;
  try {
    net = parseNet(podCIDR);
  } catch (error) {
    throw new ValidationError([{ name: 'podCIDR', value: podCIDR, reason: error instanceof Error ? error.message : String(error) }]);
  }
  if (net.prefix >= (net.family === 4 ? 32 : 128)) throw new ValidationError([{ name: 'podCIDR', value: podCIDR, reason: 'has no address after the network address' }]);
  return addressAt(net, 1).text;
}
