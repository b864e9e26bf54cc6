/**
 * IPv4 and IPv6 addresses.
 *
 * Parsing follows Go's `net.ParseIP` (what Calico uses): dotted-quad IPv4 without leading zeros,
 * IPv6 with at most one `::`, hex fields of at most four digits, an optional embedded IPv4 tail,
 * and no zone. Printing follows Go's `net.IP.String()`: RFC 5952 for IPv6 (lowercase, longest run
 * of two or more zero fields compressed, first run on ties) and, for IPv4-mapped IPv6 addresses
 * (`::ffff:a.b.c.d`), the plain dotted IPv4 form.
 */

import { InvalidAddressError, OutOfRangeError } from './errors.js';

/** The IP family: 4 or 6. */
export type IPVersion = 4 | 6;

const V4_MAX = 0xffffffffn;
const V6_MAX = (1n << 128n) - 1n;
const MAPPED_PREFIX = 0xffffn;

/** Largest value of an address of each version, as bigint. */
export function maxAddressValue(version: IPVersion): bigint {
  return version === 4 ? V4_MAX : V6_MAX;
}

/** Number of bits of an address of each version (32 or 128). */
export function addressBits(version: IPVersion): 32 | 128 {
  return version === 4 ? 32 : 128;
}

/**
 * An IPv4 or IPv6 address: an immutable `(version, value)` pair where `value` is the address as
 * an unsigned integer (`0n` to `2^32 - 1` or `2^128 - 1`).
 *
 * @example
 * ```ts
 * const ip = parseIP('fd00:10:244:0:0:0:0:1');
 * ip.version;      // 6
 * ip.toString();   // 'fd00:10:244::1'
 * ip.add(1).toString(); // 'fd00:10:244::2'
 * ```
 */
export class IPAddress {
  /** 4 or 6. */
  readonly version: IPVersion;
  /** The address as an unsigned integer. */
  readonly value: bigint;
  #text: string | undefined;

  /**
   * Builds an address from its integer value.
   * @throws {OutOfRangeError} when `value` is negative or too large for `version`.
   */
  constructor(version: IPVersion, value: bigint) {
    if (version !== 4 && version !== 6) {
      throw new OutOfRangeError(String(version), 'IP version must be 4 or 6');
    }
    if (value < 0n || value > (version === 4 ? V4_MAX : V6_MAX)) {
      throw new OutOfRangeError(String(value), `value does not fit an IPv${version} address`);
    }
    this.version = version;
    this.value = value;
  }

  /** Same as `new IPAddress(version, value)`. */
  static fromBigInt(value: bigint, version: IPVersion): IPAddress {
    return new IPAddress(version, value);
  }

  /**
   * Builds an address from network-order bytes: 4 bytes give IPv4, 16 bytes give IPv6.
   * @throws {OutOfRangeError} for any other length.
   */
  static fromBytes(bytes: ArrayLike<number>): IPAddress {
    if (bytes.length !== 4 && bytes.length !== 16) {
      throw new OutOfRangeError(`${bytes.length} bytes`, 'an IP address has 4 or 16 bytes');
    }
    let value = 0n;
    for (let i = 0; i < bytes.length; i++) value = (value << 8n) | BigInt(bytes[i]! & 0xff);
    return new IPAddress(bytes.length === 4 ? 4 : 6, value);
  }

  /** Number of bits in this address family (32 or 128). */
  get bits(): 32 | 128 {
    return this.version === 4 ? 32 : 128;
  }

  /**
   * Canonical text, exactly as Go's `net.IP.String()` prints it: `10.0.0.1`, `fd00:10:244::1`,
   * and for IPv4-mapped IPv6 addresses the dotted IPv4 form (`::ffff:10.0.0.1` prints `10.0.0.1`).
   */
  toString(): string {
    let text = this.#text;
    if (text === undefined) {
      text = this.version === 4 ? formatIPv4(Number(this.value)) : formatIPv6(this.value);
      this.#text = text;
    }
    return text;
  }

  /** JSON form: the canonical string. */
  toJSON(): string {
    return this.toString();
  }

  /** Network-order bytes (4 or 16). */
  toBytes(): Uint8Array {
    const length = this.version === 4 ? 4 : 16;
    const out = new Uint8Array(length);
    let v = this.value;
    for (let i = length - 1; i >= 0; i--) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return out;
  }

  /** True when `other` has the same version and value. */
  equals(other: IPAddress): boolean {
    return this.version === other.version && this.value === other.value;
  }

  /** Orders IPv4 before IPv6, then by value. Returns -1, 0 or 1. */
  compare(other: IPAddress): -1 | 0 | 1 {
    if (this.version !== other.version) return this.version < other.version ? -1 : 1;
    return this.value < other.value ? -1 : this.value > other.value ? 1 : 0;
  }

