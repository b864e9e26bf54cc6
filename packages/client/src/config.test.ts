import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OperationNotSupportedError, ParseError, ValidationError } from '@libcalico-ts/api';
import { createDatastoreFromConfig, loadCalicoAPIConfigFile } from './backends.js';
import { applyConfigDefaults, calicoAPIConfigFromEnv, parseCalicoAPIConfig } from './config.js';

function fieldsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    assert.ok(ValidationError.isInstance(error), `expected ValidationError, got ${String(error)}`);
    return (error as ValidationError).fields.map((f) => f.name);
  }
  assert.fail('expected a ValidationError');
}

async function rejectsWith(promise: Promise<unknown>, type: { isInstance(e: unknown): boolean }, pattern?: RegExp): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(type.isInstance(error), `unexpected error ${String(error)}`);
    if (pattern) assert.match((error as Error).message + JSON.stringify((error as ValidationError).fields ?? []), pattern);
    return error as Error;
  }
  assert.fail('expected a rejection');
}

describe('calicoAPIConfigFromEnv', () => {
  it('detects the datastore type as calicoctl does', () => {
    assert.equal(calicoAPIConfigFromEnv({}).spec.datastoreType, 'kubernetes');
    assert.equal(calicoAPIConfigFromEnv({ ETCD_ENDPOINTS: 'http://127.0.0.1:2379' }).spec.datastoreType, 'etcdv3');
    assert.equal(calicoAPIConfigFromEnv({ ETCD_ENDPOINTS: '' }).spec.datastoreType, 'kubernetes');
    assert.equal(calicoAPIConfigFromEnv({ DATASTORE_TYPE: 'kubernetes', ETCD_ENDPOINTS: 'http://x:1' }).spec.datastoreType, 'kubernetes');
    assert.equal(calicoAPIConfigFromEnv({ DATASTORE_TYPE: 'etcdv3' }).spec.datastoreType, 'etcdv3');
  });

  it('reads every variable, CALICO_-prefixed names winning', () => {
    const spec = calicoAPIConfigFromEnv({
      DATASTORE_TYPE: 'kubernetes',
      CALICO_DATASTORE_TYPE: 'etcdv3',
      ETCD_ENDPOINTS: 'https://a:2379,https://b:2379',
      ETCD_KEY_FILE: '/k.pem',
      ETCD_CERT_FILE: '/c.pem',
      ETCD_CA_CERT_FILE: '/ca.pem',
      KUBECONFIG: '/kc',
      K8S_API_ENDPOINT: 'https://k:6443',
      K8S_API_TOKEN: 'tok',
      K8S_INSECURE_SKIP_TLS_VERIFY: 'true',
      USE_POD_CIDR: '1',
      K8S_CLIENT_QPS: '12.5',
      K8S_CLIENT_BURST: '20',
      CALICO_API_GROUP: 'projectcalico.org/v3',
    }).spec;
    assert.deepEqual(spec, {
      datastoreType: 'etcdv3',
      etcdEndpoints: 'https://a:2379,https://b:2379',
      etcdKeyFile: '/k.pem',
      etcdCertFile: '/c.pem',
      etcdCACertFile: '/ca.pem',
      kubeconfig: '/kc',
      k8sAPIEndpoint: 'https://k:6443',
      k8sAPIToken: 'tok',
      k8sInsecureSkipTLSVerify: true,
      usePodCIDR: true,
      k8sClientQPS: 12.5,
      k8sClientBurst: 20,
      calicoAPIGroup: 'projectcalico.org/v3',
    });
  });

  it('honours the legacy ETCD_AUTHORITY / ETCD_SCHEME pair', () => {
    assert.equal(calicoAPIConfigFromEnv({ ETCD_AUTHORITY: '127.0.0.1:2379' }).spec.etcdEndpoints, 'http://127.0.0.1:2379');
    assert.equal(calicoAPIConfigFromEnv({ ETCD_AUTHORITY: 'e:2379', ETCD_SCHEME: 'https' }).spec.datastoreType, 'etcdv3');
  });

  it('names the variable of a bad value', () => {
    assert.deepEqual(fieldsOf(() => calicoAPIConfigFromEnv({ DATASTORE_TYPE: 'etcd' })), ['DATASTORE_TYPE']);
    assert.deepEqual(fieldsOf(() => calicoAPIConfigFromEnv({ CALICO_DATASTORE_TYPE: 'consul' })), ['CALICO_DATASTORE_TYPE']);
    assert.deepEqual(fieldsOf(() => calicoAPIConfigFromEnv({ K8S_INSECURE_SKIP_TLS_VERIFY: 'yes' })), ['K8S_INSECURE_SKIP_TLS_VERIFY']);
    assert.deepEqual(fieldsOf(() => calicoAPIConfigFromEnv({ K8S_CLIENT_BURST: '1.5' })), ['K8S_CLIENT_BURST']);
    assert.deepEqual(fieldsOf(() => calicoAPIConfigFromEnv({ CALICO_API_GROUP: 'v1' })), ['CALICO_API_GROUP']);
  });
});

