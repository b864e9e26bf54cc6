/**
 * Entry of the V8 startup snapshot `dist/calico.blob` (built by `npm run build`, see build.mjs).
 *
 * `node --build-snapshot` runs this file once at build time: every module of both plugins is
 * loaded and initialised then, and the resulting heap is saved. The launchers (bin/calico,
 * bin/calico-ipam) start `node --snapshot-blob calico.blob <plugin> <dist dir>`, which restores
 * that heap instead of parsing and running the bundle again, and calls the function registered
 * below. Nothing that depends on the invocation (environment, stdin, time, random numbers) is
 * read at module load; it all happens inside `run()`.
 *
 * The separately built backends (Kubernetes, etcd gRPC) cannot be `import()`ed from a snapshot;
 * the snapshot build turns those imports into `require()` of the same `backend-*.mjs` files
 * (./snapshot-backends.ts), found in the directory the launcher passes.
 */
import { startupSnapshot } from 'node:v8';
import { run } from './main.js';
import { setBackendDirectory } from './snapshot-backends.js';
import { warmUp } from './warmup.js';

// Compile what every invocation runs into the snapshot (the builder waits for this to settle).
// A failing warm-up only costs speed: report it and snapshot anyway.
if (!process.env.LCTS_SNAPSHOT_NO_WARMUP) {
  warmUp().catch((error: unknown) => process.stderr.write(`cni snapshot: warm-up failed, invocations will compile lazily: ${(error as Error)?.stack ?? String(error)}\n`));
}

startupSnapshot.setDeserializeMainFunction(() => {
  const plugin = process.argv[1] === 'calico-ipam' ? 'calico-ipam' : 'calico';
  setBackendDirectory(process.argv[2] ?? '.');
  // The plugins never read argv; drop the launcher's arguments all the same.
  process.argv.splice(1);
  void run(plugin, { start: 'snapshot' });
});
