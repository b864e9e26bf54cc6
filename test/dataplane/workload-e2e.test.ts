// End to end: a "host" namespace and two "pod" namespaces wired the Calico way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceExistsError, ResourceNotFoundError, ValidationError } from '@libcalico-ts/api';
import { openNetns, setupWorkloadInterface, teardownWorkloadInterface, workloadInterfaceName } from '@libcalico-ts/dataplane';
import { canPing, netnsUnavailableReason, nsExec, withNetns } from '../helpers/netns.js';

const skip = netnsUnavailableReason();

/** Gives the host namespace what a node has: forwarding on, an uplink with a default route, an address. */
async function prepareHost(host: string): Promise<void> {
  const s = await openNetns(host);
  try {
    await s.setLinkUp('lo');
    await s.writeSysctl('net.ipv4.ip_forward', 1);
    await s.writeSysctl('net.ipv6.conf.all.forwarding', 1);
    await s.createVethPair({ name: 'eth0', peerName: 'uplink0' });
    await s.setLinkUp('eth0');
    await s.setLinkUp('uplink0');
    await s.addAddress('eth0', '192.168.3.125/24');
    await s.replaceRoute({ dst: 'default', gateway: '192.168.3.1', dev: 'eth0' });
  } finally {
    await s.close();
  }
}

test('two pods wired the Calico way ping each other and the host; teardown is idempotent', { skip: skip ?? false }, async () => {
  await withNetns(3, async (host, pod1, pod2) => {
    await prepareHost(host);
    const if1 = workloadInterfaceName('default', 'nginx-6799fc88d8-x2vqk');
    const if2 = workloadInterfaceName('default', 'nginx');
    const r1 = await setupWorkloadInterface({ hostNs: host, containerNetns: pod1, hostIfName: if1, ipv4: ['10.244.208.1'], ipv6: ['fd00:10:244::1'], mtu: 1450 });
    const r2 = await setupWorkloadInterface({ hostNs: host, containerNetns: pod2, hostIfName: if2, ipv4: ['10.244.208.2/26'], ipv6: ['fd00:10:244::2'], mtu: 1450, hostStaticArp: true });
    assert.equal(r1.hostIfName, 'caliec0a6415ef1');
    assert.deepEqual(r2.ipv4, ['10.244.208.2/32'], 'prefix forced to /32');
    assert.equal(r1.hostMac, 'ee:ee:ee:ee:ee:ee');

    // Pod side (reference §9.2).
    const routes1 = nsExec(pod1, ['ip', 'route', 'show']);
    assert.match(routes1, /^default via 169\.254\.1\.1 dev eth0 $/m);
    assert.match(routes1, /^169\.254\.1\.1 dev eth0 scope link $/m);
    assert.match(nsExec(pod1, ['ip', '-6', 'route', 'show']), /default via fe80::ecee:eeff:feee:eeee dev eth0/);
    const addr1 = nsExec(pod1, ['ip', 'addr', 'show', 'eth0']);
    assert.match(addr1, /inet 10\.244\.208\.1\/32/);
    assert.match(addr1, /inet6 fd00:10:244::1\/128/);
    assert.match(addr1, /mtu 1450/);
    assert.equal(nsExec(pod1, ['cat', '/proc/sys/net/ipv4/ip_forward']).trim(), '0');

    // Host side (reference §9.3).
    const hostRoutes = nsExec(host, ['ip', 'route', 'show']);
    assert.match(hostRoutes, new RegExp(`^10\\.244\\.208\\.1 dev ${if1} scope link $`, 'm'));
    assert.match(hostRoutes, new RegExp(`^10\\.244\\.208\\.2 dev ${if2} scope link $`, 'm'));
    assert.match(nsExec(host, ['ip', '-6', 'route', 'show']), new RegExp(`fd00:10:244::1 dev ${if1} metric 1024`));
    for (const [key, value] of [
      [`net/ipv4/conf/${if1}/proxy_arp`, '1'],
      [`net/ipv4/conf/${if1}/route_localnet`, '1'],
      [`net/ipv4/conf/${if1}/forwarding`, '1'],
      [`net/ipv4/neigh/${if1}/proxy_delay`, '0'],
      [`net/ipv6/conf/${if1}/proxy_ndp`, '1'],
      [`net/ipv6/conf/${if1}/accept_ra`, '0'],
    ]) assert.equal(nsExec(host, ['cat', `/proc/sys/${key}`]).trim(), value, key);
    const hostLink = nsExec(host, ['ip', 'link', 'show', if1]);
    assert.match(hostLink, /link\/ether ee:ee:ee:ee:ee:ee/);
    assert.match(hostLink, /state UP/);
    assert.match(nsExec(host, ['ip', 'neigh', 'show', 'dev', if2]), new RegExp(`10\\.244\\.208\\.2 lladdr ${r2.containerMac} PERMANENT`));

    // Traffic: pod <-> pod (IPv4 and IPv6) and pod -> host.
    assert.ok(canPing(pod1, '10.244.208.2'), 'pod1 -> pod2');
    assert.ok(canPing(pod2, '10.244.208.1'), 'pod2 -> pod1');
    assert.ok(canPing(pod1, '192.168.3.125'), 'pod1 -> host');
    assert.ok(canPing(host, '10.244.208.1'), 'host -> pod1');
    assert.ok(canPing(pod1, 'fd00:10:244::2'), 'pod1 -> pod2 over IPv6');

    // Teardown: veth gone on both sides, host routes gone, repeated teardown is fine.
    assert.equal(await teardownWorkloadInterface({ hostNs: host, containerNetns: pod1, hostIfName: if1 }), true);
    assert.doesNotMatch(nsExec(host, ['ip', 'link', 'show']), new RegExp(if1));
    assert.doesNotMatch(nsExec(host, ['ip', 'route', 'show']), /10\.244\.208\.1 /);
    assert.doesNotMatch(nsExec(pod1, ['ip', 'link', 'show']), /eth0/);
    assert.equal(await teardownWorkloadInterface({ hostNs: host, containerNetns: pod1, hostIfName: if1 }), false);
    assert.equal(await teardownWorkloadInterface({ hostNs: host, containerNetns: 'lcts-gone-netns', hostIfName: if1 }), false);
    assert.ok(!canPing(pod2, '10.244.208.1'));

    // Re-running setup for pod2 replaces its veth (stale host interface of the same name is deleted first).
    // eth0 still exists in pod2 from the first setup: deleting the stale host end removes it too.
    await setupWorkloadInterface({ hostNs: host, containerNetns: pod2, hostIfName: if2, ipv4: ['10.244.208.2'], mtu: 1400 });
    assert.match(nsExec(pod2, ['ip', 'link', 'show', 'eth0']), /mtu 1400/);
    assert.ok(canPing(pod2, '192.168.3.125'));
  });
});

