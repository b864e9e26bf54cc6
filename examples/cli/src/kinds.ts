/**
 * The resource kinds `calicoctl get/delete KIND` accepts (with calicoctl's aliases) and the
 * columns of their `ps` / `wide` tables.
 */
import { KINDS, type Resource, type ResourceKind } from '@libcalico-ts/api';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});

/** What a table cell needs besides the resource. */
export interface ColumnContext {
  /** The cluster default AS number text (`64512` unless BGPConfiguration `default` sets one). */
  defaultASNumber: () => string;
}

type Cell = (resource: Obj, context: ColumnContext) => string;

/** Go's `%v` of a template value: nil pointers print `<nil>`, absent strings print ''. */
function goValue(value: unknown, nilText = ''): string {
  if (value === undefined || value === null) return nilText;
  if (typeof value === 'object') {
    if (Array.isArray(value)) return `[${value.map((v) => goValue(v)).join(' ')}]`;
    return `{${Object.values(value as Obj).map((v) => goValue(v)).join(' ')}}`;
  }
  return String(value);
}

/** calicoctl's `join`/`joinAndTruncate` helpers: maps as sorted `k=v`, truncated with `...`. */
function join(items: unknown, separator: string, maxLength = 0): string {
  if (items === undefined || items === null) return '';
  let list: unknown[];
  if (Array.isArray(items)) list = items;
  else if (typeof items === 'object') list = Object.entries(items as Obj).map(([k, v]) => `${k}=${goValue(v)}`).sort();
  else list = [items];
  let out = '';
  for (let i = 0; i < list.length; i++) {
    if (i > 0) out += separator;
    out += goValue(list[i]);
    if (maxLength > 0 && out.length > maxLength) {
      out = out.slice(0, maxLength - 3) + '...';
      break;
    }
  }
  return out;
}

const name: Cell = (r) => goValue(obj(r.metadata).name);
const namespace: Cell = (r) => goValue(obj(r.metadata).namespace);
const spec = (r: Obj): Obj => obj(r.spec);
const bool: (field: string) => Cell = (field) => (r) => String(spec(r)[field] === true);
const ptr: (field: string) => Cell = (field) => (r) => goValue(spec(r)[field], '<nil>');
const str: (field: string) => Cell = (field) => (r) => goValue(spec(r)[field]);
const modeOrNever: (field: string) => Cell = (field) => (r) => goValue(spec(r)[field]) || 'Never';
const length: (field: string) => Cell = (field) => (r) => {
  const v = spec(r)[field];
  return String(Array.isArray(v) ? v.length : 0);
};

/** A kind as the CLI knows it. */
export interface CliKind {
  kind: ResourceKind;
  /** Names accepted on the command line (lower case). */
  aliases: readonly string[];
  /** Columns of `get` (ps). */
  columns: readonly string[];
  /** Columns of `get -o wide`. */
  wideColumns: readonly string[];
  cells: Readonly<Record<string, Cell>>;
}

function defineKind(kind: ResourceKind, aliases: string[], columns: string[], wideColumns: string[], cells: Record<string, Cell>): CliKind {
  const all: Record<string, Cell> = { NAME: name, ...cells };
  if (KINDS[kind].namespaced) all.NAMESPACE = namespace;
  return { kind, aliases, columns, wideColumns, cells: all };
}

