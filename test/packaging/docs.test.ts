/**
 * `npm run docs` builds one API site for every package with no warnings (typedoc.json sets
 * `treatWarningsAsErrors`): every type a public signature names must be exported and documented.
 * Needs `npm run build` first (npm test does it): packages see each other through their `.d.ts`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('typedoc builds the API site with no warnings', { timeout: 600_000 }, () => {
  const out = mkdtempSync(join(tmpdir(), 'lcts-docs-'));
  try {
    const result = spawnSync(process.execPath, [join(root, 'node_modules/typedoc/bin/typedoc'), '--options', 'typedoc.json', '--out', out], {
      cwd: root,
      encoding: 'utf8',
    });
    const output = `${result.stdout}\n${result.stderr}`;
    assert.equal(result.status, 0, `typedoc failed:\n${output.split('\n').filter((l) => /warning|error/i.test(l)).join('\n')}`);
    assert.ok(existsSync(join(out, 'index.html')), 'the site has an index page');
    for (const name of ['net', 'selector', 'api', 'datastore', 'ipam', 'client', 'routes', 'bgp', 'dataplane']) {
      assert.match(output + '\n', new RegExp(`packages/${name}\\b`), `typedoc converted ${name}`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
