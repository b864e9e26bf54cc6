/**
 * From resources to the per-family BIRD model: the equivalent of confd's key/value cache
 * (node keys, global keys, v1 peerings, static routes) and of its `getBGPConfig` processor.
 * See reference/bgp.md §2-§10 for the semantics reproduced here.
 */
import { ResourceNotFoundError, ValidationError } from '@libcalico-ts/api';
import type { FieldError } from '@libcalico-ts/api';
import {
  canonicalIP,
  cidrContains,
  formatIP,
  formatNetwork,
  parseCIDR,
  parseCIDROrIP,
  parseIP,
  splitHostPort,
} from './ip.js';
import type { ParsedCIDR } from './ip.js';
import { compileNodeSelector } from './node-selector.js';
import type {
  BirdConfigWarning,
  BirdDialect,
  BirdEnvironment,
  BlockAffinityInput,
  KubernetesObject,
  LocalWorkloadPeer,
  RenderBirdConfigOptions,
  SecretLookup,
} from './types.js';
import {
  compareStrings,
  hashToIPv4,
  parseASNumber,
  parseDurationSeconds,
  roundHalfAwayFromZero,
  truncateAndHashName,
} from './util.js';

/** Constant used to convert between a Linux route metric and `bgp_local_pref` (2^31-1). */
export const BIRD_INT_MAX = 2147483647;
/** `preference` given to imported routes that must override a local workload route. */
export const OVERRIDE_PREFERENCE = 200;
const DEFAULT_AS = '64512';
const DEFAULT_INTERFACES = `-"cali*", -"kube-ipvs*", "*"`;
export { DEFAULT_INTERFACES };

type Family = 4 | 6;
type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
function specOf(r: unknown): Obj {
  return isObj(r) && isObj(r['spec']) ? (r['spec'] as Obj) : {};
}
function metaOf(r: unknown): Obj {
  return isObj(r) && isObj(r['metadata']) ? (r['metadata'] as Obj) : {};
}
function nameOf(r: unknown): string {
  return str(metaOf(r)['name']);
}
function labelsOf(r: unknown): Record<string, string> {
  const l = metaOf(r)['labels'];
  const out: Record<string, string> = {};
  if (isObj(l)) for (const [k, v] of Object.entries(l)) out[k] = typeof v === 'string' ? v : String(v);
  return out;
}

/** Per-node facts (confd's `/bgp/v1/host/<node>/…` keys). */
export interface NodeFacts {
  name: string;
  labels: Record<string, string>;
  ipv4: string;
  ipv6: string;
  network4?: string;
  network6?: string;
  asNum?: string;
  rrClusterId: string;
  wireguard4: string;
  wireguard6: string;
}

/** A v1 peering record (confd's `peer_vN` JSON). */
export interface Peering {
  ip: string;
  port: number;
  asNum: string;
  localAsNum: string;
  rrClusterId: string;
  password: string | null;
  sourceAddr: string;
  restartTime: string;
  keepaliveTime: string;
  keepNextHop: boolean;
  nextHopMode: string;
  calicoNode: boolean;
  numAllowLocalAs: number;
  ttlSecurity: number;
  filters: readonly string[];
  reachableBy: string;
  passiveMode: boolean;
  localBgpPeer: boolean;
}

/** One `protocol bgp` block. */
export interface BirdPeer {
  name: string;
  ip: string;
  port: string;
  asNumber: string;
  localASNumber: string;
  importFilter: string[];
  exportFilter: string[];
  password: string;
  ttlSecurity: string;
  routeReflector: boolean;
  rrClusterId: string;
  sourceAddr: string;
  nextHopSelf: boolean;
  nextHopKeep: boolean;
  passive: boolean;
  gracefulRestart: string;
  keepaliveTime: string;
  numAllowLocalAs: string;
}

/** Everything one family's three files print. */
export interface FamilyModel {
  family: Family;
  nodeName: string;
  /** The node's address of this family ('' = family disabled). */
  nodeIP: string;
  asNumber: string;
  routerId: string;
  debugMode: string;
  peerDebugMode: string;
  listenAddress: string;
  listenPort: string;
  directInterfaces: string;
  normalRoutePriority: number;
  communities: { cidr: string; statements: string[] }[];
  filterFunctions: string[];
  peers: BirdPeer[];
  exportDisabledPools: string[];
  ibgpTunnelFilter: string[];
  exportEnabledPools: string[];
  kernelPools: string[];
  setMetric: string[];
  wireguardKernel: string[];
  staticRoutes: string[];
  rejectCidrs: string[];
  /** RR service-range accepts, already filtered to this family. */
  rrLoadBalancerIPs: string[];
  rrExternalIPs: string[];
  isRouteReflector: boolean;
  blocks: { cidr: string; state: string }[];
  reachableRoutes: { global: string[]; node: string[] };
  /** Pools whose cluster routes BIRD programs with IPIP (krt_tunnel). */
  birdProgramsIPIP: boolean;
}

interface Context {
  nodeName: string;
  dialect: BirdDialect;
  env: BirdEnvironment;
  secrets: SecretLookup | undefined;
  warn: (w: BirdConfigWarning) => void;
  nodes: Map<string, NodeFacts>;
  nodeNames: string[];
  nodeIPs: Set<string>;
  globalConfig: Obj | undefined;
  nodeConfigs: Map<string, Obj>;
  globalAS: string;
  globalListenPort: number;
  nodeListenPorts: Map<string, number>;
  peers: Obj[];
  filters: Map<string, Obj>;
  pools: Obj[];
  selectorCache: Map<string, ((labels: Record<string, string>) => boolean) | null>;
}

function asString(value: unknown, field: string, identifier: { kind: string; name: string }): string | undefined {
  if (value === undefined || value === null) return undefined;
  const n = parseASNumber(value);
  if (n === undefined) {
    throw new ValidationError([{ name: field, value, reason: 'AS number must be an integer in 0..4294967295 (or asdot a.b)' }], {
      identifier,
    });
  }
  return String(n);
}

function buildNodes(resources: readonly unknown[], ctx: Pick<Context, 'warn'>): Map<string, NodeFacts> {
  const nodes = new Map<string, NodeFacts>();
  for (const r of resources) {
    if (!isObj(r) || r['kind'] !== 'Node') continue;
    const name = nameOf(r);
    const spec = specOf(r);
    const bgp = isObj(spec['bgp']) ? (spec['bgp'] as Obj) : undefined;
    const wg = isObj(spec['wireguard']) ? (spec['wireguard'] as Obj) : undefined;
    const facts: NodeFacts = {
      name,
      labels: labelsOf(r),
      ipv4: '',
      ipv6: '',
      rrClusterId: '',
      wireguard4: str(wg?.['interfaceIPv4Address']),
      wireguard6: str(wg?.['interfaceIPv6Address']),
    };
    if (bgp) {
      for (const [field, fam] of [
        ['ipv4Address', 4],
        ['ipv6Address', 6],
      ] as const) {
        const text = str(bgp[field]);
        if (!text) continue;
        const parsed = parseCIDROrIP(text);
        if (!parsed) {
          ctx.warn({
            code: 'invalid-node-address',
            message: `Node ${name}: spec.bgp.${field} ${JSON.stringify(text)} is not an IP or CIDR; treated as unset`,
            resource: { kind: 'Node', name },
          });
          continue;
        }
        if (fam === 4) {
          facts.ipv4 = formatIP(parsed.ip);
          facts.network4 = parsed.network;
        } else {
          facts.ipv6 = formatIP(parsed.ip);
          facts.network6 = parsed.network;
        }
      }
      const as = asString(bgp['asNumber'], 'spec.bgp.asNumber', { kind: 'Node', name });
      if (as !== undefined) facts.asNum = as;
      facts.rrClusterId = str(bgp['routeReflectorClusterID']);
    }
    nodes.set(name, facts);
  }
  return nodes;
}

