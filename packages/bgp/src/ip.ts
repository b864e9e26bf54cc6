/**
 * Small, pure address helpers used by the renderer. They follow Go's `net` package, which is
 * what confd uses: canonical text (RFC 5952 for IPv6, IPv4-mapped IPv6 printed as IPv4), no
 * leading zeros in IPv4 octets, no zones.
 */

/** A parsed address: family and 16 (v6) or 4 (v4) bytes. */
export interface ParsedIP {
  readonly version: 4 | 6;
  readonly bytes: Uint8Array;
}

function parseIPv4Bytes(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (p.length === 0 || p.length > 3 || !/^[0-9]+$/.test(p)) return undefined;
    if (p.length > 1 && p[0] === '0') return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIPv6Bytes(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.includes('%')) return undefined;
  let head = text;
  let v4tail: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) > lastColon) {
    v4tail = parseIPv4Bytes(text.slice(lastColon + 1));
    if (!v4tail) return undefined;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = head.indexOf('::');
  if (dbl !== head.lastIndexOf('::')) return undefined;
  const groups: number[] = [];
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  if (dbl >= 0) {
    const left = parseGroups(head.slice(0, dbl));
    const right = parseGroups(head.slice(dbl + 2));
    if (!left || !right || left.length + right.length > 7) return undefined;
    groups.push(...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right);
  } else {
    const all = parseGroups(head);
    if (!all || all.length !== 8) return undefined;
    groups.push(...all);
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i * 2] = groups[i]! >> 8;
    out[i * 2 + 1] = groups[i]! & 0xff;
  }
  if (v4tail) out.set(v4tail, 12);
  return out;
}

function isV4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** Parses an IPv4 or IPv6 address like Go's `net.ParseIP`; undefined when invalid. */
export function parseIP(text: string): ParsedIP | undefined {
  if (typeof text !== 'string') return undefined;
  if (text.includes(':')) {
    const b = parseIPv6Bytes(text);
    if (!b) return undefined;
    if (isV4Mapped(b)) return { version: 4, bytes: b.slice(12) };
    return { version: 6, bytes: b };
  }
  const b = parseIPv4Bytes(text);
  return b ? { version: 4, bytes: b } : undefined;
}

/** Canonical text of an address (Go `net.IP.String()`). */
export function formatIP(ip: ParsedIP): string {
  if (ip.version === 4) return Array.from(ip.bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((ip.bytes[i * 2]! << 8) | ip.bytes[i * 2 + 1]!);
  // Longest run of >= 2 zero groups, first one wins on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.map((g) => g.toString(16)).join(':');
  const left = groups.slice(0, bestStart).map((g) => g.toString(16)).join(':');
  const right = groups.slice(bestStart + bestLen).map((g) => g.toString(16)).join(':');
  return `${left}::${right}`;
}

/** Canonical text of an address, or undefined when `text` is not an address. */
export function canonicalIP(text: string): string | undefined {
  const ip = parseIP(text);
  return ip ? formatIP(ip) : undefined;
}

/** A parsed CIDR: the address as given, the prefix length and the masked network. */
export interface ParsedCIDR {
  readonly ip: ParsedIP;
  readonly prefixLength: number;
  readonly network: ParsedIP;
}

/** Parses `addr/len` like Go's `net.ParseCIDR`; undefined when invalid. */
export function parseCIDR(text: string): ParsedCIDR | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addrText = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(lenText)) return undefined;
  const prefixLength = Number(lenText);
  // Go keeps the family of the text: an IPv4-mapped IPv6 CIDR is IPv6-sized. Keep it simple:
  // the address family decides the maximum.
  const ip = parseIP(addrText);
  if (!ip) return undefined;
  const bits = ip.version === 4 ? 32 : 128;
  if (prefixLength > bits) return undefined;
  return { ip, prefixLength, network: maskIP(ip, prefixLength) };
}

/** `ip` with every bit after `prefixLength` cleared. */
export function maskIP(ip: ParsedIP, prefixLength: number): ParsedIP {
  const out = new Uint8Array(ip.bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefixLength - i * 8));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return { version: ip.version, bytes: out };
}

/** Masked network text of a CIDR, e.g. `10.192.0.0/16` (Go `IPNet.String()`). */
export function formatNetwork(cidr: ParsedCIDR): string {
  return `${formatIP(cidr.network)}/${cidr.prefixLength}`;
}

/** True when `ip` lies inside `cidr` (same family). */
export function cidrContains(cidr: ParsedCIDR, ip: ParsedIP): boolean {
  if (cidr.ip.version !== ip.version) return false;
  const masked = maskIP(ip, cidr.prefixLength);
  for (let i = 0; i < masked.bytes.length; i++) if (masked.bytes[i] !== cidr.network.bytes[i]) return false;
  return true;
}

/** Parses `addr` or `addr/len` (Go Calico `ParseCIDROrIP`): the address and its network. */
export function parseCIDROrIP(text: string): { ip: ParsedIP; network: string } | undefined {
  if (text.includes('/')) {
    const c = parseCIDR(text);
    if (!c) return undefined;
    return { ip: c.ip, network: formatNetwork(c) };
  }
  const ip = parseIP(text);
  if (!ip) return undefined;
  const len = ip.version === 4 ? 32 : 128;
  return { ip, network: `${formatIP(ip)}/${len}` };
}

/**
 * Splits `host:port` / `[v6]:port` like Go's `net.SplitHostPort` followed by a uint16 port parse.
 * Anything else gives back the whole text with port 0 (so `10.0.0.1` and `ac13::57` pass through).
 */
export function splitHostPort(text: string): { host: string; port: number } {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0 || text[end + 1] !== ':' ) return { host: text, port: 0 };
    host = text.slice(1, end);
    portText = text.slice(end + 2);
    if (host.includes('[') || host.includes(']') || portText.includes(']')) return { host: text, port: 0 };
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return { host: text, port: 0 };
    host = text.slice(0, colon);
    if (host.includes(':')) return { host: text, port: 0 };
    portText = text.slice(colon + 1);
  }
  const port = parseGoUint(portText);
  if (port === undefined || port > 65535) return { host: text, port: 0 };
  return { host, port };
}

function parseGoUint(text: string): number | undefined {
  const t = text.replace(/_/g, '');
  if (/^0[xX][0-9a-fA-F]+$/.test(t)) return parseInt(t.slice(2), 16);
  if (/^0[oO][0-7]+$/.test(t)) return parseInt(t.slice(2), 8);
  if (/^0[bB][01]+$/.test(t)) return parseInt(t.slice(2), 2);
  if (/^0[0-7]+$/.test(t)) return parseInt(t.slice(1), 8);
  if (/^[0-9]+$/.test(t)) return Number(t);
  return undefined;
}
