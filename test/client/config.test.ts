// Configuration from the environment and from CalicoAPIConfig files, against a real etcd (plain
// and TLS with client certificates) and the Kubernetes API test server.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { CalicoError } from '@libcalico-ts/api';
import { createClientFromConfig, createClientFromConfigFile, createClientFromEnv, type Client } from '@libcalico-ts/client';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { pool } from './suite.js';

const dir = mkdtempSync(join(tmpdir(), 'client-config-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Writes through one client and reads back through another: both reach the same datastore. */
async function roundTrip(writer: Client, reader: Client, name: string, cidr: string): Promise<void> {
  try {
    const created = await writer.ipPools.create(pool(name, cidr));
    const read = await reader.ipPools.get(name);
    assert.equal(read.metadata.uid, created.metadata.uid);
    assert.equal(read.spec.cidr, cidr);
  } finally {
    await writer.close();
    await reader.close();
  }
}

describe('etcd configuration', () => {
  let etcd: EtcdServer;
  let tlsEtcd: EtcdServer;
  before(async () => {
    [etcd, tlsEtcd] = await Promise.all([startEtcd(), startEtcd({ tls: true })]);
  });
  after(async () => {
    await etcd?.stop();
    await tlsEtcd?.stop();
  });

  it('from the environment (type detected from ETCD_ENDPOINTS) and from a YAML file', async () => {
    const fromEnv = await createClientFromEnv({ ETCD_ENDPOINTS: etcd.endpoints.join(',') }, { poolDeletionDelayMs: 0 });
    assert.equal(fromEnv.datastore.datastoreType, 'etcdv3');
    const file = writeConfig(
      'etcd.yaml',
      `apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nmetadata: {}\nspec:\n  datastoreType: etcdv3\n  etcdEndpoints: ${etcd.endpoints[0]}\n`,
    );
    const fromFile = await createClientFromConfigFile(file);
    await roundTrip(fromEnv, fromFile, 'env-pool', '10.50.0.0/16');
  });

  it('TLS: certificate files from the environment (CALICO_ prefix), inline PEMs from a JSON file', async () => {
    const tls = tlsEtcd.tls!;
    const fromEnv = await createClientFromEnv({
      CALICO_DATASTORE_TYPE: 'etcdv3',
      ETCD_ENDPOINTS: tlsEtcd.endpoints[0],
      ETCD_CA_CERT_FILE: tls.caFile,
      ETCD_CERT_FILE: tls.clientCertFile,
      ETCD_KEY_FILE: tls.clientKeyFile,
    });
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith('libcalico-etcd-'));
    const file = writeConfig(
      'etcd-tls.json',
      JSON.stringify({
        apiVersion: 'projectcalico.org/v3',
        kind: 'CalicoAPIConfig',
        spec: {
          etcdEndpoints: tlsEtcd.endpoints[0],
          etcdCACert: readFileSync(tls.caFile, 'utf8'),
          etcdCert: readFileSync(tls.clientCertFile, 'utf8'),
          etcdKey: readFileSync(tls.clientKeyFile, 'utf8'),
        },
      }),
    );
    const fromFile = await createClientFromConfigFile(file);
    const created = readdirSync(tmpdir()).filter((n) => n.startsWith('libcalico-etcd-') && !before.includes(n));
    assert.equal(created.length, 1, 'inline PEMs go to one private temporary directory');
    await roundTrip(fromEnv, fromFile, 'tls-pool', '10.51.0.0/16');
    assert.equal(existsSync(join(tmpdir(), created[0]!)), false, 'the temporary directory is removed by close()');
  });

  it('TLS without a client certificate fails with a typed error', async () => {
    const client = await createClientFromConfig({ etcdEndpoints: tlsEtcd.endpoints[0], etcdCACertFile: tlsEtcd.tls!.caFile });
    try {
      await assert.rejects(client.ipPools.list(), (error: unknown) => {
        assert.ok(CalicoError.isInstance(error), `expected a CalicoError, got ${String(error)}`);
        return true;
      });
    } finally {
      await client.close();
    }
  });
});

describe('Kubernetes configuration', () => {
  let server: KubeApiServer;
  let caFile: string;
  before(async () => {
    server = await startKubeApiServer();
    const kubeconfig = parseYaml(server.kubeconfigText) as { clusters: { cluster: Record<string, string> }[] };
    caFile = join(dir, 'kube-ca.pem');
    writeFileSync(caFile, Buffer.from(kubeconfig.clusters[0]!.cluster['certificate-authority-data']!, 'base64'));
  });
  after(() => server?.stop());

  it('from the environment (KUBECONFIG, type detected) and from a file naming the kubeconfig', async () => {
    const fromEnv = await createClientFromEnv({ KUBECONFIG: server.kubeconfigPath, HOME: '/nonexistent' });
    assert.equal(fromEnv.datastore.datastoreType, 'kubernetes');
    const file = writeConfig('kdd.yaml', `apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n  datastoreType: kubernetes\n  kubeconfig: ${server.kubeconfigPath}\n`);
    await roundTrip(fromEnv, await createClientFromConfigFile(file), 'kdd-pool', '10.60.0.0/16');
  });

  it('API endpoint + token + CA file without a kubeconfig; inline kubeconfig; skip-verify', async () => {
    const endpointOnly = await createClientFromEnv({ K8S_API_ENDPOINT: server.url, K8S_API_TOKEN: server.token!, K8S_CA_FILE: caFile, DATASTORE_TYPE: 'kubernetes' });
    const inline = await createClientFromConfig({
      apiVersion: 'projectcalico.org/v3',
      kind: 'CalicoAPIConfig',
      spec: { datastoreType: 'kubernetes', kubeconfigInline: server.kubeconfigText },
    });
    await roundTrip(endpointOnly, inline, 'endpoint-pool', '10.61.0.0/16');
    const insecure = await createClientFromConfig({ k8sAPIEndpoint: server.url, k8sAPIToken: server.token!, k8sInsecureSkipTLSVerify: true });
    try {
      assert.deepEqual((await insecure.ipPools.list()).items.map((p) => p.metadata.name).sort(), ['endpoint-pool', 'kdd-pool']);
    } finally {
      await insecure.close();
    }
  });

  it('a kubeconfig with its token overridden by K8S_API_TOKEN: a wrong token is refused', async () => {
    const client = await createClientFromEnv({ KUBECONFIG: server.kubeconfigPath, K8S_API_TOKEN: 'wrong-token' });
    try {
      await assert.rejects(client.ipPools.list(), (error: unknown) => /401|[Uu]nauthori[sz]ed/.test(String((error as Error).message)));
    } finally {
      await client.close();
    }
  });
});
