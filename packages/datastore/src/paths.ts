/**
 * The etcd key path codec: typed {@link Key}s <-> Calico's `/calico/...` etcd paths, and list
 * requests -> the key prefix to range-read.
 *
 * The layout is exactly the one libcalico-go's etcdv3 backend uses, so keys written here are found
 * by real Calico components and vice versa:
 *
 * | Key | Path |
 * |---|---|
 * | cluster-scoped resource | `/calico/resources/v3/projectcalico.org/<plural>/<name>` |
 * | namespaced resource | `/calico/resources/v3/projectcalico.org/<plural>/<namespace>/<name>` |
 * | IPAM block | `/calico/ipam/v2/assignment/ipv4/block/10.0.0.0-26` (`/` of the CIDR becomes `-`) |
 * | block affinity | `/calico/ipam/v2/<host\|virtual>/<host>/ipv4/block/10.0.0.0-26` |
 * | IPAM handle | `/calico/ipam/v2/handle/<handleId>` (exact case) |
 * | IPAM config | `/calico/ipam/v2/config` |
 *
 * The Kubernetes datastore does not use these paths; it has its own object names.
 */
import { KINDS, RESOURCE_KINDS, ValidationError, isResourceKind, type ResourceKind } from '@libcalico-ts/api';
import { parseCidr } from './cidr.js';
import type { AffinityType, Key, ListInterface, ResourceKey } from './contract.js';

/** Root of every Calico key in etcd. */
export const CALICO_ROOT = '/calico/';
/** Root of the v3 resource keys (`<root><plural>/...`). */
export const RESOURCES_ROOT = '/calico/resources/v3/projectcalico.org/';
/** Root of the IPAM keys. */
export const IPAM_ROOT = '/calico/ipam/v2/';
/** The IPAM configuration key. */
export const IPAM_CONFIG_PATH = '/calico/ipam/v2/config';

const BLOCK_ROOT = `${IPAM_ROOT}assignment/`;
const HANDLE_ROOT = `${IPAM_ROOT}handle/`;

const KIND_BY_PLURAL: ReadonlyMap<string, ResourceKind> = new Map(RESOURCE_KINDS.map((kind) => [KINDS[kind].plural, kind]));

function invalid(name: string, value: unknown, reason: string): ValidationError {
  return new ValidationError([{ name, value, reason }], { message: `invalid datastore key: ${name}: ${reason}` });
}

/**
 * Escapes a resource name or namespace for a path segment. DNS names pass unchanged (that is what
 * Calico writes); the two characters that would break the path are percent-escaped the way
 * Calico's parser undoes (`%` -> `%25`, `/` -> `%2f`).
 */