  /**
   * The address `delta` places further on (negative goes back).
   * @throws {OutOfRangeError} when the result leaves the address family.
   */
  add(delta: bigint | number): IPAddress {
    const d = typeof delta === 'bigint' ? delta : BigInt(delta);
    const value = this.value + d;
    if (value < 0n || value > (this.version === 4 ? V4_MAX : V6_MAX)) {
      throw new OutOfRangeError(`${this.toString()} + ${d}`, `result is outside the IPv${this.version} address space`);
    }
    return new IPAddress(this.version, value);
  }

  /** True for an IPv6 address in `::ffff:0:0/96` (an IPv4-mapped address). */
  isIPv4Mapped(): boolean {
    return this.version === 6 && this.value >> 32n === MAPPED_PREFIX;
  }

  /**
   * The IPv4 address this one maps (`::ffff:a.b.c.d` gives `a.b.c.d`); an IPv4 address returns itself.
   * @throws {OutOfRangeError} for an IPv6 address that is not IPv4-mapped.
   */
  toIPv4(): IPAddress {
    if (this.version === 4) return this;
    if (!this.isIPv4Mapped()) throw new OutOfRangeError(this.toString(), 'not an IPv4-mapped IPv6 address');
    return new IPAddress(4, this.value & V4_MAX);
  }

  /** The IPv4-mapped IPv6 form of an IPv4 address (`::ffff:a.b.c.d`); an IPv6 address returns itself. */
  toIPv4Mapped(): IPAddress {
    if (this.version === 6) return this;
    return new IPAddress(6, (MAPPED_PREFIX << 32n) | this.value);
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting

const OCTETS: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));

/**
 * Dotted-quad text of a 32-bit unsigned integer (`167772161` gives `'10.0.0.1'`). Only the low
 * 32 bits are used. Never throws.
 */
export function formatIPv4(value: number): string {
  return OCTETS[(value >>> 24) & 255]! + '.' + OCTETS[(value >>> 16) & 255]! + '.' + OCTETS[(value >>> 8) & 255]! + '.' + OCTETS[value & 255]!;
}

/** Options of {@link formatIPv6} and {@link formatIPBytes}. */
export interface FormatIPOptions {
  /**
   * How an IPv4-mapped IPv6 address (`::ffff:0:0/96`) prints. `'ipv4'` (the default) prints the
   * dotted IPv4 address it maps (`10.0.0.1`), as Go's `net.IP.String()` does. `'ipv6'` prints it
   * like any other IPv6 address (`::ffff:a00:1`), for output that must keep the 16-byte family.
   */
  mapped?: 'ipv4' | 'ipv6';
}

/**
 * RFC 5952 text of eight 16-bit groups: lowercase hex without leading zeros, and the longest run
 * of two or more zero groups written as `::` (the first run wins a tie, RFC 5952 section 4.2.3).
 */
function formatGroups(groups: ArrayLike<number>): string {
  let bestStart = -1;
  let bestLength = 1;
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
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i += bestLength - 1;
      continue;
    }
    if (i > 0 && i !== bestStart + bestLength) out += ':';
    out += groups[i]!.toString(16);
  }
  return out;
}

/**
 * Canonical text of a 128-bit IPv6 value, as Go's `net.IP.String()` prints it: RFC 5952
 * (`fd00:10:244::1`), and an IPv4-mapped value as dotted IPv4 unless `options.mapped` is `'ipv6'`.
 * Only the low 128 bits of `value` are used. Never throws.
 *
 * @example
 * ```ts
 * formatIPv6(0xfd000000000000000000000000000001n);            // 'fd00::1'
 * formatIPv6(0xffff0a000001n);                                 // '10.0.0.1'
 * formatIPv6(0xffff0a000001n, { mapped: 'ipv6' });             // '::ffff:a00:1'
 * ```
 */
export function formatIPv6(value: bigint, options?: FormatIPOptions): string {
  const w0 = Number((value >> 96n) & V4_MAX);
  const w1 = Number((value >> 64n) & V4_MAX);
  const w2 = Number((value >> 32n) & V4_MAX);
  const w3 = Number(value & V4_MAX);
  if (w0 === 0 && w1 === 0 && w2 === 0xffff && options?.mapped !== 'ipv6') return formatIPv4(w3);
  return formatGroups([w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff]);
}

