import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults } from './defaults.js';
import { ValidationError, type FieldError } from './errors.js';
import { newResource } from './new-resource.js';
import type { Resource } from './resources.js';
import { collectValidationErrors, parsePeerIP, validateResource } from './validate.js';

function errorsOf(resource: unknown): FieldError[] {
  return collectValidationErrors(applyDefaults(resource));
}

function pool(spec: Record<string, unknown>): Resource {
  return { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'p' }, spec } as unknown as Resource;
}

/** [title, resource, field, reason fragment] — each must produce that error (after defaults). */
const BAD: Array<[string, unknown, string, RegExp]> = [
  ['prefix length 33', pool({ cidr: '10.0.0.0/33' }), 'spec.cidr', /prefix length 33 is out of range for IPv4/],
  ['octet 300', pool({ cidr: '300.1.1.1/8' }), 'spec.cidr', /300\.1\.1\.1.*IPv4 field has value >255/],
  ['host bits set', pool({ cidr: '10.0.0.1/16' }), 'spec.cidr', /not strictly masked.*10\.0\.0\.0\/16/],
  ['v6 host bits set', pool({ cidr: 'fd00::1/64' }), 'spec.cidr', /not strictly masked/],
  ['bare IP as pool', pool({ cidr: '10.0.0.1' }), 'spec.cidr', /prefix length is required/],
  ['missing cidr', pool({}), 'spec.cidr', /must be specified/],
  ['v4 block size 19', pool({ cidr: '10.0.0.0/16', blockSize: 19 }), 'spec.blockSize', /between 20 and 32/],
  ['v4 block size 33', pool({ cidr: '10.0.0.0/16', blockSize: 33 }), 'spec.blockSize', /between 20 and 32/],
  ['v6 pool with blockSize 26', pool({ cidr: 'fd00::/64', blockSize: 26 }), 'spec.blockSize', /between 116 and 128/],
  ['v6 block size 129', pool({ cidr: 'fd00::/64', blockSize: 129 }), 'spec.blockSize', /at most 128/],
  ['pool smaller than block', pool({ cidr: '10.0.0.0/28' }), 'spec.cidr', /too small.*block size 26/],
  ['ipipMode on v6', pool({ cidr: 'fd00::/64', ipipMode: 'Always' }), 'spec.ipipMode', /not supported on IPv6/],
  ['IPIP and VXLAN both on', pool({ cidr: '10.0.0.0/16', ipipMode: 'Always', vxlanMode: 'CrossSubnet' }), 'spec.vxlanMode', /cannot both be enabled/],
  ['unknown ipipMode', pool({ cidr: '10.0.0.0/16', ipipMode: 'Sometimes' }), 'spec.ipipMode', /must be one of "Never", "Always", "CrossSubnet"/],
  ['bad node selector', pool({ cidr: '10.0.0.0/16', nodeSelector: "zone = 'a'" }), 'spec.nodeSelector', /invalid selector/],
  ['global() node selector', pool({ cidr: '10.0.0.0/16', nodeSelector: 'global()' }), 'spec.nodeSelector', /global\(\) is not valid/],
  ['unknown allowed use', pool({ cidr: '10.0.0.0/16', allowedUses: ['Workload', 'Pods'] }), 'spec.allowedUses[1]', /must be one of/],
  ['LoadBalancer with Workload', pool({ cidr: '10.0.0.0/16', allowedUses: ['LoadBalancer', 'Workload'] }), 'spec.allowedUses', /cannot be combined/],
  ['LoadBalancer with node selector', pool({ cidr: '10.0.0.0/16', allowedUses: ['LoadBalancer'], nodeSelector: 'has(a)' }), 'spec.nodeSelector', /must have nodeSelector all\(\)/],
  ['Tunnel with namespaceSelector', pool({ cidr: '10.0.0.0/16', namespaceSelector: 'has(a)' }), 'spec.namespaceSelector', /Tunnel cannot have a namespaceSelector/],
  ['link-local pool', pool({ cidr: '169.254.0.0/16' }), 'spec.cidr', /link-local/],
  ['wrong assignmentMode', pool({ cidr: '10.0.0.0/16', assignmentMode: 'Auto' }), 'spec.assignmentMode', /must be one of/],
  ['natOutgoing as a string', pool({ cidr: '10.0.0.0/16', natOutgoing: 'yes' }), 'spec.natOutgoing', /must be a boolean/],
  ['unknown field', pool({ cidr: '10.0.0.0/16', ipip: { enabled: true } }), 'spec.ipip', /unknown field "ipip"/],
  ['uppercase name', { ...pool({ cidr: '10.0.0.0/16' }), metadata: { name: 'Pool_1' } }, 'metadata.name', /DNS-1123|lower case/],
  ['missing name', { ...pool({ cidr: '10.0.0.0/16' }), metadata: {} }, 'metadata.name', /required/],
  ['namespace on a cluster kind', { ...pool({ cidr: '10.0.0.0/16' }), metadata: { name: 'p', namespace: 'default' } }, 'metadata.namespace', /cluster-scoped/],
  ['bad label value', { ...pool({ cidr: '10.0.0.0/16' }), metadata: { name: 'p', labels: { a: 'has space' } } }, 'metadata.labels.a', /invalid label value/],
  ['wrong apiVersion', { ...pool({ cidr: '10.0.0.0/16' }), apiVersion: 'crd.projectcalico.org/v1' }, 'apiVersion', /projectcalico\.org\/v3/],
  ['unknown kind', { kind: 'IPPol', apiVersion: 'projectcalico.org/v3', metadata: { name: 'p' }, spec: {} }, 'kind', /unknown resource kind "IPPol"/],
  ['node bgp v4 with v6 address', newResource('Node', 'n', { bgp: { ipv4Address: 'fd00::1/64' } }), 'spec.bgp.ipv4Address', /must be an IPv4/],
  ['node bgp bad prefix', newResource('Node', 'n', { bgp: { ipv4Address: '10.0.0.1/40' } }), 'spec.bgp.ipv4Address', /out of range/],
  ['node AS out of range', newResource('Node', 'n', { bgp: { ipv4Address: '10.0.0.1/24', asNumber: 4294967296 } }), 'spec.bgp.asNumber', /AS number/],
  ['node bad asdot', newResource('Node', 'n', { bgp: { ipv4Address: '10.0.0.1/24', asNumber: '1.70000' as never } }), 'spec.bgp.asNumber', /AS number/],
  ['RR cluster ID not IPv4', newResource('Node', 'n', { bgp: { ipv4Address: '10.0.0.1/24', routeReflectorClusterID: '1.2.3' } }), 'spec.bgp.routeReflectorClusterID', /IP address/],
  ['empty bgp', newResource('Node', 'n', { bgp: {} }), 'spec.bgp', /must not be empty/],
  ['bad VXLAN MAC', newResource('Node', 'n', { vxlanTunnelMACAddr: '66:2f:41' }), 'spec.vxlanTunnelMACAddr', /MAC/],
  ['peer with bad port', newResource('BGPPeer', 'p', { peerIP: '10.0.0.1:70000', asNumber: 1 }), 'spec.peerIP', /port 1-65535/],
  ['peer v6 port without brackets', newResource('BGPPeer', 'p', { peerIP: 'fd00::1:179x', asNumber: 1 }), 'spec.peerIP', /peerIP must be/],
  ['node and nodeSelector', newResource('BGPPeer', 'p', { node: 'a', nodeSelector: 'has(x)', peerIP: '10.0.0.1', asNumber: 1 }), 'spec.nodeSelector', /cannot both be set/],
  ['peerIP and peerSelector', newResource('BGPPeer', 'p', { peerIP: '10.0.0.1', peerSelector: 'has(x)' }), 'spec.peerSelector', /cannot both be set/],
  ['asNumber with peerSelector', newResource('BGPPeer', 'p', { peerSelector: 'has(x)', asNumber: 64512 }), 'spec.asNumber', /must be empty when peerSelector/],
  ['bad peer selector', newResource('BGPPeer', 'p', { peerSelector: 'has(x' }), 'spec.peerSelector', /invalid selector/],
  ['reachableBy family', newResource('BGPPeer', 'p', { peerIP: '10.0.0.1', asNumber: 1, reachableBy: 'fd00::1' }), 'spec.reachableBy', /families do not match/],
  ['reachableBy without peerIP', newResource('BGPPeer', 'p', { nodeSelector: 'all()', reachableBy: '10.0.0.1' }), 'spec.reachableBy', /must be empty when peerIP is empty/],
  ['keepOriginalNextHop with nextHopMode', newResource('BGPPeer', 'p', { peerIP: '10.0.0.1', asNumber: 1, keepOriginalNextHop: true, nextHopMode: 'Self' }), 'spec.keepOriginalNextHop', /cannot both be set/],
  ['peer filter name', newResource('BGPPeer', 'p', { peerIP: '10.0.0.1', asNumber: 1, filters: ['Bad_Name'] }), 'spec.filters[0]', /DNS-1123/],
  ['mesh field on node BGPConfiguration', newResource('BGPConfiguration', 'node.a', { nodeToNodeMeshEnabled: false }), 'spec.nodeToNodeMeshEnabled', /only be set on the global/],
  ['mesh password with mesh off', newResource('BGPConfiguration', 'default', { nodeToNodeMeshEnabled: false, nodeMeshPassword: { secretKeyRef: { key: 'k' } } }), 'spec.nodeMeshPassword', /cannot be set/],
  ['community value too big', newResource('BGPConfiguration', 'default', { communities: [{ name: 'c', value: '70000:1' }], prefixAdvertisements: [{ cidr: '10.0.0.0/8', communities: ['c'] }] }), 'spec.communities[0].value', /16 bit/],
  ['communities without advertisements', newResource('BGPConfiguration', 'default', { communities: [{ name: 'c', value: '1:1' }] }), 'spec.communities', /not used/],
  ['undefined community name', newResource('BGPConfiguration', 'default', { prefixAdvertisements: [{ cidr: '10.0.0.0/8', communities: ['nope'] }] }), 'spec.prefixAdvertisements[0].communities[0]', /neither a valid value nor the name/],
  ['service cluster IP with host bits', newResource('BGPConfiguration', 'default', { serviceClusterIPs: [{ cidr: '10.96.0.1/12' }] }), 'spec.serviceClusterIPs[0].cidr', /strictly masked/],
  ['filter v4 rule with v6 cidr', newResource('BGPFilter', 'f', { exportV4: [{ action: 'Accept', cidr: 'fd00::/8', matchOperator: 'In' }] }), 'spec.exportV4[0].cidr', /IPv4/],
  ['filter cidr without operator', newResource('BGPFilter', 'f', { importV4: [{ action: 'Reject', cidr: '10.0.0.0/8' }] }), 'spec.importV4[0].matchOperator', /both be set/],
  ['filter operations with Reject', newResource('BGPFilter', 'f', { importV4: [{ action: 'Reject', operations: [{ setPriority: { value: 5 } }] }] }), 'spec.importV4[0].operations', /only be used with action Accept/],
  ['WEP without interfaceName', { kind: 'WorkloadEndpoint', apiVersion: 'projectcalico.org/v3', metadata: { namespace: 'default' }, spec: { orchestrator: 'k8s', node: 'n', pod: 'p', endpoint: 'eth0' } }, 'spec.interfaceName', /required/],
  ['WEP /24 network', newResource('WorkloadEndpoint', 'n-k8s-p-eth0', { orchestrator: 'k8s', node: 'n', pod: 'p', endpoint: 'eth0', interfaceName: 'cali1', ipNetworks: ['10.0.0.0/24'] }, 'default'), 'spec.ipNetworks[0]', /multiple addresses/],
  ['WEP name mismatch', newResource('WorkloadEndpoint', 'wrong', { orchestrator: 'k8s', node: 'n', pod: 'p', endpoint: 'eth0', interfaceName: 'cali1' }, 'default'), 'metadata.name', /expected "n-k8s-p-eth0"/],
  ['WEP port with ICMP', newResource('WorkloadEndpoint', 'n-k8s-p-eth0', { orchestrator: 'k8s', node: 'n', pod: 'p', endpoint: 'eth0', interfaceName: 'cali1', ports: [{ name: 'x', protocol: 'ICMP', port: 1, hostPort: 0, hostIP: '' }] }, 'default'), 'spec.ports[0].protocol', /does not support ports/],
  ['WEP missing namespace', { kind: 'WorkloadEndpoint', apiVersion: 'projectcalico.org/v3', metadata: { name: 'n-k8s-p-eth0' }, spec: { orchestrator: 'k8s', node: 'n', pod: 'p', endpoint: 'eth0', interfaceName: 'c' } }, 'metadata.namespace', /namespaced/],
  ['IPReservation bad entry', newResource('IPReservation', 'r', { reservedCIDRs: ['10.0.0.0/8', 'nope'] }), 'spec.reservedCIDRs[1]', /invalid CIDR/],
  ['IPAM config name', newResource('IPAMConfiguration', 'other', { strictAffinity: false, autoAllocateBlocks: true }), 'metadata.name', /singleton/],
  ['IPAM cooldown too long', newResource('IPAMConfiguration', 'default', { strictAffinity: false, autoAllocateBlocks: true, ipCooldownSeconds: 1201 }), 'spec.ipCooldownSeconds', /at most 1200/],
  ['IPAM negative max blocks', newResource('IPAMConfiguration', 'default', { strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: -1 }), 'spec.maxBlocksPerHost', /at least 0/],
  ['affinity deleted true', newResource('BlockAffinity', 'a', { state: 'confirmed', node: 'n', cidr: '10.0.0.0/26', deleted: true }), 'spec.deleted', /cannot be set to true/],
  ['tier name with dot', newResource('Tier', 'a.b', {}), 'metadata.name', /lower case alphanumeric characters or '-'/],
  ['GNP name with two dots', newResource('GlobalNetworkPolicy', 'a.b.c', {}), 'metadata.name', /single dot/],
  ['rule ports without protocol', newResource('GlobalNetworkPolicy', 'g', { ingress: [{ action: 'Allow', destination: { ports: [80] } }] }), 'spec.ingress[0].protocol', /TCP, UDP or SCTP/],
  ['preDNAT without applyOnForward', newResource('GlobalNetworkPolicy', 'g', { preDNAT: true }), 'spec.applyOnForward', /must be true/],
  ['Felix nodeSelector on default', newResource('FelixConfiguration', 'default', { nodeSelector: 'all()' }), 'spec.nodeSelector', /cannot be set on the "default"/],
  ['Felix bad natOutgoingAddress', newResource('FelixConfiguration', 'default', { natOutgoingAddress: 'fd00::1' }), 'spec.natOutgoingAddress', /IPv4/],
  ['HostEndpoint without node', newResource('HostEndpoint', 'h', { interfaceName: 'eth0' }), 'spec.node', /must be specified/],
  ['network set reserved label', { ...newResource('NetworkSet', 's', { nets: ['10.0.0.0/8'] }, 'ns1'), metadata: { name: 's', namespace: 'ns1', labels: { 'projectcalico.org/namespace': 'x' } } }, 'metadata.labels.projectcalico.org/namespace', /reserved/],
  ['cluster GUID', newResource('ClusterInformation', 'default', { clusterGUID: 'XYZ' }), 'spec.clusterGUID', /32 lowercase hexadecimal/],
  ['KCC template without generateName', newResource('KubeControllersConfiguration', 'default', { controllers: { node: { hostEndpoint: { templates: [{ interfacePattern: 'eth*' }] } } } }), 'spec.controllers.node.hostEndpoint.templates[0].generateName', /required/],
];

