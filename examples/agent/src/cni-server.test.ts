import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '@libcalico-ts/api';
import { parseArgs } from './cli.js';
import { startAgentCniServer } from './cni-server.js';
import { createLogger } from './log.js';

describe('calico-agent run --cni-socket', () => {
  it('parses the option for run only, as an absolute path, and not with --netns', () => {
    assert.equal(parseArgs(['run', '--node', 'n1', '--cni-socket', '/var/run/calico/cni-server.sock']).cniSocket, '/var/run/calico/cni-server.sock');
    assert.equal(parseArgs(['run', '--node', 'n1']).cniSocket, undefined);
    for (const argv of [
      ['routes', '--node', 'n1', '--cni-socket', '/x.sock'],
      ['run', '--node', 'n1', '--cni-socket', 'relative.sock'],
      ['run', '--node', 'n1', '--netns', 'ns1', '--cni-socket', '/x.sock'],
    ]) {
      assert.throws(() => parseArgs(argv), (e: unknown) => ValidationError.isInstance(e) && (e as ValidationError).fields.some((f) => f.name === '--cni-socket'), argv.join(' '));
    }
  });

  it('serves CNI invocations on the socket and logs them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lcts-agent-cni-'));
    const lines: string[] = [];
    const server = await startAgentCniServer(join(dir, 'cni.sock'), createLogger('debug', (line) => lines.push(line)));
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(server.socketPath);
        let text = '';
        socket.on('data', (d) => (text += d.toString('utf8')));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
        socket.write(`${JSON.stringify({ plugin: 'calico-ipam', env: { CNI_COMMAND: 'VERSION' }, stdin: '' })}\n`);
      });
      const parsed = JSON.parse(reply) as { exitCode: number; stdout: string };
      assert.equal(parsed.exitCode, 0);
      assert.ok((JSON.parse(parsed.stdout) as { supportedVersions: string[] }).supportedVersions.includes('1.0.0'));
      assert.ok(lines.some((l) => l.includes('serving the CNI plugins')));
      assert.ok(lines.some((l) => l.includes('CNI invocation') && l.includes('VERSION')));
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
