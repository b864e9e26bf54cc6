// Real-kernel tests of the netlink verbs, each inside throwaway network namespaces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ResourceExistsError, ResourceNotFoundError, ValidationError, CalicoError } from '@libcalico-ts/api';
import {
  createNetns,
  deleteNetns,
  ensureTunl0,
  ensureVxlanDevice,
  kernelSupportsIpip,
  KernelNotSupportedError,
  netnsExists,
  openNetns,
  syncVxlanNeighbours,
  vtepMac,
} from '@libcalico-ts/dataplane';
import { netnsUnavailableReason, nsExec, uniqueNetnsName, withNetns, withNetnsSession } from '../helpers/netns.js';

const skip = netnsUnavailableReason();

test('named namespaces: create, exists, duplicate, delete, missing', { skip: skip ?? false }, async () => {
  const name = uniqueNetnsName();
  try {
    await createNetns(name);
    assert.ok(netnsExists(name));
    await assert.rejects(createNetns(name), ResourceExistsError);
    assert.equal(await deleteNetns(name), true);
    assert.equal(netnsExists(name), false);
    await assert.rejects(deleteNetns(name), ResourceNotFoundError);
    assert.equal(await deleteNetns(name, { ignoreMissing: true }), false);
    await assert.rejects(createNetns('bad/name'), ValidationError);
    await assert.rejects(openNetns(name), ResourceNotFoundError);
  } finally {
    await deleteNetns(name, { ignoreMissing: true });
  }
});

test('veth pair with the peer created directly in another namespace; link verbs', { skip: skip ?? false }, async () => {
  await withNetns(2, async (a, b) => {
    const sa = await openNetns(a);
    const sb = await openNetns(b);
    try {
      const link = await sa.createVethPair({ name: 'hostside0', peerName: 'eth0', peerNetns: b, mtu: 1450, mac: 'ee:ee:ee:ee:ee:ee', peerMac: '02:00:00:00:00:01' });
      assert.equal(link.kind, 'veth');
      assert.equal(link.mtu, 1450);
      assert.equal(link.mac, 'ee:ee:ee:ee:ee:ee');
      assert.ok(link.linkNetnsId !== undefined, 'peer is in another namespace');
      assert.equal(await sa.findLink('eth0'), null, 'peer is not in the creating namespace');
      const peer = await sb.getLink('eth0');
      assert.equal(peer.mtu, 1450);
      assert.equal(peer.mac, '02:00:00:00:00:01');
      assert.equal(peer.kind, 'veth');

      await sa.setLinkMtu('hostside0', 1400);
      await sa.setLinkMac('hostside0', '02:aa:bb:cc:dd:ee');
      await sa.renameLink('hostside0', 'renamed0');
      await sa.setLinkUp('renamed0');
      let got = await sa.getLink('renamed0');
      assert.deepEqual([got.mtu, got.mac, got.up], [1400, '02:aa:bb:cc:dd:ee', true]);
      await sa.setLinkDown('renamed0');
      got = await sa.getLink('renamed0');
      assert.equal(got.up, false);
      assert.ok((await sa.listLinks()).some((l) => l.name === 'renamed0'));
      assert.match(nsExec(a, ['ip', 'link', 'show', 'renamed0']), /mtu 1400/);

      // Addresses.
      await sb.addAddress('eth0', '10.1.2.3/32');
      await sb.addAddress('eth0', '10.1.2.3/32'); // idempotent
      await sb.addAddress('eth0', 'fd00::5/128', { noDad: true });
      const addrs = await sb.listAddresses({ link: 'eth0' });
      assert.ok(addrs.some((x) => x.cidr === '10.1.2.3/32' && x.family === 4));
      assert.ok(addrs.some((x) => x.cidr === 'fd00::5/128' && x.family === 6));
      assert.equal(await sb.deleteAddress('eth0', '10.1.2.3/32'), true);
      assert.equal(await sb.deleteAddress('eth0', '10.1.2.3/32', { ignoreMissing: true }), false);
      await assert.rejects(sb.deleteAddress('eth0', '10.1.2.3/32'), ResourceNotFoundError);

      // Move the peer back, then delete the pair.
      await sb.moveLinkToNetns('eth0', a);
      assert.ok(await sa.findLink('eth0'));
      assert.equal(await sa.deleteLink('renamed0'), true);
      assert.equal(await sa.findLink('eth0'), null, 'deleting one end deletes the pair');
      assert.equal(await sa.deleteLink('renamed0', { ignoreMissing: true }), false);
    } finally {
      await sa.close();
      await sb.close();
    }
  });
});

