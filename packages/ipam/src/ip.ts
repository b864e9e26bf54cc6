/**
 * Address arithmetic the engine needs on its hot path: addresses as bigint (IPv6) or number
 * (IPv4) values, canonical formatting (Go's `net.IP.String()` forms, RFC 5952 for IPv6) and
 * parsed CIDRs cached by string. Internal to the package.
 */

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

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return BigInt(value);
}

function parseV6(text: string): bigint | undefined {
  if (text.length === 0 || text.includes('%')) return undefined;
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.slice(lastColon + 1).includes('.')) {
    tailV4 = parseV4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string): string[] | undefined => {
    if (s === '') return [];
    const groups = s.split(':');
    for (const g of groups) if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    return groups;
  };
  const left = groupsOf(halves[0]!);
  const right = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!left || !right) return undefined;
  let groups: string[];
  if (halves.length === 2) {
    const missing = 8 - left.length - right.length;
    if (missing < 1) return undefined;
    groups = [...left, ...Array<string>(missing).fill('0'), ...right];
  } else {
    groups = left;
  }
  if (groups.length !== 8) return undefined;
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(parseInt(g, 16));
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | tailV4;
  return value;
}

/** Parses an IPv4 or IPv6 address; undefined when malformed. IPv4-mapped IPv6 stays IPv6. */
export function parseIP(text: string): IPAddress | undefined {
  if (typeof text !== 'string') return undefined;
  const t = text.trim();
  if (t.includes(':')) {
    const value = parseV6(t);
    return value === undefined ? undefined : { version: 6, value };
  }
  const value = parseV4(t);
  return value === undefined ? undefined : { version: 4, value };
}

const V4_CACHE_OCTETS: string[] = Array.from({ length: 256 }, (_, i) => String(i));

/** Dotted-quad text of an IPv4 value. */
export function formatV4(value: number): string {
  return (
    V4_CACHE_OCTETS[(value >>> 24) & 255]! +
    '.' +
    V4_CACHE_OCTETS[(value >>> 16) & 255]! +
    '.' +
    V4_CACHE_OCTETS[(value >>> 8) & 255]! +
    '.' +
    V4_CACHE_OCTETS[value & 255]!
  );
}

/** Canonical IPv6 text: lower case, no leading zeros, the longest run (>= 2) of zero groups as `::`. */
export function formatV6(value: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':');
}

export function formatIP(version: IPVersion, value: bigint): string {
  return version === 4 ? formatV4(Number(value)) : formatV6(value);
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
  const slash = text.indexOf('/');
  let ipText = text;
  let prefix: number | undefined;
  if (slash >= 0) {
    ipText = text.slice(0, slash);
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
  } else if (!allowBare) {
    return undefined;
  }
  const ip = parseIP(ipText);
  if (!ip) return undefined;
  const bits = bitsOf(ip.version);
  if (prefix === undefined) prefix = bits;
  if (prefix > bits) return undefined;
  return makeCIDR(ip.version, ip.value, prefix);
}

/** Builds a CIDR from a value and prefix (masking host bits). */
export function makeCIDR(version: IPVersion, value: bigint, prefix: number): CIDR {
  const bits = bitsOf(version);
  const hostBits = BigInt(bits - prefix);
  const network = (value >> hostBits) << hostBits;
  return { version, address: value, network, prefix, size: 1n << hostBits, text: `${formatIP(version, network)}/${prefix}` };
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
