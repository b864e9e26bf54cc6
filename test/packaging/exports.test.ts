/**
 * Every published package can be loaded from outside the repository, both as ESM (`import()`)
 * and as CommonJS (`require()`), through its package.json `exports` — from the built `dist/`,
 * never from the `source` condition the test runner uses. Needs `npm run build` first (npm test
 * does it).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const packagesDir = join(root, 'packages');

interface Manifest {
  name: string;
  version: string;
  exports: Record<string, unknown>;
  engines?: { node?: string };
  sideEffects?: boolean;
  type?: string;
}

const manifests: Manifest[] = readdirSync(packagesDir)
  .filter((d) => existsSync(join(packagesDir, d, 'package.json')))
  .map((d) => JSON.parse(readFileSync(join(packagesDir, d, 'package.json'), 'utf8')) as Manifest);

/** Entry points of a package: `name` plus `name/<subpath>` for each non-package.json export. */
function entryPoints(m: Manifest): string[] {
  return Object.keys(m.exports)
    .filter((k) => k !== './package.json')
    .map((k) => (k === '.' ? m.name : `${m.name}/${k.slice(2)}`));
}

describe('packaging', () => {
  let scratch: string;
  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'lcts-exports-'));
    // A project outside the repository that sees the installed packages, as a user's would.
    symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'), 'dir');
    writeFileSync(join(scratch, 'package.json'), '{"name":"scratch","private":true}\n');
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('finds every package', () => {
    assert.ok(manifests.length >= 11, `expected the 11 packages, found ${manifests.map((m) => m.name).join(', ')}`);
  });

  it('keeps all workspace versions in lockstep', () => {
    const versions = new Set(manifests.map((m) => m.version));
    assert.equal(versions.size, 1, `versions differ: ${manifests.map((m) => `${m.name}@${m.version}`).join(', ')}`);
    for (const m of manifests) {
      const pkg = JSON.parse(readFileSync(join(packagesDir, m.name.split('/')[1]!, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
      };
      for (const [dep, range] of Object.entries(pkg.dependencies ?? {})) {
        if (dep.startsWith('@libcalico-ts/')) assert.equal(range, m.version, `${m.name} depends on ${dep}@${range}`);
      }
    }
  });

  it('declares ESM, engines, sideEffects and types-first exports', () => {
    for (const m of manifests) {
      assert.equal(m.type, 'module', m.name);
      assert.equal(m.sideEffects, false, m.name);
      assert.match(m.engines?.node ?? '', />=\s*20/, m.name);
      for (const [sub, target] of Object.entries(m.exports)) {
        if (sub === './package.json') continue;
        const branches = target as Record<string, unknown>;
        for (const condition of ['import', 'require']) {
          const branch = branches[condition] as Record<string, string>;
          assert.equal(Object.keys(branch)[0], 'types', `${m.name} ${sub} ${condition}: "types" must come first`);
          assert.match(branch.types!, condition === 'import' ? /\.d\.ts$/ : /\.d\.cts$/, `${m.name} ${sub} ${condition}`);
        }
      }
    }
  });

  for (const m of manifests) {
    for (const entry of entryPoints(m)) {
      it(`${entry}: import() and require() give the same named exports`, () => {
        const script = `
          const esm = await import(${JSON.stringify(entry)});
          const { createRequire } = await import('node:module');
          const require = createRequire(process.cwd() + '/');
          const cjs = require(${JSON.stringify(entry)});
          const names = (o) => Object.keys(o).filter((k) => k !== 'default' && k !== 'module.exports').sort();
          console.log(JSON.stringify({ esm: names(esm), cjs: names(cjs), cjsFile: require.resolve(${JSON.stringify(entry)}) }));
        `;
        const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
          cwd: scratch,
          encoding: 'utf8',
          env: { ...process.env, NODE_OPTIONS: '' },
        });
        const { esm, cjs, cjsFile } = JSON.parse(out.trim().split('\n').pop()!) as { esm: string[]; cjs: string[]; cjsFile: string };
        assert.deepEqual(cjs, esm, `${entry}: CommonJS and ESM exports differ`);
        assert.match(cjsFile, /[\\/]dist[\\/].*\.cjs$/, `${entry}: require() must load the built CommonJS file, got ${cjsFile}`);
      });
    }
  }
});
