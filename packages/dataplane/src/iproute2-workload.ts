/**
 * Calico's per-pod plumbing driven by iproute2 instead of in-process netlink: the fast path for
 * short-lived callers such as a CNI plugin, where starting a namespace worker (~170 ms) or loading
 * the netlink bindings costs more than the work itself.
 *
 * The host side runs `ip` in this process's namespace; the pod side runs ONE
 * `nsenter --net=<netns> -- sh -c '<sysctls>; exec ip -batch -'`. Names and addresses are
 * validated first and passed to the shell only as positional arguments (never interpolated), so no
 * input can inject a command. Same kernel result as {@link setupWorkloadInterface}.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { ResourceExistsError } from '@libcalico-ts/api';
import { defaultCommandRunner, runChecked, type CommandRunner } from './command.js';
import { CommandError } from './errors.js';
import { CALICO_HOST_MAC, CALICO_IPV4_GATEWAY, CALICO_IPV6_GATEWAY } from './container-side.js';
import { requireNetns, netnsExists, netnsPath } from './netns.js';
import { workloadHostSysctls, writeSysctl } from './sysctl.js';
import type { WorkloadInterfaceSpec } from './workload.js';
import { formatCidr, formatMac, invalid, parseCidr, parseMac, validateInterfaceName, validateMtu } from './validate.js';

/** Programs used by the iproute2 path (absolute paths or names looked up in PATH). */
export interface Iproute2Options {
  /** Runs the commands (default {@link defaultCommandRunner}). */
  runner?: CommandRunner;
  /** `ip` binary (default `ip`). */
  ip?: string;
  /** `nsenter` binary (default `nsenter`). */
  nsenter?: string;
  /** POSIX shell used inside the pod namespace for its sysctls (default `sh`). */
  shell?: string;
  /** Writes a host-side sysctl (default {@link writeSysctl}: this process's namespace). */
  sysctlWriter?: (key: readonly string[], value: string) => Promise<void>;
}

/** Options of {@link setupWorkloadInterfaceIproute2} (the host is this process's namespace). */
export interface Iproute2WorkloadOptions extends Iproute2Options, WorkloadInterfaceSpec {}

/** What {@link setupWorkloadInterfaceIproute2} created. */
export interface Iproute2WorkloadResult {
  hostIfName: string;
  hostMac: string;
  containerIfName: string;
  containerMac: string;
  mtu: number;
  /** Addresses as configured (`/32`). */
  ipv4: string[];
  /** Addresses as configured (`/128`). */
  ipv6: string[];
}

/** The validated plan: argv lists and batch text, exposed for tests and dry runs. */
export interface Iproute2WorkloadPlan {
  /** `ip link add ...` creating the pair with the peer directly in the pod namespace. */
  createLink: string[];
  /** Host-side sysctls written by this process after the link exists. */
  hostSysctls: { key: string[]; value: string; optional: boolean }[];
  /** `ip -batch -` input run in the host namespace: link up, then the `/32` routes. */
  hostBatch: string;
  /** Host routes added by `hostBatch` (for error reporting). */
  hostRoutes: string[];
  /** argv of the pod-side command (`nsenter --net=... -- sh -c SCRIPT sh IFNAME FORWARD V6`). */
  containerCommand: string[];
  /** `ip -batch -` input of the pod side. */
  containerBatch: string;
  hostMac: string;
  containerMac: string;
  mtu: number;
  ipv4: string[];
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
  if (list !== undefined && !Array.isArray(list)) invalid(field, list, 'must be an array of CIDRs');
  return (list ?? [fallback]).map((d, i) => {
    const c = parseCidr(d, `${field}[${i}]`, { strict: true, defaultFamily: family });
    if (c.family !== family) invalid(`${field}[${i}]`, d, `not an IPv${family} destination`);
    return formatCidr(c.bytes, c.prefixLength);
  });
}

