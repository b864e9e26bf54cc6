// IPAM on a 3-member REAL etcd cluster whose leader is SIGKILLed every few seconds while
// allocators run.
//
// Size: CI-sized by default (inside `npm test`): ~2,000 allocations, 2 leader kills.
// LIBCALICO_RELIABILITY_FULL=1: 20,000 allocations, a leader kill every 4 s for the whole run.
//
// Asserts: 0 duplicates; 0 acknowledged allocations lost (every address autoAssign returned is
// still allocated to its handle at the end); a failed request holds at most what it asked for;
// every failure is a typed, retryable error (`isRetryable`); and after every kill allocations
// resume within RECOVERY_BOUND_MS (non-zero progress once a new leader is elected).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Datastore } from '@libcalico-ts/datastore';
import { createEtcdDatastore } from '@libcalico-ts/datastore-etcd';
import { createIPAM } from '@libcalico-ts/ipam';
import { seededRandom } from '@libcalico-ts/ipam/testing';
import { startEtcdCluster, type EtcdCluster } from '../helpers/etcd.js';
import { AllocationLedger, FULL, assertHealthyIPAM, delay, seed as put, sized } from '../helpers/reliability.js';

const TARGET = sized(2_000, 20_000);
const KILLS = sized(2, Number.POSITIVE_INFINITY);
const KILL_EVERY_MS = sized(3_000, 4_000);
/** A killed member stays down this long before it is restarted (the cluster keeps quorum). */
const DOWN_MS = 1_500;
const WORKERS = 16;
const CLIENTS = 4;
/** After a kill, at least one allocation must complete within this bound. */
const RECOVERY_BOUND_MS = 10_000;

let cluster: EtcdCluster;
const opened: Datastore[] = [];

before(async () => {
  cluster = await startEtcdCluster(3);
});
after(async () => {
  for (const ds of opened) await ds.close().catch(() => {});
  await cluster?.stop();
});

function connect(): Datastore {
  const ds = createEtcdDatastore({ endpoints: cluster.endpoints, dialTimeoutMs: 3_000, requestTimeoutMs: 3_000 });
  opened.push(ds);
  return ds;
}

test(`leader SIGKILLed every ${KILL_EVERY_MS / 1000} s during ${TARGET} allocations${FULL ? ' (full size)' : ''}: nothing lost, nothing twice, progress resumes`, async (t) => {
  const setup = connect();
  await put.pool(setup, 'leader-kill', '10.96.0.0/16', { blockSize: 24 });
  const hosts = Array.from({ length: WORKERS }, (_, i) => `lk-${i}`);
  for (const h of hosts) await put.node(setup, h);
  const stores = Array.from({ length: CLIENTS }, () => connect());

  const ledger = new AllocationLedger();
  const ackTimes: number[] = [];
  const kills: { at: number; member: number }[] = [];
  let killsDone = false;
  let stop = false;
  const started = Date.now();

  const killer = (async () => {
    try {
      // Kill until the target is reached (full size: KILLS is unbounded), at least twice.
      while (!stop && kills.length < KILLS && !(kills.length >= 2 && ledger.acknowledgedCount >= TARGET)) {
        await delay(KILL_EVERY_MS);
        if (stop) break;
        const leader = await cluster.leader();
        kills.push({ at: Date.now(), member: leader });
        await cluster.killMember(leader);
        await delay(DOWN_MS);
        await cluster.restartMember(leader);
      }
    } finally {
      killsDone = true;
    }
  })();

  const workers = hosts.map(async (host, w) => {
    const ipam = createIPAM(stores[w % CLIENTS]!, { random: seededRandom(500 + w), maxRetryJitterMs: 3 });
    for (let k = 0; ; k++) {
      // Run until the target is reached AND the kills are over (plus a little), so every kill
      // happens under load and recovery after the last one is observed.
      if (ledger.acknowledgedCount >= TARGET && killsDone) break;
      if (Date.now() - started > 20 * 60_000) throw new Error('leader-kill run exceeded 20 minutes');
      const handle = `lk.${w}.${k}`;
      try {
        const out = await ipam.autoAssign({ num4: 1, hostname: host, intendedUse: 'Workload', handleId: handle });
        const ips = out.ipv4?.ips ?? [];
        assert.equal(ips.length, 1, `${handle}: the pool has room, one address expected`);
        ledger.ack(handle, ips);
        ackTimes.push(Date.now());
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        ledger.fail(handle, 1, error);
        await delay(50);
      }
    }
  });
  try {
    await Promise.all(workers);
  } finally {
    stop = true;
    await killer;
  }
  const ms = Date.now() - started;

  // Per-second buckets of completed allocations, for the record and for the recovery check.
  const buckets = new Map<number, number>();
  for (const at of ackTimes) buckets.set(Math.floor((at - started) / 1000), (buckets.get(Math.floor((at - started) / 1000)) ?? 0) + 1);
  const series = Array.from({ length: Math.ceil(ms / 1000) }, (_, s) => buckets.get(s) ?? 0);
  t.diagnostic(`${ledger.acknowledgedCount} allocations in ${ms} ms, ${kills.length} leader kills at s=${kills.map((k) => ((k.at - started) / 1000).toFixed(1)).join(',')}`);
  t.diagnostic(`allocations/s per second: ${series.join(' ')}`);
  t.diagnostic(`${ledger.errors.length} failed request(s): ${[...new Set(ledger.errors.map((e) => `${e.name}${e.retryable ? '' : ' (NOT retryable)'}`))].join(', ')}`);

  assert.ok(kills.length >= Math.min(KILLS, 2), `at least two leader kills happened (${kills.length})`);
  for (const kill of kills) {
    const resumed = ackTimes.find((at) => at > kill.at);
    assert.ok(resumed !== undefined, `no allocation completed after the kill at ${kill.at - started} ms`);
    assert.ok(
      resumed - kill.at <= RECOVERY_BOUND_MS,
      `allocations resumed ${resumed - kill.at} ms after the leader kill at ${kill.at - started} ms (bound ${RECOVERY_BOUND_MS} ms)`,
    );
  }

  const untyped = ledger.errors.filter((e) => !e.typed);
  assert.deepEqual(untyped.slice(0, 5), [], 'every failure is a CalicoError');
  const notRetryable = ledger.errors.filter((e) => !e.retryable);
  assert.deepEqual(notRetryable.slice(0, 5), [], 'every failure during a leader change is retryable');

  // Verify on a fresh connection once the cluster is whole again.
  const verifier = createIPAM(connect());
  const health = await assertHealthyIPAM(verifier, { allowUnusedAllocations: true });
  const { extraFromFailures } = ledger.assertAgainst(health.owners);
  t.diagnostic(`${extraFromFailures} address(es) held by failed requests (write applied, answer lost): reclaimable by gc, never duplicated`);
  assert.ok(ledger.acknowledgedCount >= TARGET);
});
