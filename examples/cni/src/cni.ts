/**
 * The CNI protocol as the reference `skel` library implements it: environment and stdin checks,
 * version negotiation, error JSON and result printing for every spec version (reference cni.md
 * §2, §7, §8.4, §9).
 */

/** Spec versions both plugins accept (the reference list plus 1.1.0, for GC and STATUS). */
export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
/** The spec version this implementation speaks (VERSION's `cniVersion`). */
export const IMPLEMENTED_VERSION = '1.1.0';

/** CNI error codes used here (spec + Calico's 100/999). */
export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IOFailure: 5,
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  Calico: 999,
} as const;

/** A failure reported as CNI error JSON. */
export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details = '',
  ) {
    super(message);
    this.name = 'CniError';
  }
}

/** Compares dotted versions: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The parsed invocation environment. */
export interface CniEnv {
  command: string;
  containerId: string;
  netns: string;
  ifName: string;
  path: string[];
  /** CNI_ARGS as key/value pairs (keys as given). */
  args: Record<string, string>;
  /** The whole environment of the invocation (Calico's own variables, passed on to a delegated IPAM plugin). */
  vars: NodeJS.ProcessEnv;
}

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const NETWORK_NAME = /^[a-zA-Z0-9_.-]+$/;

function required(command: string): string[] {
  switch (command) {
    case 'ADD':
    case 'CHECK':
      return ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'];
    case 'DEL':
      return ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'];
    case 'GC':
    case 'STATUS':
      return ['CNI_PATH'];
    default:
      return [];
  }
}

/** Checks an interface name as the kernel and the CNI library do. */
export function interfaceNameProblem(name: string): string | undefined {
  if (name === '') return 'interface name is empty';
  if (name.length > 15) return 'interface name is too long';
  if (name === '.' || name === '..') return 'interface name is . or ..';
  if (/[/:\s]/.test(name)) return 'interface name contains / or : or whitespace characters';
  return undefined;
}

/**
 * Reads and validates the CNI environment.
 * @throws CniError code 4 for missing variables, a bad container ID or interface name, or an unknown command.
 */
export function readEnv(env: NodeJS.ProcessEnv = process.env): CniEnv {
  const command = env.CNI_COMMAND ?? '';
  if (command === '') throw new CniError(CniCode.InvalidEnvironment, 'required env variables [CNI_COMMAND] missing');
  if (!['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'].includes(command)) throw new CniError(CniCode.InvalidEnvironment, `unknown CNI_COMMAND: ${command}`);
  const missing = required(command).filter((name) => (env[name] ?? '') === '');
  if (missing.length > 0) throw new CniError(CniCode.InvalidEnvironment, `required env variables [${missing.join(',')}] missing`);
  const containerId = env.CNI_CONTAINERID ?? '';
  if (containerId !== '' && !CONTAINER_ID.test(containerId)) throw new CniError(CniCode.InvalidEnvironment, 'invalid characters in containerID', containerId);
  const ifName = env.CNI_IFNAME ?? '';
  if (required(command).includes('CNI_IFNAME')) {
    const problem = interfaceNameProblem(ifName);
    if (problem) throw new CniError(CniCode.InvalidEnvironment, problem, ifName);
  }
  const args: Record<string, string> = {};
  for (const pair of (env.CNI_ARGS ?? '').split(';')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    if (at <= 0) throw new CniError(CniCode.InvalidEnvironment, `ARGS: invalid pair "${pair}"`);
    args[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return { command, containerId, netns: env.CNI_NETNS ?? '', ifName, path: (env.CNI_PATH ?? '').split(':').filter(Boolean), args, vars: env };
}

/** The generic part of every NetConf (what the CNI library reads). */
export interface BaseNetConf {
  cniVersion: string;
  name: string;
  type: string;
  [key: string]: unknown;
}

/**
 * Parses stdin as a network configuration and negotiates the version.
 * @throws CniError 6 (not JSON / not an object), 7 (missing or bad name), 1 (unsupported version,
 *   or a command the version does not allow).
 */
export function parseStdin(text: string, command: string): BaseNetConf {
  let conf: unknown;
  try {
    conf = JSON.parse(text);
  } catch (error) {
    throw new CniError(CniCode.DecodingFailure, `error unmarshall network config: ${(error as Error).message}`);
  }
  if (typeof conf !== 'object' || conf === null || Array.isArray(conf)) throw new CniError(CniCode.DecodingFailure, 'error unmarshall network config: not a JSON object');
  const c = conf as Record<string, unknown>;
  if (c.cniVersion !== undefined && typeof c.cniVersion !== 'string') throw new CniError(CniCode.DecodingFailure, 'error unmarshall network config: cniVersion must be a string');
  if (typeof c.name !== 'string' && c.name !== undefined) throw new CniError(CniCode.DecodingFailure, 'error unmarshall network config: name must be a string');
  if (!c.name) throw new CniError(CniCode.InvalidNetworkConfig, 'missing network name');
  if (!NETWORK_NAME.test(c.name as string)) throw new CniError(CniCode.InvalidNetworkConfig, 'invalid characters found in network name', c.name as string);
  const version = (c.cniVersion as string | undefined) || '0.1.0';
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version)) {
    throw new CniError(CniCode.IncompatibleVersion, 'incompatible CNI versions', `config is "${version}", plugin supports [${SUPPORTED_VERSIONS.map((v) => `"${v}"`).join(' ')}]`);
  }
  if (command === 'CHECK' && compareVersions(version, '0.4.0') < 0) throw new CniError(CniCode.IncompatibleVersion, 'config version does not allow CHECK');
  if ((command === 'GC' || command === 'STATUS') && compareVersions(version, '1.1.0') < 0) {
    throw new CniError(CniCode.IncompatibleVersion, `config version does not allow ${command}`);
  }
  return { ...c, cniVersion: version, name: c.name as string, type: typeof c.type === 'string' ? c.type : '' };
}

