/**
 * Address arithmetic the engine needs on its hot path: addresses as bigint values, canonical
 * formatting (Go's `net.IP.String()` forms, RFC 5952 for IPv6) and parsed CIDRs cached by string.
 * Parsing, formatting and masking are `@libcalico-ts/net`'s; this module keeps the engine's
 * plain-value shapes and the cache. Internal to the package.
 */
import { formatIPv4, formatIPv6, maskValue, parseCIDR as netParseCIDR, parseIP as netParseIP } from '@libcalico-ts/net';
import type { FormatIPOptions } from '@libcalico-ts/net';

export type IPVersion = 4 | 6;

/** A parsed address. */
export interface IPAddress {
  readonly version: IPVersion;
  readonly value: bigint;
}

/** A parsed CIDR: `network` is the masked base address, `address` the address as written. */
export interface CIDR {
  readonly version: IPVersion;
  readonly address: bigint;
  readonly network: bigint;
  readonly prefix: number;
  /** Number of addresses, 2^(bits - prefix). */
  readonly size: bigint;
  /** Canonical `network/prefix` text. */
  readonly text: string;
}

export function bitsOf(version: IPVersion): number {
  return version === 4 ? 32 : 128;
}

/**
 * Parses an IPv4 or IPv6 address (surrounding whitespace ignored) with `@libcalico-ts/net`;
 * undefined when malformed. IPv4-mapped IPv6 stays IPv6.
 */
export function parseIP(text: string): IPAddress | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const ip = netParseIP(text.trim());
    return { version: ip.version, value: ip.value };
  } catch {
    return undefined;
  }
}

/**
 * Dotted-quad text of an IPv4 value (net's `formatIPv4`). A local binding rather than a
 * re-export: V8 reads a re-exported name through a namespace object (`import * as`) about twice
 * as slowly, and this runs once per allocated address.
 */
export const formatV4: (value: number) => string = formatIPv4;

// IPAM keeps the family of its IPv6 values: an address of an IPv6 pool inside ::ffff:0:0/96
// prints in IPv6 form (`::ffff:a00:1`), never as the IPv4 address it maps.
const KEEP_FAMILY: FormatIPOptions = { mapped: 'ipv6' };

/** Canonical IPv6 text: lower case, no leading zeros, the longest run (>= 2) of zero groups as `::`. */
export function formatV6(value: bigint): string {
  return formatIPv6(value, KEEP_FAMILY);
}

export function formatIP(version: IPVersion, value: bigint): string {
  return version === 4 ? formatIPv4(Number(value)) : formatV6(value);
}

const cidrCache = new Map<string, CIDR | null>();

/**
 * Parses `a.b.c.d/n` or `x::/n` (host bits allowed; `network` is masked). A bare address is
 * read as a full-length prefix when `allowBare`. Undefined when malformed. Cached.
 */
export function parseCIDR(text: string, allowBare = false): CIDR | undefined {
  if (typeof text !== 'string') return undefined;
  const cacheKey = allowBare ? '+' + text : text;
  const hit = cidrCache.get(cacheKey);
  if (hit !== undefined) return hit ?? undefined;
  const result = parseCIDRUncached(text.trim(), allowBare);
  if (cidrCache.size > 200_000) cidrCache.clear();
  cidrCache.set(cacheKey, result ?? null);
  return result;
}

function parseCIDRUncached(text: string, allowBare: boolean): CIDR | undefined {
  if (!allowBare && !text.includes('/')) return undefined;
  try {
    const cidr = netParseCIDR(text, { allowBareIP: allowBare });
    return makeCIDR(cidr.version, cidr.address.value, cidr.prefixLength);
  } catch {
    return undefined;
  }
}

/** Builds a CIDR from a value and prefix (masking host bits). */
export function makeCIDR(version: IPVersion, value: bigint, prefix: number): CIDR {
  const bits = version === 4 ? 32 : 128;
  const network = value & maskValue(bits, prefix);
  return { version, address: value, network, prefix, size: 1n << BigInt(bits - prefix), text: `${formatIP(version, network)}/${prefix}` };
}

/** True when `cidr` contains the address value (same family assumed). */
export function cidrContains(cidr: CIDR, value: bigint): boolean {
  return value >= cidr.network && value < cidr.network + cidr.size;
}

/** True when the two ranges overlap. */
export function cidrsOverlap(a: CIDR, b: CIDR): boolean {
  if (a.version !== b.version) return false;
  return a.network < b.network + b.size && b.network < a.network + a.size;
}

/** True when `inner` lies wholly inside `outer`. */
export function cidrWithin(inner: CIDR, outer: CIDR): boolean {
  return inner.version === outer.version && inner.network >= outer.network && inner.network + inner.size <= outer.network + outer.size;
}
