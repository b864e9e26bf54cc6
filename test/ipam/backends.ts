/**
 * Backends the IPAM suites run on: memory with atomic transactions (etcd-like), memory without
 * (Kubernetes-like two-write protocol), and real etcd when `@libcalico-ts/datastore-etcd` provides
 * `createEtcdDatastore` (started per suite with test/helpers/etcd.ts).
 */
import { createMemoryDatastore, type Datastore } from '@libcalico-ts/datastore';
import { createIPAM, type IPAM, type IPAMOptions } from '@libcalico-ts/ipam';
import { FakeClock, seededRandom } from '@libcalico-ts/ipam/testing';

export interface Env {
  backend: Backend;
  datastore: Datastore;
  ipam: IPAM;
  clock: FakeClock;
  makeIPAM(options?: Partial<IPAMOptions>): IPAM;
  addPool(name: string, cidr: string, spec?: Record<string, unknown>): Promise<void>;
  addNode(name: string, labels?: Record<string, string>, spec?: Record<string, unknown>): Promise<void>;
  addReservation(name: string, cidrs: string[]): Promise<void>;
  addWorkloadEndpoint(namespace: string, name: string, node: string, ipNetworks: string[]): Promise<void>;
  /** Deletes a node (Kubernetes: the core v1 Node, which Kubernetes owns). */
  deleteNode(name: string): Promise<void>;
  close(): Promise<void>;
}

export interface Backend {
  name: string;
  /** A fresh, empty datastore (a unique key prefix on shared servers). */
  create(): Promise<Datastore>;
  /** Creates a node where Calico Nodes are not written directly (Kubernetes: a core v1 Node). */
  addNode?(datastore: Datastore, name: string, labels: Record<string, string>): Promise<void>;
  /** Creates the pod a WorkloadEndpoint is a view of, where endpoints are views (Kubernetes). */
  addPod?(datastore: Datastore, namespace: string, name: string, node: string): Promise<void>;
  /** Deletes a node where Calico Nodes cannot be deleted directly (Kubernetes: the core v1 Node). */
  deleteNode?(datastore: Datastore, name: string): Promise<void>;
  /** Another client on the same data (a second process), without wiping. */
  connect?(): Promise<Datastore>;
  /** Stops shared servers. */
  shutdown?(): Promise<void>;
}

export function memoryBackend(atomicTransactions: boolean): Backend {
  return { name: atomicTransactions ? 'memory (atomic)' : 'memory (two-write)', create: async () => createMemoryDatastore({ atomicTransactions }) };
}

/** Real etcd, when the etcd datastore package exports `createEtcdDatastore`. Undefined otherwise. */
export async function etcdBackend(): Promise<Backend | undefined> {
  const mod = (await import('@libcalico-ts/datastore-etcd')) as Record<string, unknown>;
  const create = mod.createEtcdDatastore as ((options: Record<string, unknown>) => Datastore) | undefined;
  if (typeof create !== 'function') return undefined;
  const { startEtcd } = await import('../helpers/etcd.js');
  const { Etcd3 } = await import('etcd3');
  // A server of our own for this suite: Calico's key paths are fixed, so each environment
  // starts from an empty /calico/ tree (wiped here; never a shared server).
  const server = await startEtcd();
  const admin = new Etcd3({ hosts: server.endpoints });
  const opened: Datastore[] = [];
  return {
    name: 'etcd',
    async create() {
      await admin.delete().prefix('/calico/');
      const ds = create({ endpoints: server.endpoints });
      opened.push(ds);
      return ds;
    },
    async connect() {
      const ds = create({ endpoints: server.endpoints });
      opened.push(ds);
      return ds;
    },
    async shutdown() {
      for (const ds of opened) await ds.close().catch(() => {});
      admin.close();
      await server.stop();
    },
  };
}

