/**
 * The datastores the client suite runs on: memory, a real etcd (one server per file, the
 * `/calico/` tree wiped before each test: our own server, never a shared one) and the Kubernetes
 * API test server (a fresh server per test).
 */
import { createMemoryDatastore, type Datastore } from '@libcalico-ts/datastore';
import { createEtcdDatastore } from '@libcalico-ts/datastore-etcd';
import { createKubernetesDatastore } from '@libcalico-ts/datastore-kubernetes';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';

/** One test's datastore plus the backend-specific ways to create what the client cannot. */
export interface TestDatastore {
  datastore: Datastore;
  /** A Kubernetes test server (kubernetes backend only). */
  server?: KubeApiServer;
  /** Creates a node the way this datastore allows: a Calico Node, or a Kubernetes Node with Calico annotations. */
  addNode(name: string, options?: { labels?: Record<string, string>; ipipTunnelAddr?: string }): Promise<void>;
  /** Creates a pod (Kubernetes only) so that a WorkloadEndpoint can be written for it. */
  addPod?(namespace: string, name: string, node: string): Promise<void>;
  /** A second, independent connection to the same store (another process's view); `close` ends it. */
  connect(): Promise<{ datastore: Datastore; close(): Promise<void> }>;
  close(): Promise<void>;
}

export interface Backend {
  name: 'memory' | 'etcd' | 'kubernetes';
  create(): Promise<TestDatastore>;
  shutdown(): Promise<void>;
}

function calicoNodeWriter(datastore: Datastore) {
  return async (name: string, options: { labels?: Record<string, string>; ipipTunnelAddr?: string } = {}) => {
    const spec: Record<string, unknown> = { bgp: { ipv4Address: '10.10.0.1/24' } };
    if (options.ipipTunnelAddr) (spec.bgp as Record<string, unknown>).ipv4IPIPTunnelAddr = options.ipipTunnelAddr;
    await datastore.createKV(
      { type: 'resource', kind: 'Node', name },
      { kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name, labels: options.labels ?? {} }, spec, status: {} } as never,
    );
  };
}

export function memoryBackend(): Backend {
  return {
    name: 'memory',
    async create() {
      const datastore = createMemoryDatastore();
      // The memory datastore lives in this process: a second client shares the object.
      return { datastore, addNode: calicoNodeWriter(datastore), connect: async () => ({ datastore, close: async () => {} }), close: () => datastore.close() };
    },
    async shutdown() {},
  };
}

export function etcdBackend(): Backend {
  let server: EtcdServer | undefined;
  let admin: Etcd3 | undefined;
  return {
    name: 'etcd',
    async create() {
      server ??= await startEtcd();
      admin ??= new Etcd3({ hosts: server.endpoints });
      await admin.delete().prefix('/calico/');
      const datastore = createEtcdDatastore({ endpoints: server.endpoints });
      const endpoints = server.endpoints;
      return {
        datastore,
        addNode: calicoNodeWriter(datastore),
        connect: async () => {
          const other = createEtcdDatastore({ endpoints });
          return { datastore: other, close: () => other.close() };
        },
        close: () => datastore.close(),
      };
    },
    async shutdown() {
      admin?.close();
      await server?.stop();
    },
  };
}

export function kubernetesBackend(): Backend {
  return {
    name: 'kubernetes',
    async create() {
      const server = await startKubeApiServer();
      const datastore = createKubernetesDatastore({ kubeconfig: server.kubeconfigPath });
      return {
        datastore,
        server,
        async addNode(name, options = {}) {
          const annotations: Record<string, string> = { 'projectcalico.org/IPv4Address': '10.10.0.1/24' };
          if (options.ipipTunnelAddr) annotations['projectcalico.org/IPv4IPIPTunnelAddr'] = options.ipipTunnelAddr;
          server.putRaw({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: options.labels ?? {}, annotations }, spec: {}, status: {} });
        },
        async addPod(namespace, name, node) {
          server.putRaw({
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name, namespace, uid: '0b0e4a0e-6b0c-4c55-9d1e-7d7e0b3f6c11', creationTimestamp: '2026-03-01T10:00:00Z', labels: { app: 'web' } },
            spec: { nodeName: node, serviceAccountName: 'default', containers: [{ name: 'c', image: 'x' }] },
            status: { phase: 'Running' },
          });
        },
        connect: async () => {
          const other = createKubernetesDatastore({ kubeconfig: server.kubeconfigPath });
          return { datastore: other, close: () => other.close() };
        },
        async close() {
          await datastore.close();
          await server.stop();
        },
      };
    },
    async shutdown() {},
  };
}

export const BACKENDS: readonly Backend[] = [memoryBackend(), etcdBackend(), kubernetesBackend()];
