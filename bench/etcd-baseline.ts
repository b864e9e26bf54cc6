/**
 * The raw etcd baseline other benchmarks compare with: a get + compare-and-swap cycle (read one
 * key, then a transaction `If mod_revision == read revision Then put`) per worker, each worker on
 * its own key, straight on the `etcd3` client. It is the floor cost of any CAS-based update
 * (IPAM's block write is one), so "ops/s relative to this at the same concurrency" is a fair,
 * machine-independent figure.
 *
 * @example
 * ```ts
 * const { cyclesPerSec } = await measureEtcdCasBaseline(server.endpoints, { concurrency: 16, durationMs: 2000 });
 * ```
 */
import { Etcd3 } from 'etcd3';

export interface EtcdCasBaselineOptions {
  /** Concurrent workers, one key each. */
  concurrency: number;
  /** How long to measure (after a short warm-up). */
  durationMs: number;
  /** Size of the value written each cycle (default 8 bytes: a counter). */
  valueBytes?: number;
  /** Key prefix (default `/bench/cas/`); the keys are deleted afterwards. */
  prefix?: string;
}

export interface EtcdCasBaselineResult {
  /** Completed get + CAS cycles per second, over all workers. */
  cyclesPerSec: number;
  cycles: number;
  /** CAS transactions that failed their compare (0 expected: every worker owns its key). */
  conflicts: number;
  concurrency: number;
}

/** Runs the get + CAS loop against `endpoints` and reports cycles per second. */
export async function measureEtcdCasBaseline(endpoints: string[], options: EtcdCasBaselineOptions): Promise<EtcdCasBaselineResult> {
  const { concurrency, durationMs } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
  const prefix = options.prefix ?? '/bench/cas/';
  const pad = 'x'.repeat(Math.max(0, (options.valueBytes ?? 8) - 8));
  const client = new Etcd3({ hosts: endpoints });
  let cycles = 0;
  let conflicts = 0;
  let counting = false;
  try {
    const worker = async (w: number, until: number) => {
      const key = Buffer.from(`${prefix}${w}`);
      for (;;) {
        const now = performance.now();
        if (now >= until) return;
        const read = await client.kv.range({ key });
        const kv = read.kvs[0];
        const next = kv ? (Number(kv.value.toString('utf8', 0, 8)) || 0) + 1 : 0;
        const value = Buffer.from(String(next % 1e8).padStart(8, '0') + pad);
        const txn = await client.kv.txn({
          compare: kv ? [{ key, target: 'Mod', result: 'Equal', mod_revision: kv.mod_revision }] : [{ key, target: 'Version', result: 'Equal', version: 0 }],
          success: [{ request_put: { key, value } }],
        });
        if (counting) {
          if (txn.succeeded) cycles++;
          else conflicts++;
        }
      }
    };
    const warmUntil = performance.now() + Math.min(300, durationMs / 4);
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w, warmUntil)));
    counting = true;
    const start = performance.now();
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w, start + durationMs)));
    const elapsed = performance.now() - start;
    counting = false;
    return { cyclesPerSec: (cycles / elapsed) * 1000, cycles, conflicts, concurrency };
  } finally {
    await client.delete().prefix(prefix).catch(() => undefined);
    client.close();
  }
}
