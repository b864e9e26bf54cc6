// Public surface of @libcalico-ts/routes.
export { computeRoutes } from './compute.js';
export { RouteCalculator } from './calculator.js';
export type { RouteChange, RouteDeltas, EntryDelta } from './calculator.js';
export { formatIpRoute, formatNeighbor, formatFdbEntry, formatRouteTable, parseIpRoute, protocolName } from './format.js';
export type { FormattableRoute, ParsedIpRoute } from './format.js';
export { vtepMAC } from './vtep.js';
export type { VtepMACOptions } from './vtep.js';
export { snapshotFromClient } from './snapshot.js';
export type { SnapshotSource, SnapshotFromClientOptions, Lister, BlockLister } from './snapshot.js';
export type {
  ClusterSnapshot,
  SnapshotBlock,
  SnapshotBlockAffinity,
  SnapshotAllocationAttribute,
  RouteOptions,
  RouteOwners,
  RouteProgrammer,
  NextHop,
  Route,
  RouteKind,
  RouteEncap,
  NeighborEntry,
  FdbEntry,
  RouteWarning,
  RouteWarningCode,
  RouteTable,
} from './types.js';
export {
  TunnelAddressType,
  ensureTunnelAddresses,
  tunnelAddressPlan,
  tunnelHandleId,
  hostLocalTunnelAddress,
} from './tunnel.js';
export type {
  TunnelIPAM,
  TunnelAddressOptions,
  TunnelTypePlan,
  TunnelAddressResult,
  EnsureTunnelAddressesResult,
} from './tunnel.js';
