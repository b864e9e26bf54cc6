/**
 * Real BIRD 2 (`bird -p`) parses every configuration the renderer produces in the `bird2`
 * dialect: each confd fixture case and a scenario that switches on nearly every feature.
 * (The default `calico` dialect is the syntax of Calico's BIRD 1.x fork, which stock BIRD 2
 * refuses, as it refuses upstream's own golden files; see the last test.)
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { renderBirdConfig } from '@libcalico-ts/bgp';
import type { RenderBirdConfigOptions } from '@libcalico-ts/bgp';
import { birdAvailable, birdParse, writeConfigDir } from '../helpers/bird.js';
import { FIXTURES_DIR, listCases, optionsFor } from './cases.js';
import { kitchenSink } from './kitchen-sink.js';

const skip = birdAvailable() ? false : 'bird2 not installed';
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function parsesBoth(options: RenderBirdConfigOptions): Promise<Record<string, string>> {
  const files = renderBirdConfig({ ...options, dialect: 'bird2' });
  const dir = writeConfigDir(files);
  dirs.push(dir);
  for (const main of ['bird.cfg', 'bird6.cfg']) {
    assert.equal(await birdParse(join(dir, main)), '', `${main} in ${dir} does not parse`);
  }
  return files;
}

describe('bird -p accepts the bird2 dialect', { skip }, () => {
  for (const c of listCases()) {
    it(c.name, async () => {
      await parsesBoth(optionsFor(c, 'kdd'));
    });
  }

  it('a scenario using nearly every feature', async () => {
    const files = await parsesBoth(kitchenSink());
    // The features really are in the parsed files.
    assert.match(files['bird.cfg'], /password "tor-secret";/);
    assert.match(files['bird.cfg'], /ttl security on;\n {2}multihop 2;/);
    assert.match(files['bird.cfg'], /rr cluster id 224\.0\.0\.1;/);
    assert.match(files['bird.cfg'], /function 'bgp_everything_importFilterV4'\(bool is_same_as\) \{/);
    assert.match(files['bird.cfg'], /'bgp_a-very-long-bgp-filter-name-_[0-9A-F]{16}_exportFilterV4'\(\);/);
    assert.match(files['bird6.cfg'], /local fd00::1 port 1790 as 65010;/);
    assert.match(files['bird_aggr.cfg'], /route 192\.0\.2\.1\/32 via 10\.0\.0\.254;/);
    assert.match(files['bird_ipam.cfg'], /WireGuard routes handled by Felix/);
  });

  it('with no IPv4 address and no router id, the bird2 files still parse (BIRD picks an id)', async () => {
    const options = kitchenSink();
    const resources = options.resources.map((r) =>
      r.kind === 'Node' && (r as { metadata: { name: string } }).metadata.name === 'node-1'
        ? { ...r, spec: { bgp: { ipv6Address: 'fd00::1/64' } } }
        : r,
    );
    await parsesBoth({ ...options, resources });
  });

  it('stock BIRD 2 refuses the calico (BIRD 1.x fork) dialect, as it refuses upstream golden files', async () => {
    const golden = join(FIXTURES_DIR, 'mesh/ipip-always/expected');
    const files: Record<string, string> = {};
    for (const f of ['bird.cfg', 'bird_aggr.cfg', 'bird_ipam.cfg']) files[f] = readFileSync(join(golden, f), 'utf8');
    const dir = writeConfigDir(files);
    dirs.push(dir);
    assert.match(await birdParse(join(dir, 'bird.cfg')), /syntax error/);
  });
});
