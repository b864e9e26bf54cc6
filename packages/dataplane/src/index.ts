// Public surface of @libcalico-ts/dataplane (Linux only).
export { NetlinkError, KernelNotSupportedError, CommandError, NetnsWorkerError } from './errors.js';
export {
  MAX_INTERFACE_NAME_LENGTH,
  MIN_MTU,
  MAX_MTU,
  validateInterfaceName,
  validateMtu,
  parseMac,
  formatMac,
  parseIP,
  parseCidr,
  formatIP,
  formatCidr,
  normalizeCidr,
} from './validate.js';
export type { IPFamily, ParsedIP, ParsedCidr } from './validate.js';
export type {
  LinkInfo,
  VxlanInfo,
  AddressInfo,
  RouteTypeName,
  RouteScopeName,
  RouteSpec,
  RouteInfo,
  NeighbourSpec,
  NeighbourInfo,
  FdbSpec,
  FdbInfo,
  VethPairOptions,
  VxlanOptions,
  RouteChanges,
  RouteFilter,
  ReconcileOptions,
  RouteDiff,
  NetlinkOps,
} from './types.js';
export { defaultCommandRunner, runChecked } from './command.js';
export type { CommandRunner, CommandResult, CommandOptions } from './command.js';
export { NETNS_RUN_DIR, validateNetnsName, netnsPath, netnsExists, listNetns, createNetns, deleteNetns, requireNetns } from './netns.js';
export { NetnsSession, openNetns, withNetnsSession } from './netns-session.js';
export type { OpenNetnsOptions } from './netns-session.js';
export { NetlinkClient } from './netlink/client.js';
export type { NetlinkClientOptions } from './netlink/client.js';
export { sysctlPath, interfaceSysctl, readSysctl, writeSysctl, workloadHostSysctls, felixGlobalSysctls } from './sysctl.js';
export { RouteProtocol, MAIN_TABLE, normalizeRoute, routeKey, routeMatches, toRouteSpec, diffRoutes, reconcileRoutes, renderRoute } from './routes.js';
export type { NormalizedRoute } from './routes.js';
export { DEFAULT_INTERFACE_PREFIX, interfacePrefixFromEnv, workloadInterfaceName, containerInterfaceName, vtepMac, CalicoDevice } from './naming.js';
export { ensureVxlanDevice, ensureOnlyAddress, kernelSupportsIpip, ensureTunl0, syncVxlanNeighbours } from './tunnels.js';
export type { EnsureVxlanOptions, RemoteVtep } from './tunnels.js';
export { CALICO_IPV4_GATEWAY, CALICO_IPV6_GATEWAY, CALICO_HOST_MAC } from './container-side.js';
export type { ContainerSideConfig, ContainerSideResult } from './container-side.js';
export { setupWorkloadInterface, teardownWorkloadInterface } from './workload.js';
export type { WorkloadInterfaceSpec, WorkloadInterfaceOptions, WorkloadInterfaceResult, TeardownWorkloadOptions } from './workload.js';
export { RULE_HASH_LENGTH, RULE_HASH_PREFIX, renderRuleBody, ruleHashes, renderRuleLine, renderTableRules, renderRestore } from './iptables/render.js';
export type { IptablesTableName, IptablesRule, IptablesChain, IptablesTable, RenderedRule, RenderedTable } from './iptables/render.js';
export { MAX_CHAIN_NAME_LENGTH, chainName, natTable, filterTable } from './iptables/calico.js';
export type { NatPool, NatTableOptions, WorkloadProfile, FilterWorkload, FilterTableOptions } from './iptables/calico.js';
export { parseIptablesSave, IptablesApplier } from './iptables/apply.js';
export type { IptablesBackend, SavedChain, IptablesApplierOptions, IptablesApplyResult } from './iptables/apply.js';
export {
  planWorkloadInterfaceIproute2,
  setupWorkloadInterfaceIproute2,
  createWorkloadVethIproute2,
  configureWorkloadVethIproute2,
  teardownWorkloadInterfaceIproute2,
  inspectWorkloadInterfaceIproute2,
  randomContainerMac,
} from './iproute2-workload.js';
export type {
  Iproute2Options,
  Iproute2WorkloadOptions,
  Iproute2WorkloadResult,
  Iproute2WorkloadPlan,
  Iproute2VethOptions,
  Iproute2Veth,
  Iproute2TeardownOptions,
  WorkloadInspection,
} from './iproute2-workload.js';
