import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DatastoreUnavailableError, ValidationError, WatchTooOldError } from '@libcalico-ts/api';
import type { Datastore, HandleKey, Key, KVList, ListInterface, ResourceKey, Watch, WatchOptions } from './contract.js';
import { keyId } from './keys.js';
import { createMemoryDatastore, type MemoryDatastore } from './memory.js';
import { SyncStatus, createSyncer, defaultBackoff, type SyncUpdate } from './syncer.js';

const poolList: ListInterface = { type: 'resource', kind: 'IPPool' };
const handleList: ListInterface = { type: 'handle' };
const pool = (name: string): ResourceKey => ({ type: 'resource', kind: 'IPPool', name });
const handle = (id: string): HandleKey => ({ type: 'handle', handleId: id });
const poolValue = (name: string, cidr: string) => ({
  kind: 'IPPool',
  apiVersion: 'projectcalico.org/v3' as const,
  metadata: { name },
  spec: { cidr },
});
const handleValue = (n: number) => ({ block: { '10.0.0.0/26': n }, deleted: false });

function recorder() {
  const statuses: string[] = [];
  const batches: SyncUpdate[][] = [];
  const errors: unknown[] = [];
  return {
    statuses,
    batches,
    errors,
    callbacks: {
      onStatus: (status: string) => void statuses.push(status),
      onUpdates: (updates: SyncUpdate[]) => void batches.push(updates),
      onError: (error: unknown) => void errors.push(error),
    },
    /** Flat `type keyId` strings of every update so far. */
    shapes: () => batches.flat().map((u) => `${u.type} ${keyId(u.key)}`),
  };
}

