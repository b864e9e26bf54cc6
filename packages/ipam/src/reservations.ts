/**
 * The union of all IPReservations (reference §2.6): bare IPs mean /32 or /128, entries are
 * trimmed, empty or malformed entries are ignored. Internal.
 */
import { parseCIDR, type CIDR, type IPVersion } from './ip.js';

export class ReservedSet {
  /** Merged, sorted, non-overlapping [start, end) ranges per family. */
  private readonly ranges: Record<IPVersion, [bigint, bigint][]> = { 4: [], 6: [] };

  constructor(cidrs: Iterable<string>) {
    const raw: Record<IPVersion, [bigint, bigint][]> = { 4: [], 6: [] };
    for (const entry of cidrs) {
      if (typeof entry !== 'string') continue;
      const text = entry.trim();
      if (!text) continue;
      const cidr = parseCIDR(text, true);
      if (!cidr) continue;
      raw[cidr.version].push([cidr.network, cidr.network + cidr.size]);
    }
    for (const v of [4, 6] as const) {
      const sorted = raw[v].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const merged: [bigint, bigint][] = [];
      for (const [s, e] of sorted) {
        const last = merged[merged.length - 1];
        if (last && s <= last[1]) {
          if (e > last[1]) last[1] = e;
        } else merged.push([s, e]);
      }
      this.ranges[v] = merged;
    }
  }

  get isEmpty(): boolean {
    return this.ranges[4].length === 0 && this.ranges[6].length === 0;
  }

  hasFamily(version: IPVersion): boolean {
    return this.ranges[version].length > 0;
  }

  /** True when the address is reserved. */
  covers(version: IPVersion, value: bigint): boolean {
    for (const [s, e] of this.ranges[version]) {
      if (value < s) return false;
      if (value < e) return true;
    }
    return false;
  }

  /** True when every address of `cidr` is reserved. */
  coversWhole(cidr: CIDR): boolean {
    return this.countIn(cidr) === cidr.size;
  }

  /** Number of reserved addresses inside `cidr` (overlaps counted once). */
  countIn(cidr: CIDR): bigint {
    let total = 0n;
    const lo = cidr.network;
    const hi = cidr.network + cidr.size;
    for (const [s, e] of this.ranges[cidr.version]) {
      if (e <= lo) continue;
      if (s >= hi) break;
      total += (e < hi ? e : hi) - (s > lo ? s : lo);
    }
    return total;
  }
}

export const EMPTY_RESERVED = new ReservedSet([]);
