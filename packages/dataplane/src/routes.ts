/**
 * Route normalisation, rendering and the reconciler's pure diff. The reconciler touches only routes
 * carrying its protocol number (Felix: 80, BIRD: 12), never a route of another owner, and is
 * idempotent: a second run with the same desired set changes nothing.
 */
import type { IPFamily } from './validate.js';
import { invalid, parseCidr, parseIP, validateInterfaceName, validateMtu } from './validate.js';
import { ROUTE_SCOPES, ROUTE_TYPES } from './netlink/codec.js';
import type { NetlinkOps, ReconcileOptions, RouteDiff, RouteInfo, RouteScopeName, RouteSpec, RouteTypeName } from './types.js';

/** Well-known route protocol numbers. */
export const RouteProtocol = {
  /** Kernel (connected routes). */
  kernel: 2,
  /** `ip route` default; the CNI plugin and Felix device routes. */
  boot: 3,
  static: 4,
  /** BIRD. */
  bird: 12,
  /** Felix's exclusive protocol. */
  felix: 80,
} as const;
export type RouteProtocol = (typeof RouteProtocol)[keyof typeof RouteProtocol];

/** Main routing table. */
export const MAIN_TABLE = 254;

/** A route with every default applied and every field validated. */
export interface NormalizedRoute {
  family: IPFamily;
  dst: string;
  dstBytes: Buffer;
  dstLength: number;
  type: RouteTypeName;
  dev?: string;
  gateway?: string;
  gatewayBytes?: Buffer;
  onlink: boolean;
  protocol: number;
  scope: RouteScopeName;
  metric: number;
  table: number;
  mtu?: number;
  src?: string;
  srcBytes?: Buffer;
}

const isInt = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/**
 * Validates a {@link RouteSpec} and fills in the defaults (see RouteSpec). With `forDelete`, a
 * unicast route may omit both dev and gateway (deletion matches by table, destination and metric).
 * @throws ValidationError listing the offending field.
 */
export function normalizeRoute(
  spec: RouteSpec,
  field = 'route',
  options: { forDelete?: boolean; protocol?: number; table?: number } = {},
): NormalizedRoute {
  if (typeof spec !== 'object' || spec === null) invalid(field, spec, 'route must be an object');
  const dst = parseCidr(spec.dst, `${field}.dst`, { strict: true, defaultFamily: spec.family ?? 4 });
  if (spec.family !== undefined && spec.family !== dst.family) invalid(`${field}.family`, spec.family, `does not match dst ${spec.dst}`);
  const type = spec.type ?? 'unicast';
  if (!(type in ROUTE_TYPES) || type === ('unspec' as string)) invalid(`${field}.type`, type, 'unknown route type');
  const out: NormalizedRoute = {
    family: dst.family,
    dst: `${dst.text}/${dst.prefixLength}`,
    dstBytes: dst.bytes,
    dstLength: dst.prefixLength,
    type,
    onlink: spec.onlink === true,
    // For deletion an absent protocol means "any" (0); otherwise the `ip route` default, boot.
    protocol: options.protocol ?? spec.protocol ?? (options.forDelete ? 0 : RouteProtocol.boot),
    scope: 'universe',
    metric: spec.metric ?? 0,
    table: options.table ?? spec.table ?? MAIN_TABLE,
  };
  if (!isInt(out.protocol, 0, 255)) invalid(`${field}.protocol`, spec.protocol, 'protocol must be an integer 0..255');
  if (!isInt(out.metric, 0, 0xffffffff)) invalid(`${field}.metric`, spec.metric, 'metric must be a non-negative 32-bit integer');
  if (!isInt(out.table, 1, 0xffffffff) || out.table === 255) invalid(`${field}.table`, spec.table, 'table must be 1..2^32-1 (not 255, local)');
  if (out.family === 6 && out.metric === 0) out.metric = 1024; // the kernel's IPv6 default
  if (spec.dev !== undefined) out.dev = validateInterfaceName(spec.dev, `${field}.dev`);
  if (spec.gateway !== undefined) {
    const gw = parseIP(spec.gateway, `${field}.gateway`);
    if (gw.family !== out.family) invalid(`${field}.gateway`, spec.gateway, `gateway family differs from dst ${out.dst}`);
    out.gateway = gw.text;
    out.gatewayBytes = gw.bytes;
  }
  if (spec.src !== undefined) {
    const src = parseIP(spec.src, `${field}.src`);
    if (src.family !== out.family) invalid(`${field}.src`, spec.src, 'src family differs from dst');
    out.src = src.text;
    out.srcBytes = src.bytes;
  }
  if (spec.mtu !== undefined && spec.mtu !== 0) out.mtu = validateMtu(spec.mtu, `${field}.mtu`);
  if (type === 'unicast') {
    if (out.dev === undefined && out.gateway === undefined && !options.forDelete) invalid(field, spec, 'a unicast route needs dev or gateway');
  } else if (out.gateway !== undefined || out.onlink) {
    invalid(`${field}.gateway`, spec.gateway, `a ${type} route has no gateway`);
  }
  if (out.onlink && out.gateway === undefined) invalid(`${field}.onlink`, true, 'onlink needs a gateway');
  if (spec.scope !== undefined) {
    if (!(spec.scope in ROUTE_SCOPES)) invalid(`${field}.scope`, spec.scope, 'unknown scope');
    out.scope = spec.scope;
  } else if (type === 'unicast' && out.gateway === undefined) {
    out.scope = 'link';
  } else if (type === 'local') {
    out.scope = 'host';
  }
  // IPv6 routes have no scope in the kernel (always reported as universe).
  if (out.family === 6) out.scope = 'universe';
  return out;
}

