/**
 * TypeScript types of every projectcalico.org/v3 resource the SDK handles. Field names are the
 * JSON names Calico writes; every field is optional unless noted (Calico omits empty values).
 *
 * Each resource is a {@link V3Object}: `{kind, apiVersion: 'projectcalico.org/v3', metadata, spec, status?}`.
 */
import type {
  AssignmentMode,
  BGPBindMode,
  BGPFilterAction,
  BGPFilterMatchOperator,
  BGPFilterPeerType,
  BGPPeerNextHopMode,
  BGPPeerReversePeering,
  BGPPeerSourceAddress,
  BlockAffinityState,
  EnabledDisabled,
  IPIPMode,
  IPPoolAllowedUse,
  NodeAddressType,
  PolicyType,
  ProgramClusterRoutes,
  RuleAction,
  TierDefaultAction,
  VMAddressPersistence,
  VXLANMode,
} from './enums.js';
import type { FelixConfigurationSpecFields } from './generated/felix-configuration-spec.js';
import type { ResourceKind } from './kinds.js';
import type { V3Object } from './meta.js';

// ---------------------------------------------------------------------------------------------
// Scalars

/**
 * A BGP AS number (uint32). Written as a JSON number. Manifests may also spell it as a decimal
 * string (`"64512"`) or in asdot form (`"1.10"` = 1×65536+10); {@link loadManifests} and
 * {@link applyDefaults} convert those to numbers.
 */
export type ASNumber = number;

/** A Go duration string such as `"2m0s"` or `"90s"`. */
export type Duration = string;

/** A protocol: a name (`TCP`, `UDP`, `ICMP`, `ICMPv6`, `SCTP`, `UDPLite`) or a number 1-255. */
export type Protocol = string | number;

/** A rule port: a number, a `"min:max"` range string, or a named port. */
export type Port = number | string;