function logLevelOf(spec: Obj | undefined): string | undefined {
  const v = spec ? str(spec['logSeverityScreen']) : '';
  if (!v) return undefined;
  const l = v.toLowerCase();
  return l === 'debug' || l === 'info' ? l : 'none';
}

function listenPortOf(spec: Obj | undefined, identifier: { kind: string; name: string }): number {
  const p = spec?.['listenPort'];
  if (p === undefined || p === null || p === 0) return 0;
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) {
    throw new ValidationError([{ name: 'spec.listenPort', value: p, reason: 'must be an integer in 1..65535' }], { identifier });
  }
  return p;
}

function buildContext(options: RenderBirdConfigOptions, warn: (w: BirdConfigWarning) => void): Context {
  const resources = options.resources as readonly unknown[];
  const nodes = buildNodes(resources, { warn });
  const nodeNames = [...nodes.keys()].sort(compareStrings);
  const nodeIPs = new Set<string>();
  for (const n of nodes.values()) {
    if (n.ipv4) nodeIPs.add(n.ipv4);
    if (n.ipv6) nodeIPs.add(n.ipv6);
  }
  let globalConfig: Obj | undefined;
  const nodeConfigs = new Map<string, Obj>();
  const peers: Obj[] = [];
  const filters = new Map<string, Obj>();
  const pools: Obj[] = [];
  for (const r of resources) {
    if (!isObj(r)) continue;
    switch (r['kind']) {
      case 'BGPConfiguration': {
        const name = nameOf(r);
        if (name === 'default') globalConfig = specOf(r);
        else if (name.startsWith('node.')) nodeConfigs.set(name.slice('node.'.length), specOf(r));
        else
          warn({
            code: 'invalid-bgp-configuration-name',
            message: `BGPConfiguration ${name} is neither "default" nor "node.<name>"; ignored`,
            resource: { kind: 'BGPConfiguration', name },
          });
        break;
      }
      case 'BGPPeer':
        peers.push(r);
        break;
      case 'BGPFilter':
        filters.set(nameOf(r), r);
        break;
      case 'IPPool':
        pools.push(r);
        break;
      default:
        break;
    }
  }
  peers.sort((a, b) => compareStrings(nameOf(a), nameOf(b)));
  const globalId = { kind: 'BGPConfiguration', name: 'default' };
  const globalAS = asString(globalConfig?.['asNumber'], 'spec.asNumber', globalId) ?? DEFAULT_AS;
  const globalListenPort = listenPortOf(globalConfig, globalId);
  const nodeListenPorts = new Map<string, number>();
  for (const [n, spec] of nodeConfigs) {
    const p = listenPortOf(spec, { kind: 'BGPConfiguration', name: `node.${n}` });
    if (p) nodeListenPorts.set(n, p);
  }
  return {
    nodeName: options.nodeName,
    env: options.environment ?? {},
    secrets: options.secrets,
    warn,
    nodes,
    nodeNames,
    nodeIPs,
    globalConfig,
    nodeConfigs,
    globalAS,
    globalListenPort,
    nodeListenPorts,
    peers,
    filters,
    pools,
    selectorCache: new Map(),
    dialect: options.dialect ?? 'calico',
  };
}

function nodesMatching(ctx: Context, selector: string, peer: Obj): string[] {
  let matcher = ctx.selectorCache.get(selector);
  if (matcher === undefined) {
    try {
      matcher = compileNodeSelector(selector);
    } catch (error) {
      matcher = null;
      ctx.warn({
        code: 'invalid-selector',
        message: `BGPPeer ${nameOf(peer)}: selector ${JSON.stringify(selector)} does not parse (${
          error instanceof Error ? error.message : String(error)
        }); it matches no node`,
        resource: { kind: 'BGPPeer', name: nameOf(peer) },
      });
    }
    ctx.selectorCache.set(selector, matcher);
  }
  if (!matcher) return [];
  const out: string[] = [];
  for (const name of ctx.nodeNames) if (matcher(ctx.nodes.get(name)!.labels)) out.push(name);
  return out;
}

function namespaceOf(ctx: Context): string {
  return ctx.env.NAMESPACE || 'kube-system';
}

/** Characters a BIRD string literal cannot hold: it ends at `"` and has no escapes or line breaks. */
const UNQUOTABLE_IN_BIRD_STRING = /["\\\u0000-\u001f\u007f]/;

function secretValue(ctx: Context, ref: unknown): string | undefined {
  if (!isObj(ref) || !isObj(ref['secretKeyRef']) || !ctx.secrets) return undefined;
  const skr = ref['secretKeyRef'] as Obj;
  const name = str(skr['name']);
  const key = str(skr['key']);
  const value = ctx.secrets(name, key, namespaceOf(ctx));
  if (value !== undefined && UNQUOTABLE_IN_BIRD_STRING.test(value)) {
    // Written into `password "...";` such a value would end the string and let the secret inject
    // configuration. Refuse the render; name the secret, never its content.
    throw new ValidationError(
      [{ name: `secretKeyRef(${name}/${key})`, value: '<redacted>', reason: 'a BGP password may not contain quotes, backslashes or control characters (BIRD cannot quote them)' }],
      { identifier: { kind: 'Secret', name, namespace: namespaceOf(ctx) } },
    );
  }
  return value;
}

function durationField(value: unknown, field: string, identifier: { kind: string; name: string }): string {
  if (value === undefined || value === null || value === '') return '';
  const s = parseDurationSeconds(value);
  if (s === undefined) {
    throw new ValidationError([{ name: field, value, reason: 'not a duration (e.g. "120s", "2m")' }], { identifier });
  }
  return String(roundHalfAwayFromZero(s));
}

function peerPath(scope: string, ip: string, port: number): string {
  const fam = ip.includes(':') ? 'v6' : 'v4';
  const suffix = port === 0 || port === 179 ? '' : `-${port}`;
  return `/bgp/v1/${scope}/peer_${fam}/${ip}${suffix}`;
}

function nextHopOf(spec: Obj): { keep: boolean; mode: string } {
  if (spec['nextHopMode'] !== undefined && spec['nextHopMode'] !== null) {
    return { keep: false, mode: str(spec['nextHopMode']) };
  }
  return { keep: spec['keepOriginalNextHop'] === true, mode: '' };
}

function emptyPeering(ip: string): Peering {
  return {
    ip,
    port: 0,
    asNum: '0',
    localAsNum: '0',
    rrClusterId: '',
    password: null,
    sourceAddr: '',
    restartTime: '',
    keepaliveTime: '',
    keepNextHop: false,
    nextHopMode: '',
    calicoNode: false,
    numAllowLocalAs: 0,
    ttlSecurity: 0,
    filters: [],
    reachableBy: '',
    passiveMode: false,
    localBgpPeer: false,
  };
}

function peerIdentifier(peer: Obj) {
  return { kind: 'BGPPeer', name: nameOf(peer) };
}

function nodeAsPeerings(ctx: Context, nodeName: string, v4: boolean, v6: boolean, peer: Obj): Peering[] {
  const facts = ctx.nodes.get(nodeName);
  if (!facts) return [];
  const spec = specOf(peer);
  const out: Peering[] = [];
  for (const [want, ipText] of [
    [v4, facts.ipv4],
    [v6, facts.ipv6],
  ] as const) {
    if (!want || !ipText) continue;
    const p = emptyPeering(ipText);
    p.ttlSecurity = ttlOf(spec, peer);
    p.filters = filtersOf(spec);
    p.reachableBy = str(spec['reachableBy']);
    const port = ctx.nodeListenPorts.get(nodeName);
    p.port = port ?? ctx.globalListenPort;
    p.asNum = facts.asNum ?? ctx.globalAS;
    p.rrClusterId = facts.rrClusterId;
    const nh = nextHopOf(spec);
    p.keepNextHop = nh.keep;
    p.nextHopMode = nh.mode;
    out.push(p);
  }
  return out;
}

function ttlOf(spec: Obj, peer: Obj): number {
  const t = spec['ttlSecurity'];
  if (t === undefined || t === null) return 0;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > 255) {
    throw new ValidationError([{ name: 'spec.ttlSecurity', value: t, reason: 'must be an integer in 0..255' }], {
      identifier: peerIdentifier(peer),
    });
  }
  return t;
}