describe('validateResource: bad input', () => {
  for (const [title, resource, field, reason] of BAD) {
    it(title, () => {
      const errors = errorsOf(resource);
      const match = errors.find((e) => e.name === field && reason.test(e.reason));
      assert.ok(match, `expected ${field} ~ ${reason}, got ${JSON.stringify(errors)}`);
      assert.throws(() => validateResource(applyDefaults(resource)), (error: unknown) => {
        assert.ok(ValidationError.isInstance(error));
        assert.ok((error as ValidationError).fields.some((f) => f.name === field));
        return true;
      });
    });
  }

  it('lists every problem, not only the first', () => {
    const errors = errorsOf(pool({ cidr: 'fd00::1/64', ipipMode: 'Always', blockSize: 26, nodeSelector: '((' }));
    const names = errors.map((e) => e.name);
    assert.ok(errors.length >= 4, JSON.stringify(errors)); // host bits, block size, IPIP on v6, selector
    assert.ok(errors.some((e) => e.name === 'spec.ipipMode'));
    for (const field of ['spec.cidr', 'spec.blockSize', 'spec.nodeSelector']) assert.ok(names.includes(field), `${field} missing from ${names}`);
  });

  it('never throws a TypeError on garbage', () => {
    for (const garbage of [null, 42, 'x', [], { kind: 'IPPool' }, { kind: 'IPPool', spec: 'x' }, { kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: [], spec: { bgp: 5, addresses: 'x' } }]) {
      const errors = collectValidationErrors(garbage);
      assert.ok(errors.length > 0, JSON.stringify(garbage));
      assert.throws(() => validateResource(garbage), (e: unknown) => ValidationError.isInstance(e));
    }
  });

  it('carries the resource identifier on the error', () => {
    try {
      validateResource(pool({ cidr: '10.0.0.0/33' }));
      assert.fail('should throw');
    } catch (error) {
      assert.deepEqual((error as ValidationError).identifier, { kind: 'IPPool', name: 'p' });
      assert.match((error as Error).message, /IPPool\(p\).*spec\.cidr/);
    }
  });
});

