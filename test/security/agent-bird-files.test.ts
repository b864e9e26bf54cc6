// The node agent's BIRD files and BGP passwords, from the security suite's side: a BIRD file
// holding a password is mode 0600 whatever the umask and whatever mode an older copy had, the
// files without one stay 0644; a password value never appears in what the agent prints at debug
// level (plain or base64), and a value that would break out of the BIRD string is refused with a
// warning naming only the Secret and key. Driven through `calico-agent bird --onetime` (the same
// render-and-write path as `run`), against the Kubernetes API test server, passwords from
// `--secrets-dir`. The running agent's side (rotation, Secrets API) is test/agent/secrets.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BGPPeer } from '@libcalico-ts/api';
import { createClientFromConfig } from '@libcalico-ts/client';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AGENT = join(ROOT, 'examples/agent/src/main.ts');
const PASSWORD = 'Agent-Bgp-Pw-5e2a90c1';
const INJECT = 'x"; }\nprotocol static leak { ipv4; route 0.0.0.0/0 blackhole; }\n#';

let server: KubeApiServer;
let scratch: string;

/** Runs `calico-agent bird --onetime` at debug level with `umask`, asynchronously (the API server lives here). */
function birdOnce(out: string, secretsDir: string, umask = '022'): Promise<{ code: number | null; output: string }> {
  const command = `umask ${umask} && exec "$0" --import tsx --conditions=source "$@"`;
  const args = [AGENT, 'bird', '--node', 'node-a', '--out', out, '--onetime', '--dialect', 'bird2', '--secrets-dir', secretsDir, '--log-level', 'debug'];
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command, process.execPath, ...args], {
      cwd: ROOT,
      env: { ...process.env, DATASTORE_TYPE: 'kubernetes', KUBECONFIG: server.kubeconfigPath, NODENAME: '', NAMESPACE: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

function secretsWith(value: string): string {
  const dir = mkdtempSync(join(scratch, 'secrets-'));
  mkdirSync(join(dir, 'bgp-auth'));
  writeFileSync(join(dir, 'bgp-auth', 'password'), value, { mode: 0o600 });
  return dir;
}

const modes = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, (statSync(join(dir, f)).mode & 0o777).toString(8)]));

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'lcts-sec-agent-'));
  server = await startKubeApiServer();
  server.putRaw({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a', annotations: { 'projectcalico.org/IPv4Address': '192.168.10.1/24' } }, spec: {} });
  const client = await createClientFromConfig({ datastoreType: 'kubernetes', kubeconfig: server.kubeconfigPath });
  await client.bgpPeers.create({
    apiVersion: 'projectcalico.org/v3',
    kind: 'BGPPeer',
    metadata: { name: 'tor' },
    spec: { peerIP: '192.168.10.254', asNumber: 65001, password: { secretKeyRef: { name: 'bgp-auth', key: 'password' } } },
  } as BGPPeer);
  await client.close();
});

after(async () => {
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

test('bird.cfg with a password is 0600 even under umask 000; the other files 0644; nothing printed carries it', async () => {
  const out = join(scratch, 'umask0');
  const r = await birdOnce(out, secretsWith(PASSWORD), '000');
  assert.equal(r.code, 0, r.output);
  assert.match(readFileSync(join(out, 'bird.cfg'), 'utf8'), new RegExp(`^\\s*password "${PASSWORD}";$`, 'm'));
  assert.deepEqual(modes(out), {
    'bird.cfg': '600',
    'bird6.cfg': '644',
    'bird_ipam.cfg': '644',
    'bird6_ipam.cfg': '644',
    'bird_aggr.cfg': '644',
    'bird6_aggr.cfg': '644',
  });
  assert.match(r.output, /DEBUG reading BGP password secret source=directory secret=bgp-auth key=password/, 'debug logging was on');
  for (const form of [PASSWORD, Buffer.from(PASSWORD).toString('base64'), PASSWORD.slice(4, 16)]) assert.ok(!r.output.includes(form), `not printed: ${form}`);
});

test('an older world-readable bird.cfg is tightened to 0600, whether its text changes or not', async () => {
  const out = join(scratch, 'older');
  const secrets = secretsWith(PASSWORD);
  mkdirSync(out);
  writeFileSync(join(out, 'bird.cfg'), '# old\n');
  chmodSync(join(out, 'bird.cfg'), 0o666);
  assert.equal((await birdOnce(out, secrets)).code, 0);
  assert.equal(modes(out)['bird.cfg'], '600', 'rewritten file');
  chmodSync(join(out, 'bird.cfg'), 0o644);
  const again = await birdOnce(out, secrets);
  assert.equal(again.code, 0);
  assert.match(again.output, /unchanged=.*bird\.cfg/, 'same text: not rewritten');
  assert.equal(modes(out)['bird.cfg'], '600', 'unchanged file, mode still corrected');
  assert.ok(!readdirSync(out).some((f) => f.startsWith('.')), 'no temporary file left behind');
});

test('a password that would break out of the BIRD string is refused, the warning names only Secret and key', async () => {
  const out = join(scratch, 'inject');
  const r = await birdOnce(out, secretsWith(INJECT));
  assert.equal(r.code, 0, r.output);
  const cfg = readFileSync(join(out, 'bird.cfg'), 'utf8');
  assert.doesNotMatch(cfg, /password|protocol static leak/);
  assert.equal(modes(out)['bird.cfg'], '644');
  assert.match(r.output, /WARN BGP password secret: not usable as a BGP password: .*line break.* secret=bgp-auth key=password/);
  for (const fragment of ['protocol static leak', 'x\\"; }', '0.0.0.0/0 blackhole']) assert.ok(!r.output.includes(fragment), `not printed: ${fragment}`);
});
