/**
 * Benchmark conventions. Each `bench/*.bench.ts` file default-exports a {@link Bench}: an async
 * function returning rows. `bench/run.ts` runs them all, prints one table and writes
 * `bench/results/latest.json`.
 */

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Runs a full garbage collection (twice, so weakly held garbage goes too). */
export function fullGC(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

/** One measured figure. `baseline`/`ratio` compare with a baseline measured in the same run. */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
  /** Human-readable target, e.g. `<= 3 us/op` or `>= 0.5`. */
  target?: string;
  met?: boolean;
}

export interface BenchContext {
  /** CI-sized run (`npm run bench -- --quick`). */
  quick: boolean;
  /** Progress output (stderr), never mixed into the table. */
  log(message: string): void;
}

export type Bench = (context: BenchContext) => Promise<BenchRow[]>;

/**
 * Runs `fn` repeatedly for at least `minMs` (after a warm-up) and returns operations per second
 * and nanoseconds per operation. `fn` may do `batch` operations per call.
 */
export function measureSync(fn: () => void, options: { minMs?: number; batch?: number } = {}): { opsPerSec: number; nsPerOp: number } {
  const minMs = options.minMs ?? 500;
  const batch = options.batch ?? 1;
  const warmUntil = performance.now() + Math.min(200, minMs / 2);
  while (performance.now() < warmUntil) fn();
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    fn();
    calls++;
    elapsed = performance.now() - start;
  } while (elapsed < minMs);
  const ops = calls * batch;
  return { opsPerSec: (ops / elapsed) * 1000, nsPerOp: (elapsed * 1e6) / ops };
}

/** Async variant of {@link measureSync}. */
export async function measureAsync(
  fn: () => Promise<void>,
  options: { minMs?: number; batch?: number } = {},
): Promise<{ opsPerSec: number; nsPerOp: number }> {
  const minMs = options.minMs ?? 500;
  const batch = options.batch ?? 1;
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    await fn();
    calls++;
    elapsed = performance.now() - start;
  } while (elapsed < minMs);
  const ops = calls * batch;
  return { opsPerSec: (ops / elapsed) * 1000, nsPerOp: (elapsed * 1e6) / ops };
}

/** A row with a target of the form `value <= limit` or `value >= limit`. */
export function targetRow(
  name: string,
  value: number,
  unit: string,
  comparison: '<=' | '>=' | '<' | '>',
  limit: number,
  extra: Partial<BenchRow> = {},
): BenchRow {
  const met =
    comparison === '<=' ? value <= limit : comparison === '>=' ? value >= limit : comparison === '<' ? value < limit : value > limit;
  return { name, value, unit, target: `${comparison} ${limit}${extra.ratio !== undefined ? '' : ` ${unit}`}`, met, ...extra };
}