/** The VERSION answer (one line, trailing newline). */
export function versionInfo(): string {
  return `${JSON.stringify({ cniVersion: IMPLEMENTED_VERSION, supportedVersions: SUPPORTED_VERSIONS })}\n`;
}

/** Error JSON as printed on stdout (4-space indentation, no trailing newline). */
export function errorJson(error: CniError, cniVersion: string = IMPLEMENTED_VERSION): string {
  const body: Record<string, unknown> = { cniVersion, code: error.code, msg: error.message };
  if (error.details) body.details = error.details;
  return JSON.stringify(body, null, 4);
}

// ---------------------------------------------------------------------------------------------
// Results

/** One interface of a result. */
export interface ResultInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
}
/** One address of a result (`address` in CIDR form). */
export interface ResultIP {
  address: string;
  interface?: number;
  gateway?: string;
}
/** One route of a result. */
export interface ResultRoute {
  dst: string;
  gw?: string;
}
/** The version-independent result (spec 1.1.0 content). */
export interface CniResult {
  interfaces?: ResultInterface[];
  ips: ResultIP[];
  routes?: ResultRoute[];
}

function sortedKeys(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) if (value[key] !== undefined) out[key] = value[key];
  return out;
}

/** The result object in the layout of spec `version` (reference cni.md §7.2). */
export function resultForVersion(result: CniResult, version: string): Record<string, unknown> {
  const isV6 = (a: string) => a.includes(':');
  if (compareVersions(version, '1.0.0') >= 0) {
    const out: Record<string, unknown> = { cniVersion: version };
    if (result.interfaces?.length) {
      out.interfaces = result.interfaces.map((i) => sortedKeys({ mac: i.mac, mtu: i.mtu ? i.mtu : undefined, name: i.name, sandbox: i.sandbox }));
    }
    if (result.ips.length) out.ips = result.ips.map((ip) => sortedKeys({ address: ip.address, gateway: ip.gateway, interface: ip.interface }));
    if (result.routes?.length) out.routes = result.routes.map((r) => sortedKeys({ dst: r.dst, gw: r.gw }));
    return out;
  }
  if (compareVersions(version, '0.3.0') >= 0) {
    const out: Record<string, unknown> = { cniVersion: version };
    if (result.interfaces?.length) {
      out.interfaces = result.interfaces.map((i) => {
        const o: Record<string, unknown> = { name: i.name };
        if (i.mac) o.mac = i.mac;
        if (i.sandbox) o.sandbox = i.sandbox;
        return o;
      });
    }
    if (result.ips.length) {
      out.ips = result.ips.map((ip) => {
        const o: Record<string, unknown> = { version: isV6(ip.address) ? '6' : '4' };
        if (ip.interface !== undefined) o.interface = ip.interface;
        o.address = ip.address;
        if (ip.gateway) o.gateway = ip.gateway;
        return o;
      });
    }
    if (result.routes?.length) out.routes = result.routes.map((r) => (r.gw ? { dst: r.dst, gw: r.gw } : { dst: r.dst }));
    out.dns = {};
    return out;
  }
  // 0.1.0 / 0.2.0: first address of each family, routes folded in per family.
  const out: Record<string, unknown> = { cniVersion: version };
  for (const family of [4, 6] as const) {
    const ip = result.ips.find((x) => isV6(x.address) === (family === 6));
    if (!ip) continue;
    const block: Record<string, unknown> = { ip: ip.address };
    if (ip.gateway) block.gateway = ip.gateway;
    const routes = (result.routes ?? []).filter((r) => isV6(r.dst) === (family === 6));
    if (routes.length) block.routes = routes.map((r) => (r.gw ? { dst: r.dst, gw: r.gw } : { dst: r.dst }));
    out[`ip${family}`] = block;
  }
  out.dns = {};
  return out;
}

/** The printed result: 4-space indentation, no trailing newline. */
export function printResult(result: CniResult, version: string): string {
  return JSON.stringify(resultForVersion(result, version), null, 4);
}

/**
 * Reads a result of any version (an IPAM plugin's stdout or a CHECK/DEL `prevResult`) into the
 * version-independent form.
 */
export function parseResult(value: unknown): CniResult {
  if (typeof value !== 'object' || value === null) throw new CniError(CniCode.DecodingFailure, 'result is not a JSON object');
  const r = value as Record<string, unknown>;
  const out: CniResult = { ips: [] };
  const routes: ResultRoute[] = [];
  if (Array.isArray(r.interfaces)) out.interfaces = (r.interfaces as ResultInterface[]).map((i) => ({ ...i }));
  if (Array.isArray(r.ips)) {
    for (const ip of r.ips as Record<string, unknown>[]) {
      const x: ResultIP = { address: String(ip.address) };
      if (typeof ip.interface === 'number') x.interface = ip.interface;
      if (typeof ip.gateway === 'string') x.gateway = ip.gateway;
      out.ips.push(x);
    }
  }
  for (const family of ['ip4', 'ip6']) {
    const block = r[family] as Record<string, unknown> | undefined;
    if (!block) continue;
    const x: ResultIP = { address: String(block.ip) };
    if (typeof block.gateway === 'string') x.gateway = block.gateway;
    out.ips.push(x);
    if (Array.isArray(block.routes)) routes.push(...(block.routes as ResultRoute[]));
  }
  if (Array.isArray(r.routes)) routes.push(...(r.routes as ResultRoute[]));
  if (routes.length) out.routes = routes.map((x) => (x.gw ? { dst: x.dst, gw: x.gw } : { dst: x.dst }));
  return out;
}
