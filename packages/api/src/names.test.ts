import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from './errors.js';
import { parseWorkloadEndpointName, workloadEndpointName, workloadEndpointNamePrefix } from './names.js';

describe('WorkloadEndpoint names', () => {
  it('escapes dashes and joins segments per orchestrator', () => {
    assert.equal(
      workloadEndpointName({ node: 'node-1', orchestrator: 'k8s', pod: 'nginx-6799fc88d8-x2vqk', endpoint: 'eth0' }),
      'node--1-k8s-nginx--6799fc88d8--x2vqk-eth0',
    );
    assert.equal(workloadEndpointName({ node: 'nodeA', orchestrator: 'k8s', pod: 'podA', endpoint: 'eth0' }), 'nodeA-k8s-podA-eth0');
    assert.equal(workloadEndpointName({ node: 'h', orchestrator: 'cni', containerID: 'ab-12', endpoint: 'eth0' }), 'h-cni-ab--12-eth0');
    assert.equal(workloadEndpointName({ node: 'h', orchestrator: 'libnetwork', endpoint: 'ep1' }), 'h-libnetwork-libnetwork-ep1');
    assert.equal(workloadEndpointName({ node: 'h', orchestrator: 'openstack', workload: 'vm-1', endpoint: 'tap0' }), 'h-openstack-vm--1-tap0');
  });

  it('rejects missing identifiers and segments with edge dashes', () => {
    assert.throws(() => workloadEndpointName({ node: 'n', orchestrator: 'k8s', endpoint: 'eth0' }), (e: unknown) => {
      assert.ok(ValidationError.isInstance(e));
      assert.equal((e as ValidationError).fields[0]?.name, 'spec.pod');
      return true;
    });
    assert.throws(() => workloadEndpointName({ node: '-n', orchestrator: 'k8s', pod: 'p', endpoint: 'eth0' }), /start or end/);
  });

  it('parses names back and builds node prefixes', () => {
    assert.deepEqual(parseWorkloadEndpointName('node--1-k8s-nginx--6799fc88d8--x2vqk-eth0'), {
      node: 'node-1',
      orchestrator: 'k8s',
      workload: 'nginx-6799fc88d8-x2vqk',
      endpoint: 'eth0',
    });
    assert.equal(parseWorkloadEndpointName('a-b-c'), undefined);
    assert.equal(workloadEndpointNamePrefix('node-1'), 'node--1-');
  });
});
