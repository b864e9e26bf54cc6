import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KINDS, RESOURCE_KINDS, ValidationError } from '@libcalico-ts/api';
import type { Key, ListInterface } from './contract.js';
import { IPAM_CONFIG_PATH, keyToPath, listToPrefix, listToPrefixes, pathToKey } from './paths.js';

const R = '/calico/resources/v3/projectcalico.org/';

// [key, path] pairs that must convert both ways exactly.
const roundTrips: [Key, string][] = [
  [{ type: 'resource', kind: 'IPPool', name: 'default-ipv4-ippool' }, `${R}ippools/default-ipv4-ippool`],
  [{ type: 'resource', kind: 'Node', name: 'node-1' }, `${R}nodes/node-1`],
  [
    { type: 'resource', kind: 'WorkloadEndpoint', namespace: 'default', name: 'node--1-k8s-nginx--6799fc88d8--x2vqk-eth0' },
    `${R}workloadendpoints/default/node--1-k8s-nginx--6799fc88d8--x2vqk-eth0`,
  ],
  [{ type: 'resource', kind: 'BGPConfiguration', name: 'default' }, `${R}bgpconfigurations/default`],
  [{ type: 'resource', kind: 'BGPFilter', name: 'f1' }, `${R}bgpfilters/f1`],
  [{ type: 'resource', kind: 'KubeControllersConfiguration', name: 'default' }, `${R}kubecontrollersconfigurations/default`],
  [{ type: 'resource', kind: 'NetworkPolicy', namespace: 'prod', name: 'allow-dns' }, `${R}networkpolicies/prod/allow-dns`],
  [{ type: 'resource', kind: 'GlobalNetworkPolicy', name: 'default.allow-dns' }, `${R}globalnetworkpolicies/default.allow-dns`],
  [{ type: 'block', cidr: '192.168.84.128/26' }, '/calico/ipam/v2/assignment/ipv4/block/192.168.84.128-26'],
  [{ type: 'block', cidr: 'fd00:10:244::/122' }, '/calico/ipam/v2/assignment/ipv6/block/fd00:10:244::-122'],
  [{ type: 'block', cidr: '10.0.0.7/32' }, '/calico/ipam/v2/assignment/ipv4/block/10.0.0.7-32'],
  [
    { type: 'blockAffinity', host: 'node-1', cidr: '192.168.84.128/26', affinityType: 'host' },
    '/calico/ipam/v2/host/node-1/ipv4/block/192.168.84.128-26',
  ],
  [
    { type: 'blockAffinity', host: 'load-balancer', cidr: '10.10.0.0/26', affinityType: 'virtual' },
    '/calico/ipam/v2/virtual/load-balancer/ipv4/block/10.10.0.0-26',
  ],
  [
    { type: 'blockAffinity', host: 'node-1', cidr: 'fd00:10:244::40/122', affinityType: 'host' },
    '/calico/ipam/v2/host/node-1/ipv6/block/fd00:10:244::40-122',
  ],
  [
    { type: 'handle', handleId: 'k8s-pod-network.3f9c1a7be0d24c6b8e5f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d' },
    '/calico/ipam/v2/handle/k8s-pod-network.3f9c1a7be0d24c6b8e5f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d',
  ],
  [{ type: 'handle', handleId: 'ipip-tunnel-addr-Node-1' }, '/calico/ipam/v2/handle/ipip-tunnel-addr-Node-1'],
  [{ type: 'ipamConfig' }, '/calico/ipam/v2/config'],
];

test('keyToPath and pathToKey are inverse on Calico keys', () => {
  for (const [key, path] of roundTrips) {
    assert.equal(keyToPath(key), path, JSON.stringify(key));
    assert.deepEqual(pathToKey(path), key, path);
  }
});

test('every kind maps to its plural under the v3 root', () => {
  for (const kind of RESOURCE_KINDS) {
    const info = KINDS[kind];
    const key: Key = info.namespaced ? { type: 'resource', kind, namespace: 'ns1', name: 'x' } : { type: 'resource', kind, name: 'x' };
    const path = keyToPath(key);
    assert.equal(path, info.namespaced ? `${R}${info.plural}/ns1/x` : `${R}${info.plural}/x`);
    assert.deepEqual(pathToKey(path), key);
  }
});

test('an affinity key without affinityType is a host affinity', () => {
  assert.equal(
    keyToPath({ type: 'blockAffinity', host: 'node-1', cidr: '10.0.0.0/26' }),
    '/calico/ipam/v2/host/node-1/ipv4/block/10.0.0.0-26',
  );
});

