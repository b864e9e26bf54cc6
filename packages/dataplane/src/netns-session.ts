/**
 * Running dataplane operations inside another network namespace.
 *
 * Design: Node cannot setns(2) its own threads without a native addon, and the `netlink` package
 * cannot adopt a socket opened elsewhere. So a session starts one small worker process already
 * inside the namespace — `nsenter --net=<path> -- node netns-worker.js` — which opens its own
 * rtnetlink socket there and serves JSON-line requests over stdio. Every {@link NetlinkOps} method
 * is forwarded; errors come back as the same classes. Sysctl reads/writes run in the worker too
 * (/proc/sys/net shows the namespace of the opening process). The cost is one process start per
 * session (measured by the dataplane benchmark), so do all the work for one namespace in one session.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NetnsWorkerError } from './errors.js';
import { requireNetns } from './netns.js';
import { deserializeError, type RpcResponse } from './rpc.js';
import type { ContainerSideConfig, ContainerSideResult } from './container-side.js';
import type {
  AddressInfo,
  FdbInfo,
  FdbSpec,
  LinkInfo,
  NeighbourInfo,
  NeighbourSpec,
  NetlinkOps,
  ReconcileOptions,
  RouteChanges,
  RouteDiff,
  RouteFilter,
  RouteInfo,
  RouteSpec,
  VethPairOptions,
  VxlanOptions,
} from './types.js';
import type { IPFamily } from './validate.js';

/** Options of {@link openNetns}. */
export interface OpenNetnsOptions {
  /** Node executable for the worker (default: `process.execPath`). */
  nodePath?: string;
  /** nsenter executable (default `nsenter`, from util-linux). */
  nsenterPath?: string;
  /** Time allowed for the worker to start (default 10000 ms). */
  startTimeoutMs?: number;
  /** Time allowed for one request (default 60000 ms). */
  requestTimeoutMs?: number;
}

function workerCommand(): { script: string; execArgv: string[] } {
  const here = import.meta.url;
  const ext = here.slice(here.lastIndexOf('.'));
  const script = fileURLToPath(new URL(`./netns-worker${ext}`, here));
  if (ext !== '.ts') return { script, execArgv: [] };
  // Running from source (tests, `--conditions=source`): the worker needs the TypeScript loader too.
  let tsx = 'tsx';
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    /* fall back to bare specifier */
  }
  return { script, execArgv: ['--conditions=source', '--import', tsx] };
}

/**
 * A worker process inside one network namespace, implementing {@link NetlinkOps} there.
 * Create with {@link openNetns}; always {@link close} it (or use {@link withNetnsSession}).
 */
export class NetnsSession implements NetlinkOps {
  /** The namespace as given (name or path). */
  readonly netns: string;
  /** Its path. */
  readonly path: string;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  private nextId = 1;
  private closed = false;
  private stderr = '';
  private readonly requestTimeoutMs: number;
  private exitError: Error | null = null;
  /** Resolves when the worker reported ready. */
  readonly ready: Promise<void>;

