/**
 * Felix's tunnel devices: `vxlan.calico` (reference §8.3) with its ARP/FDB entries (§5.2), and
 * `tunl0` (§8.2) where the kernel has ipip.
 */
import { KernelNotSupportedError } from './errors.js';
import { CalicoDevice } from './naming.js';
import type { LinkInfo, NetlinkOps } from './types.js';
import { invalid, parseIP, parseMac, validateInterfaceName, validateMtu } from './validate.js';

/** Options of {@link ensureVxlanDevice}. */
export interface EnsureVxlanOptions {
  /** Device name (default `vxlan.calico`). */
  name?: string;
  /** VNI (default 4096). */
  vni?: number;
  /** UDP port (default 4789). */
  port?: number;
  /** Underlay (parent) interface, e.g. `eth0`. */
  parent: string;
  /** Local node address on the parent (the VTEP's underlay IP). */
  local: string;
  /** VTEP MAC (use {@link vtepMac}). */
  mac: string;
  /** VXLAN MTU (default 1450). */
  mtu?: number;
  /** The node's VXLAN tunnel address: becomes the device's only address of its family, as `/32` (`/128`). */
  tunnelAddress?: string;
}

/**
 * Creates or repairs the VXLAN device the way Felix does: VNI, port, parent, local address and MAC
 * must match (otherwise the device is deleted and recreated), learning off, MTU set, the tunnel
 * address as the only address of its family, and up. Idempotent.
 */