/**
 * A random MAC as the kernel's `eth_random_addr` makes one: unicast, locally administered.
 * @example randomContainerMac() // '4e:1f:9c:7e:22:51'
 */
export function randomContainerMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = (bytes[0]! & 0xfe) | 0x02;
  return formatMac(bytes);
}

// The pod-side shell script. $1 = interface, $2 = forwarding value, $3 = 1 when IPv6 is used.
// Only fixed text here: every variable part arrives as a positional parameter.
const CONTAINER_SCRIPT = [
  'set -e',
  'if [ "$3" = 1 ]; then',
  '  for s in all default lo; do printf 0 > /proc/sys/net/ipv6/conf/$s/disable_ipv6; done',
  '  printf 0 > "/proc/sys/net/ipv6/conf/$1/disable_ipv6"',
  '  printf 0 > "/proc/sys/net/ipv6/conf/$1/accept_dad"',
  '  printf %s "$2" > /proc/sys/net/ipv6/conf/all/forwarding',
  'fi',
  'if [ "$4" = 1 ]; then printf %s "$2" > /proc/sys/net/ipv4/ip_forward; fi',
  'exec "$5" -batch -',
].join('\n');

/** Options of {@link createWorkloadVethIproute2}: the link part of {@link Iproute2WorkloadOptions}. */
export type Iproute2VethOptions = Iproute2Options & Pick<WorkloadInterfaceSpec, 'containerNetns' | 'containerIfName' | 'hostIfName' | 'mtu' | 'hostMac' | 'containerMac' | 'numQueues'>;

/** A veth pair made by {@link createWorkloadVethIproute2}, not configured yet. */
export interface Iproute2Veth {
  hostIfName: string;
  containerIfName: string;
  hostMac: string;
  containerMac: string;
  mtu: number;
}

interface VethPlan extends Iproute2Veth {
  createLink: string[];
  netns: string;
  ip: string;
}

function planWorkloadVethIproute2(options: Iproute2VethOptions): VethPlan {
  if (typeof options !== 'object' || options === null) invalid('options', options, 'must be an object');
  const hostIfName = validateInterfaceName(options.hostIfName, 'hostIfName');
  const containerIfName = validateInterfaceName(options.containerIfName ?? 'eth0', 'containerIfName');
  const mtu = validateMtu(options.mtu ?? 1500);
  const hostMac = (options.hostMac ?? CALICO_HOST_MAC).toLowerCase();
  parseMac(hostMac, 'hostMac');
  const containerMac = (options.containerMac ?? randomContainerMac()).toLowerCase();
  const macBytes = parseMac(containerMac, 'containerMac');
  if ((macBytes[0]! & 1) === 1) invalid('containerMac', options.containerMac, 'must be a unicast MAC');
  const queues = options.numQueues ?? 1;
  if (!Number.isInteger(queues) || queues < 1 || queues > 1024) invalid('numQueues', options.numQueues, 'must be an integer from 1 to 1024');
  const netns = netnsPath(options.containerNetns, 'containerNetns');
  const ip = options.ip ?? 'ip';
  const createLink = [ip, 'link', 'add', hostIfName];
  if (queues > 1) createLink.push('numtxqueues', String(queues), 'numrxqueues', String(queues));
  createLink.push('mtu', String(mtu), 'address', hostMac, 'type', 'veth', 'peer', 'name', containerIfName);
  if (queues > 1) createLink.push('numtxqueues', String(queues), 'numrxqueues', String(queues));
  createLink.push('mtu', String(mtu), 'address', containerMac, 'netns', netns);
  return { hostIfName, containerIfName, hostMac, containerMac, mtu, createLink, netns, ip };
}

/**
 * Validates the options and computes every command {@link setupWorkloadInterfaceIproute2} runs,
 * without touching anything (pure apart from drawing a random container MAC when none is given).
 * @throws ValidationError naming the offending field.
 */
