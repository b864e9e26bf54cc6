/**
 * The node agent: one list-then-watch syncer feeds a cluster cache and an incremental route
 * calculator; a serialised, debounced "pass" then brings the node in line:
 *
 * 1. tunnel addresses (VXLAN / IPIP) allocated through IPAM and written to the Node;
 * 2. devices: `vxlan.calico` (created, repaired or deleted) and `tunl0` where the kernel has ipip;
 * 3. routes: the calculator's Felix-owned routes, diffed against the kernel and applied (only the
 *    routes the agent owns are ever touched, see route-plan.ts); VXLAN ARP/FDB entries;
 * 4. NAT-outgoing iptables rules (`iptables-restore --noflush`, unchanged tables run nothing);
 * 5. the BIRD files (BGP passwords from the secret source), written atomically only when they
 *    changed, mode 0600 when they hold a password, then `birdc configure`;
 * 6. metrics.
 *
 * Nothing is programmed before the syncer is in sync (so a restart never deletes routes it has
 * not heard about yet), and unchanged state is never rewritten (a restart does not flap routes).
 * On stop the agent leaves the dataplane as it is, like Felix.
 */
import { existsSync } from 'node:fs';
import type { FelixConfiguration, IPPool, Node } from '@libcalico-ts/api';
import { CalicoError } from '@libcalico-ts/api';
import { renderBirdConfigWithWarnings, type BirdDialect } from '@libcalico-ts/bgp';
import type { Client } from '@libcalico-ts/client';
import {
  IptablesApplier,
  ensureTunl0,
  ensureVxlanDevice,
  felixGlobalSysctls,
  kernelSupportsIpip,
  natTable,
  syncVxlanNeighbours,
  vtepMac,
  type CommandRunner,
  type LinkInfo,
  type NetlinkOps,
  type RouteSpec,
} from '@libcalico-ts/dataplane';
import { SyncStatus, createSyncer, type Syncer, type SyncerOptions, type SyncUpdate } from '@libcalico-ts/datastore';
import { RouteCalculator, type Route, type RouteOptions, type RouteTable } from '@libcalico-ts/routes';
import { removeStaleTempFiles, reconfigureBird, writeBirdFiles } from './bird-files.js';
import { AGENT_LISTS, ClusterCache } from './cache.js';
import { routeChangesOf } from './changes.js';
import type { Logger } from './log.js';
import { MetricsRegistry, startMetricsServer, updateIpamMetrics, type HealthState } from './metrics.js';
import { planRoutes, toKernelRoute } from './route-plan.js';
import { PasswordResolver, type SecretSource } from './secrets.js';
import { reconcileTunnelAddress, type TunnelKind } from './tunnel.js';

/** Which networking backend runs on the node (calico-node's `CALICO_NETWORKING_BACKEND`). */
export type NetworkingBackend = 'bird' | 'vxlan' | 'none';

/** Options of {@link Agent}. */
export interface AgentOptions {
  nodeName: string;
  client: Client;
  /** Netlink operations on the namespace to program (`NetlinkClient` here, or a `NetnsSession`). */
  ops: NetlinkOps;
  /** Namespace name when programming another namespace (iptables runs there through nsenter). */
  netns?: string;
  logger: Logger;
  /** Default `bird`. */
  backend?: NetworkingBackend;
  /** Where the BIRD files go (backend `bird`); unset: no BIRD files. */
  birdDir?: string;
  /** BIRD control socket told to `configure` after the files changed; unset or absent file: no reload. */
  birdSocket?: string;
  /** Default `calico`. */
  dialect?: BirdDialect;
  /** Serve `/metrics` and `/healthz` here; unset: no server. */
  metricsAddress?: { host: string; port: number };
  /** Routes computation options (calico version, route owners...). The parent device and host MTU are detected when not given. */
  routeOptions?: RouteOptions;
  /** Program NAT-outgoing rules (default true). */
  iptables?: boolean;
  /** Runs iptables commands (tests). */
  commandRunner?: CommandRunner;
  /** Re-check everything this often even without changes (ms, default 90,000 like Felix's route refresh). */
  resyncIntervalMs?: number;
  /** Wait this long after a change before a pass, to batch changes (ms, default 50). */
  debounceMs?: number;
  /** Register the node with this IPv4 address/prefix (creates or updates its Node resource). */
  nodeAddress?: string;
  /** Allocate tunnel addresses (default true). */
  allocateTunnelAddresses?: boolean;
  /** Syncer options (backoff, inactivity timeout). */
  syncerOptions?: SyncerOptions;
  /** Grace period for unexpected workload routes (ms, default 10,000). */
  workloadRouteGraceMs?: number;
  /**
   * Where BGP passwords (`secretKeyRef`s of BGPPeers and of BGPConfiguration `default`'s
   * `nodeMeshPassword`) come from. Unset: no password lines (each referenced one is warned about).
   * The caller owns the source (closes it after `stop()`).
   */
  secrets?: SecretSource;
  /** Namespace of the password Secrets (calico-node's `NAMESPACE`; default `kube-system`). */
  namespace?: string;
  /**
   * Re-read the secrets in use this often and re-render the BIRD files when one changed (ms,
   * default 30,000; 0: only when the datastore changes or on the resync interval). Also the age
   * under which a cached value is reused by a render.
   */
  secretRefreshMs?: number;
}

