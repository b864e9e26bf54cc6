/**
 * A Calico cluster on one machine, entirely inside network namespaces (needs root):
 *
 * ```
 *             fabric namespace  (<id>-fab)
 *   br-a 192.168.10.254/24 ── routes ── br-b 192.168.20.254/24        etcd: http://192.168.10.254:2379
 *     │          │                          │                               + unix socket <dir>/localhost:2379
 *   eth0       eth0                       eth0
 *   node1      node2                      node3      ("hosts": one namespace each, default via .254,
 *   .10.1      .10.2                      .20.3       one calico-agent and optionally one BIRD each)
 *     │
 *   pods (one namespace each, wired like the CNI plugin does)
 * ```
 *
 * Nothing touches the host's own network: the bridges, the router and etcd live in the fabric
 * namespace. The agents and the CNI plugin run inside their host namespace (`ip netns exec`) and
 * reach etcd over the fabric, as real nodes would. This process (in the root namespace) reaches the
 * same etcd through the unix socket etcd also listens on (a file, so it crosses namespaces): a
 * small forwarder serves it on 127.0.0.1:<free port> for the gRPC client.
 *
 * Everything is removed by {@link Cluster.destroy} (also on process exit and SIGINT/SIGTERM).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { workloadEndpointName, type WorkloadEndpoint } from '@libcalico-ts/api';
import { createClientFromConfig, type Client } from '@libcalico-ts/client';
import { setupWorkloadInterface, workloadInterfaceName } from '@libcalico-ts/dataplane';

const run = promisify(execFile);

/** Repository root (this file is examples/cluster/src/cluster.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const ETCD_BINARY = process.env.ETCD_BINARY ?? '/usr/bin/etcd';
export const BIRD_BINARY = process.env.BIRD_BIN ?? '/usr/sbin/bird';
export const BIRDC_BINARY = process.env.BIRDC_BIN ?? '/usr/sbin/birdc';

/** The two underlay subnets. */
export const SUBNETS = {
  a: { bridge: 'br-a', prefix: '192.168.10', gateway: '192.168.10.254' },
  b: { bridge: 'br-b', prefix: '192.168.20', gateway: '192.168.20.254' },
} as const;
export type SubnetName = keyof typeof SUBNETS;

/** The etcd URL the hosts use. */
export const ETCD_FABRIC_URL = `http://${SUBNETS.a.gateway}:2379`;

export interface HostSpec {
  name: string;
  subnet: SubnetName;
}

export interface ClusterOptions {
  /** Unique short tag used in namespace names (default: `c<pid>`). */
  id?: string;
  hosts: HostSpec[];
  /** Receives every line the agents, BIRD and etcd print (default: kept in memory only). */
  onOutput?: (source: string, line: string) => void;
}

/** One host namespace. */
export interface Host {
  name: string;
  netns: string;
  address: string;
  cidr: string;
  subnet: SubnetName;
  /** Directory of this host's BIRD files and control socket. */
  birdDir: string;
  birdSocket: string;
  agent?: ChildProcess;
  bird?: ChildProcess;
  pods: Pod[];
}

/** A pod namespace wired to its host. */
export interface Pod {
  name: string;
  netns: string;
  host: string;
  ip: string;
  hostInterface: string;
  via: 'cni-plugin' | 'sdk';
}

/** Options of {@link Cluster.startAgent}. */
export interface AgentStartOptions {
  backend?: 'bird' | 'vxlan' | 'none';
  /** Extra arguments for `calico-agent run`. */
  args?: string[];
}

/** GET over a unix socket; resolves with the body ('' on any failure). */
function unixGet(socketPath: string, path: string): Promise<string> {
  return new Promise((resolve) => {
    const request = httpRequest({ socketPath, path, timeout: 1000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.on('end', () => resolve(body));
      response.on('error', () => resolve(''));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(''));
    request.end();
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a truthy value; throws with `what` after `timeoutMs`. */
export async function waitUntil<T>(check: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last instanceof Error ? last.message : String(last)}` : ''}`);
    await delay(200);
  }
}

const live = new Set<Cluster>();
let hooksInstalled = false;
function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const cluster of live) cluster.destroySync();
  });
}

