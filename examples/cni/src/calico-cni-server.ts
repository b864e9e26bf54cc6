// Entry point of `calico-cni-server` (bundled to dist/calico-cni-server.mjs): serves the CNI
// plugins on a unix socket until SIGTERM / SIGINT (see ./server.ts).
//   calico-cni-server [--socket PATH]     default $CALICO_CNI_SERVER_SOCKET, else /var/run/calico/cni-server.sock
import { DEFAULT_CNI_SERVER_SOCKET, startCniServer } from './server.js';

const args = process.argv.slice(2);
let socketPath = process.env.CALICO_CNI_SERVER_SOCKET || DEFAULT_CNI_SERVER_SOCKET;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--socket' && args[i + 1]) socketPath = args[++i]!;
  else {
    process.stderr.write(`usage: calico-cni-server [--socket PATH]\n`);
    process.exit(2);
  }
}
const server = await startCniServer({
  socketPath,
  onInvocation: (s) => {
    if (process.env.CALICO_CNI_SERVER_VERBOSE) process.stderr.write(`${s.plugin} ${s.command} -> ${s.exitCode} in ${s.ms.toFixed(1)} ms\n`);
  },
});
process.stdout.write(`calico-cni-server listening on ${server.socketPath}\n`);
const stop = () => {
  void server.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