/** Counters of what the last pass did (also exported as metrics). */
export interface PassReport {
  routes: { replaced: number; deleted: number; unchanged: number; conflicts: number; deferred: number; skipped: number };
  neighbours?: { added: number; removed: number };
  iptablesChanged?: boolean;
  birdChanged?: string[];
  birdReloaded?: boolean;
  tunnels?: { kind: TunnelKind; action: string; address?: string }[];
}

const MTU_IFACE = /^((en|wl|ww|sl|ib)[Pcopsvx].*|(eth|wlan|wwan).*)/;

function stripPrefix(address: string | undefined): string | undefined {
  return address ? address.split('/')[0] : undefined;
}

function mergedFelixConfig(configs: readonly FelixConfiguration[], nodeName: string): Record<string, unknown> {
  const base = configs.find((c) => c.metadata.name === 'default')?.spec ?? {};
  const node = configs.find((c) => c.metadata.name === `node.${nodeName}`)?.spec ?? {};
  return { ...base, ...node } as Record<string, unknown>;
}

/** Sleeps `ms`, resolving early when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * The agent. `start()` connects and begins; `stop()` stops watching and closes everything but
 * leaves routes, devices, rules and files in place.
 */
export class Agent {
  readonly cache: ClusterCache;
  readonly metrics = new MetricsRegistry();
  private readonly options: AgentOptions;
  private readonly log: Logger;
  private syncer: Syncer | undefined;
  private status: SyncStatus = SyncStatus.Waiting;
  private calculator: RouteCalculator | undefined;
  private calculatorKey = '';
  private readonly stopController = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private rerun = false;
  private force = true;
  private dirty = { routes: true, tunnels: true, iptables: true, bird: true, metrics: true };
  private lastPassOk = false;
  private lastError: string | undefined;
  private failures = 0;
  private ipipSupported: boolean | undefined;
  private warnedOnce = new Set<string>();
  private readonly firstSeen = new Map<string, number>();
  private server: { port: number; close(): Promise<void> } | undefined;
  private pendingReload = false;
  private readonly passwords: PasswordResolver;
  private secretTimer: NodeJS.Timeout | undefined;
  private secretRefreshing = false;
  private readonly iptables: IptablesApplier | undefined;
  private inSyncWaiters: (() => void)[] = [];
  private passWaiters: { after: number; resolve: () => void }[] = [];
  private passCount = 0;
  /** The last pass's report. */
  lastReport: PassReport | undefined;
  /** The computed table used by the last pass. */
  lastTable: RouteTable | undefined;

