/**
 * Golden tests: every confd fixture case renders identically to upstream's expected files
 * (compared as upstream does: blank lines dropped, one final newline), for both datastore
 * flavours upstream runs (etcd: YAML labels only; KDD: plus Kubernetes Node labels and Services).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIRD_FILE_NAMES, normalizeBirdConfig, renderBirdConfigWithWarnings } from '@libcalico-ts/bgp';
import { FIXTURES_DIR, listCases, optionsFor } from './cases.js';

describe('confd golden cases', () => {
  it('finds the fixture directory', () => {
    assert.ok(existsSync(FIXTURES_DIR), `fixtures not found at ${FIXTURES_DIR} (set CONFD_FIXTURES_DIR)`);
  });
  const cases = existsSync(FIXTURES_DIR) ? listCases() : [];
  it('has all 13 cases (11 + two step2)', () => {
    assert.equal(cases.length, 13, cases.map((c) => c.name).join(', '));
  });
  for (const c of cases) {
    for (const mode of c.kddOnly ? (['kdd'] as const) : (['etcd', 'kdd'] as const)) {
      it(`${c.name} (${mode})`, () => {
        const { files } = renderBirdConfigWithWarnings(optionsFor(c, mode));
        for (const file of BIRD_FILE_NAMES) {
          const expected = normalizeBirdConfig(readFileSync(join(c.expectedDir, file), 'utf8'));
          assert.equal(normalizeBirdConfig(files[file]), expected, `${c.name} ${file}`);
        }
      });
    }
  }
});
