/**
 * The `calico` network plugin: ADD, DEL, CHECK, GC and STATUS (reference cni.md §5, §8, §10).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { isIP } from 'node:net';
import { ResourceExistsError, ResourceNotFoundError, UpdateConflictError, workloadEndpointName, type V3Object } from '@libcalico-ts/api';
import type { Datastore, KVPair, ResourceKey } from '@libcalico-ts/datastore';
import {
  configureWorkloadVethIproute2,
  containerInterfaceName,
  createWorkloadVethIproute2,
  inspectWorkloadInterfaceIproute2,
  interfacePrefixFromEnv,
  normalizeCidr,
  teardownWorkloadInterfaceIproute2,
  workloadInterfaceName,
  type Iproute2Veth,
} from '@libcalico-ts/dataplane';
import { CniCode, CniError, parseResult, type CniEnv, type CniResult } from './cni.js';
import { openBackend, type Backend } from './backend.js';
import { prefetching, type PrefetchRead } from '@libcalico-ts/datastore-etcd/gateway';
import { calicoFailure, handleIdOf, ipamAdd, ipamAddresses, ipamDel, ipamGc, ipamHandles, type IpamAddOptions, type IpamOwner } from './ipam.js';
import { parseNetConf, resolveMtu, resolveNodename, type CalicoNetConf } from './netconf.js';
import type { BaseNetConf } from './cni.js';
import { podAnnotations, type AddressRequest } from './annotations.js';
import type { Logger } from './log.js';

type Obj = Record<string, unknown>;

/** Identifiers of one attachment (§4). */
export interface Identifiers {
  orchestrator: 'k8s' | 'cni';
  nodename: string;
  namespace: string;
  pod?: string;
  containerId: string;
  ifName: string;
  endpointName: string;
  hostIfName: string;
}

export function identifiers(env: CniEnv, nodename: string): Identifiers {
  const pod = env.args.K8S_POD_NAME;
  const podNamespace = env.args.K8S_POD_NAMESPACE;
  const k8s = !!pod && !!podNamespace;
  const namespace = k8s ? podNamespace! : env.args.CNI_TEST_NAMESPACE || 'default';
  const ifName = env.ifName || 'eth0';
  let endpointName: string;
  try {
    endpointName = workloadEndpointName(
      k8s ? { node: nodename, orchestrator: 'k8s', pod: pod!, endpoint: ifName } : { node: nodename, orchestrator: 'cni', containerID: env.containerId, endpoint: ifName },
    );
  } catch (error) {
    throw calicoFailure('invalid workload identifiers', error);
  }
  const hostIfName = k8s ? workloadInterfaceName(namespace, pod!, { prefix: interfacePrefixFromEnv(env.vars.FELIX_INTERFACEPREFIX) }) : containerInterfaceName(env.containerId || 'none');
  const ids: Identifiers = { orchestrator: k8s ? 'k8s' : 'cni', nodename, namespace, containerId: env.containerId, ifName, endpointName, hostIfName };
  if (k8s) ids.pod = pod!;
  return ids;
}

function ownerOf(ids: Identifiers): IpamOwner {
  const owner: IpamOwner = { nodename: ids.nodename, containerId: ids.containerId };
  if (ids.pod !== undefined) {
    owner.pod = ids.pod;
    owner.namespace = ids.namespace;
  }
  return owner;
}

function wepKey(ids: Identifiers): ResourceKey {
  return { type: 'resource', kind: 'WorkloadEndpoint', namespace: ids.namespace, name: ids.endpointName };
}

async function getOrUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (error) {
    if (ResourceNotFoundError.isInstance(error)) return undefined;
    throw error;
  }
}

const CLUSTER_INFORMATION: ResourceKey = { type: 'resource', kind: 'ClusterInformation', name: 'default' };

/** What ADD reads first (besides ClusterInformation), to fetch it in one request: see {@link prefetching}. */
function addReads(conf: CalicoNetConf, ids: Identifiers): PrefetchRead[] {
  const reads: PrefetchRead[] = [{ key: wepKey(ids) }];
  if (conf.ipam.type === 'calico-ipam') {
    // The IPAM engine's first reads of an auto-assignment.
    reads.push({ list: { type: 'ipamConfig' } }, { list: { type: 'resource', kind: 'IPReservation' } }, { key: { type: 'resource', kind: 'Node', name: ids.nodename } }, { list: { type: 'resource', kind: 'IPPool' } });
    if (conf.ipam.assignIpv4 !== 'false') reads.push({ list: { type: 'blockAffinity', host: ids.nodename, ipVersion: 4, affinityType: 'host' } });
    if (conf.ipam.assignIpv6 === 'true') reads.push({ list: { type: 'blockAffinity', host: ids.nodename, ipVersion: 6, affinityType: 'host' } });
  }
  return reads;
}

