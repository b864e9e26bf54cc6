/**
 * Names and labels of Calico's IPAM custom resources (reference §7.5).
 */
import { createHash } from 'node:crypto';

/** Label keys BlockAffinity CRs carry for server-side filtering. */
export const AffinityLabel = {
  HostnameHash: 'projectcalico.org/hostname-hash',
  AffinityType: 'projectcalico.org/affinity-type',
  IPVersion: 'projectcalico.org/ip-version',
} as const;
export type AffinityLabel = (typeof AffinityLabel)[keyof typeof AffinityLabel];

/**
 * The CR name of a block CIDR: `.`, `:` and `/` become `-`.
 * `192.168.84.128/26` -> `192-168-84-128-26`; `fd00:10:244::/122` -> `fd00-10-244---122`.
 */
export function blockName(cidr: string): string {
  return cidr.replace(/[.:/]/g, '-');
}

/**
 * The CR name of a block affinity: `<host>-<blockName>`, or, when that reaches 253 characters,
 * the host truncated, the block name and the first 11 hex digits of SHA-256(`<host>+<blockName>`).
 * The affinity type is not part of the name (as in Calico).
 */
export function blockAffinityName(host: string, cidr: string): string {
  const cidrName = blockName(cidr);
  const name = `${host}-${cidrName}`;
  if (name.length < 253) return name;
  const hash = createHash('sha256').update(`${host}+${cidrName}`).digest('hex').slice(0, 11);
  return `${host.slice(0, 252 - cidrName.length - 13)}-${cidrName}-${hash}`;
}

/** The CR name of an IPAM handle: the handle id lowercased (`spec.handleID` keeps the case). */
export function handleName(handleId: string): string {
  return handleId.toLowerCase();
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32, standard alphabet, no padding. */
export function base32NoPad(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/** The `projectcalico.org/hostname-hash` label value: base32(SHA3-256(host)), 52 characters. */
export function hostnameHash(host: string): string {
  return base32NoPad(createHash('sha3-256').update(host).digest());
}

/** IP version of a CIDR string: 6 iff it contains `:`. */
export function cidrIpVersion(cidr: string): 4 | 6 {
  return cidr.includes(':') ? 6 : 4;
}

/** The three lookup labels of a BlockAffinity CR. */
export function blockAffinityLabels(host: string, cidr: string, affinityType: string): Record<string, string> {
  return {
    [AffinityLabel.AffinityType]: affinityType,
    [AffinityLabel.HostnameHash]: hostnameHash(host),
    [AffinityLabel.IPVersion]: String(cidrIpVersion(cidr)),
  };
}