async function waitFor(what: string, predicate: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A datastore that forwards to memory, with hooks to observe and break things. */
function wrap(memory: MemoryDatastore) {
  const calls = { list: 0, watch: 0 };
  const hooks: {
    beforeList?: () => Promise<void> | void;
    afterList?: (result: KVList) => Promise<void> | void;
  } = {};
  const live = new Set<{ fail(error: Error): void }>();
  const datastore: Datastore = {
    contractVersion: 'v1',
    datastoreType: 'memory-wrapped',
    capabilities: memory.capabilities,
    createKV: (k, v) => memory.createKV(k, v),
    updateKV: (k, v, r) => memory.updateKV(k, v, r),
    applyKV: (k, v) => memory.applyKV(k, v),
    deleteKV: (k, r) => memory.deleteKV(k, r),
    getKV: (k) => memory.getKV(k),
    transact: (c, o) => memory.transact(c, o),
    close: () => memory.close(),
    async listKV(list) {
      calls.list++;
      await hooks.beforeList?.();
      const result = await memory.listKV(list);
      await hooks.afterList?.(result as KVList);
      return result;
    },
    watchKV<L extends ListInterface>(list: L, options?: WatchOptions) {
      calls.watch++;
      const inner = memory.watchKV(list, options);
      let failure: ((error: Error) => void) | undefined;
      const failed = new Promise<never>((_, reject) => {
        failure = reject;
      });
      failed.catch(() => undefined);
      const handle = { fail: (error: Error) => failure!(error) };
      live.add(handle);
      const iterator = inner[Symbol.asyncIterator]();
      const watch = {
        stop() {
          live.delete(handle);
          inner.stop();
        },
        [Symbol.asyncIterator]() {
          return {
            next: () => Promise.race([iterator.next(), failed]),
            return: async () => {
              watch.stop();
              return { done: true as const, value: undefined };
            },
          };
        },
      };
      return watch as unknown as Watch<never>;
    },
  };
  return {
    datastore,
    calls,
    hooks,
    /** Makes every running watch throw `error`. */
    breakWatches(error: Error) {
      for (const h of [...live]) {
        live.delete(h);
        h.fail(error);
      }
    },
  };
}

describe('createSyncer', () => {
  it('reports waiting -> resyncing -> in-sync after emitting every list, then streams changes', async () => {
    const memory = createMemoryDatastore();
    await memory.createKV(pool('a'), poolValue('a', '10.1.0.0/16'));
    await memory.createKV(handle('h1'), handleValue(1));
    const rec = recorder();
    const syncer = createSyncer(memory, [poolList, handleList], rec.callbacks);
    assert.equal(syncer.status, SyncStatus.Waiting);
    syncer.start();
    await waitFor('in-sync', () => rec.statuses.includes('in-sync'));
    assert.deepEqual(rec.statuses, ['waiting', 'resyncing', 'in-sync']);
    assert.equal(syncer.status, 'in-sync');
    assert.deepEqual(rec.shapes().sort(), ['added handle/h1', 'added resource/IPPool/a']);
    const initial = rec.batches.flat();
    assert.deepEqual(initial.find((u) => u.key.type === 'handle')!.listIndex, 1);

    const a2 = await memory.updateKV(pool('a'), poolValue('a', '10.2.0.0/16'), (await memory.getKV(pool('a'))).revision);
    await memory.deleteKV(handle('h1'));
    await memory.createKV(pool('b'), poolValue('b', '10.3.0.0/16'));
    await waitFor('3 more updates', () => rec.shapes().length === 5);
    const later = rec.batches.flat().slice(2);
    assert.deepEqual(
      later.map((u) => `${u.type} ${keyId(u.key)}`),
      ['modified resource/IPPool/a', 'deleted handle/h1', 'added resource/IPPool/b'],
    );
    assert.equal(later[0]!.current!.revision, a2.revision);
    assert.equal((later[0]!.previous!.value as { spec: { cidr: string } }).spec.cidr, '10.1.0.0/16');
    assert.equal((later[1]!.previous!.value as { block: Record<string, number> }).block['10.0.0.0/26'], 1);
    await syncer.stop();
    assert.deepEqual(rec.statuses, ['waiting', 'resyncing', 'in-sync'], 'in-sync is reported once');
    assert.deepEqual(rec.errors, []);
  });

  it('relists after compaction made the list revision too old, and emits only the difference', async () => {
    const memory = createMemoryDatastore();
    const wrapped = wrap(memory);
    await memory.createKV(pool('keep'), poolValue('keep', '10.1.0.0/16'));
    await memory.createKV(pool('gone'), poolValue('gone', '10.2.0.0/16'));
    let first = true;
    // Between the first list and its watch: a change, then compaction past the list revision.
    wrapped.hooks.afterList = async () => {
      if (!first) return;
      first = false;
      await memory.deleteKV(pool('gone'));
      await memory.createKV(pool('new'), poolValue('new', '10.3.0.0/16'));
      memory.compact();
    };
    const rec = recorder();
    const backoffs: number[] = [];
    const syncer = createSyncer(wrapped.datastore, [poolList], rec.callbacks, {
      backoff: (attempt) => {
        backoffs.push(attempt);
        return 0;
      },
    });
    syncer.start();
    await waitFor('relist', () => wrapped.calls.list === 2 && rec.shapes().length === 4);
    assert.deepEqual(rec.shapes(), [
      'added resource/IPPool/gone',
      'added resource/IPPool/keep',
      // the relist difference: nothing for `keep` (unchanged)
      'added resource/IPPool/new',
      'deleted resource/IPPool/gone',
    ]);
    assert.equal(rec.errors.length, 1);
    assert.ok(WatchTooOldError.isInstance(rec.errors[0]), String(rec.errors[0]));
    assert.deepEqual(backoffs, [1]);
    // Watching again from the second list works.
    await memory.deleteKV(pool('keep'));
    await waitFor('deletion', () => rec.shapes().length === 5);
    assert.equal(rec.shapes()[4], 'deleted resource/IPPool/keep');
    await syncer.stop();
  });

  it('a deletion made while the watch was down is reported after reconnecting', async () => {
    const memory = createMemoryDatastore();
    const wrapped = wrap(memory);
    await memory.createKV(handle('x'), handleValue(1));
    await memory.createKV(handle('y'), handleValue(2));
    const rec = recorder();
    let release: () => void = () => undefined;
    const sleeps: number[] = [];
    const syncer = createSyncer(wrapped.datastore, [handleList], rec.callbacks, {
      backoff: (attempt) => attempt * 1000,
      // Hold the reconnect until the test releases it.
      sleep: (ms) => {
        sleeps.push(ms);
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
    });
    syncer.start();
    await waitFor('in-sync', () => syncer.status === 'in-sync' && wrapped.calls.watch === 1);
    wrapped.breakWatches(new DatastoreUnavailableError('connection reset'));
    await waitFor('the backoff sleep', () => sleeps.length === 1);
    assert.deepEqual(sleeps, [1000]);
    // While disconnected: y deleted, x changed, z created; history compacted.
    await memory.deleteKV(handle('y'));
    const x = await memory.getKV(handle('x'));
    await memory.updateKV(handle('x'), handleValue(5), x.revision);
    await memory.createKV(handle('z'), handleValue(3));
    memory.compact();
    release();
    await waitFor('the difference', () => rec.shapes().length === 5);
    const diff = rec.batches[rec.batches.length - 1]!;
    assert.deepEqual(
      diff.map((u) => `${u.type} ${keyId(u.key)}`),
      ['modified handle/x', 'added handle/z', 'deleted handle/y'],
    );
    assert.equal(diff[2]!.previous!.key.type, 'handle');
    assert.deepEqual((diff[0]!.previous!.value as { block: object }).block, { '10.0.0.0/26': 1 });
    assert.ok(DatastoreUnavailableError.isInstance(rec.errors[0]));
    assert.deepEqual(rec.statuses, ['waiting', 'resyncing', 'in-sync']);
    await syncer.stop();
  });

  it('stays waiting and backs off with growing attempts while the datastore is down', async () => {
    const memory = createMemoryDatastore();
    const wrapped = wrap(memory);
    await memory.createKV(handle('h'), handleValue(1));
    let failures = 3;
    wrapped.hooks.beforeList = () => {
      if (failures > 0) {
        failures--;
        throw new DatastoreUnavailableError('no route to datastore');
      }
    };
    const rec = recorder();
    const attempts: number[] = [];
    const statusesDuringBackoff: string[] = [];
    const syncer = createSyncer(wrapped.datastore, [handleList], rec.callbacks, {
      backoff: (attempt) => {
        attempts.push(attempt);
        statusesDuringBackoff.push(syncer.status);
        return 7;
      },
      sleep: async () => undefined,
    });
    syncer.start();
    await waitFor('in-sync', () => syncer.status === 'in-sync');
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.deepEqual(statusesDuringBackoff, ['waiting', 'waiting', 'waiting']);
    assert.deepEqual(rec.statuses, ['waiting', 'resyncing', 'in-sync']);
    assert.equal(rec.errors.length, 3);
    assert.deepEqual(rec.shapes(), ['added handle/h']);
    await syncer.stop();
  });

  it('restarts a silent watch after inactivityTimeoutMs from its last revision, without relisting', async () => {
    const memory = createMemoryDatastore();
    const wrapped = wrap(memory);
    const rec = recorder();
    const syncer = createSyncer(wrapped.datastore, [handleList], rec.callbacks, { inactivityTimeoutMs: 15 });
    syncer.start();
    await waitFor('several watch restarts', () => wrapped.calls.watch >= 3);
    assert.equal(wrapped.calls.list, 1);
    await memory.createKV(handle('late'), handleValue(1));
    await waitFor('the late item', () => rec.shapes().includes('added handle/late'));
    assert.equal(wrapped.calls.list, 1);
    assert.deepEqual(rec.errors, []);
    await syncer.stop();
  });

  it('relists when the datastore restores a snapshot (WatchTooOldError on running watches)', async () => {
    const memory = createMemoryDatastore();
    await memory.createKV(handle('a'), handleValue(1));
    const saved = memory.snapshot();
    const rec = recorder();
    const syncer = createSyncer(memory, [handleList], rec.callbacks, { backoff: () => 0 });
    syncer.start();
    await waitFor('in-sync', () => syncer.status === 'in-sync');
    await memory.createKV(handle('b'), handleValue(2));
    await waitFor('b', () => rec.shapes().length === 2);
    memory.restore(saved);
    await waitFor('b deleted', () => rec.shapes().length === 3);
    assert.equal(rec.shapes()[2], 'deleted handle/b');
    assert.ok(WatchTooOldError.isInstance(rec.errors[0]));
    await syncer.stop();
  });

  it('never overlaps callbacks and stops cleanly: no callback after stop() resolved', async () => {
    const memory = createMemoryDatastore();
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    const syncer = createSyncer(memory, [handleList, poolList], {
      onUpdates: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 1));
        running--;
      },
    });
    syncer.start();
    for (let i = 0; i < 20; i++) {
      await memory.createKV(handle(`h${i}`), handleValue(i));
      await memory.createKV(pool(`p${i}`), poolValue(`p${i}`, `10.${i}.0.0/16`));
    }
    await waitFor('all updates', () => calls >= 2 && syncer.status === 'in-sync');
    await syncer.stop();
    const after = calls;
    await memory.createKV(handle('after-stop'), handleValue(1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(calls, after);
    assert.equal(maxRunning, 1);
    assert.throws(() => syncer.start(), /cannot be restarted/);
  });

  it('reports callback errors to onError and carries on', async () => {
    const memory = createMemoryDatastore();
    const errors: unknown[] = [];
    const seen: string[] = [];
    const syncer = createSyncer(memory, [handleList], {
      onUpdates: (updates) => {
        for (const u of updates) seen.push(keyId(u.key as Key));
        if (seen.length === 1) throw new Error('consumer bug');
      },
      onError: (error) => errors.push(error),
    });
    syncer.start();
    await memory.createKV(handle('one'), handleValue(1));
    await memory.createKV(handle('two'), handleValue(2));
    await waitFor('both', () => seen.length === 2);
    assert.equal((errors[0] as Error).message, 'consumer bug');
    await syncer.stop();
  });

  it('validates its arguments', () => {
    const memory = createMemoryDatastore();
    const noop = { onUpdates: () => undefined };
    assert.throws(() => createSyncer(memory, [], noop), ValidationError);
    assert.throws(() => createSyncer(memory, [{ type: 'nope' } as unknown as ListInterface], noop), ValidationError);
    assert.throws(() => createSyncer(memory, [handleList], noop, { inactivityTimeoutMs: 0 }), ValidationError);
    assert.throws(() => createSyncer(memory, [handleList], {} as typeof noop), ValidationError);
  });

  it('defaultBackoff: immediate first retry, then doubling from 100 ms, capped at 30 s', () => {
    assert.deepEqual([1, 2, 3, 4, 10, 50].map(defaultBackoff), [0, 100, 200, 400, 25_600, 30_000]);
  });
});