  constructor(options: AgentOptions) {
    this.options = options;
    this.log = options.logger;
    this.cache = new ClusterCache(options.nodeName);
    this.passwords = new PasswordResolver({
      source: options.secrets,
      logger: options.logger,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      maxAgeMs: options.secretRefreshMs ?? 30_000,
    });
    if (options.iptables ?? true) {
      this.iptables = new IptablesApplier({
        ...(options.netns !== undefined ? { netns: options.netns } : {}),
        ...(options.commandRunner ? { runner: options.commandRunner } : {}),
      });
    }
    const m = this.metrics;
    m.define('calico_agent_sync_status', 'gauge', 'Datastore sync status of the agent (1 for the current status).');
    m.define('calico_agent_in_sync', 'gauge', '1 when the agent has the whole datastore state.');
    m.define('calico_agent_routes_programmed', 'gauge', 'Routes the agent has programmed and verified in the kernel.');
    m.define('calico_agent_route_conflicts', 'gauge', 'Computed routes blocked by a route the agent does not own.');
    m.define('calico_agent_route_changes_total', 'counter', 'Kernel route changes made by the agent, by operation.');
    m.define('calico_agent_vxlan_neighbors', 'gauge', 'Remote VTEPs programmed on vxlan.calico.');
    m.define('calico_agent_dataplane_passes_total', 'counter', 'Dataplane passes, by result.');
    m.define('calico_agent_datastore_updates_total', 'counter', 'Datastore updates received from the syncer.');
    m.define('calico_agent_bird_reloads_total', 'counter', 'BIRD reconfigurations after the files changed, by result.');
    m.define('ipam_allocations_in_use', 'gauge', 'IP addresses allocated, by IP pool and node.');
    m.define('ipam_allocations_borrowed', 'gauge', 'IP addresses allocated from a block affine to another node, by IP pool and borrowing node.');
    m.define('ipam_blocks', 'gauge', 'IPAM blocks, by IP pool and owning node.');
    m.define('ipam_ippool_size', 'gauge', 'Addresses in each IP pool.');
    for (const s of Object.values(SyncStatus)) m.set('calico_agent_sync_status', s === this.status ? 1 : 0, { status: s });
    m.set('calico_agent_in_sync', 0);
  }

  /** The syncer status. */
  get syncStatus(): SyncStatus {
    return this.status;
  }

  /** Port of the metrics server, when started. */
  get metricsPort(): number | undefined {
    return this.server?.port;
  }

  /** `/healthz` state. */
  health(): HealthState {
    return {
      healthy: this.status === SyncStatus.InSync && this.lastPassOk,
      detail: { syncStatus: this.status, lastPassOk: this.lastPassOk, ...(this.lastError ? { lastError: this.lastError } : {}), passes: this.passCount },
    };
  }

  /** Starts the metrics server, registers the node (when asked), starts the syncer. */
  async start(): Promise<void> {
    const o = this.options;
    if (o.metricsAddress) {
      this.server = await startMetricsServer(o.metricsAddress, this.metrics, () => this.health());
      this.log.info('serving metrics', { address: `${o.metricsAddress.host}:${this.server.port}` });
    }
    if (o.birdDir) {
      const stale = await removeStaleTempFiles(o.birdDir);
      if (stale.length) this.log.info('removed stale temporary BIRD files', { files: stale });
    }
    await this.writeSysctls();
    if (o.nodeAddress) await this.registerNode(o.nodeAddress);
    if (this.stopController.signal.aborted) return;
    this.syncer = createSyncer(
      o.client.datastore,
      AGENT_LISTS,
      {
        onStatus: (status) => this.onStatus(status),
        onUpdates: (updates) => this.onUpdates(updates),
        onError: (error, context) => {
          this.log.warn('datastore sync problem, resyncing', { list: AGENT_LISTS[context.listIndex]?.type, attempt: context.attempt, error });
        },
      },
      o.syncerOptions,
    );
    this.syncer.start();
    const interval = o.resyncIntervalMs ?? 90_000;
    if (interval > 0) {
      this.resyncTimer = setInterval(() => {
        this.force = true;
        this.schedule(0);
      }, interval);
      this.resyncTimer.unref();
    }
    const secretRefresh = o.secretRefreshMs ?? 30_000;
    if (o.secrets && secretRefresh > 0) {
      this.secretTimer = setInterval(() => void this.refreshSecrets(), secretRefresh);
      this.secretTimer.unref();
    }
  }

  /** Re-reads the secrets the BIRD files use; a changed value schedules a BIRD pass. */
  private async refreshSecrets(): Promise<void> {
    if (this.secretRefreshing || this.stopController.signal.aborted) return;
    this.secretRefreshing = true;
    try {
      if (await this.passwords.refresh()) {
        this.log.info('a BGP password secret changed; re-rendering the BIRD files');
        this.dirty.bird = true;
        this.schedule(this.options.debounceMs ?? 50);
      }
    } catch (error) {
      this.log.warn('re-reading BGP password secrets failed', { error });
    } finally {
      this.secretRefreshing = false;
    }
  }

