/**
 * The pod-namespace half of Calico's workload plumbing (reference routes-and-dataplane §9.2, CNI
 * §5.4 steps 5-11). Runs over any {@link NetlinkOps} bound to the container namespace; normally it
 * executes inside a {@link NetnsSession} worker in one round trip.
 * @internal
 */
import type { NetlinkOps, RouteSpec } from './types.js';
import { interfaceSysctl } from './sysctl.js';

/** Calico's fixed IPv4 gateway inside every pod (nobody owns it; the host veth answers by proxy ARP). */
export const CALICO_IPV4_GATEWAY = '169.254.1.1';
/** The host-side veth MAC Calico always sets. */
export const CALICO_HOST_MAC = 'ee:ee:ee:ee:ee:ee';
/** IPv6 link-local address derived from {@link CALICO_HOST_MAC}: the pod's IPv6 gateway. */
export const CALICO_IPV6_GATEWAY = 'fe80::ecee:eeff:feee:eeee';

/** Input of {@link NetnsSession.configureContainerSide} (already validated by the caller). */
export interface ContainerSideConfig {
  ifName: string;
  /** Host prefixes (`/32`). */
  ipv4: string[];
  /** Host prefixes (`/128`). */
  ipv6: string[];
  routes4: string[];
  routes6: string[];
  mac?: string;
  allowIpForwarding: boolean;
}

/** What the container side reports back. */
export interface ContainerSideResult {
  mac: string | null;
  index: number;
  mtu: number;
}

/** Configures the container end of a workload veth: sysctls, up, gateway routes, addresses, forwarding. */
export async function configureContainerSide(ops: NetlinkOps, config: ContainerSideConfig): Promise<ContainerSideResult> {
  const { ifName } = config;
  const hasV6 = config.ipv6.length > 0;
  if (hasV6) {
    // Enable IPv6 in the pod and disable DAD on eth0 before it comes up.
    for (const scope of ['all', 'default', 'lo']) await ops.writeSysctl(['net', 'ipv6', 'conf', scope, 'disable_ipv6'], '0');
    await ops.writeSysctl(interfaceSysctl(6, 'conf', ifName, 'disable_ipv6'), '0');
    await ops.writeSysctl(interfaceSysctl(6, 'conf', ifName, 'accept_dad'), '0');
  }
  if (config.mac) await ops.setLinkMac(ifName, config.mac);
  await ops.setLinkUp(ifName);
  const routes: RouteSpec[] = [];
  if (config.ipv4.length > 0) {
    routes.push({ dst: `${CALICO_IPV4_GATEWAY}/32`, dev: ifName, scope: 'link' });
    for (const dst of config.routes4) routes.push({ dst, family: 4, gateway: CALICO_IPV4_GATEWAY, dev: ifName });
  }
  if (hasV6) for (const dst of config.routes6) routes.push({ dst, family: 6, gateway: CALICO_IPV6_GATEWAY, dev: ifName });
  for (const route of routes) await ops.replaceRoute(route);
  for (const cidr of config.ipv4) await ops.addAddress(ifName, cidr);
  for (const cidr of config.ipv6) await ops.addAddress(ifName, cidr, { noDad: true });
  const forward = config.allowIpForwarding ? '1' : '0';
  if (config.ipv4.length > 0) await ops.writeSysctl('net.ipv4.ip_forward', forward);
  if (hasV6) await ops.writeSysctl('net.ipv6.conf.all.forwarding', forward);
  const link = await ops.getLink(ifName);
  return { mac: link.mac, index: link.index, mtu: link.mtu };
}
