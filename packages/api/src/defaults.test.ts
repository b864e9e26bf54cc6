import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults, BGP_DEFAULTS } from './defaults.js';
import { newResource } from './new-resource.js';
import type { WorkloadEndpoint } from './resources.js';

describe('applyDefaults', () => {
  it('fills IPPool defaults in Calico order (reference example E1)', () => {
    const pool = newResource('IPPool', 'default-ipv4-ippool', { cidr: '192.168.0.0/16', ipipMode: 'Always', natOutgoing: true });
    const out = applyDefaults(pool);
    assert.equal(
      JSON.stringify(out.spec),
      '{"cidr":"192.168.0.0/16","vxlanMode":"Never","ipipMode":"Always","natOutgoing":true,"blockSize":26,"nodeSelector":"all()","allowedUses":["Workload","Tunnel"],"assignmentMode":"Automatic"}',
    );
  });

  it('uses 122 for IPv6 pools and canonicalises the CIDR spelling', () => {
    const out = applyDefaults(newResource('IPPool', 'v6', { cidr: 'FD00:10:244:0:0:0::/64' }));
    assert.equal(out.spec.cidr, 'fd00:10:244::/64');
    assert.equal(out.spec.blockSize, 122);
  });

  it('keeps explicit values and leaves a CIDR with host bits for validation to reject', () => {
    const out = applyDefaults(
      newResource('IPPool', 'p', { cidr: '10.0.0.1/16', blockSize: 24, nodeSelector: 'has(a)', allowedUses: ['Tunnel'], assignmentMode: 'Manual', vxlanMode: 'Always' }),
    );
    assert.deepEqual(out.spec, {
      cidr: '10.0.0.1/16',
      vxlanMode: 'Always',
      ipipMode: 'Never',
      blockSize: 24,
      nodeSelector: 'has(a)',
      allowedUses: ['Tunnel'],
      assignmentMode: 'Manual',
    });
  });

  it('does not mutate its input', () => {
    const pool = newResource('IPPool', 'p', { cidr: '10.0.0.0/16' });
    const before = JSON.stringify(pool);
    const out = applyDefaults(pool);
    assert.equal(JSON.stringify(pool), before);
    assert.notEqual(out, pool);
    assert.notEqual(out.spec, pool.spec);
  });

  it('applies the BGPConfiguration CRD defaults but not the "unset means" values (reference E8)', () => {
    const out = applyDefaults(newResource('BGPConfiguration', 'default', { nodeToNodeMeshEnabled: true, asNumber: 64512, serviceClusterIPs: [{ cidr: '10.96.0.0/12' }] }));
    assert.deepEqual(out.spec, {
      nodeToNodeMeshEnabled: true,
      asNumber: 64512,
      serviceClusterIPs: [{ cidr: '10.96.0.0/12' }],
      logSeverityScreen: 'Info',
      serviceLoadBalancerAggregation: 'Enabled',
    });
    const perNode = applyDefaults(newResource('BGPConfiguration', 'node.a', { listenPort: 500 }));
    assert.deepEqual(perNode.spec, { listenPort: 500, logSeverityScreen: 'Info', serviceLoadBalancerAggregation: 'Enabled' });
    assert.equal(BGP_DEFAULTS.asNumber, 64512);
    assert.equal(BGP_DEFAULTS.nodeToNodeMeshEnabled, true);
  });

  it('normalises AS numbers written as strings', () => {
    const peer = applyDefaults(newResource('BGPPeer', 'p', { peerIP: '10.0.0.1', asNumber: '1.10' as never, localASNumber: '64512' as never }));
    assert.equal(peer.spec.asNumber, 65546);
    assert.equal(peer.spec.localASNumber, 64512);
    const node = applyDefaults(newResource('Node', 'n', { bgp: { asNumber: '2546' as never } }));
    assert.equal(node.spec.bgp?.asNumber, 2546);
    assert.deepEqual(node.status, {});
  });

  it('defaults IPAMConfiguration, BlockAffinity, Tier and policies', () => {
    assert.deepEqual(applyDefaults(newResource('IPAMConfiguration', 'default', {} as never)).spec, { strictAffinity: false, autoAllocateBlocks: true });
    assert.equal(applyDefaults(newResource('BlockAffinity', 'a', { state: 'confirmed', node: 'n', cidr: '10.0.0.0/26' } as never)).spec.deleted, false);
    assert.equal(applyDefaults(newResource('Tier', 't', {})).spec.defaultAction, 'Deny');
    const gnp = applyDefaults(newResource('GlobalNetworkPolicy', 'g', { egress: [{ action: 'Allow', protocol: 'tcp' }] }));
    assert.deepEqual(gnp.spec.types, ['Egress']);
    assert.equal(gnp.spec.tier, 'default');
    assert.equal(gnp.spec.egress?.[0]?.protocol, 'TCP');
    assert.equal(gnp.metadata.labels?.['projectcalico.org/tier'], 'default');
    const both = applyDefaults(newResource('NetworkPolicy', 'n', { tier: 'sec', ingress: [{ action: 'Deny' }], egress: [{ action: 'Allow' }] }, 'ns'));
    assert.deepEqual(both.spec.types, ['Ingress', 'Egress']);
    assert.equal(both.metadata.labels?.['projectcalico.org/tier'], 'sec');
    assert.deepEqual(applyDefaults(newResource('NetworkPolicy', 'n', {}, 'ns')).spec.types, ['Ingress']);
  });

  it('defaults FelixConfiguration as the client writes it', () => {
    const felix = applyDefaults(newResource('FelixConfiguration', 'default', {}));
    assert.equal(felix.spec.floatingIPs, 'Disabled');
    assert.equal(felix.spec.bpfConnectTimeLoadBalancing, 'TCP');
    assert.equal(felix.spec.bpfHostNetworkedNATWithoutCTLB, 'Enabled');
    assert.equal(felix.spec.nftablesMode, 'Auto'); // CRD default
    const legacy = applyDefaults(newResource('FelixConfiguration', 'default', { bpfConnectTimeLoadBalancingEnabled: false }));
    assert.equal(legacy.spec.bpfConnectTimeLoadBalancing, 'Disabled');
    assert.equal(legacy.spec.bpfHostNetworkedNATWithoutCTLB, 'Disabled');
  });

  it('defaults KubeControllersConfiguration', () => {
    const kcc = applyDefaults(newResource('KubeControllersConfiguration', 'default', { controllers: { node: {}, loadBalancer: {} } }));
    assert.equal(kcc.spec.prometheusMetricsPort, 9094);
    assert.equal(kcc.spec.healthChecks, 'Enabled');
    assert.equal(kcc.spec.controllers.node?.leakGracePeriod, '15m0s');
    assert.equal(kcc.spec.controllers.loadBalancer?.assignIPs, 'AllServices');
    assert.equal(kcc.spec.controllers.policy, undefined);
  });

  it('names a WorkloadEndpoint and forces its labels and port keys (reference E7)', () => {
    const wep = applyDefaults<WorkloadEndpoint>({
      kind: 'WorkloadEndpoint',
      apiVersion: 'projectcalico.org/v3',
      metadata: { namespace: 'default', labels: { app: 'nginx' } },
      spec: {
        orchestrator: 'k8s',
        node: 'node-1',
        pod: 'nginx-6799fc88d8-x2vqk',
        endpoint: 'eth0',
        serviceAccountName: 'default',
        interfaceName: 'caliec0a6415ef1',
        ports: [{ name: 'http', protocol: 'tcp', port: 80 } as never],
      },
    });
    assert.equal(wep.metadata.name, 'node--1-k8s-nginx--6799fc88d8--x2vqk-eth0');
    assert.deepEqual(wep.metadata.labels, {
      app: 'nginx',
      'projectcalico.org/namespace': 'default',
      'projectcalico.org/orchestrator': 'k8s',
      'projectcalico.org/serviceaccount': 'default',
    });
    assert.equal(JSON.stringify(wep.spec.ports), '[{"name":"http","protocol":"TCP","port":80,"hostPort":0,"hostIP":""}]');
  });

  it('returns unknown kinds and non-objects as copies, unchanged', () => {
    const odd = { kind: 'Nope', spec: { a: [1] } };
    const out = applyDefaults(odd);
    assert.deepEqual(out, odd);
    assert.notEqual(out.spec, odd.spec);
    assert.equal(applyDefaults(null), null);
    assert.equal(applyDefaults(7), 7);
  });
});
