/**
 * BIRD config rendering: a 1,000-node full mesh (dual stack, a few global and selector peers,
 * pools and this node's blocks) rendered for one node. Target: < 50 ms per render.
 */
import { renderBirdConfig } from '@libcalico-ts/bgp';
import type { RenderBirdConfigOptions } from '@libcalico-ts/bgp';
import { measureSync, targetRow } from './lib.js';
import type { Bench } from './lib.js';

function meshCluster(nodes: number): RenderBirdConfigOptions {
  const v3 = 'projectcalico.org/v3' as const;
  const resources: Array<RenderBirdConfigOptions['resources'][number]> = [
    { apiVersion: v3, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { asNumber: 64512, serviceClusterIPs: [{ cidr: '10.96.0.0/12' }] } },
    { apiVersion: v3, kind: 'IPPool', metadata: { name: 'v4' }, spec: { cidr: '10.244.0.0/16', ipipMode: 'Always' } },
    { apiVersion: v3, kind: 'IPPool', metadata: { name: 'v6' }, spec: { cidr: 'fd10::/48' } },
    { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { peerIP: '192.0.2.1', asNumber: 65000 } },
    { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'rack' }, spec: { nodeSelector: "rack == 'r1'", peerSelector: "rack == 'r2'" } },
  ];
  for (let i = 0; i < nodes; i++) {
    resources.push({
      apiVersion: v3,
      kind: 'Node',
      metadata: { name: `node-${i}`, labels: { rack: `r${i % 8}` } },
      spec: { bgp: { ipv4Address: `10.${(i >> 8) & 255}.${i & 255}.1/16`, ipv6Address: `fd00::${i.toString(16)}:1/64` } },
    });
  }
  return {
    nodeName: 'node-1',
    resources,
    blockAffinities: Array.from({ length: 8 }, (_, b) => ({ node: 'node-1', cidr: `10.244.${b}.0/26`, state: 'confirmed' })),
  };
}

const bench: Bench = async ({ quick, log }) => {
  const options = meshCluster(1000);
  const files = renderBirdConfig(options);
  const peers = (files['bird.cfg'].match(/^protocol bgp /gm) ?? []).length;
  log(`rendered ${peers} IPv4 protocols, ${files['bird.cfg'].length + files['bird6.cfg'].length} bytes`);
  const { nsPerOp } = measureSync(() => renderBirdConfig(options), { minMs: quick ? 300 : 2000 });
  return [targetRow('bgp: render 1,000-node mesh for one node', nsPerOp / 1e6, 'ms', '<', 50)];
};

export default bench;
