/**
 * The generic resource engine (libcalico-go `clientv3/resources.go`): one implementation of the
 * user verbs for every kind. Per-kind clients subclass it and override only the hooks
 * (`normalize`, `check`, `fromStorage`, `isVisible`) or a verb whose semantics differ
 * (IPPool and Node deletion, for example).
 */
import {
  API_VERSION,
  KINDS,
  ResourceExistsError,
  ResourceNotFoundError,
  UpdateConflictError,
  ValidationError,
  applyDefaults,
  validateResource,
  type ErrorIdentifier,
  type FieldError,
  type ObjectMeta,
  type ResourceKind,
  type ResourceOfKind,
} from '@libcalico-ts/api';
import type { Datastore, KVPair, ListInterface, ResourceKey, Watch, WatchEvent } from '@libcalico-ts/datastore';
import { parseSelector, type Selector } from '@libcalico-ts/selector';
import type {
  DeleteOptions,
  GetOptions,
  ListOptions,
  ResourceClient,
  ResourceList,
  ResourceWatch,
  ResourceWatchEvent,
  ResourceWatchOptions,
  WriteOptions,
} from './types.js';

/** What a resource store needs from its client. */
export interface StoreContext {
  readonly datastore: Datastore;
  /** Clock used for `creationTimestamp` (default `() => new Date()`). */
  readonly now: () => Date;
  /** UUID v4 generator used for `uid` (default `crypto.randomUUID`). */
  readonly randomUUID: () => string;
}

/** The write being prepared. */
export type WriteOperation = 'create' | 'update';

/** Passed to {@link ResourceStore.check}. */
export interface CheckContext<R> {
  readonly operation: WriteOperation;
  /** The stored resource (fetched on first call; undefined when absent). */
  previous(): Promise<R | undefined>;
}

const MAX_APPLY_RETRIES = 10;

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Formats a date as RFC 3339 UTC with whole seconds (`2026-03-01T10:00:00Z`). */
export function wholeSecondTimestamp(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastTimestamp = date.toISOString().replace(/\.\d+Z$/, 'Z');
  }
  return lastTimestamp;
}
let lastSecond = Number.NaN;
let lastTimestamp = '';

function compareNames(a: { metadata: ObjectMeta }, b: { metadata: ObjectMeta }): number {
  const na = a.metadata.namespace ?? '';
  const nb = b.metadata.namespace ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  const ma = a.metadata.name ?? '';
  const mb = b.metadata.name ?? '';
  return ma < mb ? -1 : ma > mb ? 1 : 0;
}

/**
 * The generic typed client of kind `K`. `client.ipPools`, `client.nodes`, ... are instances of
 * it or of a subclass adding kind rules; use it directly for a kind without a dedicated accessor:
 * `new ResourceStore('Tier', context)`.
 */
export class ResourceStore<K extends ResourceKind> implements ResourceClient<K> {
  constructor(
    readonly kind: K,
    protected readonly context: StoreContext,
  ) {}

  /** The datastore the store writes to. */
  get datastore(): Datastore {
    return this.context.datastore;
  }

  // ------------------------------------------------------------------------------------------
  // Hooks for per-kind clients

  /**
   * Kind-specific defaulting and local rules, after Calico's generic defaults
   * (`applyDefaults`) and before validation. Returns the resource to store; may throw
   * `ValidationError`.
   */
  protected normalize(resource: ResourceOfKind<K>, _operation: WriteOperation): ResourceOfKind<K> {
    return resource;
  }

  /** Cross-object rules, after validation and before the write. Throws to refuse the write. */
  protected async check(_resource: ResourceOfKind<K>, _context: CheckContext<ResourceOfKind<K>>): Promise<void> {}

  /** Read-side defaulting applied to every resource returned (get, list, watch, write results). */
  protected fromStorage(resource: ResourceOfKind<K>): ResourceOfKind<K> {
    return resource;
  }

  /**
   * Whether create fills an absent `metadata.uid` (default true, as Calico's client does).
   * Kinds whose objects get their uid elsewhere (WorkloadEndpoints on Kubernetes: the pod's) say no.
   */
  protected fillsUid(): boolean {
    return true;
  }