/** What DEL reads first (besides ClusterInformation): the endpoint, both handles, the IPAM engine's release reads. */
function delReads(conf: CalicoNetConf, ids: Identifiers): PrefetchRead[] {
  const reads: PrefetchRead[] = [{ key: wepKey(ids) }];
  if (conf.ipam.type === 'calico-ipam') {
    for (const handleId of ipamHandles(conf, ownerOf(ids))) reads.push({ key: { type: 'handle', handleId } });
    reads.push({ list: { type: 'ipamConfig' } }, { key: { type: 'resource', kind: 'Node', name: ids.nodename } }, { list: { type: 'resource', kind: 'IPPool' } });
  }
  return reads;
}

/** §5.1 step 8: ClusterInformation `default` must say the datastore is ready. */
async function checkReady(datastore: Datastore, code: number = CniCode.Calico): Promise<void> {
  let info: KVPair;
  try {
    info = await datastore.getKV(CLUSTER_INFORMATION);
  } catch (error) {
    throw new CniError(code, `error getting ClusterInformation: ${(error as Error).message}`);
  }
  if (((info.value as V3Object).spec as { datastoreReady?: boolean } | undefined)?.datastoreReady !== true) throw new CniError(code, 'Calico is currently not ready to process requests');
}

/**
 * Shared prelude of ADD / DEL / CHECK (§5.1 steps 2-8). The readiness check is started here and
 * returned as `ready`: callers may issue reads meanwhile but await it before changing anything,
 * so a not-ready datastore still fails the command before any write.
 */
async function prelude(
  base: BaseNetConf,
  env: CniEnv,
  log: Logger,
  reads: (conf: CalicoNetConf, ids: Identifiers) => PrefetchRead[] = () => [],
): Promise<{ conf: CalicoNetConf; ids: Identifiers; backend: Backend; datastore: Datastore; ready: Promise<void> }> {
  const tp = performance.now();
  const conf = parseNetConf(base);
  log.setLevel(conf.logLevel, conf.logFilePath);
  const nodename = resolveNodename(conf, osHostname);
  const ids = identifiers(env, nodename);
  log.timing('netconf and identifiers', tp);
  const t0 = performance.now();
  const backend = await openBackend(conf, env.vars);
  log.timing('datastore client', t0);
  const t1 = performance.now();
  // The readiness check and the reads the command will make go out as one request (etcd gateway).
  const datastore = prefetching(backend.datastore, [{ key: CLUSTER_INFORMATION }, ...reads(conf, ids)]);
  const ready = checkReady(datastore).then(() => log.timing('datastore ready check', t1));
  // Awaited by the caller; this only keeps an early failure from being reported as unhandled.
  ready.catch(() => undefined);
  return { conf, ids, backend, datastore, ready };
}

/**
 * The datastore as the commands use it: reads go out at once, every write first waits for the
 * readiness check (and fails with its error). So ADD and DEL can start their reads (endpoint,
 * IPAM config, pools, blocks, handles) while ClusterInformation is being read, and still change
 * nothing on a datastore that is not ready.
 */
function gateWrites(datastore: Datastore, ready: Promise<void>): Datastore {
  const writes = new Set<PropertyKey>(['createKV', 'updateKV', 'applyKV', 'deleteKV', 'transact']);
  return new Proxy(datastore, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      const method = (value as (...args: unknown[]) => unknown).bind(target);
      if (!writes.has(property)) return method;
      return async (...args: unknown[]) => {
        await ready;
        return method(...args);
      };
    },
  });
}

/** Rethrows `error`, unless the readiness check failed: then its error wins (§5.1 step 8). */
async function readyFirst(ready: Promise<void>, error: unknown): Promise<never> {
  await ready;
  throw error;
}

