/**
 * The Kubernetes datastore: the datastore contract over the Kubernetes API, storing data exactly
 * as Calico does in KDD mode (reference §7).
 */
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import {
  CalicoError,
  DatastoreError,
  KINDS,
  OperationNotSupportedError,
  ParseError,
  ResourceExistsError,
  ResourceNotFoundError,
  UpdateConflictError,
  ValidationError,
  WatchTooOldError,
  type ErrorIdentifier,
  type V3Object,
} from '@libcalico-ts/api';
import {
  describeKey,
  keyId,
  keyIdentifier,
  validateKey,
  validateList,
  type AllocationBlock,
  type BlockAffinity,
  type BlockAffinityKey,
  type BlockKey,
  type Datastore,
  type DatastoreCapabilities,
  type HandleKey,
  type IPAMConfig,
  type IPAMConfigKey,
  type IPAMHandle,
  type Key,
  type KeyOfList,
  type KVList,
  type KVPair,
  type ListInterface,
  type ResourceKey,
  type TxnCondition,
  type TxnOperation,
  type TxnOptions,
  type TxnResult,
  type ValueOf,
  type Watch,
  type WatchEvent,
  type WatchOptions,
} from '@libcalico-ts/datastore';
import { errorFromResponse, parseStatus, translateError } from './errors.js';
import { parseJson, stringifyJson, type JsonValue } from './json.js';
import { CalicoApiGroup, customResourceToV3, goObjectMeta, METADATA_ANNOTATION, v3ToCustomResource, type CustomResource } from './mapping/crd.js';
import {
  affinityToSpec,
  blockToSpec,
  handleToSpec,
  ipamConfigToSpec,
  specToAffinity,
  specToBlock,
  specToHandle,
  specToIpamConfig,
} from './mapping/ipam.js';
import {
  DEFAULT_ALLOW_PROFILE,
  defaultAllowProfile,
  kubeNodeToCalico,
  mergeCalicoNodeIntoKubeNode,
  namespaceToProfile,
  podHasWorkloadEndpoint,
  podNameFromWorkloadEndpointName,
  podToWorkloadEndpoint,
  PodAnnotation,
  serviceAccountToProfile,
} from './mapping/native.js';
import { AffinityLabel, blockAffinityLabels, blockAffinityName, blockName, handleName, hostnameHash } from './names.js';
import { KubeTransport } from './transport.js';
import { QueuedWatch } from './watch.js';

/** Options of {@link createKubernetesDatastore}. */
export interface KubernetesDatastoreOptions {
  /**
   * A kubeconfig file path, or a `KubeConfig` from `@kubernetes/client-node`. Default: the
   * `KUBECONFIG` environment variable, `~/.kube/config`, or the in-cluster service account
   * (client-node's `loadFromDefault`).
   */
  kubeconfig?: string | KubeConfig;
  /** Kubeconfig YAML text (wins over `kubeconfig`). */
  kubeconfigText?: string;
  /**
   * Which Calico CRD group to use. `auto` (default) asks discovery: `projectcalico.org/v3` only
   * when `projectcalico.org` is served and `crd.projectcalico.org` is not; `crd.projectcalico.org/v1`
   * otherwise, and when discovery fails (Calico's rule).
   */
  apiGroup?: 'crd.projectcalico.org/v1' | 'projectcalico.org/v3' | 'auto';
  /** Socket inactivity timeout of a request, which also bounds connecting (default 30000 ms). */
  requestTimeoutMs?: number;
  /** Inactivity timeout of a watch stream before it is reopened (default 150000 ms). */
  watchIdleTimeoutMs?: number;
  /** Page size of lists (default 500). */
  pageSize?: number;
  /** host-local IPAM mode: Node IPIP addresses come from the pod CIDR (Calico's `usePodCIDR`). */
  usePodCIDR?: boolean;
  /** How many times a broken watch stream is reopened in a row before the watch fails (default 5). */
  watchRetries?: number;
}

/** The Kubernetes datastore: the contract plus a few Kubernetes-specific extras. */
export interface KubernetesDatastore extends Datastore {
  readonly datastoreType: 'kubernetes';
  /** The API server URL. */
  readonly server: string;
  /** The Calico CRD group in use (resolved by discovery when `auto`). */
  apiGroup(): Promise<CalicoApiGroup>;
  /**
   * Adds the three lookup labels to BlockAffinity CRs that lack them (rows written by old
   * releases), as Calico does at start-up. Runs by itself before the first host-filtered
   * affinity list. Returns how many CRs were updated.
   */
  ensureBlockAffinityLabels(): Promise<number>;
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Outcome of decoding one object for a key type. */
type Decoded<K extends Key> = { kind: 'value'; pair: KVPair<K> } | { kind: 'softDeleted'; pair: KVPair<K> } | { kind: 'ignore' };

/** Where a CR-backed key lives and how its values map. */
interface CrTarget {
  /** Collection path (`/apis/<group>/[namespaces/<ns>/]<plural>`). */
  collection: string;
  name: string;
  hasStatus: boolean;
  softDelete: boolean;
}

const STATUS_KINDS = new Set(['IPPool', 'KubeControllersConfiguration', 'Tier']);
const RETRY_LIMIT = 10;

/**
 * Creates a Kubernetes datastore. Nothing is contacted until the first call; failures then
 * surface as the contract's errors (`DatastoreUnavailableError` for an unreachable server,
 * bounded by `requestTimeoutMs`). Fails with `DatastoreError` when the kubeconfig cannot be read.
 *
 * @example
 * ```ts
 * const datastore = createKubernetesDatastore({ kubeconfig: '/etc/kubernetes/admin.conf' });
 * const pools = await datastore.listKV({ type: 'resource', kind: 'IPPool' });
 * ```
 */
export function createKubernetesDatastore(options: KubernetesDatastoreOptions = {}): KubernetesDatastore {
  const kubeConfig = loadKubeConfig(options);
  return new KubernetesDatastoreImpl(kubeConfig, options);
}

function loadKubeConfig(options: KubernetesDatastoreOptions): KubeConfig {
  try {
    if (options.kubeconfigText !== undefined) {
      const kc = new KubeConfig();
      kc.loadFromString(options.kubeconfigText);
      return kc;
    }
    if (options.kubeconfig instanceof KubeConfig) return options.kubeconfig;
    if (typeof options.kubeconfig === 'object' && options.kubeconfig !== null) return options.kubeconfig as KubeConfig;
    const kc = new KubeConfig();
    if (typeof options.kubeconfig === 'string') {
      readFileSync(options.kubeconfig); // a clear error for a missing file
      kc.loadFromFile(options.kubeconfig);
    } else kc.loadFromDefault();
    return kc;
  } catch (error) {
    if (CalicoError.isInstance(error)) throw error;
    throw new DatastoreError(`cannot load the kubeconfig: ${(error as Error).message}`, { cause: error });
  }
}

class KubernetesDatastoreImpl implements KubernetesDatastore {
  readonly contractVersion = 'v1' as const;
  readonly datastoreType = 'kubernetes' as const;
  readonly capabilities: DatastoreCapabilities = { atomicTransactions: false, softDeleteIPAM: true, listConditions: false };
  readonly server: string;
  private transportPromise: Promise<KubeTransport> | undefined;
  private groupPromise: Promise<CalicoApiGroup> | undefined;
  private labelsEnsured: Promise<number> | undefined;
  private closed = false;
  private readonly watches = new Set<{ stop(): void }>();
  private readonly pageSize: number;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly options: KubernetesDatastoreOptions,
  ) {
    this.server = kubeConfig.getCurrentCluster()?.server ?? '';
    this.pageSize = options.pageSize ?? 500;
  }

