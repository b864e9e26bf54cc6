/**
 * Validation of projectcalico.org/v3 resources, matching Calico's three layers (reference
 * datastore.md §3.3): the Go struct validators, the CRD schema (types, enums, patterns, bounds,
 * required fields, and the CEL rules, re-implemented here) and the per-kind client rules that
 * need no other object (singleton names, ⓓ fields of BGPConfiguration, WorkloadEndpoint names).
 * Cross-object rules (pool overlap, tier existence, filter existence) belong to the client.
 */
import { SelectorParseError, validateSelector } from '@libcalico-ts/selector';
import { ValidationError, type FieldError } from './errors.js';
import { API_VERSION, KINDS, isResourceKind, type ResourceKind } from './kinds.js';
import {
  canonicalCIDR,
  cidrContains,
  cidrsOverlap,
  describeBadCIDR,
  isMasked,
  parseCIDROrIP,
  parseIP,
  type ParsedCIDR,
} from './internal/ip.js';
import { METADATA_SHAPE, checkShape, shapesOf } from './internal/shapes.js';
import {
  checkCommunityValue,
  checkGlobalNetworkPolicyName,
  checkLabelName,
  checkLabelValue,
  checkNetworkPolicyName,
  checkPortName,
  checkProtocol,
  checkQualifiedName,
  checkRulePort,
  checkSubdomainName,
  isValidContainerID,
  isValidDuration,
  isValidInterfaceGlob,
  isValidInterfaceName,
  isValidMAC,
  isValidName,
  parseASNumber,
  protocolSupportsPorts,
} from './internal/values.js';
import { workloadEndpointName } from './names.js';

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A non-empty string, else undefined (wrong types are reported by the shape check). */
function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

const LINK_LOCAL_V4 = parseCIDROrIP('169.254.0.0/16')!;
const LINK_LOCAL_V6 = parseCIDROrIP('fe80::/10')!;

class Collector {
  readonly errors: FieldError[] = [];
  add(name: string, value: unknown, reason: string): void {
    this.errors.push({ name, value, reason });
  }

  /** Selector syntax (and no `global()` unless allowed). */
  selector(path: string, value: unknown, allowGlobal = false): void {
    if (typeof value !== 'string' || value.trim() === '') return;
    try {
      validateSelector(value.trim());
    } catch (error) {
      if (!SelectorParseError.isInstance(error)) throw error;
      const { reason, position } = error as SelectorParseError;
      this.add(path, value, `invalid selector: ${reason} at position ${position}`);
      return;
    }
    if (!allowGlobal && value.includes('global(')) this.add(path, value, 'global() is not valid in this selector');
  }

  /**
   * A CIDR or bare IP. Options: `masked` (host bits must be zero), `version` (family),
   * `single` (must be one address: /32 or /128). Returns the parsed value when valid.
   */
  cidr(
    path: string,
    value: unknown,
    options: { masked?: boolean; version?: 4 | 6; single?: boolean } = {},
  ): ParsedCIDR | undefined {
    if (typeof value !== 'string') return undefined;
    const parsed = parseCIDROrIP(value);
    if (!parsed) {
      this.add(path, value, `invalid CIDR: ${describeBadCIDR(value)}`);
      return undefined;
    }
    if (options.version && parsed.version !== options.version) {
      this.add(path, value, `must be an IPv${options.version} ${value.includes('/') ? 'CIDR' : 'address'}, not IPv${parsed.version}`);
      return undefined;
    }
    if (options.masked && !isMasked(parsed)) {
      this.add(path, value, `CIDR is not strictly masked: host bits are set (the network is ${canonicalCIDR(parsed)})`);
      return undefined;
    }
    if (options.single && parsed.prefixLength !== (parsed.version === 4 ? 32 : 128)) {
      this.add(path, value, 'IP network contains multiple addresses (only /32 or /128 allowed)');
      return undefined;
    }
    return parsed;
  }

  /** A bare IP address of the given family (any when omitted). */
  ip(path: string, value: unknown, version?: 4 | 6): void {
    if (typeof value !== 'string' || value === '') return;
    const parsed = parseIP(value);
    if (!parsed) this.add(path, value, 'must be a valid IP address');
    else if (version && parsed.version !== version) this.add(path, value, `must be an IPv${version} address, not IPv${parsed.version}`);
  }

  name(path: string, value: unknown): void {
    if (typeof value === 'string' && value !== '' && !isValidName(value)) {
      this.add(path, value, 'must be a DNS-1123 subdomain (lower case alphanumerics, "-" and ".")');
    }
  }

  duration(path: string, value: unknown): void {
    if (typeof value === 'string' && value !== '' && !isValidDuration(value)) {
      this.add(path, value, 'must be a duration such as "90s", "2m0s" or "1h30m"');
    }
  }

  mac(path: string, value: unknown): void {
    if (typeof value === 'string' && value !== '' && !isValidMAC(value)) this.add(path, value, 'must be a MAC address');
  }
}

// ---------------------------------------------------------------------------------------------
// Metadata

