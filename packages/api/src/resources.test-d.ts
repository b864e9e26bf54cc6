// Type tests, checked by `tsc` (not run). Each `@ts-expect-error` must stay an error.
import type {
  BGPConfiguration,
  BGPPeer,
  IPPool,
  IPIPMode,
  Node,
  Resource,
  ResourceKind,
  ResourceOfKind,
  WorkloadEndpoint,
} from './index.js';
import { newResource, RESOURCE_KINDS } from './index.js';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_value?: T): void {}

// ResourceOfKind maps every kind to the resource with that kind.
assertType<Equals<ResourceOfKind<'IPPool'>, IPPool>>();
assertType<Equals<ResourceOfKind<'Node'>, Node>>();
assertType<Equals<ResourceOfKind<'BGPPeer'>, BGPPeer>>();
assertType<Equals<ResourceOfKind<'WorkloadEndpoint'>, WorkloadEndpoint>>();
assertType<Equals<ResourceOfKind<'BGPConfiguration'>['kind'], 'BGPConfiguration'>>();
// ...and the map is exhaustive and consistent: the kind field of ResourceOfKind<K> is K for all K.
type KindsConsistent = { [K in ResourceKind]: Equals<ResourceOfKind<K>['kind'], K> }[ResourceKind];
assertType<Equals<KindsConsistent, true>>();
assertType<Equals<Resource['kind'], ResourceKind>>();

// Narrowing on kind.
declare const any: Resource;
if (any.kind === 'IPPool') {
  const cidr: string = any.spec.cidr;
  void cidr;
}

// Enum-likes accept literals.
const mode: IPIPMode = 'CrossSubnet';
void mode;
// @ts-expect-error not an IPIP mode
const badMode: IPIPMode = 'Sometimes';
void badMode;

// newResource infers the resource type from the kind and checks the spec.
const pool = newResource('IPPool', 'p', { cidr: '10.0.0.0/16', ipipMode: 'Always' });
assertType<Equals<typeof pool, IPPool>>();
// @ts-expect-error cidr is required on IPPool
newResource('IPPool', 'p', { ipipMode: 'Always' });
// @ts-expect-error unknown field
newResource('BGPPeer', 'p', { peerIP: '10.0.0.1', peerAS: 1 });
void RESOURCE_KINDS;
