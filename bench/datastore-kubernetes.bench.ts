/**
 * The Kubernetes datastore against the Kubernetes API test server (HTTPS, loopback): create, get,
 * update and list operations per second, plus a block get (lossless big-integer path). The
 * baseline of `get` is a bare keep-alive HTTPS GET of the same object, so the ratio shows the
 * datastore's own overhead (mapping, lossless JSON, error translation) on top of the transport.
 */
import https from 'node:https';
import { createKubernetesDatastore } from '@libcalico-ts/datastore-kubernetes';
import type { AllocationBlock } from '@libcalico-ts/datastore';
import { startKubeApiServer } from '../test/helpers/kube-apiserver.js';
import { measureAsync, type Bench, type BenchRow } from './lib.js';

const bench: Bench = async ({ quick, log }) => {
  const minMs = quick ? 300 : 1500;
  const server = await startKubeApiServer({ crdDefaulting: false });
  const ds = createKubernetesDatastore({ kubeconfig: server.kubeconfigPath });
  const rows: BenchRow[] = [];
  try {
    const pool = (name: string, n: number) => ({
      kind: 'IPPool',
      apiVersion: 'projectcalico.org/v3' as const,
      metadata: { name },
      spec: { cidr: `10.${(n >> 8) & 255}.${n & 255}.0/24`, blockSize: 26, ipipMode: 'Never', vxlanMode: 'Always', natOutgoing: true, nodeSelector: 'all()' },
    });
    let n = 0;
    // Warm-up: TLS session, module compilation, JIT.
    for (let i = 0; i < 50; i++) {
      const name = `warm-${i}`;
      await ds.createKV({ type: 'resource', kind: 'IPPool', name }, pool(name, 60000 + i));
      await ds.getKV({ type: 'resource', kind: 'IPPool', name });
    }
    log('create');
    const create = await measureAsync(async () => {
      const name = `bench-${n}`;
      await ds.createKV({ type: 'resource', kind: 'IPPool', name }, pool(name, n));
      n++;
    }, { minMs });
    rows.push({ name: 'k8s datastore createKV (IPPool)', value: create.opsPerSec, unit: 'ops/s' });

    const key = { type: 'resource', kind: 'IPPool', name: 'bench-0' } as const;
    log('get');
    const get = await measureAsync(async () => {
      await ds.getKV(key);
    }, { minMs });
    const ca = Buffer.from(/certificate-authority-data: (\S+)/.exec(server.kubeconfigText)![1], 'base64').toString();
    const agent = new https.Agent({ keepAlive: true, ca });
    const rawGet = () =>
      new Promise<void>((resolve, reject) => {
        const req = https.request(`${server.url}/apis/crd.projectcalico.org/v1/ippools/bench-0`, { agent, headers: { Authorization: `Bearer ${server.token}` } }, (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve());
        });
        req.on('error', reject);
        req.end();
      });
    const raw = await measureAsync(rawGet, { minMs });
    agent.destroy();
    rows.push({ name: 'k8s datastore getKV (IPPool)', value: get.opsPerSec, unit: 'ops/s', baseline: raw.opsPerSec, ratio: get.opsPerSec / raw.opsPerSec });

    log('update');
    let current = await ds.getKV(key);
    let flip = false;
    const update = await measureAsync(async () => {
      flip = !flip;
      current = await ds.updateKV(key, { ...pool('bench-0', 0), spec: { ...pool('bench-0', 0).spec, natOutgoing: flip } }, current.revision);
    }, { minMs });
    rows.push({ name: 'k8s datastore updateKV (IPPool, CAS)', value: update.opsPerSec, unit: 'ops/s' });

    log(`list (${n} pools)`);
    const list = await measureAsync(async () => {
      await ds.listKV({ type: 'resource', kind: 'IPPool' });
    }, { minMs });
    rows.push({ name: `k8s datastore listKV (${n} IPPools)`, value: list.opsPerSec, unit: 'ops/s' });

    const blockKey = { type: 'block', cidr: '10.200.0.0/26' } as const;
    const block: AllocationBlock = {
      cidr: blockKey.cidr,
      affinity: 'host:node-1',
      allocations: Array.from({ length: 64 }, (_, i) => (i < 32 ? 0 : null)),
      unallocated: Array.from({ length: 32 }, (_, i) => i + 32),
      attributes: [{ handleId: 'k8s-pod-network.x', secondary: { node: 'node-1' } }],
      sequenceNumber: 1772359200000000002n,
      sequenceNumberForAllocation: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [String(i), 1772359200000000000n + BigInt(i)])),
      deleted: false,
    };
    await ds.createKV(blockKey, block);
    log('block get');
    const blockGet = await measureAsync(async () => {
      await ds.getKV(blockKey);
    }, { minMs });
    rows.push({ name: 'k8s datastore getKV (IPAM block, 32 big sequence numbers)', value: blockGet.opsPerSec, unit: 'ops/s' });
  } finally {
    await ds.close();
    await server.stop();
  }
  return rows;
};

export default bench;
