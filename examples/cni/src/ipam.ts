/**
 * `calico-ipam` (reference cni.md §8.2, §11): allocation with Calico's handle ids and attributes,
 * specific-address requests, release by handle (plus the legacy handle), and GC of allocations
 * whose attachments the runtime no longer knows. Used by the `calico-ipam` binary and in-process
 * by `calico` when the configured IPAM is `calico-ipam`.
 */
import { isIP } from 'node:net';
import { ResourceNotFoundError, type V3Object } from '@libcalico-ts/api';
import type { Datastore } from '@libcalico-ts/datastore';
import { createIPAM, partialFulfillmentError, type IPAM, type NamespaceInfo } from '@libcalico-ts/ipam';
import { CniCode, CniError, type CniResult } from './cni.js';
import type { CalicoNetConf } from './netconf.js';

/** Who an allocation is for. */
export interface IpamOwner {
  nodename: string;
  containerId: string;
  /** Set for Kubernetes pods. */
  pod?: string;
  namespace?: string;
}

/** Calico's handle id: `<network name>.<container id>` (§4.4). */
export function handleIdOf(networkName: string, containerId: string): string {
  return `${networkName}.${containerId}`;
}

/** Go's `time.Now().UTC().String()` form Calico stores as the `timestamp` attribute. */
export function goTimestamp(now = new Date(), nanos = process.hrtime.bigint() % 1_000_000n): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const frac = `${pad(now.getUTCMilliseconds(), 3)}${String(nanos).padStart(6, '0')}`.replace(/0+$/, '');
  return (
    `${now.getUTCFullYear()}-${pad(now.getUTCMonth() + 1)}-${pad(now.getUTCDate())} ` +
    `${pad(now.getUTCHours())}:${pad(now.getUTCMinutes())}:${pad(now.getUTCSeconds())}${frac ? `.${frac}` : ''} +0000 UTC`
  );
}

function attrsOf(owner: IpamOwner): Record<string, string> {
  const attrs: Record<string, string> = { node: owner.nodename, timestamp: goTimestamp() };
  if (owner.pod !== undefined && owner.namespace !== undefined) {
    attrs.pod = owner.pod;
    attrs.namespace = owner.namespace;
  }
  return attrs;
}

