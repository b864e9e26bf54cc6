/**
 * "Thick plugin" mode (as Multus thick and Cilium run their CNI plugins): a long-lived process
 * serves CNI invocations on a unix socket with warm datastore connections and compiled code,
 * and a tiny native shim (shim/main.go, built to dist/calico-shim) forwards each invocation's
 * environment and stdin to it and prints the reply. The launchers in bin/ exec the shim when the
 * socket exists and fall back to running the plugin in their own process otherwise (the shim
 * also falls back when nothing listens on the socket).
 *
 * Protocol (one invocation per connection), both directions one JSON object and a newline:
 * request `{"plugin": "calico" | "calico-ipam", "env": {NAME: VALUE...}, "stdin": "..."}`,
 * reply `{"exitCode": 0 | 1, "stdout": "...", "stderr": "..."}`. Each invocation runs with its
 * own environment (never this process's), exactly the code the standalone plugin runs.
 *
 * The socket is created with mode 0600: whoever can connect can wire and unwire pods.
 */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { ResourceExistsError, ValidationError } from '@libcalico-ts/api';
import { BackendCache, useBackendCache } from './backend.js';
import { CniCode, CniError, errorJson } from './cni.js';
import { Logger } from './log.js';
import { execute, type PluginName } from './main.js';

/** Where the launchers look for the server unless `CALICO_CNI_SERVER_SOCKET` says otherwise. */
export const DEFAULT_CNI_SERVER_SOCKET = '/var/run/calico/cni-server.sock';

/** Largest request accepted (environment + NetConf), in bytes. */
const MAX_REQUEST = 4 * 1024 * 1024;

/** Options of {@link startCniServer}. */
export interface CniServerOptions {
  /** Unix socket path (default {@link DEFAULT_CNI_SERVER_SOCKET}); its directory must exist. */
  socketPath?: string;
  /** Called after each invocation (for the host process's own logging). */
  onInvocation?: (summary: { plugin: PluginName; command: string; exitCode: number; ms: number }) => void;
}

/** A running CNI server. */
export interface CniServer {
  readonly socketPath: string;
  /** Stops accepting, waits for the invocations in progress, closes the datastore connections. */
  close(): Promise<void>;
}

interface Request {
  plugin: PluginName;
  env: Record<string, string>;
  stdin: string;
}

function parseRequest(text: string): Request {
  const value = JSON.parse(text) as Partial<Request>;
  if (value.plugin !== 'calico' && value.plugin !== 'calico-ipam') throw new Error('plugin must be "calico" or "calico-ipam"');
  if (typeof value.stdin !== 'string') throw new Error('stdin must be a string');
  if (typeof value.env !== 'object' || value.env === null || Object.values(value.env).some((v) => typeof v !== 'string')) throw new Error('env must map names to strings');
  return { plugin: value.plugin, env: value.env, stdin: value.stdin };
}

/** Removes a stale socket file; refuses when a server answers on it. */
async function claimSocketPath(path: string): Promise<void> {
  let isSocket = false;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new ValidationError([{ name: 'socketPath', value: path, reason: 'exists and is not a socket' }]);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new ResourceExistsError(`socket ${path}`, { message: `another CNI server listens on ${path}` });
  unlinkSync(path);
}

/**
 * Starts serving CNI invocations on a unix socket. Datastore backends are opened on first use
 * and kept (one per distinct datastore configuration) until {@link CniServer.close}.
 * @throws ValidationError when the path exists and is not a socket; ResourceExistsError when
 *   another server answers on it; the listen error otherwise (e.g. missing directory).
 * @example
 * ```ts
 * const server = await startCniServer({ socketPath: '/var/run/calico/cni-server.sock' });
 * process.on('SIGTERM', () => void server.close());
 * ```
 */
export async function startCniServer(options: CniServerOptions = {}): Promise<CniServer> {
  const socketPath = options.socketPath ?? DEFAULT_CNI_SERVER_SOCKET;
  await claimSocketPath(socketPath);
  const backends = new BackendCache();
  useBackendCache(backends);
  const inFlight = new Set<Promise<void>>();

  const handle = (socket: net.Socket) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const reply = (body: object) => {
      if (!socket.destroyed) socket.end(`${JSON.stringify(body)}\n`);
    };
    socket.on('error', () => socket.destroy());
    socket.on('data', (data: Buffer) => {
      if (done) return;
      size += data.length;
      if (size > MAX_REQUEST) {
        done = true;
        reply({ exitCode: 1, stdout: errorJson(new CniError(CniCode.Calico, `calico CNI server: request larger than ${MAX_REQUEST} bytes`), '1.1.0'), stderr: '' });
        return;
      }
      const newline = data.indexOf(0x0a);
      if (newline < 0) {
        chunks.push(data);
        return;
      }
      done = true;
      chunks.push(data.subarray(0, newline));
      let request: Request;
      try {
        request = parseRequest(Buffer.concat(chunks).toString('utf8'));
      } catch (error) {
        reply({ exitCode: 1, stdout: errorJson(new CniError(CniCode.Calico, `calico CNI server: bad request: ${(error as Error).message}`), '1.1.0'), stderr: '' });
        return;
      }
      const job = (async () => {
        const started = performance.now();
        const lines: string[] = [];
        const log = new Logger(request.plugin, { level: request.env.CALICO_CNI_LOG_LEVEL, sink: (line) => lines.push(line) });
        const outcome = await execute(request.plugin, request.env, async () => request.stdin, log);
        reply({ exitCode: outcome.exitCode, stdout: outcome.stdout, stderr: lines.join('') });
        options.onInvocation?.({ plugin: request.plugin, command: request.env.CNI_COMMAND ?? '', exitCode: outcome.exitCode, ms: performance.now() - started });
      })();
      inFlight.add(job);
      void job.finally(() => inFlight.delete(job));
    });
  };

  const server = net.createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // The socket file is created inside listen(): born 0600, not chmod-ed after a window.
    const umask = process.umask(0o177);
    try {
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(umask);
    }
  });
  chmodSync(socketPath, 0o600);
  return {
    socketPath,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([...inFlight]);
      useBackendCache(undefined);
      await backends.close();
    },
  };
}
