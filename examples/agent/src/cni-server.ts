/**
 * `calico-agent run --cni-socket PATH`: the agent also serves the CNI plugins on a unix socket,
 * the "thick-plugin" mode of examples/cni (its launchers hand each invocation to this process
 * through dist/calico-shim when the socket exists, and run the plugin themselves otherwise).
 * The server runs exactly the plugins' code, with each invocation's own environment and warm
 * datastore connections; it wires pods in this process's network namespace.
 *
 * The server comes from the CNI example (`@libcalico-ts/example-cni/server`), loaded only when
 * the option is given, so the agent neither loads nor needs it otherwise.
 */
import type { Logger } from './log.js';

/** The running server (see examples/cni/src/server.ts). */
export interface AgentCniServer {
  readonly socketPath: string;
  close(): Promise<void>;
}

interface CniServerModule {
  startCniServer(options: {
    socketPath?: string;
    onInvocation?: (summary: { plugin: string; command: string; exitCode: number; ms: number }) => void;
  }): Promise<AgentCniServer>;
}

/**
 * Starts the CNI server on `socketPath` (mode 0600; a stale socket file is replaced, a live one
 * refused). Each invocation is logged at debug level.
 * @throws when the CNI example is not installed, or as `startCniServer` does.
 */
export async function startAgentCniServer(socketPath: string, log: Logger): Promise<AgentCniServer> {
  // Not a literal: the CNI example is an optional peer dependency (package.json), neither bundled
  // nor type-resolved here.
  const specifier: string = '@libcalico-ts/example-cni/server';
  const { startCniServer } = (await import(specifier)) as CniServerModule;
  const server = await startCniServer({
    socketPath,
    onInvocation: (summary) => log.debug('CNI invocation', { ...summary, ms: Math.round(summary.ms * 10) / 10 }),
  });
  log.info('serving the CNI plugins', { socket: server.socketPath });
  return server;
}
