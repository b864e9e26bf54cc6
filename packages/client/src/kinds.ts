/**
 * Per-kind clients: the rules libcalico-go's clientv3 adds on top of the generic engine
 * (`ippool.go`, `node.go`, `networkpolicy.go`, `bgppeer.go`, `profile.go`, `tier.go`, ...).
 * Each one only overrides hooks or the verbs whose semantics differ.
 */
import {
  OperationNotSupportedError,
  ResourceExistsError,
  ResourceNotFoundError,
  ValidationError,
  type BGPPeer,
  type BlockAffinity,
  type FieldError,
  type GlobalNetworkPolicy,
  type IPPool,
  type Node,
  type NetworkPolicy,
  type Profile,
  type ResourceOfKind,
  type Tier,
  type WorkloadEndpoint,
} from '@libcalico-ts/api';
import type { IPAM } from '@libcalico-ts/ipam';
import { parseCIDR, type CIDR } from '@libcalico-ts/net';
import { ResourceStore, type CheckContext, type StoreContext, type WriteOperation } from './resource-store.js';
import type { DeleteOptions, GetOptions, ListOptions, ResourceClient, ResourceList, WriteOptions } from './types.js';

/** The client-wide services a per-kind client may use. */
export interface KindContext extends StoreContext {
  readonly ipam: IPAM;
  /** Wait between disabling a pool and releasing its affinities (ms; Calico: 500). */
  readonly poolDeletionDelayMs: number;
  /** Sleep used for that wait (injectable for tests). */
  readonly sleep: (ms: number) => Promise<void>;
  /** The other typed clients. */
  readonly clients: () => KindClients;
  /** `client.ensureInitialized()`. */
  readonly ensureInitialized: () => Promise<void>;
}

/** The typed clients a kind rule may consult. */
export interface KindClients {
  readonly ipPools: IPPoolClient;
  readonly nodes: NodeClient;
  readonly workloadEndpoints: ResourceClient<'WorkloadEndpoint'>;
  readonly hostEndpoints: ResourceClient<'HostEndpoint'>;
  readonly bgpPeers: BGPPeerClient;
  readonly bgpFilters: ResourceClient<'BGPFilter'>;
  readonly bgpConfigurations: ResourceClient<'BGPConfiguration'>;
  readonly felixConfigurations: ResourceClient<'FelixConfiguration'>;
  readonly networkPolicies: ResourceClient<'NetworkPolicy'>;
  readonly globalNetworkPolicies: ResourceClient<'GlobalNetworkPolicy'>;
  readonly tiers: TierClient;
}

/** The name of the synthetic profile every datastore reports; it cannot be created, changed or deleted. */
export const DEFAULT_ALLOW_PROFILE = 'projectcalico-default-allow';

/** The tiers Calico creates at start-up and never lets anyone delete. */
export const PROTECTED_TIERS = ['default', 'kube-admin', 'kube-baseline'] as const;

/** The label naming a policy's tier. */
export const TIER_LABEL = 'projectcalico.org/tier';

/** True when `error` is one of the errors a clean-up step ignores (Calico's node deletion). */
function ignorable(error: unknown): boolean {
  return ResourceNotFoundError.isInstance(error) || OperationNotSupportedError.isInstance(error);
}

async function ignoringMissing<T>(run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    if (ignorable(error)) return undefined;
    throw error;
  }
}

function tryParseCIDR(text: unknown): CIDR | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    return parseCIDR(text);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// IPPool

/**
 * `client.ipPools`. On top of the generic verbs:
 * - create refuses a CIDR overlapping another pool
 *   (`IPPool(<new>) CIDR overlaps with IPPool(<other>) CIDR <cidr>`, field `spec.cidr`) and a
 *   `blockSize` different from existing IPAM blocks inside the pool (field `spec.blockSize`);
 * - update refuses a different `cidr` (only a respelling of the same network is allowed) or
 *   `blockSize`, and turning a `LoadBalancer` pool into a Workload/Tunnel one;
 * - delete disables the pool first (conditioned on `resourceVersion` when given), waits
 *   `poolDeletionDelayMs` (500 ms, as Calico) for in-flight assignments, releases the block
 *   affinities inside the pool through IPAM (empty blocks deleted, others left un-owned), then
 *   deletes it;
 * - reads fill Calico's read-side defaults (blockSize, allowedUses, nodeSelector, modes).
 */
