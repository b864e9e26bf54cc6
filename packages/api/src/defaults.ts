/**
 * Defaulting of projectcalico.org/v3 resources, as Calico applies it before storing (CRD
 * schema defaults + the v3 client's defaulting) and again on read (reference datastore.md
 * §3.3, §4, §5).
 */
import { KINDS, isResourceKind } from './kinds.js';
import { canonicalCIDR, isMasked, parseCIDROrIP } from './internal/ip.js';
import { shapesOf, type Shape } from './internal/shapes.js';
import { canonicalProtocol, parseASNumber } from './internal/values.js';
import { workloadEndpointName } from './names.js';

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function clone<T>(value: T): T {
  if (Array.isArray(value)) return value.map(clone) as T;
  if (isObj(value)) {
    const out: Obj = {};
    for (const [key, item] of Object.entries(value)) out[key] = clone(item);
    return out as T;
  }
  return value;
}

/** Fills CRD schema defaults into `value` (in place): absent fields of present objects only. */
function fillSchemaDefaults(value: unknown, shape: Shape): void {
  if (shape.t === 'o' && isObj(value)) {
    for (const [key, child] of Object.entries(shape.props ?? {})) {
      if (value[key] === undefined && child.default !== undefined) value[key] = clone(child.default);
      if (value[key] !== undefined) fillSchemaDefaults(value[key], child);
    }
  } else if ((shape.t === 'l' && Array.isArray(value)) || (shape.t === 'm' && isObj(value))) {
    for (const item of Object.values(value as Obj)) if (shape.items) fillSchemaDefaults(item, shape.items);
  }
}

/** Converts decimal/asdot AS-number strings at `key` of `holder` to numbers (invalid ones are left for validation). */
function normaliseAS(holder: unknown, key: string): void {
  if (!isObj(holder) || typeof holder[key] !== 'string') return;
  const parsed = parseASNumber(holder[key]);
  if (parsed !== undefined) holder[key] = parsed;
}

function normaliseASList(holder: unknown, key: string): void {
  if (!isObj(holder) || !Array.isArray(holder[key])) return;
  holder[key] = (holder[key] as unknown[]).map((v) => (typeof v === 'string' ? parseASNumber(v) ?? v : v));
}

/** Spec key order of IPPool as Calico serialises it (Go struct order). */
const IPPOOL_ORDER = [
  'cidr',
  'vxlanMode',
  'ipipMode',
  'natOutgoing',
  'disabled',
  'disableBGPExport',
  'blockSize',
  'nodeSelector',
  'namespaceSelector',
  'allowedUses',
  'assignmentMode',
];

function reorder(spec: Obj, order: string[]): Obj {
  const out: Obj = {};
  for (const key of order) if (key in spec) out[key] = spec[key];
  for (const key of Object.keys(spec)) if (!(key in out)) out[key] = spec[key];
  return out;
}

function defaultIPPool(spec: Obj): Obj {
  const cidr = typeof spec.cidr === 'string' ? parseCIDROrIP(spec.cidr) : undefined;
  // Only the spelling is normalised: a CIDR with host bits stays as given so that validation reports it.
  if (cidr && cidr.hadPrefix && isMasked(cidr)) spec.cidr = canonicalCIDR(cidr);
  if (spec.vxlanMode === undefined || spec.vxlanMode === '') spec.vxlanMode = 'Never';
  if (spec.ipipMode === undefined || spec.ipipMode === '') spec.ipipMode = 'Never';
  if ((spec.blockSize === undefined || spec.blockSize === 0) && cidr?.hadPrefix) spec.blockSize = cidr.version === 4 ? 26 : 122;
  if (spec.nodeSelector === undefined || spec.nodeSelector === '') spec.nodeSelector = 'all()';
  if (!Array.isArray(spec.allowedUses) || spec.allowedUses.length === 0) spec.allowedUses = ['Workload', 'Tunnel'];
  if (spec.assignmentMode === undefined || spec.assignmentMode === null) spec.assignmentMode = 'Automatic';
  return reorder(spec, IPPOOL_ORDER);
}

