/**
 * Builds the datastore a plugin talks to (reference cni.md §2.2: NetConf fields override the
 * environment). The gRPC etcd and Kubernetes backends are imported dynamically, so an etcd run
 * never loads the Kubernetes client and vice versa; the default etcd backend, the JSON-gateway
 * datastore of `@libcalico-ts/datastore-etcd/gateway`, is small and loads no gRPC: it is bundled.
 */
import type { Datastore } from '@libcalico-ts/datastore';
import { createEtcdGatewayDatastore } from '@libcalico-ts/datastore-etcd/gateway';
import { CniCode, CniError } from './cni.js';
import type { CalicoNetConf } from './netconf.js';

/** What the plugin needs from its datastore and, in Kubernetes mode, the API server. */
export interface Backend {
  datastore: Datastore;
  type: 'etcdv3' | 'kubernetes';
  /** Kubernetes API reads (Kubernetes datastore, or `policy.type: k8s` with a kubeconfig). */
  kube?: KubeReader;
}

/** The two Kubernetes reads the CNI plugin needs. */
export interface KubeReader {
  getPod(namespace: string, name: string): Promise<Record<string, unknown>>;
  getNamespace(name: string): Promise<Record<string, unknown>>;
  getNode(name: string): Promise<Record<string, unknown>>;
}

/** The datastore type per §2.2: NetConf, then `DATASTORE_TYPE`, then etcdv3 unless only a kubeconfig is configured. */
export function datastoreTypeOf(conf: CalicoNetConf, env: NodeJS.ProcessEnv = process.env): 'etcdv3' | 'kubernetes' {
  const type = conf.datastoreType || env.DATASTORE_TYPE || '';
  if (type === 'etcdv3' || type === 'kubernetes') return type;
  if (type !== '') throw new CniError(CniCode.Calico, `error creating calico client: unknown datastore type: ${type}`);
  const etcd = conf.etcdEndpoints || env.ETCD_ENDPOINTS;
  const kube = conf.kubernetes.kubeconfig || env.KUBECONFIG;
  return !etcd && kube ? 'kubernetes' : 'etcdv3';
}

function kubeconfigOf(conf: CalicoNetConf, env: NodeJS.ProcessEnv): string | undefined {
  return conf.kubernetes.kubeconfig || env.KUBECONFIG || undefined;
}

/**
 * Keeps backends open across invocations (the CNI server): {@link openBackend} returns the cached
 * backend for the same datastore settings, whose `datastore.close()` does nothing.
 */
export class BackendCache {
  private readonly backends = new Map<string, Promise<Backend>>();

  /** @internal */
  get(key: string, open: () => Promise<Backend>): Promise<Backend> {
    let entry = this.backends.get(key);
    if (entry === undefined) {
      entry = open().then(keepOpen);
      entry.catch(() => this.backends.delete(key));
      this.backends.set(key, entry);
    }
    return entry;
  }

  /** Closes every cached backend. */
  async close(): Promise<void> {
    const all = [...this.backends.values()];
    this.backends.clear();
    for (const entry of await Promise.allSettled(all)) if (entry.status === 'fulfilled') await (entry.value.datastore as Datastore & { [REAL_CLOSE]?: () => Promise<void> })[REAL_CLOSE]?.();
  }
}

const REAL_CLOSE = Symbol('realClose');

