/**
 * Starts real etcd servers (Debian `/usr/bin/etcd`) for tests and benchmarks: loopback only, free
 * ports, a temporary data directory, a readiness check, and no leftovers. Every child is killed
 * (and its data directory removed) when the test process exits, including on a crash: a small
 * detached watchdog kills the server if this process dies without cleaning up.
 *
 * @example
 * ```ts
 * const etcd = await startEtcd();
 * after(() => etcd.stop());
 * const datastore = createEtcdDatastore({ endpoints: etcd.endpoints });
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTlsMaterial, type TlsMaterial } from './tls.js';

/** The etcd binary; override with `ETCD_BINARY`. */
export const ETCD_BINARY = process.env.ETCD_BINARY ?? '/usr/bin/etcd';

export interface StartEtcdOptions {
  /** Serve clients over TLS and require a client certificate signed by this material's CA. `true` generates material (removed on stop). */
  tls?: boolean | TlsMaterial;
  /** How long to wait for the server to become healthy. Default 20 s. */
  readyTimeoutMs?: number;
  /** Extra etcd flags (e.g. `--auto-compaction-retention=1`). */
  extraArgs?: string[];
}

/** A running single-member etcd. */
export interface EtcdServer {
  /** Client URLs to hand to a datastore (`http://127.0.0.1:<port>`, or `https://` with TLS). */
  readonly endpoints: string[];
  readonly dataDir: string;
  /** The TLS material when started with `tls`. */
  readonly tls?: TlsMaterial;
  /** PID of the running server, undefined while stopped. */
  readonly pid: number | undefined;
  /** SIGTERM, wait for exit, remove the data directory (and generated TLS material). Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL the server (data directory kept, so {@link EtcdServer.restart} resumes it). */
  kill(): Promise<void>;
  /** Start again on the same ports and data directory (after `kill()`), wait until healthy. */
  restart(): Promise<void>;
}

/** A multi-member cluster started by {@link startEtcdCluster}. */
export interface EtcdCluster {
  /** Every member's client URL. */
  readonly endpoints: string[];
  readonly members: readonly EtcdMember[];
  /** Index of the current leader (asks the live members). */
  leader(): Promise<number>;
  /** SIGKILL member `i` (data kept). */
  killMember(i: number): Promise<void>;
  /** Start member `i` again; waits until it is healthy. */
  restartMember(i: number): Promise<void>;
  /** Stop every member and remove the data. */
  stop(): Promise<void>;
}

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly pid: number | undefined;
}

// ---------------------------------------------------------------------------------------------
// Process bookkeeping: whatever is still running when this process exits gets killed.

const live = new Set<ChildProcess>();
const dirsToRemove = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of dirsToRemove) rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    });
  }
}

/**
 * Spawns a detached watchdog that SIGKILLs `pid` (and removes `dir`) once this process is gone.
 * It covers the case the exit hook cannot: this process being SIGKILLed.
 */
