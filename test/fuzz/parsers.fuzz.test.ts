// Bounded-time fuzzing of the parsers users feed untrusted text: the selector language and the
// calicoctl manifest loader. Each case runs in a worker with a per-case timeout (a hang fails
// the test with the input); only typed errors are allowed (CalicoError.isInstance), and what
// parses must round-trip. Generators and properties: test/fuzz/targets.ts.
//
// Size: CI-sized by default (inside `npm test`); LIBCALICO_RELIABILITY_FULL=1 runs 20x the cases
// and time budget. Set LIBCALICO_FUZZ_SEED to replay a reported seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzz } from '../helpers/reliability-fuzz.js';

const seed = process.env.LIBCALICO_FUZZ_SEED ? Number(process.env.LIBCALICO_FUZZ_SEED) : undefined;

test('selector parser: no crash, no hang, typed ParseErrors only, canonical form stable', async (t) => {
  const result = await fuzz({ target: 'selector', numRuns: 3_000, timeBudgetMs: 15_000, caseTimeoutMs: 2_000, ...(seed !== undefined ? { seed } : {}) });
  t.diagnostic(`seed ${result.seed}: ${result.runs} cases, ${result.typedErrors} typed errors ${JSON.stringify(result.errorNames)}, slowest ${result.slowestCaseMs} ms`);
  assert.ok(result.runs >= 100, 'enough cases ran');
  assert.ok(result.typedErrors > 0 && result.typedErrors < result.runs, 'the generator produces both valid and invalid selectors');
});

test('manifest loader: no crash, no hang, typed errors only, dump/load round trip', async (t) => {
  const result = await fuzz({ target: 'manifests', numRuns: 2_000, timeBudgetMs: 20_000, caseTimeoutMs: 3_000, ...(seed !== undefined ? { seed } : {}) });
  t.diagnostic(`seed ${result.seed}: ${result.runs} cases, ${result.typedErrors} typed errors ${JSON.stringify(result.errorNames)}, slowest ${result.slowestCaseMs} ms`);
  assert.ok(result.runs >= 100, 'enough cases ran');
  assert.ok(result.typedErrors > 0 && result.typedErrors < result.runs, 'the generator produces both loadable and bad manifests');
});

test('the harness itself: an untyped throw and a hang are both caught', async () => {
  await assert.rejects(fuzz({ target: 'selfTestCrash', numRuns: 50, timeBudgetMs: 5_000 }), /untyped TypeError/);
  await assert.rejects(fuzz({ target: 'selfTestHang', numRuns: 5, timeBudgetMs: 5_000, caseTimeoutMs: 300 }), /hang/);
});
