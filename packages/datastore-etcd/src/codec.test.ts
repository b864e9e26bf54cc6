import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatastoreError, ValidationError, type V3Object } from '@libcalico-ts/api';
import type { AllocationBlock, BlockAffinityKey, BlockKey, IPAMConfig } from '@libcalico-ts/datastore';
import { decodeEtcdValue, encodeEtcdValue, POLICY_NAME_ANNOTATION } from './codec.js';

const blockKey: BlockKey = { type: 'block', cidr: '10.0.0.0/30' };
const affinityKey: BlockAffinityKey = { type: 'blockAffinity', host: 'n', cidr: '10.0.0.0/30' };

function smallBlock(overrides: Partial<AllocationBlock> = {}): AllocationBlock {
  return {
    cidr: '10.0.0.0/30',
    affinity: null,
    allocations: [0, null, 1, null],
    unallocated: [3, 1],
    attributes: [
      { handleId: 'h1', secondary: { pod: 'p', namespace: 'ns' } },
      { handleId: null, secondary: null, releasedAt: '2026-03-01T10:00:00Z', alternateOwnerAttrs: { 'vmi-name': 'v' } },
    ],
    sequenceNumber: 9223372036854775809n,
    sequenceNumberForAllocation: { '2': 9223372036854775808n, '0': 1n, '10': 5n },
    deleted: false,
    ...overrides,
  };
}

test('block: exact Go shape (affinity null, no claim time, omitted empty attribute fields, sorted maps)', () => {
  const text = encodeEtcdValue(blockKey, smallBlock());
  assert.equal(
    text,
    '{"cidr":"10.0.0.0/30","affinity":null,"allocations":[0,null,1,null],"unallocated":[3,1],' +
      '"attributes":[{"handle_id":"h1","secondary":{"namespace":"ns","pod":"p"}},{"alternateOwnerAttrs":{"vmi-name":"v"},"releasedAt":"2026-03-01T10:00:00Z"}],' +
      '"sequenceNumber":9223372036854775809,"sequenceNumberForAllocation":{"0":1,"10":5,"2":9223372036854775808},"deleted":false}',
  );
  assert.deepEqual(decodeEtcdValue(blockKey, text), smallBlock());
});

test('block: malformed values are refused with ValidationError naming the field', () => {
  const cases: [Partial<AllocationBlock>, string][] = [
    [{ sequenceNumber: 1.5 as unknown as bigint }, 'value.sequenceNumber'],
    [{ sequenceNumber: -1n }, 'value.sequenceNumber'],
    [{ sequenceNumber: 1n << 64n }, 'value.sequenceNumber'],
    [{ sequenceNumberForAllocation: { '0': 2 ** 60 as unknown as bigint } }, 'value.sequenceNumberForAllocation.0'],
    [{ allocations: [0.5] }, 'value.allocations[0]'],
    [{ unallocated: [-1] }, 'value.unallocated[0]'],
    [{ affinity: 3 as unknown as string }, 'value.affinity'],
    [{ attributes: [{ handleId: 7 as unknown as string, secondary: null }] }, 'value.attributes[0].handleId'],
    [{ attributes: [{ handleId: 'h', secondary: { a: 1 as unknown as string } }] }, 'value.attributes[0].secondary.a'],
  ];
  for (const [override, field] of cases) {
    assert.throws(
      () => encodeEtcdValue(blockKey, smallBlock(override)),
      (e: unknown) => ValidationError.isInstance(e) && (e as ValidationError).fields[0]!.name === field,
      field,
    );
  }
});

test('block: undecodable stored values are DatastoreErrors', () => {
  for (const text of ['{"cidr":', '[1]', '{"cidr":"10.0.0.0/30","allocations":{}}', '{"cidr":"10.0.0.0/30","sequenceNumber":-4}', '{"sequenceNumberForAllocation":{"0":"x"}}']) {
    assert.throws(() => decodeEtcdValue(blockKey, text), (e: unknown) => DatastoreError.isInstance(e), text);
  }
});

test('affinity, handle and config shapes', () => {
  assert.equal(encodeEtcdValue(affinityKey, { state: 'pendingDeletion', deleted: false }), '{"state":"pendingDeletion","deleted":false}');
  assert.deepEqual(decodeEtcdValue(affinityKey, ''), { state: '', deleted: false });
  assert.deepEqual(decodeEtcdValue(affinityKey, '{}'), { state: '', deleted: false });
  assert.throws(() => encodeEtcdValue(affinityKey, { state: 'bogus' as 'pending', deleted: false }), (e: unknown) => ValidationError.isInstance(e));
  const handleKey = { type: 'handle', handleId: 'h' } as const;
  assert.equal(encodeEtcdValue(handleKey, { block: { 'fd00::/122': 2, '10.0.0.0/26': 1 }, deleted: false }), '{"block":{"10.0.0.0/26":1,"fd00::/122":2},"deleted":false}');
  assert.deepEqual(decodeEtcdValue(handleKey, '{"block":null}'), { block: {}, deleted: false });
  const configKey = { type: 'ipamConfig' } as const;
  const full: IPAMConfig = { strictAffinity: true, autoAllocateBlocks: false, maxBlocksPerHost: 0, kubeVirtVMAddressPersistence: 'Disabled', ipCooldownSeconds: 30 };
  const text = encodeEtcdValue(configKey, full);
  assert.equal(text, '{"strict_affinity":true,"kubeVirtVMAddressPersistence":"Disabled","ipCooldownSeconds":30}');
  assert.deepEqual(decodeEtcdValue(configKey, text), full);
  assert.equal(encodeEtcdValue(configKey, { strictAffinity: false, autoAllocateBlocks: false, maxBlocksPerHost: 0 }), '{}');
  assert.throws(() => encodeEtcdValue(configKey, { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: -1 }), (e: unknown) => ValidationError.isInstance(e));
});

