/**
 * Thick-plugin mode through libcni on a real etcd: `calico-cni-server` runs in the "host"
 * namespace, the launchers hand invocations to dist/calico-shim when the server's socket exists,
 * and fall back to running the plugin themselves when nothing answers on it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEtcdDatastore } from '@libcalico-ts/datastore-etcd';
import type { Datastore } from '@libcalico-ts/datastore';
import { workloadInterfaceName } from '@libcalico-ts/dataplane';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { buildDriver, buildPlugins, cniSuiteSkip, CNI_DIR, CniHost, nodenameFile, podIp, runtimeEnv, seedCluster } from './harness.js';

const skip = cniSuiteSkip();

const NODE = 'node-thick';

describe('CNI thick-plugin mode (shim + calico-cni-server) through libcni', { skip }, () => {
  let etcd: EtcdServer;
  let ds: Datastore;
  let host: CniHost;
  let nodeFile: string;
  let work: string;
  let socket: string;
  let server: ChildProcess | undefined;
  const served: string[] = [];

  const conf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: '1.0.0',
    name: 'k8s-pod-network',
    type: 'calico',
    datastore_type: 'etcdv3',
    etcd_endpoints: etcd.endpoints.join(','),
    nodename_file: nodeFile,
    mtu: 1450,
    log_level: 'info',
    ipam: { type: 'calico-ipam' },
    ...extra,
  });
  const k8sArgs = (pod: string) => `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod}`;
  const env = () => ({ ...runtimeEnv(), CALICO_CNI_SERVER_SOCKET: socket });
  /** The server's log lines since `from`, once `count` arrived (host.run blocks this process meanwhile). */
  const servedSince = async (from: number, count: number) => {
    for (let i = 0; i < 100 && served.length - from < count; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    return served.slice(from).map((l) => l.split(' -> ')[0]);
  };
  const handles = async () => (await ds.listKV({ type: 'handle' })).items.map((i) => i.key.handleId);
  const weps = async () => (await ds.listKV({ type: 'resource', kind: 'WorkloadEndpoint' })).items.map((i) => i.key.name);

  async function startServer(): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', host.name, process.execPath, join(CNI_DIR, 'dist', 'calico-cni-server.mjs'), '--socket', socket], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...runtimeEnv(), CALICO_CNI_SERVER_VERBOSE: '1' },
    });
    child.stderr!.on('data', (d: Buffer) => served.push(...d.toString('utf8').split('\n').filter(Boolean)));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`calico-cni-server exited with ${code}`)));
    });
    server = child;
  }

  before(async () => {
    buildPlugins();
    buildDriver();
    assert.ok(existsSync(join(CNI_DIR, 'dist', 'calico-shim')), 'dist/calico-shim is built (Go toolchain present)');
    etcd = await startEtcd();
    ds = createEtcdDatastore({ endpoints: etcd.endpoints });
    await seedCluster(ds, { node: NODE, pools: [{ name: 'default-ipv4-ippool', cidr: '10.244.0.0/16' }] });
    nodeFile = nodenameFile(NODE);
    host = await CniHost.create();
    await host.relay(Number(new URL(etcd.endpoints[0]!).port));
    work = mkdtempSync(join(tmpdir(), 'lcts-cni-thick-'));
    socket = join(work, 'cni-server.sock');
    await startServer();
  });

  after(async () => {
    server?.kill('SIGKILL');
    await host?.close();
    await ds?.close();
    await etcd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ADD, CHECK and DEL are served by the server with the same results as in-process', async () => {
    const pod = await host.pod();
    const before = served.length;
    const add = host.run('add', conf(), { netns: pod, containerId: 'thick-1', args: k8sArgs('web'), baseEnv: env() });
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const result = add.json as { interfaces: { name: string; mac?: string }[]; ips: { address: string }[] };
    assert.equal(result.interfaces[0]!.name, workloadInterfaceName('default', 'web'));
    assert.match(result.ips[0]!.address, /^10\.244\.\d+\.\d+\/32$/);
    const ip = result.ips[0]!.address.split('/')[0]!;
    assert.match(podIp(pod, '-o', 'addr', 'show', 'eth0'), new RegExp(`inet ${ip.replace(/\./g, '\\.')}/32`));
    assert.ok((await handles()).includes('k8s-pod-network.thick-1'));
    assert.ok((await weps()).includes('node--thick-k8s-web-eth0'));
    assert.equal(host.run('check', conf(), { netns: pod, containerId: 'thick-1', args: k8sArgs('web'), baseEnv: env() }).code, 0);
    const del = host.run('del', conf(), { netns: pod, containerId: 'thick-1', args: k8sArgs('web'), baseEnv: env() });
    assert.equal(del.code, 0, del.stdout);
    assert.ok(!(await handles()).includes('k8s-pod-network.thick-1'));
    assert.ok(!(await weps()).includes('node--thick-k8s-web-eth0'));
    assert.doesNotMatch(podIp(pod, '-o', 'link'), /eth0/);
    // The server saw ADD, CHECK and DEL (and the plugin's stderr came back through the shim).
    assert.deepEqual(await servedSince(before, 3), ['calico ADD', 'calico CHECK', 'calico DEL']);
  });

  it('errors come back as the plugin prints them, and a failed ADD leaves nothing behind', async () => {
    const pod = await host.pod();
    const missing = host.run('add', conf({ nodename_file: join(work, 'absent') }), { netns: pod, containerId: 'thick-2', args: k8sArgs('api'), baseEnv: env() });
    assert.equal(missing.code, 1);
    assert.equal(missing.json?.code, 999);
    assert.match(String(missing.json?.msg), /absent: no such file or directory: check that the calico\/node container is running/);
    // The pod already has eth0: the veth cannot be made, the addresses are released again.
    podIp(pod, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other0');
    const clash = host.run('add', conf(), { netns: pod, containerId: 'thick-3', args: k8sArgs('api'), baseEnv: env() });
    assert.equal(clash.code, 1, clash.stdout);
    assert.match(String(clash.json?.msg), /error setting up the pod interface/);
    assert.ok(!(await handles()).includes('k8s-pod-network.thick-3'));
    assert.ok(!(await weps()).includes('node--thick-k8s-api-eth0'));
  });

  it('falls back to the plugin in its own process when the socket is stale or absent', async () => {
    server!.kill('SIGKILL');
    await new Promise((resolve) => server!.once('exit', resolve));
    server = undefined;
    assert.ok(lstatSync(socket).isSocket(), 'the killed server left its socket file');
    const before = served.length;
    for (const [label, baseEnv] of [['stale socket', env()], ['no socket', { ...runtimeEnv(), CALICO_CNI_SERVER_SOCKET: join(work, 'nothing.sock') }]] as const) {
      const pod = await host.pod();
      const add = host.run('add', conf(), { netns: pod, containerId: 'thick-4', args: k8sArgs('batch'), baseEnv });
      assert.equal(add.code, 0, `${label}: ${add.stdout} ${add.stderr}`);
      assert.ok((await handles()).includes('k8s-pod-network.thick-4'), label);
      const del = host.run('del', conf(), { netns: pod, containerId: 'thick-4', args: k8sArgs('batch'), baseEnv });
      assert.equal(del.code, 0, `${label}: ${del.stdout}`);
      assert.ok(!(await handles()).includes('k8s-pod-network.thick-4'), label);
    }
    assert.deepEqual(await servedSince(before, 0), [], 'nothing went to the (dead) server');
    // A new server takes the stale socket over and serves again.
    await startServer();
    const pod = await host.pod();
    assert.equal(host.run('add', conf(), { netns: pod, containerId: 'thick-5', args: k8sArgs('again'), baseEnv: env() }).code, 0);
    assert.equal(host.run('del', conf(), { netns: pod, containerId: 'thick-5', args: k8sArgs('again'), baseEnv: env() }).code, 0);
    assert.deepEqual(await servedSince(before, 2), ['calico ADD', 'calico DEL']);
  });
});
