/**
 * Request and result types of the IPAM engine: libcalico-go's `ipam.Interface` arguments in
 * camelCase.
 */
import type { IPAMConfig } from '@libcalico-ts/datastore';

/** What an address is for; must be allowed by the pool's `allowedUses`. */
export const IntendedUse = { Workload: 'Workload', Tunnel: 'Tunnel', LoadBalancer: 'LoadBalancer' } as const;
export type IntendedUse = (typeof IntendedUse)[keyof typeof IntendedUse];

/**
 * Reserve `startOfBlock` ordinals at the start and `endOfBlock` at the end of every block this
 * request claims, for `handle` (Windows: 3, 1, `windows-reserved-ipam-handle`).
 */
export interface HostReservedAttr {
  startOfBlock: number;
  endOfBlock: number;
  handle: string;
  note: string;
}

/** The Windows host reservation Calico uses. */
export const WINDOWS_RESERVED_HANDLE = 'windows-reserved-ipam-handle';

/** A namespace for pool namespace selectors: its labels (name is informational). */
export interface NamespaceInfo {
  name?: string;
  labels?: Record<string, string>;
}

/** Arguments of `autoAssign`. */
export interface AutoAssignArgs {
  /** IPv4 addresses wanted (0 or absent: none). */
  num4?: number;
  /** IPv6 addresses wanted (0 or absent: none). */
  num6?: number;
  /** Handle recorded on every address and counted in the handle record. */
  handleId?: string;
  /** Stored as the allocation's `secondary` attributes (pod, namespace, node, ...). */
  attrs?: Record<string, string>;
  /** Host for affinity; default the engine's `hostname` option, else the OS hostname. */
  hostname?: string;
  /** Explicit IPv4 pool CIDRs, tried in this order (ignores selectors and assignment mode). */
  ipv4Pools?: string[];
  /** Explicit IPv6 pool CIDRs. */
  ipv6Pools?: string[];
  /** Per-request cap on affine blocks (min with the global MaxBlocksPerHost). 0 = global/default 20. */
  maxBlocksPerHost?: number;
  /** Host-reserved ordinals for IPv4 blocks claimed by this request. */
  hostReservedAttrIPv4s?: HostReservedAttr;
  /** Host-reserved ordinals for IPv6 blocks claimed by this request. */
  hostReservedAttrIPv6s?: HostReservedAttr;
  /** Required: `Workload`, `Tunnel` or `LoadBalancer`. */
  intendedUse: IntendedUse;
  /** Namespace whose labels pools' namespace selectors are matched against. */
  namespace?: NamespaceInfo;
}

/** The outcome for one IP family. */
export interface IPAMAssignments {
  /** Assigned addresses with the block's prefix length (`10.0.0.5/26`), in assignment order. */
  ips: string[];
  ipVersion: 4 | 6;
  numRequested: number;
  hostReservedAttr?: HostReservedAttr;
  /** Why fewer addresses than requested may have been assigned (de-duplicated, in order). */
  msgs: string[];
}

/** `autoAssign` result; a family that was not requested is null. */
export interface AutoAssignResult {
  ipv4: IPAMAssignments | null;
  ipv6: IPAMAssignments | null;
}

/** Arguments of `assignIP`. */
export interface AssignIPArgs {
  ip: string;
  handleId?: string;
  attrs?: Record<string, string>;
  hostname?: string;
  hostReservedAttr?: HostReservedAttr;
  /** Optional; when given it must be in the pool's allowedUses. */
  intendedUse?: IntendedUse;
}

/** One address to release; `handleId` and `sequenceNumber` make the release conditional. */
export interface ReleaseOptions {
  address: string;
  handleId?: string;
  /** The allocation's sequence number (as reported by `check()`), compared exactly. */
  sequenceNumber?: bigint;
}

/** Result of `releaseIPs`. */
export interface ReleaseResult {
  /** Addresses that were not allocated (nothing to release). */
  unallocated: string[];
  /** Options released (or found already unallocated in an existing block) without error. */
  processed: ReleaseOptions[];
}

/** Owner attributes of an assigned address. */
export interface AssignmentAttributes {
  handleId: string | null;
  attrs: Record<string, string>;
  alternateOwnerAttrs: Record<string, string>;
}

/** Affinity owner: `host:<node>` or `virtual:<name>`. */
export interface AffinityConfig {
  host: string;
  affinityType?: 'host' | 'virtual';
}

/** Result of `claimAffinity`: block CIDRs claimed (or already ours) and those owned by someone else. */
export interface ClaimAffinityResult {
  claimed: string[];
  failed: string[];
}

/** Arguments of `ensureBlock` (tunnel addresses, Windows per-node subnets). */
export interface EnsureBlockArgs {
  hostname?: string;
  ipv4Pools?: string[];
  ipv6Pools?: string[];
  /** Non-null to ensure an IPv4 block (with these reserved ordinals; zeros allowed). */
  hostReservedAttrIPv4s?: HostReservedAttr | null;
  hostReservedAttrIPv6s?: HostReservedAttr | null;
}

/** Result of `ensureBlock`: the block CIDR per family (null when the family was skipped). */
export interface EnsureBlockResult {
  ipv4: string | null;
  ipv6: string | null;
}

/** Usage of one block. Counts are bigint: IPv6 sizes exceed 2^53. */
export interface BlockUtilization {
  cidr: string;
  capacity: bigint;
  inUse: bigint;
  reserved: bigint;
  available: bigint;
}

/** Usage of one pool (or the `orphaned allocation blocks` pseudo-pool, with zero totals). */
export interface PoolUtilization {
  name: string;
  cidr: string;
  capacity: bigint;
  inUse: bigint;
  reserved: bigint;
  available: bigint;
  blocks: BlockUtilization[];
}

/** Filter of `getUtilization`: pool names or exact CIDR strings. */
export interface UtilizationArgs {
  pools?: string[];
}

/** Fields accepted by `setIPAMConfig` (omitted fields keep their current value). */
export type IPAMConfigUpdate = Partial<IPAMConfig>;

export type { IPAMConfig };