/** A Kubernetes status condition (IPPool, Tier). */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  /** RFC 3339 timestamp. */
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** A reference to a key of a Kubernetes Secret (in calico-node's namespace). */
export interface SecretKeySelector {
  /** Secret name (CRD default `""`). */
  name?: string;
  /** Key within the secret. Required. */
  key: string;
  optional?: boolean;
}

/** `{secretKeyRef}` wrapper used by BGP passwords. */
export interface BGPPassword {
  secretKeyRef?: SecretKeySelector;
}

// ---------------------------------------------------------------------------------------------
// IPAM kinds

/** Spec of an {@link IPPool}. */
export interface IPPoolSpec {
  /** Pool CIDR; required; must be strictly masked. Immutable after create. */
  cidr: string;
  /** VXLAN encapsulation; client default `Never`. */
  vxlanMode?: VXLANMode;
  /** IP-in-IP encapsulation; client default `Never`; not allowed on IPv6 pools. */
  ipipMode?: IPIPMode;
  /** Masquerade traffic from the pool leaving the pool/cluster. */
  natOutgoing?: boolean;
  /** No new allocations from a disabled pool. */
  disabled?: boolean;
  /** Do not advertise the pool CIDR over BGP. */
  disableBGPExport?: boolean;
  /** Block prefix length: default 26 (IPv4) / 122 (IPv6); 20-32 / 116-128. Immutable. */
  blockSize?: number;
  /** Selector of nodes that may use the pool; default `all()`. */
  nodeSelector?: string;
  /** Selector of namespaces whose workloads may use the pool (empty = all). */
  namespaceSelector?: string;
  /** What the addresses may be used for; default `["Workload","Tunnel"]`. */
  allowedUses?: IPPoolAllowedUse[];
  /** Whether automatic assignment uses the pool; default `Automatic`. */
  assignmentMode?: AssignmentMode;
}

/** Status of an {@link IPPool} (written by kube-controllers in v3-CRD mode). */
export interface IPPoolStatus {
  /** Conditions keyed by type; type `Allocatable` with reasons `OK`, `CIDROverlap`, `Terminating`, `PoolDisabled`. */
  conditions?: Condition[];
}

/** A range of addresses IPAM hands out, carved into blocks. */
export type IPPool = V3Object<'IPPool', IPPoolSpec, IPPoolStatus>;

/** Spec of an {@link IPReservation}. */
export interface IPReservationSpec {
  /** CIDRs or bare IPs IPAM must never hand out (need not be masked). */
  reservedCIDRs?: string[];
}
/** Addresses IPAM will not allocate. */
export type IPReservation = V3Object<'IPReservation', IPReservationSpec>;

/** Spec of the {@link IPAMConfiguration} singleton (`default`). */
export interface IPAMConfigurationSpec {
  /** A host never borrows from another host's block (always emitted; default false). */
  strictAffinity: boolean;
  /** Hosts may claim new blocks (always emitted; default true). */
  autoAllocateBlocks: boolean;
  /** Cap on blocks per host; 0 = no explicit cap (IPAM still applies 20). 0-1,000,000. */
  maxBlocksPerHost?: number;
  /** KubeVirt VM address persistence; unset means `Enabled`. */
  kubeVirtVMAddressPersistence?: VMAddressPersistence;
  /** Minimum seconds a released IP waits before reuse, 0-1200. */
  ipCooldownSeconds?: number;
}
/** Global IPAM settings; only the name `default` is accepted. */
export type IPAMConfiguration = V3Object<'IPAMConfiguration', IPAMConfigurationSpec>;

/** Spec of a {@link BlockAffinity}. */
export interface BlockAffinitySpec {
  /** Claim state (driven by IPAM). */
  state: BlockAffinityState;
  /** Owning node (or virtual owner name). */
  node: string;
  /** `host` (default when missing) or `virtual`. */
  type?: string;
  /** Block CIDR. */
  cidr: string;
  /** Soft-delete marker (boolean in v3; the v1 CRD uses a string). */
  deleted: boolean;
}
/** The record that a node owns an IPAM block. */
export type BlockAffinity = V3Object<'BlockAffinity', BlockAffinitySpec>;

// ---------------------------------------------------------------------------------------------
// Node

/** BGP settings of a {@link Node}. */
export interface NodeBGPSpec {
  /** The node's AS; absent means the global AS (BGPConfiguration, 64512 by default). */
  asNumber?: ASNumber;
  /** IPv4 address with prefix length, e.g. `10.0.0.11/24` (a bare IP is accepted). */
  ipv4Address?: string;
  /** IPv6 address with prefix length. */
  ipv6Address?: string;
  /** IPIP tunnel (tunl0) address, no prefix. */
  ipv4IPIPTunnelAddr?: string;
  /** Makes the node a route reflector with this cluster ID (an IPv4 address). */
  routeReflectorClusterID?: string;
}

/** A `{nodeName, orchestrator}` reference from a Calico node to an orchestrator's node. */
export interface OrchRef {
  nodeName?: string;
  /** Always emitted. */
  orchestrator: string;
}

/** A node address entry. */
export interface NodeAddress {
  /** An IP or CIDR. */
  address: string;
  type?: NodeAddressType;
}

/** A detected host interface. */
export interface NodeInterface {
  name: string;
  addresses?: string[];
}

/** WireGuard interface addresses of a node. */
export interface NodeWireguardSpec {
  interfaceIPv4Address?: string;
  interfaceIPv6Address?: string;
}

/** Spec of a {@link Node}. */
export interface NodeSpec {
  /** BGP settings; when present it must not be empty. */
  bgp?: NodeBGPSpec;
  /** vxlan.calico IPv4 address. */
  ipv4VXLANTunnelAddr?: string;
  /** vxlan.calico MAC address. */
  vxlanTunnelMACAddr?: string;
  /** vxlan-v6.calico IPv6 address. */
  ipv6VXLANTunnelAddr?: string;
  /** vxlan-v6.calico MAC address. */
  vxlanTunnelMACAddrV6?: string;
  /** Orchestrator references. */
  orchRefs?: OrchRef[];
  /** WireGuard interface addresses. */
  wireguard?: NodeWireguardSpec;
  /** Known addresses of the node. */
  addresses?: NodeAddress[];
  /** Detected host interfaces. */
  interfaces?: NodeInterface[];
}

/** Status of a {@link Node} (`status` is always emitted, `{}` when empty). */
export interface NodeStatus {
  wireguardPublicKey?: string;
  wireguardPublicKeyV6?: string;
  podCIDRs?: string[];
}

/** A Calico node (internal kind; a view of the Kubernetes Node in KDD). */
export type Node = V3Object<'Node', NodeSpec, NodeStatus>;

// ---------------------------------------------------------------------------------------------
// Endpoints

/** A 1:1 NAT mapping of a workload endpoint. Both fields always emitted. */
export interface IPNAT {
  internalIP: string;
  externalIP: string;
}

/** A named port of a workload endpoint. All five keys are always emitted. */
export interface WorkloadEndpointPort {
  name: string;
  protocol: Protocol;
  port: number;
  hostPort: number;
  hostIP: string;
}

/** Bandwidth / packet-rate / connection limits of a workload endpoint. */
export interface QoSControls {
  ingressBandwidth?: number;
  egressBandwidth?: number;
  ingressBurst?: number;
  egressBurst?: number;
  ingressPeakrate?: number;
  egressPeakrate?: number;
  ingressMinburst?: number;
  egressMinburst?: number;
  ingressPacketRate?: number;
  egressPacketRate?: number;
  ingressPacketBurst?: number;
  egressPacketBurst?: number;
  ingressMaxConnections?: number;
  egressMaxConnections?: number;
  dscp?: number | string;
}

/** Spec of a {@link WorkloadEndpoint}. */
export interface WorkloadEndpointSpec {
  /** `k8s`, `cni`, `libnetwork`, `openstack`, ... */
  orchestrator?: string;
  /** Workload name (non-k8s/non-cni orchestrators). */
  workload?: string;
  /** Calico node name. */
  node?: string;
  /** Container ID, `[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?`. */
  containerID?: string;
  /** Kubernetes pod name. */
  pod?: string;
  /** Interface name inside the workload, e.g. `eth0`. */
  endpoint?: string;
  serviceAccountName?: string;
  /** Only /32 (IPv4) and /128 (IPv6). */
  ipNetworks?: string[];
  ipNATs?: IPNAT[];
  ipv4Gateway?: string;
  ipv6Gateway?: string;
  /** Profile names, e.g. `kns.default`, `ksa.default.default`. */
  profiles?: string[];
  /** Host-side interface name; required; 1-15 chars of `[a-zA-Z0-9_.-]`. */
  interfaceName: string;
  mac?: string;
  ports?: WorkloadEndpointPort[];
  allowSpoofedSourcePrefixes?: string[];
  qosControls?: QoSControls;
}
/** A workload's network interface (internal kind; a view of a Pod in KDD). */
export type WorkloadEndpoint = V3Object<'WorkloadEndpoint', WorkloadEndpointSpec>;

/** A port of a host endpoint (all three fields required). */
export interface EndpointPort {
  name: string;
  protocol: Protocol;
  port: number;
}

/** Spec of a {@link HostEndpoint}. */
export interface HostEndpointSpec {
  /** Node the interface belongs to (required). */
  node?: string;
  /** Interface name (≤15 chars) or `*` for all host interfaces. */
  interfaceName?: string;
  /** Expected IPs of the interface. */
  expectedIPs?: string[];
  profiles?: string[];
  ports?: EndpointPort[];
}
/** A host interface policy applies to. */
export type HostEndpoint = V3Object<'HostEndpoint', HostEndpointSpec>;

// ---------------------------------------------------------------------------------------------
// BGP

/** A `{cidr}` entry of the BGPConfiguration service lists. */
export interface ServiceIPBlock {
  cidr?: string;
}

/** A named BGP community: value `aa:nn` or `aa:nn:mm`. */
export interface Community {
  name?: string;
  value?: string;
}

/** A prefix advertised with communities (names from `communities` or literal values). */
export interface PrefixAdvertisement {
  cidr?: string;
  communities?: string[];
}

/** Spec of a {@link BGPConfiguration}. Fields marked ⓓ may only be set on `default`. */
export interface BGPConfigurationSpec {
  /** BIRD log level; CRD default `Info`; Trace/Debug/Info/Warning/Error/Fatal (any case). */
  logSeverityScreen?: string;
  /** ⓓ Full node-to-node mesh; unset means true. */
  nodeToNodeMeshEnabled?: boolean;
  /** ⓓ Global default AS; unset means 64512. */
  asNumber?: ASNumber;
  /** ⓓ LoadBalancer service ranges to advertise. */
  serviceLoadBalancerIPs?: ServiceIPBlock[];
  /** ⓓ External IP ranges to advertise. */
  serviceExternalIPs?: ServiceIPBlock[];
  /** ⓓ Cluster IP ranges to advertise. */
  serviceClusterIPs?: ServiceIPBlock[];
  /** CRD default `Enabled`. */
  serviceLoadBalancerAggregation?: EnabledDisabled;
  /** Named communities (needs `prefixAdvertisements`). */
  communities?: Community[];
  prefixAdvertisements?: PrefixAdvertisement[];
  /** BGP listen port, 1-65535; unset means 179. */
  listenPort?: number;
  /** ⓓ Mesh password; not allowed when the mesh is disabled. */
  nodeMeshPassword?: BGPPassword;
  /** ⓓ Mesh graceful-restart time; not allowed when the mesh is disabled. */
  nodeMeshMaxRestartTime?: Duration;
  bindMode?: BGPBindMode;
  /** Interface globs to exclude from BGP. */
  ignoredInterfaces?: string[];
  localWorkloadPeeringIPV4?: string;
  localWorkloadPeeringIPV6?: string;
  /** Unset means `EnabledNoEncapOnly`. */
  programClusterRoutes?: ProgramClusterRoutes;
  /** 1-2147483646; unset means 1024. */
  ipv4NormalRoutePriority?: number;
  /** 1-2147483646; unset means 1024. */
  ipv6NormalRoutePriority?: number;
}
/** Global (`default`) or per-node (`node.<name>`) BGP settings. */
export type BGPConfiguration = V3Object<'BGPConfiguration', BGPConfigurationSpec>;

/** Spec of a {@link BGPPeer}. */
export interface BGPPeerSpec {
  /** Peering applies to this node only (exclusive with `nodeSelector`). */
  node?: string;
  /** Nodes the peering applies to (exclusive with `node`). */
  nodeSelector?: string;
  /** `<ip>`, `<ipv4>:<port>` or `[<ipv6>]:<port>`; max 64 chars. */
  peerIP?: string;
  /** Remote AS (omitted when 0); must be empty with `peerSelector`. */
  asNumber?: ASNumber;
  /** Local AS override for this peering. */
  localASNumber?: ASNumber;
  /** Peer with the Calico nodes selected (exclusive with `peerIP`). */
  peerSelector?: string;
  /** Deprecated; cannot be combined with `nextHopMode`. */
  keepOriginalNextHop?: boolean;
  nextHopMode?: BGPPeerNextHopMode;
  password?: BGPPassword;
  /** Unset behaves as `UseNodeIP`. */
  sourceAddress?: BGPPeerSourceAddress;
  maxRestartTime?: Duration;
  keepaliveTime?: Duration;
  numAllowedLocalASNumbers?: number;
  /** TTL security hops (uint8). */
  ttlSecurity?: number;
  /** Gateway IP to reach the peer; requires `peerIP`, same family. */
  reachableBy?: string;
  /** Names of BGPFilter resources. */
  filters?: string[];
  /** Peer with local workloads selected; requires `asNumber`, forbids `peerIP`/`peerSelector`. */
  localWorkloadSelector?: string;
  reversePeering?: BGPPeerReversePeering;
}
/** An explicit BGP peering. */
export type BGPPeer = V3Object<'BGPPeer', BGPPeerSpec>;

/** Prefix-length bounds of a BGPFilter rule. */
export interface BGPFilterPrefixLength {
  min?: number;
  max?: number;
}

/** One operation of an accepting BGPFilter rule (exactly one field set). */
export interface BGPFilterOperation {
  addCommunity?: { value: string };
  prependASPath?: { prefix: ASNumber[] };
  setPriority?: { value: number };
}

/** One rule of a BGPFilter list. */
export interface BGPFilterRule {
  cidr?: string;
  prefixLength?: BGPFilterPrefixLength;
  source?: 'RemotePeers';
  interface?: string;
  matchOperator?: BGPFilterMatchOperator;
  peerType?: BGPFilterPeerType;
  communities?: { values: string[] };
  asPathPrefix?: ASNumber[];
  priority?: number;
  /** Required. */
  action: BGPFilterAction;
  operations?: BGPFilterOperation[];
}

/** Spec of a {@link BGPFilter}. */
export interface BGPFilterSpec {
  exportV4?: BGPFilterRule[];
  importV4?: BGPFilterRule[];
  exportV6?: BGPFilterRule[];
  importV6?: BGPFilterRule[];
}
/** Import/export route filters referenced by BGPPeers. */
export type BGPFilter = V3Object<'BGPFilter', BGPFilterSpec>;

// ---------------------------------------------------------------------------------------------
// Felix, cluster information, kube-controllers

/** A `{min, max}` route table index range. */
export interface RouteTableRange {
  min: number;
  max: number;
}

/**
 * Spec of a {@link FelixConfiguration}: every field of the v3 CRD (generated), with the
 * encapsulation/routing subset documented here. Unset fields mean "Felix's default".
 */
export interface FelixConfigurationSpec extends FelixConfigurationSpecFields {
  /** IPIP device on/off; unset = decided from the pools. */
  ipipEnabled?: boolean;
  /** tunl0 MTU; 0 = auto. */
  ipipMTU?: number;
  /** VXLAN device on/off; unset = decided from the pools. */
  vxlanEnabled?: boolean;
  /** vxlan.calico MTU; 0 = auto. */
  vxlanMTU?: number;
  /** vxlan-v6.calico MTU; 0 = auto. */
  vxlanMTUV6?: number;
  /** VXLAN UDP port; Felix default 4789. */
  vxlanPort?: number;
  /** VXLAN VNI; Felix default 4096. */
  vxlanVNI?: number;
  /** WireGuard on/off (IPv4); default false. */
  wireguardEnabled?: boolean;
  /** Where routes come from: `WorkloadIPs` or `CalicoIPAM` (default). */
  routeSource?: string;
  /** Route table index ranges Felix may use; not with `routeTableRange`. */
  routeTableRanges?: RouteTableRange[];
  /** Deprecated single range (1-250). */
  routeTableRange?: RouteTableRange;
  /** Unset means `EnabledIPIPOnly` in Felix. */
  programClusterRoutes?: ProgramClusterRoutes;
  /** Workload interface name prefix; default `cali`. */
  interfacePrefix?: string;
  /** Per-selector configuration: forbidden on `default` and `node.*`. */
  nodeSelector?: string;
  /** Client writes `Disabled` when unset. */
  floatingIPs?: EnabledDisabled;
}
/** Felix (dataplane agent) settings: `default`, `node.<name>`, or selector-scoped. */
export type FelixConfiguration = V3Object<'FelixConfiguration', FelixConfigurationSpec>;

/** Spec of the {@link ClusterInformation} singleton. */
export interface ClusterInformationSpec {
  /** 32 lowercase hex characters. */
  clusterGUID?: string;
  /** Comma-separated tags, e.g. `k8s,bgp,kubeadm`. */
  clusterType?: string;
  calicoVersion?: string;
  /** False tells components to wait (migrations). */
  datastoreReady?: boolean;
  variant?: string;
}
/** Cluster-wide identity and readiness; only the name `default`. */
export type ClusterInformation = V3Object<'ClusterInformation', ClusterInformationSpec>;

/** A kube-controllers host endpoint template. */
export interface AutoHostEndpointTemplate {
  generateName?: string;
  interfaceCIDRs?: string[];
  interfacePattern?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  nodeSelector?: string;
}

/** The node controller's settings. */
export interface NodeControllerConfig {
  reconcilerPeriod?: Duration;
  syncLabels?: EnabledDisabled;
  hostEndpoint?: {
    autoCreate?: EnabledDisabled;
    createDefaultHostEndpoint?: string;
    templates?: AutoHostEndpointTemplate[];
  };
  /** Client default `15m`. */
  leakGracePeriod?: Duration;
}

/** Which controllers run (a missing sub-object disables that controller). */
export interface ControllersConfig {
  node?: NodeControllerConfig;
  policy?: { reconcilerPeriod?: Duration };
  workloadEndpoint?: { reconcilerPeriod?: Duration };
  serviceAccount?: { reconcilerPeriod?: Duration };
  namespace?: { reconcilerPeriod?: Duration };
  /** `assignIPs` default `AllServices`. */
  loadBalancer?: { assignIPs?: 'AllServices' | 'RequestedServicesOnly' };
  migration?: { policyNameMigrator?: EnabledDisabled };
}

/** Spec of the {@link KubeControllersConfiguration} singleton. */
export interface KubeControllersConfigurationSpec {
  logSeverityScreen?: 'None' | 'Debug' | 'Info' | 'Warning' | 'Error' | 'Fatal' | 'Panic';
  /** CRD default `Enabled`. */
  healthChecks?: EnabledDisabled;
  /** Default `10m`; `0` disables. */
  etcdV3CompactionPeriod?: Duration;
  /** Client default 9094. */
  prometheusMetricsPort?: number;
  debugProfilePort?: number;
  /** Always emitted. */
  controllers: ControllersConfig;
}

/** Status of the {@link KubeControllersConfiguration}. */
export interface KubeControllersConfigurationStatus {
  runningConfig?: KubeControllersConfigurationSpec;
  environmentVars?: Record<string, string>;
}
/** kube-controllers settings; only the name `default`. */
export type KubeControllersConfiguration = V3Object<
  'KubeControllersConfiguration',
  KubeControllersConfigurationSpec,
  KubeControllersConfigurationStatus
>;

// ---------------------------------------------------------------------------------------------
// Policy

/** ICMP match (`code` requires `type`). */
export interface ICMPFields {
  /** 0-254. */
  type?: number;
  /** 0-255. */
  code?: number;
}

/** Service-account match of an entity rule. */
export interface ServiceAccountMatch {
  names?: string[];
  selector?: string;
}

/** Kubernetes service match of an entity rule. */
export interface ServiceMatch {
  name?: string;
  namespace?: string;
}

/** Source or destination of a rule. */
export interface EntityRule {
  nets?: string[];
  notNets?: string[];
  selector?: string;
  notSelector?: string;
  /** May use `global()`. */
  namespaceSelector?: string;
  ports?: Port[];
  notPorts?: Port[];
  serviceAccounts?: ServiceAccountMatch;
  services?: ServiceMatch;
}

/** HTTP match (Allow rules, TCP). */
export interface HTTPMatch {
  methods?: string[];
  paths?: Array<{ exact?: string; prefix?: string }>;
}

/** A policy or profile rule. */
export interface Rule {
  /** Required. */
  action: RuleAction;
  /** 4 or 6. */
  ipVersion?: 4 | 6;
  protocol?: Protocol;
  notProtocol?: Protocol;
  icmp?: ICMPFields;
  notICMP?: ICMPFields;
  source?: EntityRule;
  destination?: EntityRule;
  http?: HTTPMatch;
  metadata?: { annotations?: Record<string, string> };
}

/** Spec of a {@link NetworkPolicy}. */
export interface NetworkPolicySpec {
  /** CRD default `default`. */
  tier?: string;
  order?: number;
  ingress?: Rule[];
  egress?: Rule[];
  selector?: string;
  /** Defaulted from the rules when empty. */
  types?: PolicyType[];
  serviceAccountSelector?: string;
  performanceHints?: Array<'AssumeNeededOnEveryNode'>;
}
/** A namespaced policy. */
export type NetworkPolicy = V3Object<'NetworkPolicy', NetworkPolicySpec>;

/** Spec of a {@link GlobalNetworkPolicy}. */
export interface GlobalNetworkPolicySpec extends NetworkPolicySpec {
  doNotTrack?: boolean;
  preDNAT?: boolean;
  /** Must be true with `doNotTrack` or `preDNAT`. */
  applyOnForward?: boolean;
  namespaceSelector?: string;
}
/** A cluster-wide policy. */
export type GlobalNetworkPolicy = V3Object<'GlobalNetworkPolicy', GlobalNetworkPolicySpec>;

/** Spec of a {@link Tier}. */
export interface TierSpec {
  order?: number;
  /** CRD default `Deny`. */
  defaultAction?: TierDefaultAction;
}
/** Status of a {@link Tier}. */
export interface TierStatus {
  conditions?: Condition[];
}
/** An ordered group of policies. */
export type Tier = V3Object<'Tier', TierSpec, TierStatus>;

/** Spec of a {@link Profile}. */
export interface ProfileSpec {
  ingress?: Rule[];
  egress?: Rule[];
  /** Labels inherited by endpoints using the profile (the endpoint's own labels win). */
  labelsToApply?: Record<string, string>;
}
/** Rules and labels shared by endpoints (namespaces / service accounts in Kubernetes). */
export type Profile = V3Object<'Profile', ProfileSpec>;

/** Spec of a {@link NetworkSet} / {@link GlobalNetworkSet}. */
export interface NetworkSetSpec {
  /** CIDRs or IPs. */
  nets?: string[];
}
/** A namespaced set of networks selectable by policy. */
export type NetworkSet = V3Object<'NetworkSet', NetworkSetSpec>;
/** Spec of a {@link GlobalNetworkSet}. */
export type GlobalNetworkSetSpec = NetworkSetSpec;
/** A cluster-wide set of networks selectable by policy. */
export type GlobalNetworkSet = V3Object<'GlobalNetworkSet', GlobalNetworkSetSpec>;

// ---------------------------------------------------------------------------------------------
// Type map

/** Maps each kind name to its resource type. */
export interface ResourceTypeMap {
  IPPool: IPPool;
  IPReservation: IPReservation;
  IPAMConfiguration: IPAMConfiguration;
  BlockAffinity: BlockAffinity;
  Node: Node;
  WorkloadEndpoint: WorkloadEndpoint;
  HostEndpoint: HostEndpoint;
  BGPConfiguration: BGPConfiguration;
  BGPPeer: BGPPeer;
  BGPFilter: BGPFilter;
  FelixConfiguration: FelixConfiguration;
  ClusterInformation: ClusterInformation;
  NetworkPolicy: NetworkPolicy;
  GlobalNetworkPolicy: GlobalNetworkPolicy;
  Tier: Tier;
  Profile: Profile;
  NetworkSet: NetworkSet;
  GlobalNetworkSet: GlobalNetworkSet;
  KubeControllersConfiguration: KubeControllersConfiguration;
}

/** The resource type of kind `K`: `ResourceOfKind<'IPPool'>` is {@link IPPool}. */
export type ResourceOfKind<K extends ResourceKind> = ResourceTypeMap[K];

/** The spec type of kind `K`. */
export type SpecOfKind<K extends ResourceKind> = ResourceTypeMap[K]['spec'];

/** Any v3 resource (discriminated by `kind`). */
export type Resource = ResourceTypeMap[ResourceKind];
