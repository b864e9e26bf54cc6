// Behaviour specific to the memory datastore (the contract itself is covered by the conformance
// suite in test/datastore/memory.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DatastoreError,
  OperationNotSupportedError,
  ParseError,
  ResourceExistsError,
  UpdateConflictError,
  ValidationError,
  WatchTooOldError,
} from '@libcalico-ts/api';
import type { AllocationBlock, BlockKey, HandleKey, Key, WatchEvent } from './contract.js';
import { createMemoryDatastore, isMemoryDatastore, type WriteOperationInfo } from './memory.js';

const handle = (id: string): HandleKey => ({ type: 'handle', handleId: id });
const handleValue = (n: number) => ({ block: { '10.0.0.0/26': n }, deleted: false });
const blockKey = (cidr: string): BlockKey => ({ type: 'block', cidr });
const blockValue = (cidr: string, seq: bigint): AllocationBlock => ({
  cidr,
  affinity: 'host:n1',
  allocations: [0, null],
  unallocated: [1],
  attributes: [{ handleId: 'h', secondary: { node: 'n1' } }],
  sequenceNumber: seq,
  sequenceNumberForAllocation: { '0': seq - 1n },
  deleted: false,
});

async function drain<T>(iterator: AsyncIterator<T>, count: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i++) {
    const result = await iterator.next();
    if (result.done) break;
    out.push(result.value);
  }
  return out;
}

describe('memory datastore: revisions', () => {
  it('numbers every successful write from one counter; failed writes take no revision', async () => {
    const ds = createMemoryDatastore();
    assert.equal(ds.currentRevision(), '0');
    const a = await ds.createKV(handle('a'), handleValue(1));
    assert.equal(a.revision, '1');
    await assert.rejects(ds.createKV(handle('a'), handleValue(2)), ResourceExistsError);
    await assert.rejects(ds.updateKV(handle('a'), handleValue(2), '7'), UpdateConflictError);
    const b = await ds.applyKV(handle('b'), handleValue(1));
    assert.equal(b.revision, '2');
    const txn = await ds.transact([], [
      { op: 'put', key: handle('a'), value: handleValue(3) },
      { op: 'put', key: handle('c'), value: handleValue(3) },
    ]);
    assert.equal(txn.revision, '3');
    assert.deepEqual(txn.results.map((r) => r.revision), ['3', '3']);
    assert.equal(ds.currentRevision(), '3');
    assert.equal((await ds.listKV({ type: 'handle' })).revision, '3');
  });

  it('a transaction whose deletes find nothing writes nothing and takes no revision', async () => {
    const ds = createMemoryDatastore();
    await ds.createKV(handle('a'), handleValue(1));
    const result = await ds.transact([], [{ op: 'delete', key: handle('missing') }]);
    assert.equal(result.revision, '1');
    assert.deepEqual(result.results, [{ key: handle('missing') }]);
  });

  it('rejects malformed transactions before writing', async () => {
    const ds = createMemoryDatastore();
    await assert.rejects(ds.transact([], []), ValidationError);
    await assert.rejects(
      ds.transact([], [
        { op: 'put', key: handle('a'), value: handleValue(1) },
        { op: 'delete', key: handle('a') },
      ]),
      ValidationError,
    );
    await assert.rejects(ds.transact([{ key: handle('a') } as never], [{ op: 'delete', key: handle('a') }]), ValidationError);
    await assert.rejects(ds.transact([], [{ op: 'merge', key: handle('a') } as never]), ValidationError);
    assert.equal(ds.currentRevision(), '0');
  });

  it('atomicTransactions: false refuses multi-key transactions (conditions count) but runs single-key ones', async () => {
    const ds = createMemoryDatastore({ atomicTransactions: false });
    assert.equal(ds.capabilities.atomicTransactions, false);
    await assert.rejects(
      ds.transact([{ key: handle('b'), absent: true }], [{ op: 'put', key: handle('a'), value: handleValue(1) }]),
      OperationNotSupportedError,
    );
    await ds.transact([{ key: handle('a'), absent: true }], [{ op: 'put', key: handle('a'), value: handleValue(1) }]);
    assert.equal(ds.size, 1);
  });
});

