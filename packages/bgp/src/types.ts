/**
 * Public input and output types of the BIRD renderer.
 */
import type { BlockAffinity, Resource } from '@libcalico-ts/api';

/** The six files confd writes, by name. */
export const BIRD_FILE_NAMES = [
  'bird.cfg',
  'bird6.cfg',
  'bird_ipam.cfg',
  'bird6_ipam.cfg',
  'bird_aggr.cfg',
  'bird6_aggr.cfg',
] as const;

/** One of {@link BIRD_FILE_NAMES}. */
export type BirdFileName = (typeof BIRD_FILE_NAMES)[number];

/** The rendered files: file name -> text. `bird.cfg` includes the `_aggr`/`_ipam` files. */
export type BirdConfigFiles = Record<BirdFileName, string>;

/**
 * A block affinity: either a v3 `BlockAffinity` resource, or the plain fields.
 * `state` is `''` (legacy, treated as confirmed), `confirmed`, `pending` (ignored, as confd
 * never sees pending affinities) or `pendingDeletion`.
 */
export type BlockAffinityInput =
  | BlockAffinity
  | {
      /** Owning node. */
      node: string;
      /** Block CIDR, e.g. `10.244.9.64/26`. */
      cidr: string;
      /** Claim state; default `''`. */
      state?: string;
      /** `host` (default) or `virtual`; only host affinities are rendered. */
      type?: string;
      /** Soft-deleted affinities are ignored. */
      deleted?: boolean | string;
    };

/**
 * A Kubernetes object relevant to service advertisement: `v1` `Service` or
 * `discovery.k8s.io/v1` `EndpointSlice` (other kinds are ignored). Plain JSON as the API serves it.
 */
export interface KubernetesObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/**
 * Looks up a Secret value (for BGP passwords). Called with the Secret name, the key and the
 * namespace (`environment.NAMESPACE`, default `kube-system`). Return undefined when the Secret or
 * key does not exist: the password line is then left out, as confd does.
 */
export type SecretLookup = (name: string, key: string, namespace: string) => string | undefined;

/**
 * Values confd reads from its environment. The renderer never reads `process.env`: pass what
 * you want here.
 */
export interface BirdEnvironment {
  /** `hash` (router id from SHA-256 of the node name), an explicit id, or unset (node IPv4). */
  CALICO_ROUTER_ID?: string;
  /** Namespace of BGP password Secrets; default `kube-system`. */
  NAMESPACE?: string;
  /** A CIDR that replaces BGPConfiguration `serviceClusterIPs`. */
  CALICO_ADVERTISE_CLUSTER_IPS?: string;
  /** Kubernetes node name used to find local endpoints; default: the rendered node name. */
  CALICO_K8S_NODE_REF?: string;
}

/**
 * A local workload that asked to peer with this node (what Felix writes to its endpoint-status
 * files): used by BGPPeers with `localWorkloadSelector`.
 */
export interface LocalWorkloadPeer {
  /** Workload (endpoint) name, for messages. */
  name: string;
  /** The BGPPeer this workload peers through. */
  bgpPeerName: string;
  /** IPv4 address (a `/32` suffix is accepted). */
  ipv4?: string;
  /** IPv6 address (a `/128` suffix is accepted). */
  ipv6?: string;
}

/**
 * Output syntax.
 * - `calico` (default): the syntax of Calico's BIRD 1.x fork, byte-compatible with confd.
 * - `bird2`: the same configuration in BIRD 2 syntax (channels, `local ... port`), for a stock
 *   BIRD 2 daemon. BIRD 2 has no `krt_tunnel`, so BIRD-programmed IPIP pools are refused there.
 *   It also makes BIRD 2 program the kernel as Calico's BIRD 1.x does: `metric 0` in the kernel
 *   protocol (BIRD 2's default is 32), device (direct-protocol) routes rejected in
 *   `calico_kernel_programming` (BIRD 1.x's `device routes` is off by default; BIRD 2 has no such
 *   switch), BGP routes at normal priority installed without a metric (elevated, live-migration
 *   ones keep theirs), and a kernel metric of 0 read as "no metric" (normal priority) by the
 *   peer export filters, so pod /32 routes without a metric are not exported beside their block.
 */
export type BirdDialect = 'calico' | 'bird2';

/** Input of {@link renderBirdConfig}. */
export interface RenderBirdConfigOptions {
  /** The node to render for (confd's `NODENAME`). Its Node resource must be present. */
  nodeName: string;
  /**
   * Calico v3 resources: BGPConfiguration, BGPPeer, BGPFilter, Node, IPPool (and BlockAffinity,
   * which is added to `blockAffinities`). Other kinds are ignored. Node labels are used as given:
   * on Kubernetes, pass the Kubernetes Node labels.
   */
  resources: readonly (Resource | { kind: string; [field: string]: unknown })[];
  /** Block affinities; only the rendered node's host affinities are used. Default none. */
  blockAffinities?: readonly BlockAffinityInput[];
  /** Services and EndpointSlices for per-service static routes. Default none. */
  kubernetesObjects?: readonly KubernetesObject[];
  /** Secret lookup for BGP passwords. Default: no Secrets (no password lines). */
  secrets?: SecretLookup;
  /** confd environment values. */
  environment?: BirdEnvironment;
  /** Local workload peers for `localWorkloadSelector` BGPPeers. Default none. */
  localWorkloadPeers?: readonly LocalWorkloadPeer[];
  /** Output syntax; default `calico`. */
  dialect?: BirdDialect;
  /** Receives each warning as it is found (also returned by {@link renderBirdConfigWithWarnings}). */
  onWarning?: (warning: BirdConfigWarning) => void;
}

/** Why something was left out of the configuration. Never contains secret values. */
export interface BirdConfigWarning {
  /** Stable code, e.g. `invalid-peer-ip`, `invalid-selector`. */
  code: BirdConfigWarningCode;
  /** Human-readable explanation. */
  message: string;
  /** The resource concerned, when there is one. */
  resource?: { kind: string; name: string };
}

/** Codes of {@link BirdConfigWarning}. */
export type BirdConfigWarningCode =
  | 'invalid-peer-ip'
  | 'invalid-reachable-by'
  | 'invalid-selector'
  | 'invalid-node-address'
  | 'invalid-cidr'
  | 'invalid-bgp-configuration-name'
  | 'invalid-local-workload-ip'
  | 'missing-router-id'
  | 'unknown-program-cluster-routes';

/** Result of {@link renderBirdConfigWithWarnings}. */
export interface RenderBirdConfigResult {
  files: BirdConfigFiles;
  warnings: BirdConfigWarning[];
}