function checkMetadata(c: Collector, kind: ResourceKind, metadata: unknown): void {
  if (!isObj(metadata)) {
    c.add('metadata', metadata, 'metadata must be an object');
    return;
  }
  const info = KINDS[kind];
  const name = metadata.name;
  if (typeof name !== 'string' || name === '') {
    // The client computes WorkloadEndpoint names; every other kind needs one.
    if (kind !== 'WorkloadEndpoint') c.add('metadata.name', name, 'name is required');
  } else {
    let problem: string | undefined;
    if (kind === 'Tier') problem = checkLabelName(name);
    else if (kind === 'GlobalNetworkPolicy') problem = checkGlobalNetworkPolicyName(name);
    else if (kind === 'NetworkPolicy') problem = checkNetworkPolicyName(name);
    else problem = checkSubdomainName(name);
    if (problem) c.add('metadata.name', name, problem);
    const singleton = (info as { singletonName?: string }).singletonName;
    if (singleton !== undefined && name !== singleton) {
      c.add('metadata.name', name, `${kind} is a singleton: the only accepted name is "${singleton}"`);
    }
  }
  const namespace = metadata.namespace;
  if (info.namespaced) {
    if (typeof namespace !== 'string' || namespace === '') {
      c.add('metadata.namespace', namespace, `${kind} is namespaced: metadata.namespace is required`);
    } else {
      const problem = checkLabelName(namespace);
      if (problem) c.add('metadata.namespace', namespace, problem);
    }
  } else if (namespace !== undefined && namespace !== null && namespace !== '') {
    c.add('metadata.namespace', namespace, `${kind} is cluster-scoped: metadata.namespace must not be set`);
  }
  if (isObj(metadata.labels)) {
    for (const [key, value] of Object.entries(metadata.labels)) {
      const keyProblem = checkQualifiedName(key);
      if (keyProblem) c.add(`metadata.labels.${key}`, key, `invalid label key: ${keyProblem}`);
      if (typeof value === 'string') {
        const valueProblem = checkLabelValue(value);
        if (valueProblem) c.add(`metadata.labels.${key}`, value, `invalid label value: ${valueProblem}`);
      }
    }
    if ((kind === 'NetworkSet' || kind === 'GlobalNetworkSet') && 'projectcalico.org/namespace' in metadata.labels) {
      c.add('metadata.labels.projectcalico.org/namespace', metadata.labels['projectcalico.org/namespace'], 'this label is reserved and not allowed on network sets');
    }
  }
  if (isObj(metadata.annotations)) {
    let size = 0;
    for (const [key, value] of Object.entries(metadata.annotations)) {
      const keyProblem = checkQualifiedName(key.toLowerCase());
      if (keyProblem) c.add(`metadata.annotations.${key}`, key, `invalid annotation key: ${keyProblem}`);
      size += key.length + (typeof value === 'string' ? value.length : 0);
    }
    if (size > 256 * 1024) {
      c.add('metadata.annotations', undefined, `total size of annotations is too large by ${size - 256 * 1024} bytes`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Per-kind rules

function enabledMode(mode: unknown): boolean {
  return typeof mode === 'string' && mode !== '' && mode !== 'Never';
}

function checkIPPool(c: Collector, spec: Obj): void {
  const cidrText = spec.cidr;
  let pool: ParsedCIDR | undefined;
  if (cidrText === undefined || cidrText === null || cidrText === '') {
    c.add('spec.cidr', cidrText, 'IPPool CIDR must be specified');
  } else if (typeof cidrText === 'string' && !cidrText.includes('/')) {
    c.add('spec.cidr', cidrText, 'IPPool CIDR must be a valid subnet: a prefix length is required (e.g. 10.0.0.0/16)');
  } else {
    // Parsed separately from the mask check so that a pool with host bits still gets its
    // family-dependent checks.
    pool = c.cidr('spec.cidr', cidrText);
    if (pool && !isMasked(pool)) {
      c.add('spec.cidr', cidrText, `IPPool CIDR is not strictly masked: host bits are set (the network is ${canonicalCIDR(pool)})`);
    }
  }
  if (pool) {
    const linkLocal = pool.version === 4 ? LINK_LOCAL_V4 : LINK_LOCAL_V6;
    if (cidrsOverlap(pool, linkLocal)) {
      c.add('spec.cidr', cidrText, `IPPool CIDR overlaps with the IPv${pool.version} link-local range ${canonicalCIDR(linkLocal)}`);
    }
    const blockSize = typeof spec.blockSize === 'number' && spec.blockSize !== 0 ? spec.blockSize : undefined;
    if (blockSize !== undefined) {
      const [min, max] = pool.version === 4 ? [20, 32] : [116, 128];
      if (blockSize < min || blockSize > max) {
        c.add('spec.blockSize', spec.blockSize, `block size must be between ${min} and ${max} for IPv${pool.version} pools`);
      }
    }
    const effective = blockSize ?? (pool.version === 4 ? 26 : 122);
    if (spec.disabled !== true && pool.prefixLength > effective) {
      c.add(
        'spec.cidr',
        cidrText,
        `IP pool size is too small for use with Calico IPAM: the prefix length /${pool.prefixLength} must not exceed the block size ${effective}`,
      );
    }
    if (pool.version === 6 && enabledMode(spec.ipipMode)) {
      c.add('spec.ipipMode', spec.ipipMode, 'IPIP is not supported on IPv6 pools');
    }
  }
  if (enabledMode(spec.ipipMode) && enabledMode(spec.vxlanMode)) {
    c.add('spec.vxlanMode', spec.vxlanMode, 'ipipMode and vxlanMode cannot both be enabled');
  }
  c.selector('spec.nodeSelector', spec.nodeSelector);
  c.selector('spec.namespaceSelector', spec.namespaceSelector);
  const uses = list(spec.allowedUses);
  const seen = new Set<unknown>();
  uses.forEach((use, index) => {
    if (seen.has(use)) c.add(`spec.allowedUses[${index}]`, use, 'duplicate allowed use');
    seen.add(use);
  });
  if (seen.has('LoadBalancer')) {
    if (seen.has('Workload') || seen.has('Tunnel')) {
      c.add('spec.allowedUses', spec.allowedUses, 'LoadBalancer cannot be combined with Workload or Tunnel allowed uses');
    }
    if (enabledMode(spec.ipipMode) || enabledMode(spec.vxlanMode)) {
      c.add('spec.allowedUses', spec.allowedUses, 'a LoadBalancer IP pool cannot have IPIP or VXLAN enabled');
    }
    if (spec.disableBGPExport === true) {
      c.add('spec.disableBGPExport', spec.disableBGPExport, 'LoadBalancer IP pools cannot disable BGP export');
    }
    if (spec.nodeSelector !== undefined && spec.nodeSelector !== 'all()') {
      c.add('spec.nodeSelector', spec.nodeSelector, 'an IP pool with allowed use LoadBalancer must have nodeSelector all()');
    }
  }
  if (seen.has('Tunnel') && str(spec.namespaceSelector)) {
    c.add('spec.namespaceSelector', spec.namespaceSelector, 'an IP pool with allowed use Tunnel cannot have a namespaceSelector');
  }
}

function checkIPReservation(c: Collector, spec: Obj): void {
  list(spec.reservedCIDRs).forEach((cidr, index) => c.cidr(`spec.reservedCIDRs[${index}]`, cidr));
}

function checkBlockAffinity(c: Collector, spec: Obj): void {
  if (str(spec.cidr)) {
    if (!(spec.cidr as string).includes('/')) c.add('spec.cidr', spec.cidr, 'must be a CIDR with a prefix length');
    else c.cidr('spec.cidr', spec.cidr, { masked: true });
  }
  if (spec.node === '') c.add('spec.node', spec.node, 'node must not be empty');
  if (spec.type !== undefined && spec.type !== '' && spec.type !== 'host' && spec.type !== 'virtual') {
    c.add('spec.type', spec.type, 'type must be "host" or "virtual"');
  }
  if (spec.deleted === true) c.add('spec.deleted', spec.deleted, 'spec.deleted cannot be set to true');
}

function checkNode(c: Collector, spec: Obj): void {
  if (spec.bgp !== undefined && spec.bgp !== null) {
    const bgp = isObj(spec.bgp) ? spec.bgp : {};
    if (isObj(spec.bgp) && Object.values(bgp).every((v) => v === undefined || v === null || v === '')) {
      c.add('spec.bgp', spec.bgp, 'spec.bgp must not be empty when present');
    }
    if (str(bgp.ipv4Address)) c.cidr('spec.bgp.ipv4Address', bgp.ipv4Address, { version: 4 });
    if (str(bgp.ipv6Address)) c.cidr('spec.bgp.ipv6Address', bgp.ipv6Address, { version: 6 });
    c.ip('spec.bgp.ipv4IPIPTunnelAddr', bgp.ipv4IPIPTunnelAddr, 4);
    c.ip('spec.bgp.routeReflectorClusterID', bgp.routeReflectorClusterID, 4);
  }
  c.ip('spec.ipv4VXLANTunnelAddr', spec.ipv4VXLANTunnelAddr, 4);
  c.ip('spec.ipv6VXLANTunnelAddr', spec.ipv6VXLANTunnelAddr, 6);
  c.mac('spec.vxlanTunnelMACAddr', spec.vxlanTunnelMACAddr);
  c.mac('spec.vxlanTunnelMACAddrV6', spec.vxlanTunnelMACAddrV6);
  if (isObj(spec.wireguard)) {
    c.ip('spec.wireguard.interfaceIPv4Address', spec.wireguard.interfaceIPv4Address, 4);
    c.ip('spec.wireguard.interfaceIPv6Address', spec.wireguard.interfaceIPv6Address, 6);
  }
  list(spec.addresses).forEach((entry, index) => {
    if (isObj(entry)) {
      if (entry.address === undefined || entry.address === '') c.add(`spec.addresses[${index}].address`, entry.address, 'address is required');
      else c.cidr(`spec.addresses[${index}].address`, entry.address, { masked: true });
    }
  });
  list(spec.interfaces).forEach((entry, index) => {
    if (isObj(entry)) c.name(`spec.interfaces[${index}].name`, entry.name);
  });
}

function checkWorkloadEndpoint(c: Collector, resource: Obj, spec: Obj): void {
  for (const field of ['orchestrator', 'workload', 'node', 'pod', 'endpoint', 'serviceAccountName'] as const) {
    c.name(`spec.${field}`, spec[field]);
  }
  if (typeof spec.containerID === 'string' && spec.containerID !== '' && !isValidContainerID(spec.containerID)) {
    c.add('spec.containerID', spec.containerID, 'must match [a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?');
  }
  const networks: ParsedCIDR[] = [];
  list(spec.ipNetworks).forEach((net, index) => {
    const parsed = c.cidr(`spec.ipNetworks[${index}]`, net, { single: true });
    if (parsed) networks.push(parsed);
  });
  c.ip('spec.ipv4Gateway', spec.ipv4Gateway, 4);
  c.ip('spec.ipv6Gateway', spec.ipv6Gateway, 6);
  list(spec.ipNATs).forEach((nat, index) => {
    if (!isObj(nat)) return;
    const internal = typeof nat.internalIP === 'string' ? parseIP(nat.internalIP) : undefined;
    const external = typeof nat.externalIP === 'string' ? parseIP(nat.externalIP) : undefined;
    c.ip(`spec.ipNATs[${index}].internalIP`, nat.internalIP);
    c.ip(`spec.ipNATs[${index}].externalIP`, nat.externalIP);
    if (internal && external && internal.version !== external.version) {
      c.add(`spec.ipNATs[${index}]`, nat, 'internalIP and externalIP must be of the same IP family');
    }
    if (internal && !networks.some((n) => cidrContains(n, internal))) {
      c.add(`spec.ipNATs[${index}].internalIP`, nat.internalIP, 'NAT internal IP is not in the endpoint networks');
    }
  });
  list(spec.profiles).forEach((p, index) => c.name(`spec.profiles[${index}]`, p));
  if (typeof spec.interfaceName !== 'string' || spec.interfaceName === '') {
    c.add('spec.interfaceName', spec.interfaceName, 'interfaceName is required');
  } else if (!isValidInterfaceName(spec.interfaceName, false)) {
    c.add('spec.interfaceName', spec.interfaceName, 'must be 1-15 characters of [a-zA-Z0-9_.-]');
  }
  c.mac('spec.mac', spec.mac);
  list(spec.ports).forEach((port, index) => {
    if (!isObj(port)) return;
    const path = `spec.ports[${index}]`;
    if (typeof port.name === 'string' && port.name !== '') {
      const problem = checkPortName(port.name);
      if (problem) c.add(`${path}.name`, port.name, `invalid port name: ${problem}`);
    } else if (!(typeof port.hostPort === 'number' && port.hostPort > 0)) {
      c.add(`${path}.name`, port.name, 'port name must not be empty if no hostPort is specified');
    }
    checkEndpointPortProtocol(c, path, port.protocol);
    if (typeof port.port === 'number' && port.port <= 0) c.add(`${path}.port`, port.port, 'port must be greater than 0');
    if (str(port.hostIP)) c.cidr(`${path}.hostIP`, port.hostIP, { masked: true });
  });
  list(spec.allowSpoofedSourcePrefixes).forEach((p, index) => c.cidr(`spec.allowSpoofedSourcePrefixes[${index}]`, p));

  // The name must be the escaped identifier join when it can be computed.
  const metadata = isObj(resource.metadata) ? resource.metadata : {};
  const computed = tryWorkloadEndpointName(spec);
  if (typeof metadata.name === 'string' && metadata.name !== '') {
    if (computed !== undefined && computed !== metadata.name) {
      c.add('metadata.name', metadata.name, `WorkloadEndpoint name does not match its identifiers: expected "${computed}"`);
    }
  } else if (computed === undefined) {
    c.add('metadata.name', metadata.name, 'name is required (it can only be computed when node, orchestrator, endpoint and pod/containerID/workload are set)');
  }
}

function tryWorkloadEndpointName(spec: Obj): string | undefined {
  try {
    return workloadEndpointName(spec as never);
  } catch {
    return undefined;
  }
}

function checkEndpointPortProtocol(c: Collector, path: string, protocol: unknown): void {
  if (protocol === undefined || protocol === null || protocol === '') {
    c.add(`${path}.protocol`, protocol, 'protocol is required');
    return;
  }
  const problem = checkProtocol(protocol);
  if (problem) c.add(`${path}.protocol`, protocol, problem);
  else if (!protocolSupportsPorts(protocol)) c.add(`${path}.protocol`, protocol, 'protocol does not support ports (use TCP, UDP or SCTP)');
}

function checkHostEndpoint(c: Collector, spec: Obj): void {
  if (!str(spec.node)) c.add('spec.node', spec.node, 'node must be specified');
  else c.name('spec.node', spec.node);
  if (typeof spec.interfaceName === 'string' && spec.interfaceName !== '' && !isValidInterfaceName(spec.interfaceName, true)) {
    c.add('spec.interfaceName', spec.interfaceName, 'must be "*" or 1-15 characters of [a-zA-Z0-9_.-]');
  }
  if (!str(spec.interfaceName) && list(spec.expectedIPs).length === 0) {
    c.add('spec', undefined, 'at least one of interfaceName or expectedIPs must be specified');
  }
  list(spec.expectedIPs).forEach((ip, index) => c.ip(`spec.expectedIPs[${index}]`, ip));
  list(spec.profiles).forEach((p, index) => c.name(`spec.profiles[${index}]`, p));
  list(spec.ports).forEach((port, index) => {
    if (!isObj(port)) return;
    const path = `spec.ports[${index}]`;
    if (typeof port.name === 'string') {
      const problem = checkPortName(port.name);
      if (problem) c.add(`${path}.name`, port.name, `invalid port name: ${problem}`);
    }
    if (port.protocol !== undefined) checkEndpointPortProtocol(c, path, port.protocol);
  });
}

const DEFAULT_ONLY_BGP_FIELDS = [
  'nodeToNodeMeshEnabled',
  'asNumber',
  'serviceLoadBalancerIPs',
  'serviceExternalIPs',
  'serviceClusterIPs',
  'nodeMeshPassword',
  'nodeMeshMaxRestartTime',
] as const;

function checkBGPConfiguration(c: Collector, name: unknown, spec: Obj): void {
  if (typeof name === 'string' && name !== 'default') {
    for (const field of DEFAULT_ONLY_BGP_FIELDS) {
      if (spec[field] !== undefined && spec[field] !== null) {
        c.add(`spec.${field}`, spec[field], `${field} may only be set on the global BGPConfiguration named "default"`);
      }
    }
  }
  for (const field of ['serviceLoadBalancerIPs', 'serviceExternalIPs', 'serviceClusterIPs'] as const) {
    list(spec[field]).forEach((block, index) => {
      if (isObj(block) && str(block.cidr)) c.cidr(`spec.${field}[${index}].cidr`, block.cidr, { masked: true });
    });
  }
  const communities = list(spec.communities).filter(isObj);
  list(spec.communities).forEach((community, index) => {
    if (!isObj(community)) return;
    if (!str(community.name)) c.add(`spec.communities[${index}].name`, community.name, 'community name is required');
    else c.name(`spec.communities[${index}].name`, community.name);
    if (!str(community.value)) c.add(`spec.communities[${index}].value`, community.value, 'community value is required');
    else {
      const problem = checkCommunityValue(community.value as string);
      if (problem) c.add(`spec.communities[${index}].value`, community.value, problem);
    }
  });
  const advertisements = list(spec.prefixAdvertisements);
  if (communities.length > 0 && advertisements.length === 0) {
    c.add('spec.communities', spec.communities, 'communities are defined but not used in prefixAdvertisements');
  }
  advertisements.forEach((entry, index) => {
    if (!isObj(entry)) return;
    const path = `spec.prefixAdvertisements[${index}]`;
    if (!str(entry.cidr)) c.add(`${path}.cidr`, entry.cidr, 'cidr is required');
    else c.cidr(`${path}.cidr`, entry.cidr, { masked: true });
    if (!Array.isArray(entry.communities)) c.add(`${path}.communities`, entry.communities, 'communities are required');
    list(entry.communities).forEach((value, j) => {
      if (typeof value !== 'string') return;
      const isLiteral = /^\d+:\d+(:\d+)?$/.test(value);
      if (isLiteral) {
        const problem = checkCommunityValue(value);
        if (problem) c.add(`${path}.communities[${j}]`, value, problem);
      } else if (!communities.some((community) => community.name === value)) {
        c.add(`${path}.communities[${j}]`, value, 'community is neither a valid value nor the name of an entry in spec.communities');
      }
    });
  });
  if (spec.nodeToNodeMeshEnabled === false) {
    if (spec.nodeMeshPassword !== undefined && spec.nodeMeshPassword !== null) {
      c.add('spec.nodeMeshPassword', spec.nodeMeshPassword, 'nodeMeshPassword cannot be set when nodeToNodeMeshEnabled is false');
    }
    if (spec.nodeMeshMaxRestartTime !== undefined && spec.nodeMeshMaxRestartTime !== null) {
      c.add('spec.nodeMeshMaxRestartTime', spec.nodeMeshMaxRestartTime, 'nodeMeshMaxRestartTime cannot be set when nodeToNodeMeshEnabled is false');
    }
  }
  c.duration('spec.nodeMeshMaxRestartTime', spec.nodeMeshMaxRestartTime);
  list(spec.ignoredInterfaces).forEach((iface, index) => {
    if (typeof iface === 'string' && !isValidInterfaceGlob(iface)) {
      c.add(`spec.ignoredInterfaces[${index}]`, iface, 'must be 1-15 characters of [a-zA-Z0-9_.*-]');
    }
  });
  c.ip('spec.localWorkloadPeeringIPV4', spec.localWorkloadPeeringIPV4, 4);
  c.ip('spec.localWorkloadPeeringIPV6', spec.localWorkloadPeeringIPV6, 6);
}

/** Splits a BGPPeer `peerIP` (`ip`, `ipv4:port`, `[ipv6]:port`); undefined when malformed. */
export function parsePeerIP(text: string): { ip: string; port?: number } | undefined {
  let ip = text;
  let port: number | undefined;
  const v4 = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(text);
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text);
  const match = v4 ?? v6;
  if (match) {
    ip = match[1]!;
    port = Number(match[2]);
    if (!/^\d{1,5}$/.test(match[2]!) || port < 1 || port > 65535) return undefined;
  }
  const parsed = parseIP(ip);
  if (!parsed || (v4 && parsed.version !== 4) || (v6 && parsed.version !== 6)) return undefined;
  return port === undefined ? { ip } : { ip, port };
}

function checkBGPPeer(c: Collector, spec: Obj): void {
  c.name('spec.node', spec.node);
  c.selector('spec.nodeSelector', spec.nodeSelector);
  c.selector('spec.peerSelector', spec.peerSelector);
  c.selector('spec.localWorkloadSelector', spec.localWorkloadSelector);
  let peer: ReturnType<typeof parsePeerIP>;
  if (typeof spec.peerIP === 'string' && spec.peerIP !== '') {
    peer = parsePeerIP(spec.peerIP);
    if (!peer) c.add('spec.peerIP', spec.peerIP, 'peerIP must be "<IP>", "<IPv4>:<port>" or "[<IPv6>]:<port>" with port 1-65535');
  }
  const asNumber = parseASNumber(spec.asNumber) ?? 0;
  if (str(spec.node) && str(spec.nodeSelector)) c.add('spec.nodeSelector', spec.nodeSelector, 'node and nodeSelector cannot both be set');
  if (str(spec.peerIP) && str(spec.peerSelector)) c.add('spec.peerSelector', spec.peerSelector, 'peerIP and peerSelector cannot both be set');
  if (str(spec.peerSelector) && asNumber !== 0) c.add('spec.asNumber', spec.asNumber, 'asNumber must be empty when peerSelector is set');
  if (str(spec.localWorkloadSelector)) {
    if (str(spec.peerIP)) c.add('spec.peerIP', spec.peerIP, 'peerIP must be empty when localWorkloadSelector is set');
    if (str(spec.peerSelector)) c.add('spec.peerSelector', spec.peerSelector, 'peerSelector must be empty when localWorkloadSelector is set');
    if (asNumber === 0) c.add('spec.asNumber', spec.asNumber, 'asNumber is required when localWorkloadSelector is set');
  }
  if (str(spec.reachableBy)) {
    const via = parseIP(spec.reachableBy as string);
    if (!via) c.add('spec.reachableBy', spec.reachableBy, 'reachableBy must be a valid IP address');
    if (!str(spec.peerIP)) c.add('spec.reachableBy', spec.reachableBy, 'reachableBy must be empty when peerIP is empty');
    else if (via && peer) {
      const peerAddress = parseIP(peer.ip);
      if (peerAddress && peerAddress.version !== via.version) {
        c.add('spec.reachableBy', spec.reachableBy, 'reachableBy and peerIP address families do not match');
      }
    }
  }
  if (spec.keepOriginalNextHop === true && spec.nextHopMode !== undefined && spec.nextHopMode !== null) {
    c.add('spec.keepOriginalNextHop', spec.keepOriginalNextHop, 'keepOriginalNextHop and nextHopMode cannot both be set; keepOriginalNextHop is deprecated, use nextHopMode');
  }
  if (spec.reversePeering !== undefined && spec.reversePeering !== '' && spec.reversePeering !== 'Auto' && spec.reversePeering !== 'Manual') {
    c.add('spec.reversePeering', spec.reversePeering, 'must be one of "Auto", "Manual"');
  }
  if (typeof spec.ttlSecurity === 'number' && (spec.ttlSecurity < 0 || spec.ttlSecurity > 255)) {
    c.add('spec.ttlSecurity', spec.ttlSecurity, 'must be 0-255');
  }
  c.duration('spec.maxRestartTime', spec.maxRestartTime);
  c.duration('spec.keepaliveTime', spec.keepaliveTime);
  list(spec.filters).forEach((f, index) => c.name(`spec.filters[${index}]`, f));
}

function checkBGPFilter(c: Collector, spec: Obj): void {
  for (const field of ['exportV4', 'importV4', 'exportV6', 'importV6'] as const) {
    const version = field.endsWith('V4') ? 4 : 6;
    list(spec[field]).forEach((rule, index) => {
      if (!isObj(rule)) return;
      const path = `spec.${field}[${index}]`;
      if (str(rule.cidr)) c.cidr(`${path}.cidr`, rule.cidr, { version, masked: true });
      const hasCIDR = str(rule.cidr) !== undefined;
      if (hasCIDR !== (str(rule.matchOperator) !== undefined)) {
        c.add(`${path}.matchOperator`, rule.matchOperator, 'cidr and matchOperator must both be set or both be empty');
      }
      if (rule.prefixLength !== undefined && rule.prefixLength !== null) {
        if (!hasCIDR) c.add(`${path}.prefixLength`, rule.prefixLength, 'cidr is required when prefixLength is set');
        if (isObj(rule.prefixLength)) {
          const { min, max } = rule.prefixLength;
          if (typeof min === 'number' && typeof max === 'number' && min > max) {
            c.add(`${path}.prefixLength`, rule.prefixLength, 'prefixLength min must not exceed max');
          }
          const cidr = typeof rule.cidr === 'string' ? parseCIDROrIP(rule.cidr) : undefined;
          if (cidr && typeof min === 'number' && min < cidr.prefixLength) {
            c.add(`${path}.prefixLength.min`, min, `must not be shorter than the cidr prefix length ${cidr.prefixLength}`);
          }
        }
      }
      if (typeof rule.interface === 'string' && rule.interface !== '' && !isValidInterfaceGlob(rule.interface)) {
        c.add(`${path}.interface`, rule.interface, 'must be 1-15 characters of [a-zA-Z0-9_.*-]');
      }
      const operations = list(rule.operations);
      if (operations.length > 0 && rule.action !== 'Accept') {
        c.add(`${path}.operations`, rule.operations, 'operations may only be used with action Accept');
      }
      operations.forEach((op, j) => {
        if (!isObj(op)) return;
        const set = ['addCommunity', 'prependASPath', 'setPriority'].filter((k) => op[k] !== undefined && op[k] !== null);
        if (set.length !== 1) c.add(`${path}.operations[${j}]`, op, 'exactly one of addCommunity, prependASPath, setPriority must be set');
      });
    });
  }
}

function checkFelixConfiguration(c: Collector, name: unknown, spec: Obj): void {
  if (str(spec.nodeSelector)) {
    if (name === 'default' || (typeof name === 'string' && name.startsWith('node.'))) {
      c.add('spec.nodeSelector', spec.nodeSelector, 'nodeSelector cannot be set on the "default" or "node.*" FelixConfiguration');
    }
    c.selector('spec.nodeSelector', spec.nodeSelector);
  }
  if (spec.routeTableRange !== undefined && spec.routeTableRange !== null && spec.routeTableRanges !== undefined && spec.routeTableRanges !== null) {
    c.add('spec.routeTableRanges', spec.routeTableRanges, 'routeTableRanges cannot be combined with the deprecated routeTableRange');
  }
  if (isObj(spec.routeTableRange)) {
    const { min, max } = spec.routeTableRange;
    if (typeof min === 'number' && typeof max === 'number' && !(min >= 1 && max >= min && max <= 250)) {
      c.add('spec.routeTableRange', spec.routeTableRange, 'must be a range of route table indices within 1..250');
    }
  }
  list(spec.routeTableRanges).forEach((range, index) => {
    if (!isObj(range)) return;
    const { min, max } = range;
    if (typeof min === 'number' && min < 1) c.add(`spec.routeTableRanges[${index}].min`, min, 'min must be >= 1');
    if (typeof min === 'number' && typeof max === 'number' && min > max) c.add(`spec.routeTableRanges[${index}]`, range, 'min must not be greater than max');
    if (typeof max === 'number' && max > 0xffffffff) c.add(`spec.routeTableRanges[${index}].max`, max, 'max must be at most 4294967295');
  });
  for (const field of ['vxlanPort', 'wireguardListeningPort', 'wireguardListeningPortV6'] as const) {
    const value = spec[field];
    if (typeof value === 'number' && (value < 1 || value > 65535)) c.add(`spec.${field}`, value, 'must be a port 1-65535');
  }
  if (typeof spec.wireguardRoutingRulePriority === 'number') {
    const value = spec.wireguardRoutingRulePriority;
    if (value < 1 || value > 32765) c.add('spec.wireguardRoutingRulePriority', value, 'must be 1-32765');
  }
  c.ip('spec.natOutgoingAddress', spec.natOutgoingAddress, 4);
  c.ip('spec.deviceRouteSourceAddress', spec.deviceRouteSourceAddress, 4);
  c.ip('spec.deviceRouteSourceAddressIPv6', spec.deviceRouteSourceAddressIPv6, 6);
  list(spec.externalNodesList).forEach((cidr, index) => c.cidr(`spec.externalNodesList[${index}]`, cidr, { version: 4 }));
  if (typeof spec.interfacePrefix === 'string' && spec.interfacePrefix !== '' && !/^[a-zA-Z0-9_.,-]+$/.test(spec.interfacePrefix)) {
    c.add('spec.interfacePrefix', spec.interfacePrefix, 'must be a comma-separated list of interface name prefixes');
  }
  if (typeof spec.mtuIfacePattern === 'string' && spec.mtuIfacePattern !== '') {
    try {
      new RegExp(spec.mtuIfacePattern);
    } catch {
      c.add('spec.mtuIfacePattern', spec.mtuIfacePattern, 'must be a valid regular expression');
    }
  }
}

function checkKubeControllersConfiguration(c: Collector, spec: Obj): void {
  c.duration('spec.etcdV3CompactionPeriod', spec.etcdV3CompactionPeriod);
  const controllers = isObj(spec.controllers) ? spec.controllers : {};
  for (const name of ['node', 'policy', 'workloadEndpoint', 'serviceAccount', 'namespace'] as const) {
    const sub = controllers[name];
    if (isObj(sub)) c.duration(`spec.controllers.${name}.reconcilerPeriod`, sub.reconcilerPeriod);
  }
  const node = isObj(controllers.node) ? controllers.node : undefined;
  if (node) {
    c.duration('spec.controllers.node.leakGracePeriod', node.leakGracePeriod);
    const hep = isObj(node.hostEndpoint) ? node.hostEndpoint : undefined;
    const names = new Set<string>();
    list(hep?.templates).forEach((template, index) => {
      if (!isObj(template)) return;
      const path = `spec.controllers.node.hostEndpoint.templates[${index}]`;
      if (!str(template.generateName)) c.add(`${path}.generateName`, template.generateName, 'generateName is required');
      else if (names.has(template.generateName as string)) c.add(`${path}.generateName`, template.generateName, 'generateName must be unique');
      else names.add(template.generateName as string);
      if (list(template.interfaceCIDRs).length === 0 && !str(template.interfacePattern)) {
        c.add(path, template, 'either interfaceCIDRs or interfacePattern must be set');
      }
      list(template.interfaceCIDRs).forEach((cidr, j) => c.cidr(`${path}.interfaceCIDRs[${j}]`, cidr));
      c.selector(`${path}.nodeSelector`, template.nodeSelector);
    });
  }
}

function checkRules(c: Collector, path: string, rules: unknown, direction: 'ingress' | 'egress'): void {
  list(rules).forEach((rule, index) => {
    if (!isObj(rule)) return;
    const at = `${path}[${index}]`;
    for (const field of ['protocol', 'notProtocol'] as const) {
      if (rule[field] !== undefined && rule[field] !== null) {
        const problem = checkProtocol(rule[field]);
        if (problem) c.add(`${at}.${field}`, rule[field], problem);
      }
    }
    if (isObj(rule.http)) {
      if (rule.action !== 'Allow') c.add(`${at}.http`, rule.http, 'HTTP match is only valid on Allow rules');
      if (rule.protocol !== undefined && rule.protocol !== 'TCP' && rule.protocol !== 6) {
        c.add(`${at}.protocol`, rule.protocol, 'rules with HTTP match must have protocol TCP or unset');
      }
    }
    for (const field of ['icmp', 'notICMP'] as const) {
      const icmp = rule[field];
      if (isObj(icmp) && icmp.code !== undefined && icmp.code !== null && (icmp.type === undefined || icmp.type === null)) {
        c.add(`${at}.${field}.code`, icmp.code, 'ICMP code specified without an ICMP type');
      }
    }
    for (const side of ['source', 'destination'] as const) {
      const entity = rule[side];
      if (!isObj(entity)) continue;
      const ep = `${at}.${side}`;
      list(entity.nets).forEach((n, j) => c.cidr(`${ep}.nets[${j}]`, n));
      list(entity.notNets).forEach((n, j) => c.cidr(`${ep}.notNets[${j}]`, n));
      c.selector(`${ep}.selector`, entity.selector);
      c.selector(`${ep}.notSelector`, entity.notSelector);
      c.selector(`${ep}.namespaceSelector`, entity.namespaceSelector, true);
      if (isObj(entity.serviceAccounts)) c.selector(`${ep}.serviceAccounts.selector`, entity.serviceAccounts.selector);
      for (const portsField of ['ports', 'notPorts'] as const) {
        const ports = list(entity[portsField]);
        ports.forEach((p, j) => {
          const problem = checkRulePort(p);
          if (problem) c.add(`${ep}.${portsField}[${j}]`, p, problem);
        });
        if (ports.length > 0 && !protocolSupportsPorts(rule.protocol)) {
          c.add(`${at}.protocol`, rule.protocol, 'rules that specify ports must set protocol to TCP, UDP or SCTP');
        }
      }
      if (isObj(entity.services)) {
        if (str(entity.namespaceSelector) || str(entity.selector) || str(entity.notSelector) || list(entity.nets).length > 0 || list(entity.notNets).length > 0 || isObj(entity.serviceAccounts)) {
          c.add(`${ep}.services`, entity.services, 'services cannot be combined with selectors, nets or serviceAccounts');
        }
        if ((side === 'destination' && direction === 'ingress') || (side === 'source' && direction === 'egress')) {
          c.add(`${ep}.services`, entity.services, `services can only be used in the ${direction === 'ingress' ? 'source' : 'destination'} of ${direction} rules`);
        }
      }
    }
  });
}

function checkPolicy(c: Collector, kind: ResourceKind, spec: Obj): void {
  c.selector('spec.selector', spec.selector);
  c.selector('spec.serviceAccountSelector', spec.serviceAccountSelector);
  if (kind === 'GlobalNetworkPolicy') c.selector('spec.namespaceSelector', spec.namespaceSelector);
  if (str(spec.tier)) {
    const problem = checkLabelName(spec.tier as string);
    if (problem) c.add('spec.tier', spec.tier, `invalid tier name: ${problem}`);
  }
  const types = list(spec.types);
  if (new Set(types).size !== types.length) c.add('spec.types', spec.types, 'types must not contain duplicates');
  checkRules(c, 'spec.ingress', spec.ingress, 'ingress');
  checkRules(c, 'spec.egress', spec.egress, 'egress');
  if (kind === 'GlobalNetworkPolicy') {
    if (spec.doNotTrack === true && spec.preDNAT === true) c.add('spec.preDNAT', spec.preDNAT, 'preDNAT and doNotTrack cannot both be true');
    if ((spec.doNotTrack === true || spec.preDNAT === true) && spec.applyOnForward !== true) {
      c.add('spec.applyOnForward', spec.applyOnForward, 'applyOnForward must be true when doNotTrack or preDNAT is true');
    }
    if (spec.preDNAT === true) {
      if (list(spec.egress).length > 0) c.add('spec.egress', spec.egress, 'preDNAT policy cannot have egress rules');
      if (types.includes('Egress')) c.add('spec.types', spec.types, 'preDNAT policy cannot have the Egress type');
    }
  }
}

function checkNets(c: Collector, spec: Obj): void {
  list(spec.nets).forEach((n, index) => c.cidr(`spec.nets[${index}]`, n));
}

function checkTier(c: Collector, name: unknown, spec: Obj): void {
  const fixed: Record<string, [number, string]> = {
    default: [1_000_000, 'Deny'],
    'kube-admin': [1_000, 'Pass'],
    'kube-baseline': [10_000_000, 'Pass'],
  };
  if (typeof name === 'string' && Object.prototype.hasOwnProperty.call(fixed, name)) {
    const [order, action] = fixed[name]!;
    if (spec.order !== order) c.add('spec.order', spec.order, `the "${name}" tier must have order ${order}`);
    if ((spec.defaultAction ?? 'Deny') !== action) c.add('spec.defaultAction', spec.defaultAction, `the "${name}" tier must have default action ${action}`);
  }
}

function checkClusterInformation(c: Collector, spec: Obj): void {
  if (typeof spec.clusterGUID === 'string' && spec.clusterGUID !== '' && !/^[0-9a-f]{32}$/.test(spec.clusterGUID)) {
    c.add('spec.clusterGUID', spec.clusterGUID, 'must be 32 lowercase hexadecimal characters');
  }
}

// ---------------------------------------------------------------------------------------------
// Entry points

/**
 * Returns every problem found in `resource` (an empty list when it is valid). Never throws:
 * any input, including non-objects and wrongly typed fields, yields field errors.
 *
 * Field names are paths such as `spec.cidr`, `spec.allowedUses[1]`, `metadata.labels.app`.
 * Defaults are not applied first: validate the output of {@link applyDefaults} to check a
 * resource as Calico would store it.
 */
export function collectValidationErrors(resource: unknown): FieldError[] {
  const c = new Collector();
  if (!isObj(resource)) {
    c.add('', resource, 'a resource must be an object');
    return c.errors;
  }
  const kind = resource.kind;
  if (!isResourceKind(kind)) {
    c.add('kind', kind, typeof kind === 'string' && kind !== '' ? `unknown resource kind "${kind}"` : 'kind is required');
    return c.errors;
  }
  if (resource.apiVersion !== API_VERSION) {
    c.add('apiVersion', resource.apiVersion, `apiVersion must be "${API_VERSION}"`);
  }
  for (const key of Object.keys(resource)) {
    if (!['kind', 'apiVersion', 'metadata', 'spec', 'status'].includes(key)) c.add(key, resource[key], `unknown field "${key}"`);
  }
  const shapes = shapesOf(kind);
  checkShape(resource.metadata, METADATA_SHAPE, 'metadata', c.errors);
  checkMetadata(c, kind, resource.metadata);
  const spec = resource.spec;
  if (spec !== undefined && spec !== null && !isObj(spec)) {
    c.add('spec', spec, 'spec must be an object');
    return c.errors;
  }
  checkShape(spec ?? {}, shapes.spec, 'spec', c.errors);
  if (resource.status !== undefined && resource.status !== null) {
    if (shapes.status) checkShape(resource.status, shapes.status, 'status', c.errors);
    else c.add('status', resource.status, `${kind} has no status`);
  }
  const s: Obj = isObj(spec) ? spec : {};
  const name = isObj(resource.metadata) ? resource.metadata.name : undefined;
  switch (kind) {
    case 'IPPool':
      checkIPPool(c, s);
      break;
    case 'IPReservation':
      checkIPReservation(c, s);
      break;
    case 'IPAMConfiguration':
      break; // bounds and types come from the CRD shape
    case 'BlockAffinity':
      checkBlockAffinity(c, s);
      break;
    case 'Node':
      checkNode(c, s);
      break;
    case 'WorkloadEndpoint':
      checkWorkloadEndpoint(c, resource, s);
      break;
    case 'HostEndpoint':
      checkHostEndpoint(c, s);
      break;
    case 'BGPConfiguration':
      checkBGPConfiguration(c, name, s);
      break;
    case 'BGPPeer':
      checkBGPPeer(c, s);
      break;
    case 'BGPFilter':
      checkBGPFilter(c, s);
      break;
    case 'FelixConfiguration':
      checkFelixConfiguration(c, name, s);
      break;
    case 'ClusterInformation':
      checkClusterInformation(c, s);
      break;
    case 'NetworkPolicy':
    case 'GlobalNetworkPolicy':
      checkPolicy(c, kind, s);
      break;
    case 'Tier':
      checkTier(c, name, s);
      break;
    case 'Profile':
      checkRules(c, 'spec.ingress', s.ingress, 'ingress');
      checkRules(c, 'spec.egress', s.egress, 'egress');
      break;
    case 'NetworkSet':
    case 'GlobalNetworkSet':
      checkNets(c, s);
      break;
    case 'KubeControllersConfiguration':
      checkKubeControllersConfiguration(c, s);
      break;
  }
  return c.errors;
}

/**
 * Validates `resource` and returns it unchanged when valid.
 *
 * @throws ValidationError listing every problem (`fields: {name, value, reason}[]`), with the
 *   resource's kind/namespace/name as `identifier`.
 *
 * @example
 * ```ts
 * try {
 *   validateResource(newResource('IPPool', 'p', { cidr: '10.0.0.0/33' }));
 * } catch (error) {
 *   if (ValidationError.isInstance(error)) console.log((error as ValidationError).fields);
 *   // [{ name: 'spec.cidr', value: '10.0.0.0/33', reason: 'invalid CIDR: prefix length 33 is out of range for IPv4 (0-32)' }]
 * }
 * ```
 */
export function validateResource<R>(resource: R): R {
  const errors = collectValidationErrors(resource);
  if (errors.length > 0) {
    const r = resource as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
    const kind = typeof r?.kind === 'string' ? r.kind : '';
    const name = typeof r?.metadata?.name === 'string' ? r.metadata.name : '';
    const namespace = typeof r?.metadata?.namespace === 'string' ? r.metadata.namespace : undefined;
    throw new ValidationError(errors, kind ? { identifier: namespace ? { kind, name, namespace } : { kind, name } } : {});
  }
  return resource;
}
