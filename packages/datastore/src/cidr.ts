/**
 * A small, dependency-free CIDR reader used to validate IPAM keys. It accepts what Go's
 * `net.ParseCIDR` accepts for plain IPv4/IPv6 networks and reports the canonical spelling
 * (masked network, IPv6 per RFC 5952), so keys can be compared as strings.
 * Internal: the full address toolkit lives in `@libcalico-ts/net`.
 */

/** The outcome of {@link parseCidr}: the network in canonical form, or why it was rejected. */
export type CidrParse =
  | { ok: true; version: 4 | 6; canonical: string; prefixLength: number; masked: boolean }
  | { ok: false; reason: string };

const DECIMAL = /^(0|[1-9][0-9]*)$/;

function parseIPv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const part of parts) {
    if (!DECIMAL.test(part) || part.length > 3) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

/** Parses an IPv6 address into 8 16-bit groups (an embedded dotted IPv4 tail is allowed). */
function parseIPv6(text: string): number[] | undefined {
  if (text.length === 0) return undefined;
  let head = text;
  let tail: number[] = [];
  // Embedded IPv4 in the last 32 bits.
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.slice(lastColon + 1).includes('.')) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    head = text.slice(0, lastColon + 1);
    // "::1.2.3.4" leaves "::" ; "a::1.2.3.4" leaves "a::" ; "a:b:c:d:e:f:1.2.3.4" leaves "a:b:c:d:e:f:".
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const doubleAt = head.indexOf('::');
  if (doubleAt >= 0 && head.indexOf('::', doubleAt + 1) >= 0) return undefined;
  const group = (s: string): number | undefined => (/^[0-9a-fA-F]{1,4}$/.test(s) ? parseInt(s, 16) : undefined);
  const readGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const piece of s.split(':')) {
      const g = group(piece);
      if (g === undefined) return undefined;
      out.push(g);
    }
    return out;
  };
  const want = 8 - tail.length;
  if (doubleAt >= 0) {
    const left = readGroups(head.slice(0, doubleAt));
    const right = readGroups(head.slice(doubleAt + 2));
    if (!left || !right) return undefined;
    const missing = want - left.length - right.length;
    if (missing < 1) return undefined;
    return [...left, ...new Array<number>(missing).fill(0), ...right, ...tail];
  }
  const groups = readGroups(head);
  if (!groups || groups.length !== want) return undefined;
  return [...groups, ...tail];
}

/** RFC 5952 text form of 8 groups: lowercase, no leading zeros, longest zero run (>= 2) as `::`. */
export function formatIPv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestLength < 2) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

function maskBits(bytes: number[], bitsPerUnit: number, prefixLength: number): { masked: number[]; wasMasked: boolean } {
  const masked: number[] = [];
  let wasMasked = true;
  for (let i = 0; i < bytes.length; i++) {
    const unitStart = i * bitsPerUnit;
    const keep = Math.max(0, Math.min(bitsPerUnit, prefixLength - unitStart));
    const full = (1 << bitsPerUnit) - 1;
    const mask = keep === 0 ? 0 : (full << (bitsPerUnit - keep)) & full;
    const value = bytes[i]! & mask;
    if (value !== bytes[i]) wasMasked = false;
    masked.push(value);
  }
  return { masked, wasMasked };
}

/**
 * Parses `address/prefix`. `masked` is false when host bits were set (the canonical form then
 * shows the masked network, as Go's `ParseCIDR` does).
 */
export function parseCidr(text: string): CidrParse {
  if (typeof text !== 'string') return { ok: false, reason: 'must be a string' };
  const slash = text.indexOf('/');
  if (slash < 0) return { ok: false, reason: 'must be a CIDR (address/prefix length)' };
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (!DECIMAL.test(prefixText)) return { ok: false, reason: `invalid prefix length "${prefixText}"` };
  const prefixLength = Number(prefixText);
  if (address.includes(':')) {
    const groups = parseIPv6(address);
    if (!groups) return { ok: false, reason: `invalid IPv6 address "${address}"` };
    if (prefixLength > 128) return { ok: false, reason: `IPv6 prefix length ${prefixLength} is above 128` };
    const { masked, wasMasked } = maskBits(groups, 16, prefixLength);
    return { ok: true, version: 6, canonical: `${formatIPv6(masked)}/${prefixLength}`, prefixLength, masked: wasMasked };
  }
  const octets = parseIPv4(address);
  if (!octets) return { ok: false, reason: `invalid IPv4 address "${address}"` };
  if (prefixLength > 32) return { ok: false, reason: `IPv4 prefix length ${prefixLength} is above 32` };
  const { masked, wasMasked } = maskBits(octets, 8, prefixLength);
  return { ok: true, version: 4, canonical: `${masked.join('.')}/${prefixLength}`, prefixLength, masked: wasMasked };
}