export class IPPoolClient extends ResourceStore<'IPPool'> {
  constructor(protected readonly kinds: KindContext) {
    super('IPPool', kinds);
  }

  protected override fromStorage(pool: IPPool): IPPool {
    const spec = pool.spec ?? ({} as IPPool['spec']);
    pool.spec = spec;
    if (!spec.blockSize) {
      const cidr = tryParseCIDR(spec.cidr);
      if (cidr) spec.blockSize = cidr.version === 4 ? 26 : 122;
    }
    if (!Array.isArray(spec.allowedUses) || spec.allowedUses.length === 0) spec.allowedUses = ['Workload', 'Tunnel'];
    if (!spec.nodeSelector) spec.nodeSelector = 'all()';
    if (!spec.ipipMode) spec.ipipMode = 'Never';
    if (!spec.vxlanMode) spec.vxlanMode = 'Never';
    if (spec.assignmentMode === undefined || spec.assignmentMode === null) spec.assignmentMode = 'Automatic';
    return pool;
  }

  protected override async check(pool: IPPool, context: CheckContext<IPPool>): Promise<void> {
    const name = pool.metadata.name!;
    const cidr = parseCIDR(pool.spec.cidr);
    const fields: FieldError[] = [];
    if (context.operation === 'create') {
      const others = await this.list();
      for (const other of others.items) {
        if (other.metadata.name === name) continue;
        const otherCIDR = tryParseCIDR(other.spec.cidr);
        if (otherCIDR && otherCIDR.overlaps(cidr)) {
          fields.push({
            name: 'spec.cidr',
            value: pool.spec.cidr,
            reason: `IPPool(${name}) CIDR overlaps with IPPool(${other.metadata.name}) CIDR ${other.spec.cidr}`,
          });
        }
      }
      let blocks;
      try {
        blocks = await this.datastore.listKV({ type: 'block', ipVersion: cidr.version });
      } catch (error) {
        if (!OperationNotSupportedError.isInstance(error)) throw error;
      }
      for (const block of blocks?.items ?? []) {
        const blockCIDR = tryParseCIDR(block.key.cidr);
        if (blockCIDR && blockCIDR.prefixLength !== pool.spec.blockSize && blockCIDR.overlaps(cidr)) {
          fields.push({
            name: 'spec.blockSize',
            value: pool.spec.blockSize,
            reason: `IPPool blockSize conflicts with existing allocations that use a different blockSize (block ${block.key.cidr})`,
          });
          break;
        }
      }
    } else {
      const previous = await context.previous();
      if (previous) {
        const old = tryParseCIDR(previous.spec.cidr);
        if (!old || !old.equals(cidr) || cidr.toString() !== pool.spec.cidr) {
          fields.push({ name: 'spec.cidr', value: pool.spec.cidr, reason: `IPPool CIDR cannot be modified (it is ${previous.spec.cidr})` });
        }
        if (previous.spec.blockSize !== pool.spec.blockSize) {
          fields.push({ name: 'spec.blockSize', value: pool.spec.blockSize, reason: `IPPool BlockSize cannot be modified (it is ${previous.spec.blockSize})` });
        }
        const wasLoadBalancer = (previous.spec.allowedUses ?? []).includes('LoadBalancer');
        if (wasLoadBalancer && (pool.spec.allowedUses ?? []).some((use) => use !== 'LoadBalancer')) {
          fields.push({
            name: 'spec.allowedUses',
            value: pool.spec.allowedUses,
            reason: 'IPPool allowed use cannot be changed from LoadBalancer to Workload or Tunnel',
          });
        }
      }
    }
    if (fields.length > 0) throw new ValidationError(fields, { identifier: { kind: 'IPPool', name } });
  }

  override async delete(name: string, options: DeleteOptions = {}): Promise<IPPool> {
    const pool = await this.get(name, options);
    let resourceVersion = options.resourceVersion;
    if (!pool.spec.disabled) {
      const disabled: IPPool = { ...pool, metadata: { ...pool.metadata }, spec: { ...pool.spec, disabled: true } };
      if (resourceVersion) disabled.metadata.resourceVersion = resourceVersion;
      await this.update(disabled);
      resourceVersion = undefined;
    }
    if (this.kinds.poolDeletionDelayMs > 0) await this.kinds.sleep(this.kinds.poolDeletionDelayMs);
    try {
      await this.kinds.ipam.releasePoolAffinities(pool.spec.cidr);
    } catch (error) {
      if (!OperationNotSupportedError.isInstance(error)) throw error;
    }
    return super.delete(name, resourceVersion ? { resourceVersion } : {});
  }
}

