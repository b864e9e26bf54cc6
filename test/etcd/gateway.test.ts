/**
 * The JSON-gateway etcd datastore (@libcalico-ts/datastore-etcd/gateway) against real etcd
 * servers started by this file: wire compatibility with the gRPC datastore in both directions,
 * TLS with client certificates, failover between endpoints, unreachable and silent endpoints, and
 * that the entry loads neither etcd3/gRPC nor node:http.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Etcd3 } from 'etcd3';
import { DatastoreError, DatastoreUnavailableError, ResourceExistsError, UpdateConflictError, ValidationError, type V3Object } from '@libcalico-ts/api';
import { keyToPath, type AllocationBlock, type Datastore, type Key, type ValueOf } from '@libcalico-ts/datastore';
import { createEtcdDatastore } from '@libcalico-ts/datastore-etcd';
import { createEtcdGatewayDatastore, gatewayRequestCount } from '@libcalico-ts/datastore-etcd/gateway';
import { freePort, startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { E4_BLOCK, WIRE_EXAMPLES, typedValue } from '../datastore/etcd-examples.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('gateway entry: loads neither etcd3/gRPC nor node:http', () => {
  /** Modules a fresh node process has loaded after importing `specifier` from source. */
  function loadedBy(specifier: string): { builtins: string[]; files: string[] } {
    const script = `await import(${JSON.stringify(specifier)});
      const { createRequire } = await import('node:module');
      const cache = createRequire(import.meta.url).cache;
      process.stdout.write(JSON.stringify({ builtins: process.moduleLoadList, files: Object.keys(cache) }));`;
    const out = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    return JSON.parse(out.stdout) as { builtins: string[]; files: string[] };
  }
  const grpcOrHttp = (l: { builtins: string[]; files: string[] }) => [
    ...l.builtins.filter((m) => /^NativeModule (http|https|_http_client|_http_agent|http2)$/.test(m)),
    ...l.files.filter((f) => /node_modules\/(etcd3|@grpc|cockatiel)\//.test(f)),
  ];

  it('a process importing the gateway entry has not loaded them (the main entry, as a control, has)', () => {
    assert.deepEqual(grpcOrHttp(loadedBy('@libcalico-ts/datastore-etcd/gateway')), []);
    const main = grpcOrHttp(loadedBy('@libcalico-ts/datastore-etcd'));
    assert.ok(main.some((m) => m.includes('etcd3')), `the control sees etcd3: ${main.join(', ')}`);
  });

  it('a bundle of the gateway entry contains no etcd3, gRPC, cockatiel or node:http', async () => {
    const result = await build({
      stdin: { contents: "export * from '@libcalico-ts/datastore-etcd/gateway';", resolveDir: root, loader: 'js' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      conditions: ['source'],
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(inputs.some((i) => i.includes('datastore-etcd/src/gateway/datastore.ts')), 'the bundle holds the gateway');
    assert.deepEqual(inputs.filter((i) => /etcd3|@grpc|cockatiel|datastore-etcd\/src\/datastore\.ts/.test(i)), []);
    const imports = Object.values(result.metafile.inputs).flatMap((i) => i.imports.filter((x) => x.external).map((x) => x.path));
    assert.deepEqual(imports.filter((p) => /^(node:)?(http|https|http2)$/.test(p)), []);
  });
});

describe('gateway datastore on a real etcd', () => {
  let etcd: EtcdServer;
  let raw: Etcd3;
  let grpc: Datastore;
  let gateway: Datastore;

  before(async () => {
    etcd = await startEtcd();
    raw = new Etcd3({ hosts: etcd.endpoints });
    grpc = createEtcdDatastore({ endpoints: etcd.endpoints });
    gateway = createEtcdGatewayDatastore({ endpoints: etcd.endpoints });
  });
  after(async () => {
    await gateway?.close();
    await grpc?.close();
    raw?.close();
    await etcd?.stop();
  });

  it('reference examples written raw read back identically through both datastores', async () => {
    for (const example of WIRE_EXAMPLES) {
      await raw.put(example.path).value(example.raw);
      const [viaGateway, viaGrpc] = [await gateway.getKV(example.key), await grpc.getKV(example.key)];
      assert.deepEqual(viaGateway, viaGrpc, example.name);
      if (example.key.type !== 'resource') assert.deepEqual(viaGateway.value, typedValue(example), example.name);
    }
    await raw.delete().prefix('/calico/');
  });

  it('values written by the gateway are the reference bytes, and the gRPC datastore reads them back equal', async () => {
    for (const example of WIRE_EXAMPLES.filter((e) => e.name !== 'E6a')) {
      const written = await gateway.applyKV(example.key, typedValue(example) as ValueOf<Key>);
      assert.equal(await raw.get(example.path).string(), example.raw, `${example.name} bytes`);
      assert.deepEqual(await grpc.getKV(example.key), written, example.name);
    }
    await raw.delete().prefix('/calico/');
  });

  it('blocks with uint64 sequence numbers cross both ways intact, with CAS on the other side', async () => {
    const key = { type: 'block', cidr: '192.168.84.128/26' } as const;
    const big: AllocationBlock = { ...E4_BLOCK, sequenceNumber: 18446744073709551615n, sequenceNumberForAllocation: { '0': 18446744073709551614n, '1': 9223372036854775808n } };
    const created = await gateway.createKV(key, big);
    const read = await grpc.getKV(key);
    assert.deepEqual(read, created);
    assert.equal((read.value as AllocationBlock).sequenceNumber, 18446744073709551615n);
    // gRPC updates at the gateway's revision; the gateway sees the new value and revision.
    const next: AllocationBlock = { ...big, sequenceNumber: 18446744073709551614n };
    const updated = await grpc.updateKV(key, next, created.revision);
    assert.deepEqual(await gateway.getKV(key), updated);
    await assert.rejects(gateway.updateKV(key, big, created.revision), (e: unknown) => UpdateConflictError.isInstance(e));
    await assert.rejects(gateway.createKV(key, big), (e: unknown) => ResourceExistsError.isInstance(e));
    assert.deepEqual(await gateway.deleteKV(key, updated.revision), updated);
    assert.equal(await raw.get(keyToPath(key)).string(), null);
  });

  it('resources and lists: what one writes, the other lists identically at the same revision', async () => {
    for (let i = 0; i < 3; i++) {
      const ds = i % 2 === 0 ? gateway : grpc;
      await ds.createKV(
        { type: 'resource', kind: 'IPPool', name: `wire-pool-${i}` },
        { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: `wire-pool-${i}` }, spec: { cidr: `10.${40 + i}.0.0/16`, blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never', nodeSelector: 'all()' } } as unknown as V3Object,
      );
    }
    const [a, b] = [await gateway.listKV({ type: 'resource', kind: 'IPPool' }), await grpc.listKV({ type: 'resource', kind: 'IPPool' })];
    assert.equal(a.items.length, 3);
    assert.deepEqual(a, b);
    await raw.delete().prefix('/calico/');
  });

  it('lists page through more keys than one range answer holds, at one revision', async () => {
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 1100; i++) writes.push(raw.put(keyToPath({ type: 'handle', handleId: `page-${String(i).padStart(4, '0')}` })).value('{"block":{},"deleted":false}').exec());
    await Promise.all(writes);
    const [a, b] = [await gateway.listKV({ type: 'handle' }), await grpc.listKV({ type: 'handle' })];
    assert.equal(a.items.length, 1100);
    assert.deepEqual(a, b);
    await raw.delete().prefix('/calico/');
  });

  it('an undecodable stored value is a DatastoreError on get and an entry of errors on list', async () => {
    const key = { type: 'handle', handleId: 'garbled' } as const;
    await raw.put(keyToPath(key)).value('{not json');
    await assert.rejects(gateway.getKV(key), (e: unknown) => DatastoreError.isInstance(e) && /garbled/.test((e as Error).message));
    const listed = await gateway.listKV({ type: 'handle' });
    assert.equal(listed.items.length, 0);
    assert.equal(listed.errors?.length, 1);
    await raw.delete().prefix('/calico/');
  });

  it('a closed datastore refuses calls with DatastoreError', async () => {
    const ds = createEtcdGatewayDatastore({ endpoints: etcd.endpoints });
    await ds.close();
    await assert.rejects(ds.getKV({ type: 'ipamConfig' }), (e: unknown) => DatastoreError.isInstance(e) && /closed/.test((e as Error).message));
  });
});

describe('gateway datastore: options', () => {
  it('refuses malformed options with ValidationError naming the field, before contacting anything', () => {
    const cases: [unknown, string][] = [
      [{ endpoints: [] }, 'endpoints'],
      [{ endpoints: ['127.0.0.1:2379'] }, 'endpoints[0]'],
      [{ endpoints: ['http://127.0.0.1:2379'], certFile: '/tmp/c.pem' }, 'keyFile'],
      [{ endpoints: ['http://127.0.0.1:2379'], requestTimeoutMs: 0 }, 'requestTimeoutMs'],
      [{ endpoints: ['http://127.0.0.1:2379'], caFile: '/nonexistent/ca.pem' }, 'caFile'],
    ];
    for (const [options, field] of cases) {
      assert.throws(
        () => createEtcdGatewayDatastore(options as never),
        (e: unknown) => ValidationError.isInstance(e) && (e as ValidationError).fields.some((f) => f.name === field),
        JSON.stringify(options),
      );
    }
  });
});

describe('gateway datastore: TLS with client certificates', () => {
  let etcd: EtcdServer;
  before(async () => {
    etcd = await startEtcd({ tls: true });
  });
  after(() => etcd?.stop());

  it('works with ca/cert/key files; refuses a missing or untrusted client certificate with DatastoreUnavailableError', async () => {
    const tls = etcd.tls!;
    const ds = createEtcdGatewayDatastore({ endpoints: etcd.endpoints, caFile: tls.caFile, certFile: tls.clientCertFile, keyFile: tls.clientKeyFile });
    try {
      const written = await ds.applyKV({ type: 'ipamConfig' }, { strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: 0 });
      assert.deepEqual(await ds.getKV({ type: 'ipamConfig' }), written);
    } finally {
      await ds.close();
    }
    for (const options of [
      { endpoints: etcd.endpoints, caFile: tls.caFile },
      { endpoints: etcd.endpoints, caFile: tls.caFile, certFile: tls.rogueClientCertFile, keyFile: tls.rogueClientKeyFile },
      { endpoints: etcd.endpoints, certFile: tls.clientCertFile, keyFile: tls.clientKeyFile },
    ]) {
      const refused = createEtcdGatewayDatastore({ ...options, requestTimeoutMs: 3_000 });
      await assert.rejects(refused.applyKV({ type: 'handle', handleId: 'refused' }, { block: {}, deleted: false }), (e: unknown) => DatastoreUnavailableError.isInstance(e), JSON.stringify(Object.keys(options)));
      await refused.close();
    }
  });

  it('a key that does not belong to the certificate is a ValidationError naming keyFile', () => {
    const tls = etcd.tls!;
    assert.throws(
      () => createEtcdGatewayDatastore({ endpoints: etcd.endpoints, caFile: tls.caFile, certFile: tls.clientCertFile, keyFile: tls.rogueClientKeyFile }),
      (e: unknown) => ValidationError.isInstance(e) && (e as ValidationError).fields.some((f) => f.name === 'keyFile'),
    );
  });
});

describe('gateway datastore: failover and unreachable endpoints', () => {
  let etcd: EtcdServer;
  let silent: Server;
  let silentPort: number;
  const held = new Set<Socket>();
  before(async () => {
    etcd = await startEtcd();
    // Accepts connections and never answers.
    silent = createServer((socket) => {
      held.add(socket);
      socket.on('close', () => held.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });
  after(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => silent?.close(resolve));
    await etcd?.stop();
  });

  it('fails over to the second endpoint when the first refuses connections, then keeps using it', async () => {
    const refused = `http://127.0.0.1:${await freePort()}`;
    const ds = createEtcdGatewayDatastore({ endpoints: [refused, ...etcd.endpoints] });
    try {
      const before = gatewayRequestCount();
      await ds.applyKV({ type: 'handle', handleId: 'failover' }, { block: {}, deleted: false });
      assert.equal(gatewayRequestCount() - before, 2, 'the refused endpoint, then the live one');
      assert.equal((await ds.getKV({ type: 'handle', handleId: 'failover' })).key.handleId, 'failover');
      assert.equal(gatewayRequestCount() - before, 3, 'the live endpoint is tried first from then on');
    } finally {
      await ds.close();
    }
  });

  it('fails over from an endpoint that does not answer within the request deadline', async () => {
    const ds = createEtcdGatewayDatastore({ endpoints: [`http://127.0.0.1:${silentPort}`, ...etcd.endpoints], requestTimeoutMs: 300 });
    try {
      const started = Date.now();
      assert.equal((await ds.listKV({ type: 'handle' })).items.some((i) => i.key.handleId === 'failover'), true);
      assert.ok(Date.now() - started < 5_000);
    } finally {
      await ds.close();
    }
  });

  it('unreachable or silent endpoints only: a retryable DatastoreUnavailableError, nothing written', async () => {
    const ds = createEtcdGatewayDatastore({ endpoints: [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${silentPort}`], requestTimeoutMs: 300 });
    try {
      for (const call of [() => ds.getKV({ type: 'ipamConfig' }), () => ds.createKV({ type: 'handle', handleId: 'never' }, { block: {}, deleted: false }), () => ds.transact([], [{ op: 'delete', key: { type: 'handle', handleId: 'never' } }])]) {
        await assert.rejects(call(), (e: unknown) => DatastoreUnavailableError.isInstance(e) && (e as DatastoreUnavailableError).isRetryable === true);
      }
    } finally {
      await ds.close();
    }
    const check = createEtcdGatewayDatastore({ endpoints: etcd.endpoints });
    assert.equal((await check.listKV({ type: 'handle' })).items.some((i) => i.key.handleId === 'never'), false);
    await check.close();
  });
});
