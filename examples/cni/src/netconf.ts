/**
 * Calico's NetConf (reference cni.md §3): every field, typed, with Go-style type errors. Keys are
 * matched case-insensitively, as Go's JSON decoding does.
 */
import { readFileSync } from 'node:fs';
import { CniCode, CniError, type BaseNetConf } from './cni.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Calico-IPAM and generic IPAM settings. */
export interface IpamConf {
  type: string;
  /** `"true"` unless `"false"` (a string, as upstream). */
  assignIpv4: string;
  /** `"false"` unless `"true"`. */
  assignIpv6: string;
  ipv4Pools: string[];
  ipv6Pools: string[];
  /** host-local: custom in-pod routes (`routes[].dst`). */
  routes: string[];
  /** The whole `ipam` object as given (round-tripped to a delegated IPAM plugin). */
  raw: Obj;
}

/** The parsed NetConf. */
export interface CalicoNetConf {
  cniVersion: string;
  name: string;
  type: string;
  mtu: number;
  requireMtuFile: boolean;
  numQueues: number;
  deviceType: string;
  nodename: string;
  nodenameFile: string;
  nodenameFileOptional: boolean;
  hostname: string;
  datastoreType: string;
  etcdEndpoints: string;
  etcdDiscoverySrv: string;
  etcdScheme: string;
  etcdKeyFile: string;
  etcdCertFile: string;
  etcdCaCertFile: string;
  etcdAuthority: string;
  /** `gateway` (default: JSON gateway, fast start-up) or `grpc` (`@libcalico-ts/datastore-etcd`). */
  etcdClient: string;
  kubernetes: { kubeconfig: string; k8sApiRoot: string; nodeName: string };
  policy: { type: string };
  ipam: IpamConf;
  includeDefaultRoutes: boolean;
  featureControl: { ipAddrsNoIpam: boolean; floatingIps: boolean };
  containerSettings: { allowIpForwarding: boolean };
  logLevel: string;
  logFilePath: string;
  readinessGates: string[];
  policySetupTimeoutSeconds: number;
  calicoApiGroup: string;
  /** `prevResult` (CHECK/DEL), when present. */
  prevResult: unknown;
  /** GC: `cni.dev/valid-attachments`. */
  validAttachments: { containerID: string; ifname: string }[] | undefined;
  /** The decoded stdin object. */
  raw: Obj;
}

/** Default location of the node name written by calico/node. */
export const DEFAULT_NODENAME_FILE = '/var/lib/calico/nodename';
/** MTU file written by Felix. */
export const MTU_FILE = '/var/lib/calico/mtu';

function get(obj: Obj, name: string): unknown {
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) if (key.toLowerCase() === lower) return obj[key];
  return undefined;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

function typeError(path: string, value: unknown, want: string): never {
  throw new CniError(CniCode.Calico, `failed to load netconf: json: cannot unmarshal ${jsonType(value)} into Go struct field ${path} of type ${want}`);
}

function str(obj: Obj, name: string, path: string, fallback = ''): string {
  const v = get(obj, name);
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string') typeError(path, v, 'string');
  return v;
}
function bool(obj: Obj, name: string, path: string): boolean {
  const v = get(obj, name);
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') typeError(path, v, 'bool');
  return v;
}
function int(obj: Obj, name: string, path: string): number {
  const v = get(obj, name);
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v)) typeError(path, v, 'int');
  return v;
}
function strList(obj: Obj, name: string, path: string): string[] {
  const v = get(obj, name);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) typeError(path, v, '[]string');
  return v.map((x) => (typeof x === 'string' ? x : typeError(path, x, 'string')));
}
function sub(obj: Obj, name: string, path: string): Obj {
  const v = get(obj, name);
  if (v === undefined || v === null) return {};
  if (!isObj(v)) typeError(path, v, 'struct');
  return v;
}

/**
 * Parses Calico's fields out of a NetConf that already passed the generic checks.
 * @throws CniError 999 (`failed to load netconf: ...`) for wrongly typed fields, and for values
 *   Calico rejects (`device_type`, negative `policy_setup_timeout_seconds`, `dataplane_options`).
 */