describe('validateResource: good input', () => {
  const GOOD: Array<[string, unknown]> = [
    ['v4 pool, all modes', pool({ cidr: '10.0.0.0/16', ipipMode: 'CrossSubnet', vxlanMode: 'Never', blockSize: 20 })],
    ['v6 pool /128 blocks', pool({ cidr: 'fd00:10:244::/112', vxlanMode: 'Always', blockSize: 128 })],
    ['disabled pool smaller than its block', pool({ cidr: '10.0.0.0/30', disabled: true })],
    ['asdot AS numbers', newResource('BGPPeer', 'p', { peerIP: '10.0.0.1:179', asNumber: '1.10' as never, localASNumber: '64512' as never })],
    ['bare IP node address', newResource('Node', 'n', { bgp: { ipv4Address: '10.0.0.1', ipv6Address: 'fd00::1/64' } })],
    ['unmasked node address', newResource('Node', 'n', { bgp: { ipv4Address: '10.0.0.11/24' } })],
    ['HostEndpoint for all interfaces', newResource('HostEndpoint', 'h', { node: 'n', interfaceName: '*' })],
    ['KNP-style policy name', newResource('NetworkPolicy', 'knp.default.allow-dns', {}, 'kube-system')],
    ['computed WEP name', { kind: 'WorkloadEndpoint', apiVersion: 'projectcalico.org/v3', metadata: { namespace: 'default' }, spec: { orchestrator: 'cni', node: 'n', containerID: 'abc', endpoint: 'eth0', interfaceName: 'cali1' } }],
  ];
  for (const [title, resource] of GOOD) {
    it(title, () => assert.deepEqual(errorsOf(resource), []));
  }
});

describe('parsePeerIP', () => {
  it('splits address and port', () => {
    assert.deepEqual(parsePeerIP('10.0.0.1'), { ip: '10.0.0.1' });
    assert.deepEqual(parsePeerIP('10.0.0.1:166'), { ip: '10.0.0.1', port: 166 });
    assert.deepEqual(parsePeerIP('[ac13::57]:50'), { ip: 'ac13::57', port: 50 });
    assert.deepEqual(parsePeerIP('ac13::57'), { ip: 'ac13::57' });
    for (const bad of ['10.0.0.1:0', '10.0.0.1:65536', '[10.0.0.1]:5', 'ac13::57:50x', '', 'host:1']) {
      assert.equal(parsePeerIP(bad), undefined, bad);
    }
  });
});
