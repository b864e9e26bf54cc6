/**
 * `createClient`: the clientv3 equivalent — one typed client per resource kind over a datastore,
 * plus the IPAM engine.
 */
import {
  OperationNotSupportedError,
  ResourceExistsError,
  ResourceNotFoundError,
  UpdateConflictError,
  ValidationError,
  type ClusterInformation,
  type ResourceKind,
  type Tier,
} from '@libcalico-ts/api';
import type { Datastore } from '@libcalico-ts/datastore';
import { createIPAM, type IPAM, type IPAMOptions } from '@libcalico-ts/ipam';
import {
  BGPPeerClient,
  BlockAffinityClient,
  IPPoolClient,
  NodeClient,
  PolicyClient,
  ProfileClient,
  TierClient,
  WorkloadEndpointClient,
  type KindContext,
} from './kinds.js';
import { PinningClient } from './pinning.js';
import { ResourceStore } from './resource-store.js';
import type { ResourceClient } from './types.js';

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The datastore: `createMemoryDatastore()`, `createEtcdDatastore(...)`, `createKubernetesDatastore(...)`. */
  datastore: Datastore;
  /** `client.close()` also closes the datastore (default true). */
  closeDatastore?: boolean;
  /** Options for `client.ipam` (`createIPAM(datastore, ipam)`). */
  ipam?: IPAMOptions;
  /**
   * How long IPPool deletion waits between disabling the pool and releasing its block
   * affinities, so in-flight assignments finish (ms, default 500 as Calico; 0 = no wait).
   */
  poolDeletionDelayMs?: number;
  /** The sleep used for that wait and for ensureInitialized's retries (default: a timer). */
  sleep?: (ms: number) => Promise<void>;
  /** Clock for `creationTimestamp` (default `() => new Date()`). */
  now?: () => Date;
  /** UUID v4 generator for `metadata.uid` and the cluster GUID (default `crypto.randomUUID`). */
  randomUUID?: () => string;
  /**
   * Default of `client.pinning.pin({settleMs})`: how long a pin waits after creating its
   * IPReservation before its final allocation check, so that IPAM engines caching the
   * reservation list have seen it (ms). Default: when IPAM engines on this datastore cache
   * (atomic transactions: memory, etcd), the IPAM `cacheTtlMs` of `ipam` (default 0: engines
   * re-read reservations on every call, so no wait is needed);
   * otherwise (Kubernetes, or `ipam.useTransactions: false`) 0.
   */
  pinSettleMs?: number;
}

/** Options of {@link Client.ensureInitialized}. */
export interface EnsureInitializedOptions {
  /** Written to ClusterInformation `spec.calicoVersion` when given. */
  calicoVersion?: string;
  /** Comma-separated cluster type tags merged into `spec.clusterType` (`kdd` is added on Kubernetes). */
  clusterType?: string;
}

/** The typed Calico client (libcalico-go clientv3). */
export interface Client {
  /** The datastore underneath. */
  readonly datastore: Datastore;
  /** The IPAM engine over the same datastore (`createIPAM(datastore)`). */
  readonly ipam: IPAM;
  readonly ipPools: IPPoolClient;
  readonly ipReservations: ResourceClient<'IPReservation'>;
  readonly ipamConfigurations: ResourceClient<'IPAMConfiguration'>;
  readonly blockAffinities: BlockAffinityClient;
  readonly nodes: NodeClient;
  readonly workloadEndpoints: WorkloadEndpointClient;
  readonly hostEndpoints: ResourceClient<'HostEndpoint'>;
  readonly bgpConfigurations: ResourceClient<'BGPConfiguration'>;
  readonly bgpPeers: BGPPeerClient;
  readonly bgpFilters: ResourceClient<'BGPFilter'>;
  readonly felixConfigurations: ResourceClient<'FelixConfiguration'>;
  readonly clusterInformations: ResourceClient<'ClusterInformation'>;
  readonly networkPolicies: PolicyClient<'NetworkPolicy'>;
  readonly globalNetworkPolicies: PolicyClient<'GlobalNetworkPolicy'>;
  readonly tiers: TierClient;
  readonly profiles: ProfileClient;
  readonly networkSets: ResourceClient<'NetworkSet'>;
  readonly globalNetworkSets: ResourceClient<'GlobalNetworkSet'>;
  readonly kubeControllersConfigurations: ResourceClient<'KubeControllersConfiguration'>;
  /**
   * IP pinning: reserve an address for a workload (`pin`), allocate it to that workload on
   * request (`assign`), answer who owns an address (`owner`), release the pin (`unpin`).
   * See {@link PinningClient}.
   */
  readonly pinning: PinningClient;
  /**
   * The typed client of `kind` (same object as the named accessor), for code that works from a
   * kind string, e.g. a manifest loader: `client.resources(resource.kind).apply(resource)`.
   * @throws ValidationError for an unknown kind.
   */
  resources<K extends ResourceKind>(kind: K): ResourceClient<K>;
  /**
   * What calico-node does at start-up: makes sure ClusterInformation `default` exists (random
   * `clusterGUID`, `datastoreReady: true`, the given version and cluster type; missing fields of
   * an existing one are filled), and that the tiers `default` (order 1,000,000, Deny),
   * `kube-admin` (1,000, Pass) and `kube-baseline` (10,000,000, Pass) exist. Idempotent and safe
   * to run concurrently (conflicts are retried).
   */
  ensureInitialized(options?: EnsureInitializedOptions): Promise<void>;
  /** Releases the datastore connection (when the client owns it). */
  close(): Promise<void>;
}

