/**
 * The error classes every libcalico-ts package throws.
 *
 * All of them extend {@link CalicoError}. Use the static `isInstance()` rather than
 * `instanceof` when errors may cross copies of the package (ESM and CommonJS builds
 * loaded side by side, two installed versions): it checks a `Symbol.for` marker.
 *
 * @example
 * ```ts
 * try {
 *   await client.ipPools.get('missing');
 * } catch (error) {
 *   if (ResourceNotFoundError.isInstance(error)) console.log(error.identifier);
 * }
 * ```
 */

const MARKER = Symbol.for('@libcalico-ts/error');

function markerFor(name: string): symbol {
  return Symbol.for(`@libcalico-ts/error/${name}`);
}

/**
 * The stable name of an error class: its own static `errorName` when it declares one, else its
 * constructor name. Classes declare `errorName` so that minifiers, which rename classes (and do
 * so differently in each bundle), cannot break `name` or `isInstance`. Subclasses in other
 * packages should declare it too: `static override readonly errorName = 'MyError';`.
 */
function errorNameOf(ctor: unknown): string | undefined {
  if (typeof ctor !== 'function') return undefined;
  const own = Object.prototype.hasOwnProperty.call(ctor, 'errorName') ? (ctor as { errorName?: unknown }).errorName : undefined;
  return typeof own === 'string' ? own : (ctor as { name?: string }).name || undefined;
}

/** Identifies the object an error is about: a resource (kind/namespace/name) or a datastore key. */
export type ErrorIdentifier =
  | { kind: string; name: string; namespace?: string }
  | { key: string }
  | string;

/** Options common to every {@link CalicoError}. */
export interface CalicoErrorOptions {
  /** The underlying error (kept as `cause`). */
  cause?: unknown;
  /** What the error is about. */
  identifier?: ErrorIdentifier;
}

/** Base class of every error thrown by libcalico-ts. */
export class CalicoError extends Error {
  /** Marker shared by every copy of this package, see {@link CalicoError.isInstance}. */
  readonly [MARKER] = true;
  /** What the error is about, when known. */
  readonly identifier?: ErrorIdentifier;
  /** Whether repeating the same operation may succeed. */
  readonly isRetryable: boolean = false;

  /** The class's stable name (see the note on minification in {@link CalicoError.isInstance}). */
  static readonly errorName: string = 'CalicoError';

  constructor(message: string, options: CalicoErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = errorNameOf(new.target) ?? 'CalicoError';
    if (options.identifier !== undefined) this.identifier = options.identifier;
    // Every class in the chain marks the instance, so `isInstance` works for base classes too.
    let proto: object | null = new.target.prototype;
    while (proto && proto !== Error.prototype) {
      const name = errorNameOf((proto as { constructor?: unknown }).constructor);
      if (name && !Object.prototype.hasOwnProperty.call(this, markerFor(name))) {
        Object.defineProperty(this, markerFor(name), { value: true });
      }
      proto = Object.getPrototypeOf(proto);
    }
  }

  /**
   * True when `error` is a CalicoError of this class (or a subclass), from any copy of the
   * package (ESM and CommonJS builds side by side, separate bundles, minified bundles). It checks
   * a `Symbol.for` marker named after the class's `errorName`.
   */
  static isInstance(error: unknown): boolean {
    if (typeof error !== 'object' || error === null) return false;
    if (this === CalicoError) return (error as Record<symbol, unknown>)[MARKER] === true;
    const name = errorNameOf(this);
    return name !== undefined && (error as Record<symbol, unknown>)[markerFor(name)] === true;
  }
}

/** Formats an identifier for messages: `IPPool(default-pool)`, `key /calico/ipam/v2/config`. */
export function describeIdentifier(identifier: ErrorIdentifier | undefined): string {
  if (identifier === undefined) return '';
  if (typeof identifier === 'string') return identifier;
  if ('key' in identifier) return `key ${identifier.key}`;
  return identifier.namespace
    ? `${identifier.kind}(${identifier.namespace}/${identifier.name})`
    : `${identifier.kind}(${identifier.name})`;
}