describe('memory datastore: values', () => {
  it('stores resources with the key kind, name and namespace, and returns resourceVersion = revision', async () => {
    const ds = createMemoryDatastore();
    const key = { type: 'resource', kind: 'NetworkSet', namespace: 'ns1', name: 'set' } as const;
    const pair = await ds.createKV(key, {
      kind: 'NetworkSet',
      apiVersion: 'projectcalico.org/v3',
      metadata: { resourceVersion: '999', labels: { a: 'b' } },
      spec: { nets: ['10.0.0.0/8'] },
    });
    assert.deepEqual(pair.value, {
      kind: 'NetworkSet',
      apiVersion: 'projectcalico.org/v3',
      metadata: { resourceVersion: '1', labels: { a: 'b' }, name: 'set', namespace: 'ns1' },
      spec: { nets: ['10.0.0.0/8'] },
    });
    const stored = JSON.parse(ds.snapshot()).entries[0].value;
    assert.equal(stored.metadata.resourceVersion, undefined, 'the revision is not stored inside the value');
  });

  it('rejects values that contradict their key, or are not plain data', async () => {
    const ds = createMemoryDatastore();
    const pool = { type: 'resource', kind: 'IPPool', name: 'p' } as const;
    const bad: unknown[] = [
      { kind: 'BGPPeer', metadata: {}, spec: {} },
      { apiVersion: 'crd.projectcalico.org/v1', metadata: {}, spec: {} },
      { metadata: { name: 'other' }, spec: {} },
      { metadata: { namespace: 'ns' }, spec: {} },
      { metadata: 'x', spec: {} },
      { metadata: {}, spec: { created: new Date() } },
      'a string',
    ];
    for (const value of bad) await assert.rejects(ds.createKV(pool, value as never), ValidationError, JSON.stringify(value));
    await assert.rejects(ds.createKV(blockKey('10.0.0.0/26'), blockValue('10.0.0.64/26', 1n)), ValidationError);
    await assert.rejects(
      ds.createKV(blockKey('10.0.0.0/26'), { ...blockValue('10.0.0.0/26', 1n), sequenceNumber: 5 as unknown as bigint }),
      (error: unknown) => ValidationError.isInstance(error) && (error as ValidationError).fields[0]!.name === 'value.sequenceNumber',
    );
    await assert.rejects(ds.createKV(handle('h'), { block: { x: 1.5 }, deleted: false }), ValidationError);
    await assert.rejects(ds.applyKV({ type: 'ipamConfig' }, { strictAffinity: 'yes' } as never), ValidationError);
    assert.equal(ds.size, 0);
    assert.equal(ds.currentRevision(), '0');
  });

  it('hands out copies in watch events too', async () => {
    const ds = createMemoryDatastore();
    const w1 = ds.watchKV({ type: 'handle' });
    const w2 = ds.watchKV({ type: 'handle' });
    await ds.createKV(handle('a'), handleValue(1));
    const [e1] = await drain(w1[Symbol.asyncIterator](), 1);
    (e1!.current!.value as { block: Record<string, number> }).block['10.0.0.0/26'] = 99;
    const [e2] = await drain(w2[Symbol.asyncIterator](), 1);
    assert.equal((e2!.current!.value as { block: Record<string, number> }).block['10.0.0.0/26'], 1);
    assert.equal((await ds.getKV(handle('a'))).value.block['10.0.0.0/26'], 1);
    w1.stop();
    w2.stop();
  });
});

