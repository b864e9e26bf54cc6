/**
 * The node's tunnel addresses (calico-node `allocateip`, reference §7): for VXLAN and IPIP, pick
 * the eligible pools, keep a valid existing address, otherwise release by handle and auto-assign
 * one address with upstream's handle id and attributes, and write it to the Node resource.
 */
import { ResourceNotFoundError, UpdateConflictError, type IPPool, type Node } from '@libcalico-ts/api';
import type { Client } from '@libcalico-ts/client';
import { parseSelector } from '@libcalico-ts/selector';

/** The tunnel kinds this agent allocates. */
export type TunnelKind = 'vxlan' | 'ipip';

/** Upstream's handle id, `type` attribute and Node field per tunnel kind. */
export const TUNNEL_KINDS: Readonly<Record<TunnelKind, { handle: (node: string) => string; type: string; field: string }>> = {
  vxlan: { handle: (node) => `vxlan-tunnel-addr-${node}`, type: 'vxlanTunnelAddress', field: 'spec.ipv4VXLANTunnelAddr' },
  ipip: { handle: (node) => `ipip-tunnel-addr-${node}`, type: 'ipipTunnelAddress', field: 'spec.bgp.ipv4IPIPTunnelAddr' },
};

/** What {@link reconcileTunnelAddress} did. */
export interface TunnelResult {
  kind: TunnelKind;
  action: 'kept' | 'assigned' | 'released' | 'none';
  address?: string;
  previous?: string;
}

function ipv4Network(cidr: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) return undefined;
  const base = ((+m[1]! << 24) | (+m[2]! << 16) | (+m[3]! << 8) | +m[4]!) >>> 0;
  const prefix = +m[5]!;
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return [(base & mask) >>> 0, mask];
}

function ipv4ToInt(address: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (!m) return undefined;
  return ((+m[1]! << 24) | (+m[2]! << 16) | (+m[3]! << 8) | +m[4]!) >>> 0;
}

/** Whether IPv4 `address` lies in `cidr`. */
export function ipv4InCidr(address: string, cidr: string): boolean {
  const net = ipv4Network(cidr);
  const ip = ipv4ToInt(address);
  return net !== undefined && ip !== undefined && ((ip & net[1]) >>> 0) === net[0];
}

/** Whether a node's labels satisfy a pool's node selector (empty = all). An unparsable selector selects nothing. */
function selectsNode(pool: IPPool, node: Node): boolean {
  const text = pool.spec.nodeSelector?.trim();
  if (!text || text === 'all()') return true;
  try {
    return parseSelector(text).matches(node.metadata.labels ?? {});
  } catch {
    return false;
  }
}

/** IPv4 pools that may give `node` a tunnel address of `kind` (reference §7.1 step 1). */
export function eligibleTunnelPools(kind: TunnelKind, pools: readonly IPPool[], node: Node): IPPool[] {
  return pools.filter((pool) => {
    const spec = pool.spec;
    if (!spec.cidr || spec.cidr.includes(':')) return false;
    if (spec.disabled) return false;
    if (pool.metadata.deletionTimestamp) return false;
    const uses = spec.allowedUses ?? [];
    if (uses.length > 0 && !uses.includes('Tunnel')) return false;
    const mode = kind === 'vxlan' ? spec.vxlanMode : spec.ipipMode;
    if (mode !== 'Always' && mode !== 'CrossSubnet') return false;
    return selectsNode(pool, node);
  });
}

function currentAddress(kind: TunnelKind, node: Node): string | undefined {
  return kind === 'vxlan' ? node.spec.ipv4VXLANTunnelAddr : node.spec.bgp?.ipv4IPIPTunnelAddr;
}

