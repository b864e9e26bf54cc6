/**
 * Shared pieces of the reliability, fuzz and security suites (test/reliability, test/fuzz,
 * test/security).
 *
 * Size switch: the suites run CI-sized by default (inside `npm test`); set
 * `LIBCALICO_RELIABILITY_FULL=1` for the full-size runs (ten times upstream's racing test, 20,000
 * allocations under leader kills, every N at every write point, longer fuzzing).
 *
 * The IPAM health check here is stricter than `ipam.check()` alone: it also asserts the affinity
 * state machine (exactly one confirmed affinity per owned block, no `pending` /
 * `pendingDeletion` left behind, no affinity record contradicting its block) and that no address
 * appears twice across blocks.
 */
import assert from 'node:assert/strict';
import { CalicoError } from '@libcalico-ts/api';
import type { Datastore } from '@libcalico-ts/datastore';
import type { IPAM, IPAMCheckReport } from '@libcalico-ts/ipam';

/** True when `LIBCALICO_RELIABILITY_FULL=1`: full-size runs. */
export const FULL = process.env.LIBCALICO_RELIABILITY_FULL === '1';

/** Picks the CI value or the full-size value. */
export function sized<T>(ci: T, full: T): T {
  return FULL ? full : ci;
}

/** Resolves with `promise`, or rejects after `ms` with a message naming `what`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `10.0.0.5/26` -> `10.0.0.5`. */
export function bareIP(ipWithPrefix: string): string {
  return ipWithPrefix.split('/')[0]!;
}

/** A seeded uniform [0, 1) generator (mulberry32), independent of the ipam test kit. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle with a seeded generator (returns a new array). */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
export async function mapLimit<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return out;
}

export interface HealthOptions {
  /**
   * Allocations without a WorkloadEndpoint or Node using them are "leaked" for `check()`. Suites
   * that allocate without recording endpoints pass true (then only structure, handles and
   * affinities are checked); suites that model CNI (endpoint per address) pass false.
   */
  allowUnusedAllocations?: boolean;
}

export interface HealthSummary {
  report: IPAMCheckReport;
  /** Active (not cooling down) allocations: bare IP -> handle. */
  owners: Map<string, string | null>;
  blocks: number;
  confirmedAffinities: number;
}