describe('memory datastore: beforeWrite hook', () => {
  it('sees each write with its verb and keys, before anything is checked', async () => {
    const seen: WriteOperationInfo[] = [];
    const ds = createMemoryDatastore({ beforeWrite: (op) => void seen.push(op) });
    const a = await ds.createKV(handle('a'), handleValue(1));
    await ds.updateKV(handle('a'), handleValue(2), a.revision);
    await ds.applyKV(handle('b'), handleValue(1));
    await ds.transact([], [{ op: 'delete', key: handle('b') }, { op: 'put', key: handle('c'), value: handleValue(1) }]);
    await ds.deleteKV(handle('a'));
    await assert.rejects(ds.createKV(handle('c'), handleValue(1)), ResourceExistsError);
    await ds.getKV(handle('c'));
    assert.deepEqual(
      seen.map((op) => `${op.kind} ${op.keys.map((k) => (k as HandleKey).handleId).join(',')}`),
      ['create a', 'update a', 'apply b', 'txn b,c', 'delete a', 'create c'],
    );
  });

  it('a throwing or rejecting hook aborts the write with its own error, nothing written', async () => {
    let mode: 'ok' | 'throw' | 'reject' = 'ok';
    const ds = createMemoryDatastore({
      beforeWrite: async () => {
        if (mode === 'throw') throw new UpdateConflictError('injected');
        if (mode === 'reject') return Promise.reject(new DatastoreError('disk on fire'));
      },
    });
    await ds.createKV(handle('a'), handleValue(1));
    mode = 'throw';
    await assert.rejects(ds.createKV(handle('b'), handleValue(1)), UpdateConflictError);
    mode = 'reject';
    await assert.rejects(ds.deleteKV(handle('a')), /disk on fire/);
    await assert.rejects(ds.transact([], [{ op: 'put', key: handle('c'), value: handleValue(1) }]), DatastoreError);
    assert.equal(ds.size, 1);
    assert.equal(ds.currentRevision(), '1');
  });

  it('checks happen after the hook: a racing write that lands while the hook waits makes CAS fail', async () => {
    let gate: (() => void) | undefined;
    const ds = createMemoryDatastore({
      beforeWrite: (op) =>
        op.kind === 'update' && gate === undefined
          ? new Promise<void>((resolve) => {
              gate = resolve;
            })
          : undefined,
    });
    const a = await ds.createKV(handle('a'), handleValue(1));
    const slow = ds.updateKV(handle('a'), handleValue(2), a.revision);
    await new Promise((resolve) => setTimeout(resolve, 1));
    await ds.applyKV(handle('a'), handleValue(3));
    gate!();
    await assert.rejects(slow, UpdateConflictError);
    assert.equal((await ds.getKV(handle('a'))).value.block['10.0.0.0/26'], 3);
  });
});

