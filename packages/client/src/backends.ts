/**
 * Building a datastore from a calicoctl configuration. The two real backends are separate,
 * OPTIONAL peer packages, loaded with a dynamic `import()` only when chosen: an etcd user never
 * loads `@kubernetes/client-node`, a Kubernetes user never loads `etcd3`/gRPC (and need not
 * install them). Node built-ins are imported lazily too, so the rest of the client still works
 * in a browser on the memory datastore.
 */
import { OperationNotSupportedError, ValidationError, type FieldError } from '@libcalico-ts/api';
import type { Datastore } from '@libcalico-ts/datastore';
import { parse as parseYaml } from 'yaml';
import { createClient, type Client, type ClientOptions } from './client.js';
import {
  applyConfigDefaults,
  calicoAPIConfigFromEnv,
  defaultEnvironment,
  parseCalicoAPIConfig,
  type CalicoAPIConfig,
  type CalicoAPIConfigSpec,
  type Environment,
} from './config.js';

/** The package implementing each datastore type. */
export const BACKEND_PACKAGES = {
  etcdv3: '@libcalico-ts/datastore-etcd',
  kubernetes: '@libcalico-ts/datastore-kubernetes',
} as const;

type EtcdModule = typeof import('@libcalico-ts/datastore-etcd');
type KubernetesModule = typeof import('@libcalico-ts/datastore-kubernetes');

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

function missingBackend(type: keyof typeof BACKEND_PACKAGES, error: unknown): OperationNotSupportedError {
  const pkg = BACKEND_PACKAGES[type];
  const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return new OperationNotSupportedError(
    `the ${type} datastore needs the package ${pkg}, which could not be loaded (${detail}); install it: npm install ${pkg}`,
    { cause: error, identifier: pkg },
  );
}

/**
 * Loads the etcd backend package on demand.
 * @throws OperationNotSupportedError naming `@libcalico-ts/datastore-etcd` when it (or one of its dependencies) is not installed.
 */
export async function loadEtcdBackend(): Promise<EtcdModule> {
  try {
    return await import('@libcalico-ts/datastore-etcd');
  } catch (error) {
    if (isModuleNotFound(error)) throw missingBackend('etcdv3', error);
    throw error;
  }
}

/**
 * Loads the Kubernetes backend package on demand.
 * @throws OperationNotSupportedError naming `@libcalico-ts/datastore-kubernetes` when it is not installed.
 */
export async function loadKubernetesBackend(): Promise<KubernetesModule> {
  try {
    return await import('@libcalico-ts/datastore-kubernetes');
  } catch (error) {
    if (isModuleNotFound(error)) throw missingBackend('kubernetes', error);
    throw error;
  }
}

/** A datastore built from a configuration, with what must be released after closing it. */
export interface ConfiguredDatastore {
  datastore: Datastore;
  /** Removes temporary files (inline etcd certificates). Call after `datastore.close()`. */
  cleanup(): Promise<void>;
}

/** Options of the `createDatastoreFromConfig` / `createClientFrom*` functions. */
export interface ConfigOptions {
  /** Environment used for `HOME` (default kubeconfig path) (default `process.env`). */
  env?: Environment;
}

function specOf(config: CalicoAPIConfig | CalicoAPIConfigSpec): CalicoAPIConfigSpec {
  const maybe = config as CalicoAPIConfig;
  if (maybe && typeof maybe === 'object' && maybe.kind === 'CalicoAPIConfig') return applyConfigDefaults(maybe.spec ?? {});
  if (!config || typeof config !== 'object') {
    throw new ValidationError([{ name: '', value: config, reason: 'a CalicoAPIConfig or its spec is required' }], { identifier: 'CalicoAPIConfig' });
  }
  return applyConfigDefaults(config as CalicoAPIConfigSpec);
}

