/**
 * @libcalico-ts/client:
 * - start-up: a fresh `node` process imports the client, builds a client from the environment
 *   (etcd or Kubernetes; the backend package is loaded on demand) and lists IPPools once. Reported:
 *   median ms from process start to "client created" and to "first list done", and how many
 *   modules each path resolves, next to an empty `node` process as the baseline. Uses the built
 *   packages (dist) when every package involved is built, else the sources through tsx (slower:
 *   the row name says which).
 * - typed-client overhead on the memory datastore: `ipPools.create`/`get` (defaults, validation,
 *   overlap check) against the raw datastore's `createKV`/`getKV` of the same objects.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createMemoryDatastore } from '@libcalico-ts/datastore';
import { createClient } from '@libcalico-ts/client';
import { startEtcd } from '../test/helpers/etcd.js';
import { startKubeApiServer } from '../test/helpers/kube-apiserver.js';
import { MODULE_MARKERS, loaded, runChild, type ChildResult } from '../test/client/lazy-load/run.js';
import { measureAsync, type Bench, type BenchRow } from './lib.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const PACKAGES = ['net', 'selector', 'api', 'datastore', 'datastore-etcd', 'datastore-kubernetes', 'ipam', 'client'];

/** measureAsync after a warm-up of the same function (JIT), so the first-measured side is not penalised. */
async function warmMeasure(fn: () => Promise<void>, options: { minMs: number; batch: number }) {
  await measureAsync(fn, { ...options, minMs: Math.max(100, options.minMs / 2) });
  return measureAsync(fn, options);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const bench: Bench = async ({ quick, log }) => {
  const rows: BenchRow[] = [];
  const runs = quick ? 3 : 9;
  const built = PACKAGES.every((p) => existsSync(`${root}packages/${p}/dist/index.js`));
  const mode = built ? 'dist' : 'src+tsx';

  log('empty node process (baseline)');
  const empty: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' });
    empty.push(performance.now() - started);
  }
  rows.push({ name: 'client start-up: empty node process (wall)', value: median(empty), unit: 'ms' });

  const [etcd, kube] = await Promise.all([startEtcd(), startKubeApiServer()]);
  try {
    for (const [label, env, other] of [
      ['etcd', { ETCD_ENDPOINTS: etcd.endpoints.join(',') }, MODULE_MARKERS.kubernetesClient],
      ['kubernetes', { KUBECONFIG: kube.kubeconfigPath }, MODULE_MARKERS.etcd3],
    ] as const) {
      log(`client from env: ${label} (${mode})`);
      const results: ChildResult[] = [];
      for (let i = 0; i < runs; i++) results.push(await runChild({ env: { ...env }, source: !built }));
      const failed = results.find((r) => !r.ok);
      if (failed) throw new Error(`${label} child failed: ${failed.name}: ${failed.message}`);
      if (results.some((r) => loaded(r, other))) throw new Error(`${label} path loaded the other backend`);
      rows.push({ name: `client start-up (${mode}): ${label}, import + create client`, value: median(results.map((r) => r.created!)), unit: 'ms', baseline: median(empty) });
      rows.push({ name: `client start-up (${mode}): ${label}, + first ipPools.list`, value: median(results.map((r) => r.listed!)), unit: 'ms' });
      rows.push({ name: `client start-up (${mode}): ${label}, modules resolved`, value: results[0]!.modules.length, unit: 'modules' });
    }
  } finally {
    await etcd.stop();
    await kube.stop();
  }

  const minMs = quick ? 150 : 600;
  const batch = 50;
  log('typed create/get vs raw datastore (memory)');
  const raw = createMemoryDatastore({ historyLimit: 100 });
  let r = 0;
  const rawCreate = await warmMeasure(
    async () => {
      for (let i = 0; i < batch; i++) {
        const name = `h-${r++}`;
        await raw.createKV(
          { type: 'resource', kind: 'HostEndpoint', name },
          { kind: 'HostEndpoint', apiVersion: 'projectcalico.org/v3', metadata: { name }, spec: { node: 'n1', interfaceName: 'eth0' } } as never,
        );
      }
    },
    { minMs, batch },
  );
  const client = createClient({ datastore: createMemoryDatastore({ historyLimit: 100 }) });
  let c = 0;
  const typedCreate = await warmMeasure(
    async () => {
      for (let i = 0; i < batch; i++) {
        await client.hostEndpoints.create({ kind: 'HostEndpoint', apiVersion: 'projectcalico.org/v3', metadata: { name: `h-${c++}` }, spec: { node: 'n1', interfaceName: 'eth0' } });
      }
    },
    { minMs, batch },
  );
  rows.push({ name: 'client hostEndpoints.create (memory)', value: typedCreate.opsPerSec, unit: 'ops/s', baseline: rawCreate.opsPerSec, ratio: typedCreate.opsPerSec / rawCreate.opsPerSec });
  let g = 0;
  const typedGet = await warmMeasure(
    async () => {
      for (let i = 0; i < batch; i++) await client.hostEndpoints.get(`h-${g++ % c}`);
    },
    { minMs, batch },
  );
  let rg = 0;
  const rawGet = await warmMeasure(
    async () => {
      for (let i = 0; i < batch; i++) await raw.getKV({ type: 'resource', kind: 'HostEndpoint', name: `h-${rg++ % r}` });
    },
    { minMs, batch },
  );
  rows.push({ name: 'client hostEndpoints.get (memory)', value: typedGet.opsPerSec, unit: 'ops/s', baseline: rawGet.opsPerSec, ratio: typedGet.opsPerSec / rawGet.opsPerSec });

  // IPPool create includes the overlap check (a list of every pool): cost grows with the pool count.
  const pools = createClient({ datastore: createMemoryDatastore({ historyLimit: 100 }) });
  let p = 0;
  const poolCreate = await measureAsync(
    async () => {
      for (let i = 0; i < 10; i++) {
        const n = p++;
        await pools.ipPools.create({ kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: `p-${n}` }, spec: { cidr: `10.${(n >> 8) & 255}.${n & 255}.0/24` } });
      }
    },
    { minMs: quick ? 100 : 300, batch: 10 },
  );
  rows.push({ name: `client ipPools.create with overlap check (memory, up to ${p} pools)`, value: poolCreate.opsPerSec, unit: 'ops/s' });
  await client.close();
  await pools.close();
  await raw.close();
  return rows;
};

export default bench;