  // ---- plumbing

  private transport(): Promise<KubeTransport> {
    if (this.closed) return Promise.reject(new DatastoreError('the Kubernetes datastore is closed'));
    this.transportPromise ??= KubeTransport.create(this.kubeConfig, {
      requestTimeoutMs: this.options.requestTimeoutMs ?? 30_000,
      watchIdleTimeoutMs: this.options.watchIdleTimeoutMs ?? 150_000,
    });
    return this.transportPromise;
  }

  apiGroup(): Promise<CalicoApiGroup> {
    if (this.groupPromise) return this.groupPromise;
    const wanted = this.options.apiGroup ?? 'auto';
    if (wanted !== 'auto') return (this.groupPromise = Promise.resolve(wanted));
    this.groupPromise = (async () => {
      try {
        const res = await (await this.transport()).request('GET', '/apis');
        if (res.status !== 200) return CalicoApiGroup.V1;
        const body = JSON.parse(res.text) as { groups?: { name?: string }[] };
        const names = new Set((body.groups ?? []).map((g) => g.name));
        return names.has('projectcalico.org') && !names.has('crd.projectcalico.org') ? CalicoApiGroup.V3 : CalicoApiGroup.V1;
      } catch (error) {
        if (this.closed) throw error;
        return CalicoApiGroup.V1;
      }
    })();
    return this.groupPromise;
  }

  private checkOpen(): void {
    if (this.closed) throw new DatastoreError('the Kubernetes datastore is closed');
  }

  /** Sends a request; returns the parsed body of a 2xx answer, throws the translated error otherwise. */
  private async call(method: string, path: string, identifier: ErrorIdentifier | undefined, init: { query?: Record<string, string | undefined>; body?: unknown; contentType?: string } = {}): Promise<JsonValue> {
    this.checkOpen();
    const transport = await this.transport();
    const res = await transport.request(method, path, {
      query: init.query,
      body: init.body === undefined ? undefined : stringifyJson(init.body),
      contentType: init.contentType,
    });
    if (res.status >= 200 && res.status < 300) {
      try {
        return parseJson(res.text);
      } catch (error) {
        throw new DatastoreError(`unreadable response from ${method} ${path}: ${(error as Error).message}`, { cause: error, ...(identifier === undefined ? {} : { identifier }) });
      }
    }
    throw errorFromResponse(res.status, res.text, identifier);
  }

  private async crCollection(plural: string, namespace?: string): Promise<string> {
    const group = await this.apiGroup();
    return `/apis/${group}/${namespace ? `namespaces/${encodeURIComponent(namespace)}/` : ''}${plural}`;
  }

  private async ipamPlural(kind: 'IPAMBlock' | 'BlockAffinity' | 'IPAMHandle' | 'IPAMConfig'): Promise<{ plural: string; crKind: string }> {
    const group = await this.apiGroup();
    switch (kind) {
      case 'IPAMBlock':
        return { plural: 'ipamblocks', crKind: 'IPAMBlock' };
      case 'BlockAffinity':
        return { plural: 'blockaffinities', crKind: 'BlockAffinity' };
      case 'IPAMHandle':
        return { plural: 'ipamhandles', crKind: 'IPAMHandle' };
      default:
        return group === CalicoApiGroup.V1 ? { plural: 'ipamconfigs', crKind: 'IPAMConfig' } : { plural: 'ipamconfigurations', crKind: 'IPAMConfiguration' };
    }
  }

  private async resourceCr(kind: ResourceKey['kind']): Promise<{ plural: string; crKind: string }> {
    const info = KINDS[kind];
    if (!('crd' in info.kdd)) throw new Error(`internal: ${kind} is not CRD-backed`);
    const group = await this.apiGroup();
    if (group === CalicoApiGroup.V3) return { plural: info.plural, crKind: info.kind };
    return { plural: info.kdd.crd.plural, crKind: info.kdd.crd.kind };
  }

  /** The CR location of a CR-backed key. */
  private async target(key: Key): Promise<CrTarget> {
    switch (key.type) {
      case 'resource': {
        const { plural } = await this.resourceCr(key.kind);
        return { collection: await this.crCollection(plural, key.namespace), name: key.name, hasStatus: STATUS_KINDS.has(key.kind), softDelete: false };
      }
      case 'block':
        return { collection: await this.crCollection('ipamblocks'), name: blockName(key.cidr), hasStatus: false, softDelete: true };
      case 'blockAffinity':
        return { collection: await this.crCollection('blockaffinities'), name: blockAffinityName(key.host, key.cidr), hasStatus: false, softDelete: true };
      case 'handle':
        return { collection: await this.crCollection('ipamhandles'), name: handleName(key.handleId), hasStatus: false, softDelete: true };
      case 'ipamConfig':
        return { collection: await this.crCollection((await this.ipamPlural('IPAMConfig')).plural), name: 'default', hasStatus: false, softDelete: false };
    }
  }

