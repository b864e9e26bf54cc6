/**
 * A small Prometheus registry (text exposition format 0.0.4) and the agent's HTTP endpoint:
 * `/metrics` and `/healthz`. The IPAM gauges use kube-controllers' names and labels
 * (`ipam_allocations_in_use{ippool,node}`, `ipam_allocations_borrowed{ippool,node}`,
 * `ipam_blocks{ippool,node}`, `ipam_ippool_size{ippool}`), computed from the agent's cache.
 */
import { createServer, type Server } from 'node:http';
import type { AllocationBlock } from '@libcalico-ts/datastore';
import type { IPPool } from '@libcalico-ts/api';
import { ValidationError } from '@libcalico-ts/api';

type Labels = Readonly<Record<string, string>>;

interface Family {
  help: string;
  type: 'gauge' | 'counter';
  samples: Map<string, { labels: Labels; value: number }>;
}

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}

/** Gauges and counters, rendered in the Prometheus text format. */
export class MetricsRegistry {
  private readonly families = new Map<string, Family>();

  /** Declares a metric (idempotent). */
  define(name: string, type: 'gauge' | 'counter', help: string): void {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new ValidationError([{ name: 'name', value: name, reason: 'not a Prometheus metric name' }]);
    if (!this.families.has(name)) this.families.set(name, { help, type, samples: new Map() });
  }

  private family(name: string): Family {
    const family = this.families.get(name);
    if (!family) throw new ValidationError([{ name: 'name', value: name, reason: 'metric not defined' }]);
    return family;
  }

  /** Sets a gauge sample. */
  set(name: string, value: number, labels: Labels = {}): void {
    this.family(name).samples.set(labelKey(labels), { labels, value });
  }

  /** Adds to a counter sample. */
  inc(name: string, by = 1, labels: Labels = {}): void {
    const family = this.family(name);
    const key = labelKey(labels);
    const sample = family.samples.get(key);
    if (sample) sample.value += by;
    else family.samples.set(key, { labels, value: by });
  }

  /** Drops every sample of a metric (before re-setting a labelled gauge from scratch). */
  reset(name: string): void {
    this.family(name).samples.clear();
  }

  /** The value of one sample (tests, logs). */
  get(name: string, labels: Labels = {}): number | undefined {
    return this.families.get(name)?.samples.get(labelKey(labels))?.value;
  }

  /** Prometheus text exposition. */
  render(): string {
    const out: string[] = [];
    for (const [name, family] of [...this.families].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      out.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
      const samples = [...family.samples.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [key, sample] of samples) out.push(`${name}${key ? `{${key}}` : ''} ${Number.isFinite(sample.value) ? sample.value : 'NaN'}`);
    }
    return `${out.join('\n')}\n`;
  }
}

function poolSize(cidr: string): number {
  const [address, prefix] = cidr.split('/');
  const bits = address!.includes(':') ? 128 : 32;
  return 2 ** (bits - Number(prefix));
}

function poolOf(pools: readonly { name: string; network: bigint; mask: bigint; v6: boolean }[], cidr: string) {
  const parsed = parseCidrBig(cidr);
  if (!parsed) return undefined;
  return pools.find((p) => p.v6 === parsed.v6 && (parsed.network & p.mask) === p.network);
}

function parseCidrBig(cidr: string): { network: bigint; mask: bigint; v6: boolean } | undefined {
  const [address, prefixText] = cidr.split('/');
  if (!address || prefixText === undefined) return undefined;
  const v6 = address.includes(':');
  const bits = v6 ? 128 : 32;
  let value = 0n;
  if (!v6) {
    const parts = address.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) return undefined;
    for (const p of parts) value = (value << 8n) | BigInt(p);
  } else {
    const [head, tail] = address.split('::');
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    if (groups.length !== 8) return undefined;
    for (const g of groups) value = (value << 16n) | BigInt(parseInt(g, 16) || 0);
  }
  const prefix = BigInt(Number(prefixText));
  const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << (BigInt(bits) - prefix)) - 1n);
  return { network: value & mask, mask, v6 };
}

/**
 * Recomputes the IPAM gauges from pools and blocks: per pool and node, addresses in use (by
 * their `node` attribute, else the block owner), borrowed addresses (node attribute differs from
 * the block owner), blocks (by owner) and the pool size.
 */
export function updateIpamMetrics(metrics: MetricsRegistry, pools: readonly IPPool[], blocks: readonly AllocationBlock[]): void {
  for (const name of ['ipam_allocations_in_use', 'ipam_allocations_borrowed', 'ipam_blocks', 'ipam_ippool_size']) metrics.reset(name);
  const parsed = pools.flatMap((pool) => {
    const p = parseCidrBig(pool.spec.cidr);
    return p ? [{ name: pool.metadata.name ?? '', ...p }] : [];
  });
  for (const pool of pools) metrics.set('ipam_ippool_size', poolSize(pool.spec.cidr), { ippool: pool.metadata.name ?? '' });
  const inUse = new Map<string, number>();
  const borrowed = new Map<string, number>();
  const blockCount = new Map<string, number>();
  const bump = (map: Map<string, number>, pool: string, node: string) => {
    const key = `${pool}\u0000${node}`;
    map.set(key, (map.get(key) ?? 0) + 1);
  };
  for (const block of blocks) {
    if (block.deleted) continue;
    const pool = poolOf(parsed, block.cidr);
    const poolName = pool?.name ?? 'no_ippool';
    const owner = block.affinity?.startsWith('host:') ? block.affinity.slice(5) : '';
    if (owner) bump(blockCount, poolName, owner);
    block.allocations.forEach((index) => {
      if (index === null) return;
      const attr = block.attributes[index];
      if (attr?.releasedAt !== undefined) return;
      const node = attr?.secondary?.node ?? owner;
      bump(inUse, poolName, node);
      if (owner && node && node !== owner) bump(borrowed, poolName, node);
    });
  }
  const emit = (name: string, map: Map<string, number>) => {
    for (const [key, value] of map) {
      const [ippool, node] = key.split('\u0000') as [string, string];
      metrics.set(name, value, { ippool, node });
    }
  };
  emit('ipam_allocations_in_use', inUse);
  emit('ipam_allocations_borrowed', borrowed);
  emit('ipam_blocks', blockCount);
}

/** What `/healthz` reports. */
export interface HealthState {
  /** True when the agent is in sync and its last dataplane pass succeeded. */
  healthy: boolean;
  detail: Record<string, unknown>;
}

/** Parses `HOST:PORT` (IPv6 as `[::1]:PORT`); port 0 picks a free one. */
export function parseListenAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ValidationError([{ name: '--metrics-address', value: text, reason: 'must be HOST:PORT, e.g. 127.0.0.1:9091' }]);
  return { host: m[1] ?? m[2]!, port };
}

/**
 * Serves `/metrics` and `/healthz` (200 when healthy, else 503; JSON body either way).
 * Resolves once listening, with the bound address.
 */
export async function startMetricsServer(
  address: { host: string; port: number },
  metrics: MetricsRegistry,
  health: () => HealthState,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metrics.render());
    } else if (path === '/healthz' || path === '/liveness' || path === '/readiness') {
      const state = health();
      response.writeHead(state.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify({ healthy: state.healthy, ...state.detail })}\n`);
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : address.port;
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
