/**
 * Fast internal address/CIDR handling. IPv4 values are plain numbers (uint32) so that the hot
 * paths (tens of thousands of blocks) avoid bigint; IPv6 values are bigint. Anything the fast
 * IPv4 parser does not accept goes through `@libcalico-ts/net`, which either parses it (IPv6,
 * unusual spellings) or throws its typed error.
 */
import { parseCIDR, parseIP } from '@libcalico-ts/net';

/** A parsed network: family, network value, prefix length and canonical text. */
export interface Net {
  readonly family: 4 | 6;
  /** IPv4 network as uint32 (0 for IPv6). */
  readonly v4: number;
  /** IPv6 network (0n for IPv4). */
  readonly v6: bigint;
  readonly prefix: number;
  /** Canonical `a.b.c.d/nn` / `x::/nn` text. */
  readonly key: string;
}

/** A parsed address. */
export interface Addr {
  readonly family: 4 | 6;
  readonly v4: number;
  readonly v6: bigint;
  /** Canonical text. */
  readonly text: string;
}

/** Dotted-quad parse of `s[start, end)`; -1 when it is not strict dotted-quad IPv4. */
export function parseV4Fast(s: string, start: number, end: number): number {
  let value = 0;
  let fields = 0;
  let i = start;
  while (i < end) {
    const fieldStart = i;
    let field = 0;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      field = field * 10 + (c - 48);
      i++;
    }
    const digits = i - fieldStart;
    if (digits === 0 || digits > 3 || field > 255 || (digits > 1 && s.charCodeAt(fieldStart) === 48)) return -1;
    value = value * 256 + field;
    fields++;
    if (fields === 4) return i === end ? value : -1;
    if (i >= end || s.charCodeAt(i) !== 46) return -1;
    i++;
  }
  return -1;
}

