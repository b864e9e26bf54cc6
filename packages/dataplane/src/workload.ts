/**
 * The CNI plugin's per-pod plumbing (reference cni.md §5.4, routes-and-dataplane.md §9):
 * {@link setupWorkloadInterface} and {@link teardownWorkloadInterface}.
 */
import { ResourceExistsError } from '@libcalico-ts/api';
import { NetlinkClient } from './netlink/client.js';
import { openNetns, type NetnsSession, type OpenNetnsOptions } from './netns-session.js';
import { requireNetns, netnsExists, netnsPath } from './netns.js';
import { CALICO_HOST_MAC, CALICO_IPV6_GATEWAY, type ContainerSideConfig } from './container-side.js';
import { workloadHostSysctls } from './sysctl.js';
import type { NetlinkOps } from './types.js';
import { formatCidr, invalid, parseCidr, parseMac, validateInterfaceName, validateMtu } from './validate.js';

/**
 * What a pod's interface is made of: the fields shared by {@link setupWorkloadInterface} (netlink)
 * and `setupWorkloadInterfaceIproute2` (iproute2).
 */
export interface WorkloadInterfaceSpec {
  /** The pod's namespace (name under /run/netns or a path such as CNI_NETNS). */
  containerNetns: string;
  /** Container-side name (CNI_IFNAME), default `eth0`. */
  containerIfName?: string;
  /** Host-side name, e.g. from {@link workloadInterfaceName}. */
  hostIfName: string;
  /** Pod IPv4 addresses; any prefix is forced to /32 (as Calico does). */
  ipv4?: string[];
  /** Pod IPv6 addresses; forced to /128. */
  ipv6?: string[];
  /** MTU of both ends (default 1500). */
  mtu?: number;
  /** Host-side MAC (default `ee:ee:ee:ee:ee:ee`). */
  hostMac?: string;
  /** Container-side MAC (default: kernel random; Calico's `cni.projectcalico.org/hwAddr`). */
  containerMac?: string;
  /** In-pod IPv4 destinations routed via 169.254.1.1 (default `['0.0.0.0/0']`). */
  routes4?: string[];
  /** In-pod IPv6 destinations routed via the host's link-local address (default `['::/0']`). */
  routes6?: string[];
  /** `container_settings.allow_ip_forwarding` (default false). */
  allowIpForwarding?: boolean;
  /** RX/TX queues (default 1). */
  numQueues?: number;
  /** Add the host-side `/32` routes (default true; Calico skips them when IPAM returned no routes). */
  hostRoutes?: boolean;
  /** Metric of the host routes (default 0 as the CNI plugin; Felix ≥ v3.32 uses 1024). */
  hostRouteMetric?: number;
}

/** Options of {@link setupWorkloadInterface}. */
export interface WorkloadInterfaceOptions extends WorkloadInterfaceSpec {
  /** Namespace playing the host (name or path); default: this process's namespace. */
  hostNs?: string;
  /**
   * Also write a permanent ARP entry `<pod IPv4> lladdr <pod MAC>` on the host veth, as Felix does
   * when the endpoint carries a MAC (etcd datastore). Default false (the Kubernetes datastore case).
   */
  hostStaticArp?: boolean;
  /** Options for the worker processes. */
  netnsOptions?: OpenNetnsOptions;
}

/** What was created. */
export interface WorkloadInterfaceResult {
  hostIfName: string;
  hostIndex: number;
  hostMac: string;
  containerIfName: string;
  containerMac: string | null;
  mtu: number;
  /** Addresses as configured (`/32`). */
  ipv4: string[];
  /** Addresses as configured (`/128`). */
  ipv6: string[];
}

function hostAddresses(list: string[] | undefined, family: 4 | 6, field: string): string[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) invalid(field, list, 'must be an array of addresses');
  return list.map((a, i) => {
    const c = parseCidr(a, `${field}[${i}]`);
    if (c.family !== family) invalid(`${field}[${i}]`, a, `not an IPv${family} address`);
    return formatCidr(c.bytes, family === 4 ? 32 : 128);
  });
}

