/**
 * Two real BIRD 2 daemons in two throwaway network namespaces, configured from resources by
 * renderBirdConfig (dialect bird2): the mesh session reaches Established, each node's block is
 * exchanged and programmed into the other namespace's kernel in Calico's BIRD 1.x form (no
 * metric, no device routes), pod /32 routes inside a block stay behind it unless elevated or
 * borrowed, and the status reader produces calicoctl's peer table from the live control sockets.
 * Needs root (netns) and Debian bird2.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect } from 'node:net';
import { formatBirdPeerTable, queryBird, readBirdPeers, renderBirdConfig } from '@libcalico-ts/bgp';
import type { RenderBirdConfigOptions } from '@libcalico-ts/bgp';
import { birdAvailable, birdc, createNetnsPair, startBird, waitFor, writeConfigDir } from '../helpers/bird.js';
import type { BirdDaemon, NetnsPair } from '../helpers/bird.js';

const run = promisify(execFile);
const skip = process.getuid?.() !== 0 ? 'needs root for network namespaces' : !birdAvailable() ? 'bird2 not installed' : false;

function resources(): RenderBirdConfigOptions['resources'] {
  const node = (name: string, ip: string) => ({
    apiVersion: 'projectcalico.org/v3' as const,
    kind: 'Node' as const,
    metadata: { name },
    spec: { bgp: { ipv4Address: ip } },
  });
  return [
    { apiVersion: 'projectcalico.org/v3', kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { asNumber: 64512, logSeverityScreen: 'Info' } },
    { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'pool' }, spec: { cidr: '10.244.0.0/16', ipipMode: 'Never', vxlanMode: 'Never' } },
    node('node-a', '10.99.0.1/24'),
    node('node-b', '10.99.0.2/24'),
  ];
}

const affinities = [
  { node: 'node-a', cidr: '10.244.1.0/26', state: 'confirmed' },
  { node: 'node-b', cidr: '10.244.2.0/26', state: 'confirmed' },
];

/**
 * Workload routes in node-a's kernel, on a `cali*` veth as the CNI plugin / Felix leave them
 * (`<ip> dev caliX scope link`), one per case of Calico's route priorities.
 */
const podRoutes = {
  /** CNI plugin, Felix before v3.32: no metric. Inside node-a's block: not exported. */
  noMetric: '10.244.1.5/32',
  /** Felix v3.32+: normal priority (ipv4NormalRoutePriority 1024). Not exported. */
  normal: '10.244.1.6/32',
  /** Felix during a live migration: elevated priority (512). Exported, keeps its metric. */
  elevated: '10.244.1.7/32',
  /** A pod on node-a with an address borrowed from node-b's block: exported (no metric). */
  borrowed: '10.244.2.9/32',
};

/** `ip -n NS route show proto bird`, one trimmed line per route, sorted. */
async function birdKernelRoutes(ns: string): Promise<string[]> {
  const { stdout } = await run('ip', ['-n', ns, 'route', 'show', 'proto', 'bird']);
  return stdout
    .split('\n')
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter((l) => l !== '')
    .sort();
}