  /** Resolves once the syncer reported `in-sync`. */
  waitInSync(): Promise<void> {
    if (this.status === SyncStatus.InSync) return Promise.resolve();
    return new Promise((resolve) => this.inSyncWaiters.push(resolve));
  }

  /** Resolves after the next pass that starts after now has finished (successfully or not). */
  waitForPass(): Promise<void> {
    const after = this.passCount + (this.running ? 1 : 0);
    return new Promise((resolve) => this.passWaiters.push({ after, resolve }));
  }

  /** Stops watching and serving; leaves the dataplane untouched. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopController.signal.aborted) return;
    this.stopController.abort();
    if (this.timer) clearTimeout(this.timer);
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    if (this.secretTimer) clearInterval(this.secretTimer);
    await this.syncer?.stop();
    await this.running?.catch(() => undefined);
    await this.server?.close();
    for (const w of this.passWaiters) w.resolve();
    this.passWaiters = [];
  }

  // -------------------------------------------------------------------------------------------
  // Syncer callbacks

  private onStatus(status: SyncStatus): void {
    this.status = status;
    for (const s of Object.values(SyncStatus)) this.metrics.set('calico_agent_sync_status', s === status ? 1 : 0, { status: s });
    this.metrics.set('calico_agent_in_sync', status === SyncStatus.InSync ? 1 : 0);
    this.log.info('datastore sync status', { status });
    if (status === SyncStatus.InSync) {
      for (const resolve of this.inSyncWaiters) resolve();
      this.inSyncWaiters = [];
      this.force = true;
      this.schedule(0);
    }
  }

  private onUpdates(updates: SyncUpdate[]): void {
    this.cache.apply(updates);
    this.metrics.inc('calico_agent_datastore_updates_total', updates.length);
    const changes = this.cache.takeChanges();
    const lists = changes.lists;
    if (this.calculator) {
      try {
        let touched = false;
        for (const update of updates) {
          for (const change of routeChangesOf(update)) {
            const deltas = this.calculator.apply(change);
            if (deltas.routes.length || deltas.neighbors.length || deltas.fdb.length) touched = true;
          }
        }
        if (touched) this.dirty.routes = true;
      } catch (error) {
        this.log.warn('route calculator rejected a change; rebuilding it from the cache', { error });
        this.calculator = undefined;
        this.dirty.routes = true;
      }
    }
    if (lists.has('pools') || changes.localNode) {
      this.dirty.tunnels = true;
      this.dirty.routes = true; // devices depend on pools and the node's tunnel addresses
    }
    if (lists.has('pools') || lists.has('nodes')) this.dirty.iptables = true;
    if (['nodes', 'pools', 'affinities', 'bgp', 'bgpPeers', 'bgpFilters'].some((l) => lists.has(l as never))) this.dirty.bird = true;
    if (lists.has('felix') || lists.has('bgp')) this.calculatorKey = ''; // MTUs / owners may change
    this.dirty.metrics = true;
    if (this.status === SyncStatus.InSync) this.schedule(this.options.debounceMs ?? 50);
  }

  // -------------------------------------------------------------------------------------------
  // Passes

  private schedule(delayMs: number): void {
    if (this.stopController.signal.aborted) return;
    if (this.running) {
      this.rerun = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.pass().finally(() => {
        this.running = undefined;
        this.passCount++;
        const done = this.passWaiters.filter((w) => this.passCount >= w.after + 1);
        this.passWaiters = this.passWaiters.filter((w) => this.passCount < w.after + 1);
        for (const w of done) w.resolve();
        if (this.rerun) {
          this.rerun = false;
          this.schedule(this.options.debounceMs ?? 50);
        }
      });
    }, delayMs);
  }

  private async pass(): Promise<void> {
    if (this.status !== SyncStatus.InSync || this.stopController.signal.aborted) return;
    const force = this.force;
    this.force = false;
    const dirty = this.dirty;
    this.dirty = { routes: false, tunnels: false, iptables: false, bird: false, metrics: false };
    const report: PassReport = { routes: { replaced: 0, deleted: 0, unchanged: 0, conflicts: 0, deferred: 0, skipped: 0 } };
    const problems: string[] = [];
    const step = async (name: keyof typeof dirty, fn: () => Promise<void>) => {
      if (!force && !dirty[name]) return;
      try {
        await fn();
      } catch (error) {
        this.dirty[name] = true;
        problems.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
        this.log.error(`${name} step failed`, { error });
      }
    };
    await step('tunnels', () => this.tunnelStep(report));
    await step('routes', () => this.routeStep(report));
    await step('iptables', () => this.iptablesStep(report));
    await step('bird', () => this.birdStep(report));
    await step('metrics', async () => updateIpamMetrics(this.metrics, this.cache.pools, this.cache.blocks));
    this.lastReport = report;
    this.lastPassOk = problems.length === 0;
    this.lastError = problems.length ? problems.join('; ') : undefined;
    this.metrics.inc('calico_agent_dataplane_passes_total', 1, { result: this.lastPassOk ? 'ok' : 'error' });
    if (!this.lastPassOk) {
      this.failures++;
      const delay = Math.min(30_000, 250 * 2 ** Math.min(this.failures - 1, 7));
      await sleep(delay, this.stopController.signal);
      this.rerun = true;
    } else {
      this.failures = 0;
    }
  }

  private async tunnelStep(report: PassReport): Promise<void> {
    if (this.options.allocateTunnelAddresses === false) return;
    if (!this.cache.localNode) return;
    report.tunnels = [];
    for (const kind of ['vxlan', 'ipip'] as const) {
      const result = await reconcileTunnelAddress(this.options.client, this.options.nodeName, kind, this.cache.pools);
      report.tunnels.push({ kind, action: result.action, ...(result.address ? { address: result.address } : {}) });
      if (result.action === 'assigned' || result.action === 'released') {
        this.log.info(`${kind} tunnel address ${result.action}`, { address: result.address ?? result.previous });
      }
    }
  }

  private warnOnce(key: string, message: string, fields?: Record<string, unknown>): void {
    if (this.warnedOnce.has(key)) return;
    this.warnedOnce.add(key);
    this.log.warn(message, fields);
  }

  /** The interface carrying `address`, and the host MTU (reference §3.3, §8.1). */
  private async inspectHost(address: string | undefined): Promise<{ parent?: string; hostMTU: number; links: LinkInfo[] }> {
    const links = await this.options.ops.listLinks();
    let parent: string | undefined;
    if (address) {
      const addresses = await this.options.ops.listAddresses({ family: address.includes(':') ? 6 : 4 });
      const hit = addresses.find((a) => a.address === address);
      if (hit) parent = hit.link ?? links.find((l) => l.index === hit.index)?.name;
    }
    const mtus = links.filter((l) => l.up && l.lowerUp && MTU_IFACE.test(l.name)).map((l) => l.mtu);
    return { ...(parent ? { parent } : {}), hostMTU: mtus.length ? Math.min(...mtus) : 1460, links };
  }

