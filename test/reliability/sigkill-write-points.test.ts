// SIGKILL of an allocating PROCESS at every IPAM datastore write point, on REAL etcd.
//
// A child process (test/helpers/reliability-child.ts) runs a CNI-and-node-agent workload
// (IPAM config, pod ADDs that claim blocks, DELs, releasing a node's affinities with empty and
// non-empty blocks) and SIGKILLs itself at write point P, before or after its N-th write there.
// Then, as Kubernetes and Calico would: the kubelet repeats CNI DEL for the interrupted pod
// (twice: it must succeed both times) and re-runs ADD in a new sandbox; an interrupted node
// operation is repeated; the IPAM GC runs (check, grace period, gc). Finally the datastore must
// be clean: 0 leaked addresses or handles, 0 duplicates, no pending affinity (gc deletes the stranded `pendingDeletion` records an interrupted release leaves), handle counts =
// allocations, every live endpoint's address held by its pod's handle.
//
// Both commit protocols run: one etcd transaction per block + handle (atomic, the default) and
// Calico's two sequential CAS writes (handle:increment / handle:decrement points).
//
// Size: CI-sized by default (inside `npm test`): every point reached, N = first and last hit,
// both sides of the write, atomic protocol; two-write protocol at its own points.
// LIBCALICO_RELIABILITY_FULL=1: every N of every point, both sides, both protocols.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ResourceNotFoundError } from '@libcalico-ts/api';
import type { Datastore } from '@libcalico-ts/datastore';
import { createIPAM, WRITE_POINTS, type IPAM, type WritePoint } from '@libcalico-ts/ipam';
import { FakeClock } from '@libcalico-ts/ipam/testing';
import { handleOf, workload, type ChildConfig, type Step } from '../helpers/reliability-workload.js';
import { FULL, assertHealthyIPAM, seed as put, startEtcdFixture, withTimeout, type EtcdFixture } from '../helpers/reliability.js';

const CHILD = fileURLToPath(new URL('../helpers/reliability-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Points no step of this workload reaches, with the reason (printed, not silently skipped). */
const UNREACHED_REASON: Partial<Record<WritePoint, string>> = {
  'claimAffinity:touchBlock': 'needs a non-confirmed affinity record for a block that already names the host (left by an earlier crash); covered in-process by test/ipam/faults.test.ts',
  'claimAffinity:deleteStale': 'needs an affinity record contradicting its block (a lost claim race); covered by the racing suites',
  'gc:deleteHandle': 'written by gc, which runs in the test process here (after the kill), not in the killed child',
  'gc:deleteAffinity': 'written by gc (stranded affinity records), which runs in the test process here (after the kill), not in the killed child',
};

let etcd: EtcdFixture;
let run = 0;
before(async () => {
  etcd = await startEtcdFixture();
});
after(async () => {
  await etcd?.stop();
});

interface ChildOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  records: { op: string; step?: Step; counts?: Record<string, number>; message?: string }[];
  stderr: string;
}

function runChild(config: ChildConfig): Promise<ChildOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', CHILD], {
      cwd: ROOT,
      env: { ...process.env, RELIABILITY_CHILD: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const records = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as ChildOutcome['records'][number]);
      resolve({ code, signal, records, stderr });
    });
  });
}

/** Fresh Calico tree with the pool and nodes the workload uses. */
async function prepare(ds: Datastore): Promise<void> {
  await etcd.wipe();
  await put.pool(ds, 'sigkill', '10.128.0.0/24', { blockSize: 29 });
  for (const h of ['a', 'b', 'c']) await put.node(ds, h);
}

/** CNI DEL as the plugin does it: release by handle, delete the endpoint; "not found" is success. */
async function cniDel(ipam: IPAM, ds: Datastore, pod: string): Promise<void> {
  try {
    await ipam.releaseByHandle(handleOf(pod));
  } catch (error) {
    if (!ResourceNotFoundError.isInstance(error)) throw error;
  }
  try {
    await ds.deleteKV({ type: 'resource', kind: 'WorkloadEndpoint', namespace: 'default', name: pod });
  } catch (error) {
    if (!ResourceNotFoundError.isInstance(error)) throw error;
  }
}