function filtersOf(spec: Obj): string[] {
  const f = spec['filters'];
  return Array.isArray(f) ? f.filter((x): x is string => typeof x === 'string') : [];
}

function setCommonFields(ctx: Context, peerings: Peering[], peer: Obj): void {
  const spec = specOf(peer);
  const id = peerIdentifier(peer);
  const password = secretValue(ctx, spec['password']);
  const restart = durationField(spec['maxRestartTime'], 'spec.maxRestartTime', id);
  const keepalive = durationField(spec['keepaliveTime'], 'spec.keepaliveTime', id);
  for (const p of peerings) {
    p.password = password ?? null;
    p.sourceAddr = str(spec['sourceAddress']) || 'UseNodeIP';
    p.restartTime = restart;
    p.keepaliveTime = keepalive;
  }
}

function nodesWithIPPortAndAS(ctx: Context, ip: string, asNum: string, port: number): string[] {
  const want = asNum === '0' ? ctx.globalAS : asNum;
  const out: string[] = [];
  for (const name of ctx.nodeNames) {
    const n = ctx.nodes.get(name)!;
    if (n.ipv4 !== ip && n.ipv6 !== ip) continue;
    if ((n.asNum ?? ctx.globalAS) !== want) continue;
    if (port !== 0) {
      const nodePort = ctx.nodeListenPorts.get(name);
      if (nodePort !== undefined && port !== nodePort) continue;
      else if (ctx.globalListenPort !== 0 && ctx.globalListenPort !== port) continue;
    }
    out.push(name);
  }
  return out;
}

/**
 * Computes the v1 peerings that concern the rendered node: the global ones and the
 * node-specific ones for this node (forward pass, then reverse peerings).
 */
function computePeerings(ctx: Context, localWorkloads: readonly LocalWorkloadPeer[]): Map<string, Peering> {
  const out = new Map<string, Peering>();
  const me = ctx.nodeName;
  const emit = (scope: 'global' | 'host', p: Peering) => {
    const path = scope === 'global' ? peerPath('global', p.ip, p.port) : peerPath(`host/${me}`, p.ip, p.port);
    if (out.has(path)) return;
    if (scope === 'host' && out.has(peerPath('global', p.ip, p.port))) return;
    out.set(path, p);
  };

  for (const globalPass of [true, false]) {
    for (const peer of ctx.peers) {
      const spec = specOf(peer);
      const isGlobal = !str(spec['nodeSelector']) && !str(spec['node']);
      if (globalPass !== isGlobal) continue;
      let appliesToMe = globalPass;
      if (!globalPass) {
        if (str(spec['nodeSelector'])) appliesToMe = nodesMatching(ctx, str(spec['nodeSelector']), peer).includes(me);
        else appliesToMe = str(spec['node']) === me;
      }
      const id = peerIdentifier(peer);
      let peerings: Peering[] = [];
      if (str(spec['localWorkloadSelector'])) {
        if (!appliesToMe) continue;
        const asNum = asString(spec['asNumber'], 'spec.asNumber', id) ?? '0';
        const localAs = asString(spec['localASNumber'], 'spec.localASNumber', id) ?? '0';
        for (const w of localWorkloads) {
          if (w.bgpPeerName !== nameOf(peer)) continue;
          for (const text of [w.ipv4, w.ipv6]) {
            if (!text) continue;
            const ip = canonicalIP(text.replace(/\/(32|128)$/, ''));
            if (!ip) {
              ctx.warn({
                code: 'invalid-local-workload-ip',
                message: `local workload ${w.name}: ${JSON.stringify(text)} is not an IP address; skipped`,
                resource: id,
              });
              continue;
            }
            const p = emptyPeering(ip);
            p.localAsNum = localAs;
            p.filters = filtersOf(spec);
            p.asNum = asNum;
            p.sourceAddr = 'None';
            p.passiveMode = true;
            p.localBgpPeer = true;
            peerings.push(p);
          }
        }
      } else if (str(spec['peerSelector'])) {
        if (!appliesToMe) continue;
        for (const n of nodesMatching(ctx, str(spec['peerSelector']), peer)) {
          peerings.push(...nodeAsPeerings(ctx, n, true, true, peer));
        }
        setCommonFields(ctx, peerings, peer);
      } else {
        const asNum = asString(spec['asNumber'], 'spec.asNumber', id) ?? '0';
        const localAs = asString(spec['localASNumber'], 'spec.localASNumber', id) ?? '0';
        const ttl = ttlOf(spec, peer);
        const rawPeerIP = str(spec['peerIP']);
        let { host, port } = splitHostPort(rawPeerIP);
        const ip = parseIP(host);
        if (!ip) {
          ctx.warn({
            code: 'invalid-peer-ip',
            message: `BGPPeer ${nameOf(peer)}: peerIP ${JSON.stringify(rawPeerIP)} is missing or not an IP[:port]; peer skipped`,
            resource: id,
          });
          continue;
        }
        if (!appliesToMe) continue;
        if (port === 0) {
          const names = nodesWithIPPortAndAS(ctx, host, asNum, 0);
          if (names.length > 0) {
            const np = ctx.nodeListenPorts.get(names[0]!);
            if (np !== undefined) port = np;
            else if (ctx.globalListenPort !== 0) port = ctx.globalListenPort;
          }
        }
        let reachableBy = '';
        const rb = str(spec['reachableBy']);
        if (rb) {
          const rbIP = parseIP(rb);
          if (!rbIP || rbIP.version !== ip.version) {
            ctx.warn({
              code: 'invalid-reachable-by',
              message: `BGPPeer ${nameOf(peer)}: reachableBy ${JSON.stringify(rb)} is ${
                rbIP ? 'not of the same family as peerIP' : 'not an IP address'
              }; peer skipped`,
              resource: id,
            });
            continue;
          }
          reachableBy = rb;
        }
        const nallow = spec['numAllowedLocalASNumbers'];
        const nh = nextHopOf(spec);
        const p = emptyPeering(formatIP(ip));
        p.asNum = asNum;
        p.localAsNum = localAs;
        p.port = port;
        p.keepNextHop = nh.keep;
        p.nextHopMode = nh.mode;
        p.calicoNode = ctx.nodeIPs.has(host);
        p.ttlSecurity = ttl;
        p.filters = filtersOf(spec);
        p.numAllowLocalAs = typeof nallow === 'number' ? nallow : 0;
        p.reachableBy = reachableBy;
        peerings = [p];
        setCommonFields(ctx, peerings, peer);
      }
      for (const p of peerings) emit(globalPass ? 'global' : 'host', p);
    }
  }

  // Reverse peerings: this node is "local" when it is what the BGPPeer designates as remote.
  for (const peer of ctx.peers) {
    const spec = specOf(peer);
    if (str(spec['reversePeering']) === 'Manual') continue;
    if (str(spec['localWorkloadSelector'])) continue;
    let localNodes: string[];
    let v4 = false;
    let v6 = false;
    if (str(spec['peerSelector'])) {
      localNodes = nodesMatching(ctx, str(spec['peerSelector']), peer);
      v4 = v6 = true;
    } else {
      const { host, port } = splitHostPort(str(spec['peerIP']));
      const asNum = parseASNumber(spec['asNumber']);
      localNodes = nodesWithIPPortAndAS(ctx, host, asNum === undefined ? '0' : String(asNum), port);
      if (host.includes(':')) v6 = true;
      else v4 = true;
    }
    if (!localNodes.includes(me)) continue;
    let peerNodes: string[];
    if (str(spec['nodeSelector'])) peerNodes = nodesMatching(ctx, str(spec['nodeSelector']), peer);
    else if (str(spec['node'])) peerNodes = [str(spec['node'])];
    else peerNodes = ctx.nodeNames;
    const peerings: Peering[] = [];
    for (const n of peerNodes) peerings.push(...nodeAsPeerings(ctx, n, v4, v6, peer));
    if (peerings.length === 0) continue;
    setCommonFields(ctx, peerings, peer);
    for (const p of peerings) emit('host', p);
  }
  return out;
}