test('bad input and kernel refusals give typed errors', { skip: skip ?? false }, async () => {
  await withNetnsSession(async (s) => {
    await assert.rejects(s.createVethPair({ name: 'a-name-of-16chrs', peerName: 'p' }), (e: unknown) => ValidationError.isInstance(e) && /15/.test((e as Error).message));
    await assert.rejects(s.createVethPair({ name: 'v0', peerName: 'v1', mtu: 70000 }), ValidationError);
    await assert.rejects(s.createVethPair({ name: 'v0', peerName: 'v1', peerNetns: 'lcts-does-not-exist' }), ResourceNotFoundError);
    await assert.rejects(s.setLinkUp('nosuchlink'), ResourceNotFoundError);
    await assert.rejects(s.addAddress('lo', '10.0.0.300/32'), ValidationError);
    await assert.rejects(s.replaceRoute({ dst: '10.0.0.0/24', dev: 'nosuchlink' }), ResourceNotFoundError);
    await s.createVethPair({ name: 'v0', peerName: 'v1' });
    await assert.rejects(s.createVethPair({ name: 'v0', peerName: 'v2' }), ResourceExistsError);
    await assert.rejects(s.renameLink('v0', 'v1'), ResourceExistsError);
    // Unreachable gateway without onlink: the kernel refuses (ENETUNREACH) -> NetlinkError.
    await s.setLinkUp('v0');
    await assert.rejects(s.replaceRoute({ dst: '10.9.0.0/24', gateway: '192.0.2.1', dev: 'v0' }), (e: unknown) => CalicoError.isInstance(e) && (e as { code?: string }).code === 'ENETUNREACH');
    await s.replaceRoute({ dst: '10.9.0.0/24', gateway: '192.0.2.1', dev: 'v0', onlink: true });
  });
});

test('sysctls are per namespace and never touch the host', { skip: skip ?? false }, async () => {
  const hostBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  await withNetnsSession(async (s) => {
    const target = hostBefore === '1' ? '0' : '1';
    await s.writeSysctl('net.ipv4.ip_forward', target);
    assert.equal(await s.readSysctl('net.ipv4.ip_forward'), target);
    await s.createVethPair({ name: 'sx0', peerName: 'sx1' });
    await s.writeSysctl(['net', 'ipv4', 'conf', 'sx0', 'proxy_arp'], 1);
    assert.equal(await s.readSysctl('net/ipv4/conf/sx0/proxy_arp'), '1');
    await assert.rejects(s.readSysctl('net.ipv4.conf.nosuch.proxy_arp'), ResourceNotFoundError);
  });
  assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), hostBefore);
});

