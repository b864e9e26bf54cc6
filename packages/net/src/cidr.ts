/**
 * CIDRs (an address plus a prefix length).
 */

import { InvalidCIDRError, OutOfRangeError } from './errors.js';
import { IPAddress, type IPVersion, formatIPv4, parseIP, parsePrefixLength, tryParseIPRange } from './ip.js';

const V4_MAX = 0xffffffffn;
const V6_MAX = (1n << 128n) - 1n;
const MAPPED_PREFIX = 0xffffn;

/** Network mask of `prefixLength` bits for a family of `bits` bits, as bigint. */
export function maskValue(bits: 32 | 128, prefixLength: number): bigint {
  const all = bits === 32 ? V4_MAX : V6_MAX;
  const hostBits = BigInt(bits - prefixLength);
  return (all >> hostBits) << hostBits;
}

/**
 * Clears every bit after the first `prefixLength` bits of an address given as network-order bytes
 * (4 or 16), writing the network address into `into` (a new `Uint8Array` by default; pass a
 * `Buffer.alloc(n)` to get a `Buffer`, or `bytes` itself to mask in place) and returning it.
 *
 * @throws {OutOfRangeError} when `bytes` is not 4 or 16 bytes long, when `into` is shorter than
 *   `bytes`, or when `prefixLength` is not an integer from 0 to the address's bit count.
 * @example
 * ```ts
 * maskBytes(Uint8Array.of(10, 1, 2, 3), 16);   // Uint8Array [10, 1, 0, 0]
 * ```
 */
export function maskBytes<T extends Uint8Array = Uint8Array>(bytes: ArrayLike<number>, prefixLength: number, into?: T): T {
  const length = bytes.length;
  if (length !== 4 && length !== 16) throw new OutOfRangeError(`${length} bytes`, 'an IP address has 4 or 16 bytes');
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > length * 8) {
    throw new OutOfRangeError(String(prefixLength), `prefix length must be an integer from 0 to ${length * 8}`);
  }
  const out = into ?? (new Uint8Array(length) as T);
  if (out.length < length) throw new OutOfRangeError(`${out.length} bytes`, `the output needs ${length} bytes`);
  for (let i = 0; i < length; i++) {
    const keep = prefixLength - i * 8;
    out[i] = keep >= 8 ? bytes[i]! : keep <= 0 ? 0 : bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/**
 * An IPv4 or IPv6 CIDR. Immutable.
 *
 * `address` is the address as written (it may have host bits set, like Go's `net.ParseCIDR`
 * input); `network` is the masked network address. `toString()` prints the canonical masked form.
 *
 * @example
 * ```ts
 * const block = parseCIDR('10.0.0.77/26');
 * block.toString();             // '10.0.0.64/26'
 * block.hasHostBits;            // true
 * block.size;                   // 64n
 * block.contains('10.0.0.100'); // true
 * block.last().toString();      // '10.0.0.127'
 * ```
 */
export class CIDR {
  /** 4 or 6. */
  readonly version: IPVersion;
  /** The address as given (may have host bits set). */
  readonly address: IPAddress;
  /** The network address (host bits cleared). */
  readonly network: IPAddress;
  /** Prefix length (0-32 or 0-128). */
  readonly prefixLength: number;
  /** Number of addresses in the CIDR (`2^(bits - prefixLength)`). */
  readonly size: bigint;
  /** The network mask as an integer. */
  readonly mask: bigint;
  #text: string | undefined;

  /**
   * Builds a CIDR from an address and a prefix length; the network address is computed by masking.
   * @throws {OutOfRangeError} when `prefixLength` is not an integer in range for the address family.
   */
  constructor(address: IPAddress, prefixLength: number) {
    const bits = address.version === 4 ? 32 : 128;
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > bits) {
      throw new OutOfRangeError(String(prefixLength), `prefix length must be an integer from 0 to ${bits}`);
    }
    this.version = address.version;
    this.address = address;
    this.prefixLength = prefixLength;
    this.mask = maskValue(bits, prefixLength);
    const networkValue = address.value & this.mask;
    this.network = networkValue === address.value ? address : new IPAddress(address.version, networkValue);
    this.size = 1n << BigInt(bits - prefixLength);
  }

  /** True when the address as given had bits set beyond the prefix (e.g. `10.0.0.1/24`). */
  get hasHostBits(): boolean {
    return this.network !== this.address;
  }

  /** Number of bits in this address family (32 or 128). */
  get bits(): 32 | 128 {
    return this.version === 4 ? 32 : 128;
  }

  /**
   * Canonical masked form as Go's `net.IPNet.String()` prints it: `10.0.0.0/26`,
   * `fd00:10:244::/122`. Like Go, an IPv6 CIDR of prefix >= 96 inside `::ffff:0:0/96` prints in
   * IPv4 form (`::ffff:10.0.0.0/120` prints `10.0.0.0/24`).
   */
  toString(): string {
    let text = this.#text;
    if (text === undefined) {
      const value = this.network.value;
      if (this.version === 6 && this.prefixLength >= 96 && value >> 32n === MAPPED_PREFIX) {
        text = `${formatIPv4(Number(value & V4_MAX))}/${this.prefixLength - 96}`;
      } else {
        text = `${this.network.toString()}/${this.prefixLength}`;
      }
      this.#text = text;
    }
    return text;
  }

  /** JSON form: the canonical string. */
  toJSON(): string {
    return this.toString();
  }

  /** The first address (the network address). */
  first(): IPAddress {
    return this.network;
  }

  /** The last address (the broadcast address for IPv4). */
  last(): IPAddress {
    return new IPAddress(this.version, this.network.value + this.size - 1n);
  }

  /** The netmask as an address (`255.255.255.192` for a /26). */
  netmask(): IPAddress {
    return new IPAddress(this.version, this.mask);
  }

  /** This CIDR without host bits (returns `this` when it has none). */
  masked(): CIDR {
    return this.hasHostBits ? new CIDR(this.network, this.prefixLength) : this;
  }

  /**
   * True when the address, or every address of the CIDR, lies inside this CIDR. A string is
   * parsed as a CIDR when it contains `/`, otherwise as an address. Different versions never
   * contain each other.
   * @throws {InvalidAddressError | InvalidCIDRError} when a string argument does not parse.
   */
  contains(ipOrCidr: IPAddress | CIDR | string): boolean {
    let other = ipOrCidr;
    if (typeof other === 'string') other = other.includes('/') ? parseCIDR(other) : parseIP(other);
    if (other instanceof CIDR) {
      return (
        other.version === this.version &&
        other.prefixLength >= this.prefixLength &&
        (other.network.value & this.mask) === this.network.value
      );
    }
    return other.version === this.version && (other.value & this.mask) === this.network.value;
  }

  /** True when the two CIDRs share at least one address (same version only). */
  overlaps(other: CIDR | string): boolean {
    const that = typeof other === 'string' ? parseCIDR(other) : other;
    if (that.version !== this.version) return false;
    const mask = this.prefixLength <= that.prefixLength ? this.mask : that.mask;
    return (this.network.value & mask) === (that.network.value & mask);
  }

  /** Same version, network and prefix length (host bits of `address` are ignored). */
  equals(other: CIDR): boolean {
    return (
      this.version === other.version &&
      this.prefixLength === other.prefixLength &&
      this.network.value === other.network.value
    );
  }

  /** Orders by version, then network address, then prefix length. Returns -1, 0 or 1. */
  compare(other: CIDR): -1 | 0 | 1 {
    const byNetwork = this.network.compare(other.network);
    if (byNetwork !== 0) return byNetwork;
    return this.prefixLength < other.prefixLength ? -1 : this.prefixLength > other.prefixLength ? 1 : 0;
  }
}