const DEFAULT_TIERS: ReadonlyArray<{ name: string; order: number; defaultAction: 'Deny' | 'Pass' }> = [
  { name: 'default', order: 1_000_000, defaultAction: 'Deny' },
  { name: 'kube-admin', order: 1_000, defaultAction: 'Pass' },
  { name: 'kube-baseline', order: 10_000_000, defaultAction: 'Pass' },
];

const INIT_RETRIES = 20;

/** The IPAM engine's default `cacheTtlMs` (the default pin settle time on caching datastores). */
const DEFAULT_IPAM_CACHE_TTL_MS = 0; // = @libcalico-ts/ipam DEFAULT_CACHE_TTL_MS (a literal: packages build in name order)

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function defaultUUID(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (!c?.randomUUID) throw new OperationNotSupportedError('crypto.randomUUID is not available: pass ClientOptions.randomUUID');
  return c.randomUUID();
}

/**
 * Builds the typed client over `options.datastore`.
 *
 * @example
 * ```ts
 * import { createMemoryDatastore } from '@libcalico-ts/datastore';
 * import { createClient } from '@libcalico-ts/client';
 *
 * const client = createClient({ datastore: createMemoryDatastore() });
 * await client.ensureInitialized();
 * const pool = await client.ipPools.create({
 *   kind: 'IPPool', apiVersion: 'projectcalico.org/v3',
 *   metadata: { name: 'default-ipv4-ippool' }, spec: { cidr: '192.168.0.0/16', ipipMode: 'Always' },
 * });
 * pool.spec.blockSize; // 26
 * ```
 */
