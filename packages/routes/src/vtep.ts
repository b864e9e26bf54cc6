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
  return `66:${HEX[h0 >>> 24]}:${HEX[(h0 >>> 16) & 0xff]}:${HEX[(h0 >>> 8) & 0xff]}:${HEX[h0 & 0xff]}:${HEX[digest[1]! >>> 24]}`;
}

/** Digest words of the last derivation (reused: deriving 5,000 MACs allocates only the strings). */
const digest = new Int32Array(5);
/** Two lower-case hex digits of each byte value. */
const HEX: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