/**
 * Canonical text of an address given as network-order bytes: 4 bytes print as dotted IPv4, 16
 * bytes as {@link formatIPv6} does (with the same `options`). Works on any byte array
 * (`Uint8Array`, `Buffer`, `number[]`) without converting to bigint.
 *
 * @throws {OutOfRangeError} when there are not exactly 4 or 16 bytes.
 * @example
 * ```ts
 * formatIPBytes([10, 0, 0, 1]);                                   // '10.0.0.1'
 * formatIPBytes(parseIP('FD00::0:1').toBytes());                  // 'fd00::1'
 * ```
 */
export function formatIPBytes(bytes: ArrayLike<number>, options?: FormatIPOptions): string {
  if (bytes.length === 4) return OCTETS[bytes[0]! & 255]! + '.' + OCTETS[bytes[1]! & 255]! + '.' + OCTETS[bytes[2]! & 255]! + '.' + OCTETS[bytes[3]! & 255]!;
  if (bytes.length !== 16) throw new OutOfRangeError(`${bytes.length} bytes`, 'an IP address has 4 or 16 bytes');
  const groups = new Array<number>(8);
  let mapped = options?.mapped !== 'ipv6';
  for (let i = 0; i < 8; i++) {
    const group = ((bytes[2 * i]! & 255) << 8) | (bytes[2 * i + 1]! & 255);
    groups[i] = group;
    if (i < 5 ? group !== 0 : i === 5 && group !== 0xffff) mapped = false;
  }
  if (mapped) return OCTETS[bytes[12]! & 255]! + '.' + OCTETS[bytes[13]! & 255]! + '.' + OCTETS[bytes[14]! & 255]! + '.' + OCTETS[bytes[15]! & 255]!;
  return formatGroups(groups);
}

// ---------------------------------------------------------------------------------------------
// Parsing. The parsers return a value, or a reason string on failure (no exceptions in the
// probing paths used by isIP / ipVersionOf).

/**
 * Parses dotted-quad IPv4 text in `s[start, end)` to an unsigned 32-bit number. Returns a reason
 * string on failure.
 */
