// Route reconciler against the real kernel, inside a throwaway namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '@libcalico-ts/api';
import { RouteProtocol, type RouteSpec } from '@libcalico-ts/dataplane';
import { netnsUnavailableReason, nsExec, withNetnsSession } from '../helpers/netns.js';

const skip = netnsUnavailableReason();

test('reconciler: touches only its protocol, idempotent, dry-run, replace and delete', { skip: skip ?? false }, async () => {
  await withNetnsSession(async (s, name) => {
    await s.createVethPair({ name: 'eth0', peerName: 'peer0' });
    await s.setLinkUp('eth0');
    await s.setLinkUp('peer0');
    await s.addAddress('eth0', '192.168.3.125/24');
    // Foreign routes: BIRD's, the CNI's (boot) and a static one. They must survive every reconcile.
    await s.replaceRoute({ dst: '10.244.17.64/26', gateway: '192.168.3.127', dev: 'eth0', protocol: RouteProtocol.bird });
    await s.replaceRoute({ dst: '10.244.208.1/32', dev: 'eth0', scope: 'link' });
    await s.replaceRoute({ dst: 'default', gateway: '192.168.3.1', dev: 'eth0', protocol: RouteProtocol.static });
    // A stale route of ours.
    await s.replaceRoute({ dst: '10.244.250.0/26', type: 'blackhole', protocol: 80 });
    const before = nsExec(name, ['ip', 'route', 'show', 'proto', 'bird']);

    const desired: RouteSpec[] = [
      { dst: '10.244.208.0/26', type: 'blackhole' },
      { dst: '10.244.92.128/26', gateway: '192.168.3.126', dev: 'eth0', onlink: true },
      { dst: '10.244.93.0/26', gateway: '192.168.3.200', dev: 'eth0', onlink: true, mtu: 1450, metric: 100 },
      { dst: '10.244.17.64/26', gateway: '192.168.3.127', dev: 'eth0', onlink: true }, // held by BIRD: conflict
      { dst: 'fd00:10::/122', type: 'blackhole' },
    ];

    const dry = await s.reconcileRoutes(desired, { protocol: 80, dryRun: true });
    assert.equal(dry.applied, false);
    assert.deepEqual(dry.add.map((r) => r.dst).sort(), ['10.244.208.0/26', '10.244.92.128/26', '10.244.93.0/26', 'fd00:10::/122']);
    assert.deepEqual(dry.delete.map((r) => r.dst), ['10.244.250.0/26']);
    assert.deepEqual(dry.conflicts.map((c) => c.existing.protocol), [12]);
    assert.equal((await s.listRoutes({ protocol: 80 })).length, 1, 'dry run changed nothing');

    const first = await s.reconcileRoutes(desired, { protocol: 80 });
    assert.equal(first.applied, true);
    const table = nsExec(name, ['ip', 'route', 'show']);
    assert.match(table, /^blackhole 10\.244\.208\.0\/26 proto 80 $/m);
    assert.match(table, /^10\.244\.92\.128\/26 via 192\.168\.3\.126 dev eth0 proto 80 onlink $/m);
    assert.match(table, /^10\.244\.93\.0\/26 via 192\.168\.3\.200 dev eth0 proto 80 metric 100 onlink mtu 1450 $/m);
    assert.doesNotMatch(table, /10\.244\.250\.0/);
    assert.match(table, /^10\.244\.208\.1 dev eth0 scope link $/m, 'CNI route untouched');
    assert.match(table, /^default via 192\.168\.3\.1 dev eth0 proto static $/m, 'static route untouched');
    assert.equal(nsExec(name, ['ip', 'route', 'show', 'proto', 'bird']), before, 'BIRD route untouched');
    assert.match(nsExec(name, ['ip', '-6', 'route', 'show']), /blackhole fd00:10::\/122 dev lo proto 80 metric 1024/);

    const second = await s.reconcileRoutes(desired, { protocol: 80 });
    assert.equal(second.noop, true);
    assert.equal(second.applied, false);
    assert.equal(second.unchanged, 4);

    // A changed gateway is replaced in place; a removed route is deleted.
    const changed = desired.filter((r) => r.dst !== 'fd00:10::/122').map((r) => (r.dst === '10.244.92.128/26' ? { ...r, gateway: '192.168.3.99' } : r));
    const third = await s.reconcileRoutes(changed, { protocol: 80 });
    assert.deepEqual(third.replace.map((r) => r.gateway), ['192.168.3.99']);
    assert.deepEqual(third.delete.map((r) => r.dst), ['fd00:10::/122']);
    assert.match(nsExec(name, ['ip', 'route', 'show', '10.244.92.128/26']), /via 192\.168\.3\.99/);
    assert.doesNotMatch(nsExec(name, ['ip', '-6', 'route', 'show']), /fd00:10::/);

    // Taking over the BIRD route only when asked; then it carries our protocol.
    await s.reconcileRoutes(changed, { protocol: 80, takeOverConflicts: true });
    assert.match(nsExec(name, ['ip', 'route', 'show', '10.244.17.64/26']), /proto 80 onlink/);

    // Another owner (protocol 12) reconciling an empty set removes only its own routes.
    await s.replaceRoute({ dst: '10.244.60.0/26', type: 'blackhole', protocol: 12 });
    const bird = await s.reconcileRoutes([], { protocol: 12 });
    assert.deepEqual(bird.delete.map((r) => r.dst), ['10.244.60.0/26']);
    assert.equal((await s.listRoutes({ protocol: 80 })).length, 4);

    // Bad desired input is rejected before anything is applied.
    await assert.rejects(s.reconcileRoutes([{ dst: '10.0.0.1/24', type: 'blackhole' }], { protocol: 80 }), ValidationError);
    await assert.rejects(s.reconcileRoutes([{ dst: '10.0.0.0/24', dev: 'nosuchdev' }], { protocol: 80 }), /nosuchdev/);
    assert.equal((await s.listRoutes({ protocol: 80 })).length, 4);
  });
});

test('route table and type options round-trip', { skip: skip ?? false }, async () => {
  await withNetnsSession(async (s, name) => {
    await s.createVethPair({ name: 'eth0', peerName: 'peer0' });
    await s.setLinkUp('eth0');
    await s.replaceRoute({ dst: '10.5.0.0/16', dev: 'eth0', table: 1000, protocol: 80 });
    await s.replaceRoute({ dst: '10.6.0.0/16', type: 'unreachable', table: 100 });
    const t1000 = await s.listRoutes({ table: 1000 });
    assert.equal(t1000.length, 1);
    assert.deepEqual([t1000[0]!.dst, t1000[0]!.dev, t1000[0]!.scope, t1000[0]!.table, t1000[0]!.protocol], ['10.5.0.0/16', 'eth0', 'link', 1000, 80]);
    assert.match(nsExec(name, ['ip', 'route', 'show', 'table', '100']), /unreachable 10\.6\.0\.0\/16/);
    assert.equal(await s.deleteRoute({ dst: '10.5.0.0/16', table: 1000, protocol: 12 }, { ignoreMissing: true }), false, 'protocol must match');
    assert.equal(await s.deleteRoute({ dst: '10.5.0.0/16', table: 1000 }), true, 'no protocol: any');
    assert.equal(await s.deleteRoute({ dst: '10.5.0.0/16', table: 1000 }, { ignoreMissing: true }), false);
    await s.addRoute({ dst: '10.7.0.0/16', dev: 'eth0' });
    await assert.rejects(s.addRoute({ dst: '10.7.0.0/16', dev: 'eth0' }), /already exists/);
  });
});