function defaultIPAMConfiguration(spec: Obj): Obj {
  if (spec.strictAffinity === undefined) spec.strictAffinity = false;
  if (spec.autoAllocateBlocks === undefined) spec.autoAllocateBlocks = true;
  // maxBlocksPerHost 0 is Calico's "unset" (omitempty): the CRD default of 0 is not written back.
  if (spec.maxBlocksPerHost === 0) delete spec.maxBlocksPerHost;
  return reorder(spec, ['strictAffinity', 'autoAllocateBlocks', 'maxBlocksPerHost', 'kubeVirtVMAddressPersistence', 'ipCooldownSeconds']);
}

function defaultPolicyRules(rules: unknown): void {
  if (!Array.isArray(rules)) return;
  for (const rule of rules) {
    if (!isObj(rule)) continue;
    if (rule.protocol !== undefined) rule.protocol = canonicalProtocol(rule.protocol);
    if (rule.notProtocol !== undefined) rule.notProtocol = canonicalProtocol(rule.notProtocol);
  }
}

function defaultPolicy(metadata: Obj, spec: Obj): void {
  if (spec.tier === undefined || spec.tier === '') spec.tier = 'default';
  const ingress = Array.isArray(spec.ingress) ? spec.ingress : [];
  const egress = Array.isArray(spec.egress) ? spec.egress : [];
  if (!Array.isArray(spec.types) || spec.types.length === 0) {
    if (egress.length === 0) spec.types = ['Ingress'];
    else if (ingress.length === 0) spec.types = ['Egress'];
    else spec.types = ['Ingress', 'Egress'];
  }
  defaultPolicyRules(spec.ingress);
  defaultPolicyRules(spec.egress);
  const labels = isObj(metadata.labels) ? metadata.labels : {};
  labels['projectcalico.org/tier'] = String(spec.tier);
  metadata.labels = labels;
}

function defaultWorkloadEndpoint(metadata: Obj, spec: Obj): void {
  if (metadata.name === undefined || metadata.name === '') {
    try {
      metadata.name = workloadEndpointName(spec as never);
    } catch {
      // Left empty: validation reports which identifiers are missing.
    }
  }
  const labels = isObj(metadata.labels) ? metadata.labels : {};
  if (typeof metadata.namespace === 'string' && metadata.namespace !== '') labels['projectcalico.org/namespace'] = metadata.namespace;
  if (typeof spec.orchestrator === 'string' && spec.orchestrator !== '') {
    labels['projectcalico.org/orchestrator'] = spec.orchestrator;
    const sa = spec.serviceAccountName;
    if (spec.orchestrator === 'k8s' && typeof sa === 'string' && sa !== '' && sa.length < 63) {
      labels['projectcalico.org/serviceaccount'] = sa;
    }
  }
  if (Object.keys(labels).length > 0) metadata.labels = labels;
  if (Array.isArray(spec.ports)) {
    spec.ports = spec.ports.map((port) =>
      isObj(port)
        ? {
            name: port.name ?? '',
            protocol: canonicalProtocol(port.protocol),
            port: port.port ?? 0,
            hostPort: port.hostPort ?? 0,
            hostIP: port.hostIP ?? '',
            ...Object.fromEntries(Object.entries(port).filter(([k]) => !['name', 'protocol', 'port', 'hostPort', 'hostIP'].includes(k))),
          }
        : port,
    );
  }
  if (Array.isArray(spec.ipNATs)) {
    spec.ipNATs = spec.ipNATs.map((nat) => (isObj(nat) ? { internalIP: nat.internalIP ?? '', externalIP: nat.externalIP ?? '' } : nat));
  }
}

