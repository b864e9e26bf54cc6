/**
 * Building a {@link ClusterSnapshot} from a client.
 */
import { ValidationError, type BGPConfiguration, type FelixConfiguration, type IPPool, type Node, type WorkloadEndpoint } from '@libcalico-ts/api';
import type { ClusterSnapshot, SnapshotBlock, SnapshotBlockAffinity } from './types.js';

/** Anything with `list()` resolving to `{items}` (the client's per-kind accessors). */
export interface Lister<T> {
  list(options?: object): Promise<{ items: readonly T[] }>;
}

/** The datastore listing used for IPAM blocks and affinities (`@libcalico-ts/datastore`'s `listKV`). */
export interface BlockLister {
  listKV(list: { type: 'block' } | { type: 'blockAffinity' }): Promise<{ items: readonly { key: object; value: unknown }[] }>;
}

type BlockItem = { key: { cidr: string }; value: SnapshotBlock };
type AffinityItem = { key: { host: string; cidr: string; affinityType?: string }; value: { state: string; deleted: boolean } };

/**
 * What {@link snapshotFromClient} reads. `@libcalico-ts/client`'s `Client` fits it (structural
 * type, so this package does not depend on the client): the per-kind accessors, and IPAM blocks
 * and affinities through `ipam.datastore` (or `datastore`).
 */
export interface SnapshotSource {
  ipPools: Lister<IPPool>;
  nodes: Lister<Node>;
  workloadEndpoints?: Lister<WorkloadEndpoint>;
  felixConfigurations?: Lister<FelixConfiguration>;
  bgpConfigurations?: Lister<BGPConfiguration>;
  ipam?: { datastore: BlockLister };
  datastore?: BlockLister;
}

/** Options of {@link snapshotFromClient}. */
export interface SnapshotFromClientOptions {
  /**
   * Keep only this node's workload endpoints (the only ones route computation reads unless
   * Felix's `routeSource` is `WorkloadIPs`). Default: all endpoints.
   */
  workloadsOfNode?: string;
}

/**
 * Reads everything {@link computeRoutes} needs through a client, in parallel: pools, nodes,
 * workload endpoints, Felix and BGP configurations, IPAM blocks and block affinities.
 *
 * @throws {ValidationError} when `source` lacks `ipPools`/`nodes` or a datastore for IPAM data.
 * @throws whatever the client's list calls throw (e.g. `DatastoreUnavailableError`).
 * @example
 * ```ts
 * const client = createClient({ datastore });
 * const snapshot = await snapshotFromClient(client);
 * const table = computeRoutes('node-a', snapshot);
 * ```
 */
export async function snapshotFromClient(source: SnapshotSource, options: SnapshotFromClientOptions = {}): Promise<ClusterSnapshot> {
  const fields: { name: string; value: unknown; reason: string }[] = [];
  if (!source || typeof source.ipPools?.list !== 'function') fields.push({ name: 'source.ipPools', value: source?.ipPools, reason: 'must have list()' });
  if (!source || typeof source.nodes?.list !== 'function') fields.push({ name: 'source.nodes', value: source?.nodes, reason: 'must have list()' });
  const datastore = source?.ipam?.datastore ?? source?.datastore;
  if (!datastore || typeof datastore.listKV !== 'function') {
    fields.push({ name: 'source.ipam.datastore', value: datastore, reason: 'a datastore (listKV) is needed to read IPAM blocks and affinities' });
  }
  if (fields.length > 0) throw new ValidationError(fields);
  const [pools, nodes, weps, felix, bgp, blocks, affinities] = await Promise.all([
    source.ipPools.list(),
    source.nodes.list(),
    source.workloadEndpoints ? source.workloadEndpoints.list() : { items: [] },
    source.felixConfigurations ? source.felixConfigurations.list() : { items: [] },
    source.bgpConfigurations ? source.bgpConfigurations.list() : { items: [] },
    datastore!.listKV({ type: 'block' }) as Promise<{ items: readonly BlockItem[] }>,
    datastore!.listKV({ type: 'blockAffinity' }) as Promise<{ items: readonly AffinityItem[] }>,
  ]);
  const wanted = options.workloadsOfNode;
  const blockAffinities: SnapshotBlockAffinity[] = affinities.items.map((kv) => ({
    node: kv.key.host,
    cidr: kv.key.cidr,
    state: kv.value.state,
    type: kv.key.affinityType ?? 'host',
    deleted: kv.value.deleted,
  }));
  return {
    pools: [...pools.items],
    nodes: [...nodes.items],
    workloadEndpoints: wanted === undefined ? [...weps.items] : weps.items.filter((w) => w.spec?.node === wanted),
    felixConfigurations: [...felix.items],
    bgpConfigurations: [...bgp.items],
    blocks: blocks.items.map((kv) => kv.value),
    blockAffinities,
  };
}
