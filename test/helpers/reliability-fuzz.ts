/**
 * Bounded-time fuzzing with a per-case hang detector.
 *
 * A fuzz target runs in a worker thread (test/helpers/reliability-fuzz-worker.ts), so even a
 * synchronous infinite loop or catastrophic regex backtracking is caught: the worker announces
 * each case before running it, and the test thread terminates the worker and fails with the
 * offending input when one case takes longer than `caseTimeoutMs`. Inside the worker fast-check
 * drives the generator named by `target` and asserts the target's property (no crash, only typed
 * errors, plus whatever the target checks).
 *
 * Sizes: `LIBCALICO_RELIABILITY_FULL=1` multiplies the number of runs and the time budget by 20.
 */
import { Worker } from 'node:worker_threads';
import { FULL } from './reliability.js';

export interface FuzzOptions {
  /** Name of a target exported by test/fuzz/targets.ts. */
  target: string;
  /** fast-check runs (CI); full size multiplies by 20. */
  numRuns: number;
  /** Total time budget (ms, CI); fast-check stops generating when it runs out. Full size x20. */
  timeBudgetMs: number;
  /** One case may take at most this long (default 2,000 ms). */
  caseTimeoutMs?: number;
  /** fast-check seed (default: random, printed on failure). */
  seed?: number;
}

export interface FuzzResult {
  runs: number;
  seed: number;
  /** Cases that ended in a typed error (the rest succeeded). */
  typedErrors: number;
  /** Error class names seen, with counts. */
  errorNames: Record<string, number>;
  slowestCaseMs: number;
}

const WORKER = new URL('./reliability-fuzz-worker.ts', import.meta.url);

/** Runs the fuzz target; rejects with the failing input on a property failure, crash or hang. */
export function fuzz(options: FuzzOptions): Promise<FuzzResult> {
  const scale = FULL ? 20 : 1;
  const caseTimeoutMs = options.caseTimeoutMs ?? 2_000;
  const seed = options.seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0;
  return new Promise((resolve, reject) => {
    // A worker does not inherit tsx's loader hooks: a small bootstrap registers them (tsx's ESM
    // API) before importing the TypeScript worker module, with the 'source' export condition.
    const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER.href)}); })`;
    const worker = new Worker(bootstrap, {
      eval: true,
      workerData: { target: options.target, numRuns: options.numRuns * scale, timeBudgetMs: options.timeBudgetMs * scale, seed },
      execArgv: ['--conditions=source'],
    });
    let current: { input: string; since: number } | undefined;
    let settled = false;
    const finish = (error: Error | undefined, result?: FuzzResult) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      void worker.terminate();
      if (error) reject(error);
      else resolve(result!);
    };
    const watchdog = setInterval(() => {
      if (current && Date.now() - current.since > caseTimeoutMs) {
        finish(new Error(`fuzz ${options.target} (seed ${seed}): one case ran longer than ${caseTimeoutMs} ms (hang) on input ${current.input.slice(0, 2000)}`));
      }
    }, 50);
    worker.on('message', (message: { type: string; input?: string; result?: FuzzResult; error?: string }) => {
      if (message.type === 'case') current = { input: message.input!, since: Date.now() };
      else if (message.type === 'caseDone') current = undefined;
      else if (message.type === 'done') finish(undefined, message.result);
      else if (message.type === 'failed') finish(new Error(`fuzz ${options.target} (seed ${seed}) failed:\n${message.error}`));
    });
    worker.on('error', (error) => finish(new Error(`fuzz ${options.target} (seed ${seed}): the worker crashed: ${error.stack ?? error.message}`)));
    worker.on('exit', (code) => finish(new Error(`fuzz ${options.target} (seed ${seed}): the worker exited (${code}) before finishing`)));
  });
}