function defaultFelixConfiguration(spec: Obj): void {
  if (spec.floatingIPs === undefined) spec.floatingIPs = 'Disabled';
  if (spec.bpfConnectTimeLoadBalancing === undefined) spec.bpfConnectTimeLoadBalancing = 'TCP';
  if (spec.bpfHostNetworkedNATWithoutCTLB === undefined) spec.bpfHostNetworkedNATWithoutCTLB = 'Enabled';
  // The deprecated boolean wins over both fields when it is set.
  if (typeof spec.bpfConnectTimeLoadBalancingEnabled === 'boolean') {
    spec.bpfHostNetworkedNATWithoutCTLB = 'Disabled';
    spec.bpfConnectTimeLoadBalancing = spec.bpfConnectTimeLoadBalancingEnabled ? 'Enabled' : 'Disabled';
  }
}

function defaultKubeControllers(spec: Obj): void {
  if (spec.controllers === undefined || spec.controllers === null) spec.controllers = {};
  if (spec.prometheusMetricsPort === undefined) spec.prometheusMetricsPort = 9094;
  const controllers = spec.controllers;
  if (isObj(controllers)) {
    if (isObj(controllers.node) && controllers.node.leakGracePeriod === undefined) controllers.node.leakGracePeriod = '15m0s';
    if (isObj(controllers.loadBalancer) && (controllers.loadBalancer.assignIPs === undefined || controllers.loadBalancer.assignIPs === '')) {
      controllers.loadBalancer.assignIPs = 'AllServices';
    }
  }
}

/**
 * Returns a copy of `resource` with Calico's defaults applied; the input is not modified.
 * Unknown kinds and non-objects are returned as a copy, unchanged (validation reports them).
 *
 * What is filled (only where the field is absent/empty):
 * - every kind backed by a CRD: the CRD schema defaults (e.g. IPPool `nodeSelector: all()`,
 *   BGPConfiguration `logSeverityScreen: Info` and `serviceLoadBalancerAggregation: Enabled`,
 *   policy `tier: default`, Tier `defaultAction: Deny`, BlockAffinity `deleted: false`);
 * - IPPool: canonical spelling of a masked CIDR, `vxlanMode`/`ipipMode` `Never`, `blockSize`
 *   26 (IPv4) / 122 (IPv6), `nodeSelector` `all()`, `allowedUses` `["Workload","Tunnel"]`,
 *   `assignmentMode` `Automatic` (keys in Calico's order);
 * - IPAMConfiguration: `strictAffinity: false`, `autoAllocateBlocks: true`;
 * - Node: `status: {}`; AS numbers given as strings (`"64512"`, asdot `"1.10"`) become numbers
 *   (all kinds);
 * - WorkloadEndpoint: the computed name when empty, labels `projectcalico.org/namespace`,
 *   `projectcalico.org/orchestrator` (and `projectcalico.org/serviceaccount` for k8s), all
 *   five port keys and both NAT keys;
 * - NetworkPolicy / GlobalNetworkPolicy: `types` from the rules, label `projectcalico.org/tier`;
 * - FelixConfiguration: `floatingIPs: Disabled`, `bpfConnectTimeLoadBalancing: TCP`,
 *   `bpfHostNetworkedNATWithoutCTLB: Enabled` (or derived from the deprecated boolean);
 * - KubeControllersConfiguration: `controllers: {}`, `prometheusMetricsPort: 9094`, node
 *   `leakGracePeriod: 15m0s`, loadBalancer `assignIPs: AllServices`.
 *
 * BGPConfiguration `nodeToNodeMeshEnabled` (true) and `asNumber` (64512) are **not** written:
 * Calico treats them as "unset means default" (see {@link BGP_DEFAULTS}), and they may only be
 * set on the `default` object.
 *
 * @example
 * ```ts
 * applyDefaults(newResource('IPPool', 'p', { cidr: 'fd00:10:244:0:0::/64' })).spec;
 * // { cidr: 'fd00:10:244::/64', vxlanMode: 'Never', ipipMode: 'Never', blockSize: 122,
 * //   nodeSelector: 'all()', allowedUses: ['Workload', 'Tunnel'], assignmentMode: 'Automatic' }
 * ```
 */