/** Every kind `calicoctl get` handles, in calicoctl's alias set. */
export const CLI_KINDS: readonly CliKind[] = [
  defineKind('IPPool', ['ippool', 'ippools', 'ipp', 'ipps', 'pool', 'pools'], ['NAME', 'CIDR', 'SELECTOR'],
    ['NAME', 'CIDR', 'NAT', 'IPIPMODE', 'VXLANMODE', 'DISABLED', 'DISABLEBGPEXPORT', 'SELECTOR'], {
      CIDR: str('cidr'),
      NAT: bool('natOutgoing'),
      IPIPMODE: modeOrNever('ipipMode'),
      VXLANMODE: modeOrNever('vxlanMode'),
      DISABLED: bool('disabled'),
      DISABLEBGPEXPORT: bool('disableBGPExport'),
      SELECTOR: str('nodeSelector'),
      ASSIGNMENTMODE: str('assignmentMode'),
    }),
  defineKind('Node', ['node', 'nodes', 'no', 'nos'], ['NAME'], ['NAME', 'ASN', 'IPV4', 'IPV6'], {
    ASN: (r, c) => {
      const bgp = spec(r).bgp;
      if (bgp === undefined || bgp === null) return '';
      const asn = obj(bgp).asNumber;
      return asn !== undefined && asn !== null && asn !== 0 && asn !== '' ? goValue(asn) : `(${c.defaultASNumber()})`;
    },
    IPV4: (r) => goValue(obj(spec(r).bgp).ipv4Address),
    IPV6: (r) => goValue(obj(spec(r).bgp).ipv6Address),
  }),
  defineKind('WorkloadEndpoint', ['workloadendpoint', 'workloadendpoints', 'wep', 'weps'], ['WORKLOAD', 'NODE', 'NETWORKS', 'INTERFACE'],
    ['NAME', 'WORKLOAD', 'NODE', 'NETWORKS', 'INTERFACE', 'PROFILES', 'NATS'], {
      NODE: str('node'),
      ORCHESTRATOR: str('orchestrator'),
      WORKLOAD: (r) => goValue(spec(r).workload) || goValue(spec(r).pod),
      NETWORKS: (r) => join(spec(r).ipNetworks, ','),
      NATS: (r) => join(spec(r).ipNATs, ','),
      PROFILES: (r) => join(spec(r).profiles, ','),
      INTERFACE: str('interfaceName'),
    }),
  defineKind('BGPPeer', ['bgppeer', 'bgppeers', 'bgpp', 'bgpps', 'bp', 'bps'], ['NAME', 'PEERIP', 'NODE', 'ASN'], ['NAME', 'PEERIP', 'NODE', 'ASN'], {
    PEERIP: str('peerIP'),
    NODE: (r) => goValue(spec(r).node) || goValue(spec(r).nodeSelector) || '(global)',
    ASN: (r) => goValue(spec(r).asNumber) || '0',
  }),
  defineKind('BGPConfiguration', ['bgpconfiguration', 'bgpconfigurations', 'bgpconfig', 'bgpconfigs'],
    ['NAME', 'LOGSEVERITY', 'MESHENABLED', 'ASNUMBER'], ['NAME', 'LOGSEVERITY', 'MESHENABLED', 'ASNUMBER'], {
      LOGSEVERITY: str('logSeverityScreen'),
      MESHENABLED: (r) => goValue(spec(r).nodeToNodeMeshEnabled) || '-',
      ASNUMBER: (r) => goValue(spec(r).asNumber) || '-',
    }),
  defineKind('BGPFilter', ['bgpfilter', 'bgpfilters', 'bgpf', 'bgpfs', 'bf', 'bfs'],
    ['NAME', 'NUMEXPORTV4', 'NUMIMPORTV4', 'NUMEXPORTV6', 'NUMIMPORTV6'], ['NAME', 'NUMEXPORTV4', 'NUMIMPORTV4', 'NUMEXPORTV6', 'NUMIMPORTV6'], {
      NUMEXPORTV4: length('exportV4'),
      NUMIMPORTV4: length('importV4'),
      NUMEXPORTV6: length('exportV6'),
      NUMIMPORTV6: length('importV6'),
    }),
  defineKind('ClusterInformation', ['clusterinformation', 'clusterinformations', 'clusterinfo', 'clusterinfos'],
    ['NAME', 'CLUSTERGUID', 'CLUSTERTYPE', 'CALICOVERSION', 'DATASTOREREADY'], ['NAME', 'CLUSTERGUID', 'CLUSTERTYPE', 'CALICOVERSION', 'DATASTOREREADY'], {
      CLUSTERGUID: str('clusterGUID'),
      CLUSTERTYPE: str('clusterType'),
      CALICOVERSION: str('calicoVersion'),
      DATASTOREREADY: ptr('datastoreReady'),
    }),
  defineKind('FelixConfiguration', ['felixconfiguration', 'felixconfigurations', 'felixconfig', 'felixconfigs'], ['NAME'], ['NAME'], {}),
  defineKind('GlobalNetworkPolicy', ['globalnetworkpolicy', 'globalnetworkpolicies', 'gnp', 'gnps'], ['NAME', 'TIER'], ['NAME', 'TIER', 'ORDER', 'SELECTOR'], {
    ORDER: ptr('order'),
    SELECTOR: str('selector'),
    TIER: str('tier'),
  }),
  defineKind('GlobalNetworkSet', ['globalnetworkset', 'globalnetworksets', 'gnetsets'], ['NAME'], ['NAME', 'NETS'], {
    NETS: (r) => join(spec(r).nets, ',', 80),
  }),
  defineKind('HostEndpoint', ['hostendpoint', 'hostendpoints', 'hep', 'heps'], ['NAME', 'NODE'], ['NAME', 'NODE', 'INTERFACE', 'IPS', 'PROFILES'], {
    NODE: str('node'),
    INTERFACE: str('interfaceName'),
    IPS: (r) => join(spec(r).expectedIPs, ','),
    PROFILES: (r) => join(spec(r).profiles, ','),
  }),
  defineKind('IPAMConfiguration', ['ipamconfiguration', 'ipamconfigurations', 'ipamconfig', 'ipamconfigs'],
    ['NAME', 'STRICTAFFINITY', 'AUTOALLOCATEBLOCKS'], ['NAME', 'STRICTAFFINITY', 'AUTOALLOCATEBLOCKS', 'MAXBLOCKSPERHOST'], {
      STRICTAFFINITY: bool('strictAffinity'),
      AUTOALLOCATEBLOCKS: bool('autoAllocateBlocks'),
      MAXBLOCKSPERHOST: (r) => goValue(spec(r).maxBlocksPerHost) || '0',
    }),
  defineKind('IPReservation', ['ipreservation', 'ipreservations', 'reservation', 'reservations'], ['NAME'], ['NAME', 'CIDRS'], {
    CIDRS: (r) => join(spec(r).reservedCIDRs, ',', 80),
  }),
  defineKind('KubeControllersConfiguration', ['kubecontrollersconfiguration', 'kubecontrollersconfigurations', 'kubecontrollersconfig', 'kubecontrollersconfigs'], ['NAME'], ['NAME'], {}),
  defineKind('NetworkPolicy', ['networkpolicy', 'networkpolicies', 'policy', 'np', 'policies', 'pol', 'pols'], ['NAME', 'TIER'], ['NAME', 'TIER', 'ORDER', 'SELECTOR'], {
    ORDER: ptr('order'),
    SELECTOR: str('selector'),
    TIER: str('tier'),
  }),
  defineKind('NetworkSet', ['networkset', 'networksets', 'netsets'], ['NAME'], ['NAME', 'NETS'], {
    NETS: (r) => join(spec(r).nets, ',', 80),
  }),
  defineKind('Profile', ['profile', 'profiles', 'pro', 'pros'], ['NAME'], ['NAME', 'LABELS'], {
    LABELS: (r) => join(spec(r).labelsToApply, ','),
  }),
  defineKind('Tier', ['tier', 'tiers'], ['NAME', 'ORDER'], ['NAME', 'ORDER'], { ORDER: ptr('order') }),
];