/** Identity of a route in the kernel: table, destination and metric (TOS is always 0 here). */
export function routeKey(route: { table: number; dst: string; metric: number }): string {
  return `${route.table}|${route.dst}|${route.metric}`;
}

/** Whether a kernel route already has every attribute of the desired one. */
export function routeMatches(want: NormalizedRoute, have: RouteInfo): boolean {
  return (
    want.type === have.type &&
    // The kernel reports IPv6 blackhole/unreachable routes on `lo`: the device matters for unicast only.
    (want.type !== 'unicast' || (want.dev ?? undefined) === (have.dev ?? undefined)) &&
    (want.gateway ?? undefined) === (have.gateway ?? undefined) &&
    want.onlink === have.onlink &&
    want.protocol === have.protocol &&
    want.scope === have.scope &&
    (want.mtu ?? 0) === (have.mtu ?? 0) &&
    (want.src ?? undefined) === (have.src ?? undefined)
  );
}

/** Converts a normalised route back to a plain spec (for diffs and JSON). */
export function toRouteSpec(route: NormalizedRoute | RouteInfo): RouteSpec {
  const spec: RouteSpec = { dst: route.dst, family: route.family, type: route.type, protocol: route.protocol, scope: route.scope, metric: route.metric, table: route.table };
  if (route.dev !== undefined) spec.dev = route.dev;
  if (route.gateway !== undefined) spec.gateway = route.gateway;
  if (route.onlink) spec.onlink = true;
  if (route.mtu) spec.mtu = route.mtu;
  if (route.src !== undefined) spec.src = route.src;
  return spec;
}

/**
 * The reconciler's pure step: compares desired routes with the kernel's (`current`, as listed from
 * the table being reconciled) and returns what to add, replace and delete. Only routes with
 * `options.protocol` (default 80) are deleted or replaced; a desired route whose slot is held by
 * another protocol is a conflict (replaced only with `takeOverConflicts`). Every desired route is
 * stamped with the protocol. Duplicate desired keys are a ValidationError.
 */