describe('parseCalicoAPIConfig', () => {
  it('reads YAML and JSON', () => {
    const yaml = parseCalicoAPIConfig(`
apiVersion: projectcalico.org/v3
kind: CalicoAPIConfig
metadata: {}
spec:
  datastoreType: etcdv3
  etcdEndpoints: http://127.0.0.1:2379
  etcdCACertFile: /etc/calico/ca.pem
`);
    assert.deepEqual(yaml.spec, { datastoreType: 'etcdv3', etcdEndpoints: 'http://127.0.0.1:2379', etcdCACertFile: '/etc/calico/ca.pem' });
    const json = parseCalicoAPIConfig('{"apiVersion":"projectcalico.org/v3","kind":"CalicoAPIConfig","spec":{"kubeconfig":"/root/.kube/config","k8sInsecureSkipTLSVerify":true}}');
    assert.deepEqual(json.spec, { kubeconfig: '/root/.kube/config', k8sInsecureSkipTLSVerify: true, datastoreType: 'kubernetes' });
    assert.equal(parseCalicoAPIConfig('apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\n').spec.datastoreType, 'kubernetes');
  });

  it('throws ParseError with a position for malformed text', () => {
    try {
      parseCalicoAPIConfig('apiVersion: projectcalico.org/v3\nkind: [CalicoAPIConfig\nspec: {}\n', '/etc/calico/calicoctl.cfg');
      assert.fail('expected a ParseError');
    } catch (error) {
      assert.ok(ParseError.isInstance(error), String(error));
      assert.match((error as Error).message, /calicoctl\.cfg/);
      assert.ok(typeof (error as ParseError).line === 'number');
    }
    assert.throws(() => parseCalicoAPIConfig('{"apiVersion": '), (e: unknown) => ParseError.isInstance(e));
  });

  it('is strict: wrong apiVersion/kind, unknown and mistyped fields are ValidationErrors with paths', () => {
    assert.deepEqual(fieldsOf(() => parseCalicoAPIConfig('apiVersion: v1\nkind: CalicoAPIConfig\n')), ['apiVersion']);
    assert.deepEqual(fieldsOf(() => parseCalicoAPIConfig('apiVersion: projectcalico.org/v3\nkind: IPPool\n')), ['kind']);
    assert.deepEqual(
      fieldsOf(() => parseCalicoAPIConfig('apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n  etcdEndpoint: http://x:1\n  k8sInsecureSkipTLSVerify: "yes"\n')),
      ['spec.etcdEndpoint', 'spec.k8sInsecureSkipTLSVerify'],
    );
    assert.deepEqual(fieldsOf(() => parseCalicoAPIConfig('apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n  datastoreType: etcd\n')), ['spec.datastoreType']);
    assert.deepEqual(fieldsOf(() => parseCalicoAPIConfig('apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nextra: 1\n')), ['extra']);
    assert.deepEqual(fieldsOf(() => parseCalicoAPIConfig('- a\n- b\n')), ['']);
  });

  it('applyConfigDefaults drops empty strings and detects the type', () => {
    assert.deepEqual(applyConfigDefaults({ etcdEndpoints: '', kubeconfig: '/kc' }), { kubeconfig: '/kc', datastoreType: 'kubernetes' });
    assert.deepEqual(applyConfigDefaults({ etcdDiscoverySrv: 'example.com' }), { etcdDiscoverySrv: 'example.com', datastoreType: 'etcdv3' });
  });
});

describe('createDatastoreFromConfig: bad settings fail before connecting', () => {
  it('etcdv3 without endpoints, with a bad URL, or with user/password', async () => {
    await rejectsWith(createDatastoreFromConfig({ datastoreType: 'etcdv3' }), ValidationError, /spec\.etcdEndpoints/);
    await rejectsWith(createDatastoreFromConfig({ etcdEndpoints: '127.0.0.1:2379' }), ValidationError, /http:\/\/ or https:\/\//);
    await rejectsWith(createDatastoreFromConfig({ etcdEndpoints: 'http://127.0.0.1:1', etcdUsername: 'u', etcdPassword: 'p' }), OperationNotSupportedError, /etcdUsername/);
    await rejectsWith(createDatastoreFromConfig({ etcdEndpoints: 'http://127.0.0.1:1', etcdKey: 'x', etcdKeyFile: '/k' }), ValidationError, /spec\.etcdKey/);
  });

  it('kubernetes with a missing kubeconfig, an unknown context, or no server', async () => {
    await rejectsWith(createDatastoreFromConfig({ datastoreType: 'kubernetes', kubeconfig: '/nonexistent/kubeconfig' }), ValidationError, /spec\.kubeconfig/);
    const dir = mkdtempSync(join(tmpdir(), 'client-config-'));
    try {
      const path = join(dir, 'kc');
      writeFileSync(path, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
      await rejectsWith(createDatastoreFromConfig({ kubeconfig: path, k8sCurrentContext: 'prod' }), ValidationError, /spec\.k8sCurrentContext/);
      await rejectsWith(createDatastoreFromConfig({ kubeconfig: path, k8sAPIToken: 'tok' }), ValidationError, /spec\.k8sAPIEndpoint/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing config file is a ValidationError naming the path', async () => {
    await rejectsWith(loadCalicoAPIConfigFile('/nonexistent/calicoctl.cfg'), ValidationError, /nonexistent/);
  });
});