test('CIDRs must be in canonical form (one key per block)', () => {
  for (const cidr of ['FD00:0010:0244:0000::/122', 'fd00:0:0:0:0:0:0:0/120', '010.0.0.0/8']) {
    assert.throws(
      () => keyToPath({ type: 'blockAffinity', host: 'h', cidr }),
      (e: unknown) => ValidationError.isInstance(e) && /canonical|invalid/.test((e as Error).message),
      cidr,
    );
  }
});

test('names with / or % are escaped and unescaped', () => {
  const key: Key = { type: 'resource', kind: 'IPPool', name: 'a/b%c' };
  assert.equal(keyToPath(key), `${R}ippools/a%2fb%25c`);
  assert.deepEqual(pathToKey(`${R}ippools/a%2fb%25c`), key);
  assert.deepEqual(pathToKey(`${R}ippools/a%2Fb`), { type: 'resource', kind: 'IPPool', name: 'a/b' });
  assert.deepEqual(pathToKey(`${R}networksets/n%2fs/x%25y`), { type: 'resource', kind: 'NetworkSet', namespace: 'n/s', name: 'x%y' });
  // Only the two escapes are decoded.
  assert.deepEqual(pathToKey(`${R}ippools/a%20b`), { type: 'resource', kind: 'IPPool', name: 'a%20b' });
});

test('paths we do not model give undefined', () => {
  const unmodelled = [
    '/calico/felix/v2/no-region/host/node-1/status',
    '/calico/felix/v2/no-region/host/node-1/last_reported_status',
    '/calico/felix/v2/no-region/host/node-1/workload/k8s/default%2fpod/endpoint/eth0',
    '/calico/v1/config/ClusterGUID',
    '/calico/bgp/v1/global/as_num',
    '/calico/v1/ipam/v4/pool/10.0.0.0-16',
    `${R}unknownkinds/x`,
    `${R}ippools/`,
    `${R}ippools/ns/x`, // cluster-scoped kind with a namespace segment
    `${R}networkpolicies/x`, // namespaced kind without one
    `${R}networkpolicies/ns/`,
    '/calico/resources/v3/projectcalico.org',
    '/calico/ipam/v2/assignment/ipv4/block/not-a-cidr',
    '/calico/ipam/v2/assignment/ipv4/block/192.168.84.129-26', // host bits set
    '/calico/ipam/v2/assignment/ipv6/block/FD00:10:244::-122', // not the canonical spelling
    '/calico/ipam/v2/host/node-1/ipv6/block/fd00:0:0::-122',
    '/calico/ipam/v2/assignment/ipv6/block/10.0.0.0-26', // wrong family
    '/calico/ipam/v2/assignment/ipv4/block/10.0.0.0-33',
    '/calico/ipam/v2/assignment/ipv4/10.0.0.0-26',
    '/calico/ipam/v2/host/node-1/ipv4/block/10.0.0.0-26/extra',
    '/calico/ipam/v2/host//ipv4/block/10.0.0.0-26',
    '/calico/ipam/v2/other/node-1/ipv4/block/10.0.0.0-26',
    '/calico/ipam/v2/handle/',
    '/calico/ipam/v2/handle/a/b',
    '/calico/ipam/v2/configx',
    'calico/ipam/v2/config',
    '',
  ];
  for (const path of unmodelled) {
    // Non-canonical CIDR spellings are refused: the key could not address the same path again.
    assert.equal(pathToKey(path), undefined, path);
  }
});

test('bad keys are rejected with ValidationError naming the field', () => {
  const bad: [unknown, string][] = [
    [{ type: 'resource', kind: 'Nope', name: 'x' }, 'kind'],
    [{ type: 'resource', kind: 'IPPool', name: '' }, 'name'],
    [{ type: 'resource', kind: 'IPPool', name: 'x', namespace: 'ns' }, 'namespace'],
    [{ type: 'resource', kind: 'NetworkSet', name: 'x' }, 'namespace'],
    [{ type: 'block', cidr: '10.0.0.1/26' }, 'cidr'],
    [{ type: 'block', cidr: 'fd00::0/122' }, 'cidr'],
    [{ type: 'block', cidr: '10.0.0.0' }, 'cidr'],
    [{ type: 'block', cidr: 'banana/26' }, 'cidr'],
    [{ type: 'block', cidr: 42 }, 'cidr'],
    [{ type: 'blockAffinity', host: '', cidr: '10.0.0.0/26' }, 'host'],
    [{ type: 'blockAffinity', host: 'a/b', cidr: '10.0.0.0/26' }, 'host'],
    [{ type: 'blockAffinity', host: 'h', cidr: '10.0.0.0/26', affinityType: 'other' }, 'affinityType'],
    [{ type: 'handle', handleId: '' }, 'handleId'],
    [{ type: 'handle', handleId: 'a/b' }, 'handleId'],
    [{ type: 'nope' }, 'type'],
    [null, 'key'],
  ];
  for (const [key, field] of bad) {
    assert.throws(
      () => keyToPath(key as Key),
      (error: unknown) => ValidationError.isInstance(error) && (error as ValidationError).fields[0]!.name === field,
      JSON.stringify(key),
    );
  }
});