export function diffRoutes(desired: readonly RouteSpec[], current: readonly RouteInfo[], options: ReconcileOptions = {}): Omit<RouteDiff, 'applied'> {
  const protocol = options.protocol ?? RouteProtocol.felix;
  const table = options.table ?? MAIN_TABLE;
  const families = options.families ?? [4, 6];
  if (!isInt(protocol, 1, 255)) invalid('protocol', options.protocol, 'protocol must be 1..255');
  const wanted = new Map<string, NormalizedRoute>();
  desired.forEach((spec, i) => {
    const route = normalizeRoute(spec, `desired[${i}]`, { protocol, table });
    if (spec.table !== undefined && spec.table !== table) invalid(`desired[${i}].table`, spec.table, `reconciling table ${table}`);
    if (!families.includes(route.family)) invalid(`desired[${i}].dst`, spec.dst, `family IPv${route.family} is not being reconciled`);
    const key = routeKey(route);
    if (wanted.has(key)) invalid(`desired[${i}]`, spec.dst, `duplicate route for ${route.dst} metric ${route.metric}`);
    wanted.set(key, route);
  });
  const have = new Map<string, RouteInfo>();
  for (const r of current) {
    if (r.table !== table || !families.includes(r.family)) continue;
    const key = routeKey(r);
    // Several kernel routes may share a key (different TOS/type); prefer our own for the comparison.
    if (!have.has(key) || r.protocol === protocol) have.set(key, r);
  }
  const diff: Omit<RouteDiff, 'applied'> = { add: [], replace: [], delete: [], conflicts: [], unchanged: 0, noop: true };
  for (const [key, want] of wanted) {
    const existing = have.get(key);
    if (!existing) diff.add.push(toRouteSpec(want));
    else if (existing.protocol !== protocol) {
      if (options.takeOverConflicts) diff.replace.push(toRouteSpec(want));
      else diff.conflicts.push({ desired: toRouteSpec(want), existing });
    } else if (routeMatches(want, existing)) diff.unchanged++;
    else diff.replace.push(toRouteSpec(want));
  }
  for (const r of current) {
    if (r.table !== table || !families.includes(r.family) || r.protocol !== protocol) continue;
    if (!wanted.has(routeKey(r))) diff.delete.push(r);
  }
  diff.noop = diff.add.length === 0 && diff.replace.length === 0 && diff.delete.length === 0;
  return diff;
}

/**
 * Reconciles a routing table against `desired` over any {@link NetlinkOps} (this namespace or a
 * {@link NetnsSession}): lists the table, diffs ({@link diffRoutes}) and, unless `dryRun`, applies
 * additions/replacements with replace semantics and deletes stale routes of our protocol.
 *
 * @example
 * ```ts
 * const nl = new NetlinkClient();
 * const diff = await reconcileRoutes(nl, [{ dst: '10.244.0.0/26', type: 'blackhole' }], { protocol: 80 });
 * ```
 */
export async function reconcileRoutes(ops: Pick<NetlinkOps, 'listRoutes' | 'applyRouteChanges'>, desired: readonly RouteSpec[], options: ReconcileOptions = {}): Promise<RouteDiff> {
  const table = options.table ?? MAIN_TABLE;
  const families = options.families ?? [4, 6];
  const current: RouteInfo[] = [];
  for (const family of families) current.push(...(await ops.listRoutes({ family, table })));
  const diff = diffRoutes(desired, current, options);
  if (options.dryRun || diff.noop) return { ...diff, applied: false };
  await ops.applyRouteChanges({ replace: [...diff.add, ...diff.replace], delete: diff.delete.map(toRouteSpec) });
  return { ...diff, applied: true };
}

/**
 * Renders a route the way `ip route` prints it (reference §4.7): `blackhole 10.0.0.0/26 proto 80`,
 * `10.244.1.5 dev cali123 scope link`. Host routes omit `/32` (`/128`), protocol 3 is omitted,
 * 12 prints as `bird`.
 */
export function renderRoute(route: RouteSpec | RouteInfo): string {
  const r = 'dstBytes' in route ? (route as NormalizedRoute) : normalizeRoute(route as RouteSpec);
  const host = r.dstLength === (r.family === 4 ? 32 : 128);
  const dst = r.dstLength === 0 ? 'default' : host ? r.dst.slice(0, r.dst.indexOf('/')) : r.dst;
  const parts = [r.type === 'unicast' ? dst : `${r.type} ${dst}`];
  if (r.gateway) parts.push(`via ${r.gateway}`);
  if (r.dev) parts.push(`dev ${r.dev}`);
  if (r.protocol !== RouteProtocol.boot) parts.push(`proto ${r.protocol === RouteProtocol.bird ? 'bird' : r.protocol === 2 ? 'kernel' : r.protocol === 4 ? 'static' : r.protocol}`);
  if (r.scope !== 'universe') parts.push(`scope ${r.scope}`);
  if (r.metric) parts.push(`metric ${r.metric}`);
  if (r.onlink) parts.push('onlink');
  if (r.mtu) parts.push(`mtu ${r.mtu}`);
  return parts.join(' ');
}