  private buildCalculator(options: RouteOptions): RouteCalculator | undefined {
    try {
      return new RouteCalculator(this.options.nodeName, this.cache.snapshot(), options);
    } catch (error) {
      if (CalicoError.isInstance(error) && (error as Error).name === 'ResourceNotFoundError') {
        this.warnOnce('no-node', `waiting for the Node resource ${this.options.nodeName}`);
        return undefined;
      }
      throw error;
    }
  }

  private async routeStep(report: PassReport): Promise<void> {
    const ops = this.options.ops;
    const node = this.cache.localNode;
    const nodeIP = stripPrefix(node?.spec.bgp?.ipv4Address);
    let host = await this.inspectHost(nodeIP);
    const felix = mergedFelixConfig(this.cache.felixConfigurations, this.options.nodeName);
    const base = this.options.routeOptions ?? {};
    const routeOptions: RouteOptions = {
      birdEnabled: (this.options.backend ?? 'bird') === 'bird',
      ...base,
      ...(base.parentDevice ?? host.parent ? { parentDevice: base.parentDevice ?? host.parent } : {}),
      hostMTU: base.hostMTU ?? host.hostMTU,
    };
    const key = JSON.stringify(routeOptions);
    if (!this.calculator || key !== this.calculatorKey) {
      this.calculator = this.buildCalculator(routeOptions);
      this.calculatorKey = this.calculator ? key : '';
    }
    if (!this.calculator || !node) return;
    const table = this.calculator.table();
    this.lastTable = table;

    // Devices.
    const pools = this.cache.pools.filter((p) => p.spec.cidr && !p.spec.cidr.includes(':'));
    const vxlanWanted = pools.some((p) => (p.spec.vxlanMode ?? 'Never') !== 'Never');
    const ipipWanted = pools.some((p) => (p.spec.ipipMode ?? 'Never') !== 'Never');
    const vxlanMTU = Number(felix.vxlanMTU) || host.hostMTU - 50;
    const ipipMTU = Number(felix.ipipMTU) || host.hostMTU - 20;
    const vxlanAddress = node.spec.ipv4VXLANTunnelAddr;
    let devicesChanged = false;
    if (vxlanWanted) {
      const parent = routeOptions.parentDevice;
      if (!nodeIP || !parent || !vxlanAddress) {
        this.warnOnce(`vxlan-${nodeIP}-${parent}-${vxlanAddress}`, 'vxlan.calico not set up yet', { nodeAddress: nodeIP, parent, tunnelAddress: vxlanAddress });
      } else {
        const before = host.links.find((l) => l.name === 'vxlan.calico');
        const link = await ensureVxlanDevice(ops, {
          parent,
          local: nodeIP,
          mac: node.spec.vxlanTunnelMACAddr ?? vtepMac(this.options.nodeName),
          mtu: vxlanMTU,
          tunnelAddress: vxlanAddress,
        });
        if (!before || before.index !== link.index || !before.up) devicesChanged = true;
      }
    } else if (host.links.some((l) => l.name === 'vxlan.calico')) {
      await ops.deleteLink('vxlan.calico', { ignoreMissing: true });
      devicesChanged = true;
      this.log.info('deleted vxlan.calico (no VXLAN pool)');
    }
    if (ipipWanted) {
      if (this.ipipSupported === undefined) this.ipipSupported = await kernelSupportsIpip(ops);
      if (this.ipipSupported) {
        await ensureTunl0(ops, { mtu: ipipMTU, ...(node.spec.bgp?.ipv4IPIPTunnelAddr ? { address: node.spec.bgp.ipv4IPIPTunnelAddr } : {}) });
        devicesChanged = true;
      } else {
        this.warnOnce('no-ipip', 'an IPIP pool exists but this kernel has no ipip support: IPIP routes are not programmed');
      }
    }
    if (devicesChanged) host = await this.inspectHost(nodeIP);

    // Routes: only Felix-owned ones, only through devices that exist and are up.
    const usable = new Set(host.links.filter((l) => l.up).map((l) => l.name));
    const desired: RouteSpec[] = [];
    for (const route of table.routes as Route[]) {
      if (route.programmer !== 'felix') continue;
      if (route.type === 'unicast' && route.device !== undefined && !usable.has(route.device)) {
        report.routes.skipped++;
        continue;
      }
      desired.push(toKernelRoute(route));
    }
    const current = [...(await ops.listRoutes({ family: 4 })), ...(await ops.listRoutes({ family: 6 }))];
    const plan = planRoutes(desired, current, { now: Date.now(), firstSeen: this.firstSeen, ...(this.options.workloadRouteGraceMs !== undefined ? { graceMs: this.options.workloadRouteGraceMs } : {}) });
    if (plan.replace.length || plan.delete.length) {
      await ops.applyRouteChanges({ replace: plan.replace, delete: plan.delete });
      this.log.info('routes updated', { replaced: plan.replace.length, deleted: plan.delete.length, unchanged: plan.unchanged });
    }
    for (const c of plan.conflicts) this.warnOnce(`conflict-${c.desired.dst}-${c.existing.protocol}`, 'route slot held by another owner', { destination: c.desired.dst, protocol: c.existing.protocol });
    if (plan.deferred > 0) this.schedule(Math.max(1000, Math.min(this.options.workloadRouteGraceMs ?? 10_000, 10_000)));
    report.routes = { replaced: plan.replace.length, deleted: plan.delete.length, unchanged: plan.unchanged, conflicts: plan.conflicts.length, deferred: plan.deferred, skipped: report.routes.skipped };
    this.metrics.inc('calico_agent_route_changes_total', plan.replace.length, { op: 'replace' });
    this.metrics.inc('calico_agent_route_changes_total', plan.delete.length, { op: 'delete' });
    this.metrics.set('calico_agent_routes_programmed', plan.unchanged + plan.replace.length);
    this.metrics.set('calico_agent_route_conflicts', plan.conflicts.length);

    // VXLAN neighbours / FDB.
    if (usable.has('vxlan.calico')) {
      const fdbByNode = new Map(table.fdb.filter((f) => f.family === 4).map((f) => [f.node, f]));
      const vteps = table.neighbors
        .filter((n) => n.family === 4 && fdbByNode.has(n.node))
        .map((n) => ({ tunnelAddress: n.address, mac: n.mac, nodeAddress: fdbByNode.get(n.node)!.destination }));
      report.neighbours = await syncVxlanNeighbours(ops, vteps);
      this.metrics.set('calico_agent_vxlan_neighbors', vteps.length);
    }
  }

