/**
 * Enum-like values of projectcalico.org/v3 specs: each is an `as const` object plus a type of
 * the same name, so both `IPIPMode.Always` and the literal `'Always'` type-check.
 *
 * @example
 * ```ts
 * const mode: IPIPMode = IPIPMode.CrossSubnet; // 'CrossSubnet'
 * ```
 */

/** IPPool `ipipMode`: when traffic to workloads in the pool is IP-in-IP encapsulated. */
export const IPIPMode = {
  /** Never encapsulate (the client default). */
  Never: 'Never',
  /** Always encapsulate. */
  Always: 'Always',
  /** Encapsulate only when the destination node is in another subnet. */
  CrossSubnet: 'CrossSubnet',
} as const;
export type IPIPMode = (typeof IPIPMode)[keyof typeof IPIPMode];

/** IPPool `vxlanMode`: same values and meaning as {@link IPIPMode}, for VXLAN. */
export const VXLANMode = {
  Never: 'Never',
  Always: 'Always',
  CrossSubnet: 'CrossSubnet',
} as const;
export type VXLANMode = (typeof VXLANMode)[keyof typeof VXLANMode];

/** Entries of IPPool `allowedUses`. */
export const IPPoolAllowedUse = {
  /** Addresses for workloads (pods, VMs). */
  Workload: 'Workload',
  /** Tunnel device addresses (tunl0, vxlan.calico, wireguard). */
  Tunnel: 'Tunnel',
  /** Service LoadBalancer addresses (exclusive with the two others). */
  LoadBalancer: 'LoadBalancer',
} as const;
export type IPPoolAllowedUse = (typeof IPPoolAllowedUse)[keyof typeof IPPoolAllowedUse];

/** IPPool `assignmentMode`. */
export const AssignmentMode = {
  /** The pool is used by automatic assignment (default). */
  Automatic: 'Automatic',
  /** The pool is used only when a request names it explicitly. */
  Manual: 'Manual',
} as const;
export type AssignmentMode = (typeof AssignmentMode)[keyof typeof AssignmentMode];

/** BlockAffinity `state`. `''` (legacy) is treated as confirmed; `pending` as absent. */
export const BlockAffinityState = {
  Empty: '',
  Confirmed: 'confirmed',
  Pending: 'pending',
  PendingDeletion: 'pendingDeletion',
} as const;
export type BlockAffinityState = (typeof BlockAffinityState)[keyof typeof BlockAffinityState];

/** BlockAffinity `type`: a real node (`host`, the default) or a virtual owner (`virtual`). */
export const BlockAffinityType = {
  Host: 'host',
  Virtual: 'virtual',
} as const;
export type BlockAffinityType = (typeof BlockAffinityType)[keyof typeof BlockAffinityType];

/** IPAMConfiguration `kubeVirtVMAddressPersistence` (unset means `Enabled`). */
export const VMAddressPersistence = {
  Enabled: 'Enabled',
  Disabled: 'Disabled',
} as const;
export type VMAddressPersistence = (typeof VMAddressPersistence)[keyof typeof VMAddressPersistence];

/** BGPPeer `nextHopMode`. */
export const BGPPeerNextHopMode = {
  Auto: 'Auto',
  Self: 'Self',
  Keep: 'Keep',
} as const;
export type BGPPeerNextHopMode = (typeof BGPPeerNextHopMode)[keyof typeof BGPPeerNextHopMode];

/** BGPPeer `sourceAddress` (unset behaves as `UseNodeIP`). */
export const BGPPeerSourceAddress = {
  UseNodeIP: 'UseNodeIP',
  None: 'None',
} as const;
export type BGPPeerSourceAddress = (typeof BGPPeerSourceAddress)[keyof typeof BGPPeerSourceAddress];

/** BGPPeer `reversePeering`: `Manual` disables the automatic reverse peering. */
export const BGPPeerReversePeering = {
  Auto: 'Auto',
  Manual: 'Manual',
} as const;
export type BGPPeerReversePeering = (typeof BGPPeerReversePeering)[keyof typeof BGPPeerReversePeering];

