/**
 * Worker side of test/helpers/reliability-fuzz.ts: runs one fuzz target with fast-check and
 * reports every case (before running it) to the test thread, which enforces the per-case timeout.
 */
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { CalicoError } from '@libcalico-ts/api';
import { targets } from '../fuzz/targets.js';

const { target, numRuns, timeBudgetMs, seed } = workerData as { target: string; numRuns: number; timeBudgetMs: number; seed: number };
const port = parentPort!;

function describeInput(value: unknown): string {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  } catch {
    return String(value);
  }
}

async function main(): Promise<void> {
  const t = targets[target];
  if (!t) throw new Error(`unknown fuzz target ${target}`);
  let runs = 0;
  let typedErrors = 0;
  let slowest = 0;
  const errorNames: Record<string, number> = {};
  const property = fc.asyncProperty(t.arbitrary, async (input: unknown) => {
    port.postMessage({ type: 'case', input: describeInput(input) });
    const started = performance.now();
    runs++;
    try {
      await t.run(input);
    } catch (error) {
      if (!CalicoError.isInstance(error)) {
        throw new Error(`untyped ${(error as Error)?.constructor?.name ?? typeof error}: ${(error as Error)?.stack ?? String(error)}`);
      }
      typedErrors++;
      const name = (error as Error).name;
      errorNames[name] = (errorNames[name] ?? 0) + 1;
      t.checkError?.(error as CalicoError, input);
    } finally {
      slowest = Math.max(slowest, performance.now() - started);
      port.postMessage({ type: 'caseDone' });
    }
  });
  const details = await fc.check(property, { numRuns, seed, interruptAfterTimeLimit: timeBudgetMs, markInterruptAsFailure: false, endOnFailure: true });
  if (details.failed) {
    const counterexample = details.counterexample ? describeInput(details.counterexample[0]) : '(none)';
    const error = details.errorInstance as Error | null;
    port.postMessage({ type: 'failed', error: `counterexample: ${counterexample.slice(0, 4000)}\n${error?.message ?? String(error)}` });
    return;
  }
  port.postMessage({ type: 'done', result: { runs, seed, typedErrors, errorNames, slowestCaseMs: Math.round(slowest) } });
}

main().catch((error: unknown) => {
  port.postMessage({ type: 'failed', error: String((error as Error)?.stack ?? error) });
});