/** Finds an executable IPAM plugin in CNI_PATH. */
function findPlugin(type: string, path: string[]): string {
  for (const dir of path) {
    const candidate = `${dir}/${type}`;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new CniError(CniCode.Calico, `failed to find plugin "${type}" in path [${path.join(' ')}]`);
}

/** Runs a delegated IPAM plugin; its error JSON is passed through unchanged (§9). */
export function execIpam(type: string, env: CniEnv, command: string, stdin: Obj, extraArgs = ''): Promise<string> {
  const bin = findPlugin(type, env.path);
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...env.vars, CNI_COMMAND: command, CNI_ARGS: `IgnoreUnknown=1;${env.vars.CNI_ARGS ?? ''}${extraArgs}` },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => reject(new CniError(CniCode.Calico, `netplugin failed: ${e.message}`)));
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString('utf8');
      if (code === 0) return resolve(stdout);
      try {
        const e = JSON.parse(stdout) as { code?: number; msg?: string; details?: string };
        reject(new CniError(e.code ?? 0, e.msg ?? '', e.details ?? ''));
      } catch {
        reject(new CniError(CniCode.Calico, `netplugin failed: ${JSON.stringify(Buffer.concat(err).toString('utf8'))}`));
      }
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify(stdin));
  });
}

/** host-local `usePodCidr` substitution (§5.2 step 1). */
async function hostLocalIpam(conf: CalicoNetConf, backend: Backend, ids: Identifiers, forDelete: boolean): Promise<Obj> {
  const ipam = JSON.parse(JSON.stringify(conf.ipam.raw)) as Obj;
  const uses = JSON.stringify(ipam).toLowerCase().includes('usepodcidr');
  if (!uses) return ipam;
  let v4 = forDelete ? '0.0.0.0/0' : '';
  let v6 = forDelete ? '::/0' : '';
  if (!forDelete) {
    if (!backend.kube) throw new CniError(CniCode.Calico, 'usePodCidr needs the Kubernetes API (kubeconfig)');
    const nodeName = conf.kubernetes.nodeName || ids.nodename;
    const node = await backend.kube.getNode(nodeName);
    const spec = (node.spec ?? {}) as { podCIDRs?: string[]; podCIDR?: string };
    const cidrs = spec.podCIDRs ?? (spec.podCIDR ? [spec.podCIDR] : []);
    if (cidrs.length === 0) throw new CniError(CniCode.Calico, `no podCidr for node ${nodeName}`);
    v4 = cidrs.find((c) => !c.includes(':')) ?? '';
    v6 = cidrs.find((c) => c.includes(':')) ?? '';
  }
  const replace = (s: unknown): unknown => {
    if (typeof s !== 'string') return s;
    if (s.toLowerCase() === 'usepodcidr') {
      if (!v4) throw new CniError(CniCode.Calico, 'usePodCidr found but there is no IPv4 CIDR configured');
      return v4;
    }
    if (s.toLowerCase() === 'usepodcidripv6') {
      if (!v6) throw new CniError(CniCode.Calico, 'usePodCidrIPv6 found but there is no IPv6 CIDR configured');
      return v6;
    }
    return s;
  };
  if ('subnet' in ipam) ipam.subnet = replace(ipam.subnet);
  if (Array.isArray(ipam.ranges)) {
    ipam.ranges = (ipam.ranges as Obj[][]).map((set) => (Array.isArray(set) ? set.map((r) => ({ ...r, subnet: replace(r.subnet) })) : set));
  }
  return ipam;
}

interface PodInfo {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  namespaceLabels: Record<string, string>;
  namespaceAnnotations: Record<string, string>;
  serviceAccount: string;
  generateName: string;
  ports: Obj[];
}

