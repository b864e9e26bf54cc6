// Entry point of the `calico-ipam` CNI IPAM plugin (bundled to dist/calico-ipam.mjs).
import { run } from './main.js';

await run('calico-ipam');
