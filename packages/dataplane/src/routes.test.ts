import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '@libcalico-ts/api';
import { diffRoutes, normalizeRoute, renderRoute, type NormalizedRoute } from './routes.js';
import type { RouteInfo } from './types.js';

function kernel(n: NormalizedRoute): RouteInfo {
  const { dstBytes: _d, dstLength: _l, gatewayBytes: _g, srcBytes: _s, ...rest } = n;
  return rest;
}

test('normalizeRoute applies ip-route defaults', () => {
  const r = normalizeRoute({ dst: '10.244.208.1', dev: 'cali573926084b2' });
  assert.equal(r.dst, '10.244.208.1/32');
  assert.equal(r.scope, 'link');
  assert.equal(r.protocol, 3);
  assert.equal(r.table, 254);
  assert.equal(normalizeRoute({ dst: '10.0.0.0/26', type: 'blackhole' }).scope, 'universe');
  assert.equal(normalizeRoute({ dst: 'fd00::/122', type: 'blackhole' }).metric, 1024);
  assert.equal(normalizeRoute({ dst: 'default', family: 6, gateway: 'fe80::1', dev: 'eth0' }).dst, '::/0');
});

test('normalizeRoute rejects bad routes with the field name', () => {
  const cases: [unknown, string][] = [
    [{ dst: '10.0.0.1/24', dev: 'x' }, 'route.dst'],
    [{ dst: '10.0.0.0/24' }, 'route'],
    [{ dst: '10.0.0.0/24', type: 'blackhole', gateway: '1.1.1.1' }, 'route.gateway'],
    [{ dst: '10.0.0.0/24', dev: 'x', onlink: true }, 'route.onlink'],
    [{ dst: '10.0.0.0/24', gateway: 'fd00::1' }, 'route.gateway'],
    [{ dst: '10.0.0.0/24', dev: 'x', mtu: 20 }, 'route.mtu'],
    [{ dst: '10.0.0.0/24', dev: 'x', protocol: 300 }, 'route.protocol'],
    [{ dst: '10.0.0.0/24', dev: 'this-name-is-too-long' }, 'route.dev'],
  ];
  for (const [spec, field] of cases) {
    assert.throws(() => normalizeRoute(spec as never), (e: unknown) => ValidationError.isInstance(e) && (e as ValidationError).fields[0]!.name === field, JSON.stringify(spec));
  }
});

test('diffRoutes: add, replace, delete only our protocol, leave foreign routes, report conflicts', () => {
  const ours = (spec: object) => kernel(normalizeRoute({ protocol: 80, ...spec } as never));
  const current: RouteInfo[] = [
    ours({ dst: '10.244.0.0/26', type: 'blackhole' }), // desired, unchanged
    ours({ dst: '10.244.1.0/26', gateway: '192.168.3.2', dev: 'eth0', onlink: true }), // desired with other gw
    ours({ dst: '10.244.9.0/26', type: 'blackhole' }), // stale: delete
    kernel(normalizeRoute({ dst: '10.244.2.0/26', gateway: '192.168.3.3', dev: 'eth0', protocol: 12 })), // BIRD: conflict
    kernel(normalizeRoute({ dst: '0.0.0.0/0', gateway: '192.168.3.1', dev: 'eth0', protocol: 3 })), // foreign, untouched
  ];
  const desired = [
    { dst: '10.244.0.0/26', type: 'blackhole' as const },
    { dst: '10.244.1.0/26', gateway: '192.168.3.9', dev: 'eth0', onlink: true },
    { dst: '10.244.2.0/26', gateway: '192.168.3.3', dev: 'eth0', onlink: true },
    { dst: '10.244.3.0/26', gateway: '192.168.3.4', dev: 'eth0', onlink: true },
  ];
  const diff = diffRoutes(desired, current, { protocol: 80 });
  assert.deepEqual(diff.add.map((r) => r.dst), ['10.244.3.0/26']);
  assert.deepEqual(diff.replace.map((r) => [r.dst, r.gateway]), [['10.244.1.0/26', '192.168.3.9']]);
  assert.deepEqual(diff.delete.map((r) => r.dst), ['10.244.9.0/26']);
  assert.deepEqual(diff.conflicts.map((c) => [c.desired.dst, c.existing.protocol]), [['10.244.2.0/26', 12]]);
  assert.equal(diff.unchanged, 1);
  assert.equal(diff.noop, false);
  assert.ok(diff.add.every((r) => r.protocol === 80));
  const takeOver = diffRoutes(desired, current, { protocol: 80, takeOverConflicts: true });
  assert.deepEqual(takeOver.replace.map((r) => r.dst).sort(), ['10.244.1.0/26', '10.244.2.0/26']);
  assert.equal(takeOver.conflicts.length, 0);
});

test('diffRoutes is a no-op when the kernel already matches; rejects duplicates', () => {
  const desired = [{ dst: '10.1.0.0/24', dev: 'eth0', gateway: '10.0.0.1', onlink: true, mtu: 1450 }];
  const current = [kernel(normalizeRoute({ ...desired[0]!, protocol: 80 }))];
  const diff = diffRoutes(desired, current);
  assert.equal(diff.noop, true);
  assert.equal(diff.unchanged, 1);
  assert.throws(() => diffRoutes([desired[0]!, { ...desired[0]! }], []), ValidationError);
  assert.throws(() => diffRoutes([{ dst: 'fd00::/64', dev: 'eth0' }], [], { families: [4] }), ValidationError);
});

test('renderRoute matches the reference ip-route rendering', () => {
  assert.equal(renderRoute({ dst: '10.244.208.0/26', type: 'blackhole', protocol: 12 }), 'blackhole 10.244.208.0/26 proto bird');
  assert.equal(renderRoute({ dst: '10.244.208.1/32', dev: 'cali573926084b2' }), '10.244.208.1 dev cali573926084b2 scope link');
  assert.equal(
    renderRoute({ dst: '10.244.92.128/26', gateway: '10.244.92.128', dev: 'vxlan.calico', onlink: true, mtu: 1450 }),
    '10.244.92.128/26 via 10.244.92.128 dev vxlan.calico onlink mtu 1450',
  );
  assert.equal(renderRoute({ dst: '10.244.92.128/26', gateway: '192.168.3.126', dev: 'eth0', onlink: true, protocol: 80 }), '10.244.92.128/26 via 192.168.3.126 dev eth0 proto 80 onlink');
});
