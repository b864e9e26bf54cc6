/**
 * Block arithmetic for IPAM: ordinals inside a block, splitting a pool into blocks.
 *
 * A block is a CIDR; ordinal `k` of a block is the address `network + k` (Calico's
 * `allocations[k]`). A pool of prefix `p` split into blocks of prefix `b` (`b >= p`) has
 * `2^(b - p)` blocks, which for IPv6 can be astronomically many, so everything here is lazy and
 * indexes with bigint.
 */

import { CIDR, toCIDR } from './cidr.js';
import { OutOfRangeError } from './errors.js';
import { IPAddress, parseIP } from './ip.js';

function toIP(ip: IPAddress | string): IPAddress {
  return typeof ip === 'string' ? parseIP(ip) : ip;
}

/**
 * The ordinal of `ip` inside `block` (0 for the network address).
 * @throws {OutOfRangeError} when `ip` is not inside `block` (or has the other version), or when
 *   the block is larger than 2^53 addresses and the ordinal does not fit a number.
 * @throws {InvalidAddressError | InvalidCIDRError} for unparsable string arguments.
 * @example
 * ```ts
 * ordinalOf(parseCIDR('10.0.0.64/26'), '10.0.0.70'); // 6
 * ```
 */
export function ordinalOf(block: CIDR | string, ip: IPAddress | string): number {
  const b = toCIDR(block);
  const address = toIP(ip);
  if (address.version !== b.version || (address.value & b.mask) !== b.network.value) {
    throw new OutOfRangeError(address.toString(), `address is not in block ${b.toString()}`);
  }
  const ordinal = address.value - b.network.value;
  if (ordinal > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new OutOfRangeError(address.toString(), `ordinal in ${b.toString()} does not fit a safe integer`);
  }
  return Number(ordinal);
}

/**
 * The address at `ordinal` inside `block` (`network + ordinal`).
 * @throws {OutOfRangeError} when `ordinal` is not an integer in `[0, block.size)`.
 * @example
 * ```ts
 * addressAt(parseCIDR('fd00:10:244::/122'), 63).toString(); // 'fd00:10:244::3f'
 * ```
 */
export function addressAt(block: CIDR | string, ordinal: number | bigint): IPAddress {
  const b = toCIDR(block);
  let k: bigint;
  if (typeof ordinal === 'number') {
    if (!Number.isSafeInteger(ordinal)) {
      throw new OutOfRangeError(String(ordinal), `ordinal must be an integer from 0 to ${b.size - 1n}`);
    }
    k = BigInt(ordinal);
  } else {
    k = ordinal;
  }
  if (k < 0n || k >= b.size) {
    throw new OutOfRangeError(String(ordinal), `ordinal is outside block ${b.toString()} (0-${b.size - 1n})`);
  }
  return new IPAddress(b.version, b.network.value + k);
}

function checkBlockSize(pool: CIDR, blockSize: number): void {
  const bits = pool.version === 4 ? 32 : 128;
  if (!Number.isInteger(blockSize) || blockSize < pool.prefixLength || blockSize > bits) {
    throw new OutOfRangeError(
      String(blockSize),
      `block size must be an integer from ${pool.prefixLength} (the prefix of ${pool.toString()}) to ${bits}`,
    );
  }
}

/**
 * Number of blocks of prefix `blockSize` in `pool` (`2^(blockSize - pool.prefixLength)`).
 * @throws {OutOfRangeError} when `blockSize` is smaller than the pool's prefix or too large.
 */
export function blockCount(pool: CIDR | string, blockSize: number): bigint {
  const p = toCIDR(pool);
  checkBlockSize(p, blockSize);
  return 1n << BigInt(blockSize - p.prefixLength);
}

/**
 * The `index`-th block (zero-based, in address order) of prefix `blockSize` in `pool`.
 * @throws {OutOfRangeError} for a bad block size or an index outside `[0, blockCount)`.
 * @example
 * ```ts
 * blockAt(parseCIDR('10.0.0.0/16'), 26, 3n).toString(); // '10.0.0.192/26'
 * ```
 */
export function blockAt(pool: CIDR | string, blockSize: number, index: bigint | number): CIDR {
  const p = toCIDR(pool);
  checkBlockSize(p, blockSize);
  if (typeof index === 'number' && !Number.isSafeInteger(index)) {
    throw new OutOfRangeError(String(index), 'block index must be an integer');
  }
  const i = typeof index === 'bigint' ? index : BigInt(index);
  const count = 1n << BigInt(blockSize - p.prefixLength);
  if (i < 0n || i >= count) {
    throw new OutOfRangeError(String(index), `block index is outside 0-${count - 1n} for /${blockSize} blocks of ${p.toString()}`);
  }
  const step = 1n << BigInt(p.bits - blockSize);
  return new CIDR(new IPAddress(p.version, p.network.value + i * step), blockSize);
}

/**
 * Lazily yields the blocks of prefix `blockSize` covering `pool`, in address order. Safe on
 * huge IPv6 pools: blocks are produced one at a time on demand.
 * @throws {OutOfRangeError} (when called) for a bad block size.
 * @example
 * ```ts
 * [...splitIntoBlocks(parseCIDR('10.0.0.0/24'), 26)].map(String);
 * // ['10.0.0.0/26', '10.0.0.64/26', '10.0.0.128/26', '10.0.0.192/26']
 * ```
 */
export function splitIntoBlocks(pool: CIDR | string, blockSize: number): Iterable<CIDR> {
  const p = toCIDR(pool);
  checkBlockSize(p, blockSize);
  const step = 1n << BigInt(p.bits - blockSize);
  const first = p.network.value;
  const end = first + p.size;
  const version = p.version;
  return {
    *[Symbol.iterator](): Iterator<CIDR> {
      for (let value = first; value < end; value += step) {
        yield new CIDR(new IPAddress(version, value), blockSize);
      }
    },
  };
}

/**
 * The block of prefix `blockSize` that contains `ip` (the address masked to `blockSize` bits).
 * @throws {OutOfRangeError} when `blockSize` is not in `[0, 32]` / `[0, 128]`.
 * @example
 * ```ts
 * blockContaining('10.0.0.77', 26).toString(); // '10.0.0.64/26'
 * ```
 */
export function blockContaining(ip: IPAddress | string, blockSize: number): CIDR {
  const address = toIP(ip);
  if (!Number.isInteger(blockSize) || blockSize < 0 || blockSize > address.bits) {
    throw new OutOfRangeError(String(blockSize), `block size must be an integer from 0 to ${address.bits}`);
  }
  return new CIDR(address, blockSize).masked();
}