  /** Builds the CR for a value. `revision` goes into metadata.resourceVersion (updates). */
  private async toCustomResource<K extends Key>(key: K, value: ValueOf<K>, revision: string | undefined): Promise<CustomResource> {
    const group = await this.apiGroup();
    const v1 = group === CalicoApiGroup.V1;
    const ipamObject = (crKind: string, name: string, spec: unknown, labels?: Record<string, string>): CustomResource => {
      const meta: V3Object['metadata'] = { name };
      if (labels) meta.labels = labels;
      if (revision) meta.resourceVersion = revision;
      return v3ToCustomResource({ kind: crKind, apiVersion: 'projectcalico.org/v3', metadata: meta, spec }, crKind, group);
    };
    switch (key.type) {
      case 'resource': {
        const object = value as V3Object;
        if (!isObject(object) || !isObject(object.metadata)) {
          throw new ValidationError([{ name: 'value.metadata', value: object?.metadata, reason: 'a v3 object with metadata is required' }], { identifier: keyIdentifier(key) });
        }
        const { crKind } = await this.resourceCr(key.kind);
        const metadata: V3Object['metadata'] = { ...object.metadata, name: key.name };
        if (key.namespace !== undefined) metadata.namespace = key.namespace;
        else delete metadata.namespace;
        if (revision) metadata.resourceVersion = revision;
        else delete metadata.resourceVersion;
        let spec = object.spec;
        if (key.kind === 'BlockAffinity' && isObject(spec)) {
          spec = { ...spec, deleted: v1 ? String(spec.deleted === true || spec.deleted === 'true') : spec.deleted === true || spec.deleted === 'true' };
        }
        return v3ToCustomResource({ ...object, kind: key.kind, metadata, spec }, crKind, group);
      }
      case 'block':
        return ipamObject('IPAMBlock', blockName(key.cidr), blockToSpec({ ...(value as AllocationBlock), cidr: key.cidr }));
      case 'blockAffinity': {
        const type = key.affinityType ?? 'host';
        return ipamObject('BlockAffinity', blockAffinityName(key.host, key.cidr), affinityToSpec(value as BlockAffinity, key.host, key.cidr, type, v1), blockAffinityLabels(key.host, key.cidr, type));
      }
      case 'handle':
        return ipamObject('IPAMHandle', handleName(key.handleId), handleToSpec(value as IPAMHandle, key.handleId));
      case 'ipamConfig':
        return ipamObject((await this.ipamPlural('IPAMConfig')).crKind, 'default', ipamConfigToSpec(value as IPAMConfig));
    }
  }

  /** Decodes a CR of the key type `type` (for resources, of `kind`). Throws on malformed objects. */
  private async decodeCr(type: Key['type'], cr: CustomResource, kind?: ResourceKey['kind']): Promise<Decoded<Key>> {
    const group = await this.apiGroup();
    const meta = (cr.metadata ?? {}) as Obj;
    const revision = String(meta.resourceVersion ?? '');
    const uid = typeof meta.uid === 'string' ? meta.uid : undefined;
    const pairOf = <K extends Key>(key: K, value: ValueOf<K>): KVPair<K> => (uid ? { key, value, revision, uid } : { key, value, revision });
    switch (type) {
      case 'resource': {
        const v3 = customResourceToV3(cr, kind!, group);
        if (kind === 'BlockAffinity' && isObject(v3.spec)) v3.spec = { ...v3.spec, deleted: v3.spec.deleted === true || v3.spec.deleted === 'true' };
        const key: ResourceKey = KINDS[kind!].namespaced
          ? { type: 'resource', kind: kind!, namespace: String(v3.metadata.namespace ?? ''), name: String(v3.metadata.name) }
          : { type: 'resource', kind: kind!, name: String(v3.metadata.name) };
        return { kind: 'value', pair: pairOf(key, v3) };
      }
      case 'block': {
        const value = specToBlock(cr.spec);
        const pair = pairOf<BlockKey>({ type: 'block', cidr: value.cidr }, value);
        return value.deleted ? { kind: 'softDeleted', pair } : { kind: 'value', pair };
      }
      case 'blockAffinity': {
        const { value, host, cidr, affinityType } = specToAffinity(cr.spec);
        const key: BlockAffinityKey = { type: 'blockAffinity', host, cidr, affinityType: affinityType as 'host' | 'virtual' };
        const pair = pairOf(key, value);
        return value.deleted ? { kind: 'softDeleted', pair } : { kind: 'value', pair };
      }
      case 'handle': {
        const { value, handleId } = specToHandle(cr.spec, String(meta.name ?? ''));
        const pair = pairOf<HandleKey>({ type: 'handle', handleId }, value);
        return value.deleted ? { kind: 'softDeleted', pair } : { kind: 'value', pair };
      }
      case 'ipamConfig':
        return { kind: 'value', pair: pairOf<IPAMConfigKey>({ type: 'ipamConfig' }, specToIpamConfig(cr.spec)) };
    }
  }

  private decodeError(error: unknown, what: string, identifier?: ErrorIdentifier): CalicoError {
    if (ResourceNotFoundError.isInstance(error)) return error as CalicoError;
    if (CalicoError.isInstance(error) && !ParseError.isInstance(error)) return error as CalicoError;
    return new DatastoreError(`cannot decode ${what}: ${(error as Error).message}`, { cause: error, ...(identifier === undefined ? {} : { identifier }) });
  }

  /** Decodes the answer for `key` and checks it is the key asked for. */
  private async decodeFor<K extends Key>(key: K, body: JsonValue): Promise<Decoded<K>> {
    try {
      const decoded = (await this.decodeCr(key.type, body as unknown as CustomResource, key.type === 'resource' ? key.kind : undefined)) as Decoded<K>;
      if (decoded.kind !== 'ignore') {
        // CR names are not unique per key: handle names are lowercased, affinity names leave out
        // the type. An object stored for another key is not this key's.
        if (keyId(decoded.pair.key) !== keyId(key) && key.type !== 'resource') throw new ResourceNotFoundError(keyIdentifier(key));
        decoded.pair.key = key;
      }
      return decoded;
    } catch (error) {
      throw this.decodeError(error, describeKey(key), keyIdentifier(key));
    }
  }

  private async writeStatus<K extends Key>(key: K, target: CrTarget, value: ValueOf<K>, pair: KVPair<K>): Promise<KVPair<K>> {
    if (key.type !== 'resource' || !target.hasStatus) return pair;
    const status = (value as V3Object).status;
    if (status === undefined || (isObject(status) && Object.keys(status).length === 0)) return pair;
    const cr = await this.toCustomResource(key, { ...(value as V3Object), status } as ValueOf<K>, pair.revision);
    const body = await this.call('PUT', `${target.collection}/${encodeURIComponent(target.name)}/status`, keyIdentifier(key), { body: cr });
    const decoded = await this.decodeFor(key, body);
    return decoded.kind === 'ignore' ? pair : decoded.pair;
  }

  // ---- CR-backed operations

  private async crGet<K extends Key>(key: K, target: CrTarget): Promise<Decoded<K>> {
    const body = await this.call('GET', `${target.collection}/${encodeURIComponent(target.name)}`, keyIdentifier(key));
    return this.decodeFor(key, body);
  }

  /** Finishes a soft delete: DELETE with the UID as precondition; "not found" and conflicts are ignored. */
  private async finishSoftDelete(target: CrTarget, uid: string | undefined): Promise<void> {
    try {
      await this.call('DELETE', `${target.collection}/${encodeURIComponent(target.name)}`, { key: `${target.collection}/${target.name}` }, {
        body: { kind: 'DeleteOptions', apiVersion: 'v1', ...(uid ? { preconditions: { uid } } : {}) },
      });
    } catch (error) {
      if (!ResourceNotFoundError.isInstance(error) && !UpdateConflictError.isInstance(error)) throw error;
    }
  }