const BY_ALIAS = new Map<string, CliKind>();
const BY_KIND = new Map<string, CliKind>();
for (const k of CLI_KINDS) {
  BY_KIND.set(k.kind, k);
  for (const a of k.aliases) BY_ALIAS.set(a, k);
}

/** The kind a command-line name means (case-insensitive), or undefined. */
export function lookupKind(text: string): CliKind | undefined {
  return BY_ALIAS.get(text.toLowerCase());
}

/** The CLI facts of a kind. */
export function cliKind(kind: string): CliKind | undefined {
  return BY_KIND.get(kind);
}

/**
 * The rows (header first) of `calicoctl get` for resources of one kind. With `printNamespace`
 * (`-A` or `-n`), namespaced kinds get a leading NAMESPACE column.
 *
 * @throws Error for a heading the kind does not know (custom columns).
 */
export function tableRows(kind: CliKind, resources: readonly Resource[], options: { wide: boolean; printNamespace: boolean; context: ColumnContext; headings?: readonly string[] }): string[][] {
  let headings = [...(options.headings ?? (options.wide ? kind.wideColumns : kind.columns))];
  if (options.printNamespace && kind.cells.NAMESPACE) headings = ['NAMESPACE', ...headings];
  for (const h of headings) {
    if (!kind.cells[h]) throw new Error(`unknown heading ${h}, valid values are: ${Object.keys(kind.cells).join(', ')}`);
  }
  const rows = [headings];
  for (const r of resources) rows.push(headings.map((h) => kind.cells[h]!(r as unknown as Obj, options.context)));
  return rows;
}
