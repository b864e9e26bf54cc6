/**
 * The `calico` / `calico-ipam` plugins driven through libcni on a real etcd, in network
 * namespaces: the plugin runs inside a "host" namespace (ip netns exec), pods get their own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createEtcdDatastore } from '@libcalico-ts/datastore-etcd';
import type { Datastore } from '@libcalico-ts/datastore';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { buildDriver, buildPlugins, cniSuiteSkip, CniHost, nodenameFile, pingFrom, PLUGIN_BIN, podIp, seedCluster } from './harness.js';

const skip = cniSuiteSkip();

const NODE = 'node-a';

describe('CNI plugins on etcd through libcni', { skip }, () => {
  let etcd: EtcdServer;
  let ds: Datastore;
  let host: CniHost;
  let nodeFile: string;

  const conf = (extra: Record<string, unknown> = {}, ipam: Record<string, unknown> = {}) => ({
    cniVersion: '1.0.0',
    name: 'k8s-pod-network',
    type: 'calico',
    datastore_type: 'etcdv3',
    etcd_endpoints: etcd.endpoints.join(','),
    nodename_file: nodeFile,
    mtu: 1450,
    log_level: 'error',
    ipam: { type: 'calico-ipam', ...ipam },
    ...extra,
  });
  const k8sArgs = (pod: string, ns = 'default') => `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=x`;
  const handles = async () => (await ds.listKV({ type: 'handle' })).items.map((i) => i.key.handleId).sort();
  const weps = async () => (await ds.listKV({ type: 'resource', kind: 'WorkloadEndpoint' })).items;
  const hostLinks = () => host.ip('-o', 'link').split('\n').filter((l) => l.includes('cali')).length;

  before(async () => {
    buildPlugins();
    buildDriver();
    etcd = await startEtcd();
    ds = createEtcdDatastore({ endpoints: etcd.endpoints });
    await seedCluster(ds, { node: NODE, pools: [{ name: 'default-ipv4-ippool', cidr: '10.244.0.0/16' }, { name: 'v6', cidr: 'fd00:10:244::/64' }, { name: 'tiny', cidr: '10.99.0.0/30', blockSize: 30 }, { name: 'other', cidr: '10.77.0.0/24', blockSize: 28 }] });
    nodeFile = nodenameFile(NODE);
    host = await CniHost.create();
    // The "host" has an address of its own and forwards between pods.
    host.ip('address', 'add', '10.200.0.1/32', 'dev', 'lo');
    // A default route, as every node has: proxy ARP answers for 169.254.1.1 only when the host
    // routes that address through another interface.
    host.ip('link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink1');
    host.ip('link', 'set', 'uplink0', 'up');
    host.ip('link', 'set', 'uplink1', 'up');
    host.ip('route', 'add', 'default', 'dev', 'uplink0');
    await host.relay(Number(new URL(etcd.endpoints[0]!).port));
    spawnSync('ip', ['netns', 'exec', host.name, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  });

  after(async () => {
    await host?.close();
    await ds?.close();
    await etcd?.stop();
  });

  it('VERSION lists every supported spec version', () => {
    const r = host.run('version', 'calico');
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(r.json, { cniVersion: '1.1.0', supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });

  it('two pods get addresses, Calico names, a WorkloadEndpoint each, and reach each other and the host', async () => {
    const podA = await host.pod();
    const podB = await host.pod();
    const a = host.run('add', conf(), { netns: podA, containerId: 'cid-aaaa1111', args: k8sArgs('nginx') });
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const b = host.run('add', conf(), { netns: podB, containerId: 'cid-bbbb2222', args: k8sArgs('coredns-7db6d8ff4d-abcde', 'kube-system') });
    assert.equal(b.code, 0, b.stdout + b.stderr);
    const ra = a.json as { interfaces: { name: string; mac?: string; sandbox?: string; mtu?: number }[]; ips: { address: string; interface: number }[]; routes: { dst: string }[] };
    assert.equal(ra.interfaces[0]!.name, 'calic440f455693');
    assert.equal(ra.interfaces[1]!.name, 'eth0');
    assert.equal(ra.interfaces[1]!.sandbox, podA);
    assert.match(ra.interfaces[1]!.mac!, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.equal(ra.ips.length, 1);
    assert.match(ra.ips[0]!.address, /^10\.244\.\d+\.\d+\/32$/);
    assert.equal(ra.ips[0]!.interface, 1);
    assert.match(ra.routes[0]!.dst, /^10\.244\.\d+\.\d+\/26$/);
    assert.equal((b.json as typeof ra).interfaces[0]!.name, 'calif90c21019df');
    const ipA = ra.ips[0]!.address.split('/')[0]!;
    const ipB = (b.json as typeof ra).ips[0]!.address.split('/')[0]!;

    // Kernel state: the Calico veth and routes.
    const hostLink = host.ip('-o', 'link', 'show', 'calic440f455693');
    assert.match(hostLink, /link\/ether ee:ee:ee:ee:ee:ee/);
    assert.match(hostLink, /mtu 1450/);
    assert.match(host.ip('-d', 'route', 'show', 'exact', `${ipA}/32`), /dev calic440f455693 proto boot scope link/);
    assert.match(podIp(podA, 'route'), /default via 169\.254\.1\.1 dev eth0/);
    assert.match(podIp(podA, '-o', 'addr', 'show', 'eth0'), new RegExp(`inet ${ipA.replace(/\./g, '\\.')}/32`));
    assert.ok(pingFrom(podA, ipB), 'pod A reaches pod B');
    assert.ok(pingFrom(podB, ipA), 'pod B reaches pod A');
    assert.ok(pingFrom(podA, '10.200.0.1'), 'pod A reaches the host');

    // Datastore state.
    const wep = (await weps()).find((w) => w.key.name === 'node--a-k8s-nginx-eth0');
    assert.ok(wep, 'endpoint node--a-k8s-nginx-eth0 exists');
    const spec = (wep!.value as { spec: Record<string, unknown> }).spec;
    assert.equal(wep!.key.namespace, 'default');
    assert.deepEqual(spec.ipNetworks, [`${ipA}/32`]);
    assert.equal(spec.interfaceName, 'calic440f455693');
    assert.equal(spec.mac, ra.interfaces[1]!.mac);
    assert.equal(spec.containerID, 'cid-aaaa1111');
    assert.equal(spec.orchestrator, 'k8s');
    assert.equal(spec.node, NODE);
    assert.ok((await weps()).some((w) => w.key.name === 'node--a-k8s-coredns--7db6d8ff4d--abcde-eth0' && w.key.namespace === 'kube-system'));
    assert.ok((await handles()).includes('k8s-pod-network.cid-aaaa1111'));

    // CHECK passes on a healthy attachment...
    const check = host.run('check', conf(), { netns: podA, containerId: 'cid-aaaa1111', args: k8sArgs('nginx') });
    assert.equal(check.code, 0, check.stdout);
    // ...and fails once the host route is gone.
    host.ip('route', 'del', `${ipA}/32`, 'dev', 'calic440f455693');
    const broken = host.run('check', conf(), { netns: podA, containerId: 'cid-aaaa1111', args: k8sArgs('nginx') });
    assert.equal(broken.code, 1);
    assert.match(String(broken.json?.msg), /no host route/);

    // DEL twice: everything goes, the second DEL is a no-op success.
    for (let i = 0; i < 2; i++) {
      const d = host.run('del', conf(), { netns: podA, containerId: 'cid-aaaa1111', args: k8sArgs('nginx') });
      assert.equal(d.code, 0, d.stdout);
    }
    assert.ok(!(await handles()).includes('k8s-pod-network.cid-aaaa1111'));
    assert.ok(!(await weps()).some((w) => w.key.name === 'node--a-k8s-nginx-eth0'));
    assert.doesNotMatch(host.ip('-o', 'link'), /calic440f455693/);
    // DEL after the pod namespace is gone, and DEL of a container never seen.
    await host.dropPod(podB);
    assert.equal(host.run('del', conf(), { netns: podB, containerId: 'cid-bbbb2222', args: k8sArgs('coredns-7db6d8ff4d-abcde', 'kube-system') }).code, 0);
    assert.ok(!(await handles()).includes('k8s-pod-network.cid-bbbb2222'));
    assert.equal(host.run('del', conf(), { netns: '/run/netns/never-existed', containerId: 'unknown-1', args: k8sArgs('ghost') }).code, 0);
  });

  it('non-Kubernetes runtimes use the container id for names and get the network profile', async () => {
    const pod = await host.pod();
    const r = host.run('add', conf({ name: 'plain-net' }), { netns: pod, containerId: '0123456789abcdef' });
    assert.equal(r.code, 0, r.stdout);
    assert.equal((r.json as { interfaces: { name: string }[] }).interfaces[0]!.name, 'cali0123456789a');
    const wep = (await weps()).find((w) => w.key.name === 'node--a-cni-0123456789abcdef-eth0');
    assert.ok(wep);
    assert.deepEqual((wep!.value as { spec: { profiles: string[] } }).spec.profiles, ['plain-net']);
    const profile = await ds.getKV({ type: 'resource', kind: 'Profile', name: 'plain-net' });
    assert.deepEqual((profile.value as { spec: { labelsToApply: unknown } }).spec.labelsToApply, { 'plain-net': '' });
    // A repeated ADD returns the stored addresses and allocates nothing new.
    const again = host.run('add', conf({ name: 'plain-net' }), { netns: pod, containerId: '0123456789abcdef' });
    assert.equal(again.code, 0, again.stdout);
    assert.deepEqual((again.json as { ips: unknown }).ips, (r.json as { ips: unknown }).ips);
    assert.equal(host.run('del', conf({ name: 'plain-net' }), { netns: pod, containerId: '0123456789abcdef' }).code, 0);
    assert.ok(!(await handles()).includes('plain-net.0123456789abcdef'));
  });

  it('dual stack: one IPv4 and one IPv6 address, IPv6 default route via the host link-local address', async () => {
    const pod = await host.pod();
    const r = host.run('add', conf({}, { assign_ipv6: 'true' }), { netns: pod, containerId: 'dual-1', args: k8sArgs('dual') });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const ips = (r.json as { ips: { address: string }[] }).ips.map((i) => i.address);
    assert.equal(ips.length, 2);
    assert.match(ips[1]!, /^fd00:10:244:.*\/128$/);
    assert.match(podIp(pod, '-6', 'route'), /default via fe80::ecee:eeff:feee:eeee dev eth0/);
    assert.equal(host.run('del', conf({}, { assign_ipv6: 'true' }), { netns: pod, containerId: 'dual-1', args: k8sArgs('dual') }).code, 0);
  });

  it('pool selection by name in ipv4_pools, and exhaustion fails cleanly', async () => {
    const pod = await host.pod();
    const byName = host.run('add', conf({}, { ipv4_pools: ['other'] }), { netns: pod, containerId: 'pick-1', args: k8sArgs('pick') });
    assert.equal(byName.code, 0, byName.stdout);
    assert.match((byName.json as { ips: { address: string }[] }).ips[0]!.address, /^10\.77\.0\./);
    assert.equal(host.run('del', conf({}, { ipv4_pools: ['other'] }), { netns: pod, containerId: 'pick-1', args: k8sArgs('pick') }).code, 0);

    const tiny = conf({}, { ipv4_pools: ['10.99.0.0/30'] });
    const linksBefore = hostLinks();
    const ids: string[] = [];
    let failure: Record<string, unknown> | undefined;
    for (let i = 0; i < 6 && !failure; i++) {
      const p = await host.pod();
      const r = host.run('add', tiny, { netns: p, containerId: `tiny-${i}`, args: k8sArgs(`tiny-${i}`) });
      if (r.code === 0) ids.push(`tiny-${i}`);
      else failure = r.json;
    }
    assert.equal(ids.length, 4, 'a /30 block holds four addresses');
    assert.equal(failure?.code, 999);
    assert.match(String(failure?.msg), /^failed to request IPv4 addresses: Assigned 0 out of 1 requested IPv4 addresses/);
    assert.ok(!(await handles()).includes('k8s-pod-network.tiny-4'), 'the failed ADD holds no handle');
    assert.equal(hostLinks(), linksBefore + ids.length, 'no veth left by the failed ADD');
    for (const id of ids) assert.equal(host.run('del', tiny, { netns: '', containerId: id, args: k8sArgs(id) }).code, 0);
  });

  it('a datastore that is not ready fails ADD and DEL before anything changes (reads may overlap the check)', async () => {
    const setReady = (ready: boolean) =>
      ds.applyKV(
        { type: 'resource', kind: 'ClusterInformation', name: 'default' },
        { apiVersion: 'projectcalico.org/v3', kind: 'ClusterInformation', metadata: { name: 'default' }, spec: { datastoreReady: ready, clusterType: 'k8s,bgp' } } as never,
      );
    const pod = await host.pod();
    const added = host.run('add', conf(), { netns: pod, containerId: 'ready-1', args: k8sArgs('ready') });
    assert.equal(added.code, 0, added.stdout);
    const linksBefore = hostLinks();
    await setReady(false);
    try {
      const pod2 = await host.pod();
      const add = host.run('add', conf(), { netns: pod2, containerId: 'ready-2', args: k8sArgs('notready') });
      assert.equal(add.code, 1);
      assert.equal(add.json?.code, 999);
      assert.equal(add.json?.msg, 'Calico is currently not ready to process requests');
      assert.ok(!(await handles()).includes('k8s-pod-network.ready-2'), 'nothing allocated');
      assert.ok(!(await weps()).some((w) => w.key.name === 'node--a-k8s-notready-eth0'), 'no endpoint');
      assert.equal(podIp(pod2, '-o', 'link').split('\n').filter(Boolean).length, 1, 'only lo in the pod');
      assert.equal(hostLinks(), linksBefore, 'no host veth');
      // DEL must be retried later: it fails and leaves the attachment intact.
      const del = host.run('del', conf(), { netns: pod, containerId: 'ready-1', args: k8sArgs('ready') });
      assert.equal(del.code, 1);
      assert.equal(del.json?.msg, 'Calico is currently not ready to process requests');
      assert.ok((await handles()).includes('k8s-pod-network.ready-1'), 'handle kept');
      assert.ok((await weps()).some((w) => w.key.name === 'node--a-k8s-ready-eth0'), 'endpoint kept');
      assert.match(podIp(pod, '-o', 'link'), /eth0/, 'interface kept');
    } finally {
      await setReady(true);
    }
    assert.equal(host.run('del', conf(), { netns: pod, containerId: 'ready-1', args: k8sArgs('ready') }).code, 0);
    assert.ok(!(await handles()).includes('k8s-pod-network.ready-1'));
  });

  it('malformed NetConf gives CNI error JSON and allocates nothing', async () => {
    const before = await handles();
    const pod = await host.pod();
    const cases: [Record<string, unknown>, RegExp][] = [
      [conf({}, { assign_ipv4: true }), /cannot unmarshal bool into Go struct field IPAM\.ipam\.assign_ipv4 of type string/],
      [conf({ mtu: 'big' }), /cannot unmarshal string into Go struct field NetConf\.mtu of type int/],
      [conf({}, { ipv4_pools: ['no-such-pool'] }), /error parsing pool "no-such-pool"/],
      [conf({}, { ipv4_pools: ['fd00::/64'] }), /"fd00::" isn't a IPv4 address/],
      [conf({ device_type: 'tap' }), /unknown device_type "tap"/],
      [conf({ nodename_file: '/nonexistent/nodename' }), /check that the calico\/node container is running/],
    ];
    for (const [c, message] of cases) {
      const r = host.run('add', c, { netns: pod, containerId: 'bad-1', args: k8sArgs('bad') });
      assert.equal(r.code, 1, JSON.stringify(c));
      assert.equal(r.json?.code, 999);
      assert.match(String(r.json?.msg), message);
    }
    // Rejected by the CNI layer: incompatible version, bad container id, bad network name.
    const direct = (stdin: string, env: Record<string, string>) =>
      spawnSync('ip', ['netns', 'exec', host.name, `${PLUGIN_BIN}/calico`], {
        input: stdin,
        encoding: 'utf8',
        env: { PATH: process.env.PATH!, CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'bad-2', CNI_NETNS: pod, CNI_IFNAME: 'eth0', CNI_PATH: PLUGIN_BIN, ...env },
      });
    const v = direct(JSON.stringify(conf({ cniVersion: '2.0.0' })), {});
    assert.equal(v.status, 1);
    assert.deepEqual(JSON.parse(v.stdout), {
      cniVersion: '1.1.0',
      code: 1,
      msg: 'incompatible CNI versions',
      details: 'config is "2.0.0", plugin supports ["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]',
    });
    assert.equal(JSON.parse(direct('{not json', {}).stdout).code, 6);
    assert.equal(JSON.parse(direct(JSON.stringify(conf({ name: 'bad name' })), {}).stdout).code, 7);
    assert.equal(JSON.parse(direct(JSON.stringify(conf()), { CNI_CONTAINERID: '-bad' }).stdout).code, 4);
    const missing = JSON.parse(direct(JSON.stringify(conf()), { CNI_NETNS: '' }).stdout);
    assert.deepEqual([missing.code, missing.msg], [4, 'required env variables [CNI_NETNS] missing']);
    assert.deepEqual(await handles(), before);
    assert.equal(podIp(pod, '-o', 'link').split('\n').filter(Boolean).length, 1, 'only lo in the pod');
  });

  it('a failure half-way (interface name taken in the pod) leaves nothing behind', async () => {
    const pod = await host.pod();
    podIp(pod, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other0');
    const linksBefore = hostLinks();
    const r = host.run('add', conf(), { netns: pod, containerId: 'half-1', args: k8sArgs('half') });
    assert.equal(r.code, 1);
    assert.equal(r.json?.code, 999);
    assert.match(String(r.json?.msg), /error setting up the pod interface/);
    assert.ok(!(await handles()).includes('k8s-pod-network.half-1'), 'the address was released');
    assert.equal(hostLinks(), linksBefore, 'no host veth left');
    assert.ok(!(await weps()).some((w) => w.key.name === 'node--a-k8s-half-eth0'));
  });

  for (const version of ['0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
    it(`CNI ${version}: result shape, CHECK where allowed, DEL`, async () => {
      const pod = await host.pod();
      const c = conf({ cniVersion: version });
      const id = `ver-${version.replace(/\./g, '')}`;
      const r = host.run('add', c, { netns: pod, containerId: id, args: k8sArgs(id) });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const result = r.json as Record<string, unknown>;
      assert.equal(result.cniVersion, version);
      const ips = result.ips as Record<string, unknown>[];
      if (version.startsWith('0.')) assert.equal(ips[0]!.version, '4');
      else assert.equal('version' in ips[0]!, false);
      const check = host.run('check', c, { netns: pod, containerId: id, args: k8sArgs(id) });
      if (version === '0.3.1') assert.notEqual(check.code, 0, 'CHECK is not defined before 0.4.0');
      else assert.equal(check.code, 0, check.stdout + check.stderr);
      assert.equal(host.run('del', c, { netns: pod, containerId: id, args: k8sArgs(id) }).code, 0);
      assert.ok(!(await handles()).includes(`k8s-pod-network.${id}`));
    });
  }

  it('prints results exactly as Calico does (0.3.1 struct order and dns, 1.0.0 sorted keys, no trailing newline)', async () => {
    const pod = await host.pod();
    const run = (version: string, id: string) =>
      spawnSync('ip', ['netns', 'exec', host.name, `${PLUGIN_BIN}/calico`], {
        input: JSON.stringify(conf({ cniVersion: version })),
        encoding: 'utf8',
        env: { PATH: process.env.PATH!, CNI_COMMAND: 'ADD', CNI_CONTAINERID: id, CNI_NETNS: pod, CNI_IFNAME: 'eth0', CNI_PATH: PLUGIN_BIN, CNI_ARGS: k8sArgs('shape') },
      });
    const old = run('0.3.1', 'shape-1');
    assert.equal(old.status, 0, old.stdout);
    assert.ok(!old.stdout.endsWith('\n'));
    assert.match(old.stdout, /^\{\n {4}"cniVersion": "0\.3\.1",\n {4}"interfaces": \[/);
    assert.deepEqual(Object.keys(JSON.parse(old.stdout)), ['cniVersion', 'interfaces', 'ips', 'routes', 'dns']);
    assert.deepEqual(Object.keys(JSON.parse(old.stdout).ips[0]), ['version', 'interface', 'address']);
    spawnSync('ip', ['netns', 'exec', host.name, `${PLUGIN_BIN}/calico`], { input: JSON.stringify(conf({ cniVersion: '0.3.1' })), env: { PATH: process.env.PATH!, CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'shape-1', CNI_NETNS: pod, CNI_IFNAME: 'eth0', CNI_PATH: PLUGIN_BIN, CNI_ARGS: k8sArgs('shape') } });
    const now = run('1.0.0', 'shape-2');
    assert.equal(now.status, 0, now.stdout);
    const parsed = JSON.parse(now.stdout);
    assert.deepEqual(Object.keys(parsed), ['cniVersion', 'interfaces', 'ips', 'routes']);
    assert.deepEqual(Object.keys(parsed.interfaces[1]), ['mac', 'mtu', 'name', 'sandbox']);
    assert.equal(parsed.interfaces[1].mtu, 1450);
    assert.deepEqual(Object.keys(parsed.ips[0]), ['address', 'interface']);
    assert.equal(host.run('del', conf(), { netns: pod, containerId: 'shape-2', args: k8sArgs('shape') }).code, 0);
  });

  it('GC releases allocations whose attachments are not valid any more; STATUS follows the datastore', async () => {
    const c = conf({ cniVersion: '1.1.0' });
    const keep = await host.pod();
    const drop = await host.pod();
    assert.equal(host.run('add', c, { netns: keep, containerId: 'gc-keep', args: k8sArgs('gc-keep') }).code, 0);
    assert.equal(host.run('add', c, { netns: drop, containerId: 'gc-drop', args: k8sArgs('gc-drop') }).code, 0);
    const gc = host.run('gc', c, { valid: [{ containerID: 'gc-keep', ifname: 'eth0' }] });
    assert.equal(gc.code, 0, gc.stdout + gc.stderr);
    const after = await handles();
    assert.ok(after.includes('k8s-pod-network.gc-keep'));
    assert.ok(!after.includes('k8s-pod-network.gc-drop'));
    assert.equal(host.run('del', c, { netns: keep, containerId: 'gc-keep', args: k8sArgs('gc-keep') }).code, 0);
    assert.equal(host.run('del', c, { netns: drop, containerId: 'gc-drop', args: k8sArgs('gc-drop') }).code, 0);
    // GC needs spec 1.1.0.
    assert.equal(host.run('gc', conf()).json?.code, 1);

    assert.equal(host.run('status', c).code, 0);
    const down = host.run('status', conf({ cniVersion: '1.1.0', etcd_endpoints: 'http://127.0.0.1:1' }));
    assert.equal(down.code, 1);
    assert.equal(down.json?.code, 50);
  });
});
