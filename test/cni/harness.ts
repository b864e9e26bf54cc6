/**
 * CNI test harness: builds the plugin bundles and the libcni driver (Go, offline, from Debian's
 * golang-github-appc-cni-dev), creates a "host" network namespace in which the driver (and so the
 * plugins) run, and throwaway pod namespaces. Nothing touches the host's own network.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createNetns, deleteNetns } from '@libcalico-ts/dataplane';
import type { Datastore } from '@libcalico-ts/datastore';
import { uniqueNetnsName } from '../helpers/netns.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CNI_DIR = join(ROOT, 'examples', 'cni');
export const PLUGIN_BIN = join(CNI_DIR, 'bin');
export const REFERENCE_PLUGINS = '/usr/lib/cni';
const GOCODE = '/usr/share/gocode';

/** Why the CNI suites cannot run, or null. */
/**
 * For a suite that needs the CNI tools: the skip reason when `LCTS_SKIP_CNI` is set and they are
 * missing, false when they are there; throws when they are missing and skipping was not asked for
 * (a suite must not pass silently on a machine that cannot run it).
 */
export function cniSuiteSkip(): string | false {
  const reason = cniUnavailableReason();
  if (reason && !process.env.LCTS_SKIP_CNI) throw new Error(`CNI suite cannot run: ${reason} (set LCTS_SKIP_CNI=1 to skip on purpose)`);
  return reason ?? false;
}

export function cniUnavailableReason(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (network namespaces)';
  if (!existsSync('/usr/bin/go')) return 'golang-go is not installed';
  if (!existsSync(join(GOCODE, 'src/github.com/containernetworking/cni/libcni'))) return 'golang-github-appc-cni-dev is not installed';
  return null;
}

/** Newest modification time of the TypeScript sources under `dir` (recursively). */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** True when the plugin bundles exist and are newer than every package and plugin source. */
function bundlesAreFresh(): boolean {
  const bundle = join(CNI_DIR, 'dist', 'calico.mjs');
  if (!existsSync(bundle) || !existsSync(join(CNI_DIR, 'dist', 'calico-ipam.mjs'))) return false;
  const built = statSync(bundle).mtimeMs;
  const sources = Math.max(newestSource(join(ROOT, 'packages')), newestSource(join(CNI_DIR, 'src')));
  return sources <= built;
}

let built = false;
/**
 * Makes sure dist/calico.mjs and dist/calico-ipam.mjs are built from the current sources
 * (`npm run build` builds them; a stale or missing bundle is rebuilt here, a second or two).
 * Suites run in parallel and execute these bundles, so a fresh bundle is never rebuilt, and a
 * rebuild swaps the new files in atomically (see examples/cni/build.mjs).
 */
