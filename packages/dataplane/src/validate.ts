/**
 * Input validation and address parsing shared by the dataplane verbs. Every function throws a
 * `ValidationError` (from `@libcalico-ts/api`) naming the offending field; nothing here touches the
 * kernel.
 */
import { ValidationError } from '@libcalico-ts/api';

/** Longest interface name the kernel accepts (IFNAMSIZ - 1). */
export const MAX_INTERFACE_NAME_LENGTH = 15;
/** Smallest MTU accepted (IPv4 minimum). */
export const MIN_MTU = 68;
/** Largest MTU accepted. */
export const MAX_MTU = 65535;

function fail(field: string, value: unknown, reason: string): never {
  throw new ValidationError([{ name: field, value, reason }]);
}

/**
 * Checks a Linux interface name: 1-15 characters, not `.`/`..`, no `/`, `:` or whitespace
 * (the same rules as the kernel's `dev_valid_name` and the CNI library).
 * @throws ValidationError
 */
export function validateInterfaceName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || name.length === 0) fail(field, name, 'interface name must be a non-empty string');
  if (name.length > MAX_INTERFACE_NAME_LENGTH) {
    fail(field, name, `interface name is ${name.length} characters; the kernel limit is ${MAX_INTERFACE_NAME_LENGTH}`);
  }
  if (name === '.' || name === '..') fail(field, name, 'interface name may not be "." or ".."');
  if (/[/:\s]/.test(name)) fail(field, name, 'interface name may not contain "/", ":" or whitespace');
  return name;
}

/** Checks an MTU (integer in 68..65535). @throws ValidationError */
export function validateMtu(mtu: unknown, field = 'mtu'): number {
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
    fail(field, mtu, `MTU must be an integer between ${MIN_MTU} and ${MAX_MTU}`);
  }
  return mtu;
}

/** Parses `aa:bb:cc:dd:ee:ff` (case-insensitive, `-` also accepted) into 6 bytes. @throws ValidationError */
export function parseMac(mac: unknown, field = 'mac'): Buffer {
  if (typeof mac !== 'string' || !/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(mac)) {
    fail(field, mac, 'MAC address must look like aa:bb:cc:dd:ee:ff');
  }
  return Buffer.from(mac.split(/[:-]/).map((x) => parseInt(x, 16)));
}

/** Formats 6 (or any number of) bytes as lower-case colon-separated hex. */
export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** IP family: 4 or 6. */
export type IPFamily = 4 | 6;

/** A parsed address. */
export interface ParsedIP {
  family: IPFamily;
  bytes: Buffer;
  /** Canonical text form (as `ip` prints it). */
  text: string;
}

/** A parsed CIDR with its host bits cleared or kept (see {@link parseCidr}). */
export interface ParsedCidr extends ParsedIP {
  prefixLength: number;
}

function ipv4Bytes(text: string): Buffer {
  const out = Buffer.allocUnsafe(4);
  let octet = 0;
  let i = 0;
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c === 46 /* . */) {
      out[i++] = octet;
      octet = 0;
    } else octet = octet * 10 + (c - 48);
  }
  out[i] = octet;
  return out;
}

// Parsing the same gateway/address text over and over (route tables) is common: memoise a bounded set.
const ipCache = new Map<string, ParsedIP>();
const IP_CACHE_LIMIT = 4096;

function ipv6Bytes(text: string): Buffer {
  let head = text;
  let tailV4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    tailV4 = text.slice(lastColon + 1).split('.').map(Number);
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const parse = (s: string | undefined) => (s ? s.split(':').filter((x) => x !== '').map((x) => parseInt(x, 16)) : []);
  const l = parse(left);
  const r = parse(right);
  const groups = right === undefined ? l : [...l, ...new Array(8 - l.length - r.length).fill(0), ...r];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  if (tailV4.length === 4) Buffer.from(tailV4).copy(out, 12);
  return out;
}

