/**
 * The CLI's extensions and process-level behaviour on the memory snapshot datastore:
 * `ipam show --html` opened in headless Chromium, IP pinning (`ipam pin|owner|unpin` and the
 * API), `node status` with a controlled process table and a real BIRD control socket,
 * and the built `calicoctl` launcher.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tcpConnect } from 'node:net';
import { connect } from '@libcalico-ts/example-cli';
import { freePort } from '../helpers/etcd.js';
import { calicoctl, ROOT } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_BINARY ?? '/usr/bin/chromium';

describe('calicoctl extensions (memory snapshot)', { concurrency: false }, () => {
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cli-ext-'));
    env = { DATASTORE_TYPE: 'memory', CALICO_MEMORY_SNAPSHOT: join(dir, 'snap.json') };
    const c = await connect({ env });
    try {
      await c.client.ipPools.create({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'pool-a' }, spec: { cidr: '10.244.0.0/16', blockSize: 26 } } as never);
      await c.client.ipPools.create({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'tiny' }, spec: { cidr: '10.99.0.0/30', blockSize: 30 } } as never);
      for (const [i, host] of ['node-a', 'node-b', 'node-c'].entries()) {
        await c.client.nodes.create({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: host }, spec: {} } as never);
        await c.client.ipam.autoAssign({ num4: 70 + i * 10, handleId: `h-${host}`, hostname: host, intendedUse: 'Workload', ipv4Pools: ['10.244.0.0/16'] });
      }
    } finally {
      await c.finish();
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('ipam show --html writes one self-contained page that Chromium renders with every block', async () => {
    const page = join(dir, 'ipam.html');
    const r = await calicoctl(['ipam', 'show', '--html', page], env);
    assert.equal(r.code, 0, r.stderr);
    const html = readFileSync(page, 'utf8');
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//, 'no external assets');
    const c = await connect({ env });
    const blocks = (await c.client.datastore.listKV({ type: 'block' })).items.length;
    await c.finish();
    assert.ok(blocks >= 6, `blocks: ${blocks}`);
    const profile = mkdtempSync(join(tmpdir(), 'chromium-'));
    try {
      const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`];
      const dom = execFileSync(CHROMIUM, [...flags, '--dump-dom', `file://${page}`], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] });
      // The inline script ran after layout and counted the drawn blocks.
      assert.match(dom, new RegExp(`data-drawn-blocks="${blocks}"`));
      assert.equal((dom.match(/<g class="block"/g) ?? []).length, blocks);
      for (const host of ['node-a', 'node-b', 'node-c']) assert.ok(dom.includes(`data-host="${host}"`), host);
      const png = join(profile, 'shot.png');
      execFileSync(CHROMIUM, [...flags, `--screenshot=${png}`, '--window-size=1100,900', `file://${page}`], { timeout: 60_000, stdio: 'ignore' });
      assert.ok(existsSync(png), 'screenshot written');
      const bytes = readFileSync(png);
      assert.equal(bytes.subarray(1, 4).toString('latin1'), 'PNG');
      assert.ok(statSync(png).size > 10_000, `a non-trivial picture (${statSync(png).size} bytes)`);
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  });

  it('pins an address: auto-assignment never hands it out, it is assigned on request, owner answers', async () => {
    const pin = await calicoctl(['ipam', 'pin', '--ip', '10.99.0.2', '--owner', 'web-0'], env);
    assert.equal(pin.code, 0, pin.stderr);
    assert.equal(pin.stdout, 'Pinned IP address 10.99.0.2 (IPReservation pin-10-99-0-2, owner web-0)\n');
    const outside = await calicoctl(['ipam', 'pin', '--ip', '172.16.0.1'], env);
    assert.equal(outside.code, 1);
    assert.match(outside.stderr, /not in any IP pool/);
    const c = await connect({ env });
    try {
      await c.client.nodes.create({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'node-z' }, spec: {} } as never);
      const { ipv4 } = await c.client.ipam.autoAssign({ num4: 4, handleId: 'greedy', hostname: 'node-z', intendedUse: 'Workload', ipv4Pools: ['10.99.0.0/30'] });
      const got = ipv4!.ips.map((i) => i.split('/')[0]);
      assert.equal(got.length, 3, `the /30 has 4 addresses, one pinned: ${got.join(',')}`);
      assert.ok(!got.includes('10.99.0.2'));
    } finally {
      await c.finish();
    }
    const wrong = await calicoctl(['ipam', 'pin', '--ip', '10.99.0.2', '--owner', 'web-1', '--assign', '--node', 'node-z'], env);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /already pinned for web-0/);
    const assign = await calicoctl(['ipam', 'pin', '--ip', '10.99.0.2', '--owner', 'web-0', '--assign', '--node', 'node-z'], env);
    assert.equal(assign.code, 0, assign.stderr);
    assert.match(assign.stdout, /Assigned IP address 10\.99\.0\.2 to web-0 \(handle pinned\.web-0\)\n$/);
    const owner = await calicoctl(['ipam', 'owner', '--ip', '10.99.0.2'], env);
    assert.equal(owner.code, 0, owner.stderr);
    assert.equal(owner.stdout, [
      'IP 10.99.0.2',
      'Pool: tiny (10.99.0.0/30)',
      'Block: 10.99.0.0/30 (affinity host:node-z)',
      'Pinned: yes (IPReservation pin-10-99-0-2, owner web-0)',
      'Allocated: yes (handle pinned.web-0)',
      '  node: node-z',
      '  owner: web-0',
      'Workload endpoints: none',
      '',
    ].join('\n'));
    // The same call again changes nothing and says so.
    const twice = await calicoctl(['ipam', 'pin', '--ip', '10.99.0.2', '--owner', 'web-0', '--assign', '--node', 'node-z'], env);
    assert.equal(twice.code, 0, twice.stderr);
    assert.match(twice.stdout, /Already assigned IP address 10\.99\.0\.2 to web-0 \(handle pinned\.web-0\)\n$/);
    const wrongOwner = await calicoctl(['ipam', 'unpin', '--ip', '10.99.0.2', '--owner', 'web-1'], env);
    assert.equal(wrongOwner.code, 1);
    assert.match(wrongOwner.stderr, /pinned for web-0/);
    const family = await calicoctl(['ipam', 'pin', '--ip', 'fd00::2'], env);
    assert.equal(family.code, 1);
    assert.match(family.stderr, /there is no IPv6 IP pool/);
    const held = await connect({ env });
    const busy = (await held.client.ipam.ipsByHandle('h-node-a'))[0]!;
    await held.finish();
    const taken = await calicoctl(['ipam', 'pin', '--ip', busy, '--owner', 'web-9'], env);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /already allocated to handle h-node-a; release it first/);
    const unpin = await calicoctl(['ipam', 'unpin', '--ip', '10.99.0.2'], env);
    assert.equal(unpin.stdout, 'Unpinned IP address 10.99.0.2\n');
    const again = await calicoctl(['ipam', 'unpin', '--ip', '10.99.0.2'], env);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'IP address 10.99.0.2 is not pinned\n');
  });

  it('node status: not running, running without BIRD, BIRD socket unreachable', async () => {
    const proc = join(dir, 'proc');
    const fakeProcess = (pid: number, argv: string[]) => {
      mkdirSync(join(proc, String(pid)), { recursive: true });
      writeFileSync(join(proc, String(pid), 'cmdline'), argv.join('\0') + '\0');
    };
    mkdirSync(proc, { recursive: true });
    fakeProcess(1, ['/sbin/init']);
    const none = await calicoctl(['node', 'status'], { CALICOCTL_PROC_ROOT: proc });
    assert.equal(none.code, 1);
    assert.equal(none.stderr, 'Calico process is not running.\n');
    fakeProcess(20, ['calico-node', '-felix']);
    const noBird = await calicoctl(['node', 'status'], { CALICOCTL_PROC_ROOT: proc });
    assert.equal(noBird.code, 0, noBird.stderr);
    assert.equal(noBird.stdout, 'Calico process is running.\n\nThe BGP backend process (BIRD) is not running.\n\n');
    fakeProcess(30, ['bird', '-R', '-s', '/var/run/calico/bird.ctl']);
    const unreachable = await calicoctl(['node', 'status', '--bird-socket', join(dir, 'missing.ctl')], { CALICOCTL_PROC_ROOT: proc });
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stdout, /^Calico process is running\.\n\nIPv4 BGP status\nError querying BIRD: unable to connect to BIRDv4 socket: /);
    assert.match(unreachable.stdout, /INFO: BIRDv6 process: 'bird6' is not running\.\n/);
  });

  it('node status reads the peers of a real BIRD over its control socket', async (t) => {
    if (!existsSync('/usr/sbin/bird')) {
      assert.fail('bird2 (/usr/sbin/bird) is not installed');
    }
    const proc = join(dir, 'proc2');
    mkdirSync(join(proc, '7'), { recursive: true });
    writeFileSync(join(proc, '7', 'cmdline'), 'calico-felix\0');
    mkdirSync(join(proc, '8'), { recursive: true });
    writeFileSync(join(proc, '8', 'cmdline'), 'bird\0');
    // A BIRD with one passive mesh-named peer on loopback. A BGP protocol always listens; its
    // listener is bound to 127.0.0.1 on a port that was free when the test started (never a fixed
    // one), and, passive, it never connects out (the neighbor's port is free too, nobody listens).
    const [localPort, peerPort] = [await freePort(), await freePort()];
    const socket = join(dir, 'bird.ctl');
    const conf = join(dir, 'bird.conf');
    writeFileSync(conf, `router id 192.0.2.1;\nprotocol device {}\nprotocol bgp Mesh_192_0_2_44 {\n  local 127.0.0.1 port ${localPort} as 64512;\n  neighbor 127.0.0.44 port ${peerPort} as 64512;\n  passive on;\n  ipv4 { import none; export none; };\n}\n`);
    const bird = spawnSync('/usr/sbin/bird', ['-c', conf, '-s', socket, '-P', join(dir, 'bird.pid')], { encoding: 'utf8' });
    assert.equal(bird.status, 0, bird.stderr);
    t.after(() => {
      try {
        process.kill(Number(readFileSync(join(dir, 'bird.pid'), 'utf8').trim()), 'SIGTERM');
      } catch {
        // already gone
      }
    });
    for (let i = 0; i < 50 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
    // The listener is on the port chosen above. BIRD opens it shortly after start-up, after its
    // control socket: retry the probe for a bounded time.
    const probeOnce = () =>
      new Promise<void>((resolve, reject) => {
        const probe = tcpConnect({ host: '127.0.0.1', port: localPort }, () => {
          probe.destroy();
          resolve();
        });
        probe.once('error', reject);
      });
    for (let attempt = 1; ; attempt++) {
      try {
        await probeOnce();
        break;
      } catch (error) {
        if (attempt >= 50) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const r = await calicoctl(['node', 'status', '--bird-socket', socket], { CALICOCTL_PROC_ROOT: proc });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^Calico process is running\.\n\nIPv4 BGP status\n\+-+\+-+\+-+\+-+\+-+\+\n\| PEER ADDRESS \|     PEER TYPE     \| STATE \|/);
    assert.match(r.stdout, /\n\| 192\.0\.2\.44 {3}\| node-to-node mesh \| (start|up) +\| [0-9:.]+ +\| \w+ +\|\n/);
  });

  it('the built launcher runs through the workspace bin (npx calicoctl)', () => {
    const build = spawnSync('npm', ['run', 'build', '-w', 'examples/cli'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    assert.equal(build.status, 0, build.stderr);
    const bin = join(ROOT, 'node_modules', '.bin', 'calicoctl');
    assert.ok(existsSync(bin), 'npm linked the workspace bin');
    const started = Date.now();
    const r = spawnSync(bin, ['version', '--client'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'Client Version:    v0.1.0\nGit commit:        libcalico-ts\n');
    assert.ok(Date.now() - started < 5_000);
    const get = spawnSync(bin, ['get', 'ippool', 'tiny', '-o', 'wide'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
    assert.equal(get.status, 0, get.stderr);
    assert.equal(get.stdout, [
      'NAME   CIDR           NAT     IPIPMODE   VXLANMODE   DISABLED   DISABLEBGPEXPORT   SELECTOR',
      'tiny   10.99.0.0/30   false   Never      Never       false      false              all()',
      '',
      '',
    ].join('\n'));
  });
});
