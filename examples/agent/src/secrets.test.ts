import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from './log.js';
import { DirectorySecretSource, PasswordResolver, invalidRefReason, unsafePasswordReason, type SecretRef, type SecretSource, type SecretState } from './secrets.js';

const ref = (name: string, key: string, namespace = 'kube-system'): SecretRef => ({ name, key, namespace });

describe('invalidRefReason / unsafePasswordReason', () => {
  it('accepts Kubernetes names and keys, refuses anything that could escape a directory', () => {
    assert.equal(invalidRefReason(ref('bgp-secrets', 'peer_1.password')), undefined);
    for (const [name, key] of [['..', 'k'], ['a/b', 'k'], ['Upper', 'k'], ['', 'k'], ['ok', '..'], ['ok', '.'], ['ok', 'a/b'], ['ok', ''], ['ok', 'sp ace']]) {
      assert.ok(invalidRefReason(ref(name!, key!)), `${name}/${key} refused`);
    }
    assert.ok(invalidRefReason(ref('ok', 'k', '../x')));
  });

  it('refuses values a BIRD string cannot hold, without quoting them', () => {
    assert.equal(unsafePasswordReason('S3cret-pw_!#$%'), undefined);
    for (const value of ['', 'pw\n', 'a"b', 'a\\b', 'a\tb', 'a\u0000b', 'a\rb']) {
      const reason = unsafePasswordReason(value);
      assert.ok(reason, JSON.stringify(value));
      if (value.length > 2) assert.ok(!reason.includes(value));
    }
  });
});

describe('DirectorySecretSource', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-secrets-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'bgp'));
  writeFileSync(join(dir, 'bgp', 'peer'), 'Peer-Pw-1');
  // The kubelet's layout: key files are symlinks into a ..data directory.
  mkdirSync(join(dir, 'mesh', '..data'), { recursive: true });
  writeFileSync(join(dir, 'mesh', '..data', 'password'), 'Mesh-Pw-1');
  symlinkSync('..data/password', join(dir, 'mesh', 'password'));
  mkdirSync(join(dir, 'bgp', 'adir'));

  it('reads DIR/<name>/<key> (symlinks too); missing files are missing; refreshing reports changes', async () => {
    const source = new DirectorySecretSource(dir);
    const refs = [ref('bgp', 'peer'), ref('mesh', 'password'), ref('bgp', 'nokey'), ref('nosecret', 'k')];
    assert.equal(await source.refresh(refs), true);
    assert.deepEqual(source.get(refs[0]!), { value: 'Peer-Pw-1' });
    assert.deepEqual(source.get(refs[1]!), { value: 'Mesh-Pw-1' });
    assert.equal(source.get(refs[2]!)?.problem?.kind, 'missing');
    assert.equal(source.get(refs[3]!)?.problem?.kind, 'missing');
    assert.equal(await source.refresh(refs), false, 'nothing changed');
    writeFileSync(join(dir, 'bgp', 'peer'), 'Peer-Pw-2');
    assert.equal(await source.refresh(refs), true);
    assert.equal(source.get(refs[0]!)?.value, 'Peer-Pw-2');
    assert.equal(source.get(ref('bgp', 'peer', 'other-namespace')), undefined, 'cached per namespace/name/key');
  });

  it('keeps the cached value for younger refs when maxAgeMs is set', async () => {
    writeFileSync(join(dir, 'bgp', 'peer'), 'Peer-Pw-A');
    const source = new DirectorySecretSource(dir);
    await source.refresh([ref('bgp', 'peer')]);
    writeFileSync(join(dir, 'bgp', 'peer'), 'Peer-Pw-B');
    assert.equal(await source.refresh([ref('bgp', 'peer')], { maxAgeMs: 60_000 }), false);
    assert.equal(source.get(ref('bgp', 'peer'))?.value, 'Peer-Pw-A');
    assert.equal(await source.refresh([ref('bgp', 'peer')], { maxAgeMs: 0 }), true);
    assert.equal(source.get(ref('bgp', 'peer'))?.value, 'Peer-Pw-B');
  });

  it('an unreadable file keeps the previous value; a deleted one drops it; bad names read nothing', async () => {
    writeFileSync(join(dir, 'bgp', 'rotating'), 'Rot-Pw');
    const source = new DirectorySecretSource(dir);
    await source.refresh([ref('bgp', 'rotating'), ref('bgp', 'adir'), ref('..', 'passwd')]);
    assert.equal(source.get(ref('bgp', 'adir'))?.problem?.kind, 'unreadable');
    assert.equal(source.get(ref('..', 'passwd'))?.problem?.kind, 'invalid');
    if (process.getuid?.() !== 0) {
      chmodSync(join(dir, 'bgp', 'rotating'), 0);
      await source.refresh([ref('bgp', 'rotating')]);
      assert.equal(source.get(ref('bgp', 'rotating'))?.value, 'Rot-Pw');
      assert.equal(source.get(ref('bgp', 'rotating'))?.problem?.kind, 'unreadable');
      chmodSync(join(dir, 'bgp', 'rotating'), 0o600);
    }
    rmSync(join(dir, 'bgp', 'rotating'));
    assert.equal(await source.refresh([ref('bgp', 'rotating')]), true);
    assert.deepEqual(source.get(ref('bgp', 'rotating'))?.value, undefined);
    assert.ok(!JSON.stringify(source.get(ref('bgp', 'rotating'))).includes('Rot-Pw'));
  });
});