export function createClient(options: ClientOptions): Client {
  const datastore = options?.datastore;
  if (!datastore || typeof datastore !== 'object' || datastore.contractVersion !== 'v1') {
    throw new ValidationError([{ name: 'datastore', value: datastore, reason: 'a datastore implementing the v1 contract is required' }]);
  }
  const delay = options.poolDeletionDelayMs ?? 500;
  if (!Number.isFinite(delay) || delay < 0) {
    throw new ValidationError([{ name: 'poolDeletionDelayMs', value: delay, reason: 'must be a finite number >= 0' }]);
  }
  const sleep = options.sleep ?? defaultSleep;
  const enginesCache = datastore.capabilities?.atomicTransactions === true && options.ipam?.useTransactions !== false;
  const pinSettleMs = options.pinSettleMs ?? (enginesCache ? (options.ipam?.cacheTtlMs ?? DEFAULT_IPAM_CACHE_TTL_MS) : 0);
  if (typeof pinSettleMs !== 'number' || !Number.isFinite(pinSettleMs) || pinSettleMs < 0) {
    throw new ValidationError([{ name: 'pinSettleMs', value: pinSettleMs, reason: 'must be a finite number >= 0' }]);
  }
  const ipam = createIPAM(datastore, options.ipam);
  let clients: ReturnType<typeof build> | undefined;
  const context: KindContext = {
    datastore,
    now: options.now ?? (() => new Date()),
    randomUUID: options.randomUUID ?? defaultUUID,
    ipam,
    poolDeletionDelayMs: delay,
    sleep,
    clients: () => clients!,
    ensureInitialized: () => ensureInitialized(),
  };

  function build() {
    return {
      ipPools: new IPPoolClient(context),
      ipReservations: new ResourceStore('IPReservation', context),
      ipamConfigurations: new ResourceStore('IPAMConfiguration', context),
      blockAffinities: new BlockAffinityClient(context),
      nodes: new NodeClient(context),
      workloadEndpoints: new WorkloadEndpointClient(context),
      hostEndpoints: new ResourceStore('HostEndpoint', context),
      bgpConfigurations: new ResourceStore('BGPConfiguration', context),
      bgpPeers: new BGPPeerClient(context),
      bgpFilters: new ResourceStore('BGPFilter', context),
      felixConfigurations: new ResourceStore('FelixConfiguration', context),
      clusterInformations: new ResourceStore('ClusterInformation', context),
      networkPolicies: new PolicyClient('NetworkPolicy', context),
      globalNetworkPolicies: new PolicyClient('GlobalNetworkPolicy', context),
      tiers: new TierClient(context),
      profiles: new ProfileClient(context),
      networkSets: new ResourceStore('NetworkSet', context),
      globalNetworkSets: new ResourceStore('GlobalNetworkSet', context),
      kubeControllersConfigurations: new ResourceStore('KubeControllersConfiguration', context),
    };
  }
  clients = build();
  const c = clients;
  const byKind = new Map<string, ResourceClient<ResourceKind>>();
  for (const store of Object.values(c)) byKind.set(store.kind, store as unknown as ResourceClient<ResourceKind>);

  async function ensureClusterInformation(init: EnsureInitializedOptions): Promise<void> {
    let clusterType = init.clusterType ?? '';
    if (datastore.datastoreType === 'kubernetes') clusterType = clusterType ? `${clusterType.replace(/,+$/, '')},kdd` : 'kdd';
    const guid = () => context.randomUUID().replace(/-/g, '').toLowerCase();
    for (let attempt = 0; ; attempt++) {
      let current: ClusterInformation | undefined;
      try {
        current = await c.clusterInformations.get('default');
      } catch (error) {
        if (!ResourceNotFoundError.isInstance(error)) throw error;
      }
      try {
        if (!current) {
          const spec: ClusterInformation['spec'] = { clusterGUID: guid(), datastoreReady: true };
          if (init.calicoVersion) spec.calicoVersion = init.calicoVersion;
          if (clusterType) spec.clusterType = clusterType;
          await c.clusterInformations.create({ kind: 'ClusterInformation', apiVersion: 'projectcalico.org/v3', metadata: { name: 'default' }, spec });
          return;
        }
        const spec = { ...current.spec };
        let changed = false;
        if (init.calicoVersion && spec.calicoVersion !== init.calicoVersion) {
          spec.calicoVersion = init.calicoVersion;
          changed = true;
        }
        if (!spec.clusterGUID) {
          spec.clusterGUID = guid();
          changed = true;
        }
        if (spec.datastoreReady === undefined || spec.datastoreReady === null) {
          spec.datastoreReady = true;
          changed = true;
        }
        if (clusterType) {
          const existing = spec.clusterType ? spec.clusterType.split(',') : [];
          const missing = clusterType.split(',').filter((t) => t && !existing.includes(t));
          if (missing.length > 0) {
            spec.clusterType = [...existing, ...missing].join(',');
            changed = true;
          }
        }
        if (changed) await c.clusterInformations.update({ ...current, spec });
        return;
      } catch (error) {
        const raced = ResourceExistsError.isInstance(error) || UpdateConflictError.isInstance(error);
        if (!raced || attempt + 1 >= INIT_RETRIES) throw error;
        await sleep(10 + Math.floor(Math.random() * 40));
      }
    }
  }

  async function ensureTier(name: string, order: number, defaultAction: 'Deny' | 'Pass'): Promise<void> {
    const tier: Tier = { kind: 'Tier', apiVersion: 'projectcalico.org/v3', metadata: { name }, spec: { order, defaultAction } };
    try {
      await c.tiers.create(tier);
    } catch (error) {
      if (!ResourceExistsError.isInstance(error)) throw error;
    }
  }

  async function ensureInitialized(init: EnsureInitializedOptions = {}): Promise<void> {
    const errors: unknown[] = [];
    await ensureClusterInformation(init).catch((error: unknown) => errors.push(error));
    for (const tier of DEFAULT_TIERS) {
      await ensureTier(tier.name, tier.order, tier.defaultAction).catch((error: unknown) => errors.push(error));
    }
    if (errors.length > 0) throw errors[0];
  }

  const pinning = new PinningClient({
    datastore,
    ipam,
    ipPools: c.ipPools,
    ipReservations: c.ipReservations,
    workloadEndpoints: c.workloadEndpoints,
    settleMs: pinSettleMs,
    sleep,
  });

  let closed: Promise<void> | undefined;
  return {
    datastore,
    ipam,
    ...c,
    pinning,
    resources<K extends ResourceKind>(kind: K): ResourceClient<K> {
      const store = byKind.get(kind);
      if (!store) throw new ValidationError([{ name: 'kind', value: kind, reason: `no typed client for kind ${JSON.stringify(kind)}` }]);
      return store as unknown as ResourceClient<K>;
    },
    ensureInitialized,
    close(): Promise<void> {
      if (options.closeDatastore === false) return Promise.resolve();
      return (closed ??= datastore.close());
    },
  };
}