  private async crCreate<K extends Key>(key: K, value: ValueOf<K>): Promise<KVPair<K>> {
    const target = await this.target(key);
    const cr = await this.toCustomResource(key, value, undefined);
    delete cr.metadata.uid;
    for (let attempt = 0; ; attempt++) {
      try {
        const body = await this.call('POST', target.collection, keyIdentifier(key), { body: cr });
        const decoded = await this.decodeFor(key, body);
        if (decoded.kind === 'ignore') throw new DatastoreError(`the created ${describeKey(key)} could not be read back`, { identifier: keyIdentifier(key) });
        return this.writeStatus(key, target, value, decoded.pair);
      } catch (error) {
        // A soft-deleted leftover (a delete that stopped half-way) does not count as present.
        if (!target.softDelete || !ResourceExistsError.isInstance(error) || attempt >= 1) throw error;
        let existing: Decoded<K>;
        try {
          existing = await this.crGet(key, target);
        } catch (getError) {
          if (ResourceNotFoundError.isInstance(getError)) continue;
          throw getError;
        }
        if (existing.kind !== 'softDeleted') throw error;
        await this.finishSoftDelete(target, existing.pair.uid);
      }
    }
  }

  private async crUpdate<K extends Key>(key: K, value: ValueOf<K>, revision: string | undefined): Promise<KVPair<K>> {
    const target = await this.target(key);
    const cr = await this.toCustomResource(key, value, revision);
    const body = await this.call('PUT', `${target.collection}/${encodeURIComponent(target.name)}`, keyIdentifier(key), { body: cr });
    const decoded = await this.decodeFor(key, body);
    if (decoded.kind === 'ignore') throw new DatastoreError(`the updated ${describeKey(key)} could not be read back`);
    return this.writeStatus(key, target, value, decoded.pair);
  }