/** A source with scripted states, counting reads. */
class ScriptedSource implements SecretSource {
  readonly description = 'scripted';
  reads = 0;
  states = new Map<string, SecretState>();
  private cache = new Map<string, SecretState>();
  async refresh(refs: readonly SecretRef[]): Promise<boolean> {
    let changed = false;
    for (const r of refs) {
      this.reads++;
      const id = `${r.namespace}/${r.name}/${r.key}`;
      const next = this.states.get(id) ?? { problem: { kind: 'missing' as const, reason: 'no such secret' } };
      if (next.value !== this.cache.get(id)?.value) changed = true;
      this.cache.set(id, next);
    }
    return changed;
  }
  get(r: SecretRef): SecretState | undefined {
    return this.cache.get(`${r.namespace}/${r.name}/${r.key}`);
  }
  async close(): Promise<void> {}
}

describe('PasswordResolver', () => {
  const logs: string[] = [];
  const logger = createLogger('debug', (line) => logs.push(line));

  it('renders twice only when secrets had to be read, and passes the namespace to the lookup', async () => {
    const source = new ScriptedSource();
    source.states.set('calico-system/bgp/peer', { value: 'Pw-One' });
    const resolver = new PasswordResolver({ source, logger, namespace: 'calico-system', maxAgeMs: 60_000 });
    let renders = 0;
    const render = (lookup: (n: string, k: string, ns: string) => string | undefined) => {
      renders++;
      return lookup('bgp', 'peer', resolver.namespace);
    };
    assert.equal(await resolver.render(render), 'Pw-One');
    assert.equal(renders, 2);
    assert.deepEqual(resolver.refs, [{ name: 'bgp', key: 'peer', namespace: 'calico-system' }]);
    renders = 0;
    source.reads = 0;
    assert.equal(await resolver.render(render), 'Pw-One');
    assert.equal(renders, 1, 'scripted source ignores maxAge, but nothing changed: one render');
  });

  it('leaves unsafe values out and warns with name and key only; logs the recovery', async () => {
    logs.length = 0;
    const source = new ScriptedSource();
    source.states.set('kube-system/bgp/peer', { value: 'Bad"Pw\n' });
    const resolver = new PasswordResolver({ source, logger });
    const render = (lookup: (n: string, k: string, ns: string) => string | undefined) => lookup('bgp', 'peer', 'kube-system');
    assert.equal(await resolver.render(render), undefined);
    assert.equal(logs.filter((l) => / WARN BGP password secret: not usable/.test(l)).length, 1);
    assert.match(logs.join(''), /secret=bgp key=peer/);
    await resolver.render(render);
    assert.equal(logs.filter((l) => / WARN /.test(l)).length, 1, 'the same problem is not logged twice');
    source.states.set('kube-system/bgp/peer', { value: 'Good-Pw' });
    assert.equal(await resolver.refresh(), true);
    assert.equal(await resolver.render(render), 'Good-Pw');
    assert.match(logs.join(''), /INFO BGP password secret readable again/);
    assert.ok(!logs.join('').includes('Bad"Pw') && !logs.join('').includes('Good-Pw'), 'no value logged');
  });

  it('without a source: no password, one warning per ref naming the way to give one', async () => {
    logs.length = 0;
    const resolver = new PasswordResolver({ source: undefined, logger });
    assert.equal(await resolver.render((lookup) => lookup('bgp', 'peer', 'kube-system')), undefined);
    assert.match(logs.join(''), /no secret source \(give --secrets-dir/);
    assert.equal(await resolver.refresh(), false);
  });

  it('a missing secret is warned about once, with the source\'s reason', async () => {
    logs.length = 0;
    const resolver = new PasswordResolver({ source: new ScriptedSource(), logger });
    await resolver.render((lookup) => lookup('gone', 'k', 'kube-system'));
    await resolver.render((lookup) => lookup('gone', 'k', 'kube-system'));
    assert.equal(logs.filter((l) => /WARN BGP password secret: no such secret; the password line is left out/.test(l)).length, 1);
  });
});
