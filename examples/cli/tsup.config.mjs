// The CLI ships one ESM bundle per entry; the @libcalico-ts packages stay external (their own
// dist), and the two remote datastores are loaded with import() only when selected, so
// start-up does not pay for gRPC or the Kubernetes client when they are not used.
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', main: 'src/main.ts' },
  format: ['esm'],
  dts: false,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: true,
  treeshake: true,
});
