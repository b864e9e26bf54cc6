/**
 * The catalogue of projectcalico.org/v3 resource kinds: how each is named on the wire,
 * whether it is namespaced, and where each datastore keeps it.
 */

/** The API group and version every v3 resource carries. */
export const API_VERSION = 'projectcalico.org/v3' as const;
export type ApiVersion = typeof API_VERSION;

/** Facts about one resource kind. */
export interface KindInfo {
  /** Singular PascalCase kind, as in `kind:`. */
  readonly kind: string;
  /** Lowercase plural: the etcd path segment and the CRD plural. */
  readonly plural: string;
  /** Namespaced (true) or cluster-scoped (false). */
  readonly namespaced: boolean;
  /** Singleton kinds accept only this name (e.g. `default`). */
  readonly singletonName?: string;
  /**
   * How the Kubernetes datastore backs this kind: a `crd.projectcalico.org/v1` CRD (with its
   * plural and kind), or a native Kubernetes object Calico derives it from.
   */
  readonly kdd:
    | { readonly crd: { readonly plural: string; readonly kind: string } }
    | { readonly derivedFrom: 'Node' | 'Pod' | 'Namespace/ServiceAccount' };
}

function crd(plural: string, kind: string) {
  return { crd: { plural, kind } } as const;
}

/** Every v3 resource kind the SDK knows, keyed by kind. */
export const KINDS = {
  IPPool: { kind: 'IPPool', plural: 'ippools', namespaced: false, kdd: crd('ippools', 'IPPool') },
  IPReservation: { kind: 'IPReservation', plural: 'ipreservations', namespaced: false, kdd: crd('ipreservations', 'IPReservation') },
  IPAMConfiguration: {
    kind: 'IPAMConfiguration',
    plural: 'ipamconfigurations',
    namespaced: false,
    singletonName: 'default',
    kdd: crd('ipamconfigs', 'IPAMConfig'),
  },
  BlockAffinity: { kind: 'BlockAffinity', plural: 'blockaffinities', namespaced: false, kdd: crd('blockaffinities', 'BlockAffinity') },
  Node: { kind: 'Node', plural: 'nodes', namespaced: false, kdd: { derivedFrom: 'Node' } },
  WorkloadEndpoint: { kind: 'WorkloadEndpoint', plural: 'workloadendpoints', namespaced: true, kdd: { derivedFrom: 'Pod' } },
  HostEndpoint: { kind: 'HostEndpoint', plural: 'hostendpoints', namespaced: false, kdd: crd('hostendpoints', 'HostEndpoint') },
  BGPConfiguration: { kind: 'BGPConfiguration', plural: 'bgpconfigurations', namespaced: false, kdd: crd('bgpconfigurations', 'BGPConfiguration') },
  BGPPeer: { kind: 'BGPPeer', plural: 'bgppeers', namespaced: false, kdd: crd('bgppeers', 'BGPPeer') },
  BGPFilter: { kind: 'BGPFilter', plural: 'bgpfilters', namespaced: false, kdd: crd('bgpfilters', 'BGPFilter') },
  FelixConfiguration: { kind: 'FelixConfiguration', plural: 'felixconfigurations', namespaced: false, kdd: crd('felixconfigurations', 'FelixConfiguration') },
  ClusterInformation: {
    kind: 'ClusterInformation',
    plural: 'clusterinformations',
    namespaced: false,
    singletonName: 'default',
    kdd: crd('clusterinformations', 'ClusterInformation'),
  },
  NetworkPolicy: { kind: 'NetworkPolicy', plural: 'networkpolicies', namespaced: true, kdd: crd('networkpolicies', 'NetworkPolicy') },
  GlobalNetworkPolicy: {
    kind: 'GlobalNetworkPolicy',
    plural: 'globalnetworkpolicies',
    namespaced: false,
    kdd: crd('globalnetworkpolicies', 'GlobalNetworkPolicy'),
  },
  Tier: { kind: 'Tier', plural: 'tiers', namespaced: false, kdd: crd('tiers', 'Tier') },
  Profile: { kind: 'Profile', plural: 'profiles', namespaced: false, kdd: { derivedFrom: 'Namespace/ServiceAccount' } },
  NetworkSet: { kind: 'NetworkSet', plural: 'networksets', namespaced: true, kdd: crd('networksets', 'NetworkSet') },
  GlobalNetworkSet: { kind: 'GlobalNetworkSet', plural: 'globalnetworksets', namespaced: false, kdd: crd('globalnetworksets', 'GlobalNetworkSet') },
  KubeControllersConfiguration: {
    kind: 'KubeControllersConfiguration',
    plural: 'kubecontrollersconfigurations',
    namespaced: false,
    singletonName: 'default',
    kdd: crd('kubecontrollersconfigurations', 'KubeControllersConfiguration'),
  },
} as const satisfies Record<string, KindInfo>;

/** A v3 resource kind name: `'IPPool' | 'Node' | ...`. */
export type ResourceKind = keyof typeof KINDS;

/** All kind names, in catalogue order. */
export const RESOURCE_KINDS = Object.keys(KINDS) as ResourceKind[];

/** True when `kind` names a known v3 kind. */
export function isResourceKind(kind: unknown): kind is ResourceKind {
  return typeof kind === 'string' && Object.prototype.hasOwnProperty.call(KINDS, kind);
}

/** Facts about `kind`. */
export function kindInfo(kind: ResourceKind): KindInfo {
  return KINDS[kind];
}