export function parseNetConf(base: BaseNetConf): CalicoNetConf {
  const raw = base as Obj;
  const ipamRaw = sub(raw, 'ipam', 'NetConf.ipam');
  const ipamRoutes = get(ipamRaw, 'routes');
  const routes: string[] = [];
  if (ipamRoutes !== undefined && ipamRoutes !== null) {
    if (!Array.isArray(ipamRoutes)) typeError('IPAM.ipam.routes', ipamRoutes, '[]*types.Route');
    for (const r of ipamRoutes) {
      if (!isObj(r) || typeof r.dst !== 'string') typeError('IPAM.ipam.routes', r, 'types.Route');
      routes.push(r.dst as string);
    }
  }
  const k8s = sub(raw, 'kubernetes', 'NetConf.kubernetes');
  const policy = sub(raw, 'policy', 'NetConf.policy');
  const features = sub(raw, 'feature_control', 'NetConf.feature_control');
  const container = sub(raw, 'container_settings', 'NetConf.container_settings');
  const dataplane = sub(raw, 'dataplane_options', 'NetConf.dataplane_options');
  const conf: CalicoNetConf = {
    cniVersion: base.cniVersion,
    name: base.name,
    type: base.type,
    mtu: int(raw, 'mtu', 'NetConf.mtu'),
    requireMtuFile: bool(raw, 'require_mtu_file', 'NetConf.require_mtu_file'),
    numQueues: int(raw, 'num_queues', 'NetConf.num_queues'),
    deviceType: str(raw, 'device_type', 'NetConf.device_type'),
    nodename: str(raw, 'nodename', 'NetConf.nodename'),
    nodenameFile: str(raw, 'nodename_file', 'NetConf.nodename_file'),
    nodenameFileOptional: bool(raw, 'nodename_file_optional', 'NetConf.nodename_file_optional'),
    hostname: str(raw, 'hostname', 'NetConf.hostname'),
    datastoreType: str(raw, 'datastore_type', 'NetConf.datastore_type'),
    etcdEndpoints: str(raw, 'etcd_endpoints', 'NetConf.etcd_endpoints'),
    etcdDiscoverySrv: str(raw, 'etcd_discovery_srv', 'NetConf.etcd_discovery_srv'),
    etcdScheme: str(raw, 'etcd_scheme', 'NetConf.etcd_scheme'),
    etcdKeyFile: str(raw, 'etcd_key_file', 'NetConf.etcd_key_file'),
    etcdCertFile: str(raw, 'etcd_cert_file', 'NetConf.etcd_cert_file'),
    etcdCaCertFile: str(raw, 'etcd_ca_cert_file', 'NetConf.etcd_ca_cert_file'),
    etcdAuthority: str(raw, 'etcd_authority', 'NetConf.etcd_authority'),
    etcdClient: str(raw, 'etcd_client', 'NetConf.etcd_client', 'gateway'),
    kubernetes: {
      kubeconfig: str(k8s, 'kubeconfig', 'Kubernetes.kubernetes.kubeconfig'),
      k8sApiRoot: str(k8s, 'k8s_api_root', 'Kubernetes.kubernetes.k8s_api_root'),
      nodeName: str(k8s, 'node_name', 'Kubernetes.kubernetes.node_name'),
    },
    policy: { type: str(policy, 'type', 'Policy.policy.type') },
    ipam: {
      type: str(ipamRaw, 'type', 'IPAM.ipam.type'),
      assignIpv4: str(ipamRaw, 'assign_ipv4', 'IPAM.ipam.assign_ipv4', 'true'),
      assignIpv6: str(ipamRaw, 'assign_ipv6', 'IPAM.ipam.assign_ipv6', 'false'),
      ipv4Pools: strList(ipamRaw, 'ipv4_pools', 'IPAM.ipam.ipv4_pools'),
      ipv6Pools: strList(ipamRaw, 'ipv6_pools', 'IPAM.ipam.ipv6_pools'),
      routes,
      raw: ipamRaw,
    },
    includeDefaultRoutes: bool(raw, 'include_default_routes', 'NetConf.include_default_routes'),
    featureControl: {
      ipAddrsNoIpam: bool(features, 'ip_addrs_no_ipam', 'FeatureControl.feature_control.ip_addrs_no_ipam'),
      floatingIps: bool(features, 'floating_ips', 'FeatureControl.feature_control.floating_ips'),
    },
    containerSettings: { allowIpForwarding: bool(container, 'allow_ip_forwarding', 'ContainerSettings.container_settings.allow_ip_forwarding') },
    logLevel: str(raw, 'log_level', 'NetConf.log_level', 'info'),
    logFilePath: str(raw, 'log_file_path', 'NetConf.log_file_path'),
    readinessGates: strList(raw, 'readiness_gates', 'NetConf.readiness_gates'),
    policySetupTimeoutSeconds: int(raw, 'policy_setup_timeout_seconds', 'NetConf.policy_setup_timeout_seconds'),
    calicoApiGroup: str(raw, 'calico_api_group', 'NetConf.calico_api_group'),
    prevResult: get(raw, 'prevResult'),
    validAttachments: undefined,
    raw,
  };
  const valid = raw['cni.dev/valid-attachments'] ?? raw['cni.dev/attachments'];
  if (valid !== undefined) {
    if (!Array.isArray(valid)) typeError('NetConf.cni.dev/valid-attachments', valid, '[]GCAttachment');
    conf.validAttachments = valid.map((a) => {
      if (!isObj(a) || typeof a.containerID !== 'string') typeError('NetConf.cni.dev/valid-attachments', a, 'GCAttachment');
      return { containerID: a.containerID as string, ifname: typeof a.ifname === 'string' ? a.ifname : '' };
    });
  }
  if (!['', 'veth', 'netkit'].includes(conf.deviceType)) {
    throw new CniError(CniCode.Calico, `unknown device_type "${conf.deviceType}" in CNI config (supported: "veth", "netkit")`);
  }
  if (conf.policySetupTimeoutSeconds < 0) throw new CniError(CniCode.Calico, 'policy_setup_timeout_seconds must not be negative');
  if (Object.keys(dataplane).length > 0) throw new CniError(CniCode.Calico, 'dataplane_options are not supported by this plugin');
  if (conf.mtu < 0 || conf.mtu > 65535) throw new CniError(CniCode.Calico, `failed to load netconf: mtu ${conf.mtu} out of range`);
  if (conf.numQueues <= 0) conf.numQueues = 1;
  if (!['gateway', 'grpc'].includes(conf.etcdClient)) throw new CniError(CniCode.Calico, `unknown etcd_client "${conf.etcdClient}" (supported: "gateway", "grpc")`);
  if (conf.ipam.assignIpv4 !== 'true' && conf.ipam.assignIpv4 !== 'false') throw new CniError(CniCode.Calico, `invalid value for assign_ipv4: "${conf.ipam.assignIpv4}" (must be "true" or "false")`);
  if (conf.ipam.assignIpv6 !== 'true' && conf.ipam.assignIpv6 !== 'false') throw new CniError(CniCode.Calico, `invalid value for assign_ipv6: "${conf.ipam.assignIpv6}" (must be "true" or "false")`);
  return conf;
}