async function readPod(backend: Backend, ids: Identifiers): Promise<PodInfo> {
  if (!backend.kube) throw new CniError(CniCode.Calico, 'policy type k8s needs the Kubernetes API: set kubernetes.kubeconfig');
  let pod: Obj;
  let ns: Obj;
  try {
    [pod, ns] = await Promise.all([backend.kube.getPod(ids.namespace, ids.pod!), backend.kube.getNamespace(ids.namespace)]);
  } catch (error) {
    const e = error as { code?: number; body?: unknown; message?: string };
    throw new CniError(CniCode.Calico, `error getting pod or namespace ${ids.namespace}/${ids.pod}: ${e.code ? `HTTP ${e.code}` : e.message}`);
  }
  const meta = (pod.metadata ?? {}) as Obj;
  const nsMeta = (ns.metadata ?? {}) as Obj;
  const spec = (pod.spec ?? {}) as { serviceAccountName?: string; containers?: { ports?: Obj[] }[] };
  const ports: Obj[] = [];
  for (const c of spec.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (!p.name && !p.hostPort) continue;
      const port: Obj = { name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: p.containerPort ?? 0, hostPort: p.hostPort ?? 0, hostIP: p.hostIP ?? '' };
      ports.push(port);
    }
  }
  return {
    labels: (meta.labels ?? {}) as Record<string, string>,
    annotations: (meta.annotations ?? {}) as Record<string, string>,
    namespaceLabels: (nsMeta.labels ?? {}) as Record<string, string>,
    namespaceAnnotations: (nsMeta.annotations ?? {}) as Record<string, string>,
    serviceAccount: spec.serviceAccountName ?? '',
    generateName: typeof meta.generateName === 'string' ? meta.generateName : '',
    ports,
  };
}