/** Canonical text of address bytes (RFC 5952 for IPv6). */
export function formatIP(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) throw new RangeError(`address of ${bytes.length} bytes`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // Longest run (>= 2) of zero groups becomes "::".
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
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Parses an IPv4 or IPv6 address (no prefix). @throws ValidationError */
export function parseIP(text: unknown, field = 'address'): ParsedIP {
  if (typeof text === 'string') {
    // Cached results are shared: callers must treat `bytes` as read-only (every caller here does).
    const cached = ipCache.get(text);
    if (cached) return cached;
    const parsed = parseIPUncached(text);
    if (parsed) {
      if (ipCache.size >= IP_CACHE_LIMIT) ipCache.clear();
      ipCache.set(text, parsed);
      return parsed;
    }
  }
  fail(field, text, 'not a valid IPv4 or IPv6 address');
}

const isHexDigit = (c: number) => (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);

/** Dotted quad, each part 0-255 without leading zeros (as `net.isIPv4`). @internal */
export function isDottedQuad(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^(?:0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

/**
 * The same answer as `net.isIPv6` for zone-less text, without its regular expression: compiling
 * that expression costs ~3 ms on its first use in a process, more than all the parsing a
 * short-lived caller (the CNI plugin) does. Groups of 1-4 hex digits, at most one `::` (standing
 * for at least one zero group), an optional dotted-quad tail counting as two groups.
 * @internal
 */
export function isIPv6Text(text: string): boolean {
  const n = text.length;
  if (n < 2 || n > 45) return false;
  let groups = 0;
  let compressed = false;
  let i = 0;
  if (text.charCodeAt(0) === 58 /* : */) {
    if (text.charCodeAt(1) !== 58) return false;
    compressed = true;
    i = 2;
    if (i === n) return true;
  }
  for (;;) {
    let j = i;
    while (j < n && j - i < 5 && isHexDigit(text.charCodeAt(j))) j++;
    if (j < n && text.charCodeAt(j) === 46 /* . */) {
      if (!isDottedQuad(text.slice(i))) return false;
      groups += 2;
      break;
    }
    if (j === i || j - i > 4) return false;
    groups++;
    if (j === n) break;
    if (text.charCodeAt(j) !== 58) return false;
    if (text.charCodeAt(j + 1) === 58) {
      if (compressed) return false;
      compressed = true;
      i = j + 2;
      if (i === n) break;
    } else {
      i = j + 1;
      if (i === n) return false;
    }
  }
  return compressed ? groups <= 7 : groups === 8;
}

function parseIPUncached(text: string): ParsedIP | null {
  {
    if (isDottedQuad(text)) {
      const bytes = ipv4Bytes(text);
      return { family: 4, bytes, text: formatIP(bytes) };
    }
    if (isIPv6Text(text)) {
      const bytes = ipv6Bytes(text);
      return { family: 6, bytes, text: formatIP(bytes) };
    }
  }
  return null;
}

/**
 * Parses `addr/len` (a bare address means a host prefix). `default` means `0.0.0.0/0` (pass
 * `defaultFamily: 6` for `::/0`). With `strict`, host bits must be zero (route destinations);
 * otherwise they are kept (interface addresses).
 * @throws ValidationError
 */
export function parseCidr(text: unknown, field = 'cidr', options: { strict?: boolean; defaultFamily?: IPFamily } = {}): ParsedCidr {
  if (text === 'default') {
    const family = options.defaultFamily ?? 4;
    const bytes = Buffer.alloc(family === 4 ? 4 : 16);
    return { family, bytes, text: family === 4 ? '0.0.0.0' : '::', prefixLength: 0 };
  }
  if (typeof text !== 'string') fail(field, text, 'not a CIDR string');
  const slash = text.indexOf('/');
  const ip = parseIP(slash < 0 ? text : text.slice(0, slash), field);
  const max = ip.family === 4 ? 32 : 128;
  let prefixLength = max;
  if (slash >= 0) {
    const len = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(len) || Number(len) > max) fail(field, text, `prefix length must be 0..${max}`);
    prefixLength = Number(len);
  }
  if (options.strict && hasHostBits(ip.bytes, prefixLength)) {
    fail(field, text, `host bits are set (network is ${formatIP(maskBytes(ip.bytes, prefixLength))}/${prefixLength})`);
  }
  return { family: ip.family, bytes: ip.bytes, text: ip.text, prefixLength };
}

function hasHostBits(bytes: Buffer, prefixLength: number): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const bitsHere = Math.max(0, Math.min(8, prefixLength - i * 8));
    if ((bytes[i]! & ~((0xff << (8 - bitsHere)) & 0xff) & 0xff) !== 0) return true;
  }
  return false;
}

/** Returns a copy of `bytes` with every bit after `prefixLength` cleared. */
export function maskBytes(bytes: Buffer, prefixLength: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const bitsHere = Math.max(0, Math.min(8, prefixLength - i * 8));
    out[i] = out[i]! & ((0xff << (8 - bitsHere)) & 0xff);
  }
  return out;
}

/** Canonical `addr/len` text. */
export function formatCidr(bytes: Uint8Array, prefixLength: number): string {
  return `${formatIP(bytes)}/${prefixLength}`;
}

/** Normalises a CIDR string (`10.0.0.1` → `10.0.0.1/32`, `default` → `0.0.0.0/0`). */
export function normalizeCidr(text: string, field = 'cidr', options: { strict?: boolean; defaultFamily?: IPFamily } = {}): string {
  const c = parseCidr(text, field, options);
  return formatCidr(c.bytes, c.prefixLength);
}

/** Throws a single-field ValidationError. Exported for the other modules of this package. */
export function invalid(field: string, value: unknown, reason: string): never {
  fail(field, value, reason);
}
