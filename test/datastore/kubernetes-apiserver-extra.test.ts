// The Kubernetes API test server: Secrets are served, and CRD patterns in Go syntax with an
// inline flag group (`(?i)...`, used by the BGPConfiguration CRD) validate as the real server does.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';

describe('kube-apiserver test server: secrets and Go patterns', () => {
  let server: KubeApiServer;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(server.url + path, {
      method,
      headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  };
  before(async () => {
    server = await startKubeApiServer({ tls: false, namespaceLifecycle: false });
  });
  after(async () => {
    await server.stop();
  });

  it('serves namespaced Secrets', async () => {
    const created = await call('POST', '/api/v1/namespaces/kube-system/secrets', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'bgp-secrets', namespace: 'kube-system' },
      data: { 'rr-password': Buffer.from('s3cret').toString('base64') },
    });
    assert.equal(created.status, 201);
    const got = await call('GET', '/api/v1/namespaces/kube-system/secrets/bgp-secrets');
    assert.equal(got.status, 200);
    assert.equal(Buffer.from((got.body as { data: Record<string, string> }).data['rr-password']!, 'base64').toString(), 's3cret');
    const missing = await call('GET', '/api/v1/namespaces/kube-system/secrets/nope');
    assert.equal(missing.status, 404);
  });

  it('applies a leading (?i) of a CRD pattern as a case-insensitive match', async () => {
    const path = '/apis/crd.projectcalico.org/v1/bgpconfigurations';
    const ok = await call('POST', path, {
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'BGPConfiguration',
      metadata: { name: 'default' },
      spec: { logSeverityScreen: 'info' },
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    const bad = await call('POST', path, {
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'BGPConfiguration',
      metadata: { name: 'node.x' },
      spec: { logSeverityScreen: 'Loud' },
    });
    assert.equal(bad.status, 422);
  });
});
