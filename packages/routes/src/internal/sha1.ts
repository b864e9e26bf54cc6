/**
 * SHA-1 (FIPS 180-4) over UTF-8 text, in plain JavaScript so the package runs in a browser
 * without Node's `crypto` and without the asynchronous WebCrypto API. Used only to derive VTEP
 * MAC addresses from node names, as Calico does; not for anything security-related.
 *
 * Node names are short ASCII: those (up to 55 bytes, one 64-byte block) are written straight
 * into the message schedule, so hashing one allocates nothing; a cold route computation derives
 * one MAC per node (5,000 in the benchmark).
 */

const encoder = new TextEncoder();
/** Message schedule (80 words); words 0-15 hold the current block. */
const w = new Int32Array(80);

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

/** Runs the compression function over the block in `w[0..15]`, updating `h` (5 words). */
function compress(h: Int32Array): void {
  for (let i = 16; i < 80; i++) w[i] = rotl(w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!, 1);
  let a = h[0]!;
  let b = h[1]!;
  let c = h[2]!;
  let d = h[3]!;
  let e = h[4]!;
  for (let i = 0; i < 20; i++) {
    const t = (rotl(a, 5) + ((b & c) | (~b & d)) + e + 0x5a827999 + w[i]!) | 0;
    e = d;
    d = c;
    c = rotl(b, 30);
    b = a;
    a = t;
  }
  for (let i = 20; i < 40; i++) {
    const t = (rotl(a, 5) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[i]!) | 0;
    e = d;
    d = c;
    c = rotl(b, 30);
    b = a;
    a = t;
  }
  for (let i = 40; i < 60; i++) {
    const t = (rotl(a, 5) + ((b & c) | (b & d) | (c & d)) + e + 0x8f1bbcdc + w[i]!) | 0;
    e = d;
    d = c;
    c = rotl(b, 30);
    b = a;
    a = t;
  }
  for (let i = 60; i < 80; i++) {
    const t = (rotl(a, 5) + (b ^ c ^ d) + e + 0xca62c1d6 + w[i]!) | 0;
    e = d;
    d = c;
    c = rotl(b, 30);
    b = a;
    a = t;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
}

function init(h: Int32Array): void {
  h[0] = 0x67452301;
  h[1] = 0xefcdab89 | 0;
  h[2] = 0x98badcfe | 0;
  h[3] = 0x10325476;
  h[4] = 0xc3d2e1f0 | 0;
}

/** Single-block fast path: `text` is ASCII and at most 55 characters. False (nothing written) otherwise. */
function shortASCII(text: string, h: Int32Array): boolean {
  const length = text.length;
  if (length > 55) return false;
  for (let i = 0; i < length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  w.fill(0, 0, 16);
  for (let i = 0; i < length; i++) w[i >> 2]! |= text.charCodeAt(i) << (24 - 8 * (i & 3));
  w[length >> 2]! |= 0x80 << (24 - 8 * (length & 3));
  w[15] = length * 8;
  init(h);
  compress(h);
  return true;
}

/** Hashes bytes of any length into `h`. */
function bytes(data: Uint8Array, h: Int32Array): void {
  const bitLength = data.length * 8;
  // Message + 0x80 + zero padding + 64-bit length, to a multiple of 64 bytes.
  const total = ((data.length + 9 + 63) >> 6) << 6;
  const buffer = new Uint8Array(total);
  buffer.set(data);
  buffer[data.length] = 0x80;
  const view = new DataView(buffer.buffer);
  view.setUint32(total - 8, Math.floor(bitLength / 0x100000000));
  view.setUint32(total - 4, bitLength >>> 0);
  init(h);
  for (let offset = 0; offset < total; offset += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getInt32(offset + i * 4);
    compress(h);
  }
}

/**
 * Writes the SHA-1 digest of `input` (a string is hashed as UTF-8) into `h` as five big-endian
 * 32-bit words (`h[0]` holds digest bytes 0-3).
 */
export function sha1Words(input: string | Uint8Array, h: Int32Array): void {
  if (typeof input === 'string') {
    if (!shortASCII(input, h)) bytes(encoder.encode(input), h);
  } else {
    bytes(input, h);
  }
}

/** The 20-byte SHA-1 digest of `input` (a string is hashed as UTF-8). */
export function sha1(input: string | Uint8Array): Uint8Array {
  const h = new Int32Array(5);
  sha1Words(input, h);
  const out = new Uint8Array(20);
  for (let i = 0; i < 20; i++) out[i] = (h[i >> 2]! >>> (24 - 8 * (i & 3))) & 0xff;
  return out;
}