function spawnWatchdog(pid: number, dir: string): ChildProcess {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${pid} 2>/dev/null; rm -rf '${dir.replace(/'/g, '')}'`;
  const watchdog = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  return watchdog;
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** GET/POST a path of the client URL; resolves with the status code and body, rejects on network errors. */
function call(url: string, path: string, tls: TlsMaterial | undefined, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(path, url);
    const options = {
      method: body === undefined ? 'GET' : 'POST',
      timeout: 2000,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(tls
        ? { ca: readFileSync(tls.caFile), cert: readFileSync(tls.clientCertFile), key: readFileSync(tls.clientKeyFile) }
        : {}),
    };
    const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

async function isHealthy(url: string, tls: TlsMaterial | undefined): Promise<boolean> {
  try {
    const res = await call(url, '/health', tls);
    return res.status === 200 && /"health"\s*:\s*"true"/.test(res.body);
  } catch {
    return false;
  }
}

interface MemberSpec {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  initialCluster: string;
  /** Shared by every member of one cluster. */
  clusterToken: string;
  tls: TlsMaterial | undefined;
  extraArgs: string[];
}

class MemberProcess {
  child: ChildProcess | undefined;
  watchdog: ChildProcess | undefined;
  output = '';
  readonly clientUrl: string;
  readonly peerUrl: string;

  constructor(readonly spec: MemberSpec) {
    this.clientUrl = `${spec.tls ? 'https' : 'http'}://127.0.0.1:${spec.clientPort}`;
    this.peerUrl = `http://127.0.0.1:${spec.peerPort}`;
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  start(): void {
    if (!existsSync(ETCD_BINARY)) {
      throw new Error(`etcd binary not found at ${ETCD_BINARY} (install the Debian package etcd-server, or set ETCD_BINARY)`);
    }
    const { spec } = this;
    const args = [
      `--name=${spec.name}`,
      `--data-dir=${spec.dataDir}`,
      `--listen-client-urls=${this.clientUrl}`,
      `--advertise-client-urls=${this.clientUrl}`,
      `--listen-peer-urls=${this.peerUrl}`,
      `--initial-advertise-peer-urls=${this.peerUrl}`,
      `--initial-cluster=${spec.initialCluster}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=${spec.clusterToken}`,
      '--logger=zap',
      '--log-level=error',
      '--heartbeat-interval=50',
      '--election-timeout=500',
      ...(spec.tls
        ? [`--cert-file=${spec.tls.serverCertFile}`, `--key-file=${spec.tls.serverKeyFile}`, '--client-cert-auth', `--trusted-ca-file=${spec.tls.caFile}`]
        : []),
      ...spec.extraArgs,
    ];
    this.output = '';
    const child = spawn(ETCD_BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk: Buffer) => this.appendOutput(chunk));
    child.stderr!.on('data', (chunk: Buffer) => this.appendOutput(chunk));
    // Never keep the test process alive: the exit hook (or the watchdog) kills the server.
    child.unref();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    (child.stderr as unknown as { unref?: () => void }).unref?.();
    live.add(child);
    child.once('exit', () => live.delete(child));
    this.child = child;
    if (child.pid !== undefined) this.watchdog = spawnWatchdog(child.pid, spec.dataDir);
  }

  private appendOutput(chunk: Buffer): void {
    this.output = (this.output + chunk.toString('utf8')).slice(-8000);
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const child = this.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`etcd ${this.spec.name} exited during start-up (code ${child?.exitCode}, signal ${child?.signalCode}):\n${this.output}`);
      }
      if (await isHealthy(this.clientUrl, this.spec.tls)) return;
      await delay(100);
    }
    throw new Error(`etcd ${this.spec.name} not healthy at ${this.clientUrl} after ${timeoutMs} ms:\n${this.output}`);
  }

  /** Sends `signal` and waits for the process to exit (SIGKILL after 10 s). */
  async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.watchdog?.kill('SIGKILL');
    this.watchdog = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