/** Dotted-quad text of a uint32. */
export function formatV4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Mask of `prefix` bits as uint32. */
export function maskV4(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function maskV6(prefix: number): bigint {
  const all = (1n << 128n) - 1n;
  const host = BigInt(128 - prefix);
  return (all >> host) << host;
}

/**
 * Strict `a.b.c.d/nn` (canonical dotted quad, prefix of 1-2 digits without a leading zero, at
 * most 32) as `address * 64 + prefix` (host bits kept), or -1 for anything else. Allocation
 * free, for hot loops; callers fall back to {@link parseNet} on -1.
 */
export function parseV4CIDR(text: string): number {
  if (typeof text !== 'string') return -1;
  const slash = text.indexOf('/');
  if (slash < 0) return -1;
  const ip = parseV4Fast(text, 0, slash);
  if (ip < 0) return -1;
  const n = text.length - slash - 1;
  const d0 = text.charCodeAt(slash + 1) - 48;
  if (n === 1) return d0 >= 0 && d0 <= 9 ? ip * 64 + d0 : -1;
  if (n !== 2 || d0 < 1 || d0 > 9) return -1;
  const d1 = text.charCodeAt(slash + 2) - 48;
  if (d1 < 0 || d1 > 9) return -1;
  const prefix = d0 * 10 + d1;
  return prefix > 32 ? -1 : ip * 64 + prefix;
}

/**
 * Parses CIDR text (host bits are masked, as Go's `net.ParseCIDR` does). With `allowBare`, a
 * plain address is a host route (`/32`, `/128`).
 * @throws {InvalidCIDRError} from `@libcalico-ts/net` for malformed text.
 */
export function parseNet(text: string, allowBare = false): Net {
  if (typeof text === 'string') {
    const slash = text.indexOf('/');
    const end = slash < 0 ? text.length : slash;
    if (slash >= 0 || allowBare) {
      const ip = parseV4Fast(text, 0, end);
      if (ip >= 0) {
        let prefix = 32;
        let ok = true;
        if (slash >= 0) {
          // 1-2 decimal digits, no leading zero, at most 32.
          const n = text.length - slash - 1;
          const d0 = text.charCodeAt(slash + 1) - 48;
          const d1 = n === 2 ? text.charCodeAt(slash + 2) - 48 : 0;
          ok = (n === 1 && d0 >= 0 && d0 <= 9) || (n === 2 && d0 >= 1 && d0 <= 9 && d1 >= 0 && d1 <= 9);
          prefix = n === 2 ? d0 * 10 + d1 : d0;
          if (prefix > 32) ok = false;
        }
        if (ok) {
          const network = (ip & maskV4(prefix)) >>> 0;
          // parseV4Fast accepts only canonical dotted quads, so unmasked "a.b.c.d/nn" text is already the key.
          const key = slash >= 0 && network === ip ? text : `${formatV4(network)}/${prefix}`;
          return { family: 4, v4: network, v6: 0n, prefix, key };
        }
      }
    }
  }
  const cidr = parseCIDR(text, { allowBareIP: allowBare });
  if (cidr.version === 4) {
    const network = Number(cidr.network.value);
    return { family: 4, v4: network, v6: 0n, prefix: cidr.prefixLength, key: cidr.toString() };
  }
  const network = cidr.network.value;
  return { family: 6, v4: 0, v6: network, prefix: cidr.prefixLength, key: `${cidr.network.toString()}/${cidr.prefixLength}` };
}

/**
 * Parses an address; a CIDR-looking input (`10.0.0.1/24`) yields its address part.
 * @throws {InvalidAddressError} from `@libcalico-ts/net` for malformed text.
 */
export function parseAddr(text: string): Addr {
  if (typeof text === 'string') {
    const v4 = parseV4Fast(text, 0, text.length);
    if (v4 >= 0) return { family: 4, v4, v6: 0n, text };
  }
  const ip = parseIP(text);
  if (ip.version === 4) {
    const v = Number(ip.value);
    return { family: 4, v4: v, v6: 0n, text: formatV4(v) };
  }
  return { family: 6, v4: 0, v6: ip.value, text: ip.toString() };
}

/** True when `net` contains address `addr` (same family only). */
export function netContainsAddr(net: Net, addr: Addr): boolean {
  if (net.family !== addr.family) return false;
  if (net.family === 4) return ((addr.v4 & maskV4(net.prefix)) >>> 0) === net.v4;
  return (addr.v6 & maskV6(net.prefix)) === net.v6;
}

/** True when `outer` contains every address of `inner`. */
export function netContainsNet(outer: Net, inner: Net): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  if (outer.family === 4) return ((inner.v4 & maskV4(outer.prefix)) >>> 0) === outer.v4;
  return (inner.v6 & maskV6(outer.prefix)) === outer.v6;
}

/** Host length of a family. */
export function hostLength(family: 4 | 6): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/** The host route (`/32`, `/128`) of `addr`. */
export function hostNet(addr: Addr): Net {
  return addr.family === 4
    ? { family: 4, v4: addr.v4, v6: 0n, prefix: 32, key: `${addr.text}/32` }
    : { family: 6, v4: 0, v6: addr.v6, prefix: 128, key: `${addr.text}/128` };
}

/** Address at `ordinal` inside `net`, as canonical text. */
export function addressAt(net: Net, ordinal: number): Addr {
  if (net.family === 4) {
    const v = (net.v4 + ordinal) >>> 0;
    return { family: 4, v4: v, v6: 0n, text: formatV4(v) };
  }
  const v = net.v6 + BigInt(ordinal);
  return parseAddr(parseIPText(v));
}

function parseIPText(v: bigint): string {
  // Build an expanded IPv6 text and let @libcalico-ts/net canonicalise it.
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  return groups.join(':');
}

/** Orders networks: IPv4 first, then by network value, then by prefix length. */
export function compareNets(a: Net, b: Net): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.family === 4) {
    if (a.v4 !== b.v4) return a.v4 < b.v4 ? -1 : 1;
  } else if (a.v6 !== b.v6) {
    return a.v6 < b.v6 ? -1 : 1;
  }
  return a.prefix - b.prefix;
}