function keepOpen(backend: Backend): Backend {
  const real = backend.datastore;
  const shared = new Proxy(real, {
    get(target, property) {
      if (property === 'close') return async () => undefined;
      if (property === REAL_CLOSE) return () => target.close();
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { ...backend, datastore: shared };
}

let cache: BackendCache | undefined;

/** Makes {@link openBackend} use `next` (undefined: open a new backend per call, the default). */
export function useBackendCache(next: BackendCache | undefined): void {
  cache = next;
}

/**
 * Builds the backend. Nothing is contacted yet. With a {@link BackendCache} in use, the same
 * datastore settings (and the variables they come from) share one open backend.
 */
export async function openBackend(conf: CalicoNetConf, env: NodeJS.ProcessEnv = process.env): Promise<Backend> {
  if (cache === undefined) return openNewBackend(conf, env);
  const key = JSON.stringify([
    datastoreTypeOf(conf, env),
    conf.etcdEndpoints, conf.etcdScheme, conf.etcdCaCertFile, conf.etcdCertFile, conf.etcdKeyFile, conf.etcdClient,
    conf.kubernetes.kubeconfig, conf.kubernetes.k8sApiRoot, conf.calicoApiGroup, conf.policy.type,
    ...['DATASTORE_TYPE', 'ETCD_ENDPOINTS', 'ETCD_SCHEME', 'ETCD_CA_CERT_FILE', 'ETCD_CERT_FILE', 'ETCD_KEY_FILE', 'KUBECONFIG'].map((name) => env[name] ?? ''),
  ]);
  return cache.get(key, () => openNewBackend(conf, env));
}

async function openNewBackend(conf: CalicoNetConf, env: NodeJS.ProcessEnv): Promise<Backend> {
  const type = datastoreTypeOf(conf, env);
  try {
    if (type === 'etcdv3') {
      const endpoints = (conf.etcdEndpoints || env.ETCD_ENDPOINTS || 'http://127.0.0.1:2379')
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean)
        .map((e) => (/^[a-z]+:\/\//.test(e) ? e : `${conf.etcdScheme || env.ETCD_SCHEME || 'http'}://${e}`));
      const tls = {
        ...((conf.etcdCaCertFile || env.ETCD_CA_CERT_FILE) ? { caFile: conf.etcdCaCertFile || env.ETCD_CA_CERT_FILE } : {}),
        ...((conf.etcdCertFile || env.ETCD_CERT_FILE) ? { certFile: conf.etcdCertFile || env.ETCD_CERT_FILE } : {}),
        ...((conf.etcdKeyFile || env.ETCD_KEY_FILE) ? { keyFile: conf.etcdKeyFile || env.ETCD_KEY_FILE } : {}),
      };
      let datastore: Datastore;
      if (conf.etcdClient === 'grpc') {
        const { createEtcdDatastore } = await import('@libcalico-ts/datastore-etcd');
        datastore = createEtcdDatastore({ endpoints, ...tls });
      } else {
        datastore = createEtcdGatewayDatastore({ endpoints, ...tls });
      }
      const backend: Backend = { datastore, type };
      const kubeconfig = kubeconfigOf(conf, env);
      if (conf.policy.type === 'k8s' && kubeconfig) backend.kube = await kubeReader(kubeconfig, conf.kubernetes.k8sApiRoot);
      return backend;
    }
    const kubeconfig = kubeconfigOf(conf, env);
    const { createKubernetesDatastore } = await import('@libcalico-ts/datastore-kubernetes');
    const apiGroup = conf.calicoApiGroup === 'projectcalico.org' ? 'projectcalico.org/v3' : 'crd.projectcalico.org/v1';
    const datastore = createKubernetesDatastore({ ...(kubeconfig ? { kubeconfig } : {}), apiGroup });
    return { datastore, type, kube: await kubeReader(kubeconfig, conf.kubernetes.k8sApiRoot) };
  } catch (error) {
    if (error instanceof CniError) throw error;
    throw new CniError(CniCode.Calico, `error creating calico client: ${(error as Error).message}`);
  }
}

async function kubeReader(kubeconfig: string | undefined, apiRoot: string): Promise<KubeReader> {
  const { KubeConfig, CoreV1Api } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  if (apiRoot) {
    const cluster = kc.getCurrentCluster();
    if (cluster) (cluster as { server: string }).server = apiRoot.replace(/\/api\/.*$/, '');
  }
  const api = kc.makeApiClient(CoreV1Api);
  const plain = (o: unknown) => JSON.parse(JSON.stringify(o)) as Record<string, unknown>;
  return {
    getPod: async (namespace, name) => plain(await api.readNamespacedPod({ namespace, name })),
    getNamespace: async (name) => plain(await api.readNamespace({ name })),
    getNode: async (name) => plain(await api.readNode({ name })),
  };
}