async function allocatePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/**
 * Starts a single-member etcd on free loopback ports with a fresh data directory and waits until
 * `/health` answers. With `tls`, clients must present a certificate signed by the material's CA.
 *
 * @throws Error when the binary is missing, the server exits, or it is not healthy in time.
 */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdServer> {
  installExitHook();
  const ownTls = options.tls === true ? generateTlsMaterial() : undefined;
  const tls = ownTls ?? (typeof options.tls === 'object' ? options.tls : undefined);
  const [clientPort, peerPort] = (await allocatePorts(2)) as [number, number];
  const dataDir = mkdtempSync(join(tmpdir(), 'libcalico-ts-etcd-'));
  dirsToRemove.add(dataDir);
  const member = new MemberProcess({
    name: 'default',
    clientPort,
    peerPort,
    dataDir,
    initialCluster: `default=http://127.0.0.1:${peerPort}`,
    clusterToken: `libcalico-ts-${peerPort}`,
    tls,
    extraArgs: options.extraArgs ?? [],
  });
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await member.signal('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
    dirsToRemove.delete(dataDir);
    ownTls?.cleanup();
  };
  try {
    member.start();
    await member.waitHealthy(readyTimeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    endpoints: [member.clientUrl],
    dataDir,
    ...(tls ? { tls } : {}),
    get pid() {
      return member.pid;
    },
    stop,
    kill: () => member.signal('SIGKILL'),
    async restart() {
      if (stopped) throw new Error('etcd was stopped; start a new one');
      await member.signal('SIGKILL');
      member.start();
      await member.waitHealthy(readyTimeoutMs);
    },
  };
}

/**
 * Starts an `size`-member etcd cluster (default 3) on loopback, each member with its own data
 * directory, and waits until every member is healthy.
 */
export async function startEtcdCluster(size = 3, options: Omit<StartEtcdOptions, 'tls'> = {}): Promise<EtcdCluster> {
  installExitHook();
  if (!Number.isInteger(size) || size < 1) throw new Error(`cluster size must be a positive integer, got ${size}`);
  const ports = await allocatePorts(size * 2);
  const names = Array.from({ length: size }, (_, i) => `m${i}`);
  const initialCluster = names.map((name, i) => `${name}=http://127.0.0.1:${ports[size + i]}`).join(',');
  const members = names.map((name, i) => {
    const dataDir = mkdtempSync(join(tmpdir(), `libcalico-ts-etcd-${name}-`));
    dirsToRemove.add(dataDir);
    return new MemberProcess({
      name,
      clientPort: ports[i]!,
      peerPort: ports[size + i]!,
      dataDir,
      initialCluster,
      clusterToken: `libcalico-ts-${ports[size]}`,
      tls: undefined,
      extraArgs: options.extraArgs ?? [],
    });
  });
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const stop = async () => {
    await Promise.all(members.map((m) => m.signal('SIGTERM')));
    for (const m of members) {
      rmSync(m.spec.dataDir, { recursive: true, force: true });
      dirsToRemove.delete(m.spec.dataDir);
    }
  };
  try {
    for (const m of members) m.start();
    await Promise.all(members.map((m) => m.waitHealthy(readyTimeoutMs)));
  } catch (error) {
    await stop();
    throw error;
  }
  const check = (i: number) => {
    if (!Number.isInteger(i) || i < 0 || i >= size) throw new Error(`no member ${i} in a ${size}-member cluster`);
    return members[i]!;
  };
  return {
    endpoints: members.map((m) => m.clientUrl),
    members: members.map((m) => ({
      name: m.spec.name,
      clientUrl: m.clientUrl,
      peerUrl: m.peerUrl,
      dataDir: m.spec.dataDir,
      get pid() {
        return m.pid;
      },
    })),
    async leader() {
      const deadline = Date.now() + readyTimeoutMs;
      while (Date.now() < deadline) {
        for (let i = 0; i < size; i++) {
          if (members[i]!.pid === undefined) continue;
          try {
            const res = await call(members[i]!.clientUrl, '/v3/maintenance/status', undefined, '{}');
            const status = JSON.parse(res.body) as { header?: { member_id?: string }; leader?: string };
            if (!status.leader || status.leader === '0') continue;
            // Find which member has that id.
            for (let j = 0; j < size; j++) {
              if (members[j]!.pid === undefined) continue;
              const other = await call(members[j]!.clientUrl, '/v3/maintenance/status', undefined, '{}').catch(() => undefined);
              const id = other ? (JSON.parse(other.body) as { header?: { member_id?: string } }).header?.member_id : undefined;
              if (id === status.leader) return j;
            }
          } catch {
            // member unreachable: ask another
          }
        }
        await delay(100);
      }
      throw new Error('no etcd leader elected in time');
    },
    killMember: (i) => check(i).signal('SIGKILL'),
    async restartMember(i) {
      const m = check(i);
      await m.signal('SIGKILL');
      m.start();
      await m.waitHealthy(readyTimeoutMs);
    },
    stop,
  };
}

/**
 * Compacts etcd at its current revision (physically): every revision handed out so far becomes too
 * old to watch from. The conformance suites' `compact` hook. (etcd3 is loaded only here.)
 */
export async function compactEtcd(endpoints: string[]): Promise<void> {
  const { Etcd3 } = await import('etcd3');
  const raw = new Etcd3({ hosts: endpoints });
  try {
    const { header } = await raw.kv.range({ key: Buffer.from('/calico/') });
    await raw.kv.compact({ revision: header.revision, physical: true });
  } finally {
    raw.close();
  }
}