// ---------------------------------------------------------------------------------------------
// Node

/** What {@link NodeClient.delete} cleaned up besides the Node itself. */
export interface NodeCleanup {
  releasedAddresses: string[];
  workloadEndpoints: string[];
  bgpPeers: string[];
  hostEndpoints: string[];
  felixConfiguration: boolean;
  bgpConfiguration: boolean;
}

/**
 * `client.nodes`. Create first makes sure the datastore is initialised (ClusterInformation and
 * default tiers), as Calico does. Delete performs Calico's node clean-up, ignoring "not found"
 * at every step: releases the addresses of the node's WorkloadEndpoints and its IPv4 tunnel
 * addresses (IPIP, VXLAN, WireGuard) through IPAM, deletes those endpoints, releases the node's
 * block affinities, deletes BGPPeers with `spec.node` = the node, FelixConfiguration and
 * BGPConfiguration `node.<name>`, HostEndpoints on the node, and finally the Node.
 *
 * On the Kubernetes datastore Nodes belong to Kubernetes: create and delete throw
 * `OperationNotSupportedError` before anything is written.
 */
export class NodeClient extends ResourceStore<'Node'> {
  /** What the last successful `delete` cleaned up (for logs and tests). */
  lastCleanup: NodeCleanup | undefined;

  constructor(protected readonly kinds: KindContext) {
    super('Node', kinds);
  }

  private refuseOnKubernetes(operation: string, name: string): void {
    if (this.datastore.datastoreType === 'kubernetes') {
      throw new OperationNotSupportedError(
        `${operation} of Node(${name}) is not supported on the Kubernetes datastore: Calico Nodes are views of Kubernetes Nodes, which Kubernetes owns`,
        { identifier: { kind: 'Node', name } },
      );
    }
  }

  protected override async check(node: Node, context: CheckContext<Node>): Promise<void> {
    if (context.operation === 'create') {
      this.refuseOnKubernetes('Create', node.metadata.name!);
      await this.kinds.ensureInitialized();
    }
  }

  override async delete(name: string, options: DeleteOptions = {}): Promise<Node> {
    this.keyFor(name, options.namespace);
    this.refuseOnKubernetes('Delete', name);
    const clients = this.kinds.clients();
    const released = await this.kinds.ipam.releaseNodeResources(name);
    const cleanup: NodeCleanup = {
      releasedAddresses: released.released,
      workloadEndpoints: [],
      bgpPeers: [],
      hostEndpoints: [],
      felixConfiguration: false,
      bgpConfiguration: false,
    };
    for (const wep of released.workloadEndpoints) {
      if (await ignoringMissing(() => clients.workloadEndpoints.delete(wep.name, { namespace: wep.namespace }))) {
        cleanup.workloadEndpoints.push(`${wep.namespace}/${wep.name}`);
      }
    }
    for (const peer of (await clients.bgpPeers.list()).items) {
      if (peer.spec.node !== name) continue;
      if (await ignoringMissing(() => clients.bgpPeers.delete(peer.metadata.name!))) cleanup.bgpPeers.push(peer.metadata.name!);
    }
    cleanup.felixConfiguration = (await ignoringMissing(() => clients.felixConfigurations.delete(`node.${name}`))) !== undefined;
    cleanup.bgpConfiguration = (await ignoringMissing(() => clients.bgpConfigurations.delete(`node.${name}`))) !== undefined;
    for (const hep of (await clients.hostEndpoints.list()).items) {
      if (hep.spec.node !== name) continue;
      if (await ignoringMissing(() => clients.hostEndpoints.delete(hep.metadata.name!))) cleanup.hostEndpoints.push(hep.metadata.name!);
    }
    const deleted = await super.delete(name, options);
    this.lastCleanup = cleanup;
    return deleted;
  }
}

// ---------------------------------------------------------------------------------------------
// WorkloadEndpoint

/**
 * `client.workloadEndpoints`. The name is computed from the identifiers when empty
 * (`<node>-k8s-<pod>-<endpoint>`, dashes doubled) and must match them otherwise; the labels
 * `projectcalico.org/namespace` and `projectcalico.org/orchestrator` (and, for k8s,
 * `projectcalico.org/serviceaccount`) are forced to the endpoint's values.
 */
export class WorkloadEndpointClient extends ResourceStore<'WorkloadEndpoint'> {
  constructor(context: StoreContext) {
    super('WorkloadEndpoint', context);
  }