  /** False hides a stored resource from get/list/watch (soft-deleted rows). */
  protected isVisible(_resource: ResourceOfKind<K>): boolean {
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // Helpers

  /** The error identifier of `name` in `namespace`. */
  protected identifier(name: string, namespace?: string): ErrorIdentifier {
    return namespace ? { kind: this.kind, name, namespace } : { kind: this.kind, name };
  }

  /** Checks the namespace against the kind's scope and builds the datastore key. */
  protected keyFor(name: unknown, namespace: unknown): ResourceKey {
    const fields: FieldError[] = [];
    if (typeof name !== 'string' || name === '') fields.push({ name: 'metadata.name', value: name, reason: 'a name is required' });
    const namespaced = KINDS[this.kind].namespaced;
    if (namespaced && (typeof namespace !== 'string' || namespace === '')) {
      fields.push({ name: 'metadata.namespace', value: namespace, reason: `namespace is not specified on namespaced resource ${this.kind}` });
    } else if (!namespaced && namespace !== undefined && namespace !== null && namespace !== '') {
      fields.push({ name: 'metadata.namespace', value: namespace, reason: `${this.kind} is cluster-scoped: no namespace allowed` });
    }
    if (fields.length > 0) {
      throw new ValidationError(fields, { identifier: this.identifier(String(name ?? ''), typeof namespace === 'string' ? namespace : undefined) });
    }
    return namespaced
      ? { type: 'resource', kind: this.kind, name: name as string, namespace: namespace as string }
      : { type: 'resource', kind: this.kind, name: name as string };
  }

  /**
   * A copy of the input (top level and metadata; the caller's object is never modified, and
   * `applyDefaults` deep-copies the rest) with `kind`/`apiVersion` checked (and filled when absent).
   */
  protected envelope(resource: unknown): ResourceOfKind<K> {
    if (!isObj(resource)) {
      throw new ValidationError([{ name: '', value: resource, reason: `a ${this.kind} must be an object` }], { identifier: { kind: this.kind, name: '' } });
    }
    const copy: Obj = { ...resource };
    if (isObj(copy.metadata)) copy.metadata = { ...copy.metadata };
    const meta = isObj(copy.metadata) ? copy.metadata : {};
    const fields: FieldError[] = [];
    if (copy.kind === undefined || copy.kind === '') copy.kind = this.kind;
    else if (copy.kind !== this.kind) fields.push({ name: 'kind', value: copy.kind, reason: `this client handles ${this.kind} resources` });
    if (copy.apiVersion === undefined || copy.apiVersion === '') copy.apiVersion = API_VERSION;
    if (copy.metadata === undefined || copy.metadata === null) copy.metadata = {};
    else if (!isObj(copy.metadata)) fields.push({ name: 'metadata', value: copy.metadata, reason: 'metadata must be an object' });
    if (fields.length > 0) {
      const name = typeof meta.name === 'string' ? meta.name : '';
      throw new ValidationError(fields, { identifier: this.identifier(name, typeof meta.namespace === 'string' ? meta.namespace : undefined) });
    }
    return copy as unknown as ResourceOfKind<K>;
  }

  private resourceIdentifier(resource: ResourceOfKind<K>): ErrorIdentifier {
    const meta = resource.metadata;
    return this.identifier(meta.name ?? '', meta.namespace);
  }

  /**
   * Defaulting, validation and kind rules for a write; returns the resource to store.
   * Nothing is written here.
   */
  protected async prepare(input: unknown, operation: WriteOperation): Promise<ResourceOfKind<K>> {
    const resource = this.envelope(input);
    const meta = resource.metadata;
    const fields: FieldError[] = [];
    if (operation === 'create') {
      if ((meta.name === undefined || meta.name === '') && this.kind !== 'WorkloadEndpoint') {
        const generate = typeof meta.generateName === 'string' && meta.generateName !== '' ? ' (generateName is not supported)' : '';
        fields.push({ name: 'metadata.name', value: meta.name, reason: `field must be set for a create request${generate}` });
      }
      if (meta.resourceVersion !== undefined && meta.resourceVersion !== '') {
        fields.push({ name: 'metadata.resourceVersion', value: meta.resourceVersion, reason: 'field must not be set for a create request' });
      }
    } else {
      if (typeof meta.resourceVersion !== 'string' || meta.resourceVersion === '') {
        fields.push({ name: 'metadata.resourceVersion', value: meta.resourceVersion, reason: 'field must be set for an update request' });
      }
      if (typeof meta.creationTimestamp !== 'string' || meta.creationTimestamp === '') {
        fields.push({ name: 'metadata.creationTimestamp', value: meta.creationTimestamp, reason: 'field must be set for an update request' });
      }
      if (typeof meta.uid !== 'string' || meta.uid === '') {
        fields.push({ name: 'metadata.uid', value: meta.uid, reason: 'field must be set for an update request' });
      }
    }
    if (fields.length > 0) throw new ValidationError(fields, { identifier: this.resourceIdentifier(resource) });

    let out = applyDefaults(resource);
    out = this.normalize(out, operation);
    validateResource(out);
    if (operation === 'create') {
      const m = out.metadata;
      if (m.creationTimestamp === undefined || m.creationTimestamp === null || m.creationTimestamp === '') {
        m.creationTimestamp = wholeSecondTimestamp(this.context.now());
      }
      if ((m.uid === undefined || m.uid === '') && this.fillsUid()) m.uid = this.context.randomUUID();
    }
    const key = this.keyFor(out.metadata.name, out.metadata.namespace);
    let previous: Promise<ResourceOfKind<K> | undefined> | undefined;
    await this.check(out, {
      operation,
      previous: () =>
        (previous ??= this.datastore.getKV(key).then(
          (pair) => this.toResource(pair),
          (error: unknown) => {
            if (ResourceNotFoundError.isInstance(error)) return undefined;
            throw error;
          },
        )),
    });
    return out;
  }

  /** The value written to the datastore: the resource without `resourceVersion`. */
  protected storageValue(resource: ResourceOfKind<K>): ResourceOfKind<K> {
    const value = { ...resource, metadata: { ...resource.metadata } } as ResourceOfKind<K>;
    delete value.metadata.resourceVersion;
    return value;
  }

  /** Converts a datastore pair to the typed resource the user sees. */
  protected toResource(pair: KVPair<ResourceKey>): ResourceOfKind<K> {
    const value = pair.value as unknown as ResourceOfKind<K>;
    value.metadata = { ...value.metadata, resourceVersion: pair.revision };
    return this.fromStorage(value);
  }

  // ------------------------------------------------------------------------------------------
  // Verbs

  async create(resource: ResourceOfKind<K>, options: WriteOptions = {}): Promise<ResourceOfKind<K>> {
    const prepared = await this.prepare(resource, 'create');
    if (options.dryRun) return prepared;
    const key = this.keyFor(prepared.metadata.name, prepared.metadata.namespace);
    const pair = await this.datastore.createKV(key, this.storageValue(prepared) as never);
    return this.toResource(pair);
  }

  async update(resource: ResourceOfKind<K>, options: WriteOptions = {}): Promise<ResourceOfKind<K>> {
    const prepared = await this.prepare(resource, 'update');
    if (options.dryRun) return prepared;
    const key = this.keyFor(prepared.metadata.name, prepared.metadata.namespace);
    const pair = await this.datastore.updateKV(key, this.storageValue(prepared) as never, prepared.metadata.resourceVersion!);
    return this.toResource(pair);
  }

  async apply(resource: ResourceOfKind<K>, options: WriteOptions = {}): Promise<ResourceOfKind<K>> {
    const input = this.envelope(resource);
    const givenVersion = input.metadata.resourceVersion;
    for (let attempt = 0; ; attempt++) {
      const asCreate = { ...input, metadata: { ...input.metadata } } as ResourceOfKind<K>;
      delete asCreate.metadata.resourceVersion;
      try {
        return await this.create(asCreate, options);
      } catch (error) {
        if (!ResourceExistsError.isInstance(error)) throw error;
      }
      const name = asCreate.metadata.name;
      const current = await this.get(name!, { namespace: asCreate.metadata.namespace });
      const asUpdate = { ...input, metadata: { ...input.metadata } } as ResourceOfKind<K>;
      asUpdate.metadata.resourceVersion = givenVersion || current.metadata.resourceVersion;
      if (!asUpdate.metadata.uid) asUpdate.metadata.uid = current.metadata.uid;
      if (!asUpdate.metadata.creationTimestamp) asUpdate.metadata.creationTimestamp = current.metadata.creationTimestamp;
      try {
        return await this.update(asUpdate, options);
      } catch (error) {
        // Someone else wrote in between: retry unless the caller pinned a version.
        if (!UpdateConflictError.isInstance(error) || givenVersion || attempt + 1 >= MAX_APPLY_RETRIES) throw error;
      }
    }
  }

  async delete(name: string, options: DeleteOptions = {}): Promise<ResourceOfKind<K>> {
    const key = this.keyFor(name, options.namespace);
    const pair = await this.datastore.deleteKV(key, options.resourceVersion || undefined);
    return this.toResource(pair);
  }

  async get(name: string, options: GetOptions = {}): Promise<ResourceOfKind<K>> {
    const key = this.keyFor(name, options.namespace);
    const resource = this.toResource(await this.datastore.getKV(key));
    if (!this.isVisible(resource)) throw new ResourceNotFoundError(this.identifier(name, options.namespace));
    return resource;
  }

  /** The datastore list request and the client-side filters of `options`. */
  protected listRequest(options: ListOptions | ResourceWatchOptions): {
    list: Extract<ListInterface, { type: 'resource' }>;
    matches: (resource: ResourceOfKind<K>) => boolean;
  } {
    const fields: FieldError[] = [];
    const namespaced = KINDS[this.kind].namespaced;
    const namespace = options.namespace;
    if (namespace !== undefined && (typeof namespace !== 'string' || namespace === '')) {
      fields.push({ name: 'namespace', value: namespace, reason: 'must be a non-empty string when given' });
    } else if (namespace !== undefined && !namespaced) {
      fields.push({ name: 'namespace', value: namespace, reason: `${this.kind} is cluster-scoped: no namespace allowed` });
    }
    if (options.name !== undefined && typeof options.name !== 'string') fields.push({ name: 'name', value: options.name, reason: 'must be a string' });
    let selector: Selector | undefined;
    const labelSelector = options.labelSelector;
    if (labelSelector !== undefined && labelSelector !== '') {
      try {
        selector = parseSelector(labelSelector);
      } catch (error) {
        fields.push({ name: 'labelSelector', value: labelSelector, reason: error instanceof Error ? error.message : String(error) });
      }
    }
    if (fields.length > 0) throw new ValidationError(fields, { identifier: `${this.kind} list` });
    const name = options.name === '' ? undefined : options.name;
    const prefix = options.prefix === true && name !== undefined;
    const list: Extract<ListInterface, { type: 'resource' }> = { type: 'resource', kind: this.kind };
    if (namespace !== undefined) (list as { namespace?: string }).namespace = namespace;
    if (name !== undefined && !prefix) (list as { name?: string }).name = name;
    const matches = (resource: ResourceOfKind<K>): boolean =>
      this.isVisible(resource) &&
      (!prefix || (resource.metadata.name ?? '').startsWith(name!)) &&
      (selector === undefined || selector.matches(resource.metadata.labels ?? {}));
    return { list, matches };
  }

  async list(options: ListOptions = {}): Promise<ResourceList<ResourceOfKind<K>>> {
    const { list, matches } = this.listRequest(options);
    const result = await this.datastore.listKV(list);
    const items = result.items.map((pair) => this.toResource(pair)).filter(matches);
    items.sort(compareNames);
    return { items, resourceVersion: result.revision };
  }

  watch(options: ResourceWatchOptions = {}): ResourceWatch<ResourceOfKind<K>> {
    const { list, matches } = this.listRequest(options);
    const inner: Watch<ResourceKey> = this.datastore.watchKV(list, {
      ...(options.resourceVersion ? { revision: options.resourceVersion } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const convert = (event: WatchEvent<ResourceKey>): ResourceWatchEvent<ResourceOfKind<K>> | undefined => {
      const previous = event.previous ? this.toResource(event.previous) : undefined;
      const current = event.current ? this.toResource(event.current) : undefined;
      const before = previous !== undefined && matches(previous);
      const after = current !== undefined && matches(current);
      if (!before && !after) return undefined;
      // A filter transition is reported like a Kubernetes selector watch: entering = added, leaving = deleted.
      if (event.type === 'modified' && !before && previous !== undefined) return { type: 'added', current, resourceVersion: event.revision };
      if (event.type === 'modified' && !after) return { type: 'deleted', previous, resourceVersion: event.revision };
      const out: ResourceWatchEvent<ResourceOfKind<K>> = { type: event.type, resourceVersion: event.revision };
      if (previous !== undefined) out.previous = previous;
      if (current !== undefined) out.current = current;
      return out;
    };
    return {
      stop: () => inner.stop(),
      [Symbol.asyncIterator]: async function* () {
        try {
          for await (const event of inner) {
            const out = convert(event);
            if (out) yield out;
          }
        } finally {
          inner.stop();
        }
      },
    };
  }
}