/** ADD. Returns the version-independent result. */
export async function cmdAdd(base: BaseNetConf, env: CniEnv, log: Logger): Promise<CniResult> {
  const { conf, ids, backend, datastore, ready } = await prelude(base, env, log, addReads);
  const ds = gateWrites(datastore, ready);
  try {
    const mtu = resolveMtu(conf);
    const owner = ownerOf(ids);
    const existing = await getOrUndefined(ds.getKV(wepKey(ids)));
    // Non-Kubernetes repeat ADD: return what is stored, touch nothing else (§5.3).
    if (ids.orchestrator === 'cni') {
      if (conf.featureControl.ipAddrsNoIpam) throw new CniError(CniCode.Calico, 'requested feature is not supported for this runtime: ip_addrs_no_ipam');
      if (existing) {
        const spec = (existing.value as V3Object).spec as Obj;
        const profiles = (spec.profiles as string[] | undefined) ?? [];
        if (!profiles.includes(conf.name)) {
          spec.profiles = [...profiles, conf.name];
          await ds.updateKV(existing.key, existing.value, existing.revision);
        }
        await ensureProfile(conf, backend, ds);
        return {
          interfaces: [{ name: String(spec.interfaceName ?? ids.hostIfName) }, { name: ids.ifName, mac: String(spec.mac ?? ''), mtu, sandbox: env.netns }],
          ips: ((spec.ipNetworks as string[] | undefined) ?? []).map((address) => ({ address, interface: 1 })),
        };
      }
    }
    let pod: PodInfo | undefined;
    let request: AddressRequest = { kind: 'ipam' };
    const ipamOptions: IpamAddOptions = {};
    if (ids.orchestrator === 'k8s' && conf.policy.type === 'k8s') {
      const t = performance.now();
      pod = await readPod(backend, ids);
      log.timing('pod and namespace read', t);
      const parsed = podAnnotations(pod.annotations, pod.namespaceAnnotations, conf);
      request = parsed.request;
      Object.assign(ipamOptions, parsed.ipam);
      ipamOptions.namespace = { name: ids.namespace, labels: pod.namespaceLabels };
    }
    // The veth pair needs no address: the kernel creates it while IPAM talks to the datastore.
    const hwAddr = pod?.annotations['cni.projectcalico.org/hwAddr'];
    const link = {
      containerNetns: env.netns,
      containerIfName: ids.ifName,
      hostIfName: ids.hostIfName,
      mtu,
      numQueues: conf.numQueues,
      ...(hwAddr ? { containerMac: hwAddr } : {}),
    };
    const t3 = performance.now();
    // Kernel objects, like datastore writes, only once the datastore is known to be ready.
    const vethCreated = ready.then(() => createWorkloadVethIproute2(link)).then((veth) => {
      log.timing('veth creation (during IPAM)', t3);
      return veth;
    });
    vethCreated.catch(() => undefined);
    const dropVeth = async () => {
      if ((await Promise.allSettled([vethCreated]))[0].status === 'fulfilled') {
        await teardownWorkloadInterfaceIproute2({ containerNetns: env.netns, containerIfName: ids.ifName, hostIfName: ids.hostIfName }).catch(() => undefined);
      }
    };
    // Obtain the addresses (§6.2).
    let ipamResult: CniResult;
    let release: (() => Promise<void>) | undefined;
    const t2 = performance.now();
    try {
      if (request.kind === 'noIpam') {
        ipamResult = { ips: request.addresses.map((a) => ({ address: `${a}/${isIP(a) === 4 ? 32 : 128}` })) };
      } else if (conf.ipam.type === 'calico-ipam') {
        release = () => ipamDel(ds, conf, owner);
        if (request.kind === 'ipAddrs') {
          if (existing) await ipamDel(ds, conf, owner);
          ipamResult = { ips: [] };
          try {
            for (const address of request.addresses) ipamResult.ips.push(...(await ipamAdd(ds, conf, owner, { ip: address })).ips);
          } catch (error) {
            await release().catch(() => undefined);
            throw error;
          }
        } else {
          ipamResult = await ipamAdd(ds, conf, owner, ipamOptions);
        }
      } else {
        const stdin = { ...conf.raw, ipam: ids.orchestrator === 'k8s' ? await hostLocalIpam(conf, backend, ids, false) : conf.ipam.raw };
        await ready; // a delegated plugin allocates: not before the readiness check passed
        ipamResult = parseResult(JSON.parse(await execIpam(conf.ipam.type, env, 'ADD', stdin)));
        release = async () => {
          await execIpam(conf.ipam.type, env, 'DEL', { ...conf.raw, ipam: ids.orchestrator === 'k8s' ? await hostLocalIpam(conf, backend, ids, true) : conf.ipam.raw });
        };
      }
    } catch (error) {
      await dropVeth();
      throw error;
    }
    log.timing('IPAM', t2);
    let veth: Iproute2Veth | undefined;
    let written: KVPair | undefined;
    try {
      if (ipamResult.ips.length === 0) throw new CniError(CniCode.Calico, 'IPAM plugin returned no IP addresses in result');
      veth = await vethCreated.catch((error: unknown) => {
        throw calicoFailure('error setting up the pod interface', error);
      });
      const ipv4 = ipamResult.ips.filter((i) => !i.address.includes(':')).map((i) => i.address.slice(0, i.address.indexOf('/')));
      const ipv6 = ipamResult.ips.filter((i) => i.address.includes(':')).map((i) => i.address.slice(0, i.address.indexOf('/')));
      // In-pod routes: defaults, or the custom host-local routes (+ defaults on request).
      const custom = conf.ipam.type === 'host-local' ? conf.ipam.routes : [];
      const routes4 = custom.length ? custom.filter((r) => !r.includes(':')) : ['0.0.0.0/0'];
      const routes6 = custom.length ? custom.filter((r) => r.includes(':')) : ['::/0'];
      if (custom.length && conf.includeDefaultRoutes) {
        routes4.push('0.0.0.0/0');
        routes6.push('::/0');
      }
      let ipNetworks: string[];
      try {
        ipNetworks = [...ipv4.map((a) => normalizeCidr(`${a}/32`)), ...ipv6.map((a) => normalizeCidr(`${a}/128`))];
      } catch (error) {
        throw calicoFailure('error setting up the pod interface', error);
      }
      const t4 = performance.now();
      const configured = configureWorkloadVethIproute2({
        ...link,
        containerMac: veth.containerMac,
        ipv4,
        ipv6,
        routes4,
        routes6,
        allowIpForwarding: conf.containerSettings.allowIpForwarding,
        // calico-ipam results without routes (annotation-driven) skip the host route (§12 item 11).
        hostRoutes: conf.ipam.type !== 'calico-ipam' || (ipamResult.routes?.length ?? 0) > 0,
      })
        .then(() => log.timing('dataplane configuration', t4))
        .catch((error: unknown) => {
          throw calicoFailure('error setting up the pod interface', error);
        });
      // A new endpoint on etcd is written while the kernel work runs (and deleted again if that
      // fails); an existing one, or the Kubernetes pod patch, only once the interface is up.
      const early = !existing && ds.datastoreType !== 'kubernetes';
      const write = async () => {
        const t5 = performance.now();
        const [pair] = await Promise.all([writeEndpoint(ds, conf, ids, existing, ipNetworks, veth!.containerMac, pod), ensureProfile(conf, backend, ds)]);
        written = pair;
        log.timing('endpoint and profile write', t5);
      };
      if (early) {
        const [kernel, store] = await Promise.allSettled([configured, write()]);
        if (kernel.status === 'rejected') throw kernel.reason;
        if (store.status === 'rejected') throw store.reason;
      } else {
        await configured;
        await write();
      }
      const result: CniResult = {
        interfaces: [{ name: ids.hostIfName }, { name: ids.ifName, mac: veth.containerMac, mtu, sandbox: env.netns }],
        ips: ipNetworks.map((address) => ({ address, interface: 1 })),
      };
      if (ipamResult.routes?.length) result.routes = ipamResult.routes.map((r) => ({ dst: r.dst }));
      return result;
    } catch (error) {
      // Undo everything (§5.2 last paragraph): the endpoint written here, the veth, the addresses.
      // (Nothing was written or created when the datastore is not ready.)
      if (await ready.then(() => true, () => false)) {
        if (written && !existing) await ds.deleteKV(written.key, written.revision).catch((e: unknown) => log.error(`deleting the endpoint after a failed ADD: ${(e as Error).message}`));
        await dropVeth();
        if (release) await release().catch((e: unknown) => log.error(`releasing addresses after a failed ADD: ${(e as Error).message}`));
      }
      throw error;
    }
  } catch (error) {
    return readyFirst(ready, error);
  } finally {
    await ds.close();
  }
}

