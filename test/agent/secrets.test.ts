/**
 * BGP passwords in the node agent: the password Secrets a BGPPeer (`password.secretKeyRef`) and
 * BGPConfiguration `default` (`nodeMeshPassword.secretKeyRef`) name are read from the agent's
 * secret source and rendered as `password "...";` lines; bird.cfg is then mode 0600 and the files
 * without a password keep 0644; nothing the agent prints, at debug level, contains a password.
 *
 * - `--secrets-dir`: the Agent in this process on the memory datastore (BIRD files only; the
 *   routes step runs against a throwaway namespace, so root is needed as for test/agent/agent.test.ts).
 * - Kubernetes: `calico-agent bird --onetime` as a child process, and the Agent in this process,
 *   against the Kubernetes API test server. The test server has no Secrets, so a small front
 *   (./secret-api.ts) answers the Secret GETs and passes everything else through; a Secret GET
 *   against the test server itself (TLS) shows the 404 path.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BGPConfiguration, BGPPeer, IPPool, Node } from '@libcalico-ts/api';
import { createClient, createClientFromConfig, type Client } from '@libcalico-ts/client';
import { createNetns, deleteNetns, openNetns, type NetnsSession } from '@libcalico-ts/dataplane';
import { createMemoryDatastore } from '@libcalico-ts/datastore';
import { Agent } from '../../examples/agent/src/agent.js';
import { createLogger } from '../../examples/agent/src/log.js';
import { DirectorySecretSource } from '../../examples/agent/src/secrets.js';
import { createKubernetesSecretSource } from '../../examples/agent/src/secrets-kubernetes.js';
import { birdAvailable, birdParse } from '../helpers/bird.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { netnsUnavailableReason, uniqueNetnsName } from '../helpers/netns.js';
import { captureOutput } from '../helpers/reliability-secrets.js';
import { startSecretFront, type SecretFront } from './secret-api.js';

const skipNetns = netnsUnavailableReason() ?? false;
const FILES = ['bird.cfg', 'bird6.cfg', 'bird_ipam.cfg', 'bird6_ipam.cfg', 'bird_aggr.cfg', 'bird6_aggr.cfg'];

const node = (name: string, ipv4: string): Node => ({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name }, spec: { bgp: { ipv4Address: ipv4 } } }) as Node;
const pool: IPPool = { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'flat' }, spec: { cidr: '10.245.0.0/16' } } as IPPool;
const torPeer = (key: string): BGPPeer =>
  ({ apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { peerIP: '192.168.10.254', asNumber: 65001, password: { secretKeyRef: { name: 'bgp-secrets', key } } } }) as BGPPeer;
const meshConfig = (withPassword: boolean): BGPConfiguration =>
  ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'BGPConfiguration',
    metadata: { name: 'default' },
    spec: { asNumber: 64512, ...(withPassword ? { nodeMeshPassword: { secretKeyRef: { name: 'bgp-secrets', key: 'mesh' } } } : {}) },
  }) as BGPConfiguration;

/** In Kubernetes mode Calico Nodes are views of Kubernetes Nodes (BGP address in an annotation). */
const kubeNode = (name: string, ipv4: string) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, labels: { 'kubernetes.io/hostname': name }, annotations: { 'projectcalico.org/IPv4Address': ipv4 } },
  spec: {},
});

async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const modeOf = (path: string) => statSync(path).mode & 0o777;
const read = (dir: string, file = 'bird.cfg') => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : '');
/** The `protocol bgp NAME ... }` block of bird.cfg. */
function protocolBlock(cfg: string, name: string): string {
  const start = cfg.indexOf(`protocol bgp ${name} `);
  assert.ok(start >= 0, `bird.cfg has protocol ${name}`);
  const end = cfg.indexOf('\n}', start);
  return cfg.slice(start, end + 2);
}

