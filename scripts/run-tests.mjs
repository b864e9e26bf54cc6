#!/usr/bin/env node
// Runs every test file of the repository with node:test through tsx.
// Node 20's `node --test` does not glob .ts files, so the list is built here.
//   node scripts/run-tests.mjs            all tests
//   node scripts/run-tests.mjs --unit     only tests beside the code (packages/*, examples/*)
//   node scripts/run-tests.mjs FILTER...  only files whose path contains one of FILTER
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const roots = unitOnly ? ['packages', 'examples'] : ['packages', 'examples', 'test'];
let files = roots.flatMap((r) => walk(join(root, r), [])).sort();
if (filters.length > 0) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--conditions=source', '--test', '--test-concurrency=2', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, LIBCALICO_TS_ROOT: root } },
);
process.exit(result.status ?? 1);