/** The resource or key does not exist. (libcalico-go: ErrorResourceDoesNotExist) */
export class ResourceNotFoundError extends CalicoError {
  static override readonly errorName: string = 'ResourceNotFoundError';
  constructor(identifier: ErrorIdentifier, options: Omit<CalicoErrorOptions, 'identifier'> & { message?: string } = {}) {
    super(options.message ?? `resource does not exist: ${describeIdentifier(identifier)}`, { ...options, identifier });
  }
}

/** A create found the resource or key already present. (libcalico-go: ErrorResourceAlreadyExists) */
export class ResourceExistsError extends CalicoError {
  static override readonly errorName: string = 'ResourceExistsError';
  constructor(identifier: ErrorIdentifier, options: Omit<CalicoErrorOptions, 'identifier'> & { message?: string } = {}) {
    super(options.message ?? `resource already exists: ${describeIdentifier(identifier)}`, { ...options, identifier });
  }
}

/** A compare-and-swap failed: the stored revision is not the one given. (libcalico-go: ErrorResourceUpdateConflict) */
export class UpdateConflictError extends CalicoError {
  static override readonly errorName: string = 'UpdateConflictError';
  override readonly isRetryable = true;
  constructor(identifier: ErrorIdentifier, options: Omit<CalicoErrorOptions, 'identifier'> & { message?: string } = {}) {
    super(
      options.message ?? `update conflict: ${describeIdentifier(identifier)} was modified by another writer`,
      { ...options, identifier },
    );
  }
}

/** One problem found by validation. */
export interface FieldError {
  /** Field path, e.g. `spec.cidr` or `spec.bgp.ipv4Address`. */
  name: string;
  /** The offending value (as given). */
  value: unknown;
  /** Why it was rejected. */
  reason: string;
}

/** Input was rejected; `fields` lists every problem found, not only the first. */
export class ValidationError extends CalicoError {
  static override readonly errorName: string = 'ValidationError';
  readonly fields: FieldError[];
  constructor(
    fields: FieldError[],
    options: CalicoErrorOptions & { message?: string } = {},
  ) {
    const where = describeIdentifier(options.identifier);
    const detail = fields.map((f) => `${f.name}: ${f.reason}`).join('; ');
    super(options.message ?? `validation failed${where ? ` for ${where}` : ''}: ${detail}`, options);
    this.fields = fields;
  }
}

/** The operation is not supported (by this backend, for this kind, in this mode). */
export class OperationNotSupportedError extends CalicoError {
  static override readonly errorName: string = 'OperationNotSupportedError';
}

/** A datastore failed in a way not covered by a more specific class (e.g. a corrupt stored value). */
export class DatastoreError extends CalicoError {
  static override readonly errorName: string = 'DatastoreError';
}

/** The datastore cannot be reached (connection refused, timeout, no leader). Usually retryable. */
export class DatastoreUnavailableError extends DatastoreError {
  static override readonly errorName: string = 'DatastoreUnavailableError';
  override readonly isRetryable: boolean;
  constructor(message: string, options: CalicoErrorOptions & { isRetryable?: boolean } = {}) {
    super(message, options);
    this.isRetryable = options.isRetryable ?? true;
  }
}

/** A watch asked for a revision the datastore has compacted away (etcd compaction, Kubernetes 410 Gone). Relist. */
export class WatchTooOldError extends DatastoreError {
  static override readonly errorName: string = 'WatchTooOldError';
  constructor(revision: string, options: CalicoErrorOptions & { message?: string } = {}) {
    super(options.message ?? `watch revision ${revision} is too old (compacted); relist and watch again`, options);
  }
}

/** Text could not be parsed (YAML, JSON, a selector, a CIDR, a CNI config...). */
export class ParseError extends CalicoError {
  static override readonly errorName: string = 'ParseError';
  /** Zero-based character offset of the problem, when known. */
  readonly position?: number;
  /** One-based line of the problem, when known (multi-line inputs such as manifests). */
  readonly line?: number;
  /** One-based column of the problem, when known. */
  readonly column?: number;
  constructor(message: string, options: CalicoErrorOptions & { position?: number; line?: number; column?: number } = {}) {
    super(message, options);
    if (options.position !== undefined) this.position = options.position;
    if (options.line !== undefined) this.line = options.line;
    if (options.column !== undefined) this.column = options.column;
  }
}