/**
 * Asserts the files' modes: 0600 for the ones holding a password, 0644 for the rest. (Waits for
 * all six first: the agent writes them one after the other, bird.cfg first.)
 */
async function assertModes(dir: string, withPassword: string[]): Promise<void> {
  await until(() => FILES.every((file) => existsSync(join(dir, file))), 'all six BIRD files written');
  for (const file of FILES) {
    const expected = withPassword.includes(file) ? 0o600 : 0o644;
    assert.equal(modeOf(join(dir, file)).toString(8), expected.toString(8), `${file} mode`);
    assert.equal(/^\s*password "/m.test(read(dir, file)), withPassword.includes(file), `${file} holds a password iff listed`);
  }
}

describe('agent --secrets-dir: BGP passwords rendered, 0600, never logged', { skip: skipNetns, timeout: 120_000 }, () => {
  const TOR1 = 'Tor-Secret-one-4d81c2';
  const TOR2 = 'Tor-Secret-two-9e03aa';
  const TORV2 = 'Tor-Secret-v2-5b7710';
  const MESH = 'Mesh-Secret-77f0e1';
  const INJECT = 'inj"; }\nprotocol static evil { ipv4; route 0.0.0.0/0 blackhole; }\n#';
  const ALL = [TOR1, TOR2, TORV2, MESH];
  const secretsDir = mkdtempSync(join(tmpdir(), 'lcts-agent-secrets-'));
  const birdDir = mkdtempSync(join(tmpdir(), 'lcts-agent-pwbird-'));
  const ns = uniqueNetnsName('pw');
  let session: NetnsSession;
  let client: Client;
  let agent: Agent;
  let source: DirectorySecretSource;
  let captured = '';

  before(async () => {
    mkdirSync(join(secretsDir, 'bgp-secrets'));
    writeFileSync(join(secretsDir, 'bgp-secrets', 'tor'), TOR1);
    writeFileSync(join(secretsDir, 'bgp-secrets', 'mesh'), MESH);
    await createNetns(ns);
    session = await openNetns(ns);
    client = createClient({ datastore: createMemoryDatastore() });
    await client.ipPools.create(pool);
    await client.nodes.create(node('node-a', '192.168.10.1/24'));
    await client.nodes.create(node('node-b', '192.168.10.2/24'));
    await client.bgpConfigurations.create(meshConfig(true));
    await client.bgpPeers.create(torPeer('tor'));
    source = new DirectorySecretSource(secretsDir, { logger: createLogger('debug') });
    agent = new Agent({
      nodeName: 'node-a',
      client,
      ops: session,
      netns: ns,
      // Debug level, written to the real stderr: everything the agent prints is captured below.
      logger: createLogger('debug'),
      backend: 'bird',
      birdDir,
      dialect: 'bird2',
      iptables: false,
      debounceMs: 10,
      resyncIntervalMs: 0,
      secrets: source,
      secretRefreshMs: 150,
    });
  });

  after(async () => {
    await agent?.stop();
    await source?.close();
    await session?.close();
    await client?.close();
    await deleteNetns(ns, { ignoreMissing: true });
    rmSync(secretsDir, { recursive: true, force: true });
    rmSync(birdDir, { recursive: true, force: true });
  });

  it('follows start, rotation, a BGPPeer change, an unusable value and a removed mesh password', async () => {
    const run = await captureOutput(async () => {
      await agent.start();
      // 1. Both passwords rendered on their peers' protocols; bird.cfg 0600, the rest 0644.
      await until(() => read(birdDir).includes(`password "${TOR1}";`), 'tor password in bird.cfg');
      const cfg = read(birdDir);
      assert.match(protocolBlock(cfg, 'Global_192_168_10_254'), new RegExp(`\\n\\s*password "${TOR1}";\\n`));
      assert.match(protocolBlock(cfg, 'Mesh_192_168_10_2'), new RegExp(`\\n\\s*password "${MESH}";\\n`));
      await assertModes(birdDir, ['bird.cfg']);
      if (birdAvailable()) assert.equal(await birdParse(join(birdDir, 'bird.cfg')), '', 'BIRD 2 accepts the file with passwords');

      // 2. The secret file is rotated: the refresh timer re-renders.
      writeFileSync(join(secretsDir, 'bgp-secrets', 'tor'), TOR2);
      await until(() => read(birdDir).includes(`password "${TOR2}";`), 'rotated password');
      assert.ok(!read(birdDir).includes(TOR1));
      await assertModes(birdDir, ['bird.cfg']);

      // 3. The BGPPeer now names another key: re-rendered on the datastore change.
      writeFileSync(join(secretsDir, 'bgp-secrets', 'tor-v2'), TORV2);
      const peer = await client.bgpPeers.get('tor');
      await client.bgpPeers.update({ ...peer, spec: { ...peer.spec, password: { secretKeyRef: { name: 'bgp-secrets', key: 'tor-v2' } } } } as BGPPeer);
      await until(() => read(birdDir).includes(`password "${TORV2}";`), 'password of the new key');

      // 4. A value BIRD cannot hold is refused: no password line for that peer, nothing injected.
      writeFileSync(join(secretsDir, 'bgp-secrets', 'tor-v2'), INJECT);
      await until(() => !read(birdDir).includes(TORV2), 'unusable value dropped');
      const after4 = read(birdDir);
      assert.doesNotMatch(protocolBlock(after4, 'Global_192_168_10_254'), /password/);
      assert.doesNotMatch(after4, /protocol static evil/);
      assert.match(protocolBlock(after4, 'Mesh_192_168_10_2'), new RegExp(`password "${MESH}";`));

      // 5. No password left in any file: bird.cfg goes back to 0644.
      const config = await client.bgpConfigurations.get('default');
      await client.bgpConfigurations.update({ ...config, spec: { asNumber: 64512 } } as BGPConfiguration);
      await until(() => !read(birdDir).includes(MESH), 'mesh password removed');
      await assertModes(birdDir, []);
    });
    captured = run.output;
    if (run.error) throw run.error;
  });

  it('printed nothing secret at debug level, but did name the secrets it read and the one it refused', () => {
    for (const secret of [...ALL, INJECT, 'protocol static evil']) assert.ok(!captured.includes(secret), `output never contains ${JSON.stringify(secret)}`);
    assert.match(captured, /DEBUG reading BGP password secret source=directory secret=bgp-secrets key=tor/, 'debug logging was on and names the secret');
    assert.match(captured, /WARN BGP password secret: not usable as a BGP password: .* namespace=kube-system secret=bgp-secrets key=tor-v2/);
    assert.match(captured, /INFO a BGP password secret changed; re-rendering the BIRD files/);
  });
});

describe('agent in Kubernetes datastore mode: passwords from the Secrets API', { timeout: 120_000 }, () => {
  const TOR = 'Kube-Tor-Secret-31a9c0';
  const TOR_ROTATED = 'Kube-Tor-Rotated-08d2ff';
  const MESH = 'Kube-Mesh-Secret-c4e551';
  let server: KubeApiServer;
  let front: SecretFront;
  let client: Client;
  const agentMain = join(process.cwd(), 'examples/agent/src/main.ts');
  // Asynchronous: the API servers live in this process and must keep answering.
  const cli = (args: string[], env: Record<string, string>) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', agentMain, ...args], {
        env: { ...process.env, NODENAME: '', NAMESPACE: '', ETCD_ENDPOINTS: '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 60_000,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });

  before(async () => {
    server = await startKubeApiServer({ tls: false });
    front = await startSecretFront(server);
    client = await createClientFromConfig({ datastoreType: 'kubernetes', kubeconfig: front.kubeconfigPath });
    server.putRaw(kubeNode('node-a', '192.168.10.1/24'));
    server.putRaw(kubeNode('node-b', '192.168.10.2/24'));
    await client.ipPools.create(pool);
    // (Stored raw: the test server cannot compile the Go-only `(?i)` pattern of the
    // BGPConfiguration CRD schema, so a validated create fails with a 500.)
    const { apiVersion: _v3, ...config } = meshConfig(true);
    server.putRaw({ ...config, apiVersion: 'crd.projectcalico.org/v1' });
    await client.bgpPeers.create(torPeer('tor'));
  });

  after(async () => {
    await client?.close();
    await front?.stop();
    await server?.stop();
  });

  it('calico-agent bird --onetime reads the Secret in $NAMESPACE, writes bird.cfg 0600, prints no password at debug level', async () => {
    front.putSecret('calico-system', 'bgp-secrets', { tor: TOR, mesh: MESH });
    front.putSecret('kube-system', 'bgp-secrets', { tor: 'Wrong-Namespace-Value', mesh: 'Wrong-Namespace-Value' });
    const out = mkdtempSync(join(tmpdir(), 'lcts-agent-kbird-'));
    try {
      const r = await cli(['bird', '--node', 'node-a', '--out', out, '--onetime', '--dialect', 'bird2', '--log-level', 'debug'], {
        DATASTORE_TYPE: 'kubernetes',
        KUBECONFIG: front.kubeconfigPath,
        NAMESPACE: 'calico-system',
      });
      assert.equal(r.status, 0, r.stderr);
      const cfg = read(out);
      assert.match(protocolBlock(cfg, 'Global_192_168_10_254'), new RegExp(`password "${TOR}";`));
      assert.match(protocolBlock(cfg, 'Mesh_192_168_10_2'), new RegExp(`password "${MESH}";`));
      assert.ok(!cfg.includes('Wrong-Namespace-Value'));
      await assertModes(out, ['bird.cfg']);
      const printed = r.stdout + r.stderr;
      for (const secret of [TOR, MESH, Buffer.from(TOR).toString('base64'), Buffer.from(MESH).toString('base64')]) assert.ok(!printed.includes(secret), 'nothing printed carries a password');
      assert.match(r.stderr, /DEBUG reading BGP password secret source=kubernetes namespace=calico-system secret=bgp-secrets/);
      assert.equal(front.secretRequests.filter((p) => p === 'calico-system/bgp-secrets').length, 1, 'one GET for both keys');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('--secrets-dir wins over the API; a missing key is a warning naming secret and key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lcts-agent-kdir-'));
    const out = join(dir, 'out');
    mkdirSync(join(dir, 'secrets', 'bgp-secrets'), { recursive: true });
    writeFileSync(join(dir, 'secrets', 'bgp-secrets', 'tor'), 'From-Dir-Secret-1122');
    try {
      const before = front.secretRequests.length;
      const r = await cli(['bird', '--node', 'node-a', '--out', out, '--onetime', '--dialect', 'bird2', '--secrets-dir', join(dir, 'secrets'), '--log-level', 'debug'], {
        DATASTORE_TYPE: 'kubernetes',
        KUBECONFIG: front.kubeconfigPath,
      });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(front.secretRequests.length, before, 'no Secret read through the API');
      assert.match(read(out), /password "From-Dir-Secret-1122";/);
      assert.doesNotMatch(protocolBlock(read(out), 'Mesh_192_168_10_2'), /password/);
      assert.match(r.stderr, /WARN BGP password secret: no file .*bgp-secrets\/mesh; the password line is left out namespace=kube-system secret=bgp-secrets key=mesh/);
      assert.ok(!(r.stdout + r.stderr).includes('From-Dir-Secret-1122'));
      const bad = await cli(['bird', '--node', 'node-a', '--out', out, '--onetime', '--secrets-dir', join(dir, 'absent')], { DATASTORE_TYPE: 'kubernetes', KUBECONFIG: front.kubeconfigPath });
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /--secrets-dir: not a directory/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('against the test server itself (TLS, no Secrets served): 404 -> no password line, a warning, exit 0', async () => {
    const tlsServer = await startKubeApiServer();
    const out = mkdtempSync(join(tmpdir(), 'lcts-agent-k404-'));
    try {
      const tlsClient = await createClientFromConfig({ datastoreType: 'kubernetes', kubeconfig: tlsServer.kubeconfigPath });
      tlsServer.putRaw(kubeNode('node-a', '192.168.10.1/24'));
      await tlsClient.bgpPeers.create(torPeer('tor'));
      await tlsClient.close();
      const r = await cli(['bird', '--node', 'node-a', '--out', out, '--onetime', '--dialect', 'bird2'], { DATASTORE_TYPE: 'kubernetes', KUBECONFIG: tlsServer.kubeconfigPath });
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(read(out), /password/);
      await assertModes(out, []);
      assert.match(r.stderr, /WARN BGP password secret: Secret kube-system\/bgp-secrets not found; the password line is left out/);
      const get = tlsServer.requests.find((q) => q.path === '/api/v1/namespaces/kube-system/secrets/bgp-secrets');
      assert.equal(get?.method, 'GET', 'the Secret was requested over TLS with the kubeconfig credentials');
    } finally {
      rmSync(out, { recursive: true, force: true });
      await tlsServer.stop();
    }
  });

  it('the running agent re-reads the Secret (rotation, deletion) and follows BGPPeer changes', { skip: skipNetns }, async () => {
    front.putSecret('kube-system', 'bgp-secrets', { tor: TOR, mesh: MESH });
    const birdDir = mkdtempSync(join(tmpdir(), 'lcts-agent-kagent-'));
    const ns = uniqueNetnsName('kpw');
    await createNetns(ns);
    const session = await openNetns(ns);
    const source = await createKubernetesSecretSource({ datastoreType: 'kubernetes', kubeconfig: front.kubeconfigPath });
    const agent = new Agent({ nodeName: 'node-a', client, ops: session, netns: ns, logger: createLogger('debug'), backend: 'bird', birdDir, dialect: 'bird2', iptables: false, debounceMs: 10, resyncIntervalMs: 0, secrets: source, secretRefreshMs: 200 });
    const run = await captureOutput(async () => {
      await agent.start();
      await until(() => read(birdDir).includes(`password "${TOR}";`), 'password from the API');
      await assertModes(birdDir, ['bird.cfg']);
      front.putSecret('kube-system', 'bgp-secrets', { tor: TOR_ROTATED, mesh: MESH });
      await until(() => read(birdDir).includes(`password "${TOR_ROTATED}";`), 'rotated password');
      front.putSecret('kube-system', 'peer-2', { password: 'Second-Secret-6a6a6a' });
      const peer = await client.bgpPeers.get('tor');
      await client.bgpPeers.update({ ...peer, spec: { ...peer.spec, password: { secretKeyRef: { name: 'peer-2', key: 'password' } } } } as BGPPeer);
      await until(() => read(birdDir).includes('password "Second-Secret-6a6a6a";'), 'password of the new Secret');
      front.deleteSecret('kube-system', 'peer-2');
      await until(() => !read(birdDir).includes('Second-Secret-6a6a6a'), 'deleted Secret: password gone');
      assert.doesNotMatch(protocolBlock(read(birdDir), 'Global_192_168_10_254'), /password/);
    });
    await agent.stop();
    await source.close();
    await session.close();
    await deleteNetns(ns, { ignoreMissing: true });
    rmSync(birdDir, { recursive: true, force: true });
    if (run.error) throw run.error;
    for (const secret of [TOR, TOR_ROTATED, MESH, 'Second-Secret-6a6a6a']) assert.ok(!run.output.includes(secret), 'nothing printed carries a password');
    assert.match(run.output, /WARN BGP password secret: Secret kube-system\/peer-2 not found; the password line is left out namespace=kube-system secret=peer-2 key=password/);
  });
});
