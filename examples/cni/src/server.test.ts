import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResourceExistsError, ValidationError } from '@libcalico-ts/api';
import { startCniServer } from './server.js';

const dir = mkdtempSync(join(tmpdir(), 'lcts-cni-server-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Sends raw bytes, returns the reply line parsed. */
function ask(socketPath: string, payload: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let text = '';
    socket.on('data', (d) => (text += d.toString('utf8')));
    socket.on('end', () => {
      try {
        assert.ok(text.endsWith('\n'), 'one line');
        resolve(JSON.parse(text) as { exitCode: number; stdout: string; stderr: string });
      } catch (error) {
        reject(error);
      }
    });
    socket.on('error', reject);
    socket.write(payload);
  });
}

describe('CNI server (thick-plugin mode)', () => {
  it('runs an invocation with the request environment, not its own, and returns stdout, exit code and log lines', async () => {
    const server = await startCniServer({ socketPath: join(dir, 'a.sock') });
    try {
      assert.equal(statSync(server.socketPath).mode & 0o777, 0o600);
      const version = await ask(server.socketPath, `${JSON.stringify({ plugin: 'calico', env: { CNI_COMMAND: 'VERSION' }, stdin: '' })}\n`);
      assert.equal(version.exitCode, 0);
      assert.deepEqual(JSON.parse(version.stdout).supportedVersions.includes('1.0.0'), true);
      // ADD without the CNI variables: the plugin's own code-4 error, computed from the request's env.
      const bad = await ask(server.socketPath, `${JSON.stringify({ plugin: 'calico', env: { CNI_COMMAND: 'ADD', CALICO_CNI_LOG_LEVEL: 'debug' }, stdin: '{}' })}\n`);
      assert.equal(bad.exitCode, 1);
      assert.equal(JSON.parse(bad.stdout).code, 4);
      assert.match(bad.stdout, /required env variables \[CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH\] missing/);
      assert.match(bad.stderr, /\[ERROR\] calico: calico failed/);
      // A missing nodename file is reported as Calico does, through the server.
      const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc', CNI_NETNS: '/proc/self/ns/net', CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent' };
      const conf = { cniVersion: '0.3.1', name: 'net', type: 'calico', nodename_file: join(dir, 'no-such-file'), ipam: { type: 'calico-ipam' } };
      const add = await ask(server.socketPath, `${JSON.stringify({ plugin: 'calico', env, stdin: JSON.stringify(conf) })}\n`);
      assert.equal(add.exitCode, 1);
      assert.equal(JSON.parse(add.stdout).cniVersion, '0.3.1');
      assert.match(JSON.parse(add.stdout).msg, /no-such-file: no such file or directory/);
    } finally {
      await server.close();
    }
  });

  it('answers malformed requests with a CNI error', async () => {
    const server = await startCniServer({ socketPath: join(dir, 'b.sock') });
    try {
      for (const payload of ['not json\n', `${JSON.stringify({ plugin: 'bogus', env: {}, stdin: '' })}\n`, `${JSON.stringify({ plugin: 'calico', env: { A: 1 }, stdin: '' })}\n`]) {
        const r = await ask(server.socketPath, payload);
        assert.equal(r.exitCode, 1);
        assert.equal(JSON.parse(r.stdout).code, 999);
        assert.match(JSON.parse(r.stdout).msg, /calico CNI server: bad request/);
      }
    } finally {
      await server.close();
    }
  });

  it('takes over a stale socket, refuses a live one or a non-socket path', async () => {
    const path = join(dir, 'c.sock');
    const first = await startCniServer({ socketPath: path });
    await assert.rejects(startCniServer({ socketPath: path }), (e: unknown) => ResourceExistsError.isInstance(e));
    await first.close();
    // A socket file nobody listens on (a killed server leaves it behind): reclaimed.
    spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    assert.ok(lstatSync(path).isSocket(), 'stale socket file left behind');
    const second = await startCniServer({ socketPath: path });
    await second.close();
    const file = join(dir, 'plain');
    writeFileSync(file, 'x');
    await assert.rejects(startCniServer({ socketPath: file }), (e: unknown) => ValidationError.isInstance(e));
  });
});