  /**
   * On Kubernetes a WorkloadEndpoint is a view of its pod, whose uid it carries; the datastore
   * would send a generated uid as a precondition of the pod patch. So none is generated there.
   */
  protected override fillsUid(): boolean {
    return this.datastore.datastoreType !== 'kubernetes';
  }

  protected override normalize(wep: WorkloadEndpoint): WorkloadEndpoint {
    // applyDefaults computed the name and labels; make the two Calico labels authoritative even
    // when the input carried other values for them.
    const labels = { ...(wep.metadata.labels ?? {}) };
    if (wep.metadata.namespace) labels['projectcalico.org/namespace'] = wep.metadata.namespace;
    if (wep.spec?.orchestrator) labels['projectcalico.org/orchestrator'] = wep.spec.orchestrator;
    wep.metadata.labels = labels;
    return wep;
  }
}

// ---------------------------------------------------------------------------------------------
// Policies

/** The policy kinds {@link PolicyClient} serves. */
export type PolicyKind = 'NetworkPolicy' | 'GlobalNetworkPolicy';

/**
 * `client.networkPolicies` / `client.globalNetworkPolicies`. Defaults `types` from the rules and
 * the `projectcalico.org/tier` label; the policy's tier must exist (field `spec.tier`; call
 * `client.ensureInitialized()` once to create the default tiers). Reads add the tier label when
 * a stored policy lacks it. (The etcd datastore keeps the v3 name in the
 * `projectcalico.org/metadata` annotation itself.)
 */
export class PolicyClient<K extends PolicyKind> extends ResourceStore<K> {
  constructor(
    kind: K,
    protected readonly kinds: KindContext,
  ) {
    super(kind, kinds);
  }

  protected override fromStorage(resource: ResourceOfKind<K>): ResourceOfKind<K> {
    const policy = resource as NetworkPolicy | GlobalNetworkPolicy;
    const labels = policy.metadata.labels ?? {};
    if (labels[TIER_LABEL] === undefined) {
      policy.metadata.labels = { ...labels, [TIER_LABEL]: policy.spec?.tier || 'default' };
    }
    return resource;
  }

