/**
 * VXLAN tunnel endpoint (VTEP) MAC addresses, derived as Calico does.
 */
import { ValidationError } from '@libcalico-ts/api';
import { sha1Words } from './internal/sha1.js';

/** Options of {@link vtepMAC}. */
export interface VtepMACOptions {
  /** Derive the IPv6 VTEP MAC (hash input `<node>-v6`). Default false. */
  ipv6?: boolean;
}

/**
 * The MAC address Calico gives a node's `vxlan.calico` (or, with `ipv6`, `vxlan-v6.calico`)
 * device when the Node does not set `vxlanTunnelMACAddr` (`vxlanTunnelMACAddrV6`): byte `0x66`
 * followed by the first five bytes of SHA-1 of the node name (`<name>-v6` for IPv6), printed
 * lower-case and colon-separated. Pure JavaScript: works in a browser.
 *
 * @throws {ValidationError} when `nodeName` is empty or not a string.
 * @example
 * ```ts
 * vtepMAC('node-a');                 // '66:07:02:c1:cc:60'
 * vtepMAC('node-a', { ipv6: true }); // '66:d4:d5:51:3d:42'
 * ```
 */
export function vtepMAC(nodeName: string, options: VtepMACOptions = {}): string {
  if (typeof nodeName !== 'string' || nodeName === '') {
    throw new ValidationError([{ name: 'nodeName', value: nodeName, reason: 'must be a non-empty node name' }]);
  }
  sha1Words(options.ipv6 ? `${nodeName}-v6` : nodeName, digest);
  const h0 = digest[0]!;
  const h1 = digest[1]!;
  // One flat 17-character string (a template literal would build a tree of cons strings).
  return String.fromCharCode(
    54, 54, 58, // "66:"
    hexDigit(h0 >>> 28), hexDigit(h0 >>> 24), 58,
    hexDigit(h0 >>> 20), hexDigit(h0 >>> 16), 58,
    hexDigit(h0 >>> 12), hexDigit(h0 >>> 8), 58,
    hexDigit(h0 >>> 4), hexDigit(h0), 58,
    hexDigit(h1 >>> 28), hexDigit(h1 >>> 24),
  );
}

/** Character code of the lower-case hex digit of the low four bits of `value`. */
function hexDigit(value: number): number {
  const nibble = value & 0xf;
  return nibble < 10 ? 48 + nibble : 87 + nibble;
}

/** Digest words of the last derivation (reused: deriving 5,000 MACs allocates only the strings). */
const digest = new Int32Array(5);
