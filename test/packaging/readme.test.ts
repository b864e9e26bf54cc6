/**
 * The TypeScript example in README.md runs as written (through the packages' sources) and prints
 * an address from node-1's affine block.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('the README example runs', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README has a ts example');
  // Inside the repository, so that the packages resolve as they do for a user of the workspace.
  const file = join(root, 'test', 'packaging', `.readme-example-${process.pid}.ts`);
  writeFileSync(file, block[1]!);
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--conditions=source', file], { cwd: root, encoding: 'utf8' });
    assert.match(out, /\[ '10\.244\.\d+\.\d+\/26' \]/);
  } finally {
    rmSync(file, { force: true });
  }
});
