/**
 * The reference etcd examples E1-E9 (shared/reference/datastore.md §9): keys and values exactly as
 * Calico writes them, used as the wire oracle by the etcd datastore tests.
 */
import type { AllocationBlock, IPAMConfig, Key } from '@libcalico-ts/datastore';

export interface WireExample {
  readonly name: string;
  readonly path: string;
  readonly key: Key;
  /** The stored bytes, verbatim from the reference. */
  readonly raw: string;
}

export const WIRE_EXAMPLES: readonly WireExample[] = [
  {
    name: 'E1',
    path: "/calico/resources/v3/projectcalico.org/ippools/default-ipv4-ippool",
    key: { type: 'resource', kind: 'IPPool', name: 'default-ipv4-ippool' },
    raw: "{\"kind\":\"IPPool\",\"apiVersion\":\"projectcalico.org/v3\",\"metadata\":{\"name\":\"default-ipv4-ippool\",\"uid\":\"bc57590a-4185-4b99-b163-a5728e97e0fc\",\"creationTimestamp\":\"2026-03-01T10:00:00Z\"},\"spec\":{\"cidr\":\"192.168.0.0/16\",\"vxlanMode\":\"Never\",\"ipipMode\":\"Always\",\"natOutgoing\":true,\"blockSize\":26,\"nodeSelector\":\"all()\",\"allowedUses\":[\"Workload\",\"Tunnel\"],\"assignmentMode\":\"Automatic\"}}",
  },
  {
    name: 'E2',
    path: "/calico/resources/v3/projectcalico.org/nodes/node-1",
    key: { type: 'resource', kind: 'Node', name: 'node-1' },
    raw: "{\"kind\":\"Node\",\"apiVersion\":\"projectcalico.org/v3\",\"metadata\":{\"name\":\"node-1\",\"uid\":\"5d0b50e8-1568-45c7-9c2b-1f8a192e4261\",\"creationTimestamp\":\"2026-03-01T10:00:00Z\",\"labels\":{\"kubernetes.io/hostname\":\"node-1\"}},\"spec\":{\"bgp\":{\"ipv4Address\":\"10.0.0.11/24\",\"ipv4IPIPTunnelAddr\":\"192.168.84.128\"},\"orchRefs\":[{\"nodeName\":\"node-1\",\"orchestrator\":\"k8s\"}]},\"status\":{}}",
  },
  {
    name: 'E3',
    path: "/calico/ipam/v2/host/node-1/ipv4/block/192.168.84.128-26",
    key: { type: 'blockAffinity', host: 'node-1', cidr: '192.168.84.128/26', affinityType: 'host' },
    raw: "{\"state\":\"confirmed\",\"deleted\":false}",
  },
  {
    name: 'E4',
    path: "/calico/ipam/v2/assignment/ipv4/block/192.168.84.128-26",
    key: { type: 'block', cidr: '192.168.84.128/26' },
    raw: "{\"cidr\":\"192.168.84.128/26\",\"affinity\":\"host:node-1\",\"affinity_claim_time\":\"2026-03-01T10:00:00Z\",\"allocations\":[0,1,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null],\"unallocated\":[2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63],\"attributes\":[{\"handle_id\":\"ipip-tunnel-addr-node-1\",\"secondary\":{\"node\":\"node-1\",\"type\":\"ipipTunnelAddress\"}},{\"handle_id\":\"k8s-pod-network.3f9c1a7be0d24c6b8e5f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d\",\"secondary\":{\"namespace\":\"default\",\"node\":\"node-1\",\"pod\":\"nginx-6799fc88d8-x2vqk\",\"timestamp\":\"2026-03-01 10:05:07.123456789 +0000 UTC\"}}],\"sequenceNumber\":1772359200000000002,\"sequenceNumberForAllocation\":{\"0\":1772359200000000000,\"1\":1772359200000000001},\"deleted\":false}",
  },
  {
    name: 'E5',
    path: "/calico/ipam/v2/handle/k8s-pod-network.3f9c1a7be0d24c6b8e5f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d",
    key: { type: 'handle', handleId: 'k8s-pod-network.3f9c1a7be0d24c6b8e5f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d' },
    raw: "{\"block\":{\"192.168.84.128/26\":1},\"deleted\":false}",
  },
  {
    name: 'E6a',
    path: "/calico/ipam/v2/config",
    key: { type: 'ipamConfig' },
    raw: "{\"auto_allocate_blocks\":true}",
  },
  {
    name: 'E6b',
    path: "/calico/ipam/v2/config",
    key: { type: 'ipamConfig' },
    raw: "{\"strict_affinity\":true,\"auto_allocate_blocks\":true,\"maxBlocksPerHost\":4}",
  },
  {
    name: 'E7',
    path: "/calico/resources/v3/projectcalico.org/workloadendpoints/default/node--1-k8s-nginx--6799fc88d8--x2vqk-eth0",
    key: { type: 'resource', kind: 'WorkloadEndpoint', namespace: 'default', name: 'node--1-k8s-nginx--6799fc88d8--x2vqk-eth0' },
    raw: "{\"kind\":\"WorkloadEndpoint\",\"apiVersion\":\"projectcalico.org/v3\",\"metadata\":{\"name\":\"node--1-k8s-nginx--6799fc88d8--x2vqk-eth0\",\"generateName\":\"nginx-6799fc88d8-\",\"namespace\":\"default\",\"uid\":\"f295ed89-4de2-4b83-90c2-6ba3e091d698\",\"creationTimestamp\":\"2026-03-01T10:05:07Z\",\"labels\":{\"app\":\"nginx\",\"pod-template-hash\":\"6799fc88d8\",\"projectcalico.org/namespace\":\"default\",\"projectcalico.org/orchestrator\":\"k8s\",\"projectcalico.org/serviceaccount\":\"default\"}},\"spec\":{\"orchestrator\":\"k8s\",\"node\":\"node-1\",\"containerID\":\"3f9c1a7be0d24c6b8e5f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d\",\"pod\":\"nginx-6799fc88d8-x2vqk\",\"endpoint\":\"eth0\",\"serviceAccountName\":\"default\",\"ipNetworks\":[\"192.168.84.129/32\"],\"profiles\":[\"kns.default\",\"ksa.default.default\"],\"interfaceName\":\"caliec0a6415ef1\",\"mac\":\"6a:2f:41:9c:0e:7d\",\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80,\"hostPort\":0,\"hostIP\":\"\"}]}}",
  },
  {
    name: 'E8',
    path: "/calico/resources/v3/projectcalico.org/bgpconfigurations/default",
    key: { type: 'resource', kind: 'BGPConfiguration', name: 'default' },
    raw: "{\"kind\":\"BGPConfiguration\",\"apiVersion\":\"projectcalico.org/v3\",\"metadata\":{\"name\":\"default\",\"uid\":\"681dfb1d-8080-4171-8873-c295c4b1ab5c\",\"creationTimestamp\":\"2026-03-01T10:00:00Z\"},\"spec\":{\"logSeverityScreen\":\"Info\",\"nodeToNodeMeshEnabled\":true,\"asNumber\":64512,\"serviceClusterIPs\":[{\"cidr\":\"10.96.0.0/12\"}],\"serviceLoadBalancerAggregation\":\"Enabled\"}}",
  },
  {
    name: 'E9',
    path: "/calico/resources/v3/projectcalico.org/bgppeers/rack1-tor",
    key: { type: 'resource', kind: 'BGPPeer', name: 'rack1-tor' },
    raw: "{\"kind\":\"BGPPeer\",\"apiVersion\":\"projectcalico.org/v3\",\"metadata\":{\"name\":\"rack1-tor\",\"uid\":\"279dcabf-d0f8-48e2-869c-0d5c651914c3\",\"creationTimestamp\":\"2026-03-01T10:00:00Z\"},\"spec\":{\"nodeSelector\":\"rack == 'rack-1'\",\"peerIP\":\"10.0.0.1\",\"asNumber\":64513,\"password\":{\"secretKeyRef\":{\"name\":\"bgp-secrets\",\"key\":\"rr-password\"}}}}",
  },
];