async function writeEndpoint(ds: Datastore, conf: CalicoNetConf, ids: Identifiers, existing: KVPair | undefined, ipNetworks: string[], mac: string, pod: PodInfo | undefined): Promise<KVPair> {
  const labels: Record<string, string> = { ...(pod?.labels ?? {}), 'projectcalico.org/namespace': ids.namespace, 'projectcalico.org/orchestrator': ids.orchestrator };
  if (pod?.serviceAccount && pod.serviceAccount.length < 63) labels['projectcalico.org/serviceaccount'] = pod.serviceAccount;
  const spec: Obj = {
    orchestrator: ids.orchestrator,
    node: ids.nodename,
    containerID: ids.containerId,
    endpoint: ids.ifName,
    interfaceName: ids.hostIfName,
    mac,
    ipNetworks,
    profiles: pod ? [`kns.${ids.namespace}`, ...(pod.serviceAccount ? [`ksa.${ids.namespace}.${pod.serviceAccount}`] : [])] : [conf.name],
  };
  if (ids.pod !== undefined) spec.pod = ids.pod;
  if (pod?.serviceAccount) spec.serviceAccountName = pod.serviceAccount;
  if (pod?.ports.length) spec.ports = pod.ports;
  const allowed = pod?.annotations['cni.projectcalico.org/allowedSourcePrefixes'];
  if (allowed) spec.allowSpoofedSourcePrefixes = JSON.parse(allowed) as string[];
  const metadata: Obj = { name: ids.endpointName, namespace: ids.namespace, labels };
  if (pod?.generateName) metadata.generateName = pod.generateName;
  const value = { apiVersion: 'projectcalico.org/v3', kind: 'WorkloadEndpoint', metadata, spec } as unknown as V3Object;
  try {
    if (existing) return await ds.updateKV(wepKey(ids), value, existing.revision);
    return await ds.createKV(wepKey(ids), value);
  } catch (error) {
    if (ResourceExistsError.isInstance(error) || ds.datastoreType === 'kubernetes') {
      return ds.applyKV(wepKey(ids), value).catch((e: unknown) => {
        throw calicoFailure('error writing the WorkloadEndpoint', e);
      });
    }
    throw calicoFailure('error writing the WorkloadEndpoint', error);
  }
}

/** §5.1 step 12: a Profile named after the network, created once (etcd datastore only). */
async function ensureProfile(conf: CalicoNetConf, backend: Backend, datastore: Datastore): Promise<void> {
  if (conf.policy.type !== '' || backend.type === 'kubernetes') return;
  const k8s = false;
  const value = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'Profile',
    metadata: { name: conf.name },
    spec: {
      egress: [{ action: 'Allow', source: {}, destination: {} }],
      ingress: [k8s ? { action: 'Allow', source: {}, destination: {} } : { action: 'Allow', source: { selector: `has(${conf.name})` }, destination: {} }],
      labelsToApply: { [conf.name]: '' },
    },
  } as unknown as V3Object;
  try {
    await datastore.createKV({ type: 'resource', kind: 'Profile', name: conf.name }, value);
  } catch (error) {
    if (!ResourceExistsError.isInstance(error)) throw calicoFailure('error creating the network profile', error);
  }
}