export function planWorkloadInterfaceIproute2(options: Iproute2WorkloadOptions): Iproute2WorkloadPlan {
  const link = planWorkloadVethIproute2(options);
  const { hostIfName, containerIfName, netns, ip } = link;
  const ipv4 = hostAddresses(options.ipv4, 4, 'ipv4');
  const ipv6 = hostAddresses(options.ipv6, 6, 'ipv6');
  if (ipv4.length === 0 && ipv6.length === 0) invalid('ipv4', options.ipv4, 'at least one IPv4 or IPv6 address is required');
  const routes4 = destinations(options.routes4, '0.0.0.0/0', 4, 'routes4');
  const routes6 = destinations(options.routes6, '::/0', 6, 'routes6');
  const metric = options.hostRouteMetric ?? 0;
  if (!Number.isInteger(metric) || metric < 0) invalid('hostRouteMetric', options.hostRouteMetric, 'must be a non-negative integer');
  const { createLink, hostMac, containerMac, mtu } = link;

  const hostRoutes = options.hostRoutes ?? true ? [...ipv4, ...ipv6] : [];
  const hostLines = [`link set dev ${hostIfName} up`];
  for (const cidr of hostRoutes) hostLines.push(`route add ${cidr} dev ${hostIfName} scope link proto boot metric ${metric}`);

  const lines = [`link set dev ${containerIfName} up`];
  if (ipv4.length > 0) {
    lines.push(`route replace ${CALICO_IPV4_GATEWAY}/32 dev ${containerIfName} scope link`);
    for (const dst of routes4) lines.push(`route replace ${dst} via ${CALICO_IPV4_GATEWAY} dev ${containerIfName}`);
  }
  if (ipv6.length > 0) for (const dst of routes6) lines.push(`route replace ${dst} via ${CALICO_IPV6_GATEWAY} dev ${containerIfName}`);
  for (const cidr of ipv4) lines.push(`address add ${cidr} dev ${containerIfName}`);
  for (const cidr of ipv6) lines.push(`address add ${cidr} dev ${containerIfName} nodad`);

  const forward = options.allowIpForwarding ? '1' : '0';
  const containerCommand = [
    options.nsenter ?? 'nsenter',
    `--net=${netns}`,
    '--',
    options.shell ?? 'sh',
    '-c',
    CONTAINER_SCRIPT,
    'sh',
    containerIfName,
    forward,
    ipv6.length > 0 ? '1' : '0',
    ipv4.length > 0 ? '1' : '0',
    ip,
  ];
  return {
    createLink,
    hostSysctls: workloadHostSysctls(hostIfName, { ipv4: ipv4.length > 0, ipv6: ipv6.length > 0 }),
    hostBatch: `${hostLines.join('\n')}\n`,
    hostRoutes,
    containerCommand,
    containerBatch: `${lines.join('\n')}\n`,
    hostMac,
    containerMac,
    mtu,
    ipv4,
    ipv6,
  };
}

/** Whether a link of this name exists in this process's namespace (no process spawned). */
function linkExistsHere(name: string): boolean {
  return existsSync(`/proc/sys/net/ipv4/conf/${name}`) || existsSync(`/proc/sys/net/ipv6/conf/${name}`);
}

async function deleteHostLink(runner: CommandRunner, ip: string, name: string): Promise<void> {
  const r = await runner.run([ip, 'link', 'del', 'dev', name]);
  if (r.exitCode !== 0 && !/Cannot find device|does not exist/.test(r.stderr)) throw new CommandError([ip, 'link', 'del', 'dev', name], r.exitCode, r.stderr);
}

