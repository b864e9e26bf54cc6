import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CniError, errorJson, parseResult, parseStdin, printResult, readEnv, resultForVersion, type CniResult } from './cni.js';
import { parseIpList, podAnnotations } from './annotations.js';
import { goTimestamp, handleIdOf } from './ipam.js';
import { parseNetConf } from './netconf.js';

const result: CniResult = {
  interfaces: [{ name: 'calic440f455693' }, { name: 'eth0', mac: '3a:1f:9c:7e:22:51', mtu: 1450, sandbox: '/var/run/netns/cni-1234' }],
  ips: [{ address: '10.244.208.1/32', interface: 1 }],
  routes: [{ dst: '10.244.208.1/26' }],
};

describe('CNI result layouts (reference §7.2)', () => {
  it('0.3.1: struct order, version field, no mtu, empty dns', () => {
    assert.equal(
      printResult(result, '0.3.1'),
      JSON.stringify({
        cniVersion: '0.3.1',
        interfaces: [{ name: 'calic440f455693' }, { name: 'eth0', mac: '3a:1f:9c:7e:22:51', sandbox: '/var/run/netns/cni-1234' }],
        ips: [{ version: '4', interface: 1, address: '10.244.208.1/32' }],
        routes: [{ dst: '10.244.208.1/26' }],
        dns: {},
      }, null, 4),
    );
  });
  it('1.0.0: sorted keys, mtu, no dns', () => {
    const out = resultForVersion(result, '1.0.0');
    assert.deepEqual(Object.keys(out), ['cniVersion', 'interfaces', 'ips', 'routes']);
    assert.deepEqual(Object.keys((out.interfaces as object[])[1]!), ['mac', 'mtu', 'name', 'sandbox']);
  });
  it('0.2.0: first address per family with its routes', () => {
    assert.deepEqual(resultForVersion(result, '0.2.0'), { cniVersion: '0.2.0', ip4: { ip: '10.244.208.1/32', routes: [{ dst: '10.244.208.1/26' }] }, dns: {} });
  });
  it('parses every layout back to the same content', () => {
    for (const v of ['0.3.1', '0.4.0', '1.0.0', '1.1.0']) assert.deepEqual(parseResult(resultForVersion(result, v)).ips.map((i) => i.address), ['10.244.208.1/32']);
  });
});

describe('CNI protocol checks', () => {
  it('reports missing variables, bad ids and unknown commands with code 4', () => {
    const code = (env: NodeJS.ProcessEnv) => {
      try {
        readEnv(env);
        return 0;
      } catch (error) {
        return (error as CniError).code;
      }
    };
    assert.equal(code({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'a', CNI_IFNAME: 'eth0', CNI_PATH: '/x' }), 4);
    assert.equal(code({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'a', CNI_IFNAME: 'eth0', CNI_PATH: '/x' }), 0);
    assert.equal(code({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: '.a', CNI_NETNS: '/n', CNI_IFNAME: 'eth0', CNI_PATH: '/x' }), 4);
    assert.equal(code({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'a', CNI_NETNS: '/n', CNI_IFNAME: 'a-very-long-ifname', CNI_PATH: '/x' }), 4);
    assert.equal(code({ CNI_COMMAND: 'FROB' }), 4);
    assert.deepEqual(readEnv({ CNI_COMMAND: 'VERSION', CNI_ARGS: 'K8S_POD_NAME=a;IgnoreUnknown=1' }).args, { K8S_POD_NAME: 'a', IgnoreUnknown: '1' });
  });
  it('negotiates versions and commands', () => {
    assert.throws(() => parseStdin('{"cniVersion":"0.3.1","name":"n"}', 'CHECK'), (e: CniError) => e.code === 1 && e.message === 'config version does not allow CHECK');
    assert.throws(() => parseStdin('{"cniVersion":"1.0.0","name":"n"}', 'GC'), (e: CniError) => e.code === 1);
    assert.throws(() => parseStdin('{"cniVersion":"1.0.0"}', 'ADD'), (e: CniError) => e.code === 7);
    assert.throws(() => parseStdin('[1]', 'ADD'), (e: CniError) => e.code === 6);
    assert.equal(parseStdin('{"name":"n"}', 'ADD').cniVersion, '0.1.0');
  });
  it('prints error JSON with details only when present', () => {
    assert.equal(errorJson(new CniError(999, 'boom'), '1.0.0'), '{\n    "cniVersion": "1.0.0",\n    "code": 999,\n    "msg": "boom"\n}');
  });
});

describe('Calico specifics', () => {
  const conf = (ipam: Record<string, unknown> = { type: 'calico-ipam' }, extra: Record<string, unknown> = {}) =>
    parseNetConf({ cniVersion: '1.0.0', name: 'net', type: 'calico', ipam, ...extra });
  it('handle ids and Go timestamps', () => {
    assert.equal(handleIdOf('k8s-pod-network', 'abc'), 'k8s-pod-network.abc');
    assert.equal(goTimestamp(new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 123)), 456789n), '2025-01-02 03:04:05.123456789 +0000 UTC');
    assert.equal(goTimestamp(new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 0)), 0n), '2025-01-02 03:04:05 +0000 UTC');
  });
  it('NetConf keys match case-insensitively and are type-checked', () => {
    assert.equal(conf({ type: 'calico-ipam', ASSIGN_IPV6: 'true' }).ipam.assignIpv6, 'true');
    assert.throws(() => conf({ type: 'calico-ipam', ipv4_pools: 'x' }), /cannot unmarshal string into Go struct field IPAM\.ipam\.ipv4_pools of type \[\]string/);
    assert.throws(() => conf(undefined, { container_settings: { allow_ip_forwarding: 'yes' } }), /of type bool/);
  });
  it('annotations: pod beats namespace, ipAddrs validation, feature gate', () => {
    const c = conf();
    const picked = podAnnotations({ 'cni.projectcalico.org/ipv4pools': '["a"]' }, { 'cni.projectcalico.org/ipv4pools': '["b"]', 'cni.projectcalico.org/ipv6pools': '["c"]' }, c);
    assert.deepEqual([picked.ipam.ipv4Pools, picked.ipam.ipv6Pools], [['a'], ['c']]);
    assert.deepEqual(podAnnotations({ 'cni.projectcalico.org/ipFamilies': '["IPv6"]' }, {}, c).ipam, { assignIpv4: 'false', assignIpv6: 'true' });
    assert.deepEqual(parseIpList('["10.0.0.1","fd00::1"]', 'x'), ['10.0.0.1', 'fd00::1']);
    assert.throws(() => parseIpList('["fd00::1","fd00::2"]', 'x'), /more than one IPv6/);
    assert.throws(() => podAnnotations({ 'cni.projectcalico.org/ipAddrsNoIpam': '["10.0.0.1"]' }, {}, c), /requested feature is not enabled: ip_addrs_no_ipam/);
    assert.throws(() => podAnnotations({ 'cni.projectcalico.org/ipAddrs': '["10.0.0.1"]' }, {}, conf({ type: 'host-local' })), /ipAddrs is not compatible with configured IPAM: host-local/);
  });
});
