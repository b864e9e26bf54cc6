/**
 * Field trees of every kind (spec, status, metadata) and a walker that reports unknown fields,
 * wrong JSON types and the declarative constraints of the CRD schemas (enum, pattern, bounds,
 * lengths, required). CRD-backed kinds use the generated trees; Node, WorkloadEndpoint and
 * Profile (no CRD) are written here.
 */
import type { FieldError } from '../errors.js';
import { CRD_SHAPES, type CrdShape } from '../generated/crd-shapes.js';
import type { ResourceKind } from '../kinds.js';
import { parseASNumber } from './values.js';

/** A CrdShape whose type may also be 'A' (AS number: integer or decimal/asdot string). */
export interface Shape extends Omit<CrdShape, 't' | 'items' | 'props'> {
  readonly t: CrdShape['t'] | 'A';
  readonly items?: Shape;
  readonly props?: { readonly [field: string]: Shape };
}

const s = (extra: Partial<Shape> = {}): Shape => ({ t: 's', ...extra });
const i = (extra: Partial<Shape> = {}): Shape => ({ t: 'i', ...extra });
const b: Shape = { t: 'b' };
const A: Shape = { t: 'A' };
const x: Shape = { t: 'x' };
const any: Shape = { t: '*' };
const l = (items: Shape, extra: Partial<Shape> = {}): Shape => ({ t: 'l', items, ...extra });
const m = (items: Shape): Shape => ({ t: 'm', items });
const o = (props: Record<string, Shape>, req?: string[]): Shape => ({ t: 'o', props, ...(req ? { req } : {}) });

/** Kubernetes ObjectMeta as accepted in manifests and resources. */
export const METADATA_SHAPE: Shape = o({
  name: s(),
  generateName: s(),
  namespace: s(),
  selfLink: s(),
  uid: s(),
  resourceVersion: s(),
  generation: i(),
  creationTimestamp: { t: '*' },
  deletionTimestamp: { t: '*' },
  deletionGracePeriodSeconds: i(),
  labels: m(s()),
  annotations: m(s()),
  ownerReferences: l(
    o(
      { apiVersion: s(), kind: s(), name: s(), uid: s(), controller: b, blockOwnerDeletion: b },
      ['apiVersion', 'kind', 'name', 'uid'],
    ),
  ),
  finalizers: l(s()),
  managedFields: l(any),
});

const NODE_SPEC: Shape = o({
  bgp: o({
    asNumber: A,
    ipv4Address: s(),
    ipv6Address: s(),
    ipv4IPIPTunnelAddr: s(),
    routeReflectorClusterID: s(),
  }),
  ipv4VXLANTunnelAddr: s(),
  vxlanTunnelMACAddr: s(),
  ipv6VXLANTunnelAddr: s(),
  vxlanTunnelMACAddrV6: s(),
  orchRefs: l(o({ nodeName: s(), orchestrator: s() })),
  wireguard: o({ interfaceIPv4Address: s(), interfaceIPv6Address: s() }),
  addresses: l(o({ address: s(), type: s({ enum: ['CalicoNodeIP', 'InternalIP', 'ExternalIP'] }) }, ['address'])),
  interfaces: l(o({ name: s(), addresses: l(s()) })),
});
const NODE_STATUS: Shape = o({ wireguardPublicKey: s(), wireguardPublicKeyV6: s(), podCIDRs: l(s()) });

const WEP_SPEC: Shape = o({
  orchestrator: s(),
  workload: s(),
  node: s(),
  containerID: s(),
  pod: s(),
  endpoint: s(),
  serviceAccountName: s(),
  ipNetworks: l(s()),
  ipNATs: l(o({ internalIP: s(), externalIP: s() })),
  ipv4Gateway: s(),
  ipv6Gateway: s(),
  profiles: l(s()),
  interfaceName: s(),
  mac: s(),
  ports: l(o({ name: s(), protocol: x, port: i({ min: 0, max: 65535 }), hostPort: i({ min: 0, max: 65535 }), hostIP: s() })),
  allowSpoofedSourcePrefixes: l(s()),
  qosControls: o({
    ingressBandwidth: i(),
    ingressBurst: i(),
    ingressPeakrate: i(),
    ingressMinburst: i(),
    egressBandwidth: i(),
    egressBurst: i(),
    egressPeakrate: i(),
    egressMinburst: i(),
    ingressPacketRate: i(),
    ingressPacketBurst: i(),
    egressPacketRate: i(),
    egressPacketBurst: i(),
    ingressMaxConnections: i(),
    egressMaxConnections: i(),
    dscp: x,
  }),
});