/** Options of {@link parseCIDR}. */
export interface ParseCIDROptions {
  /**
   * Accept an address with host bits set (`10.0.0.1/24`) and mask it, like Go's
   * `net.ParseCIDR`. Default `true`. `false` is the same as `strict: true`.
   */
  allowHostBits?: boolean;
  /** Reject host bits (`10.0.0.1/24` fails). Default `false`. */
  strict?: boolean;
  /** Accept a bare address (`10.0.0.1` as `/32`, `fd00::1` as `/128`). Default `false`. */
  allowBareIP?: boolean;
}

/** Parses CIDR text; returns the CIDR or a reason string. */
function tryParseCIDR(text: string, options: ParseCIDROptions | undefined): CIDR | string {
  if (text.length === 0) return 'empty string';
  const slash = text.indexOf('/');
  let address: IPAddress | string;
  let prefixLength: number;
  if (slash < 0) {
    address = tryParseIPRange(text, 0, text.length);
    if (typeof address === 'string') return address;
    if (options?.allowBareIP !== true) return 'missing "/<prefix length>"';
    prefixLength = address.bits;
  } else {
    if (slash === 0) return 'missing address before "/"';
    address = tryParseIPRange(text, 0, slash);
    if (typeof address === 'string') return `address ${JSON.stringify(text.slice(0, slash))}: ${address}`;
    const parsed = parsePrefixLength(text, slash + 1, text.length);
    if (typeof parsed === 'string') return parsed;
    if (parsed > address.bits) {
      return `prefix length ${parsed} is out of range for IPv${address.version} (0-${address.bits})`;
    }
    prefixLength = parsed;
  }
  const cidr = new CIDR(address, prefixLength);
  if (cidr.hasHostBits && (options?.strict === true || options?.allowHostBits === false)) {
    return `host bits are set (the network is ${cidr.toString()})`;
  }
  return cidr;
}

/**
 * Parses a CIDR as Go's `net.ParseCIDR` does: by default an address with host bits set is
 * accepted and masked (see {@link CIDR.hasHostBits}); `{ strict: true }` rejects it. A bare
 * address is accepted (as /32 or /128) only with `{ allowBareIP: true }`.
 *
 * @throws {InvalidCIDRError} naming the input and the reason, e.g. for `10.0.0.0/33`,
 *   `300.1.1.1/8`, `1.2.3/24`, `::/129`, `''`.
 * @example
 * ```ts
 * parseCIDR('fd00:10:244:0::/122').toString();        // 'fd00:10:244::/122'
 * parseCIDR('10.0.0.1/24', { strict: true });          // throws InvalidCIDRError
 * parseCIDR('10.0.0.1', { allowBareIP: true }).size;   // 1n
 * ```
 */
export function parseCIDR(text: string, options?: ParseCIDROptions): CIDR {
  if (typeof text !== 'string') throw new InvalidCIDRError(String(text), 'not a string');
  const result = tryParseCIDR(text, options);
  if (typeof result === 'string') throw new InvalidCIDRError(text, result);
  return result;
}

/** True when {@link parseCIDR} would accept `text` with the same options. Never throws. */
export function isCIDR(text: string, options?: ParseCIDROptions): boolean {
  return typeof text === 'string' && typeof tryParseCIDR(text, options) !== 'string';
}

/** Accepts a CIDR or CIDR text (parsed with default options). */
export function toCIDR(cidr: CIDR | string): CIDR {
  return typeof cidr === 'string' ? parseCIDR(cidr) : cidr;
}
