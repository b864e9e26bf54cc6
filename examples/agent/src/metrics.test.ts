import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError, type IPPool } from '@libcalico-ts/api';
import type { AllocationBlock } from '@libcalico-ts/datastore';
import { MetricsRegistry, parseListenAddress, startMetricsServer, updateIpamMetrics } from './metrics.js';

function block(cidr: string, owner: string | null, nodes: (string | null)[]): AllocationBlock {
  const attributes = nodes.map((node) => ({ handleId: 'h', secondary: node ? { node } : null }));
  const allocations: (number | null)[] = new Array(64).fill(null);
  nodes.forEach((_, i) => (allocations[i] = i));
  return { cidr, affinity: owner ? `host:${owner}` : null, allocations, unallocated: [], attributes, sequenceNumber: 0n, sequenceNumberForAllocation: {}, deleted: false };
}

const pool = (name: string, cidr: string) => ({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name }, spec: { cidr } }) as IPPool;

describe('metrics', () => {
  it('renders the Prometheus text format, escaping label values', () => {
    const m = new MetricsRegistry();
    m.define('b_total', 'counter', 'B.');
    m.define('a', 'gauge', 'A.');
    m.inc('b_total', 2, { op: 'x"y' });
    m.set('a', 1.5);
    assert.equal(m.render(), '# HELP a A.\n# TYPE a gauge\na 1.5\n# HELP b_total B.\n# TYPE b_total counter\nb_total{op="x\\"y"} 2\n');
    assert.throws(() => m.set('undefined_metric', 1), (e) => ValidationError.isInstance(e));
    assert.throws(() => m.define('bad-name', 'gauge', ''), (e) => ValidationError.isInstance(e));
  });

  it('computes the IPAM gauges per pool and node, counting borrowed addresses', () => {
    const m = new MetricsRegistry();
    for (const n of ['ipam_allocations_in_use', 'ipam_allocations_borrowed', 'ipam_blocks', 'ipam_ippool_size']) m.define(n, 'gauge', n);
    updateIpamMetrics(m, [pool('p1', '10.244.0.0/16'), pool('p6', 'fd00::/120')], [
      block('10.244.1.0/26', 'node-a', ['node-a', 'node-a', 'node-b']),
      block('10.244.2.0/26', 'node-b', ['node-b']),
      block('10.99.0.0/26', null, ['node-c']),
    ]);
    assert.equal(m.get('ipam_ippool_size', { ippool: 'p1' }), 65536);
    assert.equal(m.get('ipam_ippool_size', { ippool: 'p6' }), 256);
    assert.equal(m.get('ipam_allocations_in_use', { ippool: 'p1', node: 'node-a' }), 2);
    assert.equal(m.get('ipam_allocations_in_use', { ippool: 'p1', node: 'node-b' }), 2);
    assert.equal(m.get('ipam_allocations_borrowed', { ippool: 'p1', node: 'node-b' }), 1);
    assert.equal(m.get('ipam_allocations_borrowed', { ippool: 'p1', node: 'node-a' }), undefined);
    assert.equal(m.get('ipam_blocks', { ippool: 'p1', node: 'node-a' }), 1);
    assert.equal(m.get('ipam_allocations_in_use', { ippool: 'no_ippool', node: 'node-c' }), 1);
  });

  it('parses listen addresses and rejects bad ones', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:9091'), { host: '127.0.0.1', port: 9091 });
    assert.deepEqual(parseListenAddress('[::1]:0'), { host: '::1', port: 0 });
    for (const bad of ['9091', '127.0.0.1', 'x:99999', '']) assert.throws(() => parseListenAddress(bad), (e) => ValidationError.isInstance(e), bad);
  });

  it('serves /metrics and /healthz (503 until healthy) on loopback', async () => {
    const m = new MetricsRegistry();
    m.define('up', 'gauge', 'Up.');
    m.set('up', 1);
    let healthy = false;
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0 }, m, () => ({ healthy, detail: { syncStatus: 'x' } }));
    try {
      const base = `http://127.0.0.1:${server.port}`;
      assert.match(await (await fetch(`${base}/metrics`)).text(), /^up 1$/m);
      assert.equal((await fetch(`${base}/healthz`)).status, 503);
      healthy = true;
      const ok = await fetch(`${base}/healthz`);
      assert.equal(ok.status, 200);
      assert.deepEqual(await ok.json(), { healthy: true, syncStatus: 'x' });
      assert.equal((await fetch(`${base}/nope`)).status, 404);
      assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
    } finally {
      await server.close();
    }
  });
});