/** Why the cluster cannot be built here, or null. */
export function clusterUnavailableReason(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const binary of [ETCD_BINARY, '/usr/sbin/ip', '/usr/bin/ip']) if (binary.includes('etcd') && !existsSync(binary)) return `${binary} is missing (Debian etcd-server)`;
  return null;
}

/** A running cluster. Build it with {@link Cluster.create}. */
export class Cluster {
  readonly id: string;
  readonly fabric: string;
  readonly dir: string;
  readonly hosts: Host[] = [];
  /** URL of the forwarder (root namespace) to etcd. */
  clientEndpoint = '';
  etcd: ChildProcess | undefined;
  private forwarder: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly output = new Map<string, string[]>();
  private readonly onOutput: ClusterOptions['onOutput'];
  private destroyed = false;
  private podCounter = 0;
  private namespaces: string[] = [];
  private clients: Client[] = [];

  private constructor(options: ClusterOptions) {
    this.id = options.id ?? `c${process.pid}`;
    this.fabric = `${this.id}-fab`;
    this.dir = mkdtempSync(join(tmpdir(), `lcts-cluster-${this.id}-`));
    this.onOutput = options.onOutput;
  }

  /** Builds the fabric, the hosts and etcd. On failure everything created so far is removed. */
  static async create(options: ClusterOptions): Promise<Cluster> {
    installHooks();
    const cluster = new Cluster(options);
    live.add(cluster);
    try {
      await cluster.buildNetwork(options.hosts);
      await cluster.startEtcd();
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
    return cluster;
  }

  private async ip(...args: string[]): Promise<string> {
    const { stdout } = await run('ip', args);
    return stdout;
  }

  /** Runs a command inside namespace `netns`. */
  async exec(netns: string, ...command: string[]): Promise<string> {
    const { stdout } = await run('ip', ['netns', 'exec', netns, ...command], { maxBuffer: 16 << 20 });
    return stdout;
  }

  private async addNetns(name: string): Promise<void> {
    await this.ip('netns', 'add', name);
    this.namespaces.push(name);
    await this.ip('-n', name, 'link', 'set', 'lo', 'up');
  }

  private async buildNetwork(specs: HostSpec[]): Promise<void> {
    await this.addNetns(this.fabric);
    await this.exec(this.fabric, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    for (const subnet of Object.values(SUBNETS)) {
      await this.ip('-n', this.fabric, 'link', 'add', subnet.bridge, 'type', 'bridge');
      await this.ip('-n', this.fabric, 'addr', 'add', `${subnet.gateway}/24`, 'dev', subnet.bridge);
      await this.ip('-n', this.fabric, 'link', 'set', subnet.bridge, 'up');
    }
    const used = new Map<SubnetName, number>();
    for (const [i, spec] of specs.entries()) {
      const subnet = SUBNETS[spec.subnet];
      used.set(spec.subnet, (used.get(spec.subnet) ?? 0) + 1);
      const address = `${subnet.prefix}.${i + 1}`;
      const netns = `${this.id}-${spec.name}`;
      await this.addNetns(netns);
      const port = `p-${spec.name}`.slice(0, 15);
      await this.ip('-n', netns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', this.fabric);
      await this.ip('-n', this.fabric, 'link', 'set', port, 'master', subnet.bridge);
      await this.ip('-n', this.fabric, 'link', 'set', port, 'up');
      await this.ip('-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      await this.ip('-n', netns, 'link', 'set', 'eth0', 'up');
      await this.ip('-n', netns, 'route', 'add', 'default', 'via', subnet.gateway, 'dev', 'eth0');
      const birdDir = join(this.dir, spec.name, 'bird');
      this.hosts.push({ name: spec.name, netns, address, cidr: `${address}/24`, subnet: spec.subnet, birdDir, birdSocket: join(birdDir, 'bird.ctl'), pods: [] });
    }
  }

  private capture(source: string, child: ChildProcess): void {
    const lines: string[] = [];
    this.output.set(source, lines);
    let partial = '';
    const take = (chunk: Buffer) => {
      partial += chunk.toString('utf8');
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > 2000) lines.shift();
        this.onOutput?.(source, line);
      }
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
  }

  /** Output lines captured from `source` (`etcd`, `agent:<host>`, `bird:<host>`). */
  logs(source: string): string[] {
    return this.output.get(source) ?? [];
  }

  // -------------------------------------------------------------------------------------------
  // etcd

  /** Starts etcd in the fabric namespace (data kept across restarts) and the forwarder. */
  async startEtcd(): Promise<void> {
    const dataDir = join(this.dir, 'etcd');
    const socket = join(this.dir, 'localhost:2379');
    rmSync(socket, { force: true });
    const child = spawn(
      'ip',
      [
        'netns', 'exec', this.fabric, ETCD_BINARY,
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${ETCD_FABRIC_URL},unix://localhost:2379`,
        `--advertise-client-urls=${ETCD_FABRIC_URL}`,
        '--listen-peer-urls=http://127.0.0.1:2380',
        '--initial-advertise-peer-urls=http://127.0.0.1:2380',
        '--initial-cluster=default=http://127.0.0.1:2380',
        '--log-level=error',
      ],
      { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.etcd = child;
    this.capture('etcd', child);
    await waitUntil(async () => {
      if (child.exitCode !== null) throw new Error(`etcd exited: ${this.logs('etcd').join('\n')}`);
      if (!existsSync(socket)) return false;
      return /"health":\s*"true"/.test(await unixGet(socket, '/health'));
    }, 20_000, 'etcd to become healthy');
    if (!this.forwarder) await this.startForwarder(socket);
  }

  private async startForwarder(socket: string): Promise<void> {
    const server = createServer((incoming) => {
      const outgoing = createConnection(socket);
      this.sockets.add(incoming);
      this.sockets.add(outgoing);
      const close = () => {
        incoming.destroy();
        outgoing.destroy();
        this.sockets.delete(incoming);
        this.sockets.delete(outgoing);
      };
      incoming.on('error', close).on('close', close);
      outgoing.on('error', close).on('close', close);
      incoming.pipe(outgoing);
      outgoing.pipe(incoming);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    this.clientEndpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    this.forwarder = server;
  }

  /** SIGKILLs etcd (data kept). Connections through the forwarder break, as they would on a real outage. */
  async killEtcd(): Promise<void> {
    const child = this.etcd;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    for (const s of this.sockets) s.destroy();
  }

  /** A client on the cluster's etcd (closed by destroy). */
  async client(): Promise<Client> {
    const client = await createClientFromConfig({ datastoreType: 'etcdv3', etcdEndpoints: this.clientEndpoint });
    this.clients.push(client);
    return client;
  }

  // -------------------------------------------------------------------------------------------
  // Agents and BIRD

  host(name: string): Host {
    const host = this.hosts.find((h) => h.name === name);
    if (!host) throw new Error(`no host ${name}`);
    return host;
  }

  /** Starts `calico-agent run` inside the host namespace (from source, through tsx). */
  startAgent(name: string, options: AgentStartOptions = {}): ChildProcess {
    const host = this.host(name);
    const backend = options.backend ?? 'vxlan';
    const args = [
      'netns', 'exec', host.netns,
      process.execPath, '--import', 'tsx', '--conditions=source', join(REPO_ROOT, 'examples/agent/src/main.ts'),
      'run', '--node', host.name, '--ip', host.cidr, '--backend', backend,
      '--metrics-address', '127.0.0.1:9091', '--resync-interval', '30',
      ...(backend === 'bird' ? ['--bird-dir', host.birdDir, '--bird-socket', host.birdSocket, '--dialect', 'bird2'] : []),
      ...(options.args ?? []),
    ];
    const child = spawn('ip', args, {
      cwd: REPO_ROOT,
      env: { ...process.env, DATASTORE_TYPE: 'etcdv3', ETCD_ENDPOINTS: ETCD_FABRIC_URL, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    host.agent = child;
    this.capture(`agent:${name}`, child);
    return child;
  }

  /** Stops a host's agent with `signal` and waits for it to exit; returns its exit code (or signal). */
  async stopAgent(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string> {
    const host = this.host(name);
    const child = host.agent;
    host.agent = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? child?.signalCode ?? 'not running';
    const exited = new Promise<number | string>((r) => child.once('exit', (code, sig) => r(code ?? sig ?? 'unknown')));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const result = await exited;
    clearTimeout(timer);
    return result;
  }

  /** GETs a path of a host's agent metrics server (inside its namespace). */
  async agentHttp(name: string, path: string): Promise<{ status: number; body: string }> {
    const script = `fetch('http://127.0.0.1:9091${path}').then(async r=>{process.stdout.write(JSON.stringify({status:r.status,body:await r.text()}))},e=>{process.stdout.write(JSON.stringify({status:0,body:String(e)}))})`;
    const out = await this.exec(this.host(name).netns, process.execPath, '-e', script);
    return JSON.parse(out) as { status: number; body: string };
  }

  /** Starts BIRD 2 in the host namespace on the agent-written files (waits for bird.cfg). */
  async startBird(name: string): Promise<ChildProcess> {
    const host = this.host(name);
    await waitUntil(() => existsSync(join(host.birdDir, 'bird.cfg')), 30_000, `${name}'s agent to write bird.cfg`);
    const child = spawn('ip', ['netns', 'exec', host.netns, BIRD_BINARY, '-f', '-c', join(host.birdDir, 'bird.cfg'), '-s', host.birdSocket, '-P', join(host.birdDir, 'bird.pid')], {
      cwd: host.birdDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    host.bird = child;
    this.capture(`bird:${name}`, child);
    await waitUntil(() => {
      if (child.exitCode !== null) throw new Error(`BIRD exited: ${this.logs(`bird:${name}`).join('\n')}`);
      return existsSync(host.birdSocket);
    }, 10_000, `BIRD on ${name}`);
    return child;
  }

  /** `birdc -s <socket> <command...>` for a host. */
  async birdc(name: string, ...command: string[]): Promise<string> {
    const { stdout } = await run(BIRDC_BINARY, ['-s', this.host(name).birdSocket, ...command]);
    return stdout;
  }

  /** The host's main routing table (`ip route`). */
  async routes(name: string): Promise<string> {
    return this.ip('-n', this.host(name).netns, 'route');
  }

  // -------------------------------------------------------------------------------------------
  // Pods

  /**
   * Path of the CNI plugin launcher when it is built and answers `CNI_COMMAND=VERSION` (checked
   * on every call: the plugin may be rebuilt while a suite runs), else undefined.
   */
  static cniPlugin(): string | undefined {
    const bin = join(REPO_ROOT, 'examples/cni/bin/calico');
    if (!existsSync(bin)) return undefined;
    try {
      const out = execFileSync(bin, [], { env: { ...process.env, CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"1.0.0"}', stdio: ['pipe', 'pipe', 'ignore'], timeout: 20_000 });
      return /supportedVersions/.test(out.toString()) ? bin : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Creates a pod on `hostName`: a namespace wired to the host as Calico's CNI plugin does, with an
   * address from IPAM and a WorkloadEndpoint. Uses the real CNI plugin (`examples/cni/bin/calico`,
   * run inside the host namespace with the CNI environment) when it is built and `useCni` is not
   * false; otherwise the same steps through the SDK (IPAM autoAssign, setupWorkloadInterface,
   * WorkloadEndpoint create). `LIBCALICO_TS_CLUSTER_PODS=cni|sdk` forces one way (default `auto`).
   */
  async addPod(hostName: string, podName: string, client: Client, options: { useCni?: boolean; mtu?: number } = {}): Promise<Pod> {
    const host = this.host(hostName);
    const netns = `${this.id}-pod${++this.podCounter}`;
    await this.addNetns(netns);
    const containerID = `${this.id}${this.podCounter}`.padEnd(16, '0');
    const hostInterface = workloadInterfaceName('default', podName);
    const mode = process.env.LIBCALICO_TS_CLUSTER_PODS ?? 'auto';
    const plugin = options.useCni === false || mode === 'sdk' ? undefined : Cluster.cniPlugin();
    if (!plugin && mode === 'cni') throw new Error('LIBCALICO_TS_CLUSTER_PODS=cni but examples/cni/bin/calico is not built or does not answer VERSION');
    let ip: string;
    if (plugin) {
      const netconf = {
        cniVersion: '1.0.0',
        name: 'k8s-pod-network',
        type: 'calico',
        datastore_type: 'etcdv3',
        etcd_endpoints: ETCD_FABRIC_URL,
        nodename: host.name,
        nodename_file_optional: true,
        mtu: options.mtu ?? 1450,
        ipam: { type: 'calico-ipam' },
      };
      const stdinFile = join(this.dir, `${netns}.json`);
      writeFileSync(stdinFile, JSON.stringify(netconf));
      const env = [
        'CNI_COMMAND=ADD',
        `CNI_CONTAINERID=${containerID}`,
        `CNI_NETNS=/run/netns/${netns}`,
        'CNI_IFNAME=eth0',
        `CNI_PATH=${dirname(plugin)}`,
        `CNI_ARGS=K8S_POD_NAMESPACE=default;K8S_POD_NAME=${podName};K8S_POD_INFRA_CONTAINER_ID=${containerID}`,
      ];
      const { stdout } = await run('sh', ['-c', `exec ip netns exec ${host.netns} env ${env.map((e) => `'${e}'`).join(' ')} ${plugin} < ${stdinFile}`], { cwd: REPO_ROOT });
      const result = JSON.parse(stdout) as { ips?: { address: string }[]; code?: number; msg?: string };
      if (!result.ips?.length) throw new Error(`CNI ADD failed: ${stdout}`);
      ip = result.ips[0]!.address.split('/')[0]!;
    } else {
      const handleId = `k8s-pod-network.${containerID}`;
      const assigned = await client.ipam.autoAssign({ num4: 1, handleId, hostname: host.name, intendedUse: 'Workload', attrs: { node: host.name, namespace: 'default', pod: podName } });
      const cidr = assigned.ipv4?.ips[0];
      if (!cidr) throw new Error(`no address for ${podName}: ${assigned.ipv4?.msgs.join('; ')}`);
      ip = cidr.split('/')[0]!;
      const result = await setupWorkloadInterface({ hostNs: host.netns, containerNetns: netns, hostIfName: hostInterface, ipv4: [ip], mtu: options.mtu ?? 1450 });
      const wep = {
        apiVersion: 'projectcalico.org/v3',
        kind: 'WorkloadEndpoint',
        metadata: { name: workloadEndpointName({ node: host.name, orchestrator: 'k8s', pod: podName, endpoint: 'eth0' }), namespace: 'default' },
        spec: {
          orchestrator: 'k8s',
          node: host.name,
          pod: podName,
          endpoint: 'eth0',
          containerID,
          interfaceName: hostInterface,
          ipNetworks: [`${ip}/32`],
          profiles: ['kns.default'],
          ...(result.containerMac ? { mac: result.containerMac } : {}),
        },
      } as unknown as WorkloadEndpoint;
      await client.workloadEndpoints.create(wep);
    }
    const pod: Pod = { name: podName, netns, host: host.name, ip, hostInterface, via: plugin ? 'cni-plugin' : 'sdk' };
    host.pods.push(pod);
    return pod;
  }

  /** Whether `ping -c1 -W1 target` succeeds from the pod (retries up to `attempts` times). */
  async ping(pod: Pod, target: string, attempts = 1): Promise<boolean> {
    for (let i = 0; i < attempts; i++) {
      try {
        await this.exec(pod.netns, 'ping', '-c1', '-W1', target);
        return true;
      } catch {
        if (i + 1 < attempts) await delay(300);
      }
    }
    return false;
  }

  // -------------------------------------------------------------------------------------------
  // Teardown

  /** Kills every process, closes clients, deletes every namespace and the temp directory. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    for (const client of this.clients) await client.close().catch(() => undefined);
    this.clients = [];
    const children = [...this.hosts.flatMap((h) => [h.agent, h.bird]), this.etcd].filter((c): c is ChildProcess => !!c && c.exitCode === null && c.signalCode === null);
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.forwarder ? this.forwarder.close(() => r()) : r()));
    this.destroySync();
  }

  /** Synchronous last-resort cleanup (process exit): SIGKILL children, delete namespaces and files. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const child of [...this.hosts.flatMap((h) => [h.agent, h.bird]), this.etcd]) {
      if (child && child.exitCode === null && child.signalCode === null) {
        try {
          child.kill('SIGKILL');
        } catch {
          // gone
        }
      }
    }
    for (const name of [...this.namespaces].reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