describe('two BIRD daemons peer from rendered configs', { skip }, () => {
  let net: NetnsPair | undefined;
  const daemons: BirdDaemon[] = [];

  before(async () => {
    net = await createNetnsPair(`lcts-bgp-${process.pid}`, '10.99.0.1/24', '10.99.0.2/24');
    const a = net.names[0];
    await run('ip', ['-n', a, 'link', 'add', 'cali0a1b2c3d4e5', 'type', 'veth', 'peer', 'name', 'pod-eth0']);
    for (const dev of ['cali0a1b2c3d4e5', 'pod-eth0']) await run('ip', ['-n', a, 'link', 'set', dev, 'up']);
    const link = ['dev', 'cali0a1b2c3d4e5', 'scope', 'link'];
    await run('ip', ['-n', a, 'route', 'add', podRoutes.noMetric, ...link]);
    await run('ip', ['-n', a, 'route', 'add', podRoutes.normal, ...link, 'metric', '1024']);
    await run('ip', ['-n', a, 'route', 'add', podRoutes.elevated, ...link, 'metric', '512']);
    await run('ip', ['-n', a, 'route', 'add', podRoutes.borrowed, ...link]);
    for (const [i, nodeName] of ['node-a', 'node-b'].entries()) {
      const files = renderBirdConfig({ nodeName, resources: resources(), blockAffinities: affinities, dialect: 'bird2' });
      daemons.push(await startBird({ netns: net.names[i]!, configDir: writeConfigDir(files) }));
    }
  });

  after(async () => {
    for (const d of daemons) await d.stop();
    await net?.destroy();
  });

  it('the mesh session reaches Established on both sides', async () => {
    for (const [i, d] of daemons.entries()) {
      const peer = i === 0 ? '10.99.0.2' : '10.99.0.1';
      await waitFor(
        async () => (await birdc(d.socket, 'show', 'protocols')).match(new RegExp(`Mesh_${peer.replace(/\./g, '_')}\\s+BGP\\s+\\S+\\s+up\\s+.*Established`)),
        30000,
        `Established on ${net!.names[i]} (${d.output()})`,
      );
    }
  });

  it('each node learns the other node\'s block over BGP and programs it in its kernel', async () => {
    const got = await waitFor(
      async () => {
        const out = await birdc(daemons[1]!.socket, 'show', 'route', '10.244.1.0/26');
        return out.includes('10.244.1.0/26') && out.includes('10.99.0.1') ? out : undefined;
      },
      15000,
      'node-b to learn 10.244.1.0/26',
    );
    // Learned from the mesh protocol, as an internal (iBGP) route.
    assert.match(got, /\[Mesh_10_99_0_1 [^\]]*\].*\[i\]/);
    const back = await birdc(daemons[0]!.socket, 'show', 'route', '10.244.2.0/26');
    assert.match(back, /10\.244\.2\.0\/26/);
    const kernel = await waitFor(
      async () => {
        const { stdout } = await run('ip', ['-n', net!.names[1], 'route', 'show', '10.244.1.0/26']);
        return stdout.includes('via 10.99.0.1') ? stdout : undefined;
      },
      10000,
      'kernel route in node-b namespace',
    );
    assert.match(kernel, /proto bird/);
    // The block is aggregated: nothing more specific than the /26 is exported, and the node's own
    // block stays a blackhole locally.
    const own = await birdc(daemons[1]!.socket, 'show', 'route', '10.244.2.0/26');
    assert.match(own, /blackhole|unreachable|static/);
  });

  it('kernel routes BIRD installs have the BIRD 1.x form: no metric, no device route', async () => {
    // What Calico's BIRD 1.x installs (kernel protocol metric 0, device routes off): the remote
    // block via the peer and the local blackhole, without a metric; BIRD 2's defaults would add
    // `metric 32` to each and copy the link's own 10.99.0.0/24 route into the kernel.
    const expected = {
      a: ['10.244.2.0/26 via 10.99.0.2 dev veth-a', 'blackhole 10.244.1.0/26'].sort(),
      b: [
        '10.244.1.0/26 via 10.99.0.1 dev veth-b',
        '10.244.1.7 via 10.99.0.1 dev veth-b metric 512',
        '10.244.2.9 via 10.99.0.1 dev veth-b',
        'blackhole 10.244.2.0/26',
      ].sort(),
    };
    for (const [i, key] of [[0, 'a'], [1, 'b']] as const) {
      const ns = net!.names[i];
      let last: string[] = [];
      await waitFor(
        async () => {
          last = await birdKernelRoutes(ns);
          return last.join('\n') === expected[key].join('\n');
        },
        15000,
        `BIRD routes in ${ns}: want\n${expected[key].join('\n')}\ngot\n${last.join('\n')}`,
      ).catch((error: Error) => {
        throw new Error(`${error.message}\nlast seen:\n${last.join('\n')}`);
      });
    }
    // Still so after more kernel scans (scan time 2): nothing added later, nothing flapping.
    await new Promise((r) => setTimeout(r, 4500));
    assert.deepEqual(await birdKernelRoutes(net!.names[0]), expected.a);
    assert.deepEqual(await birdKernelRoutes(net!.names[1]), expected.b);
    // The kernel's own interface routes are untouched (still `proto kernel`, once).
    for (const [i, dev] of [[0, 'veth-a'], [1, 'veth-b']] as const) {
      const { stdout } = await run('ip', ['-n', net!.names[i], 'route', 'show', '10.99.0.0/24']);
      assert.deepEqual(stdout.trim().split('\n').map((l) => l.trim()), [`10.99.0.0/24 dev ${dev} proto kernel scope link src 10.99.0.${i + 1}`]);
    }
    for (const ns of net!.names) assert.ok(!(await birdKernelRoutes(ns)).some((l) => / metric 32\b/.test(l)));
  });

  it('pod /32s inside the block stay behind it unless elevated; borrowed ones are exported', async () => {
    // What node-b received from node-a over the mesh session.
    const received = await birdc(daemons[1]!.socket, 'show', 'route', 'protocol', 'Mesh_10_99_0_1');
    const prefixes = [...received.matchAll(/^(\d+\.\d+\.\d+\.\d+\/\d+)\s/gm)].map((m) => m[1]).sort();
    assert.deepEqual(prefixes, ['10.244.1.0/26', podRoutes.elevated, podRoutes.borrowed].sort(), received);
    // The elevated route carries its priority (local_pref 2^31-1 - 512) and wins with preference
    // 200; the block and the borrowed address travel at normal priority (2^31-1 - 1024).
    const elevated = await birdc(daemons[1]!.socket, 'show', 'route', podRoutes.elevated, 'all');
    assert.match(elevated, /\(200\)/);
    assert.match(elevated, /BGP\.local_pref: 2147483135/);
    for (const normal of ['10.244.1.0/26', podRoutes.borrowed]) {
      const r = await birdc(daemons[1]!.socket, 'show', 'route', normal, 'all');
      assert.match(r, /BGP\.local_pref: 2147482623/, r);
      assert.match(r, /\(100\)/, r);
    }
    // node-a's BIRD did learn the pod routes from its kernel (so the filter, not ignorance, keeps them back).
    for (const pod of [podRoutes.noMetric, podRoutes.normal]) {
      assert.match(await birdc(daemons[0]!.socket, 'show', 'route', pod), /kernel/);
    }
  });

  it('reads the peer table over the control socket as calicoctl prints it', async () => {
    const raw = await queryBird(connect(daemons[0]!.socket), 'show protocols');
    assert.match(raw, /^2002-/m);
    const peers = await readBirdPeers(connect(daemons[0]!.socket), 4);
    assert.equal(peers.length, 1);
    assert.deepEqual(
      { address: peers[0]!.peerAddress, type: peers[0]!.peerType, state: peers[0]!.state, info: peers[0]!.info.split(' ')[0] },
      { address: '10.99.0.2', type: 'node-to-node mesh', state: 'up', info: 'Established' },
    );
    const table = formatBirdPeerTable(peers);
    assert.match(table, /^\| 10\.99\.0\.2 +\| node-to-node mesh \| up +\| .+ \| Established +\|$/m);
  });
});