/** The Kubernetes datastore on the Kubernetes API test server (a fresh server per environment). */
export async function kubernetesBackend(): Promise<Backend | undefined> {
  const mod = (await import('@libcalico-ts/datastore-kubernetes')) as Record<string, unknown>;
  const create = mod.createKubernetesDatastore as ((options: Record<string, unknown>) => Datastore) | undefined;
  if (typeof create !== 'function') return undefined;
  const { startKubeApiServer } = await import('../helpers/kube-apiserver.js');
  const servers: { stop(): Promise<void>; kubeconfigPath: string; putRaw(o: object): string; deleteRaw(path: string): boolean }[] = [];
  const opened: Datastore[] = [];
  const serverOf = new Map<Datastore, (typeof servers)[number]>();
  return {
    name: 'kubernetes',
    async create() {
      const server = await startKubeApiServer({ namespaceLifecycle: false });
      servers.push(server);
      const ds = create({ kubeconfig: server.kubeconfigPath });
      opened.push(ds);
      serverOf.set(ds, server);
      return ds;
    },
    async addNode(ds, name, labels) {
      serverOf.get(ds)!.putRaw({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels, uid: `uid-node-${name}` }, spec: {}, status: {} });
    },
    async addPod(ds, namespace, name, node) {
      serverOf.get(ds)!.putRaw({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace, uid: `uid-pod-${namespace}-${name}` },
        spec: { nodeName: node, containers: [{ name: 'c', image: 'pause' }] },
        status: { phase: 'Running' },
      });
    },
    async deleteNode(ds, name) {
      if (!serverOf.get(ds)!.deleteRaw(`/api/v1/nodes/${name}`)) throw new Error(`no Kubernetes Node ${name}`);
    },
    async connect() {
      const ds = create({ kubeconfig: servers[servers.length - 1]!.kubeconfigPath });
      opened.push(ds);
      return ds;
    },
    async shutdown() {
      for (const ds of opened) await ds.close().catch(() => {});
      for (const s of servers) await s.stop().catch(() => {});
    },
  };
}

export async function makeEnv(backend: Backend, options: Partial<IPAMOptions> = {}): Promise<Env> {
  const datastore = await backend.create();
  const clock = new FakeClock();
  const makeIPAM = (o: Partial<IPAMOptions> = {}) =>
    createIPAM(datastore, { clock, random: seededRandom(3), maxRetryJitterMs: 0, ...options, ...o });
  return {
    backend,
    datastore,
    clock,
    ipam: makeIPAM(),
    makeIPAM,
    async addPool(name, cidr, spec = {}) {
      await datastore.createKV(
        { type: 'resource', kind: 'IPPool', name },
        { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name }, spec: { cidr, ...spec } } as never,
      );
    },
    async addNode(name, labels = {}, spec = {}) {
      if (backend.addNode) return backend.addNode(datastore, name, labels);
      await datastore.createKV(
        { type: 'resource', kind: 'Node', name },
        { kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name, labels }, spec, status: {} } as never,
      );
    },
    async addReservation(name, reservedCIDRs) {
      await datastore.createKV(
        { type: 'resource', kind: 'IPReservation', name },
        { kind: 'IPReservation', apiVersion: 'projectcalico.org/v3', metadata: { name }, spec: { reservedCIDRs } } as never,
      );
    },
    async addWorkloadEndpoint(namespace, name, node, ipNetworks) {
      if (backend.addPod) {
        // <node>-k8s-<pod>-<endpoint>: the pod this endpoint is a view of.
        const pod = /^.+?-k8s-(.+)-[^-]+$/.exec(name)?.[1];
        if (!pod) throw new Error(`not a Kubernetes workload endpoint name: ${name}`);
        await backend.addPod(datastore, namespace, pod, node);
      }
      await datastore.createKV(
        { type: 'resource', kind: 'WorkloadEndpoint', name, namespace },
        {
          kind: 'WorkloadEndpoint',
          apiVersion: 'projectcalico.org/v3',
          metadata: { name, namespace },
          spec: { node, orchestrator: 'k8s', pod: name, endpoint: 'eth0', interfaceName: 'cali0123456789a', ipNetworks },
        } as never,
      );
    },
    async deleteNode(name) {
      if (backend.deleteNode) return backend.deleteNode(datastore, name);
      await datastore.deleteKV({ type: 'resource', kind: 'Node', name });
    },
    async close() {
      await datastore.close();
    },
  };
}
