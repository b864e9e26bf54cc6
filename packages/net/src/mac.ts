/**
 * MAC (hardware) addresses, parsed as Go's `net.ParseMAC` does.
 */

import { InvalidMACError } from './errors.js';

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function isValidLength(bytes: number): boolean {
  return bytes === 6 || bytes === 8 || bytes === 20;
}

/**
 * Parses a MAC address (IEEE 802 MAC-48, EUI-48, EUI-64 or 20-octet IP-over-InfiniBand) in one of
 * the forms Go accepts: `00:00:5e:00:53:01`, `00-00-5E-00-53-01`, `0000.5e00.5301`.
 * @returns the address bytes (6, 8 or 20 of them).
 * @throws {InvalidMACError} naming the input and the reason.
 */
export function parseMAC(text: string): Uint8Array {
  if (typeof text !== 'string') throw new InvalidMACError(String(text), 'not a string');
  if (text.length < 14) throw new InvalidMACError(text, 'too short');
  const fail = (reason: string): never => {
    throw new InvalidMACError(text, reason);
  };
  const sep = text[2];
  if (sep === ':' || sep === '-') {
    if ((text.length + 1) % 3 !== 0) fail('wrong length for the "xx:xx:..." form');
    const n = (text.length + 1) / 3;
    if (!isValidLength(n)) fail(`${n} octets (expected 6, 8 or 20)`);
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const at = i * 3;
      const hi = hexValue(text.charCodeAt(at));
      const lo = hexValue(text.charCodeAt(at + 1));
      if (hi < 0 || lo < 0) fail(`octet ${i + 1} is not two hex digits`);
      if (i < n - 1 && text[at + 2] !== sep) fail(`expected ${JSON.stringify(sep)} after octet ${i + 1}`);
      out[i] = hi * 16 + lo;
    }
    return out;
  }
  if (text[4] === '.') {
    if ((text.length + 1) % 5 !== 0) fail('wrong length for the "xxxx.xxxx.xxxx" form');
    const n = ((text.length + 1) * 2) / 5;
    if (!isValidLength(n)) fail(`${n} octets (expected 6, 8 or 20)`);
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 2) {
      const at = (i / 2) * 5;
      const digits = [0, 1, 2, 3].map((k) => hexValue(text.charCodeAt(at + k)));
      if (digits.some((d) => d < 0)) fail(`group ${i / 2 + 1} is not four hex digits`);
      if (i < n - 2 && text[at + 4] !== '.') fail(`expected "." after group ${i / 2 + 1}`);
      out[i] = digits[0]! * 16 + digits[1]!;
      out[i + 1] = digits[2]! * 16 + digits[3]!;
    }
    return out;
  }
  return fail('expected "xx:xx:xx:xx:xx:xx", "xx-xx-xx-xx-xx-xx" or "xxxx.xxxx.xxxx"');
}

/**
 * Formats a MAC address in lowercase colon form (`00:00:5e:00:53:01`), as Go's
 * `net.HardwareAddr.String()` does. A string is parsed first (so this also normalises text).
 * @throws {InvalidMACError} for an unparsable string or a byte array of a length other than 6, 8 or 20.
 */
export function formatMAC(mac: ArrayLike<number> | string): string {
  const bytes = typeof mac === 'string' ? parseMAC(mac) : mac;
  if (!isValidLength(bytes.length)) {
    throw new InvalidMACError(`${bytes.length} bytes`, 'a MAC address has 6, 8 or 20 octets');
  }
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (!Number.isInteger(b) || b < 0 || b > 255) throw new InvalidMACError(String(b), `octet ${i + 1} is not a byte`);
    if (i > 0) out += ':';
    out += (b < 16 ? '0' : '') + b.toString(16);
  }
  return out;
}

/** True when {@link parseMAC} would accept `text`. Never throws. */
export function isMAC(text: string): boolean {
  try {
    parseMAC(text);
    return true;
  } catch {
    return false;
  }
}
