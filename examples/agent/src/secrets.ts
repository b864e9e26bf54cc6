/**
 * Where the agent gets BGP passwords from, as calico-node's confd does.
 *
 * A BGPPeer's `spec.password.secretKeyRef` (and BGPConfiguration `default`'s
 * `spec.nodeMeshPassword.secretKeyRef`) names a key of a Kubernetes Secret in the agent's namespace
 * (`NAMESPACE`, default `kube-system`). The renderer in `@libcalico-ts/bgp` takes a synchronous
 * lookup, so the agent keeps a small cache of the values it needs and fills it before rendering
 * ({@link PasswordResolver}): render once recording which secrets are asked for, read the missing or
 * stale ones, and render again when something changed. Only the secrets the rendered node actually
 * uses are read, as upstream.
 *
 * Two sources:
 * - {@link DirectorySecretSource} (`--secrets-dir DIR`): files `DIR/<secret-name>/<key>`, the
 *   layout of a Kubernetes Secret volume mount (one directory per Secret, mounted from the agent's
 *   namespace; the namespace is therefore not part of the path);
 * - `KubernetesSecretSource` (secrets-kubernetes.ts): a GET of the Secret from the Kubernetes API,
 *   in Kubernetes datastore mode.
 *
 * Secret values are never logged, at any level, nor put into an error message: only the
 * Secret's namespace, name and key are.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecretLookup } from '@libcalico-ts/bgp';
import type { Logger } from './log.js';

/** One Secret key the BIRD configuration needs. */
export interface SecretRef {
  namespace: string;
  name: string;
  key: string;
}

/**
 * What a source knows about one Secret key: its value when it could be read, and a problem when
 * the last read failed. After a transient failure (`unreadable`) the previous value is kept, so a
 * short API outage does not drop a password and reset the BGP session; a Secret or key that does
 * not exist (`missing`) or a bad name (`invalid`) has no value.
 */
export interface SecretState {
  value?: string;
  problem?: { kind: 'missing' | 'unreadable' | 'invalid'; reason: string };
}

/** A source of Secret values with a cache. */
export interface SecretSource {
  /** `directory DIR` or `kubernetes SERVER` (for logs). */
  readonly description: string;
  /**
   * Reads the refs that were never read or whose last read is older than `maxAgeMs` (default:
   * the source's own refresh age; 0 reads them all again). Never throws for one Secret: its
   * failure is recorded in its state. Resolves true when a cached value appeared, changed or
   * disappeared.
   */
  refresh(refs: readonly SecretRef[], options?: { maxAgeMs?: number }): Promise<boolean>;
  /** The cached state of `ref`; undefined when it was never read. */
  get(ref: SecretRef): SecretState | undefined;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}