function destinations(list: string[] | undefined, fallback: string, family: 4 | 6, field: string): string[] {
  return (list ?? [fallback]).map((d, i) => {
    const c = parseCidr(d, `${field}[${i}]`, { strict: true, defaultFamily: family });
    if (c.family !== family) invalid(`${field}[${i}]`, d, `not an IPv${family} destination`);
    return formatCidr(c.bytes, c.prefixLength);
  });
}

async function withHost<T>(hostNs: string | undefined, options: OpenNetnsOptions | undefined, fn: (ops: NetlinkOps) => Promise<T>): Promise<T> {
  const ops: NetlinkOps = hostNs !== undefined ? await openNetns(hostNs, options) : new NetlinkClient();
  try {
    return await fn(ops);
  } finally {
    await ops.close();
  }
}

/**
 * Wires a pod the Calico way: deletes a stale host interface of the same name, creates the veth
 * pair with the container end directly in the pod namespace, sets the host MAC
 * (`ee:ee:ee:ee:ee:ee`) and MTU, the host-side sysctls (proxy_arp, route_localnet, forwarding,
 * proxy_delay; IPv6 proxy_ndp, accept_dad, accept_ra...), brings both ends up, adds in the pod
 * `169.254.1.1 dev eth0 scope link` + `default via 169.254.1.1 dev eth0` (IPv6: via
 * `fe80::ecee:eeff:feee:eeee`), the `/32` (`/128`) addresses and the forwarding sysctls, then the
 * host `<ip>/32 dev <hostIfName> scope link` routes.
 *
 * All input is validated before anything is touched (ValidationError; ResourceNotFoundError for a
 * missing namespace). If a later step fails, the veth pair is deleted again (nothing left behind)
 * and the error is rethrown. A host route to a pod IP that already exists through another interface
 * is an error (ResourceExistsError), as in Calico.
 *
 * @example
 * ```ts
 * await setupWorkloadInterface({
 *   containerNetns: '/var/run/netns/cni-1234',
 *   hostIfName: workloadInterfaceName('default', 'nginx'),
 *   ipv4: ['10.244.208.1'],
 *   mtu: 1450,
 * });
 * ```
 */