/**
 * Wires a pod exactly as {@link setupWorkloadInterface} does, with iproute2 processes instead of
 * netlink sockets and namespace workers: one `ip link add` (veth created with its peer directly in
 * the pod namespace, both MACs and MTUs set), the host sysctls written by this process, then the
 * host `ip -batch` (link up, `<ip>/32 dev <host> scope link proto boot`) and the single pod-side
 * `nsenter ... ip -batch` (sysctls, link up, `169.254.1.1` gateway routes, addresses) in parallel.
 * Equivalent to {@link createWorkloadVethIproute2} followed by {@link configureWorkloadVethIproute2}.
 *
 * The host side is this process's network namespace (run the caller inside the host namespace).
 * Validation happens before anything is touched (ValidationError; ResourceNotFoundError when the
 * pod namespace does not exist). A host route to a pod IP held by another interface is a
 * ResourceExistsError naming it; any failure after the veth exists deletes it again.
 *
 * @example
 * ```ts
 * const r = await setupWorkloadInterfaceIproute2({
 *   containerNetns: process.env.CNI_NETNS!, hostIfName: 'calic440f455693', ipv4: ['10.244.208.1'], mtu: 1450,
 * });
 * r.containerMac; // e.g. '4e:1f:9c:7e:22:51'
 * ```
 */
export async function setupWorkloadInterfaceIproute2(options: Iproute2WorkloadOptions): Promise<Iproute2WorkloadResult> {
  const plan = planWorkloadInterfaceIproute2(options);
  requireNetns(options.containerNetns, 'containerNetns');
  await createVeth(options, plan.createLink);
  return configurePlanned(options, plan);
}

/**
 * First half of {@link setupWorkloadInterfaceIproute2}: validates the link options and creates the
 * veth pair (host end here, peer directly in the pod namespace, both MACs and MTUs set), replacing
 * a stale host link of the same name. Nothing is up or addressed yet. Lets a caller overlap the
 * kernel work with something else (the CNI plugin creates the pair while IPAM runs), then call
 * {@link configureWorkloadVethIproute2} with the same options plus the addresses, or
 * {@link teardownWorkloadInterfaceIproute2} with `hostIfName` to give up.
 * @throws ValidationError for bad options; ResourceNotFoundError when the pod namespace is
 *   missing; CommandError when `ip link add` fails (e.g. the pod already has `containerIfName`).
 */
export async function createWorkloadVethIproute2(options: Iproute2VethOptions): Promise<Iproute2Veth> {
  const link = planWorkloadVethIproute2(options);
  requireNetns(options.containerNetns, 'containerNetns');
  await createVeth(options, link.createLink);
  return { hostIfName: link.hostIfName, containerIfName: link.containerIfName, hostMac: link.hostMac, containerMac: link.containerMac, mtu: link.mtu };
}

/**
 * Second half of {@link setupWorkloadInterfaceIproute2}, for a pair made by
 * {@link createWorkloadVethIproute2}: pass the same link options (in particular the
 * `containerMac` it returned) plus the addresses and routes. Host sysctls, host link up and
 * `/32` routes, and the pod side (sysctls, link up, gateway routes, addresses). Any failure
 * deletes the veth.
 * @throws ValidationError (the veth is deleted too); ResourceExistsError for a host route held
 *   by another interface; CommandError for other kernel refusals.
 */
export async function configureWorkloadVethIproute2(options: Iproute2WorkloadOptions): Promise<Iproute2WorkloadResult> {
  let plan: Iproute2WorkloadPlan;
  try {
    plan = planWorkloadInterfaceIproute2(options);
  } catch (error) {
    await deleteHostLink(options.runner ?? defaultCommandRunner, options.ip ?? 'ip', options.hostIfName).catch(() => undefined);
    throw error;
  }
  return configurePlanned(options, plan);
}

async function createVeth(options: Iproute2Options & { hostIfName: string }, createLink: string[]): Promise<void> {
  const runner = options.runner ?? defaultCommandRunner;
  const ip = options.ip ?? 'ip';
  if (linkExistsHere(options.hostIfName)) await deleteHostLink(runner, ip, options.hostIfName);
  await runChecked(runner, createLink);
}