function cidrRange(cidr: string): { start: bigint; end: bigint; v6: boolean } {
  const [ip, prefix] = cidr.split('/');
  const v6 = ip!.includes(':');
  let value = 0n;
  if (!v6) {
    for (const p of ip!.split('.')) value = value * 256n + BigInt(p);
  } else {
    const [l, r] = ip!.split('::');
    const lg = l ? l.split(':') : [];
    const rg = r ? r.split(':') : [];
    const groups = r === undefined ? lg : [...lg, ...Array<string>(8 - lg.length - rg.length).fill('0'), ...rg];
    for (const g of groups) value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  const bits = v6 ? 128 : 32;
  return { start: value, end: value + (1n << BigInt(bits - Number(prefix))), v6 };
}

/**
 * Runs `ipam.check()` and asserts a healthy datastore:
 * - no invalid block, no handle count different from the allocations, no leaked handle, no
 *   missing handle, nothing in use but unallocated, and (unless allowed) no leaked address;
 * - no address twice (no two allocations of one IP, no overlapping blocks);
 * - affinities: no `pending` / `pendingDeletion` record, every confirmed record names a block
 *   whose `affinity` is that host, and every owned block has exactly one confirmed record.
 */
export async function assertHealthyIPAM(ipam: IPAM, options: HealthOptions = {}): Promise<HealthSummary> {
  const report = await ipam.check();
  const detail = (what: string, list: unknown[]) => `${what}: ${list.length} ${JSON.stringify(list.slice(0, 5))}`;
  assert.deepEqual(report.invalidBlocks, [], detail('invalid blocks', report.invalidBlocks));
  assert.deepEqual(report.handleCountMismatches, [], detail('handle counts different from allocations', report.handleCountMismatches));
  assert.deepEqual(report.leakedHandles, [], detail('leaked handles', report.leakedHandles));
  assert.deepEqual(report.missingHandles, [], detail('missing handles', report.missingHandles));
  assert.deepEqual(report.inUseNotAllocated.insidePools, [], 'in use but not allocated (inside pools)');
  assert.deepEqual(report.inUseNotAllocated.outsidePools, [], 'in use but not allocated (outside pools)');
  if (!options.allowUnusedAllocations) {
    assert.equal(report.leakedIPs.length, 0, detail('leaked addresses', report.leakedIPs.map((a) => `${a.ip} ${a.handle}`)));
  }

  const owners = new Map<string, string | null>();
  for (const a of report.allocations) {
    assert.ok(!owners.has(a.ip), `address ${a.ip} allocated twice (${owners.get(a.ip)} and ${a.handle})`);
    if (!a.coolingDown) owners.set(a.ip, a.handle);
  }

  const datastore: Datastore = ipam.datastore;
  const blocks = (await datastore.listKV({ type: 'block' })).items.filter((b) => !b.value.deleted);
  const ranges = blocks.map((b) => ({ cidr: b.value.cidr, ...cidrRange(b.value.cidr) })).sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0));
  for (let i = 1; i < ranges.length; i++) {
    const prev = ranges[i - 1]!;
    const cur = ranges[i]!;
    if (prev.v6 === cur.v6) assert.ok(cur.start >= prev.end, `blocks ${prev.cidr} and ${cur.cidr} overlap`);
  }
  const blockAffinity = new Map(blocks.map((b) => [b.value.cidr, b.value.affinity ?? null]));

  const affinities = (await datastore.listKV({ type: 'blockAffinity' })).items.filter((a) => !a.value.deleted);
  const confirmedPerBlock = new Map<string, number>();
  let confirmed = 0;
  for (const a of affinities) {
    const state = a.value.state ?? '';
    const id = `${a.key.affinityType ?? 'host'}:${a.key.host} ${a.key.cidr}`;
    assert.ok(state === 'confirmed' || state === '', `affinity ${id} left in state '${state}'`);
    const owner = blockAffinity.get(a.key.cidr);
    assert.ok(owner !== undefined, `confirmed affinity ${id} names a block that does not exist`);
    assert.equal(owner, `${a.key.affinityType ?? 'host'}:${a.key.host}`, `affinity ${id} contradicts its block (block affinity ${owner})`);
    confirmedPerBlock.set(a.key.cidr, (confirmedPerBlock.get(a.key.cidr) ?? 0) + 1);
    confirmed++;
  }
  for (const [cidr, affinity] of blockAffinity) {
    if (affinity === null) continue;
    assert.equal(confirmedPerBlock.get(cidr) ?? 0, 1, `block ${cidr} (affinity ${affinity}) has ${confirmedPerBlock.get(cidr) ?? 0} confirmed affinity records`);
  }
  return { report, owners, blocks: blocks.length, confirmedAffinities: confirmed };
}

/**
 * Tracks what allocators were told, to prove after a run that nothing acknowledged was lost
 * and that a failed (possibly half-done) request left at most what it asked for.
 */
export class AllocationLedger {
  /** handle -> addresses autoAssign returned (acknowledged). */
  readonly acknowledged = new Map<string, string[]>();
  /** handle -> number of addresses the failed request asked for. */
  readonly failed = new Map<string, number>();
  /** handles released by the workload (acknowledged release). */
  readonly released = new Set<string>();
  /** Errors seen, by class name / retryability. */
  readonly errors: { name: string; message: string; retryable: boolean; typed: boolean; at: number }[] = [];

  ack(handle: string, ips: string[]): void {
    this.acknowledged.set(handle, ips.map(bareIP));
  }

  fail(handle: string, requested: number, error: unknown, at = Date.now()): void {
    this.failed.set(handle, requested);
    const typed = CalicoError.isInstance(error);
    this.errors.push({
      name: (error as Error)?.name ?? typeof error,
      message: String((error as Error)?.message ?? error).slice(0, 300),
      retryable: typed && (error as CalicoError).isRetryable === true,
      typed,
      at,
    });
  }

  get acknowledgedCount(): number {
    let n = 0;
    for (const ips of this.acknowledged.values()) n += ips.length;
    return n;
  }

