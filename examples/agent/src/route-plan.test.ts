import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RouteInfo } from '@libcalico-ts/dataplane';
import { ValidationError } from '@libcalico-ts/api';
import { ownsRoute, planRoutes, toKernelRoute } from './route-plan.js';

const kernel = (r: Partial<RouteInfo> & { dst: string }): RouteInfo => ({
  family: 4,
  type: 'unicast',
  onlink: false,
  protocol: 3,
  scope: 'universe',
  metric: 0,
  table: 254,
  ...r,
});

const vxlanRoute = { dst: '10.244.92.128/26', dev: 'vxlan.calico', gateway: '10.244.92.128', onlink: true, protocol: 3 };
const blackhole = { dst: '10.244.208.0/26', type: 'blackhole' as const, protocol: 80 };

describe('ownsRoute', () => {
  it('owns protocol 80 and boot routes through cali*/vxlan devices only', () => {
    assert.equal(ownsRoute({ protocol: 80, dev: 'eth0' }), true);
    assert.equal(ownsRoute({ protocol: 3, dev: 'vxlan.calico' }), true);
    assert.equal(ownsRoute({ protocol: 3, dev: 'cali1234567890a' }), true);
    assert.equal(ownsRoute({ protocol: 3, dev: 'eth0' }), false, 'the host default route is proto boot too');
    assert.equal(ownsRoute({ protocol: 12, dev: 'eth0' }), false, 'BIRD');
    assert.equal(ownsRoute({ protocol: 3, dev: 'tap0' }, 'tap'), true);
  });
});

describe('planRoutes', () => {
  const fresh = () => ({ now: 1_000_000, firstSeen: new Map<string, number>() });

  it('adds missing routes, keeps matching ones, deletes stale owned ones, never touches foreign ones', () => {
    const current = [
      kernel({ dst: '10.244.92.128/26', dev: 'vxlan.calico', gateway: '10.244.92.128', onlink: true }),
      kernel({ dst: '10.244.17.64/26', dev: 'vxlan.calico', gateway: '10.244.17.64', onlink: true }), // stale
      kernel({ dst: '0.0.0.0/0', dev: 'eth0', gateway: '192.168.10.254' }), // host default, proto boot
      kernel({ dst: '192.168.10.0/24', dev: 'eth0', protocol: 2, scope: 'link' }),
      kernel({ dst: '10.245.1.0/26', dev: 'eth0', gateway: '192.168.10.2', protocol: 12 }), // BIRD
    ];
    const plan = planRoutes([vxlanRoute, blackhole], current, fresh());
    assert.equal(plan.unchanged, 1);
    assert.deepEqual(plan.replace.map((r) => r.dst), ['10.244.208.0/26']);
    assert.deepEqual(plan.delete.map((r) => r.dst), ['10.244.17.64/26']);
    assert.equal(plan.conflicts.length, 0);
  });

  it('replaces an owned route whose attributes changed, even across protocols (CrossSubnet switch)', () => {
    const current = [kernel({ dst: '10.244.92.128/26', dev: 'vxlan.calico', gateway: '10.244.92.128', onlink: true })];
    const plan = planRoutes([{ dst: '10.244.92.128/26', dev: 'eth0', gateway: '192.168.10.2', onlink: true, protocol: 80 }], current, fresh());
    assert.deepEqual(plan.replace.map((r) => [r.dst, r.dev, r.protocol]), [['10.244.92.128/26', 'eth0', 80]]);
    assert.equal(plan.delete.length, 0, 'the replace takes the slot; nothing to delete');
  });

  it('reports a slot held by a foreign route as a conflict and leaves it alone', () => {
    const current = [kernel({ dst: '10.244.92.128/26', dev: 'eth0', gateway: '192.168.10.2', protocol: 12 })];
    const plan = planRoutes([vxlanRoute], current, fresh());
    assert.equal(plan.conflicts.length, 1);
    assert.equal(plan.replace.length + plan.delete.length, 0);
  });

  it('gives unexpected workload routes a grace period before deleting them', () => {
    const options = fresh();
    const current = [kernel({ dst: '10.244.208.5/32', dev: 'cali0123456789a', scope: 'link' })];
    let plan = planRoutes([], current, options);
    assert.equal(plan.deferred, 1);
    assert.equal(plan.delete.length, 0);
    plan = planRoutes([], current, { ...options, now: options.now + 9_999 });
    assert.equal(plan.delete.length, 0);
    plan = planRoutes([], current, { ...options, now: options.now + 10_000 });
    assert.deepEqual(plan.delete.map((r) => r.dst), ['10.244.208.5/32']);
    // Once expected (its WorkloadEndpoint arrived) the timer is forgotten.
    plan = planRoutes([{ dst: '10.244.208.5/32', dev: 'cali0123456789a', scope: 'link', protocol: 3 }], current, options);
    assert.equal(plan.unchanged, 1);
    assert.equal(options.firstSeen.size, 0);
  });

  it('is a no-op on its own result', () => {
    const desired = [vxlanRoute, blackhole];
    const plan = planRoutes(desired, [], fresh());
    const applied = plan.replace.map((r) => kernel({ ...r, dst: r.dst } as RouteInfo & { dst: string }));
    const second = planRoutes(desired, applied, fresh());
    assert.equal(second.replace.length + second.delete.length, 0);
    assert.equal(second.unchanged, 2);
  });

  it('rejects two computed routes for one slot and malformed routes with ValidationError', () => {
    assert.throws(() => planRoutes([vxlanRoute, { ...vxlanRoute, gateway: '10.244.92.129' }], [], fresh()), (e) => ValidationError.isInstance(e));
    assert.throws(() => planRoutes([{ dst: 'not-a-cidr' }], [], fresh()), (e) => ValidationError.isInstance(e));
  });
});

describe('toKernelRoute', () => {
  it('maps a computed route to the kernel spec (no device on blackholes)', () => {
    const spec = toKernelRoute({
      destination: '10.244.208.0/26', family: 4, type: 'blackhole', onlink: false, protocol: 80, scope: 'universe', metric: 0, mtu: 0,
      kind: 'localBlock', programmer: 'felix', node: 'node-a', device: 'lo',
    });
    assert.deepEqual(spec, { dst: '10.244.208.0/26', family: 4, type: 'blackhole', protocol: 80, scope: 'universe', metric: 0, onlink: false });
  });
});
