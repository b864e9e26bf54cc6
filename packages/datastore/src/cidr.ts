/**
 * CIDR checks for IPAM keys, on `@libcalico-ts/net` (Go `net.ParseCIDR` semantics): the canonical
 * spelling (masked network, IPv6 per RFC 5952) lets keys be compared as strings.
 */
import { parseCIDR } from '@libcalico-ts/net';

/** The outcome of {@link parseCidr}: the network in canonical form, or why it was rejected. */
export type CidrParse =
  | { ok: true; version: 4 | 6; canonical: string; prefixLength: number; masked: boolean }
  | { ok: false; reason: string };

/**
 * Parses `address/prefix`. `masked` is false when host bits were set (the canonical form then
 * shows the masked network, as Go's `ParseCIDR` does). Never throws.
 */
export function parseCidr(text: string): CidrParse {
  if (typeof text !== 'string') return { ok: false, reason: 'must be a string' };
  if (!text.includes('/')) return { ok: false, reason: 'must be a CIDR (address/prefix length)' };
  try {
    const cidr = parseCIDR(text, { allowHostBits: true });
    return { ok: true, version: cidr.version, canonical: cidr.toString(), prefixLength: cidr.prefixLength, masked: !cidr.hasHostBits };
  } catch (error) {
    return { ok: false, reason: (error as { reason?: string }).reason ?? (error as Error).message };
  }
}