async function cniAdd(ipam: IPAM, ds: Datastore, pod: string, host: string): Promise<string> {
  const out = await ipam.autoAssign({ num4: 1, hostname: host, intendedUse: 'Workload', handleId: handleOf(pod), attrs: { node: host, namespace: 'default', pod } });
  const ip = out.ipv4!.ips[0]!.split('/')[0]!;
  await put.endpoint(ds, 'default', pod, host, [`${ip}/32`]);
  return ip;
}

/**
 * What the cluster does after the process died in `interrupted`, then GC, then the assertions.
 * Returns how many addresses the GC released.
 */
async function recoverAndVerify(ds: Datastore, interrupted: Step | undefined, atomic: boolean): Promise<{ gcReleased: number; gcHandles: number; gcAffinities: number }> {
  const clock = new FakeClock(Date.now());
  const ipam = createIPAM(ds, { clock, useTransactions: atomic });
  if (interrupted?.kind === 'add') {
    // The kubelet tears the sandbox down (DEL, retried: both must succeed) and starts a new one.
    await cniDel(ipam, ds, interrupted.pod);
    await cniDel(ipam, ds, interrupted.pod);
    await cniAdd(ipam, ds, `${interrupted.pod}-retry`, interrupted.host);
  } else if (interrupted?.kind === 'del') {
    await cniDel(ipam, ds, interrupted.pod);
    await cniDel(ipam, ds, interrupted.pod);
  } else if (interrupted?.kind === 'releaseHost') {
    await ipam.releaseHostAffinities({ host: interrupted.host });
  } else if (interrupted?.kind === 'config') {
    await ipam.setIPAMConfig({ strictAffinity: false, autoAllocateBlocks: true });
  }
  // kube-controllers' IPAM GC: a first pass records leaks, the grace period passes, gc releases.
  const first = await ipam.check();
  clock.advance(16 * 60_000);
  const gc = await ipam.gc({ previous: first });
  const health = await assertHealthyIPAM(ipam, { allowUnusedAllocations: false });

  // Every live endpoint's address is held by its pod's handle, once.
  const weps = (await ds.listKV({ type: 'resource', kind: 'WorkloadEndpoint' })).items;
  for (const w of weps) {
    const ip = String((w.value as { spec: { ipNetworks: string[] } }).spec.ipNetworks[0]).split('/')[0]!;
    assert.equal(health.owners.get(ip), handleOf(w.key.name), `endpoint ${w.key.name}'s address ${ip} is held by its handle`);
  }
  assert.equal(health.owners.size, weps.length, 'every allocation belongs to a live endpoint');
  // The node keeps working: a new pod on every host that still allocates.
  await cniAdd(ipam, ds, 'after-recovery', 'a');
  await assertHealthyIPAM(ipam, { allowUnusedAllocations: false });
  return { gcReleased: gc.released.length, gcHandles: gc.deletedHandles.length, gcAffinities: gc.deletedAffinities.length };
}

function interruptedStep(records: ChildOutcome['records']): Step | undefined {
  let open: Step | undefined;
  for (const r of records) {
    if (r.op === 'start') open = r.step;
    if (r.op === 'done') open = undefined;
  }
  return open;
}