/** `namespace/name/key`: the cache key of a ref (names and keys cannot contain `/`). */
export function refId(ref: SecretRef): string {
  return `${ref.namespace}/${ref.name}/${ref.key}`;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/**
 * Why `ref` cannot name a Kubernetes Secret key (Secret names are DNS subdomains, namespaces DNS
 * labels, keys `[-._a-zA-Z0-9]+` other than `.` and `..`), or undefined when it can. Checked
 * before any file or URL is built from it, so a BGPPeer cannot make the agent read outside the
 * secrets directory.
 */
export function invalidRefReason(ref: SecretRef): string | undefined {
  if (!ref.name || ref.name.length > 253 || !DNS_SUBDOMAIN.test(ref.name)) return 'the Secret name is not a DNS subdomain name';
  if (!ref.key || ref.key.length > 253 || !SECRET_KEY.test(ref.key) || ref.key === '.' || ref.key === '..') return 'the key is not a valid Secret key';
  if (!ref.namespace || ref.namespace.length > 63 || !DNS_LABEL.test(ref.namespace)) return 'the namespace is not a DNS label';
  return undefined;
}

/**
 * Why `value` cannot be written into a BIRD `password "...";` statement, or undefined when it can.
 * BIRD strings have no escapes, so a double quote, a backslash or a control character (a line
 * break above all, e.g. a file written with `echo`) would end the string or the statement early
 * and could inject configuration. Such values are refused, not repaired. The reason never quotes
 * the value.
 */
export function unsafePasswordReason(value: string): string | undefined {
  if (value === '') return 'the value is empty';
  if (/[\r\n]/.test(value)) return 'the value contains a line break (a file written with a trailing newline?)';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'the value contains a control character';
  if (value.includes('"')) return 'the value contains a double quote, which a BIRD string cannot hold';
  if (value.includes('\\')) return 'the value contains a backslash, which a BIRD string cannot hold';
  return undefined;
}

/** The largest Secret file read (Kubernetes Secrets are at most 1 MiB). */
const MAX_SECRET_FILE = 1024 * 1024;

/** Options of {@link DirectorySecretSource}. */
export interface DirectorySecretSourceOptions {
  /** Reads of a ref younger than this are served from the cache (ms, default 0: files are cheap, always re-read). */
  maxAgeMs?: number;
  logger?: Logger;
}

/**
 * Secrets from a directory laid out as Kubernetes mounts a Secret volume: `DIR/<secret-name>/<key>`
 * (the key files may be symlinks, as the kubelet makes them). The file's bytes are the value,
 * unchanged (UTF-8). A missing file is `missing`; a file that cannot be read (permissions, a
 * directory, larger than 1 MiB) is `unreadable` and keeps the previous value. The namespace of a
 * ref is not part of the path: the directory holds the agent's own namespace's Secrets.
 */
export class DirectorySecretSource implements SecretSource {
  readonly description: string;
  private readonly cache = new Map<string, SecretState & { at: number }>();

  constructor(
    readonly directory: string,
    private readonly options: DirectorySecretSourceOptions = {},
  ) {
    this.description = `directory ${directory}`;
  }

  get(ref: SecretRef): SecretState | undefined {
    const entry = this.cache.get(refId(ref));
    return entry && { ...(entry.value !== undefined ? { value: entry.value } : {}), ...(entry.problem ? { problem: entry.problem } : {}) };
  }

  async refresh(refs: readonly SecretRef[], options: { maxAgeMs?: number } = {}): Promise<boolean> {
    const maxAge = options.maxAgeMs ?? this.options.maxAgeMs ?? 0;
    const now = Date.now();
    let changed = false;
    for (const ref of refs) {
      const id = refId(ref);
      const previous = this.cache.get(id);
      if (previous && maxAge > 0 && now - previous.at < maxAge) continue;
      const next = await this.read(ref, previous?.value);
      if (next.value !== previous?.value || (previous === undefined && next.value !== undefined)) changed = true;
      this.cache.set(id, { ...next, at: now });
    }
    return changed;
  }

  private async read(ref: SecretRef, previous: string | undefined): Promise<SecretState> {
    const invalid = invalidRefReason(ref);
    if (invalid) return { problem: { kind: 'invalid', reason: invalid } };
    const path = join(this.directory, ref.name, ref.key);
    this.options.logger?.debug('reading BGP password secret', { source: 'directory', secret: ref.name, key: ref.key });
    try {
      const info = await stat(path);
      if (!info.isFile()) return keep(previous, { kind: 'unreadable', reason: `${path} is not a regular file` });
      if (info.size > MAX_SECRET_FILE) return keep(previous, { kind: 'unreadable', reason: `${path} is larger than 1 MiB` });
      return { value: await readFile(path, 'utf8') };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { problem: { kind: 'missing', reason: `no file ${path}` } };
      return keep(previous, { kind: 'unreadable', reason: `cannot read ${path} (${code ?? 'error'})` });
    }
  }

  async close(): Promise<void> {
    this.cache.clear();
  }
}

function keep(previous: string | undefined, problem: NonNullable<SecretState['problem']>): SecretState {
  return previous !== undefined ? { value: previous, problem } : { problem };
}

/** Options of {@link PasswordResolver}. */
export interface PasswordResolverOptions {
  /** Where values come from; undefined: none (referenced passwords are left out, with a warning). */
  source: SecretSource | undefined;
  logger: Logger;
  /** The namespace given to the renderer (`NAMESPACE`, default `kube-system`). */
  namespace?: string;
  /** Cached values younger than this are not read again before a render (ms, default 30,000). */
  maxAgeMs?: number;
}

/**
 * Connects a {@link SecretSource} to the synchronous `secrets` lookup of `renderBirdConfig`, and
 * reports problems: each ref's problem is logged (warning) when it appears or changes, and once
 * more (info) when it is gone; only the namespace, name and key are logged.
 *
 * @example
 * ```ts
 * const passwords = new PasswordResolver({ source: new DirectorySecretSource('/etc/bgp-secrets'), logger });
 * const files = await passwords.render((secrets) => renderBirdConfig({ ...options, secrets }));
 * ```
 */
export class PasswordResolver {
  private readonly source: SecretSource | undefined;
  private readonly log: Logger;
  private readonly maxAgeMs: number;
  /** The namespace to pass to the renderer as `environment.NAMESPACE`. */
  readonly namespace: string;
  private used = new Map<string, SecretRef>();
  private readonly reported = new Map<string, string>();

  constructor(options: PasswordResolverOptions) {
    this.source = options.source;
    this.log = options.logger;
    this.namespace = options.namespace || 'kube-system';
    this.maxAgeMs = options.maxAgeMs ?? 30_000;
  }

  /** The refs the last render asked for. */
  get refs(): SecretRef[] {
    return [...this.used.values()];
  }

  /**
   * Runs `render` with a lookup served from the cache; when it asked for secrets that are not
   * cached (or are stale), reads them and runs `render` again. Returns the last render's result.
   * Errors of `render` pass through.
   */
  async render<T>(render: (secrets: SecretLookup) => T): Promise<T> {
    const asked = new Map<string, SecretRef>();
    const lookup: SecretLookup = (name, key, namespace) => {
      const ref = { name, key, namespace };
      asked.set(refId(ref), ref);
      return this.lookup(ref);
    };
    let result = render(lookup);
    if (this.source && asked.size > 0) {
      const changed = await this.source.refresh([...asked.values()], { maxAgeMs: this.maxAgeMs });
      if (changed) result = render(lookup);
    }
    this.used = asked;
    this.report();
    return result;
  }

  /**
   * Reads every secret the last render used again (ignoring the cache age). Resolves true when a
   * value changed: the caller should render again. Never throws.
   */
  async refresh(): Promise<boolean> {
    if (!this.source || this.used.size === 0) return false;
    const changed = await this.source.refresh(this.refs, { maxAgeMs: 0 });
    this.report();
    return changed;
  }

  private lookup(ref: SecretRef): string | undefined {
    const value = this.source?.get(ref)?.value;
    if (value === undefined) return undefined;
    return unsafePasswordReason(value) ? undefined : value;
  }

  /** The current problem of `ref`, as logged. */
  problemOf(ref: SecretRef): string | undefined {
    if (!this.source) return 'no secret source (give --secrets-dir, or use the Kubernetes datastore); the password line is left out';
    const state = this.source.get(ref);
    if (!state) return 'not read yet';
    if (state.value !== undefined) {
      const unsafe = unsafePasswordReason(state.value);
      if (unsafe) return `not usable as a BGP password: ${unsafe}; the password line is left out`;
    }
    if (state.problem) {
      return state.value !== undefined
        ? `${state.problem.reason}; keeping the value read before`
        : `${state.problem.reason}; the password line is left out`;
    }
    return undefined;
  }

  private report(): void {
    for (const [id, ref] of this.used) {
      const problem = this.problemOf(ref);
      const before = this.reported.get(id);
      if (problem === before) continue;
      const fields = { namespace: ref.namespace, secret: ref.name, key: ref.key };
      if (problem) {
        this.reported.set(id, problem);
        this.log.warn(`BGP password secret: ${problem}`, fields);
      } else {
        this.reported.delete(id);
        this.log.info('BGP password secret readable again', fields);
      }
    }
  }
}