describe('memory datastore: history and compaction', () => {
  it('keeps historyLimit events; older resume points throw WatchTooOldError', async () => {
    const ds = createMemoryDatastore({ historyLimit: 5 });
    for (let i = 1; i <= 10; i++) await ds.applyKV(handle('a'), handleValue(i));
    // Revisions 6..10 are kept: a watch from 5 sees them all, from 4 is too old.
    const ok = ds.watchKV({ type: 'handle' }, { revision: '5' });
    const events = await drain(ok[Symbol.asyncIterator](), 5);
    assert.deepEqual(events.map((e) => e.revision), ['6', '7', '8', '9', '10']);
    ok.stop();
    const old = ds.watchKV({ type: 'handle' }, { revision: '4' });
    await assert.rejects(old[Symbol.asyncIterator]().next(), WatchTooOldError);
  });

  it('trims whole transactions, never half of one', async () => {
    const ds = createMemoryDatastore({ historyLimit: 3 });
    await ds.transact([], [1, 2, 3].map((i) => ({ op: 'put' as const, key: handle(`t${i}`), value: handleValue(i) })));
    await ds.applyKV(handle('x'), handleValue(1));
    // 4 events > 3: the whole transaction (revision 1) is dropped.
    await assert.rejects(ds.watchKV({ type: 'handle' }, { revision: '0' })[Symbol.asyncIterator]().next(), WatchTooOldError);
    const w = ds.watchKV({ type: 'handle' }, { revision: '1' });
    const [event] = await drain(w[Symbol.asyncIterator](), 1);
    assert.equal(event!.revision, '2');
    w.stop();
  });

  it('compact(revision) drops history up to it; a watch from exactly that revision still works', async () => {
    const ds = createMemoryDatastore();
    for (let i = 1; i <= 4; i++) await ds.applyKV(handle(`h${i}`), handleValue(i));
    ds.compact('2');
    await assert.rejects(ds.watchKV({ type: 'handle' }, { revision: '1' })[Symbol.asyncIterator]().next(), WatchTooOldError);
    const w = ds.watchKV({ type: 'handle' }, { revision: '2' });
    assert.deepEqual((await drain(w[Symbol.asyncIterator](), 2)).map((e) => e.revision), ['3', '4']);
    w.stop();
    assert.throws(() => ds.compact('99'), ValidationError);
    assert.throws(() => ds.compact('abc'), ValidationError);
    ds.compact('1'); // older than the compacted revision: nothing to do
  });

  it('a running watch is not affected by compaction; a malformed revision fails the iterator', async () => {
    const ds = createMemoryDatastore();
    const w = ds.watchKV({ type: 'handle' }, { revision: '0' });
    await ds.applyKV(handle('a'), handleValue(1));
    ds.compact();
    await ds.applyKV(handle('a'), handleValue(2));
    assert.deepEqual((await drain(w[Symbol.asyncIterator](), 2)).map((e) => e.type), ['added', 'modified']);
    w.stop();
    await assert.rejects(ds.watchKV({ type: 'handle' }, { revision: 'x1' })[Symbol.asyncIterator]().next(), ValidationError);
  });

  it('a transaction shows in a watch as events sharing one revision; re-creation after delete is "added"', async () => {
    const ds = createMemoryDatastore();
    const w = ds.watchKV({ type: 'handle' }, { revision: '0' });
    await ds.transact([], [
      { op: 'put', key: handle('a'), value: handleValue(1) },
      { op: 'put', key: handle('b'), value: handleValue(1) },
    ]);
    await ds.deleteKV(handle('a'));
    await ds.createKV(handle('a'), handleValue(2));
    const events: WatchEvent<Key>[] = await drain(w[Symbol.asyncIterator](), 4);
    assert.deepEqual(events.map((e) => `${e.type}@${e.revision}`), ['added@1', 'added@1', 'deleted@2', 'added@3']);
    w.stop();
  });
});

describe('memory datastore: close', () => {
  it('delivers queued events, then throws DatastoreError from running watches', async () => {
    const ds = createMemoryDatastore();
    const w = ds.watchKV({ type: 'handle' });
    await ds.applyKV(handle('a'), handleValue(1));
    await ds.close();
    const iterator = w[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value?.type, 'added');
    await assert.rejects(iterator.next(), DatastoreError);
    assert.equal((await iterator.next()).done, true);
    await assert.rejects(ds.watchKV({ type: 'handle' })[Symbol.asyncIterator]().next(), DatastoreError);
    assert.throws(() => ds.snapshot(), DatastoreError);
  });

  it('a watch waiting for an event is rejected at close', async () => {
    const ds = createMemoryDatastore();
    const w = ds.watchKV({ type: 'handle' });
    const pending = w[Symbol.asyncIterator]().next();
    await ds.close();
    await assert.rejects(pending, DatastoreError);
  });
});