async function etcdEndpoints(spec: CalicoAPIConfigSpec): Promise<string[]> {
  const listed = (spec.etcdEndpoints ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (listed.length > 0 || !spec.etcdDiscoverySrv) return listed;
  const dns = await import('node:dns');
  const found: string[] = [];
  for (const [service, scheme] of [
    ['_etcd-client-ssl._tcp', 'https'],
    ['_etcd-client._tcp', 'http'],
  ] as const) {
    try {
      const records = await dns.promises.resolveSrv(`${service}.${spec.etcdDiscoverySrv}`);
      for (const r of records) found.push(`${scheme}://${r.name.replace(/\.$/, '')}:${r.port}`);
    } catch {
      // no records of this kind
    }
  }
  if (found.length === 0) {
    throw new ValidationError([{ name: 'spec.etcdDiscoverySrv', value: spec.etcdDiscoverySrv, reason: 'no _etcd-client(-ssl)._tcp SRV records found' }], {
      identifier: 'CalicoAPIConfig',
    });
  }
  return found;
}

async function createEtcd(spec: CalicoAPIConfigSpec): Promise<ConfiguredDatastore> {
  const fields: FieldError[] = [];
  if (spec.etcdUsername || spec.etcdPassword) {
    throw new OperationNotSupportedError('etcd user/password authentication (etcdUsername/etcdPassword) is not supported by @libcalico-ts/datastore-etcd: use client certificates', {
      identifier: 'CalicoAPIConfig',
    });
  }
  const endpoints = await etcdEndpoints(spec);
  if (endpoints.length === 0) fields.push({ name: 'spec.etcdEndpoints', value: spec.etcdEndpoints, reason: 'the etcdv3 datastore needs at least one endpoint (ETCD_ENDPOINTS)' });
  for (const endpoint of endpoints) {
    let url: URL | undefined;
    try {
      url = new URL(endpoint);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      fields.push({ name: 'spec.etcdEndpoints', value: endpoint, reason: 'each endpoint must be an http:// or https:// URL' });
    }
  }
  if (spec.etcdKeyFile && spec.etcdKey) fields.push({ name: 'spec.etcdKey', value: '(inline)', reason: 'set either etcdKey or etcdKeyFile, not both' });
  if (spec.etcdCertFile && spec.etcdCert) fields.push({ name: 'spec.etcdCert', value: '(inline)', reason: 'set either etcdCert or etcdCertFile, not both' });
  if (spec.etcdCACertFile && spec.etcdCACert) fields.push({ name: 'spec.etcdCACert', value: '(inline)', reason: 'set either etcdCACert or etcdCACertFile, not both' });
  if (fields.length > 0) throw new ValidationError(fields, { identifier: 'CalicoAPIConfig' });

  const backend = await loadEtcdBackend();
  let tempDir: string | undefined;
  const files = { keyFile: spec.etcdKeyFile, certFile: spec.etcdCertFile, caFile: spec.etcdCACertFile };
  if (spec.etcdKey || spec.etcdCert || spec.etcdCACert) {
    // The etcd datastore takes file paths: inline PEMs go to a private temporary directory.
    const [{ mkdtemp, writeFile }, { tmpdir }, { join }] = await Promise.all([import('node:fs/promises'), import('node:os'), import('node:path')]);
    tempDir = await mkdtemp(join(tmpdir(), 'libcalico-etcd-'));
    const write = async (name: string, text: string) => {
      const path = join(tempDir!, name);
      await writeFile(path, text, { mode: 0o600 });
      return path;
    };
    if (spec.etcdKey) files.keyFile = await write('key.pem', spec.etcdKey);
    if (spec.etcdCert) files.certFile = await write('cert.pem', spec.etcdCert);
    if (spec.etcdCACert) files.caFile = await write('ca.pem', spec.etcdCACert);
  }
  const cleanup = async () => {
    if (!tempDir) return;
    const { rm } = await import('node:fs/promises');
    await rm(tempDir, { recursive: true, force: true });
  };
  try {
    const datastore = backend.createEtcdDatastore({
      endpoints,
      ...(files.caFile ? { caFile: files.caFile } : {}),
      ...(files.certFile ? { certFile: files.certFile } : {}),
      ...(files.keyFile ? { keyFile: files.keyFile } : {}),
    });
    return { datastore, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

type Named<T> = { name?: string } & T;
type KubeconfigDoc = {
  clusters?: Named<{ cluster?: Record<string, unknown> }>[];
  users?: Named<{ user?: Record<string, unknown> }>[];
  contexts?: Named<{ context?: { cluster?: string; user?: string; namespace?: string } }>[];
  'current-context'?: string;
  [key: string]: unknown;
};

/** The kubeconfig-related options of the Kubernetes datastore for `spec`. */
async function kubernetesSource(spec: CalicoAPIConfigSpec, env: Environment): Promise<{ kubeconfig?: string; kubeconfigText?: string }> {
  const [{ existsSync, readFileSync }, path] = await Promise.all([import('node:fs'), import('node:path')]);
  let baseText: string | undefined;
  let basePath: string | undefined;
  if (spec.kubeconfigInline) {
    baseText = spec.kubeconfigInline;
  } else if (spec.kubeconfig) {
    const candidates = spec.kubeconfig.split(path.delimiter).filter((p) => p !== '');
    basePath = candidates.find((p) => existsSync(p));
    if (!basePath) {
      throw new ValidationError([{ name: 'spec.kubeconfig', value: spec.kubeconfig, reason: 'no such kubeconfig file' }], { identifier: 'CalicoAPIConfig' });
    }
  } else if (!spec.k8sAPIEndpoint && env.HOME) {
    // calicoctl's default: $HOME/.kube/config when it exists (else in-cluster / client defaults).
    const fallback = path.join(env.HOME, '.kube', 'config');
    if (existsSync(fallback)) basePath = fallback;
  }
  const overrides =
    spec.k8sAPIEndpoint || spec.k8sCAFile || spec.k8sCertFile || spec.k8sKeyFile || spec.k8sAPIToken || spec.k8sInsecureSkipTLSVerify || spec.k8sCurrentContext;
  if (!overrides) {
    if (baseText !== undefined) return { kubeconfigText: baseText };
    return basePath ? { kubeconfig: basePath } : {};
  }

  let doc: KubeconfigDoc = { apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [] };
  let baseDir = process.cwd();
  if (basePath) {
    baseText = readFileSync(basePath, 'utf8');
    baseDir = path.dirname(path.resolve(basePath));
  }
  if (baseText !== undefined) {
    let parsed: unknown;
    try {
      parsed = parseYaml(baseText);
    } catch (cause) {
      throw new ValidationError([{ name: spec.kubeconfigInline ? 'spec.kubeconfigInline' : 'spec.kubeconfig', value: basePath ?? '(inline)', reason: 'not a valid kubeconfig (YAML)' }], {
        identifier: 'CalicoAPIConfig',
        cause,
      });
    }
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) doc = parsed as KubeconfigDoc;
  }
  doc.clusters = Array.isArray(doc.clusters) ? doc.clusters : [];
  doc.users = Array.isArray(doc.users) ? doc.users : [];
  doc.contexts = Array.isArray(doc.contexts) ? doc.contexts : [];
  const contextName = spec.k8sCurrentContext || doc['current-context'] || 'calico';
  let context = doc.contexts.find((c) => c.name === contextName);
  if (!context) {
    if (spec.k8sCurrentContext && baseText !== undefined) {
      throw new ValidationError([{ name: 'spec.k8sCurrentContext', value: spec.k8sCurrentContext, reason: 'the kubeconfig has no such context' }], {
        identifier: 'CalicoAPIConfig',
      });
    }
    context = { name: contextName, context: { cluster: contextName, user: contextName } };
    doc.contexts.push(context);
  }
  const ctx = (context.context ??= {});
  ctx.cluster ||= contextName;
  ctx.user ||= contextName;
  let clusterEntry = doc.clusters.find((c) => c.name === ctx.cluster);
  if (!clusterEntry) doc.clusters.push((clusterEntry = { name: ctx.cluster, cluster: {} }));
  let userEntry = doc.users.find((u) => u.name === ctx.user);
  if (!userEntry) doc.users.push((userEntry = { name: ctx.user, user: {} }));
  const cluster = (clusterEntry.cluster ??= {});
  const user = (userEntry.user ??= {});
  // Relative file references in a kubeconfig are relative to the kubeconfig's directory.
  const absolute = (holder: Record<string, unknown>, key: string) => {
    const value = holder[key];
    if (typeof value === 'string' && value !== '' && !path.isAbsolute(value)) holder[key] = path.join(baseDir, value);
  };
  absolute(cluster, 'certificate-authority');
  absolute(user, 'client-certificate');
  absolute(user, 'client-key');
  absolute(user, 'tokenFile');
  if (spec.k8sAPIEndpoint) cluster.server = spec.k8sAPIEndpoint;
  if (spec.k8sCAFile) {
    cluster['certificate-authority'] = path.resolve(spec.k8sCAFile);
    delete cluster['certificate-authority-data'];
  }
  if (spec.k8sInsecureSkipTLSVerify) {
    cluster['insecure-skip-tls-verify'] = true;
    delete cluster['certificate-authority'];
    delete cluster['certificate-authority-data'];
  }
  if (spec.k8sCertFile) {
    user['client-certificate'] = path.resolve(spec.k8sCertFile);
    delete user['client-certificate-data'];
  }
  if (spec.k8sKeyFile) {
    user['client-key'] = path.resolve(spec.k8sKeyFile);
    delete user['client-key-data'];
  }
  if (spec.k8sAPIToken) {
    user.token = spec.k8sAPIToken;
    delete user.tokenFile;
  }
  if (typeof cluster.server !== 'string' || cluster.server === '') {
    throw new ValidationError([{ name: 'spec.k8sAPIEndpoint', value: spec.k8sAPIEndpoint, reason: 'no API server: set k8sAPIEndpoint (K8S_API_ENDPOINT) or a kubeconfig' }], {
      identifier: 'CalicoAPIConfig',
    });
  }
  doc['current-context'] = contextName;
  return { kubeconfigText: JSON.stringify(doc) };
}

async function createKubernetes(spec: CalicoAPIConfigSpec, env: Environment): Promise<ConfiguredDatastore> {
  const source = await kubernetesSource(spec, env);
  const backend = await loadKubernetesBackend();
  const datastore = backend.createKubernetesDatastore({
    ...source,
    ...(spec.calicoAPIGroup ? { apiGroup: spec.calicoAPIGroup as 'crd.projectcalico.org/v1' | 'projectcalico.org/v3' } : {}),
    ...(spec.usePodCIDR ? { usePodCIDR: true } : {}),
  });
  return { datastore, cleanup: async () => {} };
}

/**
 * Builds the datastore a calicoctl configuration describes, loading only the chosen backend
 * package. `etcdv3`: `etcdEndpoints` (or SRV discovery), TLS files or inline PEMs. `kubernetes`:
 * the kubeconfig (inline, file, or `$HOME/.kube/config`), with `k8sAPIEndpoint`, `k8sCAFile`,
 * `k8sCertFile`, `k8sKeyFile`, `k8sAPIToken`, `k8sInsecureSkipTLSVerify`, `k8sCurrentContext`
 * overriding it (or standing alone), `calicoAPIGroup` and `usePodCIDR`.
 *
 * @throws ValidationError for missing or malformed settings (field paths `spec.*`);
 *   OperationNotSupportedError when the backend package is not installed (its name is in the
 *   message) or a setting is not supported (etcd user/password).
 */
export async function createDatastoreFromConfig(config: CalicoAPIConfig | CalicoAPIConfigSpec, options: ConfigOptions = {}): Promise<ConfiguredDatastore> {
  const spec = specOf(config);
  if (spec.datastoreType === 'etcdv3') return createEtcd(spec);
  if (spec.datastoreType === 'kubernetes') return createKubernetes(spec, options.env ?? defaultEnvironment());
  throw new ValidationError([{ name: 'spec.datastoreType', value: spec.datastoreType, reason: 'must be "etcdv3" or "kubernetes"' }], { identifier: 'CalicoAPIConfig' });
}

/** Options of the `createClientFrom*` functions: the client options (without the datastore) plus {@link ConfigOptions}. */
export type ClientFromConfigOptions = Omit<ClientOptions, 'datastore' | 'closeDatastore'> & ConfigOptions;

/**
 * A client over the datastore a calicoctl configuration (object or spec) describes. The client
 * owns the datastore: `client.close()` closes it.
 * @throws like {@link createDatastoreFromConfig}.
 */
export async function createClientFromConfig(config: CalicoAPIConfig | CalicoAPIConfigSpec, options: ClientFromConfigOptions = {}): Promise<Client> {
  const { env, ...clientOptions } = options;
  const { datastore, cleanup } = await createDatastoreFromConfig(config, env ? { env } : {});
  const client = createClient({ ...clientOptions, datastore });
  const close = client.close;
  let closing: Promise<void> | undefined;
  return Object.assign(client, {
    close: () => (closing ??= close().finally(cleanup)),
  });
}

/**
 * A client configured from environment variables as calicoctl reads them: `DATASTORE_TYPE`
 * (`etcdv3` | `kubernetes`; unset: `etcdv3` when `ETCD_ENDPOINTS` is set, else `kubernetes`),
 * `ETCD_ENDPOINTS`, `ETCD_KEY_FILE`, `ETCD_CERT_FILE`, `ETCD_CA_CERT_FILE`, `ETCD_DISCOVERY_SRV`,
 * `KUBECONFIG`, `K8S_API_ENDPOINT`, `K8S_API_TOKEN`, `K8S_CA_FILE`, `K8S_CERT_FILE`,
 * `K8S_KEY_FILE`, `K8S_INSECURE_SKIP_TLS_VERIFY`, `K8S_CURRENT_CONTEXT`, `CALICO_API_GROUP`,
 * `USE_POD_CIDR` (each also as `CALICO_<NAME>`, which wins). Only the chosen backend is loaded.
 *
 * @example
 * ```ts
 * const client = await createClientFromEnv({ ETCD_ENDPOINTS: 'http://127.0.0.1:2379' });
 * const { items } = await client.ipPools.list();
 * await client.close();
 * ```
 */
export async function createClientFromEnv(env: Environment = defaultEnvironment(), options: Omit<ClientFromConfigOptions, 'env'> = {}): Promise<Client> {
  return createClientFromConfig(calicoAPIConfigFromEnv(env), { ...options, env });
}

/**
 * Reads and parses a calicoctl configuration file (YAML or JSON).
 * @throws ParseError / ValidationError as {@link parseCalicoAPIConfig}; ResourceNotFoundError-free:
 *   a missing file is a `ValidationError` naming the path.
 */
export async function loadCalicoAPIConfigFile(path: string): Promise<CalicoAPIConfig> {
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ValidationError([{ name: 'path', value: path, reason: `cannot read the config file: ${(cause as Error).message}` }], { identifier: path, cause });
  }
  return parseCalicoAPIConfig(text, path);
}

/**
 * A client configured from a calicoctl `CalicoAPIConfig` file (`calicoctl --config`).
 *
 * @example
 * ```ts
 * const client = await createClientFromConfigFile('/etc/calico/calicoctl.cfg');
 * ```
 */
export async function createClientFromConfigFile(path: string, options: ClientFromConfigOptions = {}): Promise<Client> {
  return createClientFromConfig(await loadCalicoAPIConfigFile(path), options);
}
