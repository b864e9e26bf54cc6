// Choosing a datastore loads only that backend: an etcd client never loads the Kubernetes
// backend or @kubernetes/client-node, a Kubernetes client never loads the etcd backend, etcd3 or
// gRPC. Checked in fresh node processes with a resolution recorder (test/client/lazy-load/).
// A backend package that is not installed gives an error naming the package to install.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { MODULE_MARKERS, loaded, runChild } from './lazy-load/run.js';

describe('backends are loaded lazily', () => {
  let etcd: EtcdServer;
  let kube: KubeApiServer;
  before(async () => {
    [etcd, kube] = await Promise.all([startEtcd(), startKubeApiServer()]);
  });
  after(async () => {
    await etcd?.stop();
    await kube?.stop();
  });

  it('an etcd client loads the etcd backend and nothing of Kubernetes', async () => {
    const result = await runChild({ env: { ETCD_ENDPOINTS: etcd.endpoints.join(',') } });
    assert.equal(result.ok, true, result.message);
    assert.equal(result.datastoreType, 'etcdv3');
    assert.ok(loaded(result, MODULE_MARKERS.etcdBackend), 'the etcd backend was loaded');
    assert.ok(loaded(result, MODULE_MARKERS.etcd3), 'etcd3 was loaded');
    assert.equal(loaded(result, MODULE_MARKERS.kubernetesBackend), false, 'the Kubernetes backend must not be loaded');
    assert.equal(loaded(result, MODULE_MARKERS.kubernetesClient), false, '@kubernetes/client-node must not be loaded');
  });

  it('a Kubernetes client loads the Kubernetes backend and nothing of etcd', async () => {
    const result = await runChild({ env: { KUBECONFIG: kube.kubeconfigPath } });
    assert.equal(result.ok, true, result.message);
    assert.equal(result.datastoreType, 'kubernetes');
    assert.ok(loaded(result, MODULE_MARKERS.kubernetesBackend), 'the Kubernetes backend was loaded');
    assert.ok(loaded(result, MODULE_MARKERS.kubernetesClient), '@kubernetes/client-node was loaded');
    assert.equal(loaded(result, MODULE_MARKERS.etcdBackend), false, 'the etcd backend must not be loaded');
    assert.equal(loaded(result, MODULE_MARKERS.etcd3), false, 'etcd3 / gRPC must not be loaded');
  });

  it('a Kubernetes user without the etcd packages installed is unaffected', async () => {
    const result = await runChild({ env: { KUBECONFIG: kube.kubeconfigPath }, hide: ['@libcalico-ts/datastore-etcd', 'etcd3'] });
    assert.equal(result.ok, true, result.message);
  });

  it('a missing backend package is an OperationNotSupportedError naming the package to install', async () => {
    const etcdMissing = await runChild({ env: { ETCD_ENDPOINTS: etcd.endpoints[0]! }, hide: ['@libcalico-ts/datastore-etcd'] });
    assert.equal(etcdMissing.ok, false);
    assert.equal(etcdMissing.name, 'OperationNotSupportedError');
    assert.match(etcdMissing.message!, /npm install @libcalico-ts\/datastore-etcd/);
    const kubeMissing = await runChild({ env: { DATASTORE_TYPE: 'kubernetes', KUBECONFIG: kube.kubeconfigPath }, hide: ['@kubernetes/client-node'] });
    assert.equal(kubeMissing.ok, false);
    assert.equal(kubeMissing.name, 'OperationNotSupportedError');
    assert.match(kubeMissing.message!, /@libcalico-ts\/datastore-kubernetes/);
  });
});
