// Type-level tests (checked by `npx tsc -p tsconfig.json --noEmit`): the kind -> type mapping of
// the typed accessors. A wrong mapping makes the compiler fail here.
import type {
  BGPConfiguration,
  BGPFilter,
  BGPPeer,
  BlockAffinity,
  ClusterInformation,
  FelixConfiguration,
  GlobalNetworkPolicy,
  GlobalNetworkSet,
  HostEndpoint,
  IPAMConfiguration,
  IPPool,
  IPReservation,
  KubeControllersConfiguration,
  NetworkPolicy,
  NetworkSet,
  Node,
  Profile,
  Tier,
  WorkloadEndpoint,
} from '@libcalico-ts/api';
import type { IPAM } from '@libcalico-ts/ipam';
import type { AddressOwner, Client, Pin, PinnedAssignment, PinningClient, PinningErrorCode, ResourceClient, ResourceList, ResourceWatch } from './index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}
type Got<C extends { get(name: string): Promise<unknown> }> = Awaited<ReturnType<C['get']>>;

declare const client: Client;

expectType<Equal<Got<Client['ipPools']>, IPPool>>();
expectType<Equal<Got<Client['ipReservations']>, IPReservation>>();
expectType<Equal<Got<Client['ipamConfigurations']>, IPAMConfiguration>>();
expectType<Equal<Got<Client['blockAffinities']>, BlockAffinity>>();
expectType<Equal<Got<Client['nodes']>, Node>>();
expectType<Equal<Got<Client['workloadEndpoints']>, WorkloadEndpoint>>();
expectType<Equal<Got<Client['hostEndpoints']>, HostEndpoint>>();
expectType<Equal<Got<Client['bgpConfigurations']>, BGPConfiguration>>();
expectType<Equal<Got<Client['bgpPeers']>, BGPPeer>>();
expectType<Equal<Got<Client['bgpFilters']>, BGPFilter>>();
expectType<Equal<Got<Client['felixConfigurations']>, FelixConfiguration>>();
expectType<Equal<Got<Client['clusterInformations']>, ClusterInformation>>();
expectType<Equal<Got<Client['networkPolicies']>, NetworkPolicy>>();
expectType<Equal<Got<Client['globalNetworkPolicies']>, GlobalNetworkPolicy>>();
expectType<Equal<Got<Client['tiers']>, Tier>>();
expectType<Equal<Got<Client['profiles']>, Profile>>();
expectType<Equal<Got<Client['networkSets']>, NetworkSet>>();
expectType<Equal<Got<Client['globalNetworkSets']>, GlobalNetworkSet>>();
expectType<Equal<Got<Client['kubeControllersConfigurations']>, KubeControllersConfiguration>>();
expectType<Equal<Client['ipam'], IPAM>>();
expectType<Equal<Client['pinning'], PinningClient>>();
expectType<Equal<Awaited<ReturnType<Client['pinning']['pin']>>, Pin>>();
expectType<Equal<Awaited<ReturnType<Client['pinning']['assign']>>, PinnedAssignment>>();
expectType<Equal<Awaited<ReturnType<Client['pinning']['owner']>>, AddressOwner>>();
expectType<Equal<Awaited<ReturnType<Client['pinning']['unpin']>>, Pin | null>>();
expectType<Equal<PinningErrorCode, 'notInPool' | 'wrongFamily' | 'pinnedForOther' | 'allocated' | 'notPinned' | 'poolDisabled' | 'foreignReservation'>>();

// Every verb is typed by the kind.
expectType<Equal<Awaited<ReturnType<Client['ipPools']['list']>>, ResourceList<IPPool>>>();
expectType<Equal<ReturnType<Client['nodes']['watch']>, ResourceWatch<Node>>>();
expectType<Equal<Awaited<ReturnType<Client['bgpPeers']['delete']>>, BGPPeer>>();
expectType<Equal<Awaited<ReturnType<Client['profiles']['apply']>>, Profile>>();
expectType<Equal<ReturnType<typeof client.resources<'Tier'>>, ResourceClient<'Tier'>>>();

async function misuse(): Promise<void> {
  const pool = await client.ipPools.get('p');
  // @ts-expect-error an IPPool has no spec.node
  void pool.spec.node;
  // @ts-expect-error the pool client does not take a Node
  await client.ipPools.create({ kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name: 'n' }, spec: {} });
  // @ts-expect-error list items are typed too
  (await client.hostEndpoints.list()).items[0]!.spec.cidr;
  for await (const event of client.ipPools.watch()) {
    // @ts-expect-error watch events carry typed resources
    void event.current?.spec.peerIP;
  }
}
void misuse;

async function pinningMisuse(): Promise<void> {
  // @ts-expect-error assign needs the node (hostname)
  await client.pinning.assign({ ip: '10.0.0.1', owner: 'web-0' });
  // @ts-expect-error attributes are strings
  await client.pinning.assign({ ip: '10.0.0.1', owner: 'web-0', hostname: 'n', attrs: { pod: 1 } });
  // @ts-expect-error the owner is text
  await client.pinning.pin({ ip: '10.0.0.1', owner: 7 });
}
void pinningMisuse;