async function configurePlanned(options: Iproute2WorkloadOptions, plan: Iproute2WorkloadPlan): Promise<Iproute2WorkloadResult> {
  const runner = options.runner ?? defaultCommandRunner;
  const ip = options.ip ?? 'ip';
  const hostIfName = plan.createLink[3]!;
  const containerIfName = options.containerIfName ?? 'eth0';
  // The pod side needs nothing from the host side: it starts first, the host sysctls and the
  // host batch (link up after its sysctls, then the routes) follow while it runs.
  const containerRun = runner.run(plan.containerCommand, { input: plan.containerBatch });
  containerRun.catch(() => undefined);
  try {
    try {
      for (const s of plan.hostSysctls) {
        try {
          await (options.sysctlWriter ?? writeSysctl)(s.key, s.value);
        } catch (error) {
          if (!s.optional) throw error;
        }
      }
    } catch (error) {
      await containerRun.catch(() => undefined);
      throw error;
    }
    const [host, container] = await Promise.all([runner.run([ip, '-batch', '-'], { input: plan.hostBatch }), containerRun]);
    if (container.exitCode !== 0) throw new CommandError(plan.containerCommand.slice(0, 4), container.exitCode, container.stderr);
    if (host.exitCode !== 0) {
      if (/File exists/.test(host.stderr)) await reportRouteClash(runner, ip, hostIfName, plan.hostRoutes);
      throw new CommandError([ip, '-batch', '-'], host.exitCode, host.stderr);
    }
    if (plan.ipv6.length > 0) await waitForLinkLocal(runner, ip, hostIfName);
    return { hostIfName, hostMac: plan.hostMac, containerIfName, containerMac: plan.containerMac, mtu: plan.mtu, ipv4: plan.ipv4, ipv6: plan.ipv6 };
  } catch (error) {
    await deleteHostLink(runner, ip, hostIfName).catch(() => undefined);
    throw error;
  }
}

async function reportRouteClash(runner: CommandRunner, ip: string, hostIfName: string, routes: string[]): Promise<void> {
  for (const cidr of routes) {
    const r = await runner.run([ip, '-o', 'route', 'show', 'exact', cidr]);
    const dev = /\bdev (\S+)/.exec(r.stdout)?.[1];
    if (dev !== undefined && dev !== hostIfName) {
      throw new ResourceExistsError(`route ${cidr}`, {
        message: `error adding host side routes for interface: ${hostIfName}, error: route ${cidr} already exists for an interface other than '${hostIfName}': ${dev}`,
      });
    }
  }
}

async function waitForLinkLocal(runner: CommandRunner, ip: string, link: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    const r = await runner.run([ip, '-6', '-o', 'address', 'show', 'dev', link, 'scope', 'link']);
    if (r.stdout.includes(CALICO_IPV6_GATEWAY)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  invalid('hostMac', link, `host veth ${link} did not get the link-local address ${CALICO_IPV6_GATEWAY}`);
}

/** Options of {@link teardownWorkloadInterfaceIproute2}. */
export interface Iproute2TeardownOptions extends Iproute2Options {
  /** The pod namespace; skipped when absent or gone. */
  containerNetns?: string;
  /** Container-side name (default `eth0`). */
  containerIfName?: string;
  /** Host-side name, deleted in this process's namespace when given. */
  hostIfName?: string;
}

/**
 * Removes a pod's veth with iproute2: the container end inside the pod namespace (when it still
 * exists) and/or the host end here. Idempotent: a missing namespace or interface is not an error.
 * Returns whether anything was deleted.
 */
export async function teardownWorkloadInterfaceIproute2(options: Iproute2TeardownOptions): Promise<boolean> {
  const containerIfName = validateInterfaceName(options.containerIfName ?? 'eth0', 'containerIfName');
  if (options.hostIfName !== undefined) validateInterfaceName(options.hostIfName, 'hostIfName');
  const runner = options.runner ?? defaultCommandRunner;
  const ip = options.ip ?? 'ip';
  let deleted = false;
  if (options.containerNetns !== undefined && options.containerNetns !== '' && netnsExists(options.containerNetns)) {
    const command = [options.nsenter ?? 'nsenter', `--net=${netnsPath(options.containerNetns)}`, '--', ip, 'link', 'del', 'dev', containerIfName];
    const r = await runner.run(command);
    if (r.exitCode === 0) deleted = true;
    else if (!/Cannot find device|does not exist/.test(r.stderr)) throw new CommandError(command, r.exitCode, r.stderr);
  }
  if (options.hostIfName !== undefined && linkExistsHere(options.hostIfName)) {
    await deleteHostLink(runner, ip, options.hostIfName);
    deleted = true;
  }
  return deleted;
}

/** A pod interface as seen by {@link inspectWorkloadInterfaceIproute2}. */
export interface WorkloadInspection {
  /** Container side: null when the interface (or namespace) is missing. */
  container: { mac: string; mtu: number; up: boolean; addresses: string[]; routes: { dst: string; gateway?: string }[] } | null;
  /** Host side: null when the host interface is missing. */
  host: { mac: string; mtu: number; up: boolean; routes: string[] } | null;
}

interface IpJsonLink {
  address?: string;
  mtu?: number;
  flags?: string[];
  addr_info?: { local?: string; prefixlen?: number; family?: string; scope?: string }[];
}

function parseJsonLines(text: string): unknown[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('['))
    .map((l) => JSON.parse(l) as unknown);
}

