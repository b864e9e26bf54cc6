/**
 * `ip route` / `ip neigh` / `bridge fdb` renderings of computed entries, and a parser for
 * `ip route` lines (to compare computed tables with tables observed on real nodes).
 */
import { ParseError, ValidationError } from '@libcalico-ts/api';
import { parseNet } from './internal/addr.js';
import type { FdbEntry, NeighborEntry, Route, RouteTable } from './types.js';

/** iproute2's names for route protocol numbers (`/etc/iproute2/rt_protos`). */
const PROTOCOL_NAMES: Readonly<Record<number, string>> = {
  0: 'unspec',
  1: 'redirect',
  2: 'kernel',
  3: 'boot',
  4: 'static',
  8: 'gated',
  9: 'ra',
  10: 'mrt',
  11: 'zebra',
  12: 'bird',
  13: 'dnrouted',
  14: 'xorp',
  15: 'ntk',
  16: 'dhcp',
  18: 'keepalived',
  42: 'babel',
  186: 'bgp',
  187: 'isis',
  188: 'ospf',
  189: 'rip',
  192: 'eigrp',
};
const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(PROTOCOL_NAMES).map(([n, name]) => [name, Number(n)]),
);

/** iproute2's name for a route protocol number (`12` → `bird`), or the number as text. */
export function protocolName(protocol: number): string {
  return PROTOCOL_NAMES[protocol] ?? String(protocol);
}

/** A route as `ip route` (IPv4) or `ip -6 route` (IPv6) prints it, the fields {@link formatIpRoute} reads. */
export type FormattableRoute = Pick<Route, 'destination' | 'type' | 'onlink' | 'protocol' | 'scope' | 'metric' | 'mtu'> &
  Partial<Pick<Route, 'device' | 'gateway' | 'family'>>;

function hostText(destination: string): { text: string; family: 4 | 6 } {
  const net = parseNet(destination, true);
  const host = net.prefix === (net.family === 4 ? 32 : 128);
  return { text: host ? net.key.slice(0, net.key.indexOf('/')) : net.key, family: net.family };
}

/**
 * Prints a route exactly as `ip route` shows it:
 * `[blackhole ]<dst> [via <gw>] [dev <dev>] [proto <p>] [scope <s>] [metric <m>] [onlink] [mtu <n>]`,
 * with `/32` dropped from host routes, `proto boot` (3) omitted, `bird` for 12, numbers for
 * unnamed protocols, `scope` only when not universe. IPv6 routes print as `ip -6 route` does:
 * host routes without `/128`, no scope, blackholes on `dev lo`, always a metric (1024 when 0)
 * and a trailing `pref medium`.
 *
 * @throws {ValidationError} when `destination` is not a CIDR/address.
 * @example
 * ```ts
 * formatIpRoute({ destination: '10.244.92.128/26', type: 'unicast', gateway: '192.168.3.126',
 *   device: 'tunl0', onlink: true, protocol: 12, scope: 'universe', metric: 0, mtu: 0 });
 * // '10.244.92.128/26 via 192.168.3.126 dev tunl0 proto bird onlink'
 * ```
 */
export function formatIpRoute(route: FormattableRoute): string {
  let dst: { text: string; family: 4 | 6 };
  try {
    dst = hostText(route.destination);
  } catch (error) {
    throw new ValidationError([{ name: 'route.destination', value: route.destination, reason: error instanceof Error ? error.message : String(error) }]);
  }
  const v6 = dst.family === 6;
  const parts: string[] = [];
  parts.push(route.type === 'blackhole' ? `blackhole ${dst.text}` : dst.text);
  if (route.gateway) parts.push(`via ${route.gateway}`);
  const device = route.device ?? (v6 && route.type === 'blackhole' ? 'lo' : undefined);
  if (device) parts.push(`dev ${device}`);
  if (route.protocol !== 3) parts.push(`proto ${protocolName(route.protocol)}`);
  if (!v6 && route.scope !== 'universe') parts.push(`scope ${route.scope}`);
  const metric = v6 && !route.metric ? 1024 : route.metric;
  if (metric) parts.push(`metric ${metric}`);
  if (route.onlink) parts.push('onlink');
  if (route.mtu) parts.push(`mtu ${route.mtu}`);
  if (v6) parts.push('pref medium');
  return parts.join(' ');
}

/**
 * Prints a neighbour entry as `ip neigh show dev <device>` lists it, with the device:
 * `10.244.92.128 dev vxlan.calico lladdr 66:89:3a:22:7a:ac PERMANENT`.
 */
export function formatNeighbor(entry: NeighborEntry): string {
  return `${entry.address} dev ${entry.device} lladdr ${entry.mac} PERMANENT`;
}