/** Wraps an SDK failure as Calico reports it (code 999). */
export function calicoFailure(prefix: string, error: unknown): CniError {
  if (error instanceof CniError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new CniError(CniCode.Calico, prefix ? `${prefix}: ${message}` : message);
}

/** Resolves `ipv4_pools`/`ipv6_pools` entries (names or CIDRs) to CIDRs (§6.1). */
export async function resolvePools(datastore: Datastore, entries: string[], family: 4 | 6): Promise<string[] | undefined> {
  if (entries.length === 0) return undefined;
  let pools: V3Object[] | undefined;
  const out: string[] = [];
  for (const entry of entries) {
    let cidr: string | undefined;
    const slash = entry.indexOf('/');
    if (slash > 0 && isIP(entry.slice(0, slash)) !== 0 && /^\d{1,3}$/.test(entry.slice(slash + 1))) cidr = entry;
    else {
      pools ??= (await datastore.listKV({ type: 'resource', kind: 'IPPool' })).items.map((i) => i.value as V3Object);
      const pool = pools.find((p) => p.metadata.name === entry);
      if (!pool) throw new CniError(CniCode.Calico, `error parsing pool "${entry}": not a CIDR and no IPPool has that name`);
      cidr = String((pool.spec as { cidr?: string }).cidr);
    }
    const ip = cidr.slice(0, cidr.indexOf('/'));
    if (isIP(ip) !== family) throw new CniError(CniCode.Calico, `"${ip}" isn't a IPv${family} address`);
    out.push(cidr);
  }
  return out;
}

/** Options of {@link ipamAdd}. */
export interface IpamAddOptions {
  /** A specific address (`IP=` in CNI_ARGS, or one `ipAddrs` entry). */
  ip?: string;
  /** Labels of the pod's namespace, for pools' namespaceSelector. */
  namespace?: NamespaceInfo;
  /** Overrides of the NetConf pool / family settings (annotations, §6.1). */
  assignIpv4?: string;
  assignIpv6?: string;
  ipv4Pools?: string[];
  ipv6Pools?: string[];
}

/**
 * Allocates for one attachment. Auto-assigned addresses carry the block prefix and one route each
 * (v3.32+ shape); a specific address is returned as `/32` (`/128`) without routes. A family
 * that falls short fails the whole request, releasing what the other family obtained.
 * @throws CniError 999 with Calico's messages.
 */
export async function ipamAdd(datastore: Datastore, conf: CalicoNetConf, owner: IpamOwner, options: IpamAddOptions = {}): Promise<CniResult> {
  const ipam = createIPAM(datastore, { hostname: owner.nodename });
  const handleId = handleIdOf(conf.name, owner.containerId);
  if (options.ip !== undefined) {
    const family = isIP(options.ip);
    if (family === 0) throw new CniError(CniCode.Calico, `invalid IP format: ${options.ip}`);
    try {
      await ipam.assignIP({ ip: options.ip, handleId, attrs: attrsOf(owner), hostname: owner.nodename, intendedUse: 'Workload' });
    } catch (error) {
      throw calicoFailure('', error);
    }
    return { ips: [{ address: `${options.ip}/${family === 4 ? 32 : 128}` }] };
  }
  const num4 = (options.assignIpv4 ?? conf.ipam.assignIpv4) === 'false' ? 0 : 1;
  const num6 = (options.assignIpv6 ?? conf.ipam.assignIpv6) === 'true' ? 1 : 0;
  const ipv4Pools = await resolvePools(datastore, options.ipv4Pools ?? conf.ipam.ipv4Pools, 4);
  const ipv6Pools = await resolvePools(datastore, options.ipv6Pools ?? conf.ipam.ipv6Pools, 6);
  let ipv4: string[] = [];
  let ipv6: string[] = [];
  try {
    const result = await ipam.autoAssign({
      num4,
      num6,
      handleId,
      attrs: attrsOf(owner),
      hostname: owner.nodename,
      intendedUse: 'Workload',
      ...(ipv4Pools ? { ipv4Pools } : {}),
      ...(ipv6Pools ? { ipv6Pools } : {}),
      ...(options.namespace ? { namespace: options.namespace } : {}),
    });
    ipv4 = result.ipv4?.ips ?? [];
    ipv6 = result.ipv6?.ips ?? [];
    const short4 = num4 > 0 ? partialFulfillmentError(result.ipv4) : undefined;
    const short6 = num6 > 0 ? partialFulfillmentError(result.ipv6) : undefined;
    if (short4 || short6) {
      await releaseQuietly(ipam, handleId);
      throw new CniError(CniCode.Calico, short4 ? `failed to request IPv4 addresses: ${short4.message}` : `failed to request IPv6 addresses: ${short6!.message}`);
    }
  } catch (error) {
    if (error instanceof CniError) throw error;
    await releaseQuietly(ipam, handleId);
    const family = ipv4.length === 0 && num4 > 0 ? 'IPv4' : 'IPv6';
    throw calicoFailure(`failed to request ${family} addresses`, error);
  }
  const addresses = [...ipv4, ...ipv6];
  if (addresses.length === 0) throw new CniError(CniCode.Calico, 'IPAM plugin returned no IP addresses in result');
  return { ips: addresses.map((address) => ({ address })), routes: addresses.map((dst) => ({ dst })) };
}

async function releaseQuietly(ipam: IPAM, handleId: string): Promise<void> {
  try {
    await ipam.releaseByHandle(handleId);
  } catch {
    // Best effort: the caller reports the original failure.
  }
}

/** The handles DEL releases: Calico's `<network>.<container id>` and the legacy workload handle (§4.4). */
export function ipamHandles(conf: CalicoNetConf, owner: IpamOwner): string[] {
  const legacy = owner.pod !== undefined && owner.namespace !== undefined ? `${owner.namespace}.${owner.pod}` : owner.containerId;
  return [handleIdOf(conf.name, owner.containerId), legacy];
}

/**
 * Releases an attachment's addresses: its handle, then the legacy workload handle (§8.2).
 * A handle that does not exist is not an error (DEL is idempotent).
 */
export async function ipamDel(datastore: Datastore, conf: CalicoNetConf, owner: IpamOwner): Promise<void> {
  const ipam = createIPAM(datastore, { hostname: owner.nodename });
  const outcomes = await Promise.allSettled(ipamHandles(conf, owner).map((handle) => ipam.releaseByHandle(handle)));
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected' && !ResourceNotFoundError.isInstance(outcome.reason)) throw calicoFailure('failed to release addresses', outcome.reason);
  }
}

/** Addresses held by an attachment's handle (for CHECK). */
export async function ipamAddresses(datastore: Datastore, conf: CalicoNetConf, owner: IpamOwner): Promise<string[]> {
  return createIPAM(datastore, { hostname: owner.nodename }).ipsByHandle(handleIdOf(conf.name, owner.containerId));
}

/**
 * GC (spec 1.1.0): releases the handles of this network on this node whose container id is not
 * among `valid`. Returns the released container ids. Only allocations whose `node` attribute is
 * this node are touched, so one node's runtime never frees another node's addresses.
 */
export async function ipamGc(datastore: Datastore, conf: CalicoNetConf, nodename: string, valid: Set<string>): Promise<string[]> {
  const ipam = createIPAM(datastore, { hostname: nodename });
  const prefix = `${conf.name}.`;
  const released: string[] = [];
  const handles = await datastore.listKV({ type: 'handle' });
  for (const item of handles.items) {
    const handleId = item.key.handleId;
    if (!handleId.startsWith(prefix)) continue;
    const containerId = handleId.slice(prefix.length);
    if (valid.has(containerId)) continue;
    const ips = await ipam.ipsByHandle(handleId);
    let ours = ips.length > 0;
    for (const ip of ips) {
      const attrs = await ipam.getAssignmentAttributes(ip.slice(0, ip.indexOf('/') > 0 ? ip.indexOf('/') : undefined));
      if (attrs.attrs.node !== nodename) ours = false;
    }
    if (!ours) continue;
    try {
      await ipam.releaseByHandle(handleId);
      released.push(containerId);
    } catch (error) {
      if (!ResourceNotFoundError.isInstance(error)) throw calicoFailure('GC failed to release addresses', error);
    }
  }
  return released;
}

