/**
 * Option and result types of the typed resource clients (`client.ipPools`, `client.nodes`, ...).
 */
import type { ResourceKind, ResourceOfKind } from '@libcalico-ts/api';

/** Options of `create`, `update` and `apply`. */
export interface WriteOptions {
  /**
   * Run defaulting, validation and every cross-object check, then return the resource that
   * would be written, without writing it (no `resourceVersion` on the result). Default false.
   */
  dryRun?: boolean;
}

/** Options of `get`. */
export interface GetOptions {
  /** Namespace of a namespaced kind (required for NetworkPolicy, NetworkSet, WorkloadEndpoint; forbidden otherwise). */
  namespace?: string;
}

/** Options of `delete`. */
export interface DeleteOptions {
  /** Namespace of a namespaced kind (required for those kinds; forbidden otherwise). */
  namespace?: string;
  /** Delete only if the stored resource still has this resourceVersion (`UpdateConflictError` otherwise). */
  resourceVersion?: string;
}

/** Options of `list`. Every filter is optional; they combine with AND. */
export interface ListOptions {
  /** Only this namespace (namespaced kinds); omitted: all namespaces. */
  namespace?: string;
  /** Only the resource with this exact name, or, with `prefix: true`, names starting with it. */
  name?: string;
  /** Treat `name` as a name prefix (libcalico-go `ListOptions.Prefix`). Default false. */
  prefix?: boolean;
  /**
   * A Calico selector over the resources' labels, e.g. `app == "web" && has(tier)`.
   * An invalid selector is a `ValidationError` naming `labelSelector`.
   */
  labelSelector?: string;
}

/** Options of `watch`. */
export interface ResourceWatchOptions {
  /** Only this namespace (namespaced kinds). */
  namespace?: string;
  /** Only this exact name, or a name prefix with `prefix: true`. */
  name?: string;
  /** Treat `name` as a prefix. */
  prefix?: boolean;
  /**
   * A Calico selector over the labels. A resource whose change makes it match is reported as
   * `added`, one that stops matching as `deleted` (like a Kubernetes label-selector watch).
   */
  labelSelector?: string;
  /**
   * Deliver changes made after this resourceVersion (a list's `resourceVersion` or an event's).
   * Omitted: the current resources are delivered first as `added` events, then the changes.
   * A compacted resourceVersion makes the iterator throw `WatchTooOldError`: list again.
   */
  resourceVersion?: string;
  /** Aborting it ends the watch (the iterator finishes normally). */
  signal?: AbortSignal;
}

/** The result of `list`. */
export interface ResourceList<R> {
  /** The matching resources, sorted by namespace then name. */
  items: R[];
  /** The datastore revision the list was read at: watch from it to see every later change. */
  resourceVersion: string;
}

/** One change seen by `watch`. */
export interface ResourceWatchEvent<R> {
  type: 'added' | 'modified' | 'deleted';
  /** The resource before the change: set for `deleted`, and for `modified` when the datastore knows it. */
  previous?: R;
  /** The resource after the change: set for `added` and `modified`. */
  current?: R;
  /** Resume a watch from here. */
  resourceVersion: string;
}

/**
 * A running watch: iterate it with `for await`. A failure (datastore lost, compacted revision)
 * is thrown from the iterator; it only ends normally after `stop()`, an aborted signal, or a
 * `break` out of the loop.
 */
export interface ResourceWatch<R> extends AsyncIterable<ResourceWatchEvent<R>> {
  stop(): void;
}

/** The user verbs every typed resource client offers. `R` is the resource type of kind `K`. */
export interface ResourceClient<K extends ResourceKind, R = ResourceOfKind<K>> {
  /** The kind this client handles. */
  readonly kind: K;
  /**
   * Creates a resource. Defaults are applied, the resource is validated, kind rules are checked,
   * and `metadata.uid` (a random UUID v4) and `metadata.creationTimestamp` (now, whole seconds,
   * UTC) are filled when absent. Returns the stored resource with its `resourceVersion`.
   *
   * @throws ValidationError (nothing written) for invalid input, a `resourceVersion` on the input
   *   or a broken kind rule; ResourceExistsError when the name is taken.
   */
  create(resource: R, options?: WriteOptions): Promise<R>;
  /**
   * Replaces a resource. The input must carry `metadata.resourceVersion` (compare-and-swap),
   * `metadata.uid` and `metadata.creationTimestamp`, as read by `get`/`list`.
   *
   * @throws ValidationError when one of those is missing or the input is invalid;
   *   UpdateConflictError when the resource changed since it was read;
   *   ResourceNotFoundError when it does not exist.
   */
  update(resource: R, options?: WriteOptions): Promise<R>;
  /**
   * Creates the resource, or updates it when it exists (calicoctl `apply`). With a
   * `resourceVersion` on the input the update is conditional on it; without, the current
   * version is read and the update retried on conflicts (up to 10 times). `uid` and
   * `creationTimestamp` are kept from the stored resource when the input lacks them.
   */
  apply(resource: R, options?: WriteOptions): Promise<R>;
  /**
   * Deletes a resource and returns it as it was.
   * @throws ResourceNotFoundError; UpdateConflictError when `resourceVersion` no longer matches.
   */
  delete(name: string, options?: DeleteOptions): Promise<R>;
  /** Reads one resource. @throws ResourceNotFoundError */
  get(name: string, options?: GetOptions): Promise<R>;
  /** Lists resources. */
  list(options?: ListOptions): Promise<ResourceList<R>>;
  /** Watches resources. */
  watch(options?: ResourceWatchOptions): ResourceWatch<R>;
}