for (const atomic of [true, false]) {
  const protocol = atomic ? 'atomic block+handle transaction' : 'two CAS writes (handle, then block)';
  describe(`SIGKILL at every write point, ${protocol}${FULL ? ' (full size)' : ''}`, () => {
    let counts: Record<string, number> = {};
    let dryRunOk = false;

    test('an uninterrupted run: the workload completes, reaches its write points, and the datastore is clean', async (t) => {
      const ds = await etcd.connect();
      try {
        await prepare(ds);
        const out = await runChild({ endpoints: etcd.endpoints, atomic, run: `r${run++}` });
        assert.equal(out.code, 0, `child failed: ${out.stderr.slice(-2000)} ${JSON.stringify(out.records.at(-1))}`);
        counts = out.records.find((r) => r.op === 'points')!.counts!;
        dryRunOk = true;
        t.diagnostic(`write points reached: ${JSON.stringify(counts)}`);
        const steps = workload('x');
        assert.equal(out.records.filter((r) => r.op === 'done').length, steps.length);
        await recoverAndVerify(ds, undefined, atomic);
        for (const p of ['assign:commit', 'release:commit', 'config:write', 'releaseAffinity:pendingDeletion', 'releaseAffinity:deleteBlock', 'releaseAffinity:updateBlock', 'releaseAffinity:deleteAffinity'] as WritePoint[]) {
          assert.ok((counts[p] ?? 0) > 0, `the workload reaches ${p}`);
        }
        // Block claims: the claim protocol's points (or an engine's combined claim-and-commit point).
        const claimPoints = Object.keys(counts).filter((p) => /claim/i.test(p));
        assert.ok(claimPoints.length > 0, `the workload claims blocks (points reached: ${Object.keys(counts).join(', ')})`);
        if (!atomic) assert.ok((counts['handle:increment'] ?? 0) > 0 && (counts['handle:decrement'] ?? 0) > 0, 'two-write protocol reaches the handle points');
        for (const p of WRITE_POINTS) {
          if (!counts[p]) t.diagnostic(`not reached by this workload: ${p} — ${UNREACHED_REASON[p] ?? (atomic ? 'handles are written in the block transaction' : 'no reason recorded')}`);
        }
      } finally {
        await ds.close();
      }
    });

    // The kill cases are generated from the counts of the uninterrupted run; node:test needs
    // tests declared up front, so one test per (point, side) iterates the N values.
    for (const point of WRITE_POINTS) {
      for (const when of ['before', 'after'] as const) {
        const inCI = atomic || point.startsWith('handle:') || point === 'assign:commit' || point === 'release:commit';
        if (!FULL && !inCI) continue;
        test(`SIGKILL ${when} the write at ${point}`, async (t) => {
          assert.ok(dryRunOk, 'the uninterrupted run (which counts the write points) failed: see the first test of this group');
          const hits = counts[point] ?? 0;
          if (hits === 0) {
            t.diagnostic(`${point} is not reached by this workload: ${UNREACHED_REASON[point] ?? 'handles are written in the block transaction'}`);
            assert.ok(UNREACHED_REASON[point] || atomic, `${point} unexpectedly not reached`);
            return;
          }
          const nths = FULL ? Array.from({ length: hits }, (_, i) => i + 1) : [...new Set([1, hits])];
          for (const nth of nths) {
            const ds = await etcd.connect();
            try {
              await prepare(ds);
              const out = await withTimeout(
                runChild({ endpoints: etcd.endpoints, atomic, run: `r${run++}`, kill: { point, nth, when } }),
                90_000,
                `child killed at ${point} #${nth}`,
              );
              assert.equal(out.signal, 'SIGKILL', `the child died by SIGKILL at ${point} #${nth} ${when} (code ${out.code}): ${out.stderr.slice(-1500)}`);
              assert.ok(out.records.some((r) => r.op === 'dying'), 'it died at the armed point');
              const interrupted = interruptedStep(out.records);
              const { gcReleased, gcHandles, gcAffinities } = await recoverAndVerify(ds, interrupted, atomic);
              t.diagnostic(
                `#${nth}: interrupted ${interrupted ? JSON.stringify(interrupted) : 'nothing'}; gc released ${gcReleased} address(es), ${gcHandles} handle(s), ${gcAffinities} stranded affinity record(s)`,
              );
            } finally {
              await ds.close();
            }
          }
        });
      }
    }
  });
}
