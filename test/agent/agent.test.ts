/**
 * The Agent class in this process against the in-memory datastore, programming one throwaway
 * network namespace from outside (the `--netns` mode: netlink through a NetnsSession, iptables
 * through nsenter). Covers the incremental path (syncer -> calculator deltas -> reconciler),
 * tunnel address allocation, BIRD files, NAT rules, metrics, and the CLI's bad-input handling.
 * Needs root (network namespaces).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IPPool, Node } from '@libcalico-ts/api';
import { createClient, type Client } from '@libcalico-ts/client';
import { createNetns, deleteNetns, openNetns, type NetnsSession } from '@libcalico-ts/dataplane';
import { createMemoryDatastore } from '@libcalico-ts/datastore';
import { Agent } from '../../examples/agent/src/agent.js';
import { createLogger } from '../../examples/agent/src/log.js';
import { netnsUnavailableReason, uniqueNetnsName } from '../helpers/netns.js';

const skip = netnsUnavailableReason() ?? false;

const node = (name: string, ipv4: string, extra: Partial<Node['spec']> = {}): Node =>
  ({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name }, spec: { bgp: { ipv4Address: ipv4 }, ...extra } }) as Node;

async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Agent on the memory datastore, programming a namespace', { skip, timeout: 120_000 }, () => {
  const ns = uniqueNetnsName('agent');
  const peer = uniqueNetnsName('peer');
  const birdDir = mkdtempSync(join(tmpdir(), 'lcts-agent-test-'));
  let session: NetnsSession;
  let client: Client;
  let agent: Agent;
  const logs: string[] = [];
  const routes = () => execFileSync('ip', ['-n', ns, 'route'], { encoding: 'utf8' });

  before(async () => {
    await createNetns(ns);
    await createNetns(peer);
    const setup = await openNetns(ns);
    await setup.setLinkUp('lo');
    await setup.createVethPair({ name: 'eth0', peerName: 'p0', peerNetns: peer });
    await setup.addAddress('eth0', '192.168.10.1/24');
    await setup.setLinkUp('eth0');
    await setup.replaceRoute({ dst: 'default', gateway: '192.168.10.254', dev: 'eth0' });
    await setup.close();
    execFileSync('ip', ['-n', peer, 'link', 'set', 'p0', 'up']);
    client = createClient({ datastore: createMemoryDatastore() });
    await client.ipPools.create({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'p' }, spec: { cidr: '10.244.0.0/16', vxlanMode: 'Always', natOutgoing: true } } as IPPool);
    await client.nodes.create(node('node-b', '192.168.10.2/24', { ipv4VXLANTunnelAddr: '10.244.7.0' }));
    await client.ipam.claimAffinity('10.244.7.0/26', { host: 'node-b' });
    session = await openNetns(ns);
    agent = new Agent({
      nodeName: 'node-a',
      client,
      ops: session,
      netns: ns,
      logger: createLogger('debug', (line) => logs.push(line)),
      backend: 'vxlan',
      birdDir,
      dialect: 'bird2',
      metricsAddress: { host: '127.0.0.1', port: 0 },
      nodeAddress: '192.168.10.1/24',
      debounceMs: 10,
      resyncIntervalMs: 0,
    });
    await agent.start();
    await agent.waitInSync();
  });

  after(async () => {
    await agent?.stop();
    await session?.close();
    await client?.close();
    await deleteNetns(ns, { ignoreMissing: true });
    await deleteNetns(peer, { ignoreMissing: true });
    rmSync(birdDir, { recursive: true, force: true });
  });

  it('registers the node, allocates its VXLAN tunnel address and programs device, routes and neighbours', async () => {
    const me = await until(async () => {
      const n = await client.nodes.get('node-a').catch(() => undefined);
      return n?.spec.ipv4VXLANTunnelAddr ? n : undefined;
    }, 'tunnel address');
    const addr = me.spec.ipv4VXLANTunnelAddr!;
    assert.equal((await client.ipam.getAssignmentAttributes(addr)).handleId, 'vxlan-tunnel-addr-node-a');
    await until(async () => routes().includes('10.244.7.0/26 via 10.244.7.0 dev vxlan.calico onlink'), 'remote block route');
    const ownBlock = `${addr.split('.').slice(0, 3).join('.')}.${Number(addr.split('.')[3]) & 0xc0}/26`;
    assert.match(routes(), new RegExp(`blackhole ${ownBlock.replace(/\./g, '\\.')} proto 80`));
    assert.match(routes(), /^default via 192\.168\.10\.254 dev eth0/m, 'the host default route (proto boot) is untouched');
    const link = await session.getLink('vxlan.calico');
    assert.equal(link.mac, '66:07:02:c1:cc:60');
    assert.deepEqual((await session.listAddresses({ link: 'vxlan.calico', family: 4 })).map((a) => a.cidr), [`${addr}/32`]);
    // Neighbours are programmed in their own step after the routes: wait for them too.
    await until(
      async () => (await session.listNeighbours({ link: 'vxlan.calico' })).some((n) => n.address === '10.244.7.0' && n.mac === '66:89:3a:22:7a:ac'),
      'VXLAN neighbour of node-b',
    );
  });

  it('applies datastore changes incrementally: a new node\'s block appears, a deleted affinity disappears', async () => {
    await client.nodes.create(node('node-c', '192.168.20.3/24', { ipv4VXLANTunnelAddr: '10.244.9.64' }));
    await client.ipam.claimAffinity('10.244.9.64/26', { host: 'node-c' });
    await until(async () => routes().includes('10.244.9.64/26 via 10.244.9.64 dev vxlan.calico onlink'), 'node-c route');
    await client.ipam.releaseAffinity('10.244.9.64/26', 'node-c');
    await until(async () => !routes().includes('10.244.9.64/26'), 'node-c route removed');
    assert.ok(routes().includes('10.244.7.0/26'), 'other routes kept');
  });

  it('programs NAT-outgoing rules in the namespace, and follows natOutgoing changes', async () => {
    const nat = () => execFileSync('ip', ['netns', 'exec', ns, 'iptables-save', '-t', 'nat'], { encoding: 'utf8' });
    assert.match(nat(), /-A cali-nat-outgoing -s 10\.244\.0\.0\/16 .*-j MASQUERADE/);
    const current = await client.ipPools.get('p');
    await client.ipPools.update({ ...current, spec: { ...current.spec, natOutgoing: false } });
    await until(() => !/MASQUERADE --random-fully\n.*-s 10\.244/.test(nat()) && !/-s 10\.244\.0\.0\/16 .*MASQUERADE/.test(nat()), 'masquerade rule removed');
    const again = await client.ipPools.get('p');
    await client.ipPools.update({ ...again, spec: { ...again.spec, natOutgoing: true } });
    await until(() => /-s 10\.244\.0\.0\/16 .*MASQUERADE/.test(nat()), 'masquerade rule back');
  });

  it('writes no BIRD files with the vxlan backend (no BIRD on such nodes)', async () => {
    assert.equal(existsSync(join(birdDir, 'bird.cfg')), false);
  });

  it('exports metrics and health', async () => {
    const base = `http://127.0.0.1:${agent.metricsPort}`;
    const health = await (await fetch(`${base}/healthz`)).json();
    assert.equal(health.syncStatus, 'in-sync');
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /^ipam_blocks\{ippool="p",node="node-b"\} 1$/m);
    assert.match(text, /^calico_agent_in_sync 1$/m);
  });

  it('removing the VXLAN pool releases the tunnel address and deletes vxlan.calico', async () => {
    await client.ipPools.delete('p');
    await until(async () => !(await session.findLink('vxlan.calico')), 'vxlan.calico deleted', 20_000);
    const me = await until(async () => {
      const n = await client.nodes.get('node-a');
      return n.spec.ipv4VXLANTunnelAddr === undefined ? n : undefined;
    }, 'tunnel address cleared');
    assert.equal(me.spec.bgp?.ipv4Address, '192.168.10.1/24');
    assert.doesNotMatch(routes(), /proto 80|vxlan/);
  });
});

describe('Agent writing BIRD files', { skip, timeout: 60_000 }, () => {
  it('renders the six files for its node and rewrites only on relevant changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lcts-agent-bird-'));
    const client = createClient({ datastore: createMemoryDatastore() });
    const name = uniqueNetnsName('bird');
    await createNetns(name);
    const session = await openNetns(name);
    const agent = new Agent({ nodeName: 'node-a', client, ops: session, netns: name, logger: createLogger('error'), backend: 'bird', birdDir: dir, dialect: 'bird2', iptables: false, debounceMs: 10, resyncIntervalMs: 0 });
    try {
      await client.ipPools.create({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'flat' }, spec: { cidr: '10.245.0.0/16' } } as IPPool);
      await client.nodes.create(node('node-a', '192.168.10.1/24'));
      await client.nodes.create(node('node-b', '192.168.10.2/24'));
      await agent.start();
      await until(() => existsSync(join(dir, 'bird.cfg')), 'bird.cfg');
      const cfg = readFileSync(join(dir, 'bird.cfg'), 'utf8');
      assert.match(cfg, /router id 192\.168\.10\.1;/);
      assert.match(cfg, /protocol bgp Mesh_192_168_10_2/);
      await client.nodes.create(node('node-c', '192.168.10.3/24'));
      await until(() => readFileSync(join(dir, 'bird.cfg'), 'utf8').includes('Mesh_192_168_10_3'), 'new peer in bird.cfg');
      assert.equal(agent.lastReport?.birdReloaded, undefined, 'no socket given: no reload attempted');
    } finally {
      await agent.stop();
      await session.close();
      await client.close();
      await deleteNetns(name, { ignoreMissing: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('calico-agent command line', () => {
  const agentMain = join(process.cwd(), 'examples/agent/src/main.ts');
  const cli = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', agentMain, ...args], { encoding: 'utf8', env: { ...process.env, NODENAME: '', ...env } });

  it('exits 2 with the offending arguments and the usage on bad input', () => {
    const r = cli(['run']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--node: required/);
    assert.match(r.stderr, /Usage:/);
  });

  it('exits 1 with a clear message when the datastore configuration is bad', () => {
    const r = cli(['routes', '--node', 'n1'], { DATASTORE_TYPE: 'etcdv3', ETCD_ENDPOINTS: 'not a url' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ERROR/);
  });

  it('--help prints the usage and exits 0', () => {
    const r = cli(['--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /calico-agent run/);
  });
});