function meshPassword(ctx: Context): string {
  return secretValue(ctx, ctx.globalConfig?.['nodeMeshPassword']) ?? '';
}

function filterHasPeerType(filter: Obj, dir: 'import' | 'export', family: Family): boolean {
  const rules = specOf(filter)[`${dir}V${family}`];
  return Array.isArray(rules) && rules.some((r) => isObj(r) && str(r['peerType']) !== '');
}

function filterHasRules(filter: Obj, dir: 'import' | 'export', family: Family): boolean {
  const rules = specOf(filter)[`${dir}V${family}`];
  return Array.isArray(rules) && rules.length > 0;
}

/** The BIRD function name of a BGPFilter direction (quoted symbol, ≤ 64 characters). */
export function bgpFilterFunctionName(filterName: string, direction: 'import' | 'export', family: Family): string {
  const fixed = `bgp__${direction}FilterV${family}`.length;
  return `'bgp_${truncateAndHashName(filterName, 64 - fixed)}_${direction}FilterV${family}'`;
}

function filterCalls(ctx: Context, filters: readonly string[], dir: 'import' | 'export', family: Family, sameAS: boolean): string[] {
  const out: string[] = [];
  for (const name of filters) {
    const f = ctx.filters.get(name);
    if (!f || !filterHasRules(f, dir, family)) continue;
    const fn = bgpFilterFunctionName(name, dir, family);
    out.push(filterHasPeerType(f, dir, family) ? `${fn}(${sameAS});` : `${fn}();`);
  }
  return out;
}

function importFilter(ctx: Context, filters: readonly string[], family: Family, sameAS: boolean, prio: number): string[] {
  return [
    ...filterCalls(ctx, filters, 'import', family, sameAS),
    `if (defined(bgp_local_pref)&&(bgp_local_pref > ${BIRD_INT_MAX - prio})) then`,
    `  preference = ${OVERRIDE_PREFERENCE};`,
    'accept;',
  ];
}

/**
 * The peer export filter. confd's text turns the route's kernel metric into `bgp_local_pref`
 * (a route without `krt_metric` counts as normal priority). In the `bird2` dialect a kernel
 * metric of 0 counts as "no metric" too: that is what a workload route without a metric (CNI,
 * Felix before v3.32) means, and Felix's elevated priority is never 0 (its range is 1..2^31-2).
 * Without this, such a route would pass `calico_aggr()`'s `krt_metric < P` branch and every pod
 * /32 would be exported beside its block with the highest local preference.
 */
function exportFilter(ctx: Context, filters: readonly string[], family: Family, sameAS: boolean, prio: number): string[] {
  return [
    'if (defined(source) && source = RTS_BGP && defined(bgp_local_pref)) then {',
    `  krt_metric = ${BIRD_INT_MAX} - bgp_local_pref;`,
    '} else {',
    ctx.dialect === 'bird2'
      ? `  if (!defined(krt_metric) || krt_metric = 0) then { krt_metric = ${prio}; } # kernel metric 0 = none: normal priority`
      : `  if (!defined(krt_metric)) then { krt_metric = ${prio}; }`,
    `  bgp_local_pref = ${BIRD_INT_MAX} - krt_metric;`,
    '}',
    ...filterCalls(ctx, filters, 'export', family, sameAS),
    `calico_export_to_bgp_peers(${sameAS});`,
    'reject;',
  ];
}

/**
 * `calico_kernel_programming`'s metric for BGP-learned routes: `2^31-1 - bgp_local_pref`, the
 * normal priority when there is no local preference, and a higher BIRD preference for an
 * elevated (live-migration) route.
 *
 * In the `bird2` dialect a route at normal (or lower) priority is installed with no metric, as
 * Calico's BIRD 1.x installed every route before v3.32 and as the reference tables show
 * (`... via 192.168.3.126 dev eth0 proto bird`); an elevated route keeps its metric so that it
 * still beats the normal one. (With the calico dialect's text, BIRD 1.x puts `metric P` on every
 * route learned from a Calico peer, and `2^31-1 - 100` on routes that arrive with BIRD's default
 * local preference; the bird2 dialect follows the reference layout instead.)
 */
function setMetricLines(dialect: BirdDialect, prio: number): string[] {
  return [
    '  if (defined(source) && (source = RTS_BGP) && !defined(krt_metric)) then {',
    `      krt_metric = ${prio};`,
    '      if (defined(bgp_local_pref)) then {',
    `          krt_metric = ${BIRD_INT_MAX} - bgp_local_pref;`,
    '      }',
    `      if (krt_metric < ${prio}) then {`,
    `          preference = ${OVERRIDE_PREFERENCE};`,
    ...(dialect === 'bird2' ? ['      } else {', '          krt_metric = 0; # normal priority: no kernel metric'] : []),
    '      }',
    '  }',
  ];
}

function peerName(prefix: string, ip: string, family: Family, port: number): string {
  const base = `${prefix}_${family === 4 ? ip.replace(/\./g, '_') : ip.replace(/:/g, '_')}`;
  return port > 0 ? `${base}_port_${port}` : base;
}

function buildPeer(
  ctx: Context,
  p: Peering,
  kind: 'Global' | 'Node' | 'Local_Workload',
  family: Family,
  nodeIP: string,
  nodeAS: string,
  clusterId: string,
  prio: number,
): BirdPeer | undefined {
  if (!p.ip || p.ip === nodeIP) return undefined;
  const localAS = p.localAsNum !== '0' ? p.localAsNum : '';
  const effectiveAS = localAS || nodeAS;
  const sameAS = p.asNum === effectiveAS;
  const out: BirdPeer = {
    name: peerName(kind, p.ip, family, p.port),
    ip: p.ip,
    port: p.port > 0 ? String(p.port) : '',
    asNumber: p.asNum,
    localASNumber: localAS,
    importFilter: importFilter(ctx, p.filters, family, sameAS, prio),
    exportFilter: exportFilter(ctx, p.filters, family, sameAS, prio),
    password: p.password ?? '',
    ttlSecurity: p.ttlSecurity > 0 ? String(p.ttlSecurity) : 'off',
    routeReflector: false,
    rrClusterId: '',
    sourceAddr: p.sourceAddr === 'UseNodeIP' ? nodeIP : '',
    nextHopSelf: p.nextHopMode === 'Self',
    nextHopKeep: p.nextHopMode === 'Keep' || (p.keepNextHop && !sameAS),
    passive: p.passiveMode,
    gracefulRestart: p.restartTime,
    keepaliveTime: p.keepaliveTime,
    numAllowLocalAs: p.numAllowLocalAs > 0 ? String(p.numAllowLocalAs) : '',
  };
  if (sameAS && clusterId !== '' && (p.rrClusterId === '' || p.rrClusterId !== clusterId)) {
    out.routeReflector = true;
    out.rrClusterId = clusterId;
  }
  if ((kind === 'Global' || kind === 'Local_Workload') && !out.passive && p.calicoNode && p.ip > nodeIP) {
    out.passive = true;
  }
  return out;
}