test('resources: envelope and metadata in Go order; name and namespace checked against the key', () => {
  const key = { type: 'resource', kind: 'WorkloadEndpoint', namespace: 'ns', name: 'w' } as const;
  const value = {
    spec: { node: 'n' },
    metadata: {
      finalizers: ['f'],
      ownerReferences: [{ uid: 'u', name: 'o', kind: 'Pod', apiVersion: 'v1', controller: true }],
      annotations: {},
      labels: { z: '1', a: '2' },
      generation: 3,
      resourceVersion: '17',
      uid: 'uid-1',
      namespace: 'ns',
      generateName: 'w-',
      name: 'w',
    },
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
  } as unknown as V3Object;
  assert.equal(
    encodeEtcdValue(key, value),
    '{"kind":"WorkloadEndpoint","apiVersion":"projectcalico.org/v3","metadata":{"name":"w","generateName":"w-","namespace":"ns","uid":"uid-1","generation":3,"creationTimestamp":null,"labels":{"a":"2","z":"1"},"ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":"o","uid":"u","controller":true}],"finalizers":["f"]},"spec":{"node":"n"}}',
  );
  const wrongName = { ...value, metadata: { ...value.metadata, name: 'other' } };
  assert.throws(() => encodeEtcdValue(key, wrongName), (e: unknown) => ValidationError.isInstance(e) && (e as ValidationError).fields[0]!.name === 'metadata.name');
  const wrongNs = { ...value, metadata: { ...value.metadata, namespace: 'other' } };
  assert.throws(() => encodeEtcdValue(key, wrongNs), (e: unknown) => ValidationError.isInstance(e) && (e as ValidationError).fields[0]!.name === 'metadata.namespace');
  // Name and namespace are filled from the key when absent.
  const bare = encodeEtcdValue(key, { kind: 'WorkloadEndpoint', apiVersion: 'projectcalico.org/v3', metadata: {}, spec: {} });
  assert.match(bare, /"metadata":\{"name":"w","namespace":"ns","creationTimestamp":null\}/);
});

test('resources: BlockAffinity deleted is stored as a string and read back as a boolean', () => {
  const key = { type: 'resource', kind: 'BlockAffinity', name: 'n-10-0-0-0-26' } as const;
  const text = encodeEtcdValue(key, {
    kind: 'BlockAffinity',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'n-10-0-0-0-26' },
    spec: { state: 'confirmed', node: 'n', type: 'host', cidr: '10.0.0.0/26', deleted: false },
  });
  assert.match(text, /"deleted":"false"/);
  assert.equal((decodeEtcdValue(key, text).spec as { deleted: unknown }).deleted, false);
});

test('resources: policy name annotation is added on write and consumed on read', () => {
  const key = { type: 'resource', kind: 'NetworkPolicy', namespace: 'ns', name: 'p' } as const;
  const text = encodeEtcdValue(key, { kind: 'NetworkPolicy', apiVersion: 'projectcalico.org/v3', metadata: { name: 'p', namespace: 'ns' }, spec: { tier: 'default' } });
  assert.ok(text.includes(`"annotations":{"${POLICY_NAME_ANNOTATION}":"{\\"name\\":\\"p\\"}"}`), text);
  const read = decodeEtcdValue(key, text);
  assert.equal(read.metadata.name, 'p');
  assert.equal(read.metadata.annotations, undefined);
  // A non-default tier keeps a dotted legacy name as is.
  const tiered = decodeEtcdValue(key, '{"kind":"NetworkPolicy","metadata":{"name":"sec.p","namespace":"ns"},"spec":{"tier":"sec"}}');
  assert.equal(tiered.metadata.name, 'sec.p');
  assert.throws(() => decodeEtcdValue(key, `{"metadata":{"name":"p","annotations":{"${POLICY_NAME_ANNOTATION}":"{bad"}}}`), (e: unknown) => DatastoreError.isInstance(e));
});

test('resources: undecodable stored values are DatastoreErrors', () => {
  const key = { type: 'resource', kind: 'IPPool', name: 'p' } as const;
  for (const text of ['', 'null', '[]', '{"metadata":3}', '{"spec":']) {
    assert.throws(() => decodeEtcdValue(key, text), (e: unknown) => DatastoreError.isInstance(e), text);
  }
});