export function buildPlugins(): void {
  if (built) return;
  if (!bundlesAreFresh()) execFileSync(process.execPath, [join(CNI_DIR, 'build.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
  built = true;
}

let driverPath: string | undefined;
/** Builds the libcni driver without network access; returns the binary path. */
export function buildDriver(): string {
  if (driverPath) return driverPath;
  const work = mkdtempSync(join(tmpdir(), 'lcts-cni-driver-'));
  const out = join(work, 'cni-driver');
  const r = spawnSync('go', ['build', '-o', out, '.'], {
    cwd: join(ROOT, 'test', 'cni', 'driver'),
    env: { ...process.env, GO111MODULE: 'off', GOPATH: `${GOCODE}:${work}`, GOCACHE: join(work, 'cache'), GOFLAGS: '', CGO_ENABLED: '0' },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`cannot build the libcni driver: ${r.stderr}`);
  driverPath = out;
  return out;
}

/** Outcome of one driver run. */
export interface DriverOutcome {
  code: number;
  stdout: string;
  stderr: string;
  /** Parsed stdout when it is JSON. */
  json?: Record<string, unknown>;
}

/** Options of one driver run. */
export interface RunOptions {
  netns?: string;
  containerId?: string;
  args?: string;
  ifName?: string;
  valid?: object[];
  path?: string;
  /** Added to the driver's environment. */
  env?: Record<string, string>;
  /**
   * The environment the driver (and so every plugin, which libcni runs with the runtime's own
   * environment) starts from; default: this process's environment. See {@link runtimeEnv}.
   */
  baseEnv?: Record<string, string>;
}

/**
 * The environment a container runtime (containerd, CRI-O) gives the CNI plugins it executes:
 * little more than a system PATH (which must reach `node`). Variables a developer shell or CI
 * sandbox exports, such as NODE_EXTRA_CA_CERTS (Node parses that bundle at every start, ~40 ms),
 * are absent there.
 */
export function runtimeEnv(): Record<string, string> {
  const system = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const nodeDir = dirname(process.execPath);
  return { PATH: system.split(':').includes(nodeDir) ? system : `${nodeDir}:${system}` };
}

/** A host namespace with its own CNI cache, in which the driver runs. */
export class CniHost {
  readonly name: string;
  readonly cache: string;
  private pods: string[] = [];
  private relays: { close(): void }[] = [];

  private constructor(name: string, cache: string) {
    this.name = name;
    this.cache = cache;
  }

  static async create(): Promise<CniHost> {
    const name = uniqueNetnsName('host');
    await createNetns(name);
    execFileSync('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
    return new CniHost(name, mkdtempSync(join(tmpdir(), 'lcts-cni-cache-')));
  }

  /** A fresh pod namespace (deleted by {@link close}); returns its path. */
  async pod(): Promise<string> {
    const name = uniqueNetnsName('pod');
    await createNetns(name);
    this.pods.push(name);
    return `/run/netns/${name}`;
  }

  /** Deletes a pod namespace early (to test DEL of a missing namespace). */
  async dropPod(path: string): Promise<void> {
    const name = path.slice(path.lastIndexOf('/') + 1);
    await deleteNetns(name, { ignoreMissing: true });
  }

  /**
   * Runs the driver inside the host namespace:
   * `driver -path P -cache C [-ifname I] [-args A] [-valid V] <command> <conf> [netns] [id]`.
   */
  run(command: string, conf: object | string, options: RunOptions = {}): DriverOutcome {
    const { argv, done } = this.prepare(command, conf, options);
    const r = spawnSync('ip', argv, { encoding: 'utf8', env: { ...(options.baseEnv ?? process.env), ...(options.env ?? {}) }, timeout: 60_000 });
    return done(r.status ?? -1, r.stdout, r.stderr);
  }

  /** As {@link run}, without blocking this process (needed when a server runs in this process). */
  runAsync(command: string, conf: object | string, options: RunOptions = {}): Promise<DriverOutcome> {
    const { argv, done } = this.prepare(command, conf, options);
    return new Promise((resolve, reject) => {
      const child = spawn('ip', argv, { env: { ...(options.baseEnv ?? process.env), ...(options.env ?? {}) }, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve(done(code ?? -1, Buffer.concat(out).toString('utf8'), Buffer.concat(err).toString('utf8')));
      });
    });
  }

  private prepare(command: string, conf: object | string, options: RunOptions): { argv: string[]; done: (code: number, stdout: string, stderr: string) => DriverOutcome } {
    const dir = mkdtempSync(join(tmpdir(), 'lcts-cni-conf-'));
    const file = join(dir, 'net.conf');
    writeFileSync(file, typeof conf === 'string' ? conf : JSON.stringify(conf));
    const argv = ['netns', 'exec', this.name, buildDriver(), '-path', options.path ?? `${PLUGIN_BIN}:${REFERENCE_PLUGINS}`, '-cache', this.cache];
    if (options.ifName) argv.push('-ifname', options.ifName);
    if (options.args) argv.push('-args', options.args);
    if (options.valid) argv.push('-valid', JSON.stringify(options.valid));
    argv.push(command, command === 'version' ? String(conf) : file);
    if (options.netns !== undefined) argv.push(options.netns);
    if (options.containerId !== undefined) argv.push(options.containerId);
    const done = (code: number, stdout: string, stderr: string): DriverOutcome => {
      rmSync(dir, { recursive: true, force: true });
      const outcome: DriverOutcome = { code, stdout, stderr };
      try {
        outcome.json = JSON.parse(stdout) as Record<string, unknown>;
      } catch {
        // not JSON
      }
      return outcome;
    };
    return { argv, done };
  }

  /**
   * Makes `127.0.0.1:<port>` of the real host (etcd, the API server) reachable at the same address
   * inside this namespace: a relay process listens there and forwards each connection over a unix
   * socket (which crosses namespaces) to this process, which connects to the real port.
   */
  async relay(port: number): Promise<void> {
    const socketPath = join(this.cache, `relay-${port}.sock`);
    // Both halves are separate processes: the tests block in spawnSync while plugins run.
    const outer = `const n=require('node:net');n.createServer(c=>{const u=n.connect(Number(process.argv[2]),'127.0.0.1');c.pipe(u).pipe(c);const e=()=>{c.destroy();u.destroy()};c.on('error',e);u.on('error',e)}).listen(process.argv[1],()=>process.stdout.write('ready\\n'))`;
    const inner = `const n=require('node:net');n.createServer(c=>{const u=n.connect(process.argv[1]);c.pipe(u).pipe(c);const e=()=>{c.destroy();u.destroy()};c.on('error',e);u.on('error',e)}).listen(Number(process.argv[2]),'127.0.0.1',()=>process.stdout.write('ready\\n'))`;
    const start = async (argv: string[]) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once('data', () => resolve());
        child.once('exit', (c) => reject(new Error(`relay exited with ${c}`)));
      });
      this.relays.push({ close: () => child.kill('SIGKILL') });
    };
    await start([process.execPath, '-e', outer, socketPath, String(port)]);
    await start(['ip', 'netns', 'exec', this.name, process.execPath, '-e', inner, socketPath, String(port)]);
  }
  /**
   * The reverse of {@link relay}: makes `127.0.0.1:<port>` of THIS namespace reachable from the
   * calling process, on a free loopback port of the real host, which is returned.
   */
  async expose(port: number): Promise<number> {
    const socketPath = join(this.cache, `expose-${port}.sock`);
    const inner = `const n=require('node:net');n.createServer(c=>{const u=n.connect(Number(process.argv[2]),'127.0.0.1');c.pipe(u).pipe(c);const e=()=>{c.destroy();u.destroy()};c.on('error',e);u.on('error',e)}).listen(process.argv[1],()=>process.stdout.write('0\\n'))`;
    const outer = `const n=require('node:net');const s=n.createServer(c=>{const u=n.connect(process.argv[1]);c.pipe(u).pipe(c);const e=()=>{c.destroy();u.destroy()};c.on('error',e);u.on('error',e)});s.listen(0,'127.0.0.1',()=>process.stdout.write(s.address().port+'\\n'))`;
    const start = async (argv: string[]): Promise<number> => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
      const line = await new Promise<string>((resolve, reject) => {
        child.stdout!.once('data', (d: Buffer) => resolve(d.toString('utf8')));
        child.once('exit', (c) => reject(new Error(`relay exited with ${c}`)));
      });
      this.relays.push({ close: () => child.kill('SIGKILL') });
      return Number.parseInt(line, 10);
    };
    await start(['ip', 'netns', 'exec', this.name, process.execPath, '-e', inner, socketPath, String(port)]);
    return start([process.execPath, '-e', outer, socketPath]);
  }

  /**
   * Starts a single-member etcd INSIDE this namespace on `127.0.0.1:2379`, so that plugins reach
   * it directly, as on a node whose etcd (or etcd proxy) is local, instead of through the
   * two-process {@link relay}. Returns the endpoint plugins use and one for this process.
   * `port` (client; the peer port is the next one) must be free in this namespace.
   */
  async startEtcdInside(port = 2379): Promise<{ endpoint: string; outsideEndpoint: string; stop(): Promise<void> }> {
    const dataDir = mkdtempSync(join(tmpdir(), 'lcts-cni-etcd-'));
    const url = `http://127.0.0.1:${port}`;
    const peer = `http://127.0.0.1:${port + 1}`;
    const child = spawn('ip', ['netns', 'exec', this.name, process.env.ETCD_BINARY ?? '/usr/bin/etcd', '--name', 'cni', '--data-dir', dataDir, '--listen-client-urls', url, '--advertise-client-urls', url, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `cni=${peer}`, '--log-level', 'error'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      rmSync(dataDir, { recursive: true, force: true });
    };
    try {
      const outside = `http://127.0.0.1:${await this.expose(port)}`;
      for (let i = 0; ; i++) {
        const ok = await fetch(`${outside}/health`).then((r) => r.ok, () => false);
        if (ok) break;
        if (child.exitCode !== null || i > 200) throw new Error(`etcd in ${this.name} did not become healthy: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return { endpoint: url, outsideEndpoint: outside, stop };
    } catch (error) {
      await stop();
      throw error;
    }
  }

  /** `ip ...` inside the host namespace. */
  ip(...args: string[]): string {
    return execFileSync('ip', ['netns', 'exec', this.name, 'ip', ...args], { encoding: 'utf8' });
  }

  async close(): Promise<void> {
    for (const relay of this.relays) relay.close();
    for (const pod of this.pods) await deleteNetns(pod, { ignoreMissing: true });
    await deleteNetns(this.name, { ignoreMissing: true });
    rmSync(this.cache, { recursive: true, force: true });
  }
}

/** `ip ...` inside a pod namespace given by path. */
export function podIp(netns: string, ...args: string[]): string {
  return execFileSync('nsenter', [`--net=${netns}`, '--', 'ip', ...args], { encoding: 'utf8' });
}

/** Whether `target` answers one ping from inside the namespace at `netns`. */
export function pingFrom(netns: string, target: string): boolean {
  return spawnSync('nsenter', [`--net=${netns}`, '--', 'ping', '-c1', '-W2', target], { stdio: 'ignore' }).status === 0;
}

/** Seeds what calico/node would have written: ClusterInformation, the Node, the pools. */
export async function seedCluster(ds: Datastore, options: { node: string; pools: { name: string; cidr: string; blockSize?: number; disabled?: boolean }[]; ready?: boolean }): Promise<void> {
  await ds.applyKV(
    { type: 'resource', kind: 'ClusterInformation', name: 'default' },
    { apiVersion: 'projectcalico.org/v3', kind: 'ClusterInformation', metadata: { name: 'default' }, spec: { datastoreReady: options.ready ?? true, clusterType: 'k8s,bgp' } } as never,
  );
  await ds.applyKV({ type: 'resource', kind: 'Node', name: options.node }, { apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: options.node }, spec: {} } as never);
  for (const pool of options.pools) {
    const spec: Record<string, unknown> = { cidr: pool.cidr, blockSize: pool.blockSize ?? (pool.cidr.includes(':') ? 122 : 26), ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: false, nodeSelector: 'all()' };
    if (pool.disabled) spec.disabled = true;
    await ds.applyKV({ type: 'resource', kind: 'IPPool', name: pool.name }, { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: pool.name }, spec } as never);
  }
}

/** Writes a nodename file and returns its path. */
export function nodenameFile(node: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'lcts-cni-node-'));
  const file = join(dir, 'nodename');
  writeFileSync(file, node);
  return file;
}
