/**
 * Small, pure address helpers used by the renderer. They follow Go's `net` package, which is
 * what confd uses: canonical text (RFC 5952 for IPv6, IPv4-mapped IPv6 printed as IPv4), no
 * leading zeros in IPv4 octets, no zones. Parsing, formatting and masking are
 * `@libcalico-ts/net`'s; this module keeps the renderer's byte shapes and its
 * undefined-on-bad-input convention.
 */
import { formatIPBytes, maskBytes, parseIP as netParseIP } from '@libcalico-ts/net';
import type { FormatIPOptions } from '@libcalico-ts/net';

/** A parsed address: family and 16 (v6) or 4 (v4) bytes. */
export interface ParsedIP {
  readonly version: 4 | 6;
  readonly bytes: Uint8Array;
}

// A 16-byte address prints in IPv6 form even when IPv4-mapped: parseIP already turns mapped
// text into a 4-byte IPv4 address, so only a hand-built ParsedIP can reach formatIP mapped.
const KEEP_FAMILY: FormatIPOptions = { mapped: 'ipv6' };

/**
 * Parses an IPv4 or IPv6 address like Go's `net.ParseIP`; undefined when invalid. An
 * IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) comes back as the IPv4 address (version 4).
 */
export function parseIP(text: string): ParsedIP | undefined {
  if (typeof text !== 'string') return undefined;
  let ip;
  try {
    ip = netParseIP(text);
  } catch {
    return undefined;
  }
  if (ip.isIPv4Mapped()) ip = ip.toIPv4();
  return { version: ip.version, bytes: ip.toBytes() };
}

/** Canonical text of an address (Go `net.IP.String()`). */
export function formatIP(ip: ParsedIP): string {
  return formatIPBytes(ip.bytes, KEEP_FAMILY);
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
  // Unlike Go, which keeps the family of the text (an IPv4-mapped IPv6 CIDR is IPv6-sized), the
  // unmapped address decides the maximum: `::ffff:10.0.0.0/24` reads as `10.0.0.0/24`.
  const ip = parseIP(addrText);
  if (!ip) return undefined;
  const bits = ip.version === 4 ? 32 : 128;
  if (prefixLength > bits) return undefined;
  return { ip, prefixLength, network: maskIP(ip, prefixLength) };
}

/** `ip` with every bit after `prefixLength` cleared (`prefixLength` must fit the family). */
export function maskIP(ip: ParsedIP, prefixLength: number): ParsedIP {
  return { version: ip.version, bytes: maskBytes(ip.bytes, prefixLength) };
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