test('bad input is rejected before anything is created', { skip: skip ?? false }, async () => {
  await withNetns(2, async (host, pod) => {
    const base = { hostNs: host, containerNetns: pod, hostIfName: 'calitest000001', ipv4: ['10.244.1.1'] };
    const cases: [Record<string, unknown>, (e: unknown) => boolean][] = [
      [{ containerNetns: 'lcts-no-such-netns' }, (e) => ResourceNotFoundError.isInstance(e)],
      [{ hostNs: 'lcts-no-such-netns' }, (e) => ResourceNotFoundError.isInstance(e)],
      [{ hostIfName: 'cali0123456789abc' }, (e) => ValidationError.isInstance(e) && (e as ValidationError).fields[0]!.name === 'hostIfName'],
      [{ containerIfName: 'eth0/1' }, (e) => ValidationError.isInstance(e)],
      [{ mtu: 10 }, (e) => ValidationError.isInstance(e) && (e as ValidationError).fields[0]!.name === 'mtu'],
      [{ ipv4: ['10.244.1.300'] }, (e) => ValidationError.isInstance(e) && (e as ValidationError).fields[0]!.name === 'ipv4[0]'],
      [{ ipv4: ['fd00::1'] }, (e) => ValidationError.isInstance(e)],
      [{ ipv4: [] }, (e) => ValidationError.isInstance(e)],
      [{ hostMac: 'not-a-mac' }, (e) => ValidationError.isInstance(e)],
    ];
    for (const [override, check] of cases) {
      await assert.rejects(setupWorkloadInterface({ ...base, ...override } as never), check, JSON.stringify(override));
    }
    assert.doesNotMatch(nsExec(host, ['ip', 'link', 'show']), /cali/);
    assert.doesNotMatch(nsExec(pod, ['ip', 'link', 'show']), /eth0/);
  });
});

test('a failure half-way undoes the veth (host route clash, as Calico reports it)', { skip: skip ?? false }, async () => {
  await withNetns(2, async (host, pod) => {
    await prepareHost(host);
    // Another interface already owns the route to the pod IP.
    nsExec(host, ['ip', 'route', 'add', '10.244.1.1/32', 'dev', 'eth0', 'scope', 'link']);
    await assert.rejects(
      setupWorkloadInterface({ hostNs: host, containerNetns: pod, hostIfName: 'calitest000002', ipv4: ['10.244.1.1'] }),
      (e: unknown) => ResourceExistsError.isInstance(e) && /already exists for an interface other than 'calitest000002'/.test((e as Error).message),
    );
    assert.doesNotMatch(nsExec(host, ['ip', 'link', 'show']), /calitest000002/, 'no veth left on the host');
    assert.doesNotMatch(nsExec(pod, ['ip', 'link', 'show']), /eth0/, 'no veth left in the pod');
    assert.match(nsExec(host, ['ip', 'route', 'show', '10.244.1.1']), /dev eth0/, 'the existing route is untouched');

    // A pod-side failure (the in-pod interface name is taken) also leaves nothing behind.
    nsExec(pod, ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other0']);
    await assert.rejects(
      setupWorkloadInterface({ hostNs: host, containerNetns: pod, hostIfName: 'calitest000003', ipv4: ['10.244.1.2'] }),
      ResourceExistsError,
    );
    assert.doesNotMatch(nsExec(host, ['ip', 'link', 'show']), /calitest000003/);
  });
});