export function parseV4Range(s: string, start: number, end: number): number | string {
  if (start >= end) return 'empty string';
  let value = 0;
  let fields = 0;
  let i = start;
  while (true) {
    const fieldStart = i;
    let field = 0;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      field = field * 10 + (c - 48);
      i++;
      if (i - fieldStart > 3) return 'IPv4 field has more than 3 digits';
    }
    if (i === fieldStart) {
      return i < end && s.charCodeAt(i) !== 46
        ? `unexpected character ${JSON.stringify(s[i])} at offset ${i - start}`
        : 'IPv4 field must have at least one digit';
    }
    if (i - fieldStart > 1 && s.charCodeAt(fieldStart) === 48) return 'IPv4 field has octet with leading zero';
    if (field > 255) return 'IPv4 field has value >255';
    value = value * 256 + field;
    fields++;
    if (fields === 4) {
      if (i !== end) return i < end && s.charCodeAt(i) === 46 ? 'IPv4 address too long' : `unexpected character ${JSON.stringify(s[i])} at offset ${i - start}`;
      return value;
    }
    if (i >= end) return 'IPv4 address too short';
    if (s.charCodeAt(i) !== 46) return `unexpected character ${JSON.stringify(s[i])} at offset ${i - start}`;
    i++;
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Parses IPv6 text in `s[start, end)` to a 128-bit bigint. Returns a reason string on failure. */
export function parseV6Range(s: string, start: number, end: number): bigint | string {
  if (start >= end) return 'empty string';
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  let n = 0;
  let ellipsis = -1;
  let i = start;
  if (s.charCodeAt(i) === 58) {
    if (i + 1 < end && s.charCodeAt(i + 1) === 58) {
      ellipsis = 0;
      i += 2;
      if (i === end) return 0n;
    } else {
      return 'leading single colon';
    }
  }
  while (i < end) {
    const fieldStart = i;
    let field = 0;
    let digits = 0;
    while (i < end) {
      const h = hexValue(s.charCodeAt(i));
      if (h < 0) break;
      field = field * 16 + h;
      digits++;
      i++;
      if (digits > 4) return 'each colon-separated field must have at most 4 hex digits';
    }
    if (i < end && s.charCodeAt(i) === 46) {
      // An embedded IPv4 address ends the text.
      if (ellipsis < 0 && n !== 6) return 'embedded IPv4 address must replace the final 2 fields of the address';
      if (n + 2 > 8) return 'too many hex fields to fit an embedded IPv4 at the end of the address';
      const v4 = parseV4Range(s, fieldStart, end);
      if (typeof v4 === 'string') return `embedded IPv4: ${v4}`;
      groups[n++] = Math.floor(v4 / 65536);
      groups[n++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (digits === 0) {
      if (i < end && s.charCodeAt(i) === 58) return 'unexpected colon (":::" or "::" used twice)';
      return i < end ? `unexpected character ${JSON.stringify(s[i])} at offset ${i - start}` : 'missing field';
    }
    if (n === 8) return 'too many fields (more than 8)';
    groups[n++] = field;
    if (i === end) break;
    const c = s.charCodeAt(i);
    if (c !== 58) {
      if (c === 37) return 'zones (%...) are not allowed';
      return `unexpected character ${JSON.stringify(s[i])} at offset ${i - start}`;
    }
    i++;
    if (i < end && s.charCodeAt(i) === 58) {
      if (ellipsis >= 0) return 'multiple "::"';
      ellipsis = n;
      i++;
      if (i === end) break;
    } else if (i === end) {
      return 'trailing colon';
    }
  }
  if (n < 8) {
    if (ellipsis < 0) return 'address too short (fewer than 8 fields and no "::")';
    const shift = 8 - n;
    for (let j = n - 1; j >= ellipsis; j--) groups[j + shift] = groups[j]!;
    for (let j = ellipsis; j < ellipsis + shift; j++) groups[j] = 0;
  } else if (ellipsis >= 0) {
    return '"::" must expand to at least one field of zeros';
  }
  const w0 = groups[0]! * 65536 + groups[1]!;
  const w1 = groups[2]! * 65536 + groups[3]!;
  const w2 = groups[4]! * 65536 + groups[5]!;
  const w3 = groups[6]! * 65536 + groups[7]!;
  return (BigInt(w0) << 96n) | (BigInt(w1) << 64n) | (BigInt(w2) << 32n) | BigInt(w3);
}

/** Parses `s[start, end)` as an address; returns the address or a reason string. */
export function tryParseIPRange(s: string, start: number, end: number): IPAddress | string {
  if (start >= end) return 'empty string';
  // IPv6 text always has a colon; IPv4 text never does.
  for (let i = start; i < end; i++) {
    if (s.charCodeAt(i) === 58) {
      const v6 = parseV6Range(s, start, end);
      return typeof v6 === 'string' ? v6 : new IPAddress(6, v6);
    }
  }
  const v4 = parseV4Range(s, start, end);
  return typeof v4 === 'string' ? v4 : new IPAddress(4, BigInt(v4));
}

/**
 * Parses an IPv4 or IPv6 address as Go's `net.ParseIP` does (no surrounding whitespace, no
 * zone, no leading zeros in IPv4 fields).
 *
 * An IPv4-mapped IPv6 text (`::ffff:10.0.0.1`) parses as version 6; note that it prints as
 * `10.0.0.1`, like Go. Use {@link IPAddress.toIPv4} to unmap it.
 *
 * @throws {InvalidAddressError} naming the input and the reason.
 * @example
 * ```ts
 * parseIP('10.0.0.1').value;          // 167772161n
 * parseIP('FD00::0:1').toString();   // 'fd00::1'
 * ```
 */
export function parseIP(text: string): IPAddress {
  if (typeof text !== 'string') throw new InvalidAddressError(String(text), 'not a string');
  const result = tryParseIPRange(text, 0, text.length);
  if (typeof result === 'string') throw new InvalidAddressError(text, result);
  return result;
}

/** True when `text` is a valid IPv4 or IPv6 address (see {@link parseIP}). Never throws. */
export function isIP(text: string): boolean {
  return typeof text === 'string' && typeof tryParseIPRange(text, 0, text.length) !== 'string';
}

/**
 * The version of an address or CIDR text (`'10.0.0.1'` → 4, `'fd00::/64'` → 6), or `undefined`
 * when the text is not a valid address or CIDR. Never throws.
 */
export function ipVersionOf(text: string): IPVersion | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  const end = slash < 0 ? text.length : slash;
  const result = tryParseIPRange(text, 0, end);
  if (typeof result === 'string') return undefined;
  if (slash >= 0) {
    const prefix = parsePrefixLength(text, slash + 1, text.length);
    if (typeof prefix === 'string' || prefix > result.bits) return undefined;
  }
  return result.version;
}

/**
 * Parses the decimal prefix length in `s[start, end)` as Go's `net.ParseCIDR` does (digits only,
 * leading zeros allowed). Returns a reason string on failure; range checks are left to the caller.
 */
export function parsePrefixLength(s: string, start: number, end: number): number | string {
  if (start >= end) return 'missing prefix length after "/"';
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return `prefix length ${JSON.stringify(s.slice(start, end))} is not a decimal number`;
    n = n * 10 + (c - 48);
    if (n > 0xffffff) return `prefix length ${JSON.stringify(s.slice(start, end))} is too large`;
  }
  return n;
}
