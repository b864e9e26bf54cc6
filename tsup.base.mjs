// Shared tsup settings: every package ships ESM + CJS, .d.ts and source maps.
import { defineConfig } from 'tsup';

/** @param {Record<string,string>} entry */
export function packageConfig(entry = { index: 'src/index.ts' }) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    splitting: false,
    treeshake: true,
    // Keep `node:` specifiers: `node:test` has no unprefixed form.
    removeNodeProtocol: false,
  });
}
