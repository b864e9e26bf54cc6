import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '@libcalico-ts/api';
import { KubernetesSecretSource, kubeConfigFetcher, kubeConfigFromSpec, type SecretResponse } from './secrets-kubernetes.js';
import type { SecretRef } from './secrets.js';

const ref = (name: string, key: string, namespace = 'kube-system'): SecretRef => ({ name, key, namespace });
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const secret = (name: string, data: Record<string, string>) =>
  JSON.stringify({ kind: 'Secret', apiVersion: 'v1', metadata: { name, namespace: 'kube-system' }, type: 'Opaque', data });
const status = (code: number, reason: string, message: string) => JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code });

/** A scripted API: path -> response (or error). */
function scripted(answers: Map<string, SecretResponse | Error>) {
  const paths: string[] = [];
  return {
    paths,
    fetch: async (path: string): Promise<SecretResponse> => {
      paths.push(path);
      const answer = answers.get(path) ?? { status: 404, body: status(404, 'NotFound', 'secrets "x" not found') };
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
}

describe('KubernetesSecretSource', () => {
  const PATH = '/api/v1/namespaces/kube-system/secrets/bgp';

  it('one GET per Secret for all its keys; base64 data decoded; absent key and Secret are missing', async () => {
    const api = scripted(new Map([[PATH, { status: 200, body: secret('bgp', { peer: b64('Peer-Pw-ü'), mesh: b64('Mesh-Pw') }) }]]));
    const source = new KubernetesSecretSource({ fetch: api.fetch, server: 'https://api' });
    const refs = [ref('bgp', 'peer'), ref('bgp', 'mesh'), ref('bgp', 'none'), ref('other', 'k')];
    assert.equal(await source.refresh(refs), true);
    assert.deepEqual(api.paths, [PATH, '/api/v1/namespaces/kube-system/secrets/other']);
    assert.deepEqual(source.get(refs[0]!), { value: 'Peer-Pw-ü' });
    assert.deepEqual(source.get(refs[1]!), { value: 'Mesh-Pw' });
    assert.equal(source.get(refs[2]!)?.problem?.kind, 'missing');
    assert.match(source.get(refs[2]!)!.problem!.reason, /has no key none/);
    assert.equal(source.get(refs[3]!)?.problem?.kind, 'missing');
    assert.equal(source.description, 'kubernetes https://api');
  });

  it('caches by age: young entries are not fetched again', async () => {
    const api = scripted(new Map([[PATH, { status: 200, body: secret('bgp', { peer: b64('Pw') }) }]]));
    const source = new KubernetesSecretSource({ fetch: api.fetch, server: 'https://api' });
    await source.refresh([ref('bgp', 'peer')], { maxAgeMs: 60_000 });
    assert.equal(await source.refresh([ref('bgp', 'peer')], { maxAgeMs: 60_000 }), false);
    assert.equal(api.paths.length, 1);
    await source.refresh([ref('bgp', 'peer')], { maxAgeMs: 0 });
    assert.equal(api.paths.length, 2);
  });

  it('transient failures keep the value; a 404 drops it; messages carry no value or body', async () => {
    const answers = new Map<string, SecretResponse | Error>([[PATH, { status: 200, body: secret('bgp', { peer: b64('Kept-Pw-77') }) }]]);
    const api = scripted(answers);
    const source = new KubernetesSecretSource({ fetch: api.fetch, server: 'https://api' });
    const r = ref('bgp', 'peer');
    await source.refresh([r]);
    const failures: [SecretResponse | Error, RegExp][] = [
      [new Error('connect ECONNREFUSED 127.0.0.1:1'), /cannot reach the API server: connect ECONNREFUSED/],
      [{ status: 403, body: status(403, 'Forbidden', 'secrets "bgp" is forbidden: User "node" cannot get resource "secrets"') }, /HTTP 403 Forbidden: secrets "bgp" is forbidden/],
      [{ status: 500, body: 'upstream said Kept-Pw-77' }, /^cannot read Secret kube-system\/bgp: HTTP 500$/],
      [{ status: 200, body: '{"data": {"peer": "Kept-Pw-77"' }, /is not JSON$/],
      [{ status: 200, body: JSON.stringify({ kind: 'Status', data: { peer: 'x' } }) }, /is not a Secret$/],
    ];
    for (const [answer, reason] of failures) {
      answers.set(PATH, answer);
      assert.equal(await source.refresh([r]), false);
      const state = source.get(r)!;
      assert.equal(state.value, 'Kept-Pw-77');
      assert.equal(state.problem?.kind, 'unreadable');
      assert.match(state.problem!.reason, reason);
      assert.ok(!state.problem!.reason.includes('Kept-Pw-77'));
    }
    answers.set(PATH, { status: 200, body: secret('bgp', { peer: 'not base64!' }) });
    await source.refresh([r]);
    assert.equal(source.get(r)?.value, undefined, 'a key that does not decode has no value');
    answers.set(PATH, { status: 404, body: status(404, 'NotFound', 'secrets "bgp" not found') });
    await source.refresh([r]);
    assert.equal(source.get(r)?.value, undefined);
    assert.equal(source.get(r)?.problem?.kind, 'missing');
  });

  it('invalid names are never requested', async () => {
    const api = scripted(new Map());
    const source = new KubernetesSecretSource({ fetch: api.fetch, server: 'https://api' });
    await source.refresh([ref('../../nodes', 'k'), ref('ok', 'k', 'Bad_NS')]);
    assert.deepEqual(api.paths, []);
    assert.equal(source.get(ref('../../nodes', 'k'))?.problem?.kind, 'invalid');
  });
});

describe('kubeConfigFromSpec', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-kubeconfig-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- {name: a, cluster: {server: "https://a.example:6443", certificate-authority-data: "' + b64('CA') + '"}}',
      '- {name: b, cluster: {server: "https://b.example:6443"}}',
      'users:',
      '- {name: ua, user: {token: tok-a}}',
      '- {name: ub, user: {token: tok-b}}',
      'contexts:',
      '- {name: ca, context: {cluster: a, user: ua}}',
      '- {name: cb, context: {cluster: b, user: ub}}',
      'current-context: ca',
      '',
    ].join('\n'),
  );

  it('uses the first existing file of a KUBECONFIG list and its current context', async () => {
    const kc = await kubeConfigFromSpec({ datastoreType: 'kubernetes', kubeconfig: `${join(dir, 'absent')}:${kubeconfig}` });
    assert.equal(kc.getCurrentCluster()?.server, 'https://a.example:6443');
    assert.equal(kc.getCurrentUser()?.token, 'tok-a');
  });

  it('applies k8sCurrentContext, k8sAPIEndpoint, k8sAPIToken and skip-verify overrides', async () => {
    const kc = await kubeConfigFromSpec({ datastoreType: 'kubernetes', kubeconfig, k8sCurrentContext: 'cb', k8sAPIEndpoint: 'https://c.example', k8sAPIToken: 'tok-c', k8sInsecureSkipTLSVerify: true });
    assert.equal(kc.getCurrentCluster()?.server, 'https://c.example');
    assert.equal(kc.getCurrentCluster()?.skipTLSVerify, true);
    assert.equal(kc.getCurrentUser()?.token, 'tok-c');
    const inline = await kubeConfigFromSpec({ datastoreType: 'kubernetes', kubeconfigInline: `apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: "https://x"}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: x, user: u}}]\ncurrent-context: c\n` });
    assert.equal(inline.getCurrentCluster()?.server, 'https://x');
  });

  it('fails with a ValidationError for a missing file or an unknown context', async () => {
    await assert.rejects(kubeConfigFromSpec({ datastoreType: 'kubernetes', kubeconfig: join(dir, 'absent') }), (e) => ValidationError.isInstance(e));
    await assert.rejects(kubeConfigFromSpec({ datastoreType: 'kubernetes', kubeconfig, k8sCurrentContext: 'nope' }), (e) => ValidationError.isInstance(e));
  });

  it('the fetcher refuses plain HTTP without skip-verify (the token would travel in clear)', async () => {
    const kc = await kubeConfigFromSpec({ datastoreType: 'kubernetes', kubeconfig, k8sAPIEndpoint: 'http://127.0.0.1:1' });
    const { fetch, close } = kubeConfigFetcher(kc);
    await assert.rejects(fetch('/api/v1/namespaces/kube-system/secrets/x'), /refusing plain HTTP/);
    close();
  });
});