  private async iptablesStep(report: PassReport): Promise<void> {
    if (!this.iptables) return;
    const pools = this.cache.pools.filter((p) => p.spec.cidr && !p.spec.cidr.includes(':'));
    const links = await this.options.ops.listLinks();
    const tunnelDevices = ['tunl0', 'vxlan.calico'].filter((name) => links.some((l) => l.name === name));
    const table = natTable({ pools: pools.map((p: IPPool) => ({ cidr: p.spec.cidr, natOutgoing: p.spec.natOutgoing === true })), match: 'cidr', tunnelDevices });
    const result = await this.iptables.apply(table);
    report.iptablesChanged = result.changed;
    if (result.changed) this.log.info('NAT-outgoing rules updated', { backend: result.backend });
  }

  private async birdStep(report: PassReport): Promise<void> {
    const o = this.options;
    if ((o.backend ?? 'bird') !== 'bird' || !o.birdDir) return;
    if (!this.cache.localNode) return;
    const resources = this.cache.bgpResources();
    const blockAffinities = this.cache.localAffinities();
    const { files, warnings } = await this.passwords.render((secrets) =>
      renderBirdConfigWithWarnings({
        nodeName: o.nodeName,
        resources,
        blockAffinities,
        dialect: o.dialect ?? 'calico',
        secrets,
        environment: { NAMESPACE: this.passwords.namespace },
      }),
    );
    for (const w of warnings) this.warnOnce(`bird-${w.code}-${w.message}`, `BIRD config: ${w.message}`, { code: w.code });
    const written = await writeBirdFiles(o.birdDir, files);
    report.birdChanged = written.changed;
    if (written.changed.length) {
      this.log.info('BIRD files written', { files: written.changed });
      this.pendingReload = true;
    }
    if (this.pendingReload && !(o.birdSocket && existsSync(o.birdSocket))) {
      // BIRD is not running (no socket): it reads the current files when it starts.
      this.pendingReload = false;
    }
    if (this.pendingReload && o.birdSocket) {
      const reload = await reconfigureBird(o.birdSocket);
      this.metrics.inc('calico_agent_bird_reloads_total', 1, { result: reload.ok ? 'ok' : 'error' });
      report.birdReloaded = reload.ok;
      if (!reload.ok) throw new CalicoError(`birdc configure failed: ${reload.output}`);
      this.pendingReload = false;
      this.log.info('BIRD reconfigured');
    }
  }

