/**
 * Gauges the renderer against upstream's own confd golden cases (not shipped here):
 *   UPSTREAM_CONFD_TESTS=/path/to/calico/confd/tests node --import tsx --conditions=source test/bgp/upstream-eval.ts
 * Runs every one-shot case whose directory exists in both mock_data/calicoctl and
 * compiled_templates, in etcd and KDD flavours, and prints the pass rate and the failures.
 * Environment per case follows upstream's test tables (CALICO_ROUTER_ID for two mesh cases).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIRD_FILE_NAMES, normalizeBirdConfig, renderBirdConfigWithWarnings } from '@libcalico-ts/bgp';
import { optionsFor, readDocs } from './cases.js';
import type { GoldenCase } from './cases.js';

const root = process.env.UPSTREAM_CONFD_TESTS;
if (!root) throw new Error('set UPSTREAM_CONFD_TESTS to calico/confd/tests');
const ENV: Record<string, Record<string, string>> = {
  'mesh/static-routes-no-ipv4-address/step2': { CALICO_ROUTER_ID: '10.10.10.10' },
  'mesh/hash': { CALICO_ROUTER_ID: 'hash' },
  'mesh/static-routes-no-ipv4-address': { CALICO_ROUTER_ID: '10.10.10.10' },
};
const names = process.argv.slice(2);
let pass = 0;
let total = 0;
const failures: string[] = [];
for (const name of names) {
  const input = join(root, 'mock_data/calicoctl', name);
  const expectedDir = join(root, 'compiled_templates', name);
  if (!existsSync(join(input, 'input.yaml')) || !existsSync(join(expectedDir, 'bird.cfg'))) {
    console.log(`skip ${name}`);
    continue;
  }
  const steps: GoldenCase['steps'] = [];
  if (name.endsWith('/step2')) {
    const base = join(input, '..');
    const baseKube = existsSync(join(base, 'kubectl-input.yaml')) ? readDocs(join(base, 'kubectl-input.yaml')) : [];
    steps.push({ calico: readDocs(join(base, 'input.yaml')), kubernetes: baseKube });
  }
  const kube = existsSync(join(input, 'kubectl-input.yaml')) ? readDocs(join(input, 'kubectl-input.yaml')) : [];
  steps.push({ calico: readDocs(join(input, 'input.yaml')), kubernetes: kube });
  const c: GoldenCase = { name, steps, expectedDir, kddOnly: steps.some((s) => s.kubernetes.length > 0) };
  for (const mode of c.kddOnly ? (['kdd'] as const) : (['etcd', 'kdd'] as const)) {
    total++;
    try {
      const options = { ...optionsFor(c, mode), environment: ENV[name] ?? {} };
      const { files } = renderBirdConfigWithWarnings(options);
      const bad = BIRD_FILE_NAMES.filter(
        (f) => normalizeBirdConfig(files[f]) !== normalizeBirdConfig(readFileSync(join(expectedDir, f), 'utf8')),
      );
      if (bad.length === 0) pass++;
      else failures.push(`${name} (${mode}): ${bad.join(', ')}`);
    } catch (error) {
      failures.push(`${name} (${mode}): threw ${(error as Error).message}`);
    }
  }
}
console.log(`passed ${pass}/${total}`);
for (const f of failures) console.log(`FAIL ${f}`);
