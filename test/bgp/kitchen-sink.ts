/**
 * A resource set that switches on nearly every renderer feature at once (dual stack, mesh,
 * global / node / selector peers, RR, passwords, TTL security, reachableBy, next-hop modes,
 * local AS, BGPFilters of every rule kind, communities, service ranges, WireGuard, every pool mode).
 */
import type { RenderBirdConfigOptions } from '@libcalico-ts/bgp';

const v3 = 'projectcalico.org/v3' as const;

export function kitchenSink(): RenderBirdConfigOptions {
  const node = (name: string, v4: string, v6: string, extra: Record<string, unknown> = {}, labels: Record<string, string> = {}) => ({
    apiVersion: v3,
    kind: 'Node',
    metadata: { name, labels },
    spec: { bgp: { ipv4Address: v4, ipv6Address: v6, ...extra }, wireguard: { interfaceIPv4Address: '10.250.0.1' } },
  });
  return {
    nodeName: 'node-1',
    resources: [
      {
        apiVersion: v3,
        kind: 'BGPConfiguration',
        metadata: { name: 'default' },
        spec: {
          asNumber: 64512,
          logSeverityScreen: 'Debug',
          listenPort: 1790,
          bindMode: 'NodeIP',
          nodeMeshPassword: { secretKeyRef: { name: 'bgp', key: 'mesh' } },
          nodeMeshMaxRestartTime: '2m',
          ignoredInterfaces: ['docker*'],
          serviceClusterIPs: [{ cidr: '10.96.0.0/12' }, { cidr: 'fd00:96::/112' }],
          serviceExternalIPs: [{ cidr: '203.0.113.0/24' }],
          serviceLoadBalancerIPs: [{ cidr: '198.51.100.0/24' }],
          communities: [{ name: 'gold', value: '65000:100' }, { name: 'large', value: '65000:1:2' }],
          prefixAdvertisements: [
            { cidr: '10.244.0.0/16', communities: ['gold', '65001:7', 'large'] },
            { cidr: 'fd10::/64', communities: ['gold'] },
          ],
          ipv4NormalRoutePriority: 1024,
        },
      },
      { apiVersion: v3, kind: 'BGPConfiguration', metadata: { name: 'node.node-1' }, spec: { logSeverityScreen: 'Info' } },
      node('node-1', '10.0.0.1/24', 'fd00::1/64', { routeReflectorClusterID: '224.0.0.1' }, { rr: 'true', zone: 'a' }),
      node('node-2', '10.0.0.2/24', 'fd00::2/64', {}, { zone: 'a' }),
      node('node-3', '10.0.0.3/24', 'fd00::3/64', { asNumber: 65003 }, { zone: 'b' }),
      { apiVersion: v3, kind: 'IPPool', metadata: { name: 'ipip' }, spec: { cidr: '10.244.0.0/16', ipipMode: 'CrossSubnet' } },
      { apiVersion: v3, kind: 'IPPool', metadata: { name: 'vx' }, spec: { cidr: '10.245.0.0/16', vxlanMode: 'Always' } },
      { apiVersion: v3, kind: 'IPPool', metadata: { name: 'plain' }, spec: { cidr: '10.246.0.0/16', disableBGPExport: true } },
      { apiVersion: v3, kind: 'IPPool', metadata: { name: 'v6' }, spec: { cidr: 'fd10::/64' } },
      {
        apiVersion: v3,
        kind: 'BGPPeer',
        metadata: { name: 'tor' },
        spec: {
          peerIP: '192.0.2.1',
          asNumber: 65100,
          password: { secretKeyRef: { name: 'bgp', key: 'tor' } },
          ttlSecurity: 2,
          keepOriginalNextHop: true,
          reachableBy: '10.0.0.254',
          maxRestartTime: '90s',
          keepaliveTime: '10s',
          filters: ['everything', 'a-very-long-bgp-filter-name-that-needs-truncation-to-fit'],
          numAllowedLocalASNumbers: 2,
        },
      },
      {
        apiVersion: v3,
        kind: 'BGPPeer',
        metadata: { name: 'tor6' },
        spec: { peerIP: '[2001:db8::1]:1179', asNumber: 65100, localASNumber: 65010, nextHopMode: 'Self', sourceAddress: 'None', filters: ['everything'] },
      },
      { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'rr-clients' }, spec: { nodeSelector: 'has(rr)', peerSelector: "zone == 'a' || zone == 'b'" } },
      { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'specific' }, spec: { node: 'node-1', peerIP: '192.0.2.2', asNumber: 64512, nextHopMode: 'Keep' } },
      {
        apiVersion: v3,
        kind: 'BGPFilter',
        metadata: { name: 'everything' },
        spec: {
          importV4: [
            { cidr: '10.0.0.0/8', matchOperator: 'In', prefixLength: { min: 16, max: 24 }, action: 'Accept' },
            { cidr: '192.168.0.0/16', matchOperator: 'NotIn', source: 'RemotePeers', action: 'Reject' },
            { interface: 'eth*', matchOperator: 'Equal', cidr: '10.1.0.0/16', action: 'Accept' },
            { communities: { values: ['65000:1'] }, action: 'Accept', peerType: 'eBGP' },
            { asPathPrefix: [65000, 65001], priority: 512, action: 'Accept', operations: [{ setPriority: { value: 256 } }] },
            { action: 'Reject' },
          ],
          exportV4: [
            { cidr: '10.244.0.0/16', matchOperator: 'NotEqual', action: 'Accept', operations: [{ addCommunity: { value: '65000:9' } }, { prependASPath: { prefix: [64512, 64513] } }], peerType: 'iBGP' },
            { communities: { values: ['65000:1:1'] }, action: 'Reject' },
          ],
          importV6: [{ cidr: 'fd00::/8', matchOperator: 'In', prefixLength: { max: 64 }, action: 'Accept' }],
          exportV6: [{ action: 'Accept', operations: [{ addCommunity: { value: '65000:1:7' } }] }],
        },
      },
      {
        apiVersion: v3,
        kind: 'BGPFilter',
        metadata: { name: 'a-very-long-bgp-filter-name-that-needs-truncation-to-fit' },
        spec: { exportV4: [{ cidr: '10.0.0.0/8', matchOperator: 'In', action: 'Reject' }] },
      },
    ],
    blockAffinities: [
      { node: 'node-1', cidr: '10.244.1.0/26', state: 'confirmed' },
      { node: 'node-1', cidr: '10.244.1.64/26', state: 'pendingDeletion' },
      { node: 'node-1', cidr: '10.244.9.9/32', state: '' },
      { node: 'node-1', cidr: 'fd10::100/122', state: 'confirmed' },
      { node: 'node-2', cidr: '10.244.2.0/26', state: 'confirmed' },
    ],
    secrets: (name, key) => (name === 'bgp' ? ({ mesh: 'mesh-secret', tor: 'tor-secret' } as Record<string, string>)[key] : undefined),
  };
}