/** Replaces the node at `path` (property names; '[]' steps into items) in a copy of `shape`. */
function override(shape: Shape, path: string[], replacement: Shape): Shape {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  if (head === '[]') {
    if (!shape.items) return shape;
    return { ...shape, items: override(shape.items, rest, replacement) };
  }
  const child = shape.props?.[head!];
  if (!child) return shape;
  return { ...shape, props: { ...shape.props, [head!]: override(child, rest, replacement) } };
}

function crd(kind: string): { spec: Shape; status?: Shape } {
  const found = CRD_SHAPES[kind];
  if (!found) throw new Error(`internal: no CRD shape for ${kind}`);
  return found as { spec: Shape; status?: Shape };
}

function bgpFilterSpec(): Shape {
  let spec = crd('BGPFilter').spec;
  for (const list of ['exportV4', 'importV4', 'exportV6', 'importV6']) {
    spec = override(spec, [list, '[]', 'asPathPrefix', '[]'], A);
    spec = override(spec, [list, '[]', 'operations', '[]', 'prependASPath', 'prefix', '[]'], A);
  }
  return spec;
}

function build(): Record<ResourceKind, { spec: Shape; status?: Shape }> {
  const policyRule = crd('GlobalNetworkPolicy').spec.props!.ingress!;
  return {
    IPPool: crd('IPPool'),
    IPReservation: crd('IPReservation'),
    IPAMConfiguration: crd('IPAMConfiguration'),
    BlockAffinity: crd('BlockAffinity'),
    Node: { spec: NODE_SPEC, status: NODE_STATUS },
    WorkloadEndpoint: { spec: WEP_SPEC },
    HostEndpoint: crd('HostEndpoint'),
    BGPConfiguration: { spec: override(crd('BGPConfiguration').spec, ['asNumber'], A) },
    BGPPeer: {
      spec: override(override(crd('BGPPeer').spec, ['asNumber'], A), ['localASNumber'], A),
    },
    BGPFilter: { spec: bgpFilterSpec() },
    FelixConfiguration: crd('FelixConfiguration'),
    ClusterInformation: crd('ClusterInformation'),
    NetworkPolicy: crd('NetworkPolicy'),
    GlobalNetworkPolicy: crd('GlobalNetworkPolicy'),
    Tier: crd('Tier'),
    Profile: { spec: o({ ingress: policyRule, egress: policyRule, labelsToApply: m(s()) }) },
    NetworkSet: crd('NetworkSet'),
    GlobalNetworkSet: crd('GlobalNetworkSet'),
    KubeControllersConfiguration: crd('KubeControllersConfiguration'),
  };
}

let cache: Record<ResourceKind, { spec: Shape; status?: Shape }> | undefined;

/** Spec/status trees of `kind`. */
export function shapesOf(kind: ResourceKind): { spec: Shape; status?: Shape } {
  cache ??= build();
  return cache[kind];
}

const regexCache = new Map<string, RegExp | null>();
function compile(pattern: string, ci: boolean): RegExp | null {
  const key = `${ci ? 'i' : ''}:${pattern}`;
  let re = regexCache.get(key);
  if (re === undefined) {
    try {
      re = new RegExp(pattern, ci ? 'i' : '');
    } catch {
      re = null;
    }
    regexCache.set(key, re);
  }
  return re;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  return typeof value === 'number' && Number.isInteger(value) ? 'integer' : typeof value;
}

