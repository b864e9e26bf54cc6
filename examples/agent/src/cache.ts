/**
 * The agent's view of the cluster: every pair the syncer delivered, by list, kept current from
 * `SyncUpdate` batches. It turns into the inputs of the route computation (`ClusterSnapshot`) and
 * of the BIRD renderer, and into the IPAM metrics.
 */
import type {
  BGPConfiguration,
  BGPFilter,
  BGPPeer,
  FelixConfiguration,
  IPPool,
  Node,
  WorkloadEndpoint,
} from '@libcalico-ts/api';
import type { AllocationBlock, BlockAffinity, BlockAffinityKey, BlockKey, KVPair, ListInterface, ResourceKey, SyncUpdate } from '@libcalico-ts/datastore';
import { keyId } from '@libcalico-ts/datastore';
import type { ClusterSnapshot, SnapshotBlockAffinity } from '@libcalico-ts/routes';

/** What the agent watches (one syncer list each). The order is fixed: `LIST_NAMES[i]` names `AGENT_LISTS[i]`. */
export const AGENT_LISTS: readonly ListInterface[] = [
  { type: 'resource', kind: 'IPPool' },
  { type: 'resource', kind: 'Node' },
  { type: 'blockAffinity' },
  { type: 'block' },
  { type: 'resource', kind: 'WorkloadEndpoint' },
  { type: 'resource', kind: 'FelixConfiguration' },
  { type: 'resource', kind: 'BGPConfiguration' },
  { type: 'resource', kind: 'BGPPeer' },
  { type: 'resource', kind: 'BGPFilter' },
];

/** Short names of {@link AGENT_LISTS}, used for change tracking and logs. */
export const LIST_NAMES = ['pools', 'nodes', 'affinities', 'blocks', 'workloads', 'felix', 'bgp', 'bgpPeers', 'bgpFilters'] as const;
export type ListName = (typeof LIST_NAMES)[number];

/** Which parts of the agent's work a set of changes affects. */
export interface ChangeSet {
  /** Lists that changed since the last `takeChanges()`. */
  lists: Set<ListName>;
  /** True when the local node's own Node resource changed. */
  localNode: boolean;
}

/**
 * The cluster cache. Values are the syncer's pairs as delivered (not copied: the syncer hands
 * over fresh objects), grouped per list.
 */
export class ClusterCache {
  private readonly lists = new Map<ListName, Map<string, KVPair>>();
  private changed = new Set<ListName>();
  private localNodeChanged = false;

  constructor(readonly nodeName: string) {
    for (const name of LIST_NAMES) this.lists.set(name, new Map());
  }

  /** Applies one syncer batch. Returns the number of pairs that changed. */
  apply(updates: readonly SyncUpdate[]): number {
    let count = 0;
    for (const update of updates) {
      const name = LIST_NAMES[update.listIndex];
      if (!name) continue;
      const map = this.lists.get(name)!;
      const id = keyId(update.key);
      if (update.type === 'deleted') {
        if (!map.delete(id)) continue;
      } else if (update.current) {
        map.set(id, update.current);
      } else continue;
      count++;
      this.changed.add(name);
      if (name === 'nodes' && (update.key as ResourceKey).name === this.nodeName) this.localNodeChanged = true;
    }
    return count;
  }

  /** The changes accumulated since the last call, and resets them. */
  takeChanges(): ChangeSet {
    const out = { lists: this.changed, localNode: this.localNodeChanged };
    this.changed = new Set();
    this.localNodeChanged = false;
    return out;
  }

  private values<T>(name: ListName): T[] {
    return [...this.lists.get(name)!.values()].map((pair) => pair.value as unknown as T);
  }

  get pools(): IPPool[] {
    return this.values<IPPool>('pools');
  }

  get nodes(): Node[] {
    return this.values<Node>('nodes');
  }

  /** The local Node resource, if it exists. */
  get localNode(): Node | undefined {
    return this.nodes.find((node) => node.metadata.name === this.nodeName);
  }

  get blocks(): AllocationBlock[] {
    return this.values<AllocationBlock>('blocks').filter((block) => !block.deleted);
  }

  /** Every block affinity as the routes / bgp packages take them. */
  get affinities(): SnapshotBlockAffinity[] {
    return [...this.lists.get('affinities')!.values()].map((pair) => {
      const key = pair.key as BlockAffinityKey;
      const value = pair.value as BlockAffinity;
      return { node: key.host, cidr: key.cidr, state: value.state, type: key.affinityType ?? 'host', deleted: value.deleted };
    });
  }

  /** Workload endpoints of the local node. */
  get localWorkloads(): WorkloadEndpoint[] {
    return this.values<WorkloadEndpoint>('workloads').filter((wep) => wep.spec?.node === this.nodeName);
  }

  get felixConfigurations(): FelixConfiguration[] {
    return this.values<FelixConfiguration>('felix');
  }

  get bgpConfigurations(): BGPConfiguration[] {
    return this.values<BGPConfiguration>('bgp');
  }

  get bgpPeers(): BGPPeer[] {
    return this.values<BGPPeer>('bgpPeers');
  }

  get bgpFilters(): BGPFilter[] {
    return this.values<BGPFilter>('bgpFilters');
  }

  /** Number of cached pairs per list. */
  sizes(): Record<ListName, number> {
    const out = {} as Record<ListName, number>;
    for (const name of LIST_NAMES) out[name] = this.lists.get(name)!.size;
    return out;
  }

  /** The input of `computeRoutes` for this cluster. */
  snapshot(): ClusterSnapshot {
    return {
      pools: this.pools,
      nodes: this.nodes,
      blockAffinities: this.affinities,
      blocks: this.blocks,
      workloadEndpoints: this.localWorkloads,
      felixConfigurations: this.felixConfigurations,
      bgpConfigurations: this.bgpConfigurations,
    };
  }

  /** Resources the BIRD renderer reads. */
  bgpResources(): (IPPool | Node | BGPConfiguration | BGPPeer | BGPFilter)[] {
    return [...this.nodes, ...this.pools, ...this.bgpConfigurations, ...this.bgpPeers, ...this.bgpFilters];
  }

  /** The local node's block affinities (for `bird_aggr.cfg`). */
  localAffinities(): SnapshotBlockAffinity[] {
    return this.affinities.filter((a) => a.node === this.nodeName);
  }

  /** Block pairs with their keys (for metrics). */
  blockPairs(): KVPair<BlockKey>[] {
    return [...this.lists.get('blocks')!.values()] as KVPair<BlockKey>[];
  }
}