/** Reads the node name per reference §4.2; checks the nodename file first unless optional (§5.1 step 3). */
export function resolveNodename(conf: CalicoNetConf, hostname: () => string): string {
  const file = conf.nodenameFile || DEFAULT_NODENAME_FILE;
  let fromFile = '';
  try {
    fromFile = readFileSync(file, 'utf8').trim();
  } catch (error) {
    if (!conf.nodenameFileOptional) {
      throw new CniError(CniCode.Calico, `stat ${file}: no such file or directory: check that the calico/node container is running and has mounted /var/lib/calico/`, (error as Error).message);
    }
  }
  return conf.nodename || fromFile || conf.hostname || hostname();
}

/** MTU per §5.1 step 4: NetConf `mtu`, else the MTU file, else 1500. */
export function resolveMtu(conf: CalicoNetConf, file = MTU_FILE): number {
  let fromFile = 0;
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    if (conf.requireMtuFile) throw new CniError(CniCode.Calico, `failed to read MTU file: open ${file}: no such file or directory`);
  }
  if (text !== undefined) {
    fromFile = Number(text);
    if (!Number.isInteger(fromFile) || fromFile <= 0) throw new CniError(CniCode.Calico, `failed to read MTU file: invalid MTU "${text}"`);
  }
  return conf.mtu || fromFile || 1500;
}
