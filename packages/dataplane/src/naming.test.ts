import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '@libcalico-ts/api';
import { containerInterfaceName, interfacePrefixFromEnv, vtepMac, workloadInterfaceName } from './naming.js';

test('host veth name: cali + 11 hex chars of SHA-1("<namespace>.<pod>") (reference examples)', () => {
  assert.equal(workloadInterfaceName('default', 'nginx-6799fc88d8-x2vqk'), 'caliec0a6415ef1');
  assert.equal(workloadInterfaceName('default', 'nginx'), 'calic440f455693');
  assert.equal(workloadInterfaceName('kube-system', 'coredns-7db6d8ff4d-abcde'), 'calif90c21019df');
  assert.equal(workloadInterfaceName('default', 'nginx', { prefix: 'tap' }), 'tapc440f455693');
  assert.throws(() => workloadInterfaceName('default', 'nginx', { prefix: 'toolong' }), ValidationError);
  assert.throws(() => workloadInterfaceName('', 'nginx'), ValidationError);
});

test('non-Kubernetes name uses the container ID; FELIX_INTERFACEPREFIX first entry', () => {
  assert.equal(containerInterfaceName('4f1c2d3e4f5a6b7c8d9e'), 'cali4f1c2d3e4f5');
  assert.equal(interfacePrefixFromEnv('tap,cali'), 'tap');
  assert.equal(interfacePrefixFromEnv(''), 'cali');
  assert.equal(interfacePrefixFromEnv(undefined), 'cali');
});

test('VTEP MAC derivation (reference §5.1 table)', () => {
  assert.equal(vtepMac('node-a'), '66:07:02:c1:cc:60');
  assert.equal(vtepMac('node-b'), '66:89:3a:22:7a:ac');
  assert.equal(vtepMac('node-c'), '66:1a:b9:f1:6e:af');
  assert.equal(vtepMac('node-a', { ipv6: true }), '66:d4:d5:51:3d:42');
});
