/**
 * A port of the parts of Go's standard library that libcalico-go uses to choose a host's
 * first block: the legacy `math/rand` source (additive lagged Fibonacci generator, 607 words,
 * tap 273, seeded through a Park–Miller generator), `big.Int.Rand`'s draw in `[0, n)`, and the
 * 32-bit FNV-1 hash. Proven bit-identical by vectors produced at test time by
 * `test/helpers/go-rand/main.go`.
 */
import { GO_RAND_COOKED_HEX } from './gorand-cooked.js';

const STATE_LEN = 607;
const STATE_TAP = 273;
const INT32_MAX = 2147483647;
const INT63_MASK = (1n << 63n) - 1n;

let cooked: BigInt64Array | undefined;
function cookedTable(): BigInt64Array {
  if (cooked) return cooked;
  cooked = new BigInt64Array(STATE_LEN);
  for (let i = 0; i < STATE_LEN; i++) {
    cooked[i] = BigInt.asIntN(64, BigInt('0x' + GO_RAND_COOKED_HEX.slice(i * 16, i * 16 + 16)));
  }
  return cooked;
}

function parkMiller(x: number): number {
  // 48271 * x < 2^47: exact in a double.
  return (48271 * x) % INT32_MAX;
}

/** Go's `rand.NewSource(seed)` (the legacy, pre-Go 1.20 default source), seeded identically. */
export class GoRandSource {
  private readonly vec = new BigInt64Array(STATE_LEN);
  private tap = 0;
  private feed = STATE_LEN - STATE_TAP;

  constructor(seed: bigint | number) {
    let s = BigInt(seed) % BigInt(INT32_MAX); // truncating, like Go's %
    if (s < 0n) s += BigInt(INT32_MAX);
    if (s === 0n) s = 89482311n;
    let x = Number(s);
    const table = cookedTable();
    for (let i = -20; i < STATE_LEN; i++) {
      x = parkMiller(x);
      if (i >= 0) {
        let u = BigInt(x) << 40n;
        x = parkMiller(x);
        u ^= BigInt(x) << 20n;
        x = parkMiller(x);
        u ^= BigInt(x);
        this.vec[i] = BigInt.asIntN(64, u ^ table[i]!);
      }
    }
  }

  /** Next 64-bit output (Go's `Uint64`). */
  uint64(): bigint {
    if (--this.tap < 0) this.tap += STATE_LEN;
    if (--this.feed < 0) this.feed += STATE_LEN;
    const sum = BigInt.asIntN(64, this.vec[this.feed]! + this.vec[this.tap]!);
    this.vec[this.feed] = sum;
    return BigInt.asUintN(64, sum);
  }

  /** Go's `Int63`: the low 63 bits of the next output. */
  int63(): bigint {
    return this.uint64() & INT63_MASK;
  }

  /** Go's `Rand.Uint32`: `Int63 >> 31`. */
  uint32(): bigint {
    return this.int63() >> 31n;
  }
}

/**
 * Go's `new(big.Int).Rand(rnd, n)` on a 64-bit platform: a uniform draw in `[0, n)` by
 * rejection, filling 64-bit words least-significant first from two `Uint32` each and masking the
 * top word to the bit length of `n`. Returns 0 (consuming nothing) when `n <= 0`.
 */
export function goBigRand(source: GoRandSource, n: bigint): bigint {
  if (n <= 0n) return 0n;
  const bitLength = n.toString(2).length;
  const words = Math.ceil(bitLength / 64);
  const topBits = bitLength % 64 === 0 ? 64 : bitLength % 64;
  const topMask = (1n << BigInt(topBits)) - 1n;
  for (;;) {
    let z = 0n;
    for (let w = 0; w < words; w++) {
      const low = source.uint32();
      const high = source.uint32();
      let word = BigInt.asUintN(64, low | (high << 32n));
      if (w === words - 1) word &= topMask;
      z |= word << BigInt(64 * w);
    }
    if (z < n) return z;
  }
}

/** The 32-bit FNV-1 hash (not FNV-1a) of the UTF-8 bytes of `text`, as Go's `hash/fnv.New32`. */
export function fnv1Hash32(text: string): number {
  const bytes = new TextEncoder().encode(text);
  let hash = 2166136261;
  for (const byte of bytes) {
    hash = Math.imul(hash, 16777619) >>> 0;
    hash = (hash ^ byte) >>> 0;
  }
  return hash;
}

/**
 * The start index of a host's block walk in a pool of `numBlocks` blocks, as libcalico-go's
 * random block generator computes it: FNV-1 of the hostname seeds Go's math/rand, and one
 * `big.Int.Rand` draw in `[0, numBlocks)` gives the index. (Single-address blocks use a
 * time-based seed upstream; callers handle that case.)
 */
export function hostStartIndex(hostname: string, numBlocks: bigint): bigint {
  if (numBlocks <= 0n) return 0n;
  return goBigRand(new GoRandSource(fnv1Hash32(hostname)), numBlocks);
}
