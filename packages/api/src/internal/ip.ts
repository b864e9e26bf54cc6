/**
 * Minimal, strict IP/CIDR parsing for validation and canonicalisation (Go `net` semantics:
 * IPv4 octets without leading zeros, IPv6 with at most one `::`, optional dotted-quad tail, no
 * zones). Internal: the public IP library is `@libcalico-ts/net`.
 */

export interface ParsedIP {
  version: 4 | 6;
  /** The address as an unsigned integer (32 or 128 bits). */
  value: bigint;
}

export interface ParsedCIDR extends ParsedIP {
  prefixLength: number;
  /** Whether the text had an explicit `/len`. */
  hadPrefix: boolean;
}

const V4_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!V4_OCTET.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseIPv6(text: string): bigint | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string, allowV4Tail: boolean): bigint[] | undefined => {
    if (part === '') return [];
    const groups = part.split(':');
    const out: bigint[] = [];
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i]!;
      if (allowV4Tail && i === groups.length - 1 && group.includes('.')) {
        const v4 = parseIPv4(group);
        if (v4 === undefined) return undefined;
        out.push(v4 >> 16n, v4 & 0xffffn);
      } else {
        if (!HEX_GROUP.test(group)) return undefined;
        out.push(BigInt(parseInt(group, 16)));
      }
    }
    return out;
  };
  let groups: bigint[];
  if (halves.length === 2) {
    const head = parseGroups(halves[0]!, false);
    const tail = parseGroups(halves[1]!, true);
    if (!head || !tail) return undefined;
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<bigint>(missing).fill(0n), ...tail];
  } else {
    const all = parseGroups(text, true);
    if (!all || all.length !== 8) return undefined;
    groups = all;
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | g;
  return value;
}

/** Parses an IPv4 or IPv6 address; undefined when invalid. */
export function parseIP(text: string): ParsedIP | undefined {
  if (typeof text !== 'string') return undefined;
  if (text.includes(':')) {
    const value = parseIPv6(text);
    return value === undefined ? undefined : { version: 6, value };
  }
  const value = parseIPv4(text);
  return value === undefined ? undefined : { version: 4, value };
}

/** Parses `ip/len` or a bare IP (full-length prefix); undefined when invalid. */
export function parseCIDROrIP(text: string): ParsedCIDR | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  if (slash < 0) {
    const ip = parseIP(text);
    return ip && { ...ip, prefixLength: ip.version === 4 ? 32 : 128, hadPrefix: false };
  }
  const ip = parseIP(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(lengthText)) return undefined;
  const prefixLength = Number(lengthText);
  if (prefixLength > (ip.version === 4 ? 32 : 128)) return undefined;
  return { ...ip, prefixLength, hadPrefix: true };
}

/** Why `text` is not a valid CIDR/IP, for messages. */
export function describeBadCIDR(text: string): string {
  const slash = text.indexOf('/');
  const ipText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIP(ipText);
  if (!ip) return `${JSON.stringify(ipText)} is not a valid IPv4 or IPv6 address`;
  if (slash >= 0) {
    const lengthText = text.slice(slash + 1);
    const max = ip.version === 4 ? 32 : 128;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText)) return `prefix length ${JSON.stringify(lengthText)} is not a number`;
    return `prefix length ${lengthText} is out of range for IPv${ip.version} (0-${max})`;
  }
  return 'invalid CIDR';
}

function bits(version: 4 | 6): number {
  return version === 4 ? 32 : 128;
}

/** The network address of `cidr` (host bits cleared). */
export function maskedValue(cidr: ParsedCIDR): bigint {
  const width = BigInt(bits(cidr.version));
  const hostBits = width - BigInt(cidr.prefixLength);
  return (cidr.value >> hostBits) << hostBits;
}

/** True when the host bits of `cidr` are zero. */
export function isMasked(cidr: ParsedCIDR): boolean {
  return maskedValue(cidr) === cidr.value;
}

/** Whether `inner` (address) lies within `outer` (network). Families must match. */
export function cidrContains(outer: ParsedCIDR, address: ParsedIP): boolean {
  if (outer.version !== address.version) return false;
  const hostBits = BigInt(bits(outer.version) - outer.prefixLength);
  return address.value >> hostBits === outer.value >> hostBits;
}

/** Whether two networks overlap (same family). */
export function cidrsOverlap(a: ParsedCIDR, b: ParsedCIDR): boolean {
  if (a.version !== b.version) return false;
  const shorter = a.prefixLength <= b.prefixLength ? a : b;
  const other = shorter === a ? b : a;
  return cidrContains(shorter, other);
}

/** Formats an address: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as `::`). */
export function formatIP(version: 4 | 6, value: bigint): string {
  if (version === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Canonical masked form `net/len` (Go's `IPNet.String()` of the parsed network). */
export function canonicalCIDR(cidr: ParsedCIDR): string {
  return `${formatIP(cidr.version, maskedValue(cidr))}/${cidr.prefixLength}`;
}

/** Canonical address form of `ip`. */
export function canonicalIP(ip: ParsedIP): string {
  return formatIP(ip.version, ip.value);
}