function meshPeers(ctx: Context, family: Family, nodeIP: string, nodeAS: string, clusterId: string, prio: number): BirdPeer[] {
  if (clusterId !== '') return [];
  const meshEnabled = ctx.globalConfig?.['nodeToNodeMeshEnabled'];
  if (meshEnabled === false) return [];
  const password = meshPassword(ctx);
  const restart = durationField(ctx.globalConfig?.['nodeMeshMaxRestartTime'], 'spec.nodeMeshMaxRestartTime', {
    kind: 'BGPConfiguration',
    name: 'default',
  });
  const out: BirdPeer[] = [];
  for (const name of ctx.nodeNames) {
    const n = ctx.nodes.get(name)!;
    const ip = family === 4 ? n.ipv4 : n.ipv6;
    if (!ip || ip === nodeIP || n.rrClusterId !== '') continue;
    const as = n.asNum ?? nodeAS;
    const port = ctx.nodeListenPorts.get(name) ?? ctx.globalListenPort;
    const sameAS = as === nodeAS;
    out.push({
      name: peerName('Mesh', ip, family, 0),
      ip,
      port: port ? String(port) : '',
      asNumber: as,
      localASNumber: '',
      importFilter: importFilter(ctx, [], family, sameAS, prio),
      exportFilter: exportFilter(ctx, [], family, sameAS, prio),
      password,
      ttlSecurity: 'off',
      routeReflector: false,
      rrClusterId: '',
      sourceAddr: nodeIP,
      nextHopSelf: false,
      nextHopKeep: false,
      passive: ip > nodeIP,
      gracefulRestart: restart,
      keepaliveTime: '',
      numAllowLocalAs: '',
    });
  }
  return out;
}

function communityRules(ctx: Context, family: Family): { cidr: string; statements: string[] }[] {
  const nodeSpec = ctx.nodeConfigs.get(ctx.nodeName);
  let source: Obj | undefined;
  if (nodeSpec && Array.isArray(nodeSpec['prefixAdvertisements'])) source = nodeSpec;
  else if (ctx.globalConfig && Array.isArray(ctx.globalConfig['prefixAdvertisements'])) source = ctx.globalConfig;
  if (!source) return [];
  const defined = Array.isArray(source['communities']) ? (source['communities'] as unknown[]).filter(isObj) : [];
  const out: { cidr: string; statements: string[] }[] = [];
  for (const adv of source['prefixAdvertisements'] as unknown[]) {
    if (!isObj(adv)) continue;
    const cidr = str(adv['cidr']);
    if (!cidr || cidr.includes(':') !== (family === 6)) continue;
    const values = new Set<string>();
    for (const c of Array.isArray(adv['communities']) ? (adv['communities'] as unknown[]) : []) {
      if (typeof c !== 'string') continue;
      if (/^\d+:\d+$/.test(c) || /^\d+:\d+:\d+$/.test(c)) values.add(c);
      else {
        const d = defined.find((x) => x['name'] === c);
        if (d) values.add(str(d['value']));
      }
    }
    const statements: string[] = [];
    for (const v of [...values].sort(compareStrings)) {
      const parts = v.split(':');
      if (parts.length === 2) statements.push(`bgp_community.add((${parts[0]}, ${parts[1]}));`);
      else if (parts.length === 3) statements.push(`bgp_large_community.add((${parts[0]}, ${parts[1]}, ${parts[2]}));`);
    }
    if (statements.length > 0) out.push({ cidr, statements });
  }
  return out;
}

interface ClusterRoutePolicy {
  ipip: boolean;
  noEncap: boolean;
}

function clusterRoutePolicy(ctx: Context): ClusterRoutePolicy {
  const v = ctx.globalConfig?.['programClusterRoutes'];
  switch (v) {
    case undefined:
    case null:
    case 'EnabledNoEncapOnly':
      return { ipip: false, noEncap: true };
    case 'Disabled':
      return { ipip: false, noEncap: false };
    case 'Enabled':
      return { ipip: true, noEncap: true };
    case 'EnabledIPIPOnly':
      return { ipip: true, noEncap: false };
    default:
      ctx.warn({
        code: 'unknown-program-cluster-routes',
        message: `BGPConfiguration default: unknown programClusterRoutes ${JSON.stringify(v)}; using EnabledNoEncapOnly`,
        resource: { kind: 'BGPConfiguration', name: 'default' },
      });
      return { ipip: false, noEncap: true };
  }
}

function poolMode(v: unknown): 'always' | 'cross-subnet' | '' {
  return v === 'Always' ? 'always' : v === 'CrossSubnet' ? 'cross-subnet' : '';
}

function poolStatement(cidr: string, extra: string, action: string, wanted: string, comment: string): string {
  if (wanted && wanted !== action) return '';
  let s = extra ? `  if (net ~ ${cidr}) then { ${extra} ${action}; }` : `  if (net ~ ${cidr}) then { ${action}; }`;
  if (comment) s += ` # ${comment}`;
  return s;
}

function poolLines(
  ctx: Context,
  family: Family,
  node: NodeFacts,
  policy: ClusterRoutePolicy,
): { disabled: string[]; enabled: string[]; kernel: string[]; birdIPIP: boolean } {
  const disabled: string[] = [];
  const enabled: string[] = [];
  const kernel: string[] = [];
  let birdIPIP = false;
  const localSubnet = family === 4 ? node.network4 : node.network6;
  for (const pool of ctx.pools) {
    const spec = specOf(pool);
    const parsed = parseCIDR(str(spec['cidr']));
    if (!parsed) {
      ctx.warn({
        code: 'invalid-cidr',
        message: `IPPool ${nameOf(pool)}: cidr ${JSON.stringify(spec['cidr'])} is not a CIDR; pool ignored`,
        resource: { kind: 'IPPool', name: nameOf(pool) },
      });
      continue;
    }
    if (parsed.ip.version !== family) continue;
    const cidr = formatNetwork(parsed);
    const ipip = poolMode(spec['ipipMode']);
    const vxlan = poolMode(spec['vxlanMode']);
    const usesVXLAN = vxlan !== '';
    const usesIPIP = ipip !== '';
    const programs = !usesVXLAN && (usesIPIP ? policy.ipip : policy.noEncap);
    if (programs && usesIPIP) birdIPIP = true;
    const disableExport = spec['disableBGPExport'] === true;
    const statement = (forKernel: boolean, wanted: string): string => {
      if (disableExport && !forKernel) return poolStatement(cidr, '', 'reject', wanted, 'BGP export is disabled.');
      if (usesVXLAN) {
        return forKernel
          ? poolStatement(cidr, '', 'reject', wanted, 'VXLAN routes are handled by Felix.')
          : poolStatement(cidr, '', 'accept', wanted, '');
      }
      if (programs) {
        let extra = '';
        if (forKernel && family === 4) {
          if (ipip === 'always') extra = 'krt_tunnel="tunl0";';
          else if (ipip === 'cross-subnet')
            extra = `if (defined(bgp_next_hop)&&(bgp_next_hop ~ ${localSubnet ?? ''})) then krt_tunnel=""; else krt_tunnel="tunl0";`;
        }
        return poolStatement(cidr, extra, 'accept', wanted, '');
      }
      if (forKernel) return poolStatement(cidr, '', 'reject', wanted, 'Cluster routes are handled by Felix.');
      return poolStatement(cidr, '', 'accept', wanted, '');
    };
    const d = statement(false, 'reject');
    if (d) disabled.push(d);
    const e = statement(false, 'accept');
    if (e) enabled.push(e);
    if (family === 6 || localSubnet !== undefined) {
      const k = statement(true, family === 6 ? 'reject' : '');
      if (k) kernel.push(k);
    }
  }
  disabled.sort(compareStrings);
  enabled.sort(compareStrings);
  kernel.sort(compareStrings);
  return { disabled, enabled, kernel, birdIPIP };
}

