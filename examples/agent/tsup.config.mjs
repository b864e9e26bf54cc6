// Bundles the agent's own code into dist/main.js; the @libcalico-ts packages and npm
// dependencies stay external (resolved from node_modules at run time, built by `npm run build`).
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { main: 'src/main.ts' },
  format: ['esm'],
  dts: false,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: false,
  treeshake: true,
});