/** BGPConfiguration `bindMode`. */
export const BGPBindMode = {
  None: 'None',
  NodeIP: 'NodeIP',
} as const;
export type BGPBindMode = (typeof BGPBindMode)[keyof typeof BGPBindMode];

/** `Enabled` / `Disabled` switches (serviceLoadBalancerAggregation, floatingIPs, ipForwarding, ...). */
export const EnabledDisabled = {
  Enabled: 'Enabled',
  Disabled: 'Disabled',
} as const;
export type EnabledDisabled = (typeof EnabledDisabled)[keyof typeof EnabledDisabled];

/** `programClusterRoutes` of BGPConfiguration and FelixConfiguration. */
export const ProgramClusterRoutes = {
  Enabled: 'Enabled',
  Disabled: 'Disabled',
  EnabledIPIPOnly: 'EnabledIPIPOnly',
  EnabledNoEncapOnly: 'EnabledNoEncapOnly',
} as const;
export type ProgramClusterRoutes = (typeof ProgramClusterRoutes)[keyof typeof ProgramClusterRoutes];

/** BGPFilter rule `action`. */
export const BGPFilterAction = {
  Accept: 'Accept',
  Reject: 'Reject',
} as const;
export type BGPFilterAction = (typeof BGPFilterAction)[keyof typeof BGPFilterAction];

/** BGPFilter rule `matchOperator` (required exactly when `cidr` is set). */
export const BGPFilterMatchOperator = {
  Equal: 'Equal',
  NotEqual: 'NotEqual',
  In: 'In',
  NotIn: 'NotIn',
} as const;
export type BGPFilterMatchOperator = (typeof BGPFilterMatchOperator)[keyof typeof BGPFilterMatchOperator];

/** BGPFilter rule `peerType`. */
export const BGPFilterPeerType = {
  EBGP: 'eBGP',
  IBGP: 'iBGP',
} as const;
export type BGPFilterPeerType = (typeof BGPFilterPeerType)[keyof typeof BGPFilterPeerType];

/** Node `addresses[].type`. */
export const NodeAddressType = {
  CalicoNodeIP: 'CalicoNodeIP',
  InternalIP: 'InternalIP',
  ExternalIP: 'ExternalIP',
} as const;
export type NodeAddressType = (typeof NodeAddressType)[keyof typeof NodeAddressType];

/** Policy rule `action`. */
export const RuleAction = {
  Allow: 'Allow',
  Deny: 'Deny',
  Log: 'Log',
  Pass: 'Pass',
} as const;
export type RuleAction = (typeof RuleAction)[keyof typeof RuleAction];

/** Policy `types` entries. */
export const PolicyType = {
  Ingress: 'Ingress',
  Egress: 'Egress',
} as const;
export type PolicyType = (typeof PolicyType)[keyof typeof PolicyType];

/** Tier `defaultAction`. */
export const TierDefaultAction = {
  Deny: 'Deny',
  Pass: 'Pass',
} as const;
export type TierDefaultAction = (typeof TierDefaultAction)[keyof typeof TierDefaultAction];

/** Named protocols accepted in rules and ports (a number 1-255 is accepted too). */
export const ProtocolName = {
  TCP: 'TCP',
  UDP: 'UDP',
  ICMP: 'ICMP',
  ICMPv6: 'ICMPv6',
  SCTP: 'SCTP',
  UDPLite: 'UDPLite',
} as const;
export type ProtocolName = (typeof ProtocolName)[keyof typeof ProtocolName];

/** `logSeverityScreen` values of BGPConfiguration (matched case-insensitively by Calico). */
export const LogSeverity = {
  Trace: 'Trace',
  Debug: 'Debug',
  Info: 'Info',
  Warning: 'Warning',
  Error: 'Error',
  Fatal: 'Fatal',
} as const;
export type LogSeverity = (typeof LogSeverity)[keyof typeof LogSeverity];
