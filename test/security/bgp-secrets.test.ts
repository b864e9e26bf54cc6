// BGP passwords in the BIRD renderer: the secret appears only on the password line of the
// configuration it belongs to; never in a warning, a thrown error or anything logged; and a
// password cannot inject BIRD configuration (quotes, newlines, braces).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CalicoError } from '@libcalico-ts/api';
import { renderBirdConfig, renderBirdConfigWithWarnings, type BirdConfigWarning, type RenderBirdConfigOptions } from '@libcalico-ts/bgp';
import { kitchenSink } from '../bgp/kitchen-sink.js';
import { captureOutput, errorText } from '../helpers/reliability-secrets.js';

const TOR = 'Tor-S3cret-7f1c9a';
const MESH = 'Mesh-S3cret-2b8e44';

function withSecrets(secrets: Record<string, string | undefined>, base: RenderBirdConfigOptions = kitchenSink()): RenderBirdConfigOptions {
  return { ...base, secrets: (name, key) => secrets[`${name}/${key}`] };
}

test('the password is rendered only on its password line; warnings and logs never carry it', async () => {
  const seen: BirdConfigWarning[] = [];
  const { value, output, error } = await captureOutput(async () =>
    renderBirdConfigWithWarnings({ ...withSecrets({ 'bgp/tor': TOR, 'bgp/mesh': MESH }), onWarning: (w) => seen.push(w) }),
  );
  assert.equal(error, undefined, errorText(error));
  const { files, warnings } = value!;
  const all = Object.values(files).join('\n');
  assert.ok(all.includes(TOR), 'the peer password is rendered');
  for (const secret of [TOR, MESH]) {
    // (The mesh password appears only where this node has mesh sessions.)
    const lines = all.split('\n').filter((l) => l.includes(secret));
    for (const line of lines) assert.match(line, /^\s*password "[^"]*";$/, `the secret appears only as a password statement: ${line}`);
    assert.ok(!output.includes(secret), 'nothing logged carries the secret');
    assert.ok(!JSON.stringify(warnings).includes(secret) && !JSON.stringify(seen).includes(secret), 'no warning carries the secret');
  }
});

test('a peer whose Secret is missing: no password line, and the warning (if any) does not guess it', async () => {
  const { files, warnings } = renderBirdConfigWithWarnings(withSecrets({ 'bgp/mesh': MESH }));
  assert.ok(!Object.values(files).join('\n').includes(TOR));
  assert.ok(!JSON.stringify(warnings).includes(MESH));
});

test('a secret lookup that fails: its own error (or a typed one) or a warning, without any secret value', async () => {
  const failure = new Error('backend down while reading bgp/tor');
  const { error, output, value } = await captureOutput(async () =>
    renderBirdConfigWithWarnings({
      ...kitchenSink(),
      secrets: (name, key) => {
        if (`${name}/${key}` === 'bgp/tor') throw failure;
        return MESH;
      },
    }),
  );
  const said = errorText(error) + output + JSON.stringify(value?.warnings ?? []);
  assert.ok(!said.includes(MESH), 'the other secret is not exposed by the failure');
  if (error !== undefined) {
    assert.ok(error === failure || CalicoError.isInstance(error), `the lookup's own error passes through, or a typed one; got ${(error as Error).constructor.name}: ${(error as Error).message}`);
  }
});

const INJECTIONS = [
  'pw"; }\nprotocol static injected { ipv4; route 0.0.0.0/0 blackhole; }\n#',
  'pw";\n  import all;\n  password "x',
  'line1\nline2',
  'back\\slash"quote',
];
for (const secret of INJECTIONS) {
  test(`a password cannot inject configuration: ${JSON.stringify(secret)}`, async () => {
    let files: Record<string, string> | undefined;
    let error: unknown;
    try {
      files = renderBirdConfig(withSecrets({ 'bgp/tor': secret, 'bgp/mesh': MESH })) as unknown as Record<string, string>;
    } catch (e) {
      error = e;
    }
    if (error !== undefined) {
      // Refusing is fine, with a typed error that does not echo the secret.
      assert.ok(CalicoError.isInstance(error), `typed error, got ${(error as Error).constructor.name}`);
      assert.ok(!errorText(error).includes(secret));
      return;
    }
    const cfg = files!['bird.cfg']!;
    assert.ok(!/^protocol static injected/m.test(cfg), 'no injected protocol block');
    assert.ok(!/^\s*import all;$/m.test(cfg.split('protocol bgp').slice(1).join('')) || !cfg.includes('password "x'), 'no injected statement');
    // Every password statement is one well-formed quoted string on one line.
    const statements = cfg.split('\n').filter((l) => /^\s*password /.test(l));
    for (const s of statements) assert.match(s, /^\s*password "(?:[^"\\\n]|\\.)*";$/, `well-formed password statement: ${s}`);
    assert.equal(cfg.split('\n').filter((l) => l.includes('line2') && !/^\s*password /.test(l)).length, 0, 'no secret text outside a password statement');
  });
}
