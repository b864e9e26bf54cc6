import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '@libcalico-ts/api';
import { holdsPassword, reconfigureBird, removeStaleTempFiles, writeBirdFiles } from './bird-files.js';

const withDir = async (fn: (dir: string) => Promise<void>) => {
  const dir = mkdtempSync(join(tmpdir(), 'lcts-agent-bird-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

describe('BIRD file writer', () => {
  it('writes only changed files, atomically, 0600 when a password is inside', () =>
    withDir(async (dir) => {
      const first = await writeBirdFiles(dir, { 'bird.cfg': 'router id 1.2.3.4;\n', 'bird6.cfg': 'x\n' });
      assert.deepEqual(first.changed, ['bird.cfg', 'bird6.cfg']);
      assert.equal(statSync(join(dir, 'bird.cfg')).mode & 0o777, 0o644);
      const inode = statSync(join(dir, 'bird6.cfg')).ino;
      const second = await writeBirdFiles(dir, { 'bird.cfg': 'protocol bgp x {\n  password "s3cret";\n}\n', 'bird6.cfg': 'x\n' });
      assert.deepEqual(second, { changed: ['bird.cfg'], unchanged: ['bird6.cfg'] });
      assert.equal(statSync(join(dir, 'bird.cfg')).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir, 'bird6.cfg')).ino, inode, 'unchanged file not rewritten');
      assert.match(readFileSync(join(dir, 'bird.cfg'), 'utf8'), /s3cret/);
      assert.deepEqual(readdirSync(dir).sort(), ['bird.cfg', 'bird6.cfg'], 'no temporary files left');
    }));

  it('rejects path-like names without writing anything', () =>
    withDir(async (dir) => {
      await assert.rejects(writeBirdFiles(dir, { '../x.cfg': 'x' }), (e) => ValidationError.isInstance(e));
      assert.deepEqual(readdirSync(dir), []);
    }));

  it('removes temp files a killed writer left behind', () =>
    withDir(async (dir) => {
      writeFileSync(join(dir, '.bird.cfg.tmp-12345'), 'partial');
      writeFileSync(join(dir, 'bird.cfg'), 'kept');
      assert.deepEqual(await removeStaleTempFiles(dir), ['.bird.cfg.tmp-12345']);
      assert.deepEqual(readdirSync(dir), ['bird.cfg']);
    }));

  it('detects passwords', () => {
    assert.equal(holdsPassword('  password "abc";'), true);
    assert.equal(holdsPassword('# no password here'), false);
  });

  it('reports an unreachable BIRD socket without throwing', async () => {
    const result = await reconfigureBird('/nonexistent/bird.ctl');
    assert.equal(result.ok, false);
    assert.notEqual(result.output, '');
  });
});