function cidrList(spec: Obj | undefined, field: string): string[] {
  const v = spec?.[field];
  if (!Array.isArray(v)) return [];
  return v.filter(isObj).map((b) => str(b['cidr'])).filter((c) => c !== '');
}

function isSingleAddress(cidr: string): boolean {
  return cidr.includes(':') ? cidr.endsWith('/128') : cidr.endsWith('/32');
}

/** `/staticroutes(v6)` and `/rejectcidrs(v6)` (confd's service advertisement). */
function serviceRoutes(ctx: Context, k8s: readonly KubernetesObject[]): { routes: Set<string>; rejects: Set<string> } {
  const routes = new Set<string>();
  const rejects = new Set<string>();
  const g = ctx.globalConfig;
  const me = ctx.nodes.get(ctx.nodeName);
  const excluded = me?.labels['node.kubernetes.io/exclude-from-external-load-balancers'] === 'true';
  const clusterCIDRs = ctx.env.CALICO_ADVERTISE_CLUSTER_IPS ? [ctx.env.CALICO_ADVERTISE_CLUSTER_IPS] : cidrList(g, 'serviceClusterIPs');
  const externalCIDRs = cidrList(g, 'serviceExternalIPs');
  const lbCIDRs = cidrList(g, 'serviceLoadBalancerIPs');
  const aggregate = g?.['serviceLoadBalancerAggregation'] !== 'Disabled';
  const globalLists = [clusterCIDRs, externalCIDRs.filter((c) => !isSingleAddress(c)), aggregate ? lbCIDRs.filter((c) => !isSingleAddress(c)) : []];
  for (const list of globalLists) {
    // confd refuses the whole list when one entry is not a CIDR.
    const bad = list.find((c) => !parseCIDR(c));
    if (bad !== undefined) {
      ctx.warn({
        code: 'invalid-cidr',
        message: `BGPConfiguration default: service range ${JSON.stringify(bad)} is not a CIDR; that list is not advertised`,
        resource: { kind: 'BGPConfiguration', name: 'default' },
      });
      continue;
    }
    for (const c of list) {
      rejects.add(c);
      if (!excluded) routes.add(c);
    }
  }
  if (excluded || k8s.length === 0) return { routes, rejects };

  const externalNets = externalCIDRs.map(parseCIDR).filter((c): c is ParsedCIDR => c !== undefined);
  const lbNets = lbCIDRs.map(parseCIDR).filter((c): c is ParsedCIDR => c !== undefined);
  const inNets = (nets: ParsedCIDR[], text: unknown, single: boolean): boolean => {
    if (typeof text !== 'string' || text === '') return false;
    const ip = parseIP(text);
    if (!ip) return false;
    return nets.some((n) => cidrContains(n, ip) && (!single || n.prefixLength === (n.ip.version === 4 ? 32 : 128)));
  };
  const nodeRef = ctx.env.CALICO_K8S_NODE_REF || ctx.nodeName;
  const slicesByService = new Map<string, Obj[]>();
  for (const o of k8s) {
    if (!isObj(o) || o['kind'] !== 'EndpointSlice') continue;
    const meta = metaOf(o);
    const labels = isObj(meta['labels']) ? (meta['labels'] as Obj) : {};
    const svc = str(labels['kubernetes.io/service-name']);
    if (!svc) continue;
    const key = `${str(meta['namespace']) || 'default'}/${svc}`;
    const list = slicesByService.get(key) ?? [];
    list.push(o);
    slicesByService.set(key, list);
  }
  for (const o of k8s) {
    if (!isObj(o) || o['kind'] !== 'Service') continue;
    const meta = metaOf(o);
    const key = `${str(meta['namespace']) || 'default'}/${str(meta['name'])}`;
    const slices = slicesByService.get(key) ?? [];
    if (slices.length === 0) continue;
    const spec = specOf(o);
    const status = isObj(o['status']) ? (o['status'] as Obj) : {};
    const lb = isObj(status['loadBalancer']) ? (status['loadBalancer'] as Obj) : {};
    const ingress = Array.isArray(lb['ingress']) ? (lb['ingress'] as unknown[]).filter(isObj) : [];
    const type = str(spec['type']) || 'ClusterIP';
    if (type !== 'ClusterIP' && type !== 'NodePort' && type !== 'LoadBalancer') continue;
    const clusterIP = str(spec['clusterIP']);
    if (clusterIP === '' || clusterIP === 'None') continue;
    const clusterIPs = Array.isArray(spec['clusterIPs']) ? (spec['clusterIPs'] as unknown[]).map(str) : [clusterIP];
    const families = Array.isArray(spec['ipFamilies'])
      ? (spec['ipFamilies'] as unknown[]).map(str)
      : clusterIPs.map((ip) => (parseIP(ip)?.version === 6 ? 'IPv6' : 'IPv4'));
    const etp = str(spec['externalTrafficPolicy']);
    const externalIPs = Array.isArray(spec['externalIPs']) ? (spec['externalIPs'] as unknown[]).map(str) : [];
    let advertise = false;
    if (etp === 'Cluster') {
      if (type === 'LoadBalancer' && (inNets(lbNets, spec['loadBalancerIP'], true) || ingress.some((i) => inNets(lbNets, i['ip'], true)))) {
        advertise = true;
      } else if (externalIPs.some((ip) => inNets(externalNets, ip, true))) advertise = true;
    }
    if (!advertise && !(etp !== 'Local' && aggregate)) {
      outer: for (const s of slices) {
        if (!families.includes(str(s['addressType']))) continue;
        const eps = Array.isArray(s['endpoints']) ? (s['endpoints'] as unknown[]).filter(isObj) : [];
        for (const ep of eps) {
          const cond = isObj(ep['conditions']) ? (ep['conditions'] as Obj) : {};
          if (cond['ready'] === false) continue;
          if (etp !== 'Local' || str(ep['nodeName']) === nodeRef) {
            advertise = true;
            break outer;
          }
        }
      }
    }
    if (!advertise) continue;
    const ips: string[] = [];
    if (clusterCIDRs.length > 0) ips.push(...clusterIPs);
    for (const ip of externalIPs) if (inNets(externalNets, ip, false)) ips.push(ip);
    for (const i of ingress) if (inNets(lbNets, i['ip'], false)) ips.push(str(i['ip']));
    for (const ip of ips) routes.add(ip.includes(':') ? `${ip}/128` : `${ip}/32`);
  }
  return { routes, rejects };
}

function byKeyName(cidrs: Iterable<string>, family: Family): string[] {
  return [...cidrs]
    .filter((c) => c.includes(':') === (family === 6))
    .map((c) => ({ c, k: c.replace('/', '-') }))
    .sort((a, b) => compareStrings(a.k, b.k))
    .map((x) => x.c);
}

function blockList(nodeName: string, affinities: readonly BlockAffinityInput[], family: Family, ctx: Context): { cidr: string; state: string }[] {
  const byKey = new Map<string, { cidr: string; state: string }>();
  for (const a of affinities) {
    const fields: Obj = isObj((a as Obj)['spec']) ? ((a as Obj)['spec'] as Obj) : (a as Obj);
    if (str(fields['node']) !== nodeName) continue;
    const type = str(fields['type']);
    if (type !== '' && type !== 'host') continue;
    if (fields['deleted'] === true || fields['deleted'] === 'true') continue;
    const state = str(fields['state']);
    if (state === 'pending') continue;
    const parsed = parseCIDR(str(fields['cidr']));
    if (!parsed) {
      ctx.warn({ code: 'invalid-cidr', message: `block affinity cidr ${JSON.stringify(fields['cidr'])} is not a CIDR; ignored` });
      continue;
    }
    if (parsed.ip.version !== family) continue;
    const cidr = formatNetwork(parsed);
    byKey.set(cidr.replace('/', '-'), { cidr, state });
  }
  return [...byKey.entries()].sort((a, b) => compareStrings(a[0], b[0])).map((e) => e[1]);
}

