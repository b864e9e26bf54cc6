/**
 * Builds the datastore a plugin talks to (reference cni.md §2.2: NetConf fields override the
 * environment). Backends are imported dynamically, so an etcd run never loads the Kubernetes
 * client and vice versa.
 */
import type { Datastore } from '@libcalico-ts/datastore';
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

/** Builds the backend. Nothing is contacted yet. */
export async function openBackend(conf: CalicoNetConf, env: NodeJS.ProcessEnv = process.env): Promise<Backend> {
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
        const { createEtcdGatewayDatastore } = await import('./etcd-gateway.js');
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
