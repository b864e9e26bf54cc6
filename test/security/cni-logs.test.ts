// The CNI plugins (examples/cni binaries) at log_level debug against etcd with TLS client
// certificates: nothing they print (stderr logs, stdout JSON) contains key material, for a
// working ADD attempt, DEL, and for bad key files (corrupt, mismatched, a certificate instead of
// a key) whose errors must not echo the file. Namespace-free: CNI_NETNS is a missing path (ADD
// stops at the netns step after IPAM; DEL of a missing namespace succeeds), CNI_PATH holds only
// the calico-ipam launcher.
//
// Not covered here (reported): the `ipAddrsNoIpam` refusal needs the pod's annotations from a
// Kubernetes API reachable from the plugin (policy.type k8s), i.e. the libcni + netns harness of
// test/cni; see the final report.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Datastore } from '@libcalico-ts/datastore';
import { createEtcdDatastore } from '@libcalico-ts/datastore-etcd';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { buildPlugins } from '../cni/harness.js';
import { leaked, pemFragments } from '../helpers/reliability-secrets.js';
import { seed as put } from '../helpers/reliability.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CNI = join(ROOT, 'examples', 'cni');

let etcd: EtcdServer;
let ds: Datastore;
let scratch: string;
let cniPath: string;
let secrets: string[];

before(async () => {
  buildPlugins();
  etcd = await startEtcd({ tls: true });
  const tls = etcd.tls!;
  ds = createEtcdDatastore({ endpoints: etcd.endpoints, caFile: tls.caFile, certFile: tls.clientCertFile, keyFile: tls.clientKeyFile });
  await ds.applyKV(
    { type: 'resource', kind: 'ClusterInformation', name: 'default' },
    { apiVersion: 'projectcalico.org/v3', kind: 'ClusterInformation', metadata: { name: 'default' }, spec: { datastoreReady: true, clusterType: 'k8s,bgp' } } as never,
  );
  await put.pool(ds, 'cni-tls', '10.230.0.0/24', { blockSize: 28, ipipMode: 'Never', vxlanMode: 'Never', nodeSelector: 'all()' });
  await put.node(ds, 'node-tls');
  scratch = mkdtempSync(join(tmpdir(), 'lcts-cni-sec-'));
  cniPath = join(scratch, 'bin');
  execFileSync('mkdir', ['-p', cniPath]);
  symlinkSync(join(CNI, 'bin', 'calico-ipam'), join(cniPath, 'calico-ipam'));
  writeFileSync(join(scratch, 'nodename'), 'node-tls');
  secrets = [...pemFragments(tls.clientKeyFile), ...pemFragments(tls.rogueClientKeyFile), ...pemFragments(tls.caKeyFile), ...pemFragments(tls.serverKeyFile)];
});
after(async () => {
  await ds?.close();
  await etcd?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function conf(keyFile: string, plugin = 'calico'): string {
  const tls = etcd.tls!;
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'k8s-pod-network',
    type: plugin,
    datastore_type: 'etcdv3',
    etcd_endpoints: etcd.endpoints.join(','),
    etcd_ca_cert_file: tls.caFile,
    etcd_cert_file: tls.clientCertFile,
    etcd_key_file: keyFile,
    nodename_file: join(scratch, 'nodename'),
    log_level: 'debug',
    ipam: { type: 'calico-ipam' },
  });
}

function run(plugin: string, command: string, stdin: string, containerId: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(join(CNI, 'bin', plugin), [], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: '/nonexistent/netns', CNI_IFNAME: 'eth0', CNI_PATH: cniPath, CNI_ARGS: '', CALICO_CNI_LOG_LEVEL: 'debug' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

test('debug-level ADD and DEL over TLS: the plugins log, and nothing printed contains key material', async (t) => {
  const key = etcd.tls!.clientKeyFile;
  let logs = '';
  for (const plugin of ['calico-ipam', 'calico']) {
    const add = await run(plugin, 'ADD', conf(key, plugin), `sec${plugin.length}`);
    const del = await run(plugin, 'DEL', conf(key, plugin), `sec${plugin.length}`);
    const printed = add.stdout + add.stderr + del.stdout + del.stderr;
    t.diagnostic(`${plugin}: ADD exit ${add.code} (${add.stderr.split("\n").length} log lines): ${add.stdout.replace(/\s+/g, " ").slice(0, 300)}; DEL exit ${del.code}: ${del.stdout.replace(/\s+/g, " ").slice(0, 200)}`);
    logs += add.stderr + del.stderr;
    if (plugin === 'calico-ipam') assert.equal(add.code, 0, `calico-ipam ADD over TLS works: ${add.stdout}`);
    assert.equal(del.code, 0, `${plugin} DEL succeeds: ${del.stdout}`);
    assert.deepEqual(leaked(printed, secrets), [], `${plugin} printed key material`);
  }
  assert.match(logs, /DEBUG/, 'the plugins log at debug level (so the check is meaningful)');
});

const badKeys: { name: string; content: () => string }[] = [
  { name: 'corrupt key', content: () => readFileSync(etcd.tls!.clientKeyFile, 'utf8').replace(/\n([A-Za-z0-9+/]{10})/, '\n$1!!!!') },
  { name: 'mismatched key', content: () => readFileSync(etcd.tls!.rogueClientKeyFile, 'utf8') },
  { name: 'certificate instead of a key', content: () => readFileSync(etcd.tls!.clientCertFile, 'utf8') },
];
for (const bad of badKeys) {
  test(`bad etcd_key_file (${bad.name}): CNI error JSON, no key content in any output`, async () => {
    const path = join(scratch, `${bad.name.replace(/\W+/g, '-')}.key`);
    writeFileSync(path, bad.content(), { mode: 0o600 });
    for (const plugin of ['calico-ipam', 'calico']) {
      const add = await run(plugin, 'ADD', conf(path, plugin), 'badkey1');
      assert.equal(add.code, 1, `${plugin} fails: ${add.stdout}`);
      const body = JSON.parse(add.stdout) as { code: number; msg: string };
      assert.equal(typeof body.code, 'number');
      const printed = add.stdout + add.stderr;
      assert.deepEqual(leaked(printed, [...secrets, ...pemFragments(path)]), [], `${plugin} echoed key material`);
      assert.doesNotMatch(add.stderr, /\n\s+at .+:\d+:\d+/, `${plugin} printed a stack trace: ${add.stderr.slice(-800)}`);
    }
  });
}
