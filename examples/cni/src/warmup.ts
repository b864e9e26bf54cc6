/**
 * Runs the plugins' pure code paths once while the V8 startup snapshot is built (src/snapshot.ts),
 * so that the functions every invocation needs are already compiled to bytecode in the snapshot
 * instead of being compiled lazily in each short-lived process.
 *
 * Only pure work: NetConf and CNI parsing, result printing for every version, the iproute2 plan,
 * the etcd gateway client's response parsing, the etcd value codec, and IPAM (allocate, read back, release) on a
 * throwaway in-memory datastore. No file, socket, process, clock-dependent cache or random state
 * outlives it; nothing here is visible to an invocation.
 */
import { createMemoryDatastore } from '@libcalico-ts/datastore';
import { decodeEtcdValue, encodeEtcdValue } from '@libcalico-ts/datastore-etcd';
import { warmUpEtcdGateway } from '@libcalico-ts/datastore-etcd/gateway';
import { planWorkloadInterfaceIproute2, normalizeCidr } from '@libcalico-ts/dataplane';
import { workloadEndpointName, type V3Object } from '@libcalico-ts/api';
import { parseResult, parseStdin, printResult, readEnv, SUPPORTED_VERSIONS, type CniResult } from './cni.js';
import { ipamAdd, ipamAddresses, ipamDel } from './ipam.js';
import { parseNetConf } from './netconf.js';

export async function warmUp(): Promise<void> {
  const stdin = JSON.stringify({ cniVersion: '1.0.0', name: 'warm-up', type: 'calico', datastore_type: 'etcdv3', etcd_endpoints: 'http://127.0.0.1:2379', nodename: 'warm', mtu: 1450, log_level: 'info', ipam: { type: 'calico-ipam' } });
  const env = readEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'warm-up-1', CNI_NETNS: '/proc/self/ns/net', CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod' });
  const conf = parseNetConf(parseStdin(stdin, env.command));

  const ds = createMemoryDatastore();
  await ds.createKV({ type: 'resource', kind: 'ClusterInformation', name: 'default' }, { apiVersion: 'projectcalico.org/v3', kind: 'ClusterInformation', metadata: { name: 'default' }, spec: { datastoreReady: true } } as unknown as V3Object);
  await ds.createKV({ type: 'resource', kind: 'Node', name: 'warm' }, { apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'warm' }, spec: {} } as unknown as V3Object);
  await ds.createKV(
    { type: 'resource', kind: 'IPPool', name: 'warm-pool' },
    { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'warm-pool' }, spec: { cidr: '10.250.0.0/16', blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never', nodeSelector: 'all()' } } as unknown as V3Object,
  );
  const owner = { nodename: 'warm', containerId: 'warm-up-1', pod: 'pod', namespace: 'ns' };
  const allocated = await ipamAdd(ds, conf, owner);
  await ipamAddresses(ds, conf, owner);
  await ipamDel(ds, conf, owner);

  const address = allocated.ips[0]!.address.split('/')[0]!;
  planWorkloadInterfaceIproute2({ containerNetns: '/proc/self/ns/net', hostIfName: 'caliwarmup00000', ipv4: [address], mtu: 1450, containerMac: '02:00:00:00:00:01', routes4: ['0.0.0.0/0'] });
  const ipNetworks = [normalizeCidr(`${address}/32`)];
  const result: CniResult = { interfaces: [{ name: 'caliwarmup00000' }, { name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1450, sandbox: '/proc/self/ns/net' }], ips: ipNetworks.map((a) => ({ address: a, interface: 1 })), routes: [{ dst: allocated.ips[0]!.address }] };
  for (const version of SUPPORTED_VERSIONS) parseResult(JSON.parse(printResult(result, version)) as Record<string, unknown>);

  const key = { type: 'resource', kind: 'WorkloadEndpoint', namespace: 'ns', name: workloadEndpointName({ node: 'warm', orchestrator: 'k8s', pod: 'pod', endpoint: 'eth0' }) } as const;
  const endpoint = { apiVersion: 'projectcalico.org/v3', kind: 'WorkloadEndpoint', metadata: { name: key.name, namespace: 'ns', labels: {} }, spec: { orchestrator: 'k8s', node: 'warm', containerID: 'warm-up-1', pod: 'pod', endpoint: 'eth0', interfaceName: 'caliwarmup00000', mac: '02:00:00:00:00:01', ipNetworks, profiles: ['warm-up'] } } as unknown as V3Object;
  decodeEtcdValue(key, encodeEtcdValue(key, endpoint));
  warmUpEtcdGateway();
}