  private async crDelete<K extends Key>(key: K, revision: string | undefined): Promise<KVPair<K>> {
    const target = await this.target(key);
    const path = `${target.collection}/${encodeURIComponent(target.name)}`;
    for (let attempt = 0; attempt < RETRY_LIMIT; attempt++) {
      const current = await this.crGet(key, target);
      if (current.kind === 'ignore') throw new ResourceNotFoundError(keyIdentifier(key));
      if (current.kind === 'softDeleted') {
        await this.finishSoftDelete(target, current.pair.uid);
        throw new ResourceNotFoundError(keyIdentifier(key));
      }
      if (revision !== undefined && current.pair.revision !== revision) throw new UpdateConflictError(keyIdentifier(key));
      try {
        if (target.softDelete) {
          // 1. Mark deleted with a CAS on the revision: the real linearisation point.
          const marked = { ...(current.pair.value as object), deleted: true } as ValueOf<K>;
          const cr = await this.toCustomResource(key, marked, current.pair.revision);
          await this.call('PUT', path, keyIdentifier(key), { body: cr });
          // 2. Delete exactly that object.
          await this.finishSoftDelete(target, current.pair.uid);
        } else {
          await this.call('DELETE', path, keyIdentifier(key), {
            body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { ...(current.pair.uid ? { uid: current.pair.uid } : {}), resourceVersion: current.pair.revision } },
          });
        }
        return current.pair;
      } catch (error) {
        if (UpdateConflictError.isInstance(error) && revision === undefined) continue;
        throw error;
      }
    }
    throw new UpdateConflictError(keyIdentifier(key), { message: `delete of ${describeKey(key)} kept conflicting with other writers` });
  }

  private async crList(list: ListInterface): Promise<KVList<Key>> {
    let collection: string;
    let kind: ResourceKey['kind'] | undefined;
    const query: Record<string, string | undefined> = { limit: String(this.pageSize) };
    switch (list.type) {
      case 'resource':
        kind = list.kind;
        collection = await this.crCollection((await this.resourceCr(list.kind)).plural, list.namespace);
        if (list.name !== undefined) query.fieldSelector = `metadata.name=${list.name}`;
        break;
      case 'block':
        collection = await this.crCollection('ipamblocks');
        break;
      case 'blockAffinity': {
        collection = await this.crCollection('blockaffinities');
        const selector: string[] = [];
        if (list.host !== undefined) {
          await this.ensureLabelsOnce();
          selector.push(`${AffinityLabel.HostnameHash}=${hostnameHash(list.host)}`);
        }
        if (list.affinityType !== undefined) selector.push(`${AffinityLabel.AffinityType}=${list.affinityType}`);
        if (list.ipVersion !== undefined) selector.push(`${AffinityLabel.IPVersion}=${list.ipVersion}`);
        if (selector.length > 0) query.labelSelector = selector.join(',');
        break;
      }
      case 'handle':
        collection = await this.crCollection('ipamhandles');
        break;
      case 'ipamConfig':
        collection = await this.crCollection((await this.ipamPlural('IPAMConfig')).plural);
        query.fieldSelector = 'metadata.name=default';
        break;
    }
    const { items: raw, revision } = await this.listAll(collection, query);
    const items: KVPair[] = [];
    const errors: Error[] = [];
    for (const item of raw) {
      let decoded: Decoded<Key>;
      try {
        decoded = await this.decodeCr(list.type, item as unknown as CustomResource, kind);
      } catch (error) {
        const name = String((item.metadata as Obj | undefined)?.name ?? '?');
        errors.push(this.decodeError(error, `${collection.split('/').pop()} ${name}`, { key: `${collection}/${name}` }));
        continue;
      }
      if (decoded.kind !== 'value') continue;
      if (!this.matchesList(decoded.pair.key, list)) continue;
      items.push(decoded.pair);
    }
    return errors.length > 0 ? { items, revision, errors } : { items, revision };
  }

  private matchesList(key: Key, list: ListInterface): boolean {
    switch (list.type) {
      case 'block':
        return list.ipVersion === undefined || (key as BlockKey).cidr.includes(':') === (list.ipVersion === 6);
      case 'blockAffinity': {
        const k = key as BlockAffinityKey;
        return (
          (list.host === undefined || k.host === list.host) &&
          (list.affinityType === undefined || (k.affinityType ?? 'host') === list.affinityType) &&
          (list.ipVersion === undefined || k.cidr.includes(':') === (list.ipVersion === 6))
        );
      }
      case 'resource':
        return list.name === undefined || (key as ResourceKey).name === list.name;
      default:
        return true;
    }
  }

  /** Lists a collection page by page; returns the items and the list resourceVersion. */
  private async listAll(collection: string, query: Record<string, string | undefined>): Promise<{ items: Obj[]; revision: string }> {
    const items: Obj[] = [];
    let revision = '';
    let cont: string | undefined;
    do {
      const body = await this.call('GET', collection, undefined, { query: { ...query, continue: cont } });
      if (!isObject(body)) throw new DatastoreError(`unexpected list response from ${collection}`);
      const meta = isObject(body.metadata) ? body.metadata : {};
      if (!revision) revision = String(meta.resourceVersion ?? '');
      for (const item of Array.isArray(body.items) ? body.items : []) if (isObject(item)) items.push(item);
      cont = typeof meta.continue === 'string' && meta.continue !== '' ? meta.continue : undefined;
    } while (cont);
    return { items, revision };
  }

  private ensureLabelsOnce(): Promise<number> {
    this.labelsEnsured ??= this.ensureBlockAffinityLabels().catch((error: unknown) => {
      this.labelsEnsured = undefined;
      throw error;
    });
    return this.labelsEnsured;
  }

  async ensureBlockAffinityLabels(): Promise<number> {
    this.checkOpen();
    const group = await this.apiGroup();
    const collection = await this.crCollection('blockaffinities');
    const { items } = await this.listAll(collection, { limit: String(this.pageSize) });
    let updated = 0;
    for (const item of items) {
      const meta = (isObject(item.metadata) ? item.metadata : {}) as Obj;
      const labels = (isObject(meta.labels) ? meta.labels : {}) as Record<string, string>;
      if (labels[AffinityLabel.HostnameHash] && labels[AffinityLabel.AffinityType] && labels[AffinityLabel.IPVersion]) continue;
      let parsed: ReturnType<typeof specToAffinity>;
      try {
        parsed = specToAffinity(item.spec);
      } catch {
        continue;
      }
      const wanted = blockAffinityLabels(parsed.host, parsed.cidr, parsed.affinityType);
      const next = JSON.parse(JSON.stringify(item)) as CustomResource;
      next.metadata.labels = { ...labels, ...wanted };
      if (group === CalicoApiGroup.V1) {
        const annotations = { ...(next.metadata.annotations ?? {}) };
        let stored: Record<string, unknown> = {};
        try {
          stored = annotations[METADATA_ANNOTATION] ? (JSON.parse(annotations[METADATA_ANNOTATION]) as Record<string, unknown>) : {};
        } catch {
          stored = {};
        }
        stored.labels = { ...((stored.labels as Record<string, string>) ?? {}), ...wanted };
        annotations[METADATA_ANNOTATION] = JSON.stringify(goObjectMeta(stored));
        next.metadata.annotations = annotations;
      }
      try {
        await this.call('PUT', `${collection}/${encodeURIComponent(String(meta.name))}`, { key: `${collection}/${String(meta.name)}` }, { body: next });
        updated++;
      } catch (error) {
        if (!UpdateConflictError.isInstance(error) && !ResourceNotFoundError.isInstance(error)) throw error;
      }
    }
    return updated;
  }

  // ---- native objects

  private nativeOnly(key: ResourceKey): 'Node' | 'WorkloadEndpoint' | 'Profile' | undefined {
    return key.kind === 'Node' || key.kind === 'WorkloadEndpoint' || key.kind === 'Profile' ? key.kind : undefined;
  }

  private notSupported(key: Key, operation: string, why: string): OperationNotSupportedError {
    return new OperationNotSupportedError(`${operation} of ${describeKey(key)} is not supported by the Kubernetes datastore: ${why}`, { identifier: keyIdentifier(key) });
  }

  private nodePair(node: Obj): KVPair<ResourceKey> {
    const value = kubeNodeToCalico(node, { usePodCIDR: this.options.usePodCIDR });
    const uid = typeof (node.metadata as Obj)?.uid === 'string' ? String((node.metadata as Obj).uid) : undefined;
    const pair: KVPair<ResourceKey> = { key: { type: 'resource', kind: 'Node', name: String(value.metadata.name) }, value, revision: String(value.metadata.resourceVersion ?? '') };
    if (uid) pair.uid = uid;
    return pair;
  }

  private wepPair(pod: Obj): KVPair<ResourceKey> {
    const value = podToWorkloadEndpoint(pod);
    const pair: KVPair<ResourceKey> = {
      key: { type: 'resource', kind: 'WorkloadEndpoint', namespace: String(value.metadata.namespace), name: String(value.metadata.name) },
      value,
      revision: String(value.metadata.resourceVersion ?? ''),
    };
    if (value.metadata.uid) pair.uid = value.metadata.uid;
    return pair;
  }

  private profilePair(value: V3Object): KVPair<ResourceKey> {
    return { key: { type: 'resource', kind: 'Profile', name: String(value.metadata.name) }, value, revision: String(value.metadata.resourceVersion ?? '') };
  }

  private async nativeGet(key: ResourceKey): Promise<KVPair<ResourceKey>> {
    const id = keyIdentifier(key);
    switch (key.kind) {
      case 'Node':
        return this.nodePair((await this.call('GET', `/api/v1/nodes/${encodeURIComponent(key.name)}`, id)) as Obj);
      case 'WorkloadEndpoint': {
        const podName = podNameFromWorkloadEndpointName(key.name);
        if (!podName) throw new ResourceNotFoundError(id);
        const pod = (await this.call('GET', `/api/v1/namespaces/${encodeURIComponent(key.namespace ?? '')}/pods/${encodeURIComponent(podName)}`, id)) as Obj;
        if (!podHasWorkloadEndpoint(pod)) throw new ResourceNotFoundError(id);
        const pair = this.wepPair(pod);
        if (pair.key.name !== key.name) throw new ResourceNotFoundError(id);
        return pair;
      }
      default: {
        if (key.name === DEFAULT_ALLOW_PROFILE) return this.profilePair(defaultAllowProfile());
        if (key.name.startsWith('kns.')) {
          const ns = key.name.slice(4);
          return this.profilePair(namespaceToProfile((await this.call('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}`, id)) as Obj));
        }
        const m = /^ksa\.([^.]+)\.(.+)$/.exec(key.name);
        if (!m) throw new ResourceNotFoundError(id);
        return this.profilePair(serviceAccountToProfile((await this.call('GET', `/api/v1/namespaces/${encodeURIComponent(m[1])}/serviceaccounts/${encodeURIComponent(m[2])}`, id)) as Obj));
      }
    }
  }

  private async nodeUpdate(key: ResourceKey, value: V3Object, revision: string | undefined): Promise<KVPair<ResourceKey>> {
    const id = keyIdentifier(key);
    const current = (await this.call('GET', `/api/v1/nodes/${encodeURIComponent(key.name)}`, id)) as Obj;
    const next = mergeCalicoNodeIntoKubeNode(value, current);
    const meta = next.metadata as Obj;
    if (revision !== undefined) meta.resourceVersion = revision;
    const body = (await this.call('PUT', `/api/v1/nodes/${encodeURIComponent(key.name)}/status`, id, { body: next })) as Obj;
    return this.nodePair(body);
  }

  /** CNI-mode write of a WorkloadEndpoint: a strategic merge patch of the pod's IP annotations (status subresource). */
  private async wepPatch(key: ResourceKey, annotations: Record<string, string>, revision: string | undefined, uid: string | undefined): Promise<KVPair<ResourceKey>> {
    const id = keyIdentifier(key);
    const podName = podNameFromWorkloadEndpointName(key.name);
    if (!podName) throw new ValidationError([{ name: 'metadata.name', value: key.name, reason: 'not a Kubernetes workload endpoint name (<node>-k8s-<pod>-<endpoint>)' }], { identifier: id });
    const metadata: Obj = {};
    if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
    if (revision) metadata.resourceVersion = revision;
    if (uid) metadata.uid = uid;
    const pod = (await this.call('PATCH', `/api/v1/namespaces/${encodeURIComponent(key.namespace ?? '')}/pods/${encodeURIComponent(podName)}/status`, id, {
      body: { metadata },
      contentType: 'application/strategic-merge-patch+json',
    })) as Obj;
    if (!podHasWorkloadEndpoint(pod)) throw new ResourceNotFoundError(id);
    return this.wepPair(pod);
  }

  private wepAnnotations(value: V3Object): Record<string, string> {
    const spec = (isObject(value.spec) ? value.spec : {}) as Obj;
    const ips = Array.isArray(spec.ipNetworks) ? spec.ipNetworks.filter((x): x is string => typeof x === 'string') : [];
    const out: Record<string, string> = {};
    if (ips.length === 0) return out;
    out[PodAnnotation.PodIP] = ips[0];
    out[PodAnnotation.PodIPs] = ips.join(',');
    if (typeof spec.containerID === 'string' && spec.containerID) out[PodAnnotation.ContainerID] = spec.containerID;
    return out;
  }

  private async nativeWrite(op: 'create' | 'update' | 'apply' | 'delete', key: ResourceKey, value: V3Object | undefined, revision: string | undefined): Promise<KVPair<ResourceKey>> {
    switch (key.kind) {
      case 'Node':
        if (op === 'create' || op === 'delete') throw this.notSupported(key, op === 'create' ? 'Create' : 'Delete', 'Calico Nodes are views of Kubernetes Nodes, which Kubernetes owns');
        return this.nodeUpdate(key, value!, revision);
      case 'WorkloadEndpoint':
        if (op === 'delete') {
          const current = await this.nativeGet(key);
          if (revision !== undefined && current.revision !== revision) throw new UpdateConflictError(keyIdentifier(key));
          await this.wepPatch(key, { [PodAnnotation.PodIP]: '', [PodAnnotation.PodIPs]: '' }, revision, current.uid);
          return current;
        }
        // CNI mode: Calico drops the revision on create/apply; an update keeps it as a precondition.
        return this.wepPatch(key, this.wepAnnotations(value!), op === 'update' ? revision : undefined, value?.metadata?.uid || undefined);
      default:
        throw this.notSupported(key, op, 'Profiles are derived from Namespaces and ServiceAccounts (read-only)');
    }
  }

  private async nativeList(list: Extract<ListInterface, { type: 'resource' }>): Promise<KVList<ResourceKey>> {
    const query: Record<string, string | undefined> = { limit: String(this.pageSize) };
    switch (list.kind) {
      case 'Node': {
        if (list.name !== undefined) query.fieldSelector = `metadata.name=${list.name}`;
        const { items, revision } = await this.listAll('/api/v1/nodes', query);
        return { items: items.map((n) => this.nodePair(n)), revision };
      }
      case 'WorkloadEndpoint': {
        const path = list.namespace ? `/api/v1/namespaces/${encodeURIComponent(list.namespace)}/pods` : '/api/v1/pods';
        if (list.name !== undefined) {
          const podName = podNameFromWorkloadEndpointName(list.name);
          if (!podName) return { items: [], revision: (await this.listAll(path, { ...query, limit: '1' })).revision };
          query.fieldSelector = `metadata.name=${podName}`;
        }
        const { items, revision } = await this.listAll(path, query);
        const pairs = items.filter(podHasWorkloadEndpoint).map((p) => this.wepPair(p));
        return { items: list.name === undefined ? pairs : pairs.filter((p) => p.key.name === list.name), revision };
      }
      default: {
        const ns = await this.listAll('/api/v1/namespaces', query);
        const sa = await this.listAll('/api/v1/serviceaccounts', query);
        const pairs = [this.profilePair(defaultAllowProfile()), ...ns.items.map((n) => this.profilePair(namespaceToProfile(n))), ...sa.items.map((s) => this.profilePair(serviceAccountToProfile(s)))];
        return { items: list.name === undefined ? pairs : pairs.filter((p) => p.key.name === list.name), revision: `${ns.revision}/${sa.revision}` };
      }
    }
  }

  // ---- the contract

  private guard<T>(identifier: ErrorIdentifier | undefined, run: () => Promise<T>): Promise<T> {
    return run().catch((error: unknown) => {
      throw translateError(error, identifier, this.server);
    });
  }

  createKV<K extends Key>(key: K, value: ValueOf<K>): Promise<KVPair<K>> {
    return this.guard(undefined, async () => {
      validateKey(key);
      this.checkOpen();
      if (key.type === 'resource' && this.nativeOnly(key)) return (await this.nativeWrite('create', key, value as V3Object, undefined)) as KVPair<K>;
      return this.crCreate(key, value);
    });
  }

  updateKV<K extends Key>(key: K, value: ValueOf<K>, revision: string): Promise<KVPair<K>> {
    return this.guard(undefined, async () => {
      validateKey(key);
      if (typeof revision !== 'string' || revision === '') {
        throw new ValidationError([{ name: 'revision', value: revision, reason: 'an update needs the revision it replaces' }], { identifier: keyIdentifier(key) });
      }
      this.checkOpen();
      if (key.type === 'resource' && this.nativeOnly(key)) return (await this.nativeWrite('update', key, value as V3Object, revision)) as KVPair<K>;
      return this.crUpdate(key, value, revision);
    });
  }

  applyKV<K extends Key>(key: K, value: ValueOf<K>): Promise<KVPair<K>> {
    return this.guard(undefined, async () => {
      validateKey(key);
      this.checkOpen();
      if (key.type === 'resource' && this.nativeOnly(key)) return (await this.nativeWrite('apply', key, value as V3Object, undefined)) as KVPair<K>;
      for (let attempt = 0; attempt < RETRY_LIMIT; attempt++) {
        try {
          return await this.crUpdate(key, value, undefined);
        } catch (error) {
          if (!ResourceNotFoundError.isInstance(error)) throw error;
        }
        try {
          return await this.crCreate(key, value);
        } catch (error) {
          if (!ResourceExistsError.isInstance(error)) throw error;
        }
      }
      throw new UpdateConflictError(keyIdentifier(key), { message: `apply of ${describeKey(key)} kept racing with other writers` });
    });
  }

  deleteKV<K extends Key>(key: K, revision?: string): Promise<KVPair<K>> {
    return this.guard(undefined, async () => {
      validateKey(key);
      this.checkOpen();
      if (key.type === 'resource' && this.nativeOnly(key)) return (await this.nativeWrite('delete', key, undefined, revision)) as KVPair<K>;
      return this.crDelete(key, revision);
    });
  }

  getKV<K extends Key>(key: K): Promise<KVPair<K>> {
    return this.guard(undefined, async () => {
      validateKey(key);
      this.checkOpen();
      if (key.type === 'resource' && this.nativeOnly(key)) return (await this.nativeGet(key)) as KVPair<K>;
      const target = await this.target(key);
      const decoded = await this.crGet(key, target);
      if (decoded.kind === 'value') return decoded.pair;
      // Calico completes a half-done soft delete and answers "not found".
      if (decoded.kind === 'softDeleted') await this.finishSoftDelete(target, decoded.pair.uid).catch(() => undefined);
      throw new ResourceNotFoundError(keyIdentifier(key));
    });
  }

  listKV<L extends ListInterface>(list: L): Promise<KVList<KeyOfList<L>>> {
    return this.guard(undefined, async () => {
      validateList(list);
      this.checkOpen();
      if (list.type === 'resource' && (list.kind === 'Node' || list.kind === 'WorkloadEndpoint' || list.kind === 'Profile')) {
        return (await this.nativeList(list)) as unknown as KVList<KeyOfList<L>>;
      }
      return (await this.crList(list)) as KVList<KeyOfList<L>>;
    });
  }

  watchKV<L extends ListInterface>(list: L, options: WatchOptions = {}): Watch<KeyOfList<L>> {
    const watch = new QueuedWatch<KeyOfList<L>>(options.signal, () => this.watches.delete(watch));
    if (watch.stopped) return watch;
    this.watches.add(watch);
    this.runWatch(list, options, watch).catch((error: unknown) => watch.fail(translateError(error, undefined, this.server)));
    return watch;
  }

  // ---- watching

  /** The streams a list is watched on, and how each object decodes. */
  private async watchSources(list: ListInterface): Promise<{ path: string; query: Record<string, string>; decode: (obj: Obj) => Promise<Decoded<Key>> }[]> {
    if (list.type === 'handle') {
      throw new OperationNotSupportedError('watching IPAM handles is not supported by the Kubernetes datastore (as in Calico)', { identifier: 'handle' });
    }
    const filtered = (decode: (obj: Obj) => Promise<Decoded<Key>>) => async (obj: Obj): Promise<Decoded<Key>> => {
      const d = await decode(obj);
      if (d.kind !== 'ignore' && !this.matchesList(d.pair.key, list)) return { kind: 'ignore' };
      return d;
    };
    if (list.type === 'resource') {
      if (list.kind === 'Node') {
        const query: Record<string, string> = list.name ? { fieldSelector: `metadata.name=${list.name}` } : {};
        return [{ path: '/api/v1/nodes', query, decode: filtered(async (o) => ({ kind: 'value', pair: this.nodePair(o) })) }];
      }
      if (list.kind === 'WorkloadEndpoint') {
        const path = list.namespace ? `/api/v1/namespaces/${encodeURIComponent(list.namespace)}/pods` : '/api/v1/pods';
        return [{ path, query: {}, decode: filtered(async (o) => (podHasWorkloadEndpoint(o) ? { kind: 'value', pair: this.wepPair(o) } : { kind: 'ignore' })) }];
      }
      if (list.kind === 'Profile') {
        return [
          { path: '/api/v1/namespaces', query: {}, decode: filtered(async (o) => ({ kind: 'value', pair: this.profilePair(namespaceToProfile(o)) })) },
          { path: '/api/v1/serviceaccounts', query: {}, decode: filtered(async (o) => ({ kind: 'value', pair: this.profilePair(serviceAccountToProfile(o)) })) },
        ];
      }
      const kind = list.kind;
      const path = await this.crCollection((await this.resourceCr(kind)).plural, list.namespace);
      const query: Record<string, string> = list.name ? { fieldSelector: `metadata.name=${list.name}` } : {};
      return [{ path, query, decode: filtered((o) => this.decodeCr('resource', o as unknown as CustomResource, kind)) }];
    }
    const type = list.type;
    const plural = type === 'block' ? 'ipamblocks' : type === 'blockAffinity' ? 'blockaffinities' : (await this.ipamPlural('IPAMConfig')).plural;
    const query: Record<string, string> = {};
    if (list.type === 'blockAffinity') {
      const selector: string[] = [];
      if (list.host !== undefined) selector.push(`${AffinityLabel.HostnameHash}=${hostnameHash(list.host)}`);
      if (list.affinityType !== undefined) selector.push(`${AffinityLabel.AffinityType}=${list.affinityType}`);
      if (list.ipVersion !== undefined) selector.push(`${AffinityLabel.IPVersion}=${list.ipVersion}`);
      if (selector.length) query.labelSelector = selector.join(',');
    }
    if (type === 'ipamConfig') query.fieldSelector = 'metadata.name=default';
    return [{ path: await this.crCollection(plural), query, decode: filtered((o) => this.decodeCr(type, o as unknown as CustomResource)) }];
  }

  private async runWatch<K extends Key>(list: ListInterface, options: WatchOptions, watch: QueuedWatch<K>): Promise<void> {
    validateList(list);
    this.checkOpen();
    const sources = await this.watchSources(list);
    const known = new Map<string, KVPair<Key>>();
    const complete = options.revision === undefined;
    const revisions: string[] = sources.map(() => '');
    if (options.revision !== undefined) {
      const parts = sources.length > 1 ? options.revision.split('/') : [options.revision];
      if (parts.length !== sources.length) {
        throw new ValidationError([{ name: 'revision', value: options.revision, reason: 'not a revision of this list' }]);
      }
      parts.forEach((p, i) => (revisions[i] = p));
    } else {
      const listed = await this.listKV(list);
      const parts = sources.length > 1 ? listed.revision.split('/') : [listed.revision];
      parts.forEach((p, i) => (revisions[i] = p));
      for (const pair of listed.items) {
        known.set(keyId(pair.key), pair);
        watch.push({ type: 'added', current: pair as KVPair<K>, revision: pair.revision });
      }
    }
    const composite = () => revisions.join('/');
    const emit = (event: WatchEvent<Key>) => watch.push(event as WatchEvent<K>);
    const reportedSoftDeletes = new Set<string>();
    const handle = async (index: number, type: string, object: Obj) => {
      const rv = String((object.metadata as Obj | undefined)?.resourceVersion ?? '');
      if (rv) revisions[index] = rv;
      if (type === 'BOOKMARK') return;
      let decoded: Decoded<Key>;
      try {
        decoded = await sources[index].decode(object);
      } catch (error) {
        throw this.decodeError(error, `a watched object ${String((object.metadata as Obj | undefined)?.name ?? '')}`);
      }
      if (decoded.kind === 'ignore') return;
      const eventRevision = sources.length > 1 ? composite() : rv;
      const id = keyId(decoded.pair.key);
      const previous = known.get(id);
      if (type === 'DELETED') {
        known.delete(id);
        // The soft delete (spec.deleted = true) was already reported as the deletion.
        if (reportedSoftDeletes.delete(id)) return;
        emit({ type: 'deleted', previous: previous ?? decoded.pair, revision: eventRevision });
        return;
      }
      if (decoded.kind === 'softDeleted') {
        known.delete(id);
        if (reportedSoftDeletes.has(id)) return;
        reportedSoftDeletes.add(id);
        emit({ type: 'deleted', previous: previous ?? decoded.pair, revision: eventRevision });
        return;
      }
      reportedSoftDeletes.delete(id);
      known.set(id, decoded.pair);
      // Without a starting list an unknown object's MODIFIED stays a modification; after a full
      // list, an object entering the view (e.g. a pod getting scheduled) is an addition.
      if (previous || (type === 'MODIFIED' && !complete)) emit({ type: 'modified', ...(previous ? { previous } : {}), current: decoded.pair, revision: eventRevision });
      else emit({ type: 'added', current: decoded.pair, revision: eventRevision });
    };
    const retries = this.options.watchRetries ?? 5;
    await Promise.all(sources.map((source, index) => this.streamSource(source.path, source.query, () => revisions[index], (type, object) => handle(index, type, object), watch, retries)));
  }

  /** Runs one watch stream, reopening it from the last revision when it ends, until the watch stops. */
  private async streamSource<K extends Key>(
    path: string,
    query: Record<string, string>,
    revision: () => string,
    onEvent: (type: string, object: Obj) => Promise<void>,
    watch: QueuedWatch<K>,
    retries: number,
  ): Promise<void> {
    let failures = 0;
    while (!watch.stopped) {
      const from = revision();
      let res;
      try {
        const transport = await this.transport();
        res = await transport.stream(path, { query: { ...query, watch: '1', allowWatchBookmarks: 'true', resourceVersion: from || undefined }, signal: watch.controller.signal });
      } catch (error) {
        if (watch.stopped) return;
        const translated = translateError(error, undefined, this.server);
        if (!translated.isRetryable || ++failures > retries) throw translated;
        await delay(Math.min(2000, 50 * 2 ** failures));
        continue;
      }
      if (res.statusCode !== 200) {
        const chunks: Buffer[] = [];
        for await (const c of res) chunks.push(c as Buffer);
        const error = errorFromResponse(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'));
        if (WatchTooOldError.isInstance(error)) throw new WatchTooOldError(from, { cause: error });
        if (!error.isRetryable || ++failures > retries) throw error;
        await delay(Math.min(2000, 50 * 2 ** failures));
        continue;
      }
      let buffer = '';
      try {
        for await (const chunk of res) {
          buffer += (chunk as Buffer).toString('utf8');
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (line === '') continue;
            const event = parseJson(line) as Obj;
            const type = String(event.type ?? '');
            const object = (isObject(event.object) ? event.object : {}) as Obj;
            failures = 0;
            if (type === 'BOOKMARK') {
              const rv = (object.metadata as Obj | undefined)?.resourceVersion;
              if (typeof rv === 'string' && rv) await onEvent('BOOKMARK', object);
              continue;
            } else if (type === 'ERROR') {
              const status = parseStatus(object);
              const error = errorFromResponse(status?.code ?? 500, status ?? JSON.stringify(object));
              if (WatchTooOldError.isInstance(error)) throw new WatchTooOldError(revision(), { cause: error, message: `watch revision ${revision()} is too old: ${status?.message ?? 'expired'}; relist and watch again` });
              throw error;
            } else if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
              await onEvent(type, object);
            }
          }
        }
      } catch (error) {
        if (watch.stopped) return;
        if (CalicoError.isInstance(error)) throw error;
        const translated = translateError(error, undefined, this.server);
        if (!translated.isRetryable || ++failures > retries) throw translated;
        await delay(Math.min(2000, 50 * 2 ** failures));
        continue;
      }
      if (watch.stopped) return;
      // The server ended the stream (timeout, restart): resume from the last revision seen.
    }
  }

  // ---- transactions

  async transact(conditions: TxnCondition[], operations: TxnOperation[], options?: TxnOptions): Promise<TxnResult> {
    return this.guard(undefined, async () => {
      if ((options?.listConditions?.length ?? 0) > 0) {
        throw new OperationNotSupportedError('the Kubernetes datastore has no list conditions (capabilities.listConditions is false)');
      }
      for (const c of conditions) validateKey(c.key);
      for (const o of operations) validateKey(o.key);
      this.checkOpen();
      const ids = new Set([...conditions.map((c) => keyId(c.key)), ...operations.map((o) => keyId(o.key))]);
      if (ids.size > 1) {
        throw new OperationNotSupportedError('the Kubernetes datastore has no multi-object transactions (capabilities.atomicTransactions is false): write one key at a time');
      }
      if (conditions.length > 1 || operations.length > 1) {
        throw new OperationNotSupportedError('a single-key transaction takes at most one condition and one operation on the Kubernetes datastore');
      }
      const condition = conditions[0];
      const op = operations[0];
      const key = (op?.key ?? condition?.key) as Key | undefined;
      if (!key) return { results: [], revision: '' };
      if (!op) {
        // Conditions only: check them.
        let current: KVPair | undefined;
        try {
          current = await this.getKV(key);
        } catch (error) {
          if (!ResourceNotFoundError.isInstance(error)) throw error;
        }
        if ('absent' in condition!) {
          if (current) throw new ResourceExistsError(keyIdentifier(key));
        } else if (!current || current.revision !== condition!.revision) throw new UpdateConflictError(keyIdentifier(key));
        return { results: [], revision: current?.revision ?? '' };
      }
      if (op.op === 'put') {
        let pair: KVPair;
        if (!condition) pair = await this.applyKV(key, op.value as ValueOf<Key>);
        else if ('absent' in condition) pair = await this.createKV(key, op.value as ValueOf<Key>);
        else {
          try {
            pair = await this.updateKV(key, op.value as ValueOf<Key>, condition.revision);
          } catch (error) {
            if (ResourceNotFoundError.isInstance(error)) throw new UpdateConflictError(keyIdentifier(key), { cause: error });
            throw error;
          }
        }
        return { results: [{ key, revision: pair.revision }], revision: pair.revision };
      }
      if (condition && 'absent' in condition) {
        let present = true;
        try {
          await this.getKV(key);
        } catch (error) {
          if (!ResourceNotFoundError.isInstance(error)) throw error;
          present = false;
        }
        if (present) throw new ResourceExistsError(keyIdentifier(key));
        return { results: [{ key }], revision: '' };
      }
      let deleted: KVPair;
      try {
        deleted = await this.deleteKV(key, condition?.revision);
      } catch (error) {
        if (condition && ResourceNotFoundError.isInstance(error)) throw new UpdateConflictError(keyIdentifier(key), { cause: error });
        throw error;
      }
      return { results: [{ key }], revision: deleted.revision };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watches]) w.stop();
    this.watches.clear();
    if (this.transportPromise) {
      try {
        (await this.transportPromise).close();
      } catch {
        // The transport never came up: nothing to release.
      }
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