  /**
   * Asserts against the final allocations (`owners`: IP -> handle):
   * every acknowledged, unreleased address is still allocated to its handle; a released
   * handle holds nothing; a failed request's handle holds at most what it asked for; and no
   * address is held by a handle nobody asked for.
   */
  assertAgainst(owners: Map<string, string | null>): { lost: string[]; extraFromFailures: number } {
    const lost: string[] = [];
    for (const [handle, ips] of this.acknowledged) {
      if (this.released.has(handle)) continue;
      for (const ip of ips) if (owners.get(ip) !== handle) lost.push(`${ip} (${handle}, now ${owners.get(ip) ?? 'free'})`);
    }
    const perHandle = new Map<string, number>();
    for (const handle of owners.values()) if (handle) perHandle.set(handle, (perHandle.get(handle) ?? 0) + 1);
    let extraFromFailures = 0;
    for (const [handle, n] of perHandle) {
      if (this.released.has(handle)) assert.fail(`released handle ${handle} still holds ${n} address(es)`);
      const acked = this.acknowledged.get(handle);
      if (acked) {
        assert.equal(n, acked.length, `handle ${handle} holds ${n} addresses, ${acked.length} acknowledged`);
        continue;
      }
      const asked = this.failed.get(handle);
      assert.ok(asked !== undefined, `handle ${handle} holds ${n} address(es) but no request used it`);
      assert.ok(n <= asked, `failed request ${handle} asked for ${asked} and holds ${n}`);
      extraFromFailures += n;
    }
    assert.deepEqual(lost.slice(0, 10), [], `${lost.length} acknowledged allocation(s) lost`);
    return { lost, extraFromFailures };
  }
}

/** Writes the resources IPAM reads (pools, nodes, endpoints) straight into a datastore. */
export const seed = {
  async pool(datastore: Datastore, name: string, cidr: string, spec: Record<string, unknown> = {}): Promise<void> {
    await datastore.createKV(
      { type: 'resource', kind: 'IPPool', name },
      { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name }, spec: { cidr, ...spec } } as never,
    );
  },
  async node(datastore: Datastore, name: string, spec: Record<string, unknown> = {}): Promise<void> {
    await datastore.createKV(
      { type: 'resource', kind: 'Node', name },
      { kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name, labels: {} }, spec, status: {} } as never,
    );
  },
  /** A Kubernetes-style WorkloadEndpoint (what the CNI plugin writes after a successful ADD). */
  async endpoint(datastore: Datastore, namespace: string, name: string, node: string, ipNetworks: string[]): Promise<void> {
    await datastore.createKV(
      { type: 'resource', kind: 'WorkloadEndpoint', name, namespace },
      {
        kind: 'WorkloadEndpoint',
        apiVersion: 'projectcalico.org/v3',
        metadata: { name, namespace },
        spec: { node, orchestrator: 'k8s', pod: name, endpoint: 'eth0', interfaceName: 'cali0123456789a', ipNetworks },
      } as never,
    );
  },
};

/** A real etcd server for one suite, with a way to empty Calico's tree between runs. */
export interface EtcdFixture {
  readonly endpoints: string[];
  /** A new datastore client (a separate connection, as another process would have). */
  connect(options?: Record<string, unknown>): Promise<Datastore>;
  /** Deletes everything under `/calico/` (only on this suite's own server). */
  wipe(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a single-member etcd of this suite's own (test/helpers/etcd.ts). */
export async function startEtcdFixture(): Promise<EtcdFixture> {
  const { startEtcd } = await import('./etcd.js');
  const { Etcd3 } = await import('etcd3');
  const { createEtcdDatastore } = await import('@libcalico-ts/datastore-etcd');
  const server = await startEtcd();
  const admin = new Etcd3({ hosts: server.endpoints });
  const opened: Datastore[] = [];
  return {
    endpoints: server.endpoints,
    async connect(options = {}) {
      const ds = createEtcdDatastore({ endpoints: server.endpoints, ...options });
      opened.push(ds);
      return ds;
    },
    async wipe() {
      await admin.delete().prefix('/calico/');
    },
    async stop() {
      for (const ds of opened) await ds.close().catch(() => {});
      admin.close();
      await server.stop();
    },
  };
}