const EXPECTED: Record<Shape['t'], string> = {
  s: 'a string',
  i: 'an integer',
  n: 'a number',
  b: 'a boolean',
  x: 'an integer or a string',
  l: 'a list',
  m: 'a map',
  o: 'an object',
  '*': 'any value',
  A: 'an AS number (integer, decimal string or asdot "high.low")',
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Options of {@link checkShape}. */
export interface ShapeCheckOptions {
  /** Report fields the tree does not know (default true). */
  unknownFields?: boolean;
  /** Report missing required fields (default true). */
  required?: boolean;
  /** Check enum, pattern, bounds, lengths and item counts (default true); false = structure and types only. */
  constraints?: boolean;
}

/**
 * Walks `value` against `shape`, appending problems to `out`. `null` is accepted everywhere
 * (Go's JSON decoder treats it as "unset").
 */
export function checkShape(value: unknown, shape: Shape, path: string, out: FieldError[], options: ShapeCheckOptions = {}): void {
  if (value === null || value === undefined) return;
  const push = (reason: string, v: unknown = value): void => {
    out.push({ name: path, value: v, reason });
  };
  switch (shape.t) {
    case '*':
      return;
    case 's':
      if (typeof value !== 'string') return push(`must be a string, got ${typeName(value)}`);
      break;
    case 'b':
      if (typeof value !== 'boolean') return push(`must be a boolean, got ${typeName(value)}`);
      return;
    case 'i':
      if (typeof value !== 'number' || !Number.isInteger(value)) return push(`must be an integer, got ${typeName(value)}`);
      break;
    case 'n':
      if (typeof value !== 'number' || !Number.isFinite(value)) return push(`must be a number, got ${typeName(value)}`);
      break;
    case 'x':
      if (typeof value !== 'string' && !(typeof value === 'number' && Number.isInteger(value))) {
        return push(`must be an integer or a string, got ${typeName(value)}`);
      }
      break;
    case 'A':
      if (parseASNumber(value) === undefined) {
        return push('must be an AS number: an integer 0-4294967295, a decimal string, or asdot "high.low" with 16-bit parts');
      }
      return;
    case 'l': {
      if (!Array.isArray(value)) return push(`must be a list, got ${typeName(value)}`);
      if (options.constraints !== false && shape.maxItems !== undefined && value.length > shape.maxItems) push(`must have at most ${shape.maxItems} items (has ${value.length})`);
      if (shape.items) value.forEach((item, index) => checkShape(item, shape.items!, `${path}[${index}]`, out, options));
      return;
    }
    case 'm': {
      if (!isPlainObject(value)) return push(`must be a map, got ${typeName(value)}`);
      if (shape.items) for (const [key, item] of Object.entries(value)) checkShape(item, shape.items, `${path}.${key}`, out, options);
      return;
    }
    case 'o': {
      if (!isPlainObject(value)) return push(`must be an object, got ${typeName(value)}`);
      const props = shape.props ?? {};
      for (const [key, item] of Object.entries(value)) {
        const child = props[key];
        const childPath = path ? `${path}.${key}` : key;
        if (!child) {
          if (options.unknownFields !== false) out.push({ name: childPath, value: item, reason: `unknown field "${key}"` });
          continue;
        }
        checkShape(item, child, childPath, out, options);
      }
      if (options.required !== false) {
        for (const key of shape.req ?? []) {
          if (value[key] === undefined || value[key] === null) {
            out.push({ name: path ? `${path}.${key}` : key, value: undefined, reason: 'required field is missing' });
          }
        }
      }
      return;
    }
  }
  // Scalar constraints.
  if (options.constraints === false) return;
  if (shape.enum && !shape.enum.includes(value)) {
    push(`must be one of ${shape.enum.map((e) => JSON.stringify(e)).join(', ')}`);
    return;
  }
  if (typeof value === 'string') {
    if (shape.maxLength !== undefined && value.length > shape.maxLength) {
      push(`must be at most ${shape.maxLength} characters (is ${value.length})`);
    }
    if (shape.pattern) {
      const re = compile(shape.pattern, shape.ci === true);
      if (re && !re.test(value)) push(`must match ${shape.ci ? '(case-insensitive) ' : ''}${shape.pattern}`);
    }
  }
  if (typeof value === 'number') {
    if (shape.min !== undefined && value < shape.min) push(`must be at least ${shape.min}`);
    if (shape.max !== undefined && value > shape.max) push(`must be at most ${shape.max}`);
  }
}