/** Validation of the rendered node and inputs common to both families. */
function checkNode(ctx: Context): NodeFacts {
  const node = ctx.nodes.get(ctx.nodeName);
  if (!node) {
    throw new ResourceNotFoundError(
      { kind: 'Node', name: ctx.nodeName },
      { message: `cannot render BIRD configuration: no Node resource named ${JSON.stringify(ctx.nodeName)}` },
    );
  }
  return node;
}

/** Builds both family models. Throws typed errors on invalid input. */
export function buildModels(options: RenderBirdConfigOptions, warn: (w: BirdConfigWarning) => void): [FamilyModel, FamilyModel] {
  if (typeof options.nodeName !== 'string' || options.nodeName === '') {
    throw new ValidationError([{ name: 'nodeName', value: options.nodeName, reason: 'must be a non-empty string' }]);
  }
  if (!Array.isArray(options.resources)) {
    throw new ValidationError([{ name: 'resources', value: options.resources, reason: 'must be an array of resources' }]);
  }
  const ctx = buildContext(options, warn);
  const node = checkNode(ctx);
  const affinities: BlockAffinityInput[] = [...(options.blockAffinities ?? [])];
  for (const r of options.resources as unknown[]) if (isObj(r) && r['kind'] === 'BlockAffinity') affinities.push(r as BlockAffinityInput);
  const peerings = computePeerings(ctx, options.localWorkloadPeers ?? []);
  const svc = serviceRoutes(ctx, options.kubernetesObjects ?? []);
  const policy = clusterRoutePolicy(ctx);
  const nodeAS = node.asNum ?? ctx.globalAS;
  const nodeSpec = ctx.nodeConfigs.get(ctx.nodeName);
  const logLevel = logLevelOf(nodeSpec) ?? logLevelOf(ctx.globalConfig) ?? 'info';
  let routerId: string;
  const envRouter = ctx.env.CALICO_ROUTER_ID ?? '';
  if (envRouter === 'hash') routerId = hashToIPv4(ctx.nodeName);
  else if (envRouter !== '') routerId = envRouter;
  else routerId = node.ipv4;
  if (routerId === '') {
    warn({
      code: 'missing-router-id',
      message: `Node ${ctx.nodeName} has no IPv4 address and CALICO_ROUTER_ID is unset: the router id is empty (set environment.CALICO_ROUTER_ID)`,
      resource: { kind: 'Node', name: ctx.nodeName },
    });
  }
  const listenPort = ctx.nodeListenPorts.get(ctx.nodeName) ?? ctx.globalListenPort;
  const ignored = Array.isArray(ctx.globalConfig?.['ignoredInterfaces']) ? (ctx.globalConfig!['ignoredInterfaces'] as unknown[]).map(str) : [];
  const directInterfaces = [...ignored.map((i) => `-"${i}"`), DEFAULT_INTERFACES].join(', ');
  const clusterId = node.rrClusterId;
  const filterErrors: FieldError[] = [];

  const models = ([4, 6] as const).map((family): FamilyModel => {
    const nodeIP = family === 4 ? node.ipv4 : node.ipv6;
    const prioField = family === 4 ? 'ipv4NormalRoutePriority' : 'ipv6NormalRoutePriority';
    const prioRaw = ctx.globalConfig?.[prioField];
    let prio = 1024;
    if (prioRaw !== undefined && prioRaw !== null) {
      if (typeof prioRaw !== 'number' || !Number.isInteger(prioRaw) || prioRaw < 1 || prioRaw > 2147483646) {
        throw new ValidationError([{ name: `spec.${prioField}`, value: prioRaw, reason: 'must be an integer in 1..2147483646' }], {
          identifier: { kind: 'BGPConfiguration', name: 'default' },
        });
      }
      prio = prioRaw;
    }
    const peers: BirdPeer[] = meshPeers(ctx, family, nodeIP, nodeAS, clusterId, prio);
    const fam = family === 4 ? 'v4' : 'v6';
    const globalPrefix = `/bgp/v1/global/peer_${fam}/`;
    const hostPrefix = `/bgp/v1/host/${ctx.nodeName}/peer_${fam}/`;
    const reachable = { global: [] as [string, string][], node: [] as [string, string][] };
    for (const [scope, prefix, kind] of [
      ['global', globalPrefix, 'Global'],
      ['node', hostPrefix, 'Node'],
    ] as const) {
      const remote: BirdPeer[] = [];
      const local: BirdPeer[] = [];
      for (const [path, p] of peerings) {
        if (!path.startsWith(prefix)) continue;
        if (p.ip && p.reachableBy) reachable[scope].push([path, `   route ${p.ip}/${family === 4 ? 32 : 128} via ${p.reachableBy};`]);
        const bp = buildPeer(ctx, p, p.localBgpPeer ? 'Local_Workload' : kind, family, nodeIP, nodeAS, clusterId, prio);
        if (bp) (p.localBgpPeer ? local : remote).push(bp);
      }
      peers.push(...remote, ...local);
    }
    peers.sort((a, b) => compareStrings(a.name, b.name));
    const pl = poolLines(ctx, family, node, policy);
    const tunnelPatterns = ['*.cali', '*.calico', ...(policy.ipip ? [] : ['tunl0'])];
    const wireguardKernel: string[] = [];
    if ((family === 4 ? node.wireguard4 : node.wireguard6) !== '') {
      for (const name of ctx.nodeNames) {
        if (name === ctx.nodeName) continue;
        const n = ctx.nodes.get(name)!;
        const ip = family === 4 ? n.ipv4 : n.ipv6;
        const wg = family === 4 ? n.wireguard4 : n.wireguard6;
        if (ip && wg) wireguardKernel.push(`  if (defined(bgp_next_hop) && bgp_next_hop = ${ip}) then { reject; } # WireGuard routes handled by Felix.`);
      }
      wireguardKernel.sort(compareStrings);
    }
    const filterFunctions = bgpFilterFunctions(ctx, family, filterErrors);
    const lbAll = cidrList(ctx.globalConfig, 'serviceLoadBalancerIPs');
    const extAll = cidrList(ctx.globalConfig, 'serviceExternalIPs');
    return {
      family,
      nodeName: ctx.nodeName,
      nodeIP,
      asNumber: nodeAS,
      routerId,
      debugMode: logLevel === 'none' ? '' : logLevel === 'debug' ? 'all' : '{ states }',
      peerDebugMode: logLevel === 'none' ? '' : logLevel === 'debug' ? 'debug all;' : 'debug { states, routes, filters, events };',
      listenAddress: ctx.globalConfig?.['bindMode'] === 'NodeIP' ? nodeIP : '',
      listenPort: listenPort ? String(listenPort) : '',
      directInterfaces,
      normalRoutePriority: prio,
      communities: communityRules(ctx, family),
      filterFunctions,
      peers,
      exportDisabledPools: pl.disabled,
      ibgpTunnelFilter: [
        'if (defined(ifname)) then {',
        `  if (${tunnelPatterns.map((p) => `(ifname ~ "${p}")`).join(' || ')}) then {`,
        '    reject;',
        '  }',
        '}',
      ],
      exportEnabledPools: pl.enabled,
      kernelPools: pl.kernel,
      setMetric: setMetricLines(ctx.dialect, prio),
      wireguardKernel,
      staticRoutes: byKeyName(svc.routes, family),
      rejectCidrs: byKeyName(svc.rejects, family),
      rrLoadBalancerIPs: lbAll.filter((c) => c.includes(':') === (family === 6)),
      rrExternalIPs: extAll.filter((c) => c.includes(':') === (family === 6)),
      isRouteReflector: clusterId !== '',
      blocks: blockList(ctx.nodeName, affinities, family, ctx),
      reachableRoutes: {
        global: reachable.global.sort((a, b) => compareStrings(a[0], b[0])).map((x) => x[1]),
        node: reachable.node.sort((a, b) => compareStrings(a[0], b[0])).map((x) => x[1]),
      },
      birdProgramsIPIP: pl.birdIPIP,
    };
  });
  if (filterErrors.length > 0) throw new ValidationError(filterErrors);
  return [models[0]!, models[1]!];
}