test('vxlan.calico device, ARP and FDB entries as Felix programs them', { skip: skip ?? false }, async () => {
  await withNetnsSession(async (s, name) => {
    await s.createVethPair({ name: 'eth0', peerName: 'uplink' });
    await s.setLinkUp('eth0');
    await s.addAddress('eth0', '192.168.3.125/24');
    const mac = vtepMac('node-a');
    const dev = await ensureVxlanDevice(s, { parent: 'eth0', local: '192.168.3.125', mac, mtu: 1450, tunnelAddress: '10.244.208.0' });
    assert.equal(dev.kind, 'vxlan');
    assert.deepEqual(dev.vxlan, { vni: 4096, port: 4789, learning: false, local: '192.168.3.125', parentIndex: (await s.getLink('eth0')).index });
    assert.equal(dev.mac, '66:07:02:c1:cc:60');
    assert.equal(dev.mtu, 1450);
    assert.ok(dev.up);
    assert.deepEqual((await s.listAddresses({ link: 'vxlan.calico', family: 4 })).map((a) => a.cidr), ['10.244.208.0/32']);
    const details = nsExec(name, ['ip', '-d', 'link', 'show', 'vxlan.calico']);
    assert.match(details, /vxlan id 4096 local 192\.168\.3\.125 dev eth0 .*dstport 4789 nolearning/);

    // Idempotent: same parameters keep the same device.
    const again = await ensureVxlanDevice(s, { parent: 'eth0', local: '192.168.3.125', mac, mtu: 1450, tunnelAddress: '10.244.208.0' });
    assert.equal(again.index, dev.index);
    // A different VNI forces delete + recreate.
    const recreated = await ensureVxlanDevice(s, { parent: 'eth0', local: '192.168.3.125', mac, mtu: 1450, vni: 4097, tunnelAddress: '10.244.208.0' });
    assert.notEqual(recreated.index, dev.index);
    assert.equal(recreated.vxlan!.vni, 4097);

    const vteps = [
      { tunnelAddress: '10.244.92.128', mac: vtepMac('node-b'), nodeAddress: '192.168.3.126' },
      { tunnelAddress: '10.244.17.64', mac: vtepMac('node-c'), nodeAddress: '192.168.4.10' },
    ];
    assert.deepEqual(await syncVxlanNeighbours(s, vteps), { added: 4, removed: 0 });
    assert.deepEqual(await syncVxlanNeighbours(s, vteps), { added: 0, removed: 0 });
    const neigh = nsExec(name, ['ip', 'neigh', 'show', 'dev', 'vxlan.calico']);
    assert.match(neigh, /10\.244\.92\.128 lladdr 66:89:3a:22:7a:ac PERMANENT/);
    assert.match(neigh, /10\.244\.17\.64 lladdr 66:1a:b9:f1:6e:af PERMANENT/);
    const fdb = nsExec(name, ['bridge', 'fdb', 'show', 'dev', 'vxlan.calico']);
    assert.match(fdb, /66:89:3a:22:7a:ac dst 192\.168\.3\.126 self permanent/);
    assert.match(fdb, /66:1a:b9:f1:6e:af dst 192\.168\.4\.10 self permanent/);
    // The VXLAN route form of the reference (§4.2) is accepted by the kernel.
    await s.replaceRoute({ dst: '10.244.92.128/26', gateway: '10.244.92.128', dev: 'vxlan.calico', onlink: true, mtu: 1450 });
    assert.match(nsExec(name, ['ip', 'route', 'show', '10.244.92.128/26']), /10\.244\.92\.128\/26 via 10\.244\.92\.128 dev vxlan\.calico onlink mtu 1450/);
    // node-c leaves: its entries are removed.
    assert.deepEqual(await syncVxlanNeighbours(s, vteps.slice(0, 1)), { added: 0, removed: 2 });
    assert.doesNotMatch(nsExec(name, ['bridge', 'fdb', 'show', 'dev', 'vxlan.calico']), /66:1a:b9:f1:6e:af/);
    assert.deepEqual((await s.listNeighbours({ link: 'vxlan.calico' })).filter((n) => n.state.includes('permanent')).map((n) => n.address), ['10.244.92.128']);
  });
});

test('tunl0 (ipip) where the kernel supports it', { skip: skip ?? false }, async (t) => {
  await withNetnsSession(async (s) => {
    if (!(await kernelSupportsIpip(s))) {
      await assert.rejects(s.createIpip({ name: 'tunl1' }), KernelNotSupportedError);
      await assert.rejects(ensureTunl0(s, { address: '10.244.208.0' }), (e: unknown) => KernelNotSupportedError.isInstance(e) && /not supported by this kernel/.test((e as Error).message));
      t.skip('kernel has no ipip module');
      return;
    }
    const tunl = await ensureTunl0(s, { mtu: 1480, address: '10.244.208.0' });
    assert.equal(tunl.kind, 'ipip');
    assert.equal(tunl.mtu, 1480);
    assert.ok(tunl.up);
    assert.deepEqual((await s.listAddresses({ link: 'tunl0', family: 4 })).map((a) => a.cidr), ['10.244.208.0/32']);
    await s.replaceRoute({ dst: '10.244.92.128/26', gateway: '192.168.3.126', dev: 'tunl0', onlink: true, protocol: 12 });
  });
});
