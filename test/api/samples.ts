// Valid resources of every kind, as users write them (before defaults). Shared by the api
// suites: each must validate after applyDefaults, and the CRD-backed ones must satisfy the
// projectcalico.org/v3 CRD schemas.
import type { Resource } from '@libcalico-ts/api';

export const SAMPLES: Resource[] = [
  {
    kind: 'IPPool',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'default-ipv4-ippool' },
    spec: { cidr: '192.168.0.0/16', ipipMode: 'Always', natOutgoing: true },
  },
  {
    kind: 'IPPool',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'default-ipv6-ippool', labels: { family: 'v6' } },
    spec: { cidr: 'fd00:10:244::/64', vxlanMode: 'CrossSubnet', blockSize: 122, nodeSelector: "zone == 'a'" },
  },
  {
    kind: 'IPPool',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'lb-pool' },
    spec: { cidr: '10.200.0.0/24', allowedUses: ['LoadBalancer'], assignmentMode: 'Manual' },
  },
  {
    kind: 'IPReservation',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'reserved' },
    // Calico's validator also accepts bare IPs here, but the v3 CRD declares `format: cidr`
    // (Kubernetes: net.ParseCIDR), so a v3-CRD API server would refuse them: samples use CIDRs.
    spec: { reservedCIDRs: ['192.168.0.0/30', '192.168.1.7/32', 'fd00:10:244::1/128'] },
  },
  {
    kind: 'IPAMConfiguration',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'default' },
    spec: { strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: 4 },
  },
  {
    kind: 'BlockAffinity',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'node-1-192-168-84-128-26' },
    spec: { state: 'confirmed', node: 'node-1', type: 'host', cidr: '192.168.84.128/26', deleted: false },
  },
  {
    kind: 'Node',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1' } },
    spec: {
      bgp: { ipv4Address: '10.0.0.11/24', ipv4IPIPTunnelAddr: '192.168.84.128', asNumber: 64512, routeReflectorClusterID: '224.0.0.1' },
      orchRefs: [{ nodeName: 'node-1', orchestrator: 'k8s' }],
      ipv4VXLANTunnelAddr: '192.168.84.129',
      vxlanTunnelMACAddr: '66:2f:41:9c:0e:7d',
      addresses: [{ address: '10.0.0.11', type: 'InternalIP' }],
    },
  },
  {
    kind: 'WorkloadEndpoint',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'node--1-k8s-nginx--6799fc88d8--x2vqk-eth0', namespace: 'default', labels: { app: 'nginx' } },
    spec: {
      orchestrator: 'k8s',
      node: 'node-1',
      containerID: '3f9c1a7be0d24c6b',
      pod: 'nginx-6799fc88d8-x2vqk',
      endpoint: 'eth0',
      serviceAccountName: 'default',
      ipNetworks: ['192.168.84.129/32'],
      profiles: ['kns.default', 'ksa.default.default'],
      interfaceName: 'caliec0a6415ef1',
      mac: '6a:2f:41:9c:0e:7d',
      ports: [{ name: 'http', protocol: 'TCP', port: 80, hostPort: 0, hostIP: '' }],
    },
  },
  {
    kind: 'HostEndpoint',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'node-1-eth0' },
    spec: { node: 'node-1', interfaceName: 'eth0', expectedIPs: ['10.0.0.11'], ports: [{ name: 'ssh', protocol: 'TCP', port: 22 }] },
  },
  {
    kind: 'BGPConfiguration',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'default' },
    spec: {
      nodeToNodeMeshEnabled: true,
      asNumber: 64512,
      serviceClusterIPs: [{ cidr: '10.96.0.0/12' }],
      communities: [{ name: 'edge', value: '64512:100' }],
      prefixAdvertisements: [{ cidr: '192.168.0.0/16', communities: ['edge', '64512:200'] }],
    },
  },
  {
    kind: 'BGPConfiguration',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'node.kube-node-1' },
    spec: { listenPort: 500, logSeverityScreen: 'debug' },
  },
  {
    kind: 'BGPPeer',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'rack1-tor' },
    spec: {
      nodeSelector: "rack == 'rack-1'",
      peerIP: '10.0.0.1',
      asNumber: 64513,
      password: { secretKeyRef: { name: 'bgp-secrets', key: 'rr-password' } },
    },
  },
  {
    kind: 'BGPPeer',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'v6-with-port' },
    spec: { node: 'kube-master', peerIP: '[ac13::57]:50', asNumber: 64533, reachableBy: 'ac13::1', nextHopMode: 'Self', filters: ['export-edge'] },
  },
  {
    kind: 'BGPPeer',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'rr-mesh' },
    spec: { nodeSelector: 'has(routeReflector)', peerSelector: '!has(routeReflector)' },
  },
  {
    kind: 'BGPFilter',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'export-edge' },
    spec: {
      exportV4: [
        { action: 'Accept', matchOperator: 'In', cidr: '10.0.0.0/8', prefixLength: { min: 16, max: 24 }, operations: [{ addCommunity: { value: '64512:300' } }] },
        { action: 'Reject', interface: 'eth*' },
      ],
      importV6: [{ action: 'Reject', matchOperator: 'Equal', cidr: 'fd00::/8' }],
    },
  },
  {
    kind: 'FelixConfiguration',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'default' },
    spec: { ipipEnabled: true, vxlanPort: 4789, vxlanVNI: 4096, routeTableRanges: [{ min: 1, max: 250 }], logSeverityScreen: 'Info' },
  },
  {
    kind: 'ClusterInformation',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'default' },
    spec: { clusterGUID: '0123456789abcdef0123456789abcdef', clusterType: 'k8s,bgp', calicoVersion: 'v3.32.0', datastoreReady: true },
  },
  {
    kind: 'NetworkPolicy',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'allow-web', namespace: 'prod' },
    spec: {
      selector: "app == 'web'",
      ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [80, '8080:8090'] }, source: { nets: ['10.0.0.0/8'] } }],
    },
  },
  {
    kind: 'GlobalNetworkPolicy',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'deny-egress' },
    spec: { order: 100, selector: 'all()', egress: [{ action: 'Deny', destination: { namespaceSelector: 'global()' } }] },
  },
  {
    kind: 'Tier',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'security' },
    spec: { order: 100, defaultAction: 'Pass' },
  },
  {
    kind: 'Profile',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'kns.default' },
    spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }], labelsToApply: { 'pcns.projectcalico.org/name': 'default' } },
  },
  {
    kind: 'NetworkSet',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'partners', namespace: 'prod' },
    spec: { nets: ['198.51.100.0/24', '203.0.113.7'] },
  },
  {
    kind: 'GlobalNetworkSet',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'blocklist' },
    spec: { nets: ['2001:db8::/32'] },
  },
  {
    kind: 'KubeControllersConfiguration',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'default' },
    spec: { controllers: { node: { reconcilerPeriod: '5m', syncLabels: 'Enabled' }, loadBalancer: {} }, etcdV3CompactionPeriod: '10m' },
  },
];