// ------------------------------------------------------------------------------------------
// BGPFilter functions

const OPERATORS: Record<string, string> = { Equal: '=', NotEqual: '!=', In: '~', NotIn: '!~' };

function communityParts(value: string): string[] | undefined {
  const parts = value.split(':');
  return parts.length === 2 || parts.length === 3 ? parts : undefined;
}

function ruleStatement(rule: Obj, family: Family, field: string, errors: FieldError[]): string | undefined {
  const fail = (name: string, value: unknown, reason: string) => {
    errors.push({ name: `${field}.${name}`, value, reason });
    return undefined;
  };
  const action = str(rule['action']);
  if (action !== 'Accept' && action !== 'Reject') return fail('action', rule['action'], 'must be Accept or Reject');
  const conds: string[] = [];
  const cidr = str(rule['cidr']);
  if (cidr) {
    const op = OPERATORS[str(rule['matchOperator'])];
    if (!op) return fail('matchOperator', rule['matchOperator'], 'must be Equal, NotEqual, In or NotIn when cidr is set');
    let target = cidr;
    if (isObj(rule['prefixLength'])) {
      const parsed = parseCIDR(cidr);
      if (!parsed) return fail('cidr', cidr, 'not a CIDR');
      const pl = rule['prefixLength'] as Obj;
      let min = parsed.prefixLength;
      let max = parsed.ip.version === 4 ? 32 : 128;
      if (typeof pl['min'] === 'number') min = Math.max(min, pl['min']);
      if (typeof pl['max'] === 'number') max = Math.min(max, pl['max']);
      target = `[ ${cidr}{${min},${max}} ]`;
    }
    conds.push(`(net ${op} ${target})`);
  }
  const source = str(rule['source']);
  if (source) {
    if (source !== 'RemotePeers') return fail('source', source, 'must be RemotePeers');
    conds.push('((defined(source))&&(source ~ [ RTS_BGP ]))');
  }
  const iface = str(rule['interface']);
  if (iface) conds.push(`((defined(ifname))&&(ifname ~ "${iface}"))`);
  if (rule['communities'] !== undefined && rule['communities'] !== null) {
    const values = isObj(rule['communities']) ? (rule['communities'] as Obj)['values'] : undefined;
    const first = Array.isArray(values) && typeof values[0] === 'string' ? values[0] : undefined;
    if (first === undefined) return fail('communities.values', values, 'must hold one community value');
    const parts = communityParts(first);
    if (!parts) return fail('communities.values', first, 'must be aa:nn or aa:nn:mm');
    conds.push(parts.length === 2 ? `((${parts[0]}, ${parts[1]}) ~ bgp_community)` : `((${parts[0]}, ${parts[1]}, ${parts[2]}) ~ bgp_large_community)`);
  }
  if (Array.isArray(rule['asPathPrefix']) && rule['asPathPrefix'].length > 0) {
    const asns: string[] = [];
    for (const a of rule['asPathPrefix'] as unknown[]) {
      const n = parseASNumber(a);
      if (n === undefined) return fail('asPathPrefix', a, 'not an AS number');
      asns.push(String(n));
    }
    conds.push(`(bgp_path ~ [= ${asns.join(' ')} * =])`);
  }
  if (rule['priority'] !== undefined && rule['priority'] !== null) {
    if (typeof rule['priority'] !== 'number') return fail('priority', rule['priority'], 'must be an integer');
    conds.push(`(defined(bgp_local_pref)&&(bgp_local_pref = ${BIRD_INT_MAX - rule['priority']}))`);
  }
  const body: string[] = [];
  const ops = Array.isArray(rule['operations']) ? (rule['operations'] as unknown[]) : [];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    if (!isObj(op)) return fail(`operations[${i}]`, op, 'must be an object');
    if (isObj(op['addCommunity'])) {
      const v = str((op['addCommunity'] as Obj)['value']);
      const parts = communityParts(v);
      if (!parts) return fail(`operations[${i}].addCommunity.value`, v, 'must be aa:nn or aa:nn:mm');
      body.push(parts.length === 2 ? `bgp_community.add((${parts[0]}, ${parts[1]}));` : `bgp_large_community.add((${parts[0]}, ${parts[1]}, ${parts[2]}));`);
    } else if (isObj(op['prependASPath'])) {
      const prefix = (op['prependASPath'] as Obj)['prefix'];
      const list = Array.isArray(prefix) ? prefix : [];
      for (let j = list.length - 1; j >= 0; j--) {
        const n = parseASNumber(list[j]);
        if (n === undefined) return fail(`operations[${i}].prependASPath.prefix[${j}]`, list[j], 'not an AS number');
        body.push(`bgp_path.prepend(${n});`);
      }
    } else if (isObj(op['setPriority'])) {
      const v = (op['setPriority'] as Obj)['value'];
      if (typeof v !== 'number') return fail(`operations[${i}].setPriority.value`, v, 'must be an integer');
      body.push(`bgp_local_pref = ${BIRD_INT_MAX - v};`);
    } else {
      return fail(`operations[${i}]`, op, 'has no operation set');
    }
  }
  body.push(`${action.toLowerCase()};`);
  const joined = body.join(' ');
  let statement = conds.length > 0 ? `if (${conds.join('&&')}) then { ${joined} }` : joined;
  const peerType = str(rule['peerType']);
  if (peerType === 'iBGP') statement = `if (is_same_as) then { ${statement} }`;
  else if (peerType === 'eBGP') statement = `if (!is_same_as) then { ${statement} }`;
  void family;
  return statement;
}

function bgpFilterFunctions(ctx: Context, family: Family, errors: FieldError[]): string[] {
  const lines: string[] = [];
  const names = [...ctx.filters.keys()].sort(compareStrings);
  for (const name of names) {
    const spec = specOf(ctx.filters.get(name));
    const dirs = (['import', 'export'] as const)
      .map((dir) => ({ dir, rules: (Array.isArray(spec[`${dir}V${family}`]) ? (spec[`${dir}V${family}`] as unknown[]) : []) }))
      .filter((d) => d.rules.length > 0);
    if (dirs.length === 0) continue;
    lines.push(`# v${family} BGPFilter ${name}`);
    for (const { dir, rules } of dirs) {
      const fn = bgpFilterFunctionName(name, dir, family);
      const hasPeerType = rules.some((r) => isObj(r) && str(r['peerType']) !== '');
      lines.push(hasPeerType ? `function ${fn}(bool is_same_as) {` : `function ${fn}() {`);
      rules.forEach((r, i) => {
        const field = `BGPFilter(${name}).spec.${dir}V${family}[${i}]`;
        if (!isObj(r)) {
          errors.push({ name: field, value: r, reason: 'must be an object' });
          return;
        }
        const s = ruleStatement(r, family, field, errors);
        if (s !== undefined) lines.push(`  ${s}`);
      });
      lines.push('}');
    }
  }
  if (lines.length === 0) lines.push(`# No v${family} BGPFilters configured`);
  return lines;
}