const POD_HANDLE = 'k8s-pod-network.3f9c1a7be0d24c6b8e5f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d';

/** E4 as the typed value the SDK works with (sequence numbers as exact bigints). */
export const E4_BLOCK: AllocationBlock = {
  cidr: '192.168.84.128/26',
  affinity: 'host:node-1',
  affinityClaimTime: '2026-03-01T10:00:00Z',
  allocations: [0, 1, ...new Array<null>(62).fill(null)],
  unallocated: Array.from({ length: 62 }, (_, i) => i + 2),
  attributes: [
    { handleId: 'ipip-tunnel-addr-node-1', secondary: { node: 'node-1', type: 'ipipTunnelAddress' } },
    {
      handleId: POD_HANDLE,
      secondary: { namespace: 'default', node: 'node-1', pod: 'nginx-6799fc88d8-x2vqk', timestamp: '2026-03-01 10:05:07.123456789 +0000 UTC' },
    },
  ],
  sequenceNumber: 1772359200000000002n,
  sequenceNumberForAllocation: { '0': 1772359200000000000n, '1': 1772359200000000001n },
  deleted: false,
};

export const E6A_CONFIG: IPAMConfig = { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 };
export const E6B_CONFIG: IPAMConfig = { strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: 4 };

/**
 * The typed value of each example: IPAM values spelled out, v3 resources as the parsed object
 * (their JSON already is in Go field order).
 */
export function typedValue(example: WireExample): unknown {
  switch (example.name) {
    case 'E3':
      return { state: 'confirmed', deleted: false };
    case 'E4':
      return E4_BLOCK;
    case 'E5':
      return { block: { '192.168.84.128/26': 1 }, deleted: false };
    case 'E6a':
      return E6A_CONFIG;
    case 'E6b':
      return E6B_CONFIG;
    default:
      return JSON.parse(example.raw) as unknown;
  }
}
