/**
 * The small IP/CIDR view validation and defaulting work with, as plain values. Parsing and
 * printing are `@libcalico-ts/net`'s (Go `net` semantics); this module only adapts them to
 * "undefined when invalid" and a reason string for messages.
 */
import { IPAddress, maskValue, parseCIDR as netParseCIDR, parseIP as netParseIP } from '@libcalico-ts/net';

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

/** Parses an IPv4 or IPv6 address; undefined when invalid. */
export function parseIP(text: string): ParsedIP | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const ip = netParseIP(text);
    return { version: ip.version, value: ip.value };
  } catch {
    return undefined;
  }
}

/** Parses `ip/len` (host bits allowed, kept in `value`) or a bare IP (full-length prefix); undefined when invalid. */
export function parseCIDROrIP(text: string): ParsedCIDR | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const cidr = netParseCIDR(text, { allowHostBits: true, allowBareIP: true });
    return { version: cidr.version, value: cidr.address.value, prefixLength: cidr.prefixLength, hadPrefix: text.includes('/') };
  } catch {
    return undefined;
  }
}

/** Why `text` is not a valid CIDR/IP, for messages. */
export function describeBadCIDR(text: string): string {
  try {
    netParseCIDR(text, { allowHostBits: true, allowBareIP: true });
    return 'invalid CIDR';
  } catch (error) {
    return (error as { reason?: string }).reason ?? (error as Error).message;
  }
}

/** The network address of `cidr` (host bits cleared). */
export function maskedValue(cidr: ParsedCIDR): bigint {
  return cidr.value & maskValue(bitsOf(cidr.version), cidr.prefixLength);
}

function bitsOf(version: 4 | 6): 32 | 128 {
  return version === 4 ? 32 : 128;
}

/** True when the host bits of `cidr` are zero. */
export function isMasked(cidr: ParsedCIDR): boolean {
  return maskedValue(cidr) === cidr.value;
}

/** Whether `address` lies within the network `outer`. Families must match. */
export function cidrContains(outer: ParsedCIDR, address: ParsedIP): boolean {
  if (outer.version !== address.version) return false;
  return (address.value & maskValue(bitsOf(outer.version), outer.prefixLength)) === maskedValue(outer);
}

/** Whether two networks overlap (same family). */
export function cidrsOverlap(a: ParsedCIDR, b: ParsedCIDR): boolean {
  if (a.version !== b.version) return false;
  const shorter = a.prefixLength <= b.prefixLength ? a : b;
  return cidrContains(shorter, shorter === a ? b : a);
}

/** Formats an address as Go prints it. */
export function formatIP(version: 4 | 6, value: bigint): string {
  return new IPAddress(version, value).toString();
}

/** Canonical masked form `net/len` (Go's `IPNet.String()` of the parsed network). */
export function canonicalCIDR(cidr: ParsedCIDR): string {
  return `${formatIP(cidr.version, maskedValue(cidr))}/${cidr.prefixLength}`;
}

/** Canonical address form of `ip`. */
export function canonicalIP(ip: ParsedIP): string {
  return formatIP(ip.version, ip.value);
}
