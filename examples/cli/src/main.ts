/** Entry point of the `calicoctl` executable (bin/calicoctl runs the built copy of this file). */
import { runCli } from './cli.js';

const code = await runCli(process.argv.slice(2));
// Let pending writes drain, then leave (open datastore sockets must not keep the process alive).
process.exitCode = code;
setImmediate(() => process.exit(code));
