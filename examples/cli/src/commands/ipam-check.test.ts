import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryDatastore } from '@libcalico-ts/datastore';
import { runCli } from '../cli.js';
import { memoryIO } from '../io.js';

describe('ipam check: affinity records an interrupted release or claim left', () => {
  it('prints one line per stranded and pending affinity, and the stranded count is in the problems', async () => {
    const ds = createMemoryDatastore();
    await ds.createKV({ type: 'resource', kind: 'IPPool', name: 'p' }, {
      kind: 'IPPool',
      apiVersion: 'projectcalico.org/v3',
      metadata: { name: 'p' },
      spec: { cidr: '10.0.0.0/24' },
    } as never);
    // A release killed after deleting its block: pendingDeletion record, no block.
    await ds.createKV({ type: 'blockAffinity', host: 'node-1', cidr: '10.0.0.64/26' }, { state: 'pendingDeletion', deleted: false } as never);
    // A claim killed before creating its block: pending record, no block (not a problem).
    await ds.createKV({ type: 'blockAffinity', host: 'node-2', cidr: '10.0.0.128/26' }, { state: 'pending', deleted: false } as never);
    const dir = mkdtempSync(join(tmpdir(), 'cli-ipam-check-'));
    try {
      const snapshot = join(dir, 'snapshot.json');
      writeFileSync(snapshot, ds.snapshot());
      const io = memoryIO({ DATASTORE_TYPE: 'memory', MEMORY_SNAPSHOT: snapshot });
      const code = await runCli(['ipam', 'check'], io);
      assert.equal(code, 0, io.err);
      assert.match(io.out, /\nScanning for stranded block affinities\.\.\.\n  BlockAffinity node-1\/10\.0\.0\.64\/26 \(host\) is stuck in state pendingDeletion: its block does not exist\.\nFound 1 stranded block affinities/);
      assert.match(io.out, /\n  BlockAffinity node-2\/10\.0\.0\.128\/26 \(host\) is in state pending: its block does not exist\.\nFound 1 pending block affinities without their block/);
      assert.match(io.out, /Check complete; found 1 problems\.\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