describe('memory datastore: snapshots', () => {
  it('round-trips items, revisions and bigints exactly', async () => {
    const ds = createMemoryDatastore();
    const seq = 2n ** 63n + 7n;
    await ds.createKV(blockKey('fd00:10:244::/122'), blockValue('fd00:10:244::/122', seq));
    await ds.createKV({ type: 'resource', kind: 'IPPool', name: 'p' }, { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'p' }, spec: { cidr: '10.0.0.0/8' } });
    await ds.applyKV({ type: 'ipamConfig' }, { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 });
    await ds.createKV({ type: 'blockAffinity', host: 'n1', cidr: 'fd00:10:244::/122' }, { state: 'confirmed', deleted: false });
    const text = ds.snapshot();
    const copy = createMemoryDatastore({ snapshot: text });
    assert.ok(isMemoryDatastore(copy));
    assert.equal(copy.currentRevision(), ds.currentRevision());
    assert.equal(copy.snapshot(), text);
    const got = await copy.getKV(blockKey('fd00:10:244::/122'));
    assert.equal(got.value.sequenceNumber, seq);
    assert.equal(got.value.sequenceNumberForAllocation['0'], seq - 1n);
    assert.equal(got.revision, '1');
    // A snapshot has no history: resuming from before it is too old, from it works.
    await assert.rejects(copy.watchKV({ type: 'block' }, { revision: '1' })[Symbol.asyncIterator]().next(), WatchTooOldError);
    const w = copy.watchKV({ type: 'handle' }, { revision: copy.currentRevision() });
    await copy.createKV(handle('z'), handleValue(1));
    assert.equal((await drain(w[Symbol.asyncIterator](), 1))[0]!.revision, '5');
    w.stop();
  });

  it('the same operations give the same snapshot (deterministic)', async () => {
    const run = async () => {
      const ds = createMemoryDatastore();
      for (const id of ['b', 'a', 'c']) await ds.createKV(handle(id), handleValue(id.length));
      await ds.deleteKV(handle('a'));
      return ds.snapshot();
    };
    assert.equal(await run(), await run());
  });

  it('restore never moves the revision backwards and fails running watches with WatchTooOldError', async () => {
    const ds = createMemoryDatastore();
    await ds.createKV(handle('a'), handleValue(1));
    const saved = ds.snapshot();
    await ds.createKV(handle('b'), handleValue(1));
    await ds.createKV(handle('c'), handleValue(1));
    const w = ds.watchKV({ type: 'handle' }, { revision: ds.currentRevision() });
    ds.restore(saved);
    assert.equal(ds.currentRevision(), '3');
    assert.deepEqual((await ds.listKV({ type: 'handle' })).items.map((p) => p.key.handleId), ['a']);
    await assert.rejects(w[Symbol.asyncIterator]().next(), WatchTooOldError);
    const next = await ds.createKV(handle('d'), handleValue(1));
    assert.equal(next.revision, '4');
  });

  it('rejects malformed snapshots with ParseError and changes nothing', async () => {
    const ds = createMemoryDatastore();
    await ds.createKV(handle('a'), handleValue(1));
    const good = JSON.parse(ds.snapshot());
    const bad = [
      'not json',
      '{}',
      JSON.stringify({ ...good, version: 2 }),
      JSON.stringify({ ...good, revision: 'x' }),
      JSON.stringify({ ...good, entries: [{ ...good.entries[0], key: { type: 'block', cidr: '10.0.0.1/26' } }] }),
      JSON.stringify({ ...good, entries: [{ ...good.entries[0], revision: '5' }] }),
      JSON.stringify({ ...good, entries: [good.entries[0], good.entries[0]] }),
      JSON.stringify({ ...good, entries: [{ ...good.entries[0], bigints: [['block']] }] }),
    ];
    for (const text of bad) {
      assert.throws(() => ds.restore(text), ParseError, text);
      assert.throws(() => createMemoryDatastore({ snapshot: text }), ParseError);
    }
    assert.equal(ds.size, 1);
    assert.equal(ds.currentRevision(), '1');
  });
});

describe('memory datastore: options', () => {
  it('rejects a bad historyLimit', () => {
    assert.throws(() => createMemoryDatastore({ historyLimit: -1 }), ValidationError);
    assert.throws(() => createMemoryDatastore({ historyLimit: 1.5 }), ValidationError);
  });
});

