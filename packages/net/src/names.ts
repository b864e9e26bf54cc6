/**
 * Calico's string forms of a CIDR used in storage keys and object names.
 *
 * - etcd keys (`/calico/ipam/v2/assignment/ipv4/block/10.0.0.64-26`) use the canonical CIDR with
 *   the `/` replaced by `-`; IPv6 colons are kept (`fd00:10:244::-122`).
 * - Kubernetes object names (IPAMBlock CRs) must be DNS-safe: Calico replaces up to 3 `.`, up to
 *   7 `:` and one `/` with `-` in the canonical CIDR (`10-0-0-64-26`, `fd00-10-244---122`).
 */

import { CIDR, parseCIDR, toCIDR } from './cidr.js';
import { InvalidCIDRError } from './errors.js';

/** Go's `strings.Replace(s, old, replacement, n)` for single characters: the first `n` occurrences. */
function replaceFirst(s: string, old: string, replacement: string, n: number): string {
  let out = '';
  let from = 0;
  for (let count = 0; count < n; count++) {
    const at = s.indexOf(old, from);
    if (at < 0) break;
    out += s.slice(from, at) + replacement;
    from = at + old.length;
  }
  return out + s.slice(from);
}

/**
 * The etcd key form of a CIDR: canonical masked CIDR with `/` replaced by `-`.
 * @throws {InvalidCIDRError} when a string argument does not parse.
 * @example
 * ```ts
 * cidrToKeyName('10.0.0.0/26');        // '10.0.0.0-26'
 * cidrToKeyName('fd00:10:244::/122');  // 'fd00:10:244::-122'
 * ```
 */
export function cidrToKeyName(cidr: CIDR | string): string {
  return replaceFirst(toCIDR(cidr).toString(), '/', '-', 1);
}

/**
 * Inverse of {@link cidrToKeyName}: `'10.0.0.0-26'` → the CIDR `10.0.0.0/26`. Like Calico's key
 * parser, the first `-` is taken as the `/` and the result is parsed as Go's `net.ParseCIDR`
 * would (host bits are masked).
 * @throws {InvalidCIDRError} naming the input when it is not a CIDR key name.
 */
export function keyNameToCIDR(name: string): CIDR {
  if (typeof name !== 'string' || !name.includes('-')) {
    throw new InvalidCIDRError(String(name), 'not a CIDR key name (expected "<address>-<prefix length>")');
  }
  try {
    return parseCIDR(replaceFirst(name, '-', '/', 1));
  } catch (error) {
    if (InvalidCIDRError.isInstance(error)) throw new InvalidCIDRError(name, error.reason);
    throw error;
  }
}

/**
 * The Kubernetes object name form of a CIDR (IPAMBlock CR names), exactly as Calico's
 * `names.CIDRToName` builds it from the canonical CIDR: the first 3 `.` become `-`, then the
 * first 7 `:` become `-`, then the `/` becomes `-`.
 * @throws {InvalidCIDRError} when a string argument does not parse.
 * @example
 * ```ts
 * cidrToObjectName('192.168.84.128/26');   // '192-168-84-128-26'
 * cidrToObjectName('fd00:10:244::/122');   // 'fd00-10-244---122'
 * ```
 */
export function cidrToObjectName(cidr: CIDR | string): string {
  let name = replaceFirst(toCIDR(cidr).toString(), '.', '-', 3);
  name = replaceFirst(name, ':', '-', 7);
  return replaceFirst(name, '/', '-', 1);
}

const V4_OBJECT_NAME = /^(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})$/;

/**
 * Inverse of {@link cidrToObjectName} for names Calico generated: `'10-0-0-64-26'` →
 * `10.0.0.64/26`, `'fd00-10-244---122'` → `fd00:10:244::/122`. Only canonical names are accepted
 * (the result must print back to the same name). Prefer the CR's `spec.cidr` when you have it.
 * @throws {InvalidCIDRError} naming the input when it is not such a name.
 */
export function objectNameToCIDR(name: string): CIDR {
  if (typeof name !== 'string') throw new InvalidCIDRError(String(name), 'not a string');
  let text: string;
  const v4 = V4_OBJECT_NAME.exec(name);
  if (v4) {
    text = `${v4[1]}.${v4[2]}.${v4[3]}.${v4[4]}/${v4[5]}`;
  } else {
    const dash = name.lastIndexOf('-');
    if (dash < 0) throw new InvalidCIDRError(name, 'not a CIDR object name (no "-")');
    text = `${name.slice(0, dash).replaceAll('-', ':')}/${name.slice(dash + 1)}`;
  }
  let cidr: CIDR;
  try {
    cidr = parseCIDR(text, { strict: true });
  } catch (error) {
    if (InvalidCIDRError.isInstance(error)) throw new InvalidCIDRError(name, error.reason);
    throw error;
  }
  if (cidrToObjectName(cidr) !== name) {
    throw new InvalidCIDRError(name, `not a canonical CIDR object name (expected ${cidrToObjectName(cidr)})`);
  }
  return cidr;
}
