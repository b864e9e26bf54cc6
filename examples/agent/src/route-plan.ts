/**
 * Which kernel routes the agent owns, and the plan that takes the kernel from its current routes
 * to the computed ones. Pure: the caller lists the kernel routes and applies the plan.
 *
 * Ownership follows Felix (reference §4.8), with the protocols Felix uses by default:
 * - every route with the exclusive protocol (80) is the agent's;
 * - a `boot` (3) route is the agent's only when it goes through a workload interface (`cali*`) or
 *   a VXLAN device, so the host's own `ip route add` routes (also protocol 3) are never touched;
 * - routes of any other protocol (BIRD's 12, the kernel's 2...) are never deleted or replaced: a
 *   computed route whose slot they hold is reported as a conflict.
 *
 * Unexpected workload routes (a pod whose WorkloadEndpoint is not written yet: the CNI plugin adds
 * the route first) get a grace period before they are removed, like Felix's 10 s.
 */
import { ValidationError } from '@libcalico-ts/api';
import { normalizeRoute, routeKey, routeMatches, toRouteSpec, type RouteInfo, type RouteSpec } from '@libcalico-ts/dataplane';
import type { Route } from '@libcalico-ts/routes';

/** Felix's exclusive route protocol. */
export const EXCLUSIVE_PROTOCOL = 80;
/** `boot`: Felix's default `deviceRouteProtocol`, also the CNI plugin's. */
export const DEVICE_PROTOCOL = 3;
const VXLAN_DEVICES = new Set(['vxlan.calico', 'vxlan-v6.calico']);

/** Options of {@link planRoutes}. */
export interface PlanOptions {
  /** Workload interface prefix (default `cali`). */
  workloadPrefix?: string;
  /** How long an unexpected workload route survives (ms, default 10,000). */
  graceMs?: number;
  /** Current time (ms). */
  now: number;
  /**
   * First time each unexpected workload route was seen (route key -> ms). The planner updates it:
   * entries are added when first seen and dropped when the route is expected again or gone.
   */
  firstSeen: Map<string, number>;
}

/** The changes to apply. `replace` is applied with replace semantics after `delete`. */
export interface RoutePlan {
  replace: RouteSpec[];
  delete: RouteSpec[];
  /** Computed routes blocked by a route the agent does not own (left alone). */
  conflicts: { desired: RouteSpec; existing: RouteInfo }[];
  /** Computed routes already correct in the kernel. */
  unchanged: number;
  /** Unexpected workload routes kept for now (grace period). */
  deferred: number;
}

/** The kernel form of a computed route. */
export function toKernelRoute(route: Route): RouteSpec {
  const spec: RouteSpec = {
    dst: route.destination,
    family: route.family,
    type: route.type,
    protocol: route.protocol,
    scope: route.scope,
    metric: route.metric,
    onlink: route.onlink,
  };
  if (route.device !== undefined && route.type === 'unicast') spec.dev = route.device;
  if (route.gateway !== undefined) spec.gateway = route.gateway;
  if (route.mtu) spec.mtu = route.mtu;
  return spec;
}

/** Whether the agent owns a kernel route (see the module comment). */
export function ownsRoute(route: Pick<RouteInfo, 'protocol' | 'dev'>, workloadPrefix = 'cali'): boolean {
  if (route.protocol === EXCLUSIVE_PROTOCOL) return true;
  if (route.protocol !== DEVICE_PROTOCOL || route.dev === undefined) return false;
  return VXLAN_DEVICES.has(route.dev) || route.dev.startsWith(workloadPrefix);
}

/**
 * Plans the changes from `current` (the main table as listed from the kernel, both families) to
 * the computed `desired` routes. A second plan after applying the first is empty.
 *
 * @throws ValidationError when a desired route is malformed or two share a kernel slot.
 */
export function planRoutes(desired: readonly RouteSpec[], current: readonly RouteInfo[], options: PlanOptions): RoutePlan {
  const prefix = options.workloadPrefix ?? 'cali';
  const grace = options.graceMs ?? 10_000;
  const wanted = new Map<string, ReturnType<typeof normalizeRoute>>();
  desired.forEach((spec, i) => {
    const route = normalizeRoute(spec, `desired[${i}]`);
    const key = routeKey(route);
    if (wanted.has(key)) {
      throw new ValidationError([{ name: `desired[${i}]`, value: spec.dst, reason: 'two computed routes for the same destination and metric' }]);
    }
    wanted.set(key, route);
  });
  const main = current.filter((r) => r.table === 254);
  const byKey = new Map<string, RouteInfo[]>();
  for (const r of main) {
    const key = routeKey(r);
    const list = byKey.get(key);
    if (list) list.push(r);
    else byKey.set(key, [r]);
  }
  const plan: RoutePlan = { replace: [], delete: [], conflicts: [], unchanged: 0, deferred: 0 };
  for (const [key, want] of wanted) {
    const existing = byKey.get(key) ?? [];
    const owned = existing.filter((r) => ownsRoute(r, prefix));
    const foreign = existing.filter((r) => !ownsRoute(r, prefix));
    if (owned.some((r) => routeMatches(want, r))) {
      plan.unchanged++;
      continue;
    }
    if (owned.length === 0 && foreign.length > 0) {
      plan.conflicts.push({ desired: toRouteSpec(want), existing: foreign[0]! });
      continue;
    }
    plan.replace.push(toRouteSpec(want));
  }
  const seen = new Set<string>();
  for (const r of main) {
    if (!ownsRoute(r, prefix)) continue;
    const key = routeKey(r);
    if (wanted.has(key)) continue;
    if (r.protocol === DEVICE_PROTOCOL && r.dev?.startsWith(prefix)) {
      seen.add(key);
      const first = options.firstSeen.get(key);
      if (first === undefined) options.firstSeen.set(key, options.now);
      if (options.now - (first ?? options.now) < grace) {
        plan.deferred++;
        continue;
      }
    }
    plan.delete.push(toRouteSpec(r));
  }
  for (const key of [...options.firstSeen.keys()]) if (!seen.has(key)) options.firstSeen.delete(key);
  return plan;
}
