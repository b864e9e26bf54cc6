/**
 * Two real BIRD 2 daemons in two throwaway network namespaces, configured from resources by
 * renderBirdConfig (dialect bird2): the mesh session reaches Established, each node's block is
 * exchanged and programmed into the other namespace's kernel, and the status reader produces
 * calicoctl's peer table from the live control sockets. Needs root (netns) and Debian bird2.
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

describe('two BIRD daemons peer from rendered configs', { skip }, () => {
  let net: NetnsPair | undefined;
  const daemons: BirdDaemon[] = [];

  before(async () => {
    net = await createNetnsPair(`lcts-bgp-${process.pid}`, '10.99.0.1/24', '10.99.0.2/24');
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
