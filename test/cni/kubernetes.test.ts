/**
 * The plugins in Kubernetes datastore mode against the Kubernetes API test server, driven through
 * libcni: pod / namespace annotations (pools, ipAddrs, ipAddrsNoIpam), the pod status patch that
 * stands for the WorkloadEndpoint, and bad annotations that must allocate nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createKubernetesDatastore } from '@libcalico-ts/datastore-kubernetes';
import type { Datastore } from '@libcalico-ts/datastore';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { buildDriver, buildPlugins, cniSuiteSkip, CniHost, nodenameFile, podIp } from './harness.js';

const skip = cniSuiteSkip();

const NODE = 'kube-node-1';

describe('CNI plugins on the Kubernetes datastore through libcni', { skip }, () => {
  let server: KubeApiServer;
  let ds: Datastore;
  let host: CniHost;
  let nodeFile: string;
  let uid = 0;

  const conf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: '1.0.0',
    name: 'k8s-pod-network',
    type: 'calico',
    datastore_type: 'kubernetes',
    kubernetes: { kubeconfig: server.kubeconfigPath },
    policy: { type: 'k8s' },
    nodename_file: nodeFile,
    mtu: 1440,
    log_level: 'error',
    ipam: { type: 'calico-ipam' },
    ...extra,
  });
  const args = (pod: string, ns: string) => `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${pod};K8S_POD_UID=u`;
  const handles = async () => (await ds.listKV({ type: 'handle' })).items.map((i) => i.key.handleId.toLowerCase()).sort();
  const namespace = (name: string, annotations: Record<string, string> = {}) =>
    server.putRaw({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, uid: `ns-${name}`, labels: { 'kubernetes.io/metadata.name': name }, annotations } });
  const pod = (name: string, ns: string, annotations: Record<string, string> = {}) =>
    server.putRaw({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns, uid: `pod-uid-${++uid}`, labels: { app: name }, annotations },
      spec: { nodeName: NODE, serviceAccountName: 'default', containers: [{ name: 'c', image: 'busybox', ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }] }] },
      status: { phase: 'Pending' },
    });
  const podAnnotations = (ns: string, name: string) => ((server.getObject(`/api/v1/namespaces/${ns}/pods/${name}`)?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations ?? {});

  before(async () => {
    buildPlugins();
    buildDriver();
    server = await startKubeApiServer({ tls: true });
    ds = createKubernetesDatastore({ kubeconfig: server.kubeconfigPath, apiGroup: 'crd.projectcalico.org/v1' });
    server.putRaw({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, uid: 'node-uid' }, spec: { podCIDR: '10.123.0.0/24', podCIDRs: ['10.123.0.0/24'] } });
    await ds.applyKV(
      { type: 'resource', kind: 'ClusterInformation', name: 'default' },
      { apiVersion: 'projectcalico.org/v3', kind: 'ClusterInformation', metadata: { name: 'default' }, spec: { datastoreReady: true } } as never,
    );
    for (const [name, cidr] of [['default-ipv4-ippool', '10.244.0.0/16'], ['blue', '10.50.0.0/24'], ['green', '10.60.0.0/24']] as const) {
      await ds.applyKV(
        { type: 'resource', kind: 'IPPool', name },
        { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name }, spec: { cidr, blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never', nodeSelector: 'all()' } } as never,
      );
    }
    nodeFile = nodenameFile(NODE);
    host = await CniHost.create();
    await host.relay(Number(new URL(server.url).port));
  });

  after(async () => {
    await host?.close();
    await ds?.close();
    await server?.stop();
  });

  it('pool annotations: the pod beats its namespace; the pod status carries the endpoint; DEL clears it', async () => {
    namespace('team-a', { 'cni.projectcalico.org/ipv4pools': '["green"]' });
    pod('web', 'team-a', { 'cni.projectcalico.org/ipv4pools': '["blue"]' });
    pod('api', 'team-a');
    const netnsWeb = await host.pod();
    const netnsApi = await host.pod();
    const web = (await host.runAsync('add', conf(), { netns: netnsWeb, containerId: 'web-1', args: args('web', 'team-a') }));
    assert.equal(web.code, 0, web.stdout + web.stderr);
    const webIp = (web.json as { ips: { address: string }[] }).ips[0]!.address;
    assert.match(webIp, /^10\.50\.0\.\d+\/32$/, 'pod annotation (blue) wins');
    const api = (await host.runAsync('add', conf(), { netns: netnsApi, containerId: 'api-1', args: args('api', 'team-a') }));
    assert.equal(api.code, 0, api.stdout + api.stderr);
    assert.match((api.json as { ips: { address: string }[] }).ips[0]!.address, /^10\.60\.0\.\d+\/32$/, 'namespace annotation (green) applies');
    // The WorkloadEndpoint in KDD mode is a patch of the pod status annotations.
    const annotations = podAnnotations('team-a', 'web');
    assert.equal(annotations['cni.projectcalico.org/podIP'], webIp);
    assert.equal(annotations['cni.projectcalico.org/podIPs'], webIp);
    assert.equal(annotations['cni.projectcalico.org/containerID'], 'web-1');
    assert.ok((await handles()).includes('k8s-pod-network.web-1'));
    assert.match(podIp(netnsWeb, '-o', 'addr', 'show', 'eth0'), new RegExp(webIp.replace(/\./g, '\\.')));
    const check = (await host.runAsync('check', conf(), { netns: netnsWeb, containerId: 'web-1', args: args('web', 'team-a') }));
    assert.equal(check.code, 0, check.stdout);

    for (let i = 0; i < 2; i++) assert.equal((await host.runAsync('del', conf(), { netns: netnsWeb, containerId: 'web-1', args: args('web', 'team-a') })).code, 0);
    assert.equal(podAnnotations('team-a', 'web')['cni.projectcalico.org/podIP'] ?? '', '');
    assert.ok(!(await handles()).includes('k8s-pod-network.web-1'));
    assert.equal((await host.runAsync('del', conf(), { netns: netnsApi, containerId: 'api-1', args: args('api', 'team-a') })).code, 0);
  });

  it('ipAddrs assigns exactly the requested address (and beats pool annotations)', async () => {
    namespace('team-b');
    pod('fixed', 'team-b', { 'cni.projectcalico.org/ipAddrs': '["10.244.77.7"]', 'cni.projectcalico.org/ipv4pools': '["blue"]' });
    const netns = await host.pod();
    const r = (await host.runAsync('add', conf(), { netns, containerId: 'fixed-1', args: args('fixed', 'team-b') }));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual((r.json as { ips: { address: string }[] }).ips.map((i) => i.address), ['10.244.77.7/32']);
    assert.ok((await handles()).includes('k8s-pod-network.fixed-1'));
    assert.equal((await host.runAsync('del', conf(), { netns, containerId: 'fixed-1', args: args('fixed', 'team-b') })).code, 0);
    assert.ok(!(await handles()).includes('k8s-pod-network.fixed-1'));
  });

  it('ipAddrsNoIpam needs the feature flag; with it the address is used without allocating', async () => {
    namespace('team-c');
    pod('raw', 'team-c', { 'cni.projectcalico.org/ipAddrsNoIpam': '["10.9.9.9"]' });
    const netns = await host.pod();
    const before = await handles();
    const refused = (await host.runAsync('add', conf(), { netns, containerId: 'raw-1', args: args('raw', 'team-c') }));
    assert.equal(refused.code, 1);
    assert.deepEqual([refused.json?.code, refused.json?.msg], [999, 'requested feature is not enabled: ip_addrs_no_ipam']);
    const enabled = conf({ feature_control: { ip_addrs_no_ipam: true } });
    const r = (await host.runAsync('add', enabled, { netns, containerId: 'raw-1', args: args('raw', 'team-c') }));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual((r.json as { ips: { address: string }[] }).ips.map((i) => i.address), ['10.9.9.9/32']);
    assert.deepEqual(await handles(), before, 'nothing allocated');
    assert.equal((await host.runAsync('del', enabled, { netns, containerId: 'raw-1', args: args('raw', 'team-c') })).code, 0);
  });

  it('bad annotations give CNI error JSON and allocate nothing', async () => {
    namespace('team-d');
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'cni.projectcalico.org/ipAddrs': '["10.244.1.1"' }, /failed to parse IPs \["10\.244\.1\.1" for annotation "cni\.projectcalico\.org\/ipAddrs"/],
      [{ 'cni.projectcalico.org/ipAddrs': '[]' }, /annotation "cni\.projectcalico\.org\/ipAddrs" specified but empty/],
      [{ 'cni.projectcalico.org/ipAddrs': '["10.244.1.1","10.244.1.2"]' }, /cannot have more than one IPv4 address/],
      [{ 'cni.projectcalico.org/ipAddrs': '["not-an-ip"]' }, /invalid IP format: not-an-ip/],
      [{ 'cni.projectcalico.org/ipAddrs': '["10.244.1.1"]', 'cni.projectcalico.org/ipAddrsNoIpam': '["10.244.1.1"]' }, /can't have both annotations/],
      [{ 'cni.projectcalico.org/ipv4pools': 'blue' }, /failed to parse cni\.projectcalico\.org\/ipv4pools annotation/],
      [{ 'cni.projectcalico.org/ipv4pools': '["no-such-pool"]' }, /error parsing pool "no-such-pool"/],
      [{ 'cni.projectcalico.org/ipFamilies': '["IPv5"]' }, /error parsing ipFamilies/],
    ];
    const before = await handles();
    const netns = await host.pod();
    let n = 0;
    for (const [annotations, message] of cases) {
      const name = `bad-${++n}`;
      pod(name, 'team-d', annotations);
      const r = (await host.runAsync('add', conf(), { netns, containerId: name, args: args(name, 'team-d') }));
      assert.equal(r.code, 1, JSON.stringify(annotations));
      assert.equal(r.json?.code, 999);
      assert.match(String(r.json?.msg), message);
    }
    assert.deepEqual(await handles(), before);
    assert.equal(podIp(netns, '-o', 'link').split('\n').filter(Boolean).length, 1, 'no interface created');
  });

  it('STATUS succeeds while the API server answers', async () => {
    assert.equal((await host.runAsync('status', conf({ cniVersion: '1.1.0' }))).code, 0);
  });
});