export async function ensureVxlanDevice(ops: NetlinkOps, options: EnsureVxlanOptions): Promise<LinkInfo> {
  const name = validateInterfaceName(options.name ?? CalicoDevice.vxlan);
  const vni = options.vni ?? 4096;
  const port = options.port ?? 4789;
  const mtu = validateMtu(options.mtu ?? 1450);
  validateInterfaceName(options.parent, 'parent');
  const local = parseIP(options.local, 'local');
  const mac = parseMac(options.mac, 'mac');
  const macText = [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
  const tunnel = options.tunnelAddress !== undefined ? parseIP(options.tunnelAddress, 'tunnelAddress') : undefined;
  const parent = await ops.getLink(options.parent);
  let link = await ops.findLink(name);
  const matches =
    link !== null &&
    link.kind === 'vxlan' &&
    link.vxlan !== undefined &&
    link.vxlan.vni === vni &&
    link.vxlan.port === port &&
    link.vxlan.local === local.text &&
    link.vxlan.parentIndex === parent.index &&
    !link.vxlan.learning &&
    link.mac === macText;
  if (link && !matches) {
    await ops.deleteLink(name, { ignoreMissing: true });
    link = null;
  }
  if (!link) link = await ops.createVxlan({ name, vni, port, local: local.text, parent: options.parent, learning: false, mtu, mac: macText });
  if (link.mtu !== mtu) await ops.setLinkMtu(name, mtu);
  if (tunnel) await ensureOnlyAddress(ops, name, tunnel.text, tunnel.family);
  await ops.setLinkUp(name);
  return ops.getLink(name);
}

/** Makes `address/32` (`/128`) the only address of its family on `link`. */
export async function ensureOnlyAddress(ops: NetlinkOps, link: string, address: string, family: 4 | 6): Promise<void> {
  const want = `${address}/${family === 4 ? 32 : 128}`;
  const current = await ops.listAddresses({ link, family });
  for (const a of current) if (a.cidr !== want && !(family === 6 && a.address.startsWith('fe80:'))) await ops.deleteAddress(link, a.cidr, { ignoreMissing: true });
  if (!current.some((a) => a.cidr === want)) await ops.addAddress(link, want, { noDad: family === 6 });
}

/**
 * Whether this namespace's kernel can create ipip devices. Detected, not assumed: true when `tunl0`
 * exists or a probe device can be created (it is deleted again).
 */
export async function kernelSupportsIpip(ops: NetlinkOps): Promise<boolean> {
  if ((await ops.findLink(CalicoDevice.ipip))?.kind === 'ipip') return true;
  const probe = `lctsipip${process.pid % 100000}`;
  try {
    await ops.createIpip({ name: probe });
    await ops.deleteLink(probe, { ignoreMissing: true });
    return true;
  } catch (error) {
    if (KernelNotSupportedError.isInstance(error)) return false;
    throw error;
  }
}

/**
 * Sets up `tunl0` as Felix does: exists (creating an ipip device loads the module, which creates
 * `tunl0`), MTU, the IPIP tunnel address as the only IPv4 address (`/32`), up.
 * @throws KernelNotSupportedError when the kernel has no ipip.
 */
export async function ensureTunl0(ops: NetlinkOps, options: { mtu?: number; address?: string } = {}): Promise<LinkInfo> {
  const mtu = validateMtu(options.mtu ?? 1480);
  const address = options.address !== undefined ? parseIP(options.address, 'address') : undefined;
  if (address && address.family !== 4) invalid('address', options.address, 'the IPIP tunnel address is IPv4');
  let link = await ops.findLink(CalicoDevice.ipip);
  if (!link) {
    try {
      link = await ops.createIpip({ name: CalicoDevice.ipip });
    } catch (error) {
      // Loading the module may already have created tunl0.
      link = await ops.findLink(CalicoDevice.ipip);
      if (!link) throw error;
    }
  }
  if (link.mtu !== mtu) await ops.setLinkMtu(CalicoDevice.ipip, mtu);
  if (address) await ensureOnlyAddress(ops, CalicoDevice.ipip, address.text, 4);
  await ops.setLinkUp(CalicoDevice.ipip);
  return ops.getLink(CalicoDevice.ipip);
}

/** A remote VTEP (reference §5.1). */
export interface RemoteVtep {
  /** Remote VXLAN tunnel address (ARP key, route gateway). */
  tunnelAddress: string;
  /** Remote VTEP MAC. */
  mac: string;
  /** Remote node (underlay) address (FDB destination). */
  nodeAddress: string;
}

/**
 * Programs the ARP and FDB entries for every remote VTEP on the VXLAN device and removes stale
 * permanent ones (reference §5.2). Returns what changed.
 */
export async function syncVxlanNeighbours(ops: NetlinkOps, vteps: readonly RemoteVtep[], options: { device?: string } = {}): Promise<{ added: number; removed: number }> {
  const link = validateInterfaceName(options.device ?? CalicoDevice.vxlan, 'device');
  const want = vteps.map((v, i) => ({
    ip: parseIP(v.tunnelAddress, `vteps[${i}].tunnelAddress`).text,
    mac: [...parseMac(v.mac, `vteps[${i}].mac`)].map((b) => b.toString(16).padStart(2, '0')).join(':'),
    node: parseIP(v.nodeAddress, `vteps[${i}].nodeAddress`).text,
  }));
  const neighbours = await ops.listNeighbours({ link });
  const fdb = await ops.listFdb({ link });
  let added = 0;
  let removed = 0;
  for (const w of want) {
    if (!neighbours.some((n) => n.address === w.ip && n.mac === w.mac && n.state.includes('permanent'))) {
      await ops.replaceNeighbour({ link, address: w.ip, mac: w.mac });
      added++;
    }
    if (!fdb.some((f) => f.mac === w.mac && f.dst === w.node && f.permanent)) {
      await ops.replaceFdb({ link, mac: w.mac, dst: w.node });
      added++;
    }
  }
  for (const n of neighbours) {
    if (n.state.includes('permanent') && !want.some((w) => w.ip === n.address && w.mac === n.mac)) {
      await ops.deleteNeighbour({ link, address: n.address }, { ignoreMissing: true });
      removed++;
    }
  }
  for (const f of fdb) {
    if (f.permanent && f.self && f.dst !== undefined && !want.some((w) => w.mac === f.mac && w.node === f.dst)) {
      await ops.deleteFdb({ link, mac: f.mac, dst: f.dst }, { ignoreMissing: true });
      removed++;
    }
  }
  return { added, removed };
}