/** DEL (§8.1). Idempotent. */
export async function cmdDel(base: BaseNetConf, env: CniEnv, log: Logger): Promise<void> {
  const { conf, ids, backend, datastore, ready } = await prelude(base, env, log, delReads);
  const ds = gateWrites(datastore, ready);
  const owner = ownerOf(ids);
  const releaseIpam = async () => {
    const t = performance.now();
    if (conf.ipam.type === 'calico-ipam') await ipamDel(ds, conf, owner);
    else {
      const stdin = { ...conf.raw, ipam: ids.orchestrator === 'k8s' ? await hostLocalIpam(conf, backend, ids, true) : conf.ipam.raw };
      await ready; // a delegated plugin changes its own state: not before the readiness check passed
      await execIpam(conf.ipam.type, env, 'DEL', stdin);
    }
    log.timing('IPAM release', t);
  };
  const deleteEndpoint = async () => {
    const t = performance.now();
    for (let attempt = 0; attempt < 6; attempt++) {
      const current = await getOrUndefined(ds.getKV(wepKey(ids)));
      if (!current) break;
      const cid = ((current.value as V3Object).spec as Obj | undefined)?.containerID;
      if (typeof cid === 'string' && cid !== '' && cid !== ids.containerId) break; // an old sandbox's DEL
      try {
        await ds.deleteKV(wepKey(ids), current.revision);
        break;
      } catch (error) {
        if (ResourceNotFoundError.isInstance(error)) break;
        if (!UpdateConflictError.isInstance(error)) throw calicoFailure('error deleting endpoint', error);
        if (attempt === 5) throw calicoFailure('error deleting endpoint: endpoint was modified before it could be deleted', error);
      }
    }
    log.timing('endpoint delete', t);
  };
  const teardown = async () => {
    await ready;
    const t = performance.now();
    await teardownWorkloadInterfaceIproute2({ containerNetns: env.netns || undefined, containerIfName: ids.ifName }).catch((error: unknown) => {
      throw calicoFailure(`error deleting device in netns ${env.netns}`, error);
    });
    log.timing('interface teardown', t);
  };
  try {
    // The endpoint, the interface and the addresses are independent: remove all three at once.
    // Their reads overlap the readiness check; writes and the kernel wait for it (gateWrites).
    const t = performance.now();
    const [endpoint, down, released] = await Promise.allSettled([deleteEndpoint(), teardown(), releaseIpam()]);
    await ready;
    log.timing('endpoint delete + interface teardown + IPAM release', t);
    if (endpoint.status === 'rejected') throw ids.orchestrator === 'k8s' ? calicoFailure('', endpoint.reason) : endpoint.reason;
    if (down.status === 'rejected') throw down.reason;
    if (released.status === 'rejected') throw released.reason;
  } finally {
    await ds.close();
  }
}

function routeDst(dst: string): string {
  if (dst === 'default') return '0.0.0.0/0';
  return dst.includes('/') ? dst : `${dst}/${dst.includes(':') ? 128 : 32}`;
}

/**
 * CHECK (§8.3, but real): the allocation, the endpoint, the pod interface (up, addresses, gateway
 * routes) and the host veth (MAC, up, `/32` routes) must match `prevResult`.
 */