  /** @internal use {@link openNetns} */
  constructor(netns: string, options: OpenNetnsOptions = {}) {
    this.netns = netns;
    this.path = requireNetns(netns);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
    const { script, execArgv } = workerCommand();
    this.child = spawn(
      options.nsenterPath ?? 'nsenter',
      [`--net=${this.path}`, '--', options.nodePath ?? process.execPath, ...execArgv, script],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString('utf8')).slice(-4000);
    });
    this.child.stdin.on('error', () => undefined);
    let markReady: () => void = () => undefined;
    let failReady: (e: Error) => void = () => undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    this.ready.catch(() => undefined);
    const startTimer = setTimeout(() => {
      failReady(new NetnsWorkerError(`netns worker for ${netns} did not start within ${options.startTimeoutMs ?? 10_000} ms: ${this.stderr.trim()}`));
      this.child.kill('SIGKILL');
    }, options.startTimeoutMs ?? 10_000);
    const lines = createInterface({ input: this.child.stdout, crlfDelay: Infinity });
    lines.on('line', (line) => {
      let message: RpcResponse;
      try {
        message = JSON.parse(line) as RpcResponse;
      } catch {
        return;
      }
      if ('ready' in message) {
        clearTimeout(startTimer);
        markReady();
        return;
      }
      const entry = this.pending.get(message.id);
      if (!entry) return;
      this.pending.delete(message.id);
      clearTimeout(entry.timer);
      if ('error' in message) entry.reject(deserializeError(message.error, `netns ${netns}`));
      else entry.resolve(message.result);
    });
    const onExit = (error?: Error) => {
      clearTimeout(startTimer);
      this.closed = true;
      this.exitError = new NetnsWorkerError(
        error ? `cannot start netns worker for ${netns}: ${error.message}` : `netns worker for ${netns} exited (code ${this.child.exitCode ?? this.child.signalCode}): ${this.stderr.trim()}`,
        error ? { cause: error } : {},
      );
      failReady(this.exitError);
      for (const [, entry] of this.pending) {
        clearTimeout(entry.timer);
        entry.reject(this.exitError);
      }
      this.pending.clear();
    };
    this.child.on('error', (error) => onExit(error));
    this.child.on('exit', () => onExit());
  }

  /** Sends one request to the worker. */
  async call<T>(method: string, args: unknown[]): Promise<T> {
    await this.ready;
    if (this.closed) throw this.exitError ?? new NetnsWorkerError(`netns session for ${this.netns} is closed`);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new NetnsWorkerError(`netns ${this.netns}: ${method} timed out after ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.stdin.write(`${JSON.stringify({ id, method, args })}\n`);
    });
  }

  /** PID of the worker process (inside the namespace). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  listLinks(): Promise<LinkInfo[]> {
    return this.call('listLinks', []);
  }
  findLink(name: string): Promise<LinkInfo | null> {
    return this.call('findLink', [name]);
  }
  getLink(name: string): Promise<LinkInfo> {
    return this.call('getLink', [name]);
  }
  createVethPair(options: VethPairOptions): Promise<LinkInfo> {
    return this.call('createVethPair', [options]);
  }
  createVxlan(options: VxlanOptions): Promise<LinkInfo> {
    return this.call('createVxlan', [options]);
  }
  createIpip(options: { name: string; mtu?: number }): Promise<LinkInfo> {
    return this.call('createIpip', [options]);
  }
  createDummy(options: { name: string; mtu?: number; mac?: string }): Promise<LinkInfo> {
    return this.call('createDummy', [options]);
  }
  setLinkUp(name: string): Promise<void> {
    return this.call('setLinkUp', [name]);
  }
  setLinkDown(name: string): Promise<void> {
    return this.call('setLinkDown', [name]);
  }
  setLinkMtu(name: string, mtu: number): Promise<void> {
    return this.call('setLinkMtu', [name, mtu]);
  }
  setLinkMac(name: string, mac: string): Promise<void> {
    return this.call('setLinkMac', [name, mac]);
  }
  renameLink(name: string, newName: string): Promise<void> {
    return this.call('renameLink', [name, newName]);
  }
  moveLinkToNetns(name: string, netns: string): Promise<void> {
    return this.call('moveLinkToNetns', [name, netns]);
  }
  deleteLink(name: string, options?: { ignoreMissing?: boolean }): Promise<boolean> {
    return this.call('deleteLink', [name, options ?? {}]);
  }
  listAddresses(filter?: { link?: string; family?: IPFamily }): Promise<AddressInfo[]> {
    return this.call('listAddresses', [filter ?? {}]);
  }
  addAddress(link: string, cidr: string, options?: { noDad?: boolean }): Promise<void> {
    return this.call('addAddress', [link, cidr, options ?? {}]);
  }
  deleteAddress(link: string, cidr: string, options?: { ignoreMissing?: boolean }): Promise<boolean> {
    return this.call('deleteAddress', [link, cidr, options ?? {}]);
  }
  listRoutes(filter?: RouteFilter): Promise<RouteInfo[]> {
    return this.call('listRoutes', [filter ?? {}]);
  }
  replaceRoute(route: RouteSpec): Promise<void> {
    return this.call('replaceRoute', [route]);
  }
  addRoute(route: RouteSpec): Promise<void> {
    return this.call('addRoute', [route]);
  }
  deleteRoute(route: RouteSpec, options?: { ignoreMissing?: boolean }): Promise<boolean> {
    return this.call('deleteRoute', [route, options ?? {}]);
  }
  applyRouteChanges(changes: RouteChanges): Promise<void> {
    return this.call('applyRouteChanges', [changes]);
  }
  /** Runs the whole reconcile (list, diff, apply) inside the namespace: one round trip. */
  reconcileRoutes(desired: RouteSpec[], options?: ReconcileOptions): Promise<RouteDiff> {
    return this.call('reconcileRoutes', [desired, options ?? {}]);
  }
  listNeighbours(filter?: { link?: string; family?: IPFamily }): Promise<NeighbourInfo[]> {
    return this.call('listNeighbours', [filter ?? {}]);
  }
  replaceNeighbour(entry: NeighbourSpec): Promise<void> {
    return this.call('replaceNeighbour', [entry]);
  }
  deleteNeighbour(entry: Omit<NeighbourSpec, 'mac'>, options?: { ignoreMissing?: boolean }): Promise<boolean> {
    return this.call('deleteNeighbour', [entry, options ?? {}]);
  }
  listFdb(filter?: { link?: string }): Promise<FdbInfo[]> {
    return this.call('listFdb', [filter ?? {}]);
  }
  replaceFdb(entry: FdbSpec): Promise<void> {
    return this.call('replaceFdb', [entry]);
  }
  deleteFdb(entry: FdbSpec, options?: { ignoreMissing?: boolean }): Promise<boolean> {
    return this.call('deleteFdb', [entry, options ?? {}]);
  }
  readSysctl(key: string | string[]): Promise<string> {
    return this.call('readSysctl', [key]);
  }
  writeSysctl(key: string | string[], value: string | number): Promise<void> {
    return this.call('writeSysctl', [key, value]);
  }
  /** @internal the pod-side plumbing in one round trip */
  configureContainerSide(config: ContainerSideConfig): Promise<ContainerSideResult> {
    return this.call('configureContainerSide', [config]);
  }

  /** Stops the worker (closes its stdin, kills it after 2 s). Idempotent. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.stdin.end();
    });
  }
}

/**
 * Starts a worker inside the namespace `netns` (a name under /run/netns or an absolute path such as
 * `/proc/PID/ns/net`) and waits until it is ready.
 * @throws ResourceNotFoundError when the namespace does not exist; NetnsWorkerError when the worker
 * cannot start (nsenter missing, not root...).
 *
 * @example
 * ```ts
 * const ns = await openNetns('pod1');
 * try {
 *   await ns.setLinkUp('lo');
 *   console.log(await ns.listRoutes());
 * } finally {
 *   await ns.close();
 * }
 * ```
 */
export async function openNetns(netns: string, options: OpenNetnsOptions = {}): Promise<NetnsSession> {
  const session = new NetnsSession(netns, options);
  try {
    await session.ready;
  } catch (error) {
    await session.close();
    throw error;
  }
  return session;
}

/** Opens a session, runs `fn` with it and always closes it. */
export async function withNetnsSession<T>(netns: string, fn: (session: NetnsSession) => Promise<T>, options: OpenNetnsOptions = {}): Promise<T> {
  const session = await openNetns(netns, options);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}
