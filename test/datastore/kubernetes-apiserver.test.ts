// The Kubernetes API test server itself: the apiserver behaviours other suites rely on.
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';

const V1 = '/apis/crd.projectcalico.org/v1';

describe('Kubernetes API test server', () => {
  let server: KubeApiServer;
  const call = async (method: string, path: string, body?: unknown, contentType = 'application/json') => {
    const res = await fetch(server.url + path, {
      method,
      headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': contentType },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, text, json: text ? (JSON.parse(text) as Record<string, any>) : undefined };
  };
  before(async () => {
    server = await startKubeApiServer({ tls: false });
  });
  after(async () => {
    await server.stop();
  });

  it('serves discovery for the core group, the Calico CRD group and discovery.k8s.io', async () => {
    const groups = (await call('GET', '/apis')).json!;
    assert.equal(groups.kind, 'APIGroupList');
    assert.deepEqual(groups.groups.map((g: { name: string }) => g.name).sort(), ['crd.projectcalico.org', 'discovery.k8s.io']);
    const calico = (await call('GET', V1)).json!;
    const ippools = calico.resources.find((r: { name: string }) => r.name === 'ippools');
    assert.deepEqual([ippools.kind, ippools.namespaced], ['IPPool', false]);
    assert.ok(calico.resources.some((r: { name: string }) => r.name === 'ippools/status'));
    assert.ok(calico.resources.some((r: { name: string; namespaced: boolean }) => r.name === 'networkpolicies' && r.namespaced));
    const core = (await call('GET', '/api/v1')).json!;
    assert.ok(core.resources.some((r: { name: string }) => r.name === 'nodes/status'));
  });

  it('rejects requests without the bearer token with a 401 Status', async () => {
    const res = await fetch(`${server.url}/api/v1/nodes`);
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
  });

  it('Status bodies exactly as the apiserver: NotFound, AlreadyExists, Conflict, delete preconditions', async () => {
    const missing = await call('GET', `${V1}/ippools/nope`);
    assert.equal(missing.text, '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"ippools.crd.projectcalico.org \\"nope\\" not found","reason":"NotFound","details":{"name":"nope","group":"crd.projectcalico.org","kind":"ippools"},"code":404}');
    const body = { metadata: { name: 'st' }, spec: { cidr: '10.1.0.0/16' } };
    const created = await call('POST', `${V1}/ippools`, body);
    assert.equal(created.status, 201);
    assert.equal((await call('POST', `${V1}/ippools`, body)).json!.reason, 'AlreadyExists');
    const stale = await call('PUT', `${V1}/ippools/st`, { metadata: { name: 'st', resourceVersion: '1' }, spec: { cidr: '10.1.0.0/16' } });
    assert.equal(stale.status, 409);
    assert.equal(stale.json!.message, 'Operation cannot be fulfilled on ippools.crd.projectcalico.org "st": the object has been modified; please apply your changes to the latest version and try again');
    const uid = created.json!.metadata.uid;
    const badDelete = await call('DELETE', `${V1}/ippools/st`, { preconditions: { uid: '00000000-0000-4000-8000-000000000000' } });
    assert.equal(badDelete.status, 409);
    assert.match(badDelete.json!.message, /Precondition failed: UID in precondition: 00000000-0000-4000-8000-000000000000, UID in object meta: /);
    const rvDelete = await call('DELETE', `${V1}/ippools/st`, { preconditions: { resourceVersion: '1' } });
    assert.equal(rvDelete.status, 409);
    const deleted = await call('DELETE', `${V1}/ippools/st`, { preconditions: { uid } });
    assert.equal(deleted.status, 200);
    assert.ok(Number(deleted.json!.metadata.resourceVersion) > Number(created.json!.metadata.resourceVersion), 'the deleted object carries the deletion resourceVersion');
  });

  it('CRD schema: defaults, pruning of unknown fields, 422 Invalid with causes; generation and no-op updates', async () => {
    const created = (await call('POST', `${V1}/ippools`, { metadata: { name: 'sch' }, spec: { cidr: '10.2.0.0/16', bogus: 1 } })).json!;
    assert.deepEqual(created.spec, { assignmentMode: 'Automatic', cidr: '10.2.0.0/16', nodeSelector: 'all()' });
    assert.equal(created.metadata.generation, 1);
    const same = (await call('PUT', `${V1}/ippools/sch`, created)).json!;
    assert.equal(same.metadata.resourceVersion, created.metadata.resourceVersion, 'a no-op update keeps the resourceVersion');
    const changed = (await call('PUT', `${V1}/ippools/sch`, { ...created, spec: { ...created.spec, natOutgoing: true } })).json!;
    assert.equal(changed.metadata.generation, 2);
    const labelOnly = (await call('PUT', `${V1}/ippools/sch`, { ...changed, metadata: { ...changed.metadata, labels: { a: 'b' } } })).json!;
    assert.equal(labelOnly.metadata.generation, 2, 'metadata changes do not bump generation');
    const invalid = await call('POST', `${V1}/ippools`, { metadata: { name: 'bad' }, spec: { vxlanMode: 'x', blockSize: 'big' } });
    assert.equal(invalid.status, 422);
    assert.deepEqual(invalid.json!.details.causes.map((c: { field: string }) => c.field).sort(), ['spec.blockSize', 'spec.cidr', 'spec.vxlanMode']);
  });

  it('status subresource: the main resource keeps status, /status keeps spec', async () => {
    const created = (await call('POST', `${V1}/ippools`, { metadata: { name: 'ss' }, spec: { cidr: '10.3.0.0/16' }, status: { conditions: [] } })).json!;
    assert.equal(created.status, undefined);
    const withStatus = (await call('PUT', `${V1}/ippools/ss/status`, { ...created, spec: { cidr: '10.99.0.0/16' }, status: { conditions: [{ type: 'Allocatable', status: 'True', reason: 'OK', message: '', lastTransitionTime: '2026-03-01T10:00:00Z' }] } })).json!;
    assert.equal(withStatus.spec.cidr, '10.3.0.0/16', JSON.stringify(withStatus));
    assert.equal(withStatus.status.conditions[0].type, 'Allocatable');
  });

  it('patches: merge patch on CRs, strategic merge only on built-ins (415 otherwise), JSON patch', async () => {
    await call('POST', `${V1}/ippools`, { metadata: { name: 'pt' }, spec: { cidr: '10.4.0.0/16', natOutgoing: true } });
    const merged = (await call('PATCH', `${V1}/ippools/pt`, { spec: { natOutgoing: null, disabled: true } }, 'application/merge-patch+json')).json!;
    assert.equal(merged.spec.natOutgoing, undefined);
    assert.equal(merged.spec.disabled, true);
    assert.equal((await call('PATCH', `${V1}/ippools/pt`, { spec: {} }, 'application/strategic-merge-patch+json')).status, 415);
    const jp = (await call('PATCH', `${V1}/ippools/pt`, [{ op: 'test', path: '/spec/disabled', value: true }, { op: 'replace', path: '/spec/disabled', value: false }], 'application/json-patch+json')).json!;
    assert.equal(jp.spec.disabled, false);
    await call('POST', '/api/v1/nodes', { metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] } });
    const node = (await call('PATCH', '/api/v1/nodes/n1/status', { status: { addresses: [{ type: 'ExternalIP', address: '1.2.3.4' }] } }, 'application/strategic-merge-patch+json')).json!;
    assert.deepEqual(node.status.addresses.map((a: { type: string }) => a.type), ['InternalIP', 'ExternalIP'], 'addresses merge by type');
    const stalePatch = await call('PATCH', '/api/v1/nodes/n1', { metadata: { resourceVersion: '2' } }, 'application/merge-patch+json');
    assert.equal(stalePatch.status, 409);
  });

  it('lists: label and field selectors, pagination with continue, 410 for a compacted continue token', async () => {
    for (let i = 0; i < 5; i++) await call('POST', '/api/v1/namespaces/default/pods', { metadata: { name: `p${i}`, labels: { app: i % 2 ? 'odd' : 'even' } }, spec: { nodeName: i < 2 ? 'a' : 'b' } });
    const odd = (await call('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dodd')).json!;
    assert.deepEqual(odd.items.map((p: { metadata: { name: string } }) => p.metadata.name), ['p1', 'p3']);
    assert.equal(odd.items[0].kind, undefined, 'built-in list items carry no kind');
    const onA = (await call('GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Da')).json!;
    assert.deepEqual(onA.items.map((p: { metadata: { name: string } }) => p.metadata.name), ['p0', 'p1']);
    assert.equal((await call('GET', '/api/v1/pods?labelSelector=app%20in%20(odd,even),!gone')).json!.items.length, 5);
    const page1 = (await call('GET', '/api/v1/namespaces/default/pods?limit=2')).json!;
    assert.equal(page1.items.length, 2);
    assert.equal(page1.metadata.remainingItemCount, 3);
    const page2 = (await call('GET', `/api/v1/namespaces/default/pods?limit=2&continue=${page1.metadata.continue}`)).json!;
    assert.deepEqual(page2.items.map((p: { metadata: { name: string } }) => p.metadata.name), ['p2', 'p3']);
    assert.equal((await call('POST', '/api/v1/namespaces/missing/pods', { metadata: { name: 'x' } })).json!.message, 'namespaces "missing" not found');
    await call('POST', '/api/v1/namespaces', { metadata: { name: 'later' } });
    server.compact();
    const expired = await call('GET', `/api/v1/namespaces/default/pods?limit=2&continue=${page2.metadata.continue}`);
    assert.equal(expired.status, 410);
    assert.equal(expired.json!.reason, 'Expired');
  });

  it('finalizers: delete marks deletionTimestamp; removing the last finalizer deletes', async () => {
    await call('POST', `${V1}/ippools`, { metadata: { name: 'fin', finalizers: ['x/y'] }, spec: { cidr: '10.5.0.0/16' } });
    const marked = (await call('DELETE', `${V1}/ippools/fin`)).json!;
    assert.ok(marked.metadata.deletionTimestamp);
    assert.equal((await call('GET', `${V1}/ippools/fin`)).status, 200);
    await call('PUT', `${V1}/ippools/fin`, { ...marked, metadata: { ...marked.metadata, finalizers: [] } });
    assert.equal((await call('GET', `${V1}/ippools/fin`)).status, 404);
  });

  it('watch: replay from a resourceVersion, label-selector transitions, bookmarks, 410 ERROR for compacted versions', async () => {
    const start = server.resourceVersion();
    await call('POST', '/api/v1/namespaces/default/serviceaccounts', { metadata: { name: 'sa1', labels: { w: 'yes' } } });
    const sa = (await call('GET', '/api/v1/namespaces/default/serviceaccounts/sa1')).json!;
    await call('PUT', '/api/v1/namespaces/default/serviceaccounts/sa1', { ...sa, metadata: { ...sa.metadata, labels: { w: 'no' } } });
    const res = await fetch(`${server.url}/api/v1/namespaces/default/serviceaccounts?watch=1&labelSelector=w%3Dyes&allowWatchBookmarks=true&resourceVersion=${start}&timeoutSeconds=1`, { headers: { Authorization: `Bearer ${server.token}` } });
    const pending = res.text();
    setTimeout(() => server.bookmark(), 100);
    const lines = (await pending).trim().split('\n').map((l) => JSON.parse(l) as { type: string; object: Record<string, any> });
    assert.deepEqual(lines.map((l) => l.type), ['ADDED', 'DELETED', 'BOOKMARK'], 'leaving the selector is a DELETED');
    assert.equal(lines[0].object.kind, 'ServiceAccount');
    assert.deepEqual(lines[2].object, { kind: 'ServiceAccount', apiVersion: 'v1', metadata: { resourceVersion: server.resourceVersion(), creationTimestamp: null } });
    server.compact();
    const old = await fetch(`${server.url}/api/v1/namespaces/default/serviceaccounts?watch=1&resourceVersion=${start}`, { headers: { Authorization: `Bearer ${server.token}` } });
    assert.equal(old.status, 200);
    const error = JSON.parse((await old.text()).trim()) as { type: string; object: Record<string, unknown> };
    assert.equal(error.type, 'ERROR');
    assert.deepEqual(error.object, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${start} (${server.resourceVersion()})`, reason: 'Expired', code: 410 });
  });

  it('fault injection: the next N matching requests fail with the given code', async () => {
    server.failNext(2, { code: 503, pathIncludes: '/nodes' });
    assert.equal((await call('GET', '/api/v1/nodes')).status, 503);
    assert.equal((await call('GET', `${V1}/ippools`)).status, 200, 'non-matching requests are served');
    assert.equal((await call('GET', '/api/v1/nodes')).json!.reason, 'ServiceUnavailable');
    assert.equal((await call('GET', '/api/v1/nodes')).status, 200);
  });

  it('keeps integers beyond 2^53 exact', async () => {
    const text = '{"metadata":{"name":"big"},"spec":{"cidr":"10.6.0.0/26","allocations":[],"unallocated":[],"attributes":[],"strictAffinity":false,"sequenceNumber":9223372036854775807,"sequenceNumberForAllocation":{"0":1772359200000000001}}}';
    await call('POST', `${V1}/ipamblocks`, text);
    const raw = server.getRaw(`${V1}/ipamblocks/big`)!;
    assert.match(raw, /"sequenceNumber":9223372036854775807/);
    assert.match(raw, /"0":1772359200000000001/);
  });
});

describe('Kubernetes API test server over HTTPS', () => {
  it('serves TLS with its self-signed CA from the kubeconfig', async () => {
    const server = await startKubeApiServer();
    try {
      const ca = Buffer.from(/certificate-authority-data: (\S+)/.exec(server.kubeconfigText)![1], 'base64').toString();
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get(`${server.url}/version`, { ca, headers: { Authorization: `Bearer ${server.token}` } }, (res) => {
            let text = '';
            res.on('data', (c) => (text += c));
            res.on('end', () => resolve(text));
          })
          .on('error', reject);
      });
      assert.equal(JSON.parse(body).major, '1');
      await assert.rejects(
        new Promise((resolve, reject) => https.get(`${server.url}/version`, (res) => resolve(res.statusCode)).on('error', reject)),
        /self-signed|certificate/i,
      );
    } finally {
      await server.stop();
    }
  });
});
