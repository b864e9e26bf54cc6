/** Translation of syncer updates into the route calculator's changes. */
import type { BGPConfiguration, FelixConfiguration, IPPool, Node, WorkloadEndpoint } from '@libcalico-ts/api';
import type { AllocationBlock, BlockAffinity, BlockAffinityKey, BlockKey, ResourceKey, SyncUpdate } from '@libcalico-ts/datastore';
import type { RouteChange } from '@libcalico-ts/routes';
import { LIST_NAMES } from './cache.js';

/**
 * The {@link RouteChange}s one syncer update means for the route calculator (none for lists the
 * routes do not depend on: BGP peers and filters).
 */
export function routeChangesOf(update: SyncUpdate): RouteChange[] {
  const list = LIST_NAMES[update.listIndex];
  const deleted = update.type === 'deleted';
  const value = update.current?.value;
  switch (list) {
    case 'pools': {
      const key = update.key as ResourceKey;
      return deleted ? [{ type: 'poolDeleted', name: key.name }] : [{ type: 'poolUpdated', pool: value as IPPool }];
    }
    case 'nodes': {
      const key = update.key as ResourceKey;
      return deleted ? [{ type: 'nodeDeleted', name: key.name }] : [{ type: 'nodeUpdated', node: value as Node }];
    }
    case 'affinities': {
      const key = update.key as BlockAffinityKey;
      if (deleted) return [{ type: 'affinityDeleted', node: key.host, cidr: key.cidr }];
      const affinity = value as BlockAffinity;
      return [{ type: 'affinityUpdated', affinity: { node: key.host, cidr: key.cidr, state: affinity.state, type: key.affinityType ?? 'host', deleted: affinity.deleted } }];
    }
    case 'blocks': {
      const key = update.key as BlockKey;
      const block = value as AllocationBlock | undefined;
      return deleted || block?.deleted ? [{ type: 'blockDeleted', cidr: key.cidr }] : [{ type: 'blockUpdated', block: block! }];
    }
    case 'workloads': {
      const key = update.key as ResourceKey;
      return deleted
        ? [{ type: 'workloadDeleted', name: key.name, ...(key.namespace !== undefined ? { namespace: key.namespace } : {}) }]
        : [{ type: 'workloadUpdated', endpoint: value as WorkloadEndpoint }];
    }
    case 'felix': {
      const key = update.key as ResourceKey;
      return deleted ? [{ type: 'felixConfigurationDeleted', name: key.name }] : [{ type: 'felixConfigurationUpdated', configuration: value as FelixConfiguration }];
    }
    case 'bgp': {
      const key = update.key as ResourceKey;
      return deleted ? [{ type: 'bgpConfigurationDeleted', name: key.name }] : [{ type: 'bgpConfigurationUpdated', configuration: value as BGPConfiguration }];
    }
    default:
      return [];
  }
}