  protected override async check(resource: ResourceOfKind<K>): Promise<void> {
    const policy = resource as NetworkPolicy | GlobalNetworkPolicy;
    const tier = policy.spec.tier || 'default';
    try {
      await this.kinds.clients().tiers.get(tier);
    } catch (error) {
      if (!ResourceNotFoundError.isInstance(error)) throw error;
      throw new ValidationError(
        [{ name: 'spec.tier', value: tier, reason: `tier "${tier}" does not exist (client.ensureInitialized() creates the default tiers)` }],
        { identifier: this.identifier(policy.metadata.name ?? '', policy.metadata.namespace), cause: error },
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Tier

/** `client.tiers`. `default`, `kube-admin` and `kube-baseline` cannot be deleted, nor can a tier that still has policies. */
export class TierClient extends ResourceStore<'Tier'> {
  constructor(protected readonly kinds: KindContext) {
    super('Tier', kinds);
  }

  override async delete(name: string, options: DeleteOptions = {}): Promise<Tier> {
    this.keyFor(name, options.namespace);
    if ((PROTECTED_TIERS as readonly string[]).includes(name)) {
      throw new OperationNotSupportedError(`cannot delete the ${name} tier: Calico requires it`, { identifier: { kind: 'Tier', name } });
    }
    const clients = this.kinds.clients();
    const policies = [...(await clients.networkPolicies.list()).items, ...(await clients.globalNetworkPolicies.list()).items];
    const member = policies.find((p) => (p.spec.tier || 'default') === name);
    if (member) {
      const where = member.metadata.namespace ? `${member.metadata.namespace}/${member.metadata.name}` : member.metadata.name;
      throw new OperationNotSupportedError(`cannot delete a non-empty tier: ${member.kind}(${where}) is in tier ${name}`, {
        identifier: { kind: 'Tier', name },
      });
    }
    return super.delete(name, options);
  }
}

// ---------------------------------------------------------------------------------------------
// BGPPeer

/** `client.bgpPeers`. Every name in `spec.filters` must be an existing BGPFilter. */
export class BGPPeerClient extends ResourceStore<'BGPPeer'> {
  constructor(protected readonly kinds: KindContext) {
    super('BGPPeer', kinds);
  }

  protected override async check(peer: BGPPeer): Promise<void> {
    const wanted = peer.spec.filters ?? [];
    if (wanted.length === 0) return;
    const existing = new Set((await this.kinds.clients().bgpFilters.list()).items.map((f) => f.metadata.name));
    const missing = wanted.filter((name) => !existing.has(name));
    if (missing.length > 0) {
      throw new ValidationError([{ name: 'spec.filters', value: missing, reason: `BGPFilter(s) not found: ${missing.join(', ')}` }], {
        identifier: { kind: 'BGPPeer', name: peer.metadata.name ?? '' },
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Profile

/** The synthetic profile Calico reports in every datastore: allow everything both ways. */
export function defaultAllowProfile(): Profile {
  return {
    kind: 'Profile',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: DEFAULT_ALLOW_PROFILE, resourceVersion: '1' },
    spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] },
  };
}

/** `client.profiles`. The synthetic `projectcalico-default-allow` profile cannot be created, updated or deleted. */
export class ProfileClient extends ResourceStore<'Profile'> {
  constructor(context: StoreContext) {
    super('Profile', context);
  }

  override async create(profile: Profile, options?: WriteOptions): Promise<Profile> {
    if (profile?.metadata?.name === DEFAULT_ALLOW_PROFILE) {
      throw new ResourceExistsError(
        { kind: 'Profile', name: DEFAULT_ALLOW_PROFILE },
        { message: `Profile(${DEFAULT_ALLOW_PROFILE}) already exists: it is provided by Calico and cannot be created` },
      );
    }
    return super.create(profile, options);
  }

  override async update(profile: Profile, options?: WriteOptions): Promise<Profile> {
    if (profile?.metadata?.name === DEFAULT_ALLOW_PROFILE) throw this.readOnly('Update');
    return super.update(profile, options);
  }

  override async apply(profile: Profile, options?: WriteOptions): Promise<Profile> {
    if (profile?.metadata?.name === DEFAULT_ALLOW_PROFILE) throw this.readOnly('Apply');
    return super.apply(profile, options);
  }

  override async delete(name: string, options?: DeleteOptions): Promise<Profile> {
    if (name === DEFAULT_ALLOW_PROFILE) throw this.readOnly('Delete');
    return super.delete(name, options);
  }

  /** Reads a profile; `projectcalico-default-allow` is synthesised when the datastore does not report it. */
  override async get(name: string, options?: GetOptions): Promise<Profile> {
    try {
      return await super.get(name, options);
    } catch (error) {
      if (name === DEFAULT_ALLOW_PROFILE && ResourceNotFoundError.isInstance(error)) return defaultAllowProfile();
      throw error;
    }
  }

  /** Lists profiles, including the synthetic `projectcalico-default-allow` (when the filters match it). */
  override async list(options: ListOptions = {}): Promise<ResourceList<Profile>> {
    const result = await super.list(options);
    const synthetic = defaultAllowProfile();
    if (!result.items.some((p) => p.metadata.name === DEFAULT_ALLOW_PROFILE) && this.listRequest(options).matches(synthetic)) {
      result.items.push(synthetic);
      result.items.sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : a.metadata.name! > b.metadata.name! ? 1 : 0));
    }
    return result;
  }

  private readOnly(operation: string): OperationNotSupportedError {
    return new OperationNotSupportedError(`${operation} of Profile(${DEFAULT_ALLOW_PROFILE}) is not supported: the profile is provided by Calico`, {
      identifier: { kind: 'Profile', name: DEFAULT_ALLOW_PROFILE },
    });
  }
}

// ---------------------------------------------------------------------------------------------
// BlockAffinity

/** `client.blockAffinities`. Soft-deleted rows are hidden; writing `spec.deleted: true` is refused. */
export class BlockAffinityClient extends ResourceStore<'BlockAffinity'> {
  constructor(context: StoreContext) {
    super('BlockAffinity', context);
  }

  protected override normalize(affinity: BlockAffinity, _operation: WriteOperation): BlockAffinity {
    if (affinity.spec?.deleted === true) {
      throw new ValidationError([{ name: 'spec.deleted', value: true, reason: 'a BlockAffinity cannot be written with deleted: true' }], {
        identifier: { kind: 'BlockAffinity', name: affinity.metadata.name ?? '' },
      });
    }
    return affinity;
  }

  protected override isVisible(affinity: BlockAffinity): boolean {
    return affinity.spec?.deleted !== true;
  }
}