/** Prints an FDB entry as `bridge fdb show` lists it: `66:89:3a:22:7a:ac dev vxlan.calico dst 192.168.3.126 self permanent`. */
export function formatFdbEntry(entry: FdbEntry): string {
  return `${entry.mac} dev ${entry.device} dst ${entry.destination} self permanent`;
}

/** Every route of a table in `ip route` form, one per line (IPv4 first, then IPv6). */
export function formatRouteTable(table: Pick<RouteTable, 'routes'>): string {
  return table.routes.map((r) => formatIpRoute(r)).join('\n');
}

/** A route parsed from `ip route` output: the fields the line shows. */
export interface ParsedIpRoute {
  destination: string;
  family: 4 | 6;
  type: string;
  gateway?: string;
  device?: string;
  protocol: number;
  scope: string;
  metric: number;
  onlink: boolean;
  mtu: number;
  /** Attributes this parser keeps but routes do not model (`src`, `linkdown`, `pref`...). */
  extra: Record<string, string | true>;
}

const ROUTE_TYPES = new Set(['unicast', 'blackhole', 'unreachable', 'prohibit', 'local', 'broadcast', 'throw', 'nat', 'anycast', 'multicast']);
const FLAGS = new Set(['onlink', 'linkdown', 'dead', 'pervasive', 'offload', 'trap', 'notify', 'rt_offload', 'rt_trap']);

/**
 * Parses one line of `ip route` / `ip -6 route` output (trailing `# comments` are ignored).
 * `default` becomes `0.0.0.0/0` (`::/0` when the gateway is IPv6); a bare address gets `/32`
 * (`/128`); protocol names map to numbers; absent proto is 3 (boot), absent scope `universe`.
 *
 * @throws {ParseError} for an empty line, an unknown keyword or a missing value.
 * @example
 * ```ts
 * parseIpRoute('blackhole 10.244.208.0/26 proto bird');
 * // { destination: '10.244.208.0/26', type: 'blackhole', protocol: 12, ... }
 * ```
 */
export function parseIpRoute(line: string): ParsedIpRoute {
  const text = line.replace(/#.*$/, '').trim();
  const words = text.split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) throw new ParseError(`empty route line ${JSON.stringify(line)}`);
  let i = 0;
  let type = 'unicast';
  if (ROUTE_TYPES.has(words[0]!)) {
    type = words[0]!;
    i++;
  }
  const dstWord = words[i++];
  if (dstWord === undefined) throw new ParseError(`route line has no destination: ${JSON.stringify(line)}`);
  const out: ParsedIpRoute = { destination: '', family: 4, type, protocol: 3, scope: 'universe', metric: 0, onlink: false, mtu: 0, extra: {} };
  const value = (keyword: string): string => {
    const v = words[i++];
    if (v === undefined) throw new ParseError(`"${keyword}" needs a value in ${JSON.stringify(line)}`, { position: text.length });
    return v;
  };
  while (i < words.length) {
    const word = words[i++]!;
    switch (word) {
      case 'via': {
        let v = value(word);
        if (v === 'inet' || v === 'inet6') v = value(word);
        out.gateway = v;
        break;
      }
      case 'dev':
        out.device = value(word);
        break;
      case 'proto': {
        const v = value(word);
        const n = /^\d+$/.test(v) ? Number(v) : PROTOCOL_NUMBERS[v];
        if (n === undefined) throw new ParseError(`unknown route protocol ${JSON.stringify(v)} in ${JSON.stringify(line)}`);
        out.protocol = n;
        break;
      }
      case 'scope':
        out.scope = value(word) === 'global' ? 'universe' : words[i - 1]!;
        break;
      case 'metric':
        out.metric = Number(value(word));
        break;
      case 'mtu': {
        let v = value(word);
        if (v === 'lock') v = value(word);
        out.mtu = Number(v);
        break;
      }
      case 'src':
      case 'pref':
      case 'table':
      case 'expires':
      case 'advmss':
      case 'hoplimit':
      case 'realm':
      case 'from':
      case 'initcwnd':
        out.extra[word] = value(word);
        break;
      default:
        if (FLAGS.has(word)) {
          if (word === 'onlink') out.onlink = true;
          else out.extra[word] = true;
          break;
        }
        throw new ParseError(`unknown keyword ${JSON.stringify(word)} in route line ${JSON.stringify(line)}`);
    }
  }
  const v6 = dstWord.includes(':') || (dstWord === 'default' && (out.gateway?.includes(':') ?? false));
  const dst = dstWord === 'default' ? (v6 ? '::/0' : '0.0.0.0/0') : dstWord;
  try {
    const net = parseNet(dst, true);
    out.destination = net.key;
    out.family = net.family;
  } catch (error) {
    throw new ParseError(`bad destination ${JSON.stringify(dstWord)} in ${JSON.stringify(line)}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return out;
}