function withAddress(kind: TunnelKind, node: Node, address: string | undefined): Node {
  const next: Node = { ...node, spec: { ...node.spec } };
  if (kind === 'vxlan') {
    if (address === undefined) delete next.spec.ipv4VXLANTunnelAddr;
    else next.spec.ipv4VXLANTunnelAddr = address;
  } else {
    const bgp = { ...(node.spec.bgp ?? {}) };
    if (address === undefined) delete bgp.ipv4IPIPTunnelAddr;
    else bgp.ipv4IPIPTunnelAddr = address;
    if (Object.keys(bgp).length === 0) delete next.spec.bgp;
    else next.spec.bgp = bgp;
  }
  return next;
}

async function releaseHandle(client: Client, handle: string): Promise<void> {
  try {
    await client.ipam.releaseByHandle(handle);
  } catch (error) {
    if (!ResourceNotFoundError.isInstance(error)) throw error;
  }
}

/** Writes the address (or its absence) to the Node, re-reading it on conflicts. */
async function writeNodeAddress(client: Client, nodeName: string, kind: TunnelKind, address: string | undefined): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const node = await client.nodes.get(nodeName);
    if (currentAddress(kind, node) === address) return;
    try {
      await client.nodes.update(withAddress(kind, node, address));
      return;
    } catch (error) {
      if (!UpdateConflictError.isInstance(error) || attempt >= 9) throw error;
    }
  }
}

/**
 * Makes the node's `kind` tunnel address valid (reference §7.1): eligible pools -> keep a valid
 * address, or release by handle and assign one; no eligible pool -> clear the field and release.
 * Reads the Node fresh from the datastore, so it is safe to call repeatedly.
 *
 * @throws ResourceNotFoundError when the Node does not exist; IPAM errors (e.g. no free block) as
 *   the engine throws them.
 */
export async function reconcileTunnelAddress(client: Client, nodeName: string, kind: TunnelKind, pools: readonly IPPool[]): Promise<TunnelResult> {
  const spec = TUNNEL_KINDS[kind];
  const handle = spec.handle(nodeName);
  const node = await client.nodes.get(nodeName);
  const eligible = eligibleTunnelPools(kind, pools, node);
  const current = currentAddress(kind, node);
  if (eligible.length === 0) {
    if (current === undefined) return { kind, action: 'none' };
    await writeNodeAddress(client, nodeName, kind, undefined);
    await releaseHandle(client, handle);
    return { kind, action: 'released', previous: current };
  }
  if (current !== undefined) {
    let valid = false;
    try {
      const attrs = await client.ipam.getAssignmentAttributes(current);
      valid =
        attrs.handleId === handle &&
        attrs.attrs.type === spec.type &&
        attrs.attrs.node === nodeName &&
        eligible.some((pool) => ipv4InCidr(current, pool.spec.cidr));
    } catch (error) {
      // Not allocated (or in no pool any more): re-assign below.
      if (!ResourceNotFoundError.isInstance(error)) throw error;
    }
    if (valid) return { kind, action: 'kept', address: current };
  }
  await releaseHandle(client, handle);
  const result = await client.ipam.autoAssign({
    num4: 1,
    handleId: handle,
    attrs: { node: nodeName, type: spec.type },
    hostname: nodeName,
    ipv4Pools: eligible.map((pool) => pool.spec.cidr),
    intendedUse: 'Tunnel',
  });
  const assigned = result.ipv4?.ips[0];
  if (!assigned) {
    const why = result.ipv4?.msgs.join('; ') || 'no address available';
    throw new ResourceNotFoundError(`${kind} tunnel address for ${nodeName}`, { message: `could not assign a ${kind} tunnel address to ${nodeName}: ${why}` });
  }
  const address = assigned.split('/')[0]!;
  try {
    await writeNodeAddress(client, nodeName, kind, address);
  } catch (error) {
    // Do not leak the address when the Node cannot be written.
    await releaseHandle(client, handle).catch(() => undefined);
    throw error;
  }
  return { kind, action: 'assigned', address, ...(current !== undefined ? { previous: current } : {}) };
}
