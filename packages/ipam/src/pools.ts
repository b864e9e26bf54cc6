/**
 * IP pools as IPAM reads them (reference §2.1): read-side defaults, "enabled", family, and the
 * per-host block walk (reference §4.1). Internal.
 */
import type { IPPool } from '@libcalico-ts/api';
import { hostStartIndex, GoRandSource, goBigRand } from './gorand.js';
import { bitsOf, makeCIDR, parseCIDR, type CIDR, type IPVersion } from './ip.js';

/** A pool with its defaults applied and its CIDR parsed. */
export interface PoolInfo {
  readonly name: string;
  readonly cidr: CIDR;
  readonly blockSize: number;
  readonly enabled: boolean;
  readonly nodeSelector: string;
  readonly namespaceSelector: string;
  readonly allowedUses: readonly string[];
  readonly assignmentMode: string;
  readonly raw: IPPool;
}

/** Reads a stored pool; undefined when its CIDR is unusable. */
export function poolInfo(pool: IPPool): PoolInfo | undefined {
  const spec = pool.spec ?? ({} as IPPool['spec']);
  const cidr = parseCIDR(spec.cidr ?? '');
  if (!cidr) return undefined;
  const bits = bitsOf(cidr.version);
  const blockSize = spec.blockSize && spec.blockSize > 0 ? spec.blockSize : cidr.version === 4 ? 26 : 122;
  const conditions = (pool.status as { conditions?: { type?: string; status?: string }[] } | undefined)?.conditions ?? [];
  const notAllocatable = conditions.some((c) => c.type === 'Allocatable' && c.status === 'False');
  const deleting = !!pool.metadata?.deletionTimestamp;
  return {
    name: pool.metadata?.name ?? '',
    cidr,
    blockSize: Math.min(blockSize, bits),
    enabled: !spec.disabled && !notAllocatable && !deleting,
    nodeSelector: spec.nodeSelector ?? 'all()',
    namespaceSelector: spec.namespaceSelector ?? '',
    allowedUses: spec.allowedUses && spec.allowedUses.length > 0 ? spec.allowedUses : ['Workload', 'Tunnel'],
    assignmentMode: spec.assignmentMode ?? 'Automatic',
    raw: pool,
  };
}

/** Number of blocks of the pool (0 when the pool is smaller than one block). */
export function poolBlockCount(pool: PoolInfo): bigint {
  if (pool.cidr.prefix > pool.blockSize) return 0n;
  return 1n << BigInt(pool.blockSize - pool.cidr.prefix);
}

/** The block CIDR containing `value` in `pool`. */
export function blockOf(pool: PoolInfo, value: bigint): CIDR {
  return makeCIDR(pool.cidr.version, value, pool.blockSize);
}

const startCache = new Map<string, bigint>();

/**
 * Start index of `host`'s walk over the pool's blocks, as libcalico-go computes it (FNV-1 of the
 * hostname seeds Go's math/rand; single-address blocks use a time seed, here `nowNanos`).
 */
export function walkStart(pool: PoolInfo, host: string, nowNanos: () => bigint): bigint {
  const n = poolBlockCount(pool);
  if (n === 0n) return 0n;
  if (pool.blockSize === bitsOf(pool.cidr.version)) return goBigRand(new GoRandSource(nowNanos()), n);
  const key = `${pool.cidr.text}|${pool.blockSize}|${host}`;
  let start = startCache.get(key);
  if (start === undefined) {
    start = hostStartIndex(host, n);
    if (startCache.size > 100_000) startCache.clear();
    startCache.set(key, start);
  }
  return start;
}

/** Iterates the pool's block CIDRs in the host's order: a rotation starting at the host's start index. */
export function* blockWalk(pool: PoolInfo, host: string, nowNanos: () => bigint): Generator<CIDR> {
  const n = poolBlockCount(pool);
  if (n === 0n) return;
  const start = walkStart(pool, host, nowNanos);
  const step = 1n << BigInt(bitsOf(pool.cidr.version) - pool.blockSize);
  for (let k = 0n; k < n; k++) {
    let index = start + k;
    if (index >= n) index -= n;
    yield makeCIDR(pool.cidr.version, pool.cidr.network + index * step, pool.blockSize);
  }
}

/** Position of `block` in the host's walk of `pool` (for ordering listed blocks the same way). */
export function walkPosition(pool: PoolInfo, host: string, block: CIDR, nowNanos: () => bigint): bigint {
  const n = poolBlockCount(pool);
  const step = 1n << BigInt(bitsOf(pool.cidr.version) - pool.blockSize);
  const index = (block.network - pool.cidr.network) / step;
  const start = walkStart(pool, host, nowNanos);
  return index >= start ? index - start : index + n - start;
}

export function familyOf(pool: PoolInfo): IPVersion {
  return pool.cidr.version;
}
