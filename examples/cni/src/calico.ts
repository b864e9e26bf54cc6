// Entry point of the `calico` CNI network plugin (bundled to dist/calico.mjs).
import { run } from './main.js';

await run('calico');
