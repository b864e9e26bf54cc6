/**
 * BGP with real BIRD 2: three hosts on one subnet, an unencapsulated pool, one calico-agent per
 * host writing the BIRD files (bird2 dialect) and reloading BIRD when they change. Asserts the
 * mesh sessions reach Established, each host learns the others' blocks (proto bird), pods ping
 * across hosts, and a config change (a new BGPConfiguration) reaches BIRD through `birdc configure`.
 * Needs root and Debian bird2 (fails loudly unless LIBCALICO_TS_SKIP_BIRD is set).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { IPPool } from '@libcalico-ts/api';
import type { Client } from '@libcalico-ts/client';
import { BIRD_BINARY, Cluster, clusterUnavailableReason, waitUntil, type Pod } from '../../examples/cluster/src/cluster.js';
import { runAgentCommand } from './helpers.js';

function birdSkip(): string | false {
  if (existsSync(BIRD_BINARY)) return false;
  if (process.env.LIBCALICO_TS_SKIP_BIRD) return 'bird2 not installed (LIBCALICO_TS_SKIP_BIRD set)';
  throw new Error(`BIRD not found at ${BIRD_BINARY}: install Debian bird2 (or set LIBCALICO_TS_SKIP_BIRD=1)`);
}

const skip = clusterUnavailableReason() ?? birdSkip();

describe('cluster: BGP mesh with BIRD 2, no encapsulation, one subnet', { skip, timeout: 600_000 }, () => {
  let cluster: Cluster;
  let client: Client;
  const pods: Record<string, Pod> = {};
  const names = ['node1', 'node2', 'node3'];

  before(async () => {
    cluster = await Cluster.create({ id: `lcb${process.pid % 100000}`, hosts: names.map((name) => ({ name, subnet: 'a' as const })) });
    client = await cluster.client();
    await client.bgpConfigurations.create({ apiVersion: 'projectcalico.org/v3', kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { asNumber: 64512, logSeverityScreen: 'Info' } } as never);
    await client.ipPools.create({
      apiVersion: 'projectcalico.org/v3',
      kind: 'IPPool',
      metadata: { name: 'pool-flat' },
      spec: { cidr: '10.245.0.0/16', ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: true, blockSize: 26 },
    } as IPPool);
    for (const name of names) cluster.startAgent(name, { backend: 'bird' });
    for (const name of names) await waitUntil(async () => (await client.nodes.get(name).catch(() => undefined)) !== undefined, 60_000, `${name} registered`);
    // Pods first: their blocks give every host something to announce.
    for (const [i, name] of names.entries()) pods[name] = await cluster.addPod(name, `bgp-pod-${i + 1}`, client);
    for (const name of names) await cluster.startBird(name);
  });

  after(async () => {
    await cluster?.destroy();
  });

  it('the agents write the six BIRD files atomically (no temp files left, mode 0644 without passwords)', async () => {
    for (const name of names) {
      const dir = cluster.host(name).birdDir;
      for (const file of ['bird.cfg', 'bird6.cfg', 'bird_ipam.cfg', 'bird6_ipam.cfg', 'bird_aggr.cfg', 'bird6_aggr.cfg']) {
        assert.ok(existsSync(join(dir, file)), `${name}: ${file}`);
        assert.equal(statSync(join(dir, file)).mode & 0o777, 0o644);
      }
    }
  });

  it('every mesh session reaches Established', async () => {
    for (const name of names) {
      for (const other of names) {
        if (other === name) continue;
        const peer = cluster.host(other).address.replace(/\./g, '_');
        await waitUntil(
          async () => new RegExp(`Mesh_${peer}\\s+BGP\\s+\\S+\\s+up\\s+.*Established`).test(await cluster.birdc(name, 'show', 'protocols')),
          60_000,
          `${name} -> ${other} Established (${cluster.logs(`bird:${name}`).slice(-5).join(' | ')})`,
        );
      }
    }
  });

  it('each host learns the other hosts\' blocks over BGP (proto bird) and pods ping across hosts', async () => {
    for (const name of names) {
      for (const other of names) {
        if (other === name) continue;
        const ip = pods[other]!.ip.split('.').map(Number);
        const blk = `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]! & 0xc0}/26`;
        const gw = cluster.host(other).address;
        await waitUntil(
          async () => (await cluster.routes(name)).includes(`${blk} via ${gw} dev eth0 proto bird`),
          60_000,
          `${name} to learn ${blk} from ${other}`,
        );
      }
    }
    for (const [from, to] of [['node1', 'node2'], ['node2', 'node3'], ['node3', 'node1']] as const) {
      assert.ok(await cluster.ping(pods[from]!, pods[to]!.ip, 10), `ping ${from} pod -> ${to} pod`);
    }
  });

  it('`calico-agent routes` includes the BIRD-owned routes the kernel now has', async () => {
    const printed = await runAgentCommand(cluster, 'node1', ['routes', '--node', 'node1', '--backend', 'bird']);
    assert.equal(printed.code, 0, printed.stderr);
    // BIRD 2's kernel protocol stamps its default metric (32) on what it installs; the computed
    // table follows Calico's BIRD 1.x layout (no metric), so the metric is dropped before comparing.
    const kernel = (await cluster.routes('node1')).split('\n').map((l) => l.trim().replace(/ metric 32$/, ''));
    const birdLines = printed.stdout.split('\n').filter((l) => l.includes('proto bird') && !l.startsWith('blackhole'));
    assert.equal(birdLines.length, 2, printed.stdout);
    for (const line of birdLines) assert.ok(kernel.includes(line), `"${line}" in\n${kernel.join('\n')}`);
  });

  it('a BGP configuration change is written and BIRD is reconfigured (only then)', async () => {
    const before = (await cluster.agentHttp('node1', '/metrics')).body;
    const reloads = (text: string) => Number(/^calico_agent_bird_reloads_total\{result="ok"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    const bgp = await client.bgpConfigurations.get('default');
    await client.bgpConfigurations.update({ ...bgp, spec: { ...bgp.spec, logSeverityScreen: 'Debug' } });
    await waitUntil(async () => reloads((await cluster.agentHttp('node1', '/metrics')).body) > reloads(before), 30_000, 'a BIRD reload');
    // Sessions survive the reconfiguration.
    await waitUntil(async () => /Established/.test(await cluster.birdc('node1', 'show', 'protocols')), 30_000, 'sessions after reload');
    // An unrelated change (a workload on another node) does not reload BIRD again.
    const settled = reloads((await cluster.agentHttp('node1', '/metrics')).body);
    await cluster.addPod('node2', 'bgp-pod-extra', client);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(reloads((await cluster.agentHttp('node1', '/metrics')).body), settled);
  });

  it('`calico-agent bird --onetime` writes the same files as the running agent', async () => {
    const out = join(cluster.dir, 'onetime');
    const result = await runAgentCommand(cluster, 'node1', ['bird', '--node', 'node1', '--out', out, '--onetime', '--dialect', 'bird2']);
    assert.equal(result.code, 0, result.stderr);
    const { readFileSync } = await import('node:fs');
    for (const file of ['bird.cfg', 'bird_ipam.cfg', 'bird_aggr.cfg']) {
      assert.equal(readFileSync(join(out, file), 'utf8'), readFileSync(join(cluster.host('node1').birdDir, file), 'utf8'), file);
    }
  });
});
