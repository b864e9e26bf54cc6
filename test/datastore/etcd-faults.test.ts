/**
 * The etcd datastore under failure, against real etcd servers started here: etcd down at start,
 * a server that accepts but never answers, a kill and restart under a live watch (with a Syncer
 * that must lose nothing), CAS conflicts, a corrupt value under one key, compaction, TLS with
 * client certificates, and a 3-member cluster losing its leader.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { Etcd3 } from 'etcd3';
import {
  DatastoreError,
  DatastoreUnavailableError,
  ResourceExistsError,
  UpdateConflictError,
  WatchTooOldError,
  type V3Object,
} from '@libcalico-ts/api';
import { createSyncer, keyToPath, type Datastore, type KVPair, type ResourceKey, type SyncUpdate, type WatchEvent } from '@libcalico-ts/datastore';
import { createEtcdDatastore } from '@libcalico-ts/datastore-etcd';
import { freePort, startEtcd, startEtcdCluster, type EtcdServer } from '../helpers/etcd.js';

function pool(name: string, cidr: string): V3Object {
  return { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name }, spec: { cidr, blockSize: 26 } };
}

function poolKey(name: string): ResourceKey {
  return { type: 'resource', kind: 'IPPool', name };
}

async function rejects(promise: Promise<unknown>, check: (error: unknown) => boolean, what: string): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    assert.ok(check(error), `${what}: got ${(error as Error)?.stack ?? String(error)}`);
    return error;
  }
  assert.fail(`${what}: the call succeeded`);
}

async function timed<T>(promise: Promise<T>): Promise<{ ms: number; result: PromiseSettledResult<T> }> {
  const start = Date.now();
  const [result] = await Promise.allSettled([promise]);
  return { ms: Date.now() - start, result: result! };
}

function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (check()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

/** Retries a datastore call while it fails with a retryable error (a client's job; tests need it after a restart). */
async function retrying<T>(call: () => Promise<T>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!DatastoreUnavailableError.isInstance(error) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe('etcd unreachable', () => {
  test('nothing listening: DatastoreUnavailableError (retryable) within the dial timeout, for calls and watches', async () => {
    const port = await freePort();
    const datastore = createEtcdDatastore({ endpoints: [`http://127.0.0.1:${port}`], dialTimeoutMs: 1000 });
    try {
      const calls: (() => Promise<unknown>)[] = [
        () => datastore.getKV(poolKey('a')),
        () => datastore.createKV(poolKey('a'), pool('a', '10.0.0.0/16')),
        () => datastore.listKV({ type: 'resource', kind: 'IPPool' }),
        () => datastore.transact([{ key: poolKey('a'), absent: true }], [{ op: 'put', key: poolKey('a'), value: pool('a', '10.0.0.0/16') }]),
      ];
      for (const call of calls) {
        const { ms, result } = await timed(call());
        assert.equal(result.status, 'rejected');
        const error = (result as PromiseRejectedResult).reason;
        assert.ok(DatastoreUnavailableError.isInstance(error), String(error));
        assert.equal((error as DatastoreUnavailableError).isRetryable, true);
        assert.ok(ms < 3000, `failed after ${ms} ms`);
      }
      const watch = datastore.watchKV({ type: 'resource', kind: 'IPPool' }, { revision: '1' });
      const { ms, result } = await timed(watch[Symbol.asyncIterator]().next());
      assert.equal(result.status, 'rejected');
      assert.ok(DatastoreUnavailableError.isInstance((result as PromiseRejectedResult).reason), String((result as PromiseRejectedResult).reason));
      assert.ok(ms < 5000, `watch failed after ${ms} ms`);
    } finally {
      await datastore.close();
    }
  });

  test('a server that accepts connections but never answers: bounded by the dial timeout', async () => {
    const sockets = new Set<Socket>();
    const server: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const datastore = createEtcdDatastore({ endpoints: [`http://127.0.0.1:${port}`], dialTimeoutMs: 800, requestTimeoutMs: 2000 });
    try {
      const { ms, result } = await timed(datastore.getKV(poolKey('a')));
      assert.equal(result.status, 'rejected');
      assert.ok(DatastoreUnavailableError.isInstance((result as PromiseRejectedResult).reason), String((result as PromiseRejectedResult).reason));
      assert.ok(ms >= 700 && ms < 3000, `failed after ${ms} ms`);
    } finally {
      await datastore.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('one etcd server', () => {
  let etcd: EtcdServer;
  let datastore: Datastore;
  let raw: Etcd3;

  before(async () => {
    etcd = await startEtcd();
    datastore = createEtcdDatastore({ endpoints: etcd.endpoints, dialTimeoutMs: 2000 });
    raw = new Etcd3({ hosts: etcd.endpoints });
  });

  after(async () => {
    await datastore?.close();
    raw?.close();
    await etcd?.stop();
  });

  test('stale revision: UpdateConflictError for update and delete; create of an existing key: ResourceExistsError', async () => {
    const key = poolKey('stale');
    const first = await datastore.createKV(key, pool('stale', '10.1.0.0/16'));
    const second = await datastore.updateKV(key, pool('stale', '10.1.0.0/16'), first.revision);
    await rejects(datastore.updateKV(key, pool('stale', '10.1.0.0/16'), first.revision), (e) => UpdateConflictError.isInstance(e), 'stale update');
    await rejects(datastore.deleteKV(key, first.revision), (e) => UpdateConflictError.isInstance(e), 'stale delete');
    await rejects(datastore.createKV(key, pool('stale', '10.2.0.0/16')), (e) => ResourceExistsError.isInstance(e), 'create existing');
    const stored = await raw.get(keyToPath(key)).exec();
    assert.equal(String(stored.kvs[0]!.mod_revision), second.revision, 'nothing written by the failed calls');
    await datastore.deleteKV(key, second.revision);
  });

  test('corrupt JSON under one key: get names the key, list skips it and reports it, others stay readable', async () => {
    await datastore.createKV(poolKey('good-1'), pool('good-1', '10.3.0.0/16'));
    await datastore.createKV(poolKey('good-2'), pool('good-2', '10.4.0.0/16'));
    const badPath = keyToPath(poolKey('bad'));
    await raw.put(badPath).value('{"kind":"IPPool","metadata":{"name":"bad"},"spec":{"cidr":');
    await raw.put(keyToPath({ type: 'block', cidr: '10.5.0.0/26' })).value('{"cidr":"10.5.0.0/26","sequenceNumber":"x"}');

    const error = await rejects(datastore.getKV(poolKey('bad')), (e) => DatastoreError.isInstance(e) && !DatastoreUnavailableError.isInstance(e), 'get corrupt');
    assert.match((error as Error).message, /\/calico\/resources\/v3\/projectcalico\.org\/ippools\/bad/);
    assert.deepEqual((error as DatastoreError).identifier, { kind: 'IPPool', name: 'bad' });
    await rejects(datastore.getKV({ type: 'block', cidr: '10.5.0.0/26' }), (e) => DatastoreError.isInstance(e), 'get corrupt block');

    const list = await datastore.listKV({ type: 'resource', kind: 'IPPool' });
    assert.deepEqual(list.items.map((p) => p.key.type === 'resource' && p.key.name).sort(), ['good-1', 'good-2']);
    assert.equal(list.errors?.length, 1);
    assert.match(list.errors![0]!.message, /ippools\/bad/);
    assert.ok(DatastoreError.isInstance(list.errors![0]));
    assert.equal((await datastore.getKV(poolKey('good-1'))).value.metadata.name, 'good-1');
    // Deleting the corrupt key is possible (it is how an operator repairs it).
    await rejects(datastore.deleteKV(poolKey('bad')), (e) => DatastoreError.isInstance(e) && /was deleted/.test((e as Error).message), 'delete corrupt');
    assert.equal((await raw.get(badPath).exec()).kvs.length, 0);
    await raw.delete().key(keyToPath({ type: 'block', cidr: '10.5.0.0/26' }));
    await datastore.deleteKV(poolKey('good-1'));
    await datastore.deleteKV(poolKey('good-2'));
  });

  test('a watch sees a value overwritten with garbage as deleted, and skips garbage it never delivered', async () => {
    const created = await datastore.createKV(poolKey('w1'), pool('w1', '10.6.0.0/16'));
    const watch = datastore.watchKV({ type: 'resource', kind: 'IPPool' }, { revision: created.revision });
    const iterator = watch[Symbol.asyncIterator]();
    try {
      await raw.put(keyToPath(poolKey('w1'))).value('not json');
      await raw.put(keyToPath(poolKey('w2'))).value('also not json');
      await raw.delete().key(keyToPath(poolKey('w2')));
      const ok = await datastore.createKV(poolKey('w3'), pool('w3', '10.7.0.0/16'));
      const first = (await iterator.next()).value as WatchEvent;
      assert.equal(first.type, 'deleted');
      assert.equal(first.previous?.key.type === 'resource' && first.previous.key.name, 'w1');
      assert.equal(first.previous?.revision, created.revision);
      const second = (await iterator.next()).value as WatchEvent;
      assert.equal(second.type, 'added');
      assert.equal(second.revision, ok.revision);
    } finally {
      watch.stop();
      await raw.delete().prefix('/calico/resources/v3/projectcalico.org/ippools/');
    }
  });

  test('lists page through more keys than one range request returns, at one revision', async () => {
    const count = 1234;
    const ops = [];
    for (let i = 0; i < count; i++) ops.push(raw.put(`/calico/ipam/v2/handle/h-${String(i).padStart(5, '0')}`).value(`{"block":{"10.8.0.0/26":${i % 7}},"deleted":false}`));
    await Promise.all(ops);
    const list = await datastore.listKV({ type: 'handle' });
    assert.equal(list.items.length, count);
    assert.equal(new Set(list.items.map((p) => p.key.type === 'handle' && p.key.handleId)).size, count);
    assert.equal(list.items[999]!.value.block['10.8.0.0/26'], 999 % 7);
    const header = await raw.kv.range({ key: Buffer.from('/calico/'), limit: 1 });
    assert.equal(list.revision, String(header.header.revision));
    await raw.delete().prefix('/calico/ipam/v2/handle/');
  });

  test('list filters: exact names, namespaces, affinity types and IP versions', async () => {
    for (const name of ['a', 'ab', 'b']) await datastore.createKV(poolKey(name), pool(name, '10.9.0.0/16'));
    assert.deepEqual((await datastore.listKV({ type: 'resource', kind: 'IPPool', name: 'a' })).items.map((p) => p.value.metadata.name), ['a']);
    const aff = (host: string, cidr: string, affinityType: 'host' | 'virtual') => ({ type: 'blockAffinity', host, cidr, affinityType }) as const;
    await datastore.createKV(aff('node-1', '10.10.0.0/26', 'host'), { state: 'confirmed', deleted: false });
    await datastore.createKV(aff('node-10', '10.10.0.64/26', 'host'), { state: 'confirmed', deleted: false });
    await datastore.createKV(aff('node-1', 'fd00::/122', 'host'), { state: 'pending', deleted: false });
    await datastore.createKV(aff('node-1', '10.11.0.0/26', 'virtual'), { state: 'confirmed', deleted: false });
    const names = (items: KVPair[]) => items.map((p) => (p.key.type === 'blockAffinity' ? `${p.key.affinityType}/${p.key.host}/${p.key.cidr}` : '')).sort();
    assert.deepEqual(names((await datastore.listKV({ type: 'blockAffinity', host: 'node-1' })).items), [
      'host/node-1/10.10.0.0/26',
      'host/node-1/fd00::/122',
      'virtual/node-1/10.11.0.0/26',
    ]);
    assert.deepEqual(names((await datastore.listKV({ type: 'blockAffinity', host: 'node-1', affinityType: 'host', ipVersion: 4 })).items), ['host/node-1/10.10.0.0/26']);
    assert.deepEqual(names((await datastore.listKV({ type: 'blockAffinity', ipVersion: 6 })).items), ['host/node-1/fd00::/122']);
    assert.equal((await datastore.listKV({ type: 'blockAffinity' })).items.length, 4);
    await raw.delete().prefix('/calico/');
  });

  test('compaction: a watch from a compacted revision throws WatchTooOldError', async () => {
    const first = await datastore.createKV(poolKey('c1'), pool('c1', '10.12.0.0/16'));
    const second = await datastore.updateKV(poolKey('c1'), pool('c1', '10.12.0.0/16'), first.revision);
    await datastore.updateKV(poolKey('c1'), pool('c1', '10.12.0.0/16'), second.revision);
    const header = await raw.kv.range({ key: Buffer.from('/calico/'), limit: 1 });
    await raw.kv.compact({ revision: header.header.revision, physical: true });
    const watch = datastore.watchKV({ type: 'resource', kind: 'IPPool' }, { revision: first.revision });
    const error = await rejects(watch[Symbol.asyncIterator]().next(), (e) => WatchTooOldError.isInstance(e), 'watch from compacted revision');
    assert.match((error as Error).message, new RegExp(first.revision));
    await datastore.deleteKV(poolKey('c1'));
  });
});

describe('etcd killed and restarted', () => {
  test('a live watch throws a retryable error; a Syncer resyncs and loses nothing', async () => {
    const etcd = await startEtcd();
    const datastore = createEtcdDatastore({ endpoints: etcd.endpoints, dialTimeoutMs: 1000, requestTimeoutMs: 2000 });
    const view = new Map<string, string>();
    const statuses: string[] = [];
    const errors: unknown[] = [];
    const syncer = createSyncer(
      datastore,
      [{ type: 'resource', kind: 'IPPool' }],
      {
        onStatus: (status) => void statuses.push(status),
        onUpdates: (updates: SyncUpdate[]) => {
          for (const u of updates) {
            const name = u.key.type === 'resource' ? u.key.name : '';
            if (u.type === 'deleted') view.delete(name);
            else view.set(name, String((u.current!.value as V3Object<string, { cidr: string }>).spec.cidr));
          }
        },
        onError: (error) => void errors.push(error),
      },
      { backoff: (attempt) => Math.min(200 * attempt, 1000) },
    );
    try {
      await datastore.createKV(poolKey('before-1'), pool('before-1', '10.20.0.0/16'));
      const doomed = await datastore.createKV(poolKey('before-2'), pool('before-2', '10.21.0.0/16'));
      const watch = datastore.watchKV({ type: 'resource', kind: 'IPPool' }, { revision: doomed.revision });
      const iterator = watch[Symbol.asyncIterator]();
      syncer.start();
      await eventually(() => view.size === 2 && statuses.includes('in-sync'), 10_000, 'initial sync');

      await etcd.kill();
      const { ms, result } = await timed(iterator.next());
      assert.equal(result.status, 'rejected', 'the watch throws');
      const error = (result as PromiseRejectedResult).reason;
      assert.ok(DatastoreUnavailableError.isInstance(error), String(error));
      assert.equal((error as DatastoreUnavailableError).isRetryable, true);
      assert.ok(ms < 5000, `watch failed after ${ms} ms`);
      await rejects(datastore.getKV(poolKey('before-1')), (e) => DatastoreUnavailableError.isInstance(e), 'get while down');

      await etcd.restart();
      // Changes right after the restart, while the syncer is still reconnecting.
      await retrying(() => datastore.createKV(poolKey('after-1'), pool('after-1', '10.22.0.0/16')));
      await retrying(() => datastore.deleteKV(poolKey('before-2')));
      const current = await retrying(() => datastore.getKV(poolKey('before-1')));
      await retrying(() => datastore.updateKV(poolKey('before-1'), pool('before-1', '10.23.0.0/16'), current.revision));
      await eventually(
        () => view.size === 2 && view.get('before-1') === '10.23.0.0/16' && view.get('after-1') === '10.22.0.0/16' && !view.has('before-2'),
        20_000,
        `the syncer to catch up (view ${JSON.stringify([...view])})`,
      );
      // And it keeps following live changes.
      await retrying(() => datastore.createKV(poolKey('after-2'), pool('after-2', '10.24.0.0/16')));
      await eventually(() => view.get('after-2') === '10.24.0.0/16', 10_000, 'a live change after the resync');
      assert.ok(errors.length > 0, 'the syncer saw the failure');
      watch.stop();
    } finally {
      await syncer.stop();
      await datastore.close();
      await etcd.stop();
    }
  });
});

describe('TLS with client certificates', () => {
  let etcd: EtcdServer;
  before(async () => {
    etcd = await startEtcd({ tls: true });
  });
  after(async () => {
    await etcd?.stop();
  });

  test('a client with a CA-signed certificate works', async () => {
    const tls = etcd.tls!;
    const datastore = createEtcdDatastore({ endpoints: etcd.endpoints, caFile: tls.caFile, certFile: tls.clientCertFile, keyFile: tls.clientKeyFile });
    try {
      const created = await datastore.createKV(poolKey('tls'), pool('tls', '10.30.0.0/16'));
      const read = await datastore.getKV(poolKey('tls'));
      assert.equal(read.revision, created.revision);
      assert.ok(etcd.endpoints[0]!.startsWith('https://'));
    } finally {
      await datastore.close();
    }
  });

  test('a client without a certificate, or with one from another CA, is refused in bounded time', async () => {
    const tls = etcd.tls!;
    for (const options of [
      { caFile: tls.caFile },
      { caFile: tls.caFile, certFile: tls.rogueClientCertFile, keyFile: tls.rogueClientKeyFile },
    ]) {
      const datastore = createEtcdDatastore({ endpoints: etcd.endpoints, dialTimeoutMs: 1500, ...options });
      try {
        const { ms, result } = await timed(datastore.getKV(poolKey('tls')));
        assert.equal(result.status, 'rejected', `refused (${JSON.stringify(Object.keys(options))})`);
        assert.ok(DatastoreUnavailableError.isInstance((result as PromiseRejectedResult).reason), String((result as PromiseRejectedResult).reason));
        assert.ok(ms < 4000, `refused after ${ms} ms`);
      } finally {
        await datastore.close();
      }
    }
  });

  test('bad TLS options are rejected up front', () => {
    assert.throws(() => createEtcdDatastore({ endpoints: etcd.endpoints, caFile: '/nonexistent/ca.pem' }), /caFile/);
    assert.throws(() => createEtcdDatastore({ endpoints: etcd.endpoints, certFile: etcd.tls!.clientCertFile }), /keyFile|certFile/);
    assert.throws(() => createEtcdDatastore({ endpoints: [] }), /endpoints/);
    assert.throws(() => createEtcdDatastore({ endpoints: ['127.0.0.1:2379'] }), /endpoints\[0\]/);
  });
});

describe('3-member cluster', () => {
  test('losing the leader: writes continue through the other members', async () => {
    const cluster = await startEtcdCluster(3);
    const datastore = createEtcdDatastore({ endpoints: cluster.endpoints, dialTimeoutMs: 1000, requestTimeoutMs: 3000 });
    try {
      const first = await datastore.createKV(poolKey('ha'), pool('ha', '10.40.0.0/16'));
      const leader = await cluster.leader();
      await cluster.killMember(leader);
      const updated = await retrying(() => datastore.updateKV(poolKey('ha'), pool('ha', '10.40.0.0/16'), first.revision), 20_000);
      assert.notEqual(updated.revision, first.revision);
      const newLeader = await cluster.leader();
      assert.notEqual(newLeader, leader);
      await cluster.restartMember(leader);
      const read = await retrying(() => datastore.getKV(poolKey('ha')));
      assert.equal(read.revision, updated.revision);
    } finally {
      await datastore.close();
      await cluster.stop();
    }
  });
});
