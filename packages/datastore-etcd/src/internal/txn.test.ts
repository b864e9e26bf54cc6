import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceExistsError, UpdateConflictError, ValidationError } from '@libcalico-ts/api';
import type { TxnOperation } from '@libcalico-ts/datastore';
import { planTransaction, transactionFailure, transactionResult } from './txn.js';

const handle = (handleId: string) => ({ type: 'handle', handleId }) as const;

describe('planTransaction', () => {
  it('builds compares, failure ranges and operations in order, with list conditions as range compares', () => {
    const plan = planTransaction(
      [{ key: handle('a'), revision: '7' }, { key: handle('b'), absent: true }],
      [{ op: 'put', key: handle('c'), value: { block: {}, deleted: false } }, { op: 'delete', key: handle('a') }],
      { listConditions: [{ list: { type: 'handle' }, notModifiedAfter: '9007199254740993' }] },
    );
    const { compare, success, failure } = plan.request;
    assert.deepEqual(
      compare.map((c) => [c.key.toString(), c.rangeEnd?.toString(), c.target, c.result, c.value]),
      [
        ['/calico/ipam/v2/handle/a', undefined, 'mod', 'equal', '7'],
        ['/calico/ipam/v2/handle/b', undefined, 'version', 'equal', '0'],
        // notModifiedAfter + 1, exact beyond 2^53; the range ends after the prefix.
        ['/calico/ipam/v2/handle/', '/calico/ipam/v2/handle0', 'mod', 'less', '9007199254740994'],
      ],
    );
    assert.equal(failure.length, 3);
    assert.deepEqual(failure[2], { range: { key: Buffer.from('/calico/ipam/v2/handle/'), rangeEnd: Buffer.from('/calico/ipam/v2/handle0'), minModRevision: '9007199254740994', limit: 1, keysOnly: true } });
    assert.deepEqual(success.map((op) => Object.keys(op)[0]), ['put', 'deleteRange']);
    assert.deepEqual(transactionResult(plan, '12'), { results: [{ key: handle('c'), revision: '12' }, { key: handle('a') }], revision: '12' });
  });

  it('names the first condition that does not hold', () => {
    const plan = planTransaction([{ key: handle('a'), revision: '7' }, { key: handle('b'), absent: true }], [], { listConditions: [{ list: { type: 'handle' }, notModifiedAfter: '5' }] });
    const conflict = transactionFailure(plan, [[{ key: '/calico/ipam/v2/handle/a', modRevision: '8' }], [], []]);
    assert.ok(UpdateConflictError.isInstance(conflict) && /is at revision 8, not 7/.test(conflict.message));
    assert.ok(ResourceExistsError.isInstance(transactionFailure(plan, [[{ key: '/calico/ipam/v2/handle/a', modRevision: '7' }], [{ key: '/calico/ipam/v2/handle/b', modRevision: '3' }], []])));
    const list = transactionFailure(plan, [[{ key: '/calico/ipam/v2/handle/a', modRevision: '7' }], [], [{ key: '/calico/ipam/v2/handle/x', modRevision: '6' }]]);
    assert.ok(UpdateConflictError.isInstance(list) && /listConditions\[0\]: \/calico\/ipam\/v2\/handle\/x changed at revision 6, after 5/.test(list.message));
    assert.match(transactionFailure(plan, [[{ key: '/calico/ipam/v2/handle/a', modRevision: '7' }], [], []]).message, /a condition changed while checking it/);
  });

  it('refuses malformed input with ValidationError naming the field', () => {
    const cases: [() => unknown, string][] = [
      [() => planTransaction([{ key: handle('a'), revision: '07' }], []), 'conditions[0].revision'],
      [() => planTransaction([{ key: handle('a') } as never], []), 'conditions[0]'],
      [() => planTransaction([], [{ op: 'get', key: handle('a') } as never]), 'operations[0].op'],
      [() => planTransaction([], [{ op: 'delete', key: handle('a') }, { op: 'delete', key: handle('a') }]), 'operations[1].key'],
      [() => planTransaction([], Array.from({ length: 129 }, (_, i): TxnOperation => ({ op: 'delete', key: handle(`h${i}`) }))), 'operations'],
      [() => planTransaction([], [], { listConditions: [{ list: { type: 'handle' }, notModifiedAfter: 'x' }] }), 'options.listConditions[0].notModifiedAfter'],
    ];
    for (const [run, field] of cases) assert.throws(run, (e: unknown) => ValidationError.isInstance(e) && (e as ValidationError).fields[0]!.name === field, field);
  });
});