/**
 * Reads back a pod's interfaces (for CNI CHECK): link state, MAC, MTU, global addresses and routes
 * inside the pod namespace, and the host veth with its routes here. Missing pieces are null.
 */
export async function inspectWorkloadInterfaceIproute2(options: {
  containerNetns: string;
  containerIfName?: string;
  hostIfName?: string;
} & Iproute2Options): Promise<WorkloadInspection> {
  const containerIfName = validateInterfaceName(options.containerIfName ?? 'eth0', 'containerIfName');
  const runner = options.runner ?? defaultCommandRunner;
  const ip = options.ip ?? 'ip';
  const result: WorkloadInspection = { container: null, host: null };
  if (netnsExists(options.containerNetns)) {
    const script = 'set -e; "$2" -j address show dev "$1"; "$2" -j -4 route show dev "$1"; "$2" -j -6 route show dev "$1"';
    const r = await runner.run([options.nsenter ?? 'nsenter', `--net=${netnsPath(options.containerNetns)}`, '--', options.shell ?? 'sh', '-c', script, 'sh', containerIfName, ip]);
    if (r.exitCode === 0) {
      const [links, r4, r6] = parseJsonLines(r.stdout) as [IpJsonLink[], { dst: string; gateway?: string }[], { dst: string; gateway?: string }[]];
      const link = links[0];
      if (link) {
        result.container = {
          mac: link.address ?? '',
          mtu: link.mtu ?? 0,
          up: (link.flags ?? []).includes('UP'),
          addresses: (link.addr_info ?? []).filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`),
          routes: [...(r4 ?? []), ...(r6 ?? [])].map((x) => (x.gateway ? { dst: x.dst, gateway: x.gateway } : { dst: x.dst })),
        };
      }
    }
  }
  if (options.hostIfName !== undefined) {
    validateInterfaceName(options.hostIfName, 'hostIfName');
    const r = await runner.run(['sh', '-c', '"$2" -j link show dev "$1" && "$2" -j route show dev "$1" && "$2" -j -6 route show dev "$1"', 'sh', options.hostIfName, ip]);
    if (r.exitCode === 0) {
      const [links, r4, r6] = parseJsonLines(r.stdout) as [IpJsonLink[], { dst: string }[], { dst: string }[]];
      const link = links[0];
      if (link) {
        const routes = [...(r4 ?? []), ...(r6 ?? [])].map((x) => (x.dst.includes('/') ? x.dst : `${x.dst}/${x.dst.includes(':') ? 128 : 32}`));
        result.host = { mac: link.address ?? '', mtu: link.mtu ?? 0, up: (link.flags ?? []).includes('UP'), routes };
      }
    }
  }
  return result;
}