export async function setupWorkloadInterface(options: WorkloadInterfaceOptions): Promise<WorkloadInterfaceResult> {
  if (typeof options !== 'object' || options === null) invalid('options', options, 'must be an object');
  const hostIfName = validateInterfaceName(options.hostIfName, 'hostIfName');
  const containerIfName = validateInterfaceName(options.containerIfName ?? 'eth0', 'containerIfName');
  const mtu = validateMtu(options.mtu ?? 1500);
  const hostMac = options.hostMac ?? CALICO_HOST_MAC;
  parseMac(hostMac, 'hostMac');
  if (options.containerMac !== undefined) parseMac(options.containerMac, 'containerMac');
  const ipv4 = hostAddresses(options.ipv4, 4, 'ipv4');
  const ipv6 = hostAddresses(options.ipv6, 6, 'ipv6');
  if (ipv4.length === 0 && ipv6.length === 0) invalid('ipv4', options.ipv4, 'at least one IPv4 or IPv6 address is required');
  const routes4 = destinations(options.routes4, '0.0.0.0/0', 4, 'routes4');
  const routes6 = destinations(options.routes6, '::/0', 6, 'routes6');
  if (options.hostRouteMetric !== undefined && (!Number.isInteger(options.hostRouteMetric) || options.hostRouteMetric < 0)) {
    invalid('hostRouteMetric', options.hostRouteMetric, 'must be a non-negative integer');
  }
  const containerPath = requireNetns(options.containerNetns, 'containerNetns');
  if (options.hostNs !== undefined) requireNetns(options.hostNs, 'hostNs');

  // Start the pod-side worker while the host side works.
  const containerSession = openNetns(containerPath, options.netnsOptions);
  containerSession.catch(() => undefined);
  return withHost(options.hostNs, options.netnsOptions, async (host) => {
    let container: NetnsSession | undefined;
    let created = false;
    try {
      await host.deleteLink(hostIfName, { ignoreMissing: true });
      await host.createVethPair({ name: hostIfName, peerName: containerIfName, peerNetns: containerPath, mtu, mac: hostMac, numQueues: options.numQueues ?? 1 });
      created = true;
      const hostLink = await host.getLink(hostIfName);
      if (hostLink.mac !== hostMac.toLowerCase()) await host.setLinkMac(hostIfName, hostMac);
      for (const s of workloadHostSysctls(hostIfName, { ipv4: ipv4.length > 0, ipv6: ipv6.length > 0 })) {
        try {
          await host.writeSysctl(s.key, s.value);
        } catch (error) {
          if (!s.optional) throw error;
        }
      }
      await host.setLinkUp(hostIfName);
      container = await containerSession;
      const config: ContainerSideConfig = { ifName: containerIfName, ipv4, ipv6, routes4, routes6, allowIpForwarding: options.allowIpForwarding ?? false };
      if (options.containerMac !== undefined) config.mac = options.containerMac;
      const side = await container.configureContainerSide(config);
      if (ipv6.length > 0) await waitForAddress(host, hostIfName, CALICO_IPV6_GATEWAY);
      if (options.hostRoutes ?? true) {
        const existing = await host.listRoutes({ table: 254 });
        for (const cidr of [...ipv4, ...ipv6]) {
          const clash = existing.find((r) => r.dst === cidr && r.dev !== undefined && r.dev !== hostIfName);
          if (clash) {
            throw new ResourceExistsError(`route ${cidr}`, {
              message: `error adding host side routes for interface: ${hostIfName}, error: route ${cidr} already exists for an interface other than '${hostIfName}': ${clash.dev}`,
            });
          }
          await host.replaceRoute({ dst: cidr, dev: hostIfName, scope: 'link', metric: options.hostRouteMetric ?? 0 });
        }
      }
      if (options.hostStaticArp && side.mac) {
        for (const cidr of ipv4) await host.replaceNeighbour({ link: hostIfName, address: cidr.slice(0, cidr.indexOf('/')), mac: side.mac });
      }
      return { hostIfName, hostIndex: hostLink.index, hostMac: hostMac.toLowerCase(), containerIfName, containerMac: side.mac, mtu, ipv4, ipv6 };
    } catch (error) {
      if (created) await host.deleteLink(hostIfName, { ignoreMissing: true }).catch(() => undefined);
      throw error;
    } finally {
      if (container) await container.close();
      else await containerSession.then((s) => s.close(), () => undefined);
    }
  });
}

async function waitForAddress(ops: NetlinkOps, link: string, address: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const addresses = await ops.listAddresses({ link, family: 6 });
    if (addresses.some((a) => a.address === address)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  invalid('hostMac', link, `host veth ${link} did not get the link-local address ${address}`);
}

/** Options of {@link teardownWorkloadInterface}. */
export interface TeardownWorkloadOptions {
  hostNs?: string;
  /** The pod namespace; skipped when it no longer exists. */
  containerNetns?: string;
  containerIfName?: string;
  hostIfName?: string;
  netnsOptions?: OpenNetnsOptions;
}

/**
 * Removes a pod's veth (deleting either end removes both, and the kernel drops the host routes through
 * it). Idempotent: a missing namespace or interface is not an error. Returns whether anything was deleted.
 */
export async function teardownWorkloadInterface(options: TeardownWorkloadOptions): Promise<boolean> {
  const containerIfName = validateInterfaceName(options.containerIfName ?? 'eth0', 'containerIfName');
  if (options.hostIfName !== undefined) validateInterfaceName(options.hostIfName, 'hostIfName');
  let deleted = false;
  if (options.containerNetns !== undefined && netnsExists(options.containerNetns)) {
    const session = await openNetns(netnsPath(options.containerNetns), options.netnsOptions);
    try {
      deleted = (await session.deleteLink(containerIfName, { ignoreMissing: true })) || deleted;
    } finally {
      await session.close();
    }
  }
  if (options.hostIfName !== undefined) {
    if (options.hostNs !== undefined && !netnsExists(options.hostNs)) return deleted;
    deleted = (await withHost(options.hostNs, options.netnsOptions, (host) => host.deleteLink(options.hostIfName!, { ignoreMissing: true }))) || deleted;
  }
  return deleted;
}