  private async writeSysctls(): Promise<void> {
    for (const { key, value } of felixGlobalSysctls()) {
      try {
        await this.options.ops.writeSysctl(key, value);
      } catch (error) {
        this.log.warn('cannot set sysctl', { key, value, error });
      }
    }
  }

  /** Creates or updates the Node with `address` as its BGP IPv4 address; retries until it works or the agent stops. */
  private async registerNode(address: string): Promise<void> {
    const { client, nodeName } = this.options;
    for (let attempt = 1; !this.stopController.signal.aborted; attempt++) {
      try {
        let node: Node | undefined;
        try {
          node = await client.nodes.get(nodeName);
        } catch (error) {
          if ((error as Error).name !== 'ResourceNotFoundError') throw error;
        }
        if (!node) {
          await client.nodes.create({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: nodeName }, spec: { bgp: { ipv4Address: address } } } as Node);
          this.log.info('registered node', { address });
        } else if (node.spec.bgp?.ipv4Address !== address) {
          await client.nodes.update({ ...node, spec: { ...node.spec, bgp: { ...(node.spec.bgp ?? {}), ipv4Address: address } } });
          this.log.info('updated node address', { address });
        }
        return;
      } catch (error) {
        this.log.warn('cannot register the node yet', { attempt, error });
        await sleep(Math.min(5000, 200 * attempt), this.stopController.signal);
      }
    }
  }
}
