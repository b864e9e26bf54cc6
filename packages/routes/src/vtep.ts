/**
 * VXLAN tunnel endpoint (VTEP) MAC addresses, derived as Calico does.
 */
import { ValidationError } from '@libcalico-ts/api';
import { sha1 } from './internal/sha1.js';

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
  const input = options.ipv6 ? `${nodeName}-v6` : nodeName;
  const cached = cache.get(input);
  if (cached !== undefined) return cached;
  const digest = sha1(input);
  let out = '66';
  for (let i = 0; i < 5; i++) out += `:${digest[i]!.toString(16).padStart(2, '0')}`;
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(input, out);
  return out;
}

/** Derived MACs are pure functions of the name: memoised (bounded) so recomputing a large cluster does not rehash every node. */
const CACHE_LIMIT = 65_536;
const cache = new Map<string, string>();
