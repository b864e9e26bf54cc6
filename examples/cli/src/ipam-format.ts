/**
 * The text of `calicoctl ipam show` (pool summary, `--show-blocks`, `--ip`,
 * `--show-configuration`), as pure functions over the IPAM engine's results.
 */
import type { AssignmentAttributes, IPAMConfig, PoolUtilization } from '@libcalico-ts/ipam';
import { formatBoxTable, formatCountWithPercent, formatGoG5 } from './format.js';

const SHOW_HEADER = ['GROUPING', 'CIDR', 'IPS TOTAL', 'IPS IN USE', 'IPS RESERVED', 'IPS FREE'] as const;
const SHOW_ALIGN = ['left', 'left', 'right', 'right', 'right', 'right'] as const;

/** A pool's prefix length (`10.244.0.0/16` -> 16); the orphan pseudo-pool is `/0`. */
function prefixLength(cidr: string): number {
  const slash = cidr.lastIndexOf('/');
  return slash < 0 ? -1 : Number(cidr.slice(slash + 1));
}

function row(kind: string, cidr: string, capacity: bigint, inUse: bigint, reserved: bigint, free: bigint): string[] {
  return [
    kind,
    cidr,
    formatGoG5(capacity),
    formatCountWithPercent(inUse, capacity),
    formatCountWithPercent(reserved, capacity),
    formatCountWithPercent(free, capacity),
  ];
}

/** Blocks in the order calicoctl lists them from etcd: by CIDR text. */
function sortedBlocks(pool: PoolUtilization): PoolUtilization['blocks'] {
  return [...pool.blocks].sort((a, b) => (a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0));
}

/**
 * `calicoctl ipam show` (and `--show-blocks`): one `IP Pool` row per pool (the orphan
 * pseudo-pool, CIDR `/0`, has none), followed with `showBlocks` by one `Block` row per block.
 * Counts are `%.5g`, percentages `%.f` with ties to even (reference ipam.md §9.2).
 *
 * @example
 * ```ts
 * process.stdout.write(formatIpamShow(await client.ipam.getUtilization(), true));
 * ```
 */
export function formatIpamShow(usage: readonly PoolUtilization[], showBlocks: boolean): string {
  const rows: string[][] = [];
  for (const pool of usage) {
    if (prefixLength(pool.cidr) > 0) {
      rows.push(row('IP Pool', pool.cidr, pool.capacity, pool.inUse, pool.reserved, pool.available));
    }
    if (showBlocks) {
      for (const block of sortedBlocks(pool)) {
        rows.push(row('Block', block.cidr, block.capacity, block.inUse, block.reserved, block.available));
      }
    }
  }
  return formatBoxTable(SHOW_HEADER, rows, SHOW_ALIGN);
}

function ownerLines(title: string, attrs: Readonly<Record<string, string>>): string {
  const keys = Object.keys(attrs).sort();
  if (keys.length === 0) return '';
  return `${title}:\n${keys.map((k) => `  ${k}: ${attrs[k]}\n`).join('')}`;
}

/**
 * `calicoctl ipam show --ip=<addr>`: `<addr> is not assigned` when `attributes` is null, else
 * `IP <addr> is in use`, the handle, and the active / alternate owner attributes (sorted keys).
 */
export function formatIpamShowIP(ip: string, attributes: AssignmentAttributes | null): string {
  if (!attributes) return `${ip} is not assigned\n`;
  let out = `IP ${ip} is in use\n`;
  out += attributes.handleId !== null ? `Handle ID: ${attributes.handleId}\n` : 'Handle ID: <none>\n';
  const active = ownerLines('Active Owner Attributes', attributes.attrs);
  out += active || 'No Active Owner attributes defined\n';
  out += ownerLines('Alternate Owner Attributes', attributes.alternateOwnerAttrs);
  return out;
}

/**
 * `calicoctl ipam show --show-configuration`: a PROPERTY / VALUE table of the IPAM
 * configuration with Go-syntax values. (calicoctl prints KubeVirtVMAddressPersistence as an
 * opaque pointer; this prints the value, or `<nil>` when unset.)
 */
export function formatIpamConfiguration(config: IPAMConfig): string {
  const rows: string[][] = [
    ['StrictAffinity', String(config.strictAffinity)],
    ['AutoAllocateBlocks', String(config.autoAllocateBlocks)],
    ['MaxBlocksPerHost', String(config.maxBlocksPerHost)],
    ['KubeVirtVMAddressPersistence', config.kubeVirtVMAddressPersistence ? JSON.stringify(config.kubeVirtVMAddressPersistence) : '<nil>'],
    ['IPCooldownSeconds', String(config.ipCooldownSeconds ?? 0)],
  ];
  return formatBoxTable(['PROPERTY', 'VALUE'], rows);
}