function escapeSegment(segment: string): string {
  return segment.includes('%') || segment.includes('/') ? segment.replace(/%/g, '%25').replace(/\//g, '%2f') : segment;
}

/** Undoes {@link escapeSegment}: `%2f`/`%2F` -> `/`, `%25` -> `%`; other text is kept verbatim. */
function unescapeSegment(segment: string): string {
  if (!segment.includes('%')) return segment;
  return segment.replace(/%(2f|2F|25)/g, (match) => (match === '%25' ? '%' : '/'));
}

function requireSegment(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(name, value, 'must be a non-empty string');
  return value;
}

/** A plain (unescaped) segment: host names and handle ids are written verbatim, so they may not contain `/`. */
function requirePlainSegment(name: string, value: unknown): string {
  const text = requireSegment(name, value);
  if (text.includes('/')) throw invalid(name, value, 'must not contain "/"');
  return text;
}

/**
 * Checks the CIDR of an IPAM key: a masked network (no host bits set) in the canonical spelling
 * Go's `net.IPNet.String()` writes (IPv6 per RFC 5952), so that one block has exactly one key.
 */
function canonicalBlockCidr(name: string, value: unknown): { canonical: string; version: 4 | 6 } {
  if (typeof value !== 'string') throw invalid(name, value, 'must be a CIDR string');
  const parsed = parseCidr(value);
  if (!parsed.ok) throw invalid(name, value, parsed.reason);
  if (!parsed.masked) throw invalid(name, value, `host bits are set (the network is ${parsed.canonical})`);
  if (parsed.canonical !== value) throw invalid(name, value, `must be written in canonical form ${parsed.canonical}`);
  return { canonical: parsed.canonical, version: parsed.version };
}

/** `10.0.0.0/26` -> `10.0.0.0-26`, `fd00:10:244::/122` -> `fd00:10:244::-122`. */
function cidrToSegment(cidr: string): string {
  return cidr.replace('/', '-');
}

/** The inverse of {@link cidrToSegment}; undefined unless the segment is a canonical masked CIDR of that IP version. */
function segmentToCidr(segment: string, version: string): string | undefined {
  const dash = segment.lastIndexOf('-');
  if (dash <= 0) return undefined;
  const parsed = parseCidr(`${segment.slice(0, dash)}/${segment.slice(dash + 1)}`);
  if (!parsed.ok || `ipv${parsed.version}` !== version) return undefined;
  // Only the canonical spelling is a key we can address again: a key read from any other
  // spelling would map back to a different path.
  return cidrToSegment(parsed.canonical) === segment ? parsed.canonical : undefined;
}

function affinityTypeOf(value: unknown): AffinityType {
  if (value === undefined || value === 'host') return 'host';
  if (value === 'virtual') return 'virtual';
  throw invalid('affinityType', value, 'must be "host" or "virtual"');
}

function resourcePath(key: ResourceKey): string {
  if (!isResourceKind(key.kind)) throw invalid('kind', key.kind, 'unknown resource kind');
  const info = KINDS[key.kind];
  const name = escapeSegment(requireSegment('name', key.name));
  if (info.namespaced) {
    const namespace = escapeSegment(requireSegment('namespace', key.namespace));
    return `${RESOURCES_ROOT}${info.plural}/${namespace}/${name}`;
  }
  if (key.namespace !== undefined && key.namespace !== '') {
    throw invalid('namespace', key.namespace, `${key.kind} is cluster-scoped and takes no namespace`);
  }
  return `${RESOURCES_ROOT}${info.plural}/${name}`;
}

/**
 * The etcd path of `key`.
 *
 * Resource names and namespaces are inserted verbatim (DNS names need no escaping; a `/` or `%`
 * would be written as `%2f` / `%25`). Block and affinity CIDRs are written in canonical form.
 *
 * @throws ValidationError for an unknown kind, a missing or extra namespace, an empty name, a
 *   host or handle id containing `/`, or a CIDR that is not a masked network.
 * @example
 * ```ts
 * keyToPath({ type: 'block', cidr: '192.168.84.128/26' });
 * // '/calico/ipam/v2/assignment/ipv4/block/192.168.84.128-26'
 * ```
 */
export function keyToPath(key: Key): string {
  if (typeof key !== 'object' || key === null) throw invalid('key', key, 'must be a key object');
  switch (key.type) {
    case 'resource':
      return resourcePath(key);
    case 'block': {
      const { canonical, version } = canonicalBlockCidr('cidr', key.cidr);
      return `${BLOCK_ROOT}ipv${version}/block/${cidrToSegment(canonical)}`;
    }
    case 'blockAffinity': {
      const type = affinityTypeOf(key.affinityType);
      const host = requirePlainSegment('host', key.host);
      const { canonical, version } = canonicalBlockCidr('cidr', key.cidr);
      return `${IPAM_ROOT}${type}/${host}/ipv${version}/block/${cidrToSegment(canonical)}`;
    }
    case 'handle':
      return `${HANDLE_ROOT}${requirePlainSegment('handleId', key.handleId)}`;
    case 'ipamConfig':
      return IPAM_CONFIG_PATH;
    default:
      throw invalid('type', (key as { type?: unknown }).type, 'unknown key type');
  }
}

/**
 * The typed key stored at `path`, or `undefined` when the path is not one this SDK models
 * (Felix status reports, legacy v1 keys, unknown kinds, malformed IPAM keys...).
 *
 * Tolerates `%2f` (for `/`) and `%25` (for `%`) in resource names and namespaces.
 *
 * @example
 * ```ts
 * pathToKey('/calico/ipam/v2/host/node-1/ipv4/block/192.168.84.128-26');
 * // { type: 'blockAffinity', host: 'node-1', cidr: '192.168.84.128/26', affinityType: 'host' }
 * ```
 */
export function pathToKey(path: string): Key | undefined {
  if (typeof path !== 'string') return undefined;
  if (path.startsWith(RESOURCES_ROOT)) {
    const parts = path.slice(RESOURCES_ROOT.length).split('/');
    const kind = KIND_BY_PLURAL.get(parts[0] ?? '');
    if (kind === undefined) return undefined;
    if (parts.some((part) => part.length === 0)) return undefined;
    if (KINDS[kind].namespaced) {
      if (parts.length !== 3) return undefined;
      return { type: 'resource', kind, namespace: unescapeSegment(parts[1]!), name: unescapeSegment(parts[2]!) };
    }
    if (parts.length !== 2) return undefined;
    return { type: 'resource', kind, name: unescapeSegment(parts[1]!) };
  }
  if (!path.startsWith(IPAM_ROOT)) return undefined;
  if (path === IPAM_CONFIG_PATH) return { type: 'ipamConfig' };
  const parts = path.slice(IPAM_ROOT.length).split('/');
  switch (parts[0]) {
    case 'assignment': {
      // assignment/ipv4/block/<cidr>
      if (parts.length !== 4 || parts[2] !== 'block') return undefined;
      const cidr = segmentToCidr(parts[3]!, parts[1]!);
      return cidr === undefined ? undefined : { type: 'block', cidr };
    }
    case 'host':
    case 'virtual': {
      // <type>/<host>/ipv4/block/<cidr>
      if (parts.length !== 5 || parts[1]!.length === 0 || parts[3] !== 'block') return undefined;
      const cidr = segmentToCidr(parts[4]!, parts[2]!);
      if (cidr === undefined) return undefined;
      return { type: 'blockAffinity', host: parts[1]!, cidr, affinityType: parts[0] as AffinityType };
    }
    case 'handle': {
      if (parts.length !== 2 || parts[1]!.length === 0) return undefined;
      return { type: 'handle', handleId: parts[1]! };
    }
    default:
      return undefined;
  }
}

function ipVersionOf(value: unknown): 4 | 6 | undefined {
  if (value === undefined) return undefined;
  if (value === 4 || value === 6) return value;
  throw invalid('ipVersion', value, 'must be 4 or 6');
}

/**
 * The etcd key prefixes to range-read for `list`: the union of the keys under them, filtered by
 * the list's exact criteria (datastore `keyMatchesList`), is the list. One prefix for every list
 * except a block-affinity list without `affinityType`, which covers both the `host` and the
 * `virtual` trees (two prefixes).
 *
 * Every directory-like prefix ends with `/`, so that listing `ippools` never matches a kind named
 * `ippoolsx` and listing host `node-1` never matches `node-10`. The only prefixes without a
 * trailing `/` are a resource name (the exact key; longer names sharing it must be filtered out)
 * and the IPAM config key.
 *
 * - resource: `<root><plural>/`, `<root><plural>/<namespace>/`, or with a name
 *   `<root><plural>[/<namespace>]/<name>`; a namespaced kind with a name but no namespace reads
 *   the whole kind (filter by name).
 * - block: `/calico/ipam/v2/assignment/` or `.../assignment/ipv4/block/`.
 * - blockAffinity: `/calico/ipam/v2/<type>/[<host>/[ipv4/block/]]` per affinity type (an
 *   `ipVersion` without a host needs filtering).
 * - handle: `/calico/ipam/v2/handle/`; ipamConfig: `/calico/ipam/v2/config`.
 *
 * @throws ValidationError for an unknown kind, a namespace on a cluster-scoped kind, a bad
 *   `ipVersion`/`affinityType`, or a host containing `/`.
 * @example
 * ```ts
 * listToPrefixes({ type: 'blockAffinity', host: 'node-1', ipVersion: 4 });
 * // ['/calico/ipam/v2/host/node-1/ipv4/block/', '/calico/ipam/v2/virtual/node-1/ipv4/block/']
 * ```
 */
export function listToPrefixes(list: ListInterface): string[] {
  if (typeof list === 'object' && list !== null && list.type === 'blockAffinity' && list.affinityType === undefined) {
    return [listToPrefix({ ...list, affinityType: 'host' }), listToPrefix({ ...list, affinityType: 'virtual' })];
  }
  return [listToPrefix(list)];
}

/**
 * The single narrowest etcd key prefix under which every key of `list` lives (see
 * {@link listToPrefixes} for the rules). For a block-affinity list without `affinityType` this is
 * the whole IPAM tree `/calico/ipam/v2/`; prefer {@link listToPrefixes} to read it.
 *
 * @throws ValidationError as {@link listToPrefixes}.
 * @example
 * ```ts
 * listToPrefix({ type: 'resource', kind: 'IPPool' }); // '/calico/resources/v3/projectcalico.org/ippools/'
 * ```
 */
export function listToPrefix(list: ListInterface): string {
  if (typeof list !== 'object' || list === null) throw invalid('list', list, 'must be a list object');
  switch (list.type) {
    case 'resource': {
      if (!isResourceKind(list.kind)) throw invalid('kind', list.kind, 'unknown resource kind');
      const info = KINDS[list.kind];
      let prefix = `${RESOURCES_ROOT}${info.plural}/`;
      const hasNamespace = list.namespace !== undefined && list.namespace !== '';
      const hasName = list.name !== undefined && list.name !== '';
      if (info.namespaced) {
        if (!hasNamespace) return prefix;
        prefix += `${escapeSegment(list.namespace!)}/`;
      } else if (hasNamespace) {
        throw invalid('namespace', list.namespace, `${list.kind} is cluster-scoped and takes no namespace`);
      }
      return hasName ? prefix + escapeSegment(list.name!) : prefix;
    }
    case 'block': {
      const version = ipVersionOf(list.ipVersion);
      return version === undefined ? BLOCK_ROOT : `${BLOCK_ROOT}ipv${version}/block/`;
    }
    case 'blockAffinity': {
      const version = ipVersionOf(list.ipVersion);
      if (list.host !== undefined && list.host !== '') requirePlainSegment('host', list.host);
      if (list.affinityType === undefined) return IPAM_ROOT;
      const type = affinityTypeOf(list.affinityType);
      let prefix = `${IPAM_ROOT}${type}/`;
      if (list.host === undefined || list.host === '') return prefix;
      prefix += `${list.host}/`;
      return version === undefined ? prefix : `${prefix}ipv${version}/block/`;
    }
    case 'handle':
      return HANDLE_ROOT;
    case 'ipamConfig':
      return IPAM_CONFIG_PATH;
    default:
      throw invalid('type', (list as { type?: unknown }).type, 'unknown list type');
  }
}