export async function cmdCheck(base: BaseNetConf, env: CniEnv, log: Logger): Promise<void> {
  const { conf, ids, backend, ready } = await prelude(base, env, log);
  const ds = backend.datastore;
  try {
    await ready;
    if (conf.prevResult === undefined) throw new CniError(CniCode.Calico, 'CHECK needs prevResult');
    const prev = parseResult(conf.prevResult);
    const wanted = prev.ips.map((ip) => {
      const a = ip.address.slice(0, ip.address.indexOf('/'));
      return `${a}/${a.includes(':') ? 128 : 32}`;
    });
    const problems: string[] = [];
    if (conf.ipam.type === 'calico-ipam') {
      const held = (await ipamAddresses(ds, conf, ownerOf(ids))).map((a) => a.split('/')[0]!);
      const annotated = held.length === 0 && ids.orchestrator === 'k8s' && conf.featureControl.ipAddrsNoIpam;
      for (const w of wanted) if (!annotated && !held.includes(w.slice(0, w.indexOf('/')))) problems.push(`address ${w} is not allocated to handle ${handleIdOf(conf.name, ids.containerId)}`);
    }
    const wep = await getOrUndefined(ds.getKV(wepKey(ids)));
    if (!wep) problems.push(`WorkloadEndpoint ${ids.namespace}/${ids.endpointName} does not exist`);
    else {
      const nets = (((wep.value as V3Object).spec as Obj).ipNetworks as string[] | undefined) ?? [];
      for (const w of wanted) if (!nets.includes(w)) problems.push(`WorkloadEndpoint ${ids.endpointName} lacks ${w}`);
    }
    const seen = await inspectWorkloadInterfaceIproute2({ containerNetns: env.netns, containerIfName: ids.ifName, hostIfName: ids.hostIfName });
    if (!seen.container) problems.push(`interface ${ids.ifName} not found in ${env.netns}`);
    else {
      if (!seen.container.up) problems.push(`interface ${ids.ifName} is down`);
      for (const w of wanted) if (!seen.container.addresses.includes(w)) problems.push(`interface ${ids.ifName} lacks address ${w}`);
      const dsts = seen.container.routes.map((r) => (r.dst === 'default' && r.gateway?.includes(':') ? '::/0' : routeDst(r.dst)));
      if (wanted.some((w) => !w.includes(':')) && !dsts.includes('0.0.0.0/0') && conf.ipam.routes.length === 0) problems.push(`no default route in ${env.netns}`);
    }
    if (!seen.host) problems.push(`host interface ${ids.hostIfName} not found`);
    else {
      if (seen.host.mac !== 'ee:ee:ee:ee:ee:ee') problems.push(`host interface ${ids.hostIfName} has MAC ${seen.host.mac}`);
      if (!seen.host.up) problems.push(`host interface ${ids.hostIfName} is down`);
      const hostRoutes = seen.host.routes.map(routeDst);
      const expectRoutes = conf.ipam.type !== 'calico-ipam' || (prev.routes?.length ?? 0) > 0;
      if (expectRoutes) for (const w of wanted) if (!hostRoutes.includes(w)) problems.push(`no host route ${w} via ${ids.hostIfName}`);
    }
    if (problems.length > 0) throw new CniError(CniCode.Calico, `CHECK failed: ${problems.join('; ')}`);
  } finally {
    await ds.close();
  }
}

/** GC (spec 1.1.0): release this node's allocations (and endpoints) of attachments not listed as valid. */
export async function cmdGc(base: BaseNetConf, env: CniEnv, log: Logger): Promise<void> {
  const conf = parseNetConf(base);
  log.setLevel(conf.logLevel, conf.logFilePath);
  const nodename = resolveNodename(conf, osHostname);
  const backend = await openBackend(conf, env.vars);
  const ds = backend.datastore;
  try {
    const valid = new Set((conf.validAttachments ?? []).map((a) => a.containerID));
    if (conf.ipam.type !== 'calico-ipam') return;
    const released = new Set(await ipamGc(ds, conf, nodename, valid));
    log.info(`GC released ${released.size} attachment(s)`);
    if (backend.type === 'etcdv3' && released.size > 0) {
      const weps = await ds.listKV({ type: 'resource', kind: 'WorkloadEndpoint' });
      for (const item of weps.items) {
        const spec = ((item.value as V3Object).spec ?? {}) as Obj;
        if (spec.node === nodename && typeof spec.containerID === 'string' && released.has(spec.containerID)) {
          await ds.deleteKV(item.key, item.revision).catch(() => undefined);
        }
      }
    }
  } catch (error) {
    throw calicoFailure('GC failed', error);
  } finally {
    await ds.close();
  }
}

/** STATUS (spec 1.1.0): fails with code 50 while the datastore is unreachable or not ready. */
export async function cmdStatus(base: BaseNetConf, log: Logger, vars: NodeJS.ProcessEnv = process.env): Promise<void> {
  const conf = parseNetConf(base);
  log.setLevel(conf.logLevel, conf.logFilePath);
  const backend = await openBackend(conf, vars);
  try {
    await checkReady(backend.datastore, CniCode.PluginNotAvailable);
  } catch (error) {
    if (error instanceof CniError) throw new CniError(CniCode.PluginNotAvailable, `plugin not available: ${error.message}`);
    throw error;
  } finally {
    await backend.datastore.close();
  }
}