describe('memory datastore: value sharing and indexes', () => {
  it('block attribute records come back deep-frozen; every other part is a private copy', async () => {
    const ds = createMemoryDatastore();
    const key = blockKey('10.0.1.0/26');
    const input = blockValue(key.cidr, 5n);
    await ds.createKV(key, input);
    input.attributes[0]!.secondary!.node = 'changed-after-write'; // the caller's own object: not stored
    input.allocations[1] = 0;
    const got = (await ds.getKV(key)).value;
    assert.deepEqual(got.attributes, [{ handleId: 'h', secondary: { node: 'n1' } }]);
    assert.deepEqual(got.allocations, [0, null]);
    assert.ok(Object.isFrozen(got.attributes[0]) && Object.isFrozen(got.attributes[0]!.secondary));
    assert.throws(() => {
      (got.attributes[0]!.secondary as Record<string, string>).node = 'x';
    }, TypeError);
    got.attributes.push({ handleId: 'extra', secondary: { node: 'x' } });
    got.allocations[1] = 1;
    got.sequenceNumberForAllocation['1'] = 9n;
    const again = (await ds.getKV(key)).value;
    assert.equal(again.attributes.length, 1);
    assert.deepEqual(again.allocations, [0, null]);
    assert.deepEqual(again.sequenceNumberForAllocation, { '0': 4n });
  });

  it('a deep-frozen attribute record is stored as is; a frozen record hiding a mutable map is copied', async () => {
    const ds = createMemoryDatastore();
    const key = blockKey('10.0.2.0/26');
    const frozen = Object.freeze({ handleId: 'h', secondary: Object.freeze({ pod: 'a' }) });
    const shallow = Object.freeze({ handleId: 'g', secondary: { pod: 'b' } });
    await ds.createKV(key, { ...blockValue(key.cidr, 3n), allocations: [0, 1], unallocated: [], attributes: [frozen, shallow] });
    const stored = (await ds.getKV(key)).value.attributes;
    assert.equal(stored[0], frozen, 'immutable: shared');
    assert.notEqual(stored[1], shallow, 'nested map mutable: copied');
    shallow.secondary.pod = 'changed';
    assert.deepEqual((await ds.getKV(key)).value.attributes[1], { handleId: 'g', secondary: { pod: 'b' } });
  });

  it('IPAM values outside the exact contract shape take the generic checked copy (extra fields kept, bad ones rejected)', async () => {
    const ds = createMemoryDatastore();
    const key = blockKey('10.0.3.0/26');
    await ds.createKV(key, { ...blockValue(key.cidr, 3n), extra: { note: 'kept' } } as never);
    assert.deepEqual(((await ds.getKV(key)).value as unknown as { extra: unknown }).extra, { note: 'kept' });
    await assert.rejects(
      ds.updateKV(key, { ...blockValue(key.cidr, 4n), sequenceNumberForAllocation: { '0': 1 } } as never, '1'),
      (error) => ValidationError.isInstance(error) && /sequenceNumberForAllocation/.test(JSON.stringify((error as ValidationError).fields)),
    );
    await assert.rejects(ds.createKV(handle('bad'), { block: { '10.0.0.0/26': 1.5 }, deleted: false }), ValidationError);
    assert.equal(ds.currentRevision(), '1', 'nothing written by the rejected writes');
  });

  it('indexed lists stay exact through creates, updates and deletes, in key order', async () => {
    const ds = createMemoryDatastore();
    const aff = (host: string, cidr: string) => ({ type: 'blockAffinity', host, cidr }) as const;
    for (const cidr of ['10.0.0.64/26', '10.0.0.0/26', 'fd00::/122']) await ds.createKV(aff('n1', cidr), { state: 'confirmed', deleted: false });
    await ds.createKV(aff('n2', '10.0.0.128/26'), { state: 'pending', deleted: false });
    await ds.createKV({ type: 'blockAffinity', host: 'n1', cidr: '10.0.1.0/26', affinityType: 'virtual' }, { state: 'confirmed', deleted: false });
    const cidrsOf = async (list: Parameters<typeof ds.listKV>[0]) => (await ds.listKV(list)).items.map((i) => (i.key as { cidr: string }).cidr);
    assert.deepEqual(await cidrsOf({ type: 'blockAffinity', host: 'n1', ipVersion: 4, affinityType: 'host' }), ['10.0.0.0/26', '10.0.0.64/26']);
    assert.deepEqual(await cidrsOf({ type: 'blockAffinity', host: 'n1' }), ['10.0.0.0/26', '10.0.0.64/26', 'fd00::/122', '10.0.1.0/26']);
    await ds.deleteKV(aff('n1', '10.0.0.0/26'));
    await ds.updateKV(aff('n1', '10.0.0.64/26'), { state: 'pendingDeletion', deleted: false }, '1');
    const n1 = (await ds.listKV({ type: 'blockAffinity', host: 'n1', ipVersion: 4, affinityType: 'host' })).items;
    assert.deepEqual(n1.map((i) => [i.key.cidr, i.value.state]), [['10.0.0.64/26', 'pendingDeletion']]);
    assert.deepEqual(await cidrsOf({ type: 'blockAffinity', host: 'n3' }), []);
    for (const cidr of ['10.0.0.64/26', 'fd00::/122', '10.0.0.0/26']) await ds.createKV(blockKey(cidr), blockValue(cidr, 1n));
    assert.deepEqual(await cidrsOf({ type: 'block', ipVersion: 4 }), ['10.0.0.0/26', '10.0.0.64/26']);
    await ds.deleteKV(blockKey('10.0.0.0/26'));
    await ds.createKV(blockKey('10.0.0.192/26'), blockValue('10.0.0.192/26', 1n));
    assert.deepEqual(await cidrsOf({ type: 'block', ipVersion: 4 }), ['10.0.0.192/26', '10.0.0.64/26']);
    assert.deepEqual(await cidrsOf({ type: 'block', ipVersion: 6 }), ['fd00::/122']);
  });

  it('a frozen key object reused across writes addresses the same item; a malformed frozen key is refused every time', async () => {
    const ds = createMemoryDatastore();
    const key = Object.freeze(blockKey('10.0.4.0/26'));
    await ds.transact([{ key, absent: true }], [{ op: 'put', key, value: blockValue(key.cidr, 1n) }]);
    const first = await ds.getKV(key);
    await ds.transact([{ key, revision: first.revision }], [{ op: 'put', key, value: blockValue(key.cidr, 2n) }]);
    assert.equal((await ds.getKV(blockKey('10.0.4.0/26'))).value.sequenceNumber, 2n, 'a fresh equal key sees the same item');
    await assert.rejects(ds.transact([{ key, revision: first.revision }], [{ op: 'put', key, value: blockValue(key.cidr, 3n) }]), UpdateConflictError);
    const bad = Object.freeze({ type: 'block', cidr: '10.0.4.1/26' }) as BlockKey;
    for (let i = 0; i < 2; i++) {
      await assert.rejects(ds.transact([{ key: bad, absent: true }], [{ op: 'put', key: bad, value: blockValue(bad.cidr, 1n) }]), ValidationError);
    }
    assert.equal(ds.currentRevision(), '2', 'nothing written by the refused transactions');
  });

  it('records shifted down by a compaction are recognised; a new record appended after them is checked', async () => {
    const ds = createMemoryDatastore();
    const key = blockKey('10.0.5.0/26');
    const a = Object.freeze({ handleId: 'a', secondary: null });
    const b = Object.freeze({ handleId: 'b', secondary: null });
    const c = Object.freeze({ handleId: 'c', secondary: null });
    await ds.createKV(key, { ...blockValue(key.cidr, 3n), allocations: [0, 1, 2], unallocated: [], attributes: [a, b, c], sequenceNumberForAllocation: {} });
    const shallow = Object.freeze({ handleId: 'd', secondary: { pod: 'x' } });
    await ds.updateKV(key, { ...blockValue(key.cidr, 4n), allocations: [0, null, 1, 2], unallocated: [1], attributes: [a, c, shallow], sequenceNumberForAllocation: {} }, '1');
    const stored = (await ds.getKV(key)).value.attributes;
    assert.equal(stored[1], c, 'an already stored record is kept as is');
    assert.notEqual(stored[2], shallow, 'a new record hiding a mutable map is copied');
    const e = Object.freeze({ handleId: 'e', secondary: Object.freeze({ pod: 'y' }) });
    await ds.updateKV(key, { ...blockValue(key.cidr, 5n), allocations: [0, 3, 1, 2], unallocated: [], attributes: [...stored, e], sequenceNumberForAllocation: {} }, '2');
    const after = (await ds.getKV(key)).value.attributes;
    assert.deepEqual(after.map((r) => r.handleId), ['a', 'c', 'd', 'e']);
    assert.equal(after[3], e, 'a new deep-frozen record is checked and shared');
  });
});
