/**
 * How the snapshot build (src/snapshot.ts) loads the separately built backends: `import()` is
 * unavailable in a process started from a userland snapshot, so build.mjs rewrites the backend
 * imports of backend.ts into {@link loadBackendFile} calls, which `require()` the ES module file
 * (Node >= 20.19 loads ES modules through `require`).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';

let directory: string | undefined;

/** Sets the directory holding `backend-*.mjs` (the launcher passes it). */
export function setBackendDirectory(dir: string): void {
  directory = dir;
}

/**
 * Loads `dist/<file>` synchronously. Throws when the directory was never set or the file is
 * missing (the caller turns it into the plugin's "error creating calico client" failure).
 */
export function loadBackendFile(file: string): unknown {
  if (directory === undefined) throw new Error(`cannot load ${file}: backend directory unknown`);
  const path = join(directory, file);
  return createRequire(path)(path);
}
