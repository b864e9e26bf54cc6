/**
 * Wire compatibility of the etcd datastore with Calico, against a real etcd: the reference
 * examples E1-E9 written raw (with etcd3 directly) are read back field by field, and the same
 * values written through the datastore produce exactly the reference bytes under the same keys.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import type { V3Object } from '@libcalico-ts/api';
import type { AllocationBlock, Datastore, IPAMConfig, Key, ValueOf } from '@libcalico-ts/datastore';
import { keyToPath } from '@libcalico-ts/datastore';
import { createEtcdDatastore, encodeEtcdValue } from '@libcalico-ts/datastore-etcd';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { E4_BLOCK, WIRE_EXAMPLES, typedValue } from './etcd-examples.js';

let etcd: EtcdServer;
let raw: Etcd3;
let datastore: Datastore;

before(async () => {
  etcd = await startEtcd();
  raw = new Etcd3({ hosts: etcd.endpoints });
  datastore = createEtcdDatastore({ endpoints: etcd.endpoints });
});

after(async () => {
  await datastore?.close();
  raw?.close();
  await etcd?.stop();
});

async function clear(): Promise<void> {
  await raw.delete().prefix('/calico/');
}

describe('reference examples E1-E9', () => {
  test('every example key is the path keyToPath computes', () => {
    for (const example of WIRE_EXAMPLES) assert.equal(keyToPath(example.key), example.path, example.name);
  });

  test('encodeEtcdValue reproduces every example byte for byte', () => {
    for (const example of WIRE_EXAMPLES) {
      assert.equal(encodeEtcdValue(example.key, typedValue(example) as ValueOf<Key>), example.raw, example.name);
    }
  });

  test('raw-written examples read back through the datastore, field by field', async () => {
    await clear();
    // E6 has two variants of one key: read each in turn.
    for (const example of WIRE_EXAMPLES) {
      await raw.put(example.path).value(example.raw);
      const pair = await datastore.getKV(example.key);
      const stored = await raw.get(example.path).exec();
      assert.equal(pair.revision, String(stored.kvs[0]!.mod_revision), `${example.name} revision is the mod revision`);
      assert.deepEqual(pair.key, example.key, example.name);
      if (example.key.type === 'resource') {
        // Resources come back with their revision as metadata.resourceVersion (never stored).
        const value = pair.value as V3Object;
        assert.equal(value.metadata.resourceVersion, pair.revision, `${example.name} resourceVersion`);
        const { resourceVersion: _rv, ...metadata } = value.metadata;
        assert.deepEqual({ ...value, metadata }, typedValue(example), example.name);
      } else {
        assert.deepEqual(pair.value, typedValue(example), example.name);
      }
    }
  });

  test('E4 block: sequence numbers are exact bigints and the shape is the model', async () => {
    await clear();
    const e4 = WIRE_EXAMPLES.find((e) => e.name === 'E4')!;
    await raw.put(e4.path).value(e4.raw);
    const block = (await datastore.getKV({ type: 'block', cidr: '192.168.84.128/26' })).value as AllocationBlock;
    assert.equal(typeof block.sequenceNumber, 'bigint');
    assert.equal(block.sequenceNumber, 1772359200000000002n);
    assert.equal(block.sequenceNumberForAllocation['0'], 1772359200000000000n);
    assert.equal(block.sequenceNumberForAllocation['1'], 1772359200000000001n);
    // 1772359200000000001 is not representable as a double: a Number round trip would change it.
    assert.notEqual(BigInt(Number(1772359200000000001n)), 1772359200000000001n);
    assert.equal(block.affinity, 'host:node-1');
    assert.equal(block.affinityClaimTime, '2026-03-01T10:00:00Z');
    assert.equal(block.allocations.length, 64);
    assert.deepEqual(block.allocations.slice(0, 3), [0, 1, null]);
    assert.equal(block.unallocated[0], 2);
    assert.equal(block.unallocated.length, 62);
    assert.equal(block.attributes[1]!.handleId, 'k8s-pod-network.3f9c1a7be0d24c6b8e5f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d');
    assert.equal(block.attributes[1]!.secondary!.timestamp, '2026-03-01 10:05:07.123456789 +0000 UTC');
    assert.equal(block.deleted, false);
  });

  test('values written through the datastore are stored as the reference bytes', async () => {
    for (const example of WIRE_EXAMPLES) {
      await clear();
      const written = await datastore.createKV(example.key, typedValue(example) as ValueOf<Key>);
      const stored = await raw.get(example.path).exec();
      assert.equal(stored.kvs.length, 1, `${example.name} stored at ${example.path}`);
      assert.equal(stored.kvs[0]!.value.toString('utf8'), example.raw, `${example.name} bytes`);
      assert.equal(written.revision, String(stored.kvs[0]!.mod_revision), `${example.name} revision`);
      // And only that key was written.
      const all = await raw.getAll().prefix('/calico/').keys();
      assert.deepEqual(all, [example.path], example.name);
    }
  });

  test('a block survives update round trips with its uint64 values intact', async () => {
    await clear();
    const key = { type: 'block', cidr: '192.168.84.128/26' } as const;
    const created = await datastore.createKV(key, E4_BLOCK);
    const next: AllocationBlock = {
      ...created.value,
      sequenceNumber: 18446744073709551615n, // uint64 max
      sequenceNumberForAllocation: { ...created.value.sequenceNumberForAllocation, '2': 18446744073709551614n },
      allocations: created.value.allocations.map((a, i) => (i === 2 ? 1 : a)),
      unallocated: created.value.unallocated.slice(1),
    };
    const updated = await datastore.updateKV(key, next, created.revision);
    const text = (await raw.get(keyToPath(key)).string())!;
    assert.match(text, /"sequenceNumber":18446744073709551615,/);
    assert.match(text, /"2":18446744073709551614\}/);
    const read = await datastore.getKV(key);
    assert.equal(read.revision, updated.revision);
    assert.equal(read.value.sequenceNumber, 18446744073709551615n);
    assert.equal(read.value.sequenceNumberForAllocation['2'], 18446744073709551614n);
  });

  test('legacy forms are accepted on read', async () => {
    await clear();
    // An empty affinity value (old releases) reads as state "" (confirmed).
    await raw.put('/calico/ipam/v2/host/node-9/ipv4/block/10.9.0.0-26').value('');
    const affinity = await datastore.getKV({ type: 'blockAffinity', host: 'node-9', cidr: '10.9.0.0/26' });
    assert.deepEqual(affinity.value, { state: '', deleted: false });
    // hostAffinity (very old blocks) means affinity host:<name>; null lists read as empty.
    await raw
      .put('/calico/ipam/v2/assignment/ipv4/block/10.9.0.0-30')
      .value('{"cidr":"10.9.0.0/30","hostAffinity":"old-node","allocations":[null,null,null,null],"unallocated":[0,1,2,3],"attributes":null,"sequenceNumber":5,"sequenceNumberForAllocation":null}');
    const block = (await datastore.getKV({ type: 'block', cidr: '10.9.0.0/30' })).value;
    assert.equal(block.affinity, 'host:old-node');
    assert.deepEqual(block.attributes, []);
    assert.deepEqual(block.sequenceNumberForAllocation, {});
    assert.equal(block.sequenceNumber, 5n);
    // A config without auto_allocate_blocks means false.
    await raw.put('/calico/ipam/v2/config').value('{"strict_affinity":true}');
    const config = (await datastore.getKV({ type: 'ipamConfig' })).value as IPAMConfig;
    assert.deepEqual(config, { strictAffinity: true, autoAllocateBlocks: false, maxBlocksPerHost: 0 });
  });

  test('policies: the v3 name is kept in projectcalico.org/metadata; legacy default. names are stripped', async () => {
    await clear();
    const key = { type: 'resource', kind: 'GlobalNetworkPolicy', name: 'allow-dns' } as const;
    await datastore.createKV(key, {
      kind: 'GlobalNetworkPolicy',
      apiVersion: 'projectcalico.org/v3',
      metadata: { name: 'allow-dns', creationTimestamp: '2026-03-01T10:00:00Z', annotations: { 'z.example/x': 'y' } },
      spec: { tier: 'default', selector: 'a == "b" && c == "d"' },
    });
    const text = (await raw.get(keyToPath(key)).string())!;
    // Go map order (sorted keys) and Go's HTML-safe escaping of & < >.
    assert.equal(
      text,
      '{"kind":"GlobalNetworkPolicy","apiVersion":"projectcalico.org/v3","metadata":{"name":"allow-dns","creationTimestamp":"2026-03-01T10:00:00Z","annotations":{"projectcalico.org/metadata":"{\\"name\\":\\"allow-dns\\"}","z.example/x":"y"}},"spec":{"tier":"default","selector":"a == \\"b\\" \\u0026\\u0026 c == \\"d\\""}}',
    );
    const read = await datastore.getKV(key);
    assert.deepEqual(read.value.metadata.annotations, { 'z.example/x': 'y' });
    assert.equal(read.value.metadata.name, 'allow-dns');
    // A policy stored by <= v3.29 under default.<name> without the annotation.
    await raw
      .put('/calico/resources/v3/projectcalico.org/globalnetworkpolicies/default.old')
      .value('{"kind":"GlobalNetworkPolicy","apiVersion":"projectcalico.org/v3","metadata":{"name":"default.old","creationTimestamp":null},"spec":{"tier":"default"}}');
    const legacy = await datastore.getKV({ type: 'resource', kind: 'GlobalNetworkPolicy', name: 'default.old' });
    assert.equal(legacy.value.metadata.name, 'old');
    assert.equal(legacy.value.metadata.creationTimestamp, undefined);
  });

  test('metadata is written in Go order without resourceVersion, creationTimestamp null when unset', async () => {
    await clear();
    const key = { type: 'resource', kind: 'NetworkSet', namespace: 'ns1', name: 'set-a' } as const;
    await datastore.createKV(key, {
      kind: 'NetworkSet',
      apiVersion: 'projectcalico.org/v3',
      metadata: { labels: { b: '2', a: '1' }, resourceVersion: '99', namespace: 'ns1', name: 'set-a', uid: 'u-1' },
      spec: { nets: ['10.0.0.0/8'] },
    });
    assert.equal(
      await raw.get(keyToPath(key)).string(),
      '{"kind":"NetworkSet","apiVersion":"projectcalico.org/v3","metadata":{"name":"set-a","namespace":"ns1","uid":"u-1","creationTimestamp":null,"labels":{"a":"1","b":"2"}},"spec":{"nets":["10.0.0.0/8"]}}',
    );
  });
});
