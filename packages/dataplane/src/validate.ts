/**
 * Input validation and address parsing shared by the dataplane verbs. Every function throws a
 * `ValidationError` (from `@libcalico-ts/api`) naming the offending field; nothing here touches the
 * kernel.
 */
import { ValidationError } from '@libcalico-ts/api';
import { formatIPBytes, maskBytes, parseIP as netParseIP } from '@libcalico-ts/net';
import type { FormatIPOptions } from '@libcalico-ts/net';

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

// Parsing the same gateway/address text over and over (route tables) is common: memoise a bounded set.
const ipCache = new Map<string, ParsedIP>();
const IP_CACHE_LIMIT = 4096;

// `ip` keeps an address's family: an IPv4-mapped IPv6 address prints as `::ffff:a00:1`, not as IPv4.
const KEEP_FAMILY: FormatIPOptions = { mapped: 'ipv6' };

/**
 * Canonical text of address bytes (RFC 5952 for IPv6, IPv4-mapped IPv6 kept in IPv6 form).
 * @throws RangeError when `bytes` is not 4 or 16 bytes long.
 */
export function formatIP(bytes: Uint8Array): string {
  if (bytes.length !== 4 && bytes.length !== 16) throw new RangeError(`address of ${bytes.length} bytes`);
  return formatIPBytes(bytes, KEEP_FAMILY);
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

/**
 * Parses with `@libcalico-ts/net` (Go's `net.ParseIP` rules: no zone, no whitespace, no leading
 * zeros in IPv4 fields); an IPv4-mapped IPv6 address stays IPv6. Null when malformed.
 */
function parseIPUncached(text: string): ParsedIP | null {
  let ip;
  try {
    ip = netParseIP(text);
  } catch {
    return null;
  }
  const raw = ip.toBytes();
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.length);
  return { family: ip.version, bytes, text: formatIPBytes(bytes, KEEP_FAMILY) };
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
  if (options.strict) {
    const network = maskBytes(ip.bytes, prefixLength, Buffer.alloc(ip.bytes.length));
    if (!network.equals(ip.bytes)) fail(field, text, `host bits are set (network is ${formatIP(network)}/${prefixLength})`);
  }
  return { family: ip.family, bytes: ip.bytes, text: ip.text, prefixLength };
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