export function applyDefaults<R>(resource: R): R {
  const copy = clone(resource);
  if (!isObj(copy) || !isResourceKind(copy.kind)) return copy;
  const out: Obj = copy;
  const kind = copy.kind;
  if (!isObj(out.metadata)) out.metadata = {};
  const metadata = out.metadata as Obj;
  if (out.spec === undefined || out.spec === null) out.spec = {};
  if (!isObj(out.spec)) return copy;
  let spec = out.spec;
  const shapes = shapesOf(kind);
  if ('crd' in KINDS[kind].kdd) {
    fillSchemaDefaults(spec, shapes.spec);
    if (shapes.status && isObj(out.status)) fillSchemaDefaults(out.status, shapes.status);
  }
  switch (kind) {
    case 'IPPool':
      spec = defaultIPPool(spec);
      break;
    case 'IPAMConfiguration':
      spec = defaultIPAMConfiguration(spec);
      break;
    case 'Node':
      if (isObj(spec.bgp)) normaliseAS(spec.bgp, 'asNumber');
      if (out.status === undefined || out.status === null) out.status = {};
      break;
    case 'WorkloadEndpoint':
      defaultWorkloadEndpoint(metadata, spec);
      break;
    case 'BGPConfiguration':
      normaliseAS(spec, 'asNumber');
      break;
    case 'BGPPeer':
      normaliseAS(spec, 'asNumber');
      normaliseAS(spec, 'localASNumber');
      break;
    case 'BGPFilter':
      for (const list of ['exportV4', 'importV4', 'exportV6', 'importV6']) {
        for (const rule of Array.isArray(spec[list]) ? (spec[list] as unknown[]) : []) {
          normaliseASList(rule, 'asPathPrefix');
          if (isObj(rule) && Array.isArray(rule.operations)) {
            for (const op of rule.operations) if (isObj(op)) normaliseASList(op.prependASPath, 'prefix');
          }
        }
      }
      break;
    case 'FelixConfiguration':
      defaultFelixConfiguration(spec);
      break;
    case 'NetworkPolicy':
    case 'GlobalNetworkPolicy':
      defaultPolicy(metadata, spec);
      break;
    case 'Profile':
      defaultPolicyRules(spec.ingress);
      defaultPolicyRules(spec.egress);
      break;
    case 'KubeControllersConfiguration':
      defaultKubeControllers(spec);
      break;
    default:
      break;
  }
  out.spec = spec;
  return out as R;
}

/**
 * Values Calico uses when BGP settings are unset (reference datastore.md §4.10, bgp.md §4.4).
 * Not written by {@link applyDefaults}; use them when interpreting a BGPConfiguration.
 */
export const BGP_DEFAULTS = {
  /** Global AS number when neither the node nor BGPConfiguration `default` sets one. */
  asNumber: 64512,
  /** The full node-to-node mesh is on unless BGPConfiguration `default` disables it. */
  nodeToNodeMeshEnabled: true,
  /** BGP listen port. */
  listenPort: 179,
  /** BIRD log level. */
  logSeverityScreen: 'Info',
  /** Cluster route programming mode of BGPConfiguration. */
  programClusterRoutes: 'EnabledNoEncapOnly',
  /** Kernel route priority (metric) for IPv4 and IPv6. */
  normalRoutePriority: 1024,
} as const;

/** IPPool defaults (reference datastore.md §4.1, ipam.md §2.1). */
export const IPPOOL_DEFAULTS = {
  ipv4BlockSize: 26,
  ipv6BlockSize: 122,
  ipv4BlockSizeRange: [20, 32],
  ipv6BlockSizeRange: [116, 128],
  nodeSelector: 'all()',
  allowedUses: ['Workload', 'Tunnel'],
  assignmentMode: 'Automatic',
  ipipMode: 'Never',
  vxlanMode: 'Never',
} as const;