test('listToPrefix follows the trailing-slash rule', () => {
  const cases: [ListInterface, string][] = [
    [{ type: 'resource', kind: 'IPPool' }, `${R}ippools/`],
    [{ type: 'resource', kind: 'IPPool', name: 'pool-a' }, `${R}ippools/pool-a`],
    [{ type: 'resource', kind: 'WorkloadEndpoint' }, `${R}workloadendpoints/`],
    [{ type: 'resource', kind: 'WorkloadEndpoint', namespace: 'default' }, `${R}workloadendpoints/default/`],
    [{ type: 'resource', kind: 'WorkloadEndpoint', namespace: 'default', name: 'w1' }, `${R}workloadendpoints/default/w1`],
    [{ type: 'resource', kind: 'WorkloadEndpoint', name: 'w1' }, `${R}workloadendpoints/`],
    [{ type: 'block' }, '/calico/ipam/v2/assignment/'],
    [{ type: 'block', ipVersion: 4 }, '/calico/ipam/v2/assignment/ipv4/block/'],
    [{ type: 'block', ipVersion: 6 }, '/calico/ipam/v2/assignment/ipv6/block/'],
    [{ type: 'blockAffinity' }, '/calico/ipam/v2/'],
    [{ type: 'blockAffinity', affinityType: 'host' }, '/calico/ipam/v2/host/'],
    [{ type: 'blockAffinity', affinityType: 'virtual' }, '/calico/ipam/v2/virtual/'],
    [{ type: 'blockAffinity', affinityType: 'host', host: 'node-1' }, '/calico/ipam/v2/host/node-1/'],
    [{ type: 'blockAffinity', affinityType: 'host', host: 'node-1', ipVersion: 6 }, '/calico/ipam/v2/host/node-1/ipv6/block/'],
    [{ type: 'blockAffinity', host: 'lb', affinityType: 'virtual', ipVersion: 4 }, '/calico/ipam/v2/virtual/lb/ipv4/block/'],
    [{ type: 'blockAffinity', affinityType: 'host', ipVersion: 4 }, '/calico/ipam/v2/host/'],
    [{ type: 'handle' }, '/calico/ipam/v2/handle/'],
    [{ type: 'ipamConfig' }, IPAM_CONFIG_PATH],
  ];
  for (const [list, prefix] of cases) assert.equal(listToPrefix(list), prefix, JSON.stringify(list));
  // Every key of a kind lives under its list prefix.
  for (const [key, path] of roundTrips) {
    const list =
      key.type === 'resource'
        ? { type: 'resource' as const, kind: key.kind }
        : key.type === 'blockAffinity'
          ? { type: key.type, affinityType: key.affinityType }
          : { type: key.type };
    assert.ok(path.startsWith(listToPrefix(list as ListInterface)), path);
  }
});

test('listToPrefix rejects bad lists', () => {
  const bad: [unknown, string][] = [
    [{ type: 'resource', kind: 'IPPool', namespace: 'x' }, 'namespace'],
    [{ type: 'resource', kind: 'Bogus' }, 'kind'],
    [{ type: 'block', ipVersion: 5 }, 'ipVersion'],
    [{ type: 'blockAffinity', host: 'a/b' }, 'host'],
    [{ type: 'blockAffinity', affinityType: 'x' }, 'affinityType'],
    [{ type: 'what' }, 'type'],
  ];
  for (const [list, field] of bad) {
    assert.throws(
      () => listToPrefix(list as ListInterface),
      (error: unknown) => ValidationError.isInstance(error) && (error as ValidationError).fields[0]!.name === field,
      JSON.stringify(list),
    );
  }
});

test('listToPrefixes covers both affinity trees when no affinity type is given', () => {
  assert.deepEqual(listToPrefixes({ type: 'blockAffinity' }), ['/calico/ipam/v2/host/', '/calico/ipam/v2/virtual/']);
  assert.deepEqual(listToPrefixes({ type: 'blockAffinity', host: 'node-1', ipVersion: 4 }), [
    '/calico/ipam/v2/host/node-1/ipv4/block/',
    '/calico/ipam/v2/virtual/node-1/ipv4/block/',
  ]);
  assert.deepEqual(listToPrefixes({ type: 'blockAffinity', affinityType: 'host', host: 'n' }), ['/calico/ipam/v2/host/n/']);
  assert.deepEqual(listToPrefixes({ type: 'resource', kind: 'Tier' }), [`${R}tiers/`]);
  assert.throws(() => listToPrefixes({ type: 'blockAffinity', host: 'a/b' }), (e: unknown) => ValidationError.isInstance(e));
});
