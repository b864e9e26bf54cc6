/**
 * Calico resources derived from native Kubernetes objects (reference §7.7-§7.9): Node from a
 * Kubernetes Node's annotations, WorkloadEndpoint from a Pod, Profile from a Namespace or a
 * ServiceAccount.
 */
import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { API_VERSION, type ObjectMeta, type V3Object } from '@libcalico-ts/api';
import { convertUid } from '../uid.js';

/** A Kubernetes object as parsed JSON. */
export type KubeObject = Record<string, unknown>;
const isObject = (v: unknown): v is KubeObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Node annotations Calico uses. */
export const NodeAnnotation = {
  Labels: 'projectcalico.org/labels',
  Annotations: 'projectcalico.org/annotations',
  KubeLabels: 'projectcalico.org/kube-labels',
  IPv4Address: 'projectcalico.org/IPv4Address',
  IPv6Address: 'projectcalico.org/IPv6Address',
  ASNumber: 'projectcalico.org/ASNumber',
  RouteReflectorClusterID: 'projectcalico.org/RouteReflectorClusterID',
  IPv4IPIPTunnelAddr: 'projectcalico.org/IPv4IPIPTunnelAddr',
  IPv4VXLANTunnelAddr: 'projectcalico.org/IPv4VXLANTunnelAddr',
  VXLANTunnelMACAddr: 'projectcalico.org/VXLANTunnelMACAddr',
  IPv6VXLANTunnelAddr: 'projectcalico.org/IPv6VXLANTunnelAddr',
  VXLANTunnelMACAddrV6: 'projectcalico.org/VXLANTunnelMACAddrV6',
  IPv4WireguardInterfaceAddr: 'projectcalico.org/IPv4WireguardInterfaceAddr',
  IPv6WireguardInterfaceAddr: 'projectcalico.org/IPv6WireguardInterfaceAddr',
  WireguardPublicKey: 'projectcalico.org/WireguardPublicKey',
  WireguardPublicKeyV6: 'projectcalico.org/WireguardPublicKeyV6',
  Interfaces: 'projectcalico.org/Interfaces',
} as const;

const cidrOrIp = (family: 4 | 6) => (v: string) => {
  const [ip, len, ...rest] = v.split('/');
  if (rest.length > 0) return false;
  if (!(family === 4 ? isIPv4(ip) : isIPv6(ip))) return false;
  return len === undefined || (/^\d+$/.test(len) && Number(len) <= (family === 4 ? 32 : 128));
};
const isMac = (v: string) => /^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$/.test(v);

function sortedJson(map: Record<string, string> | undefined): string {
  if (map === undefined) return 'null';
  const out: Record<string, string> = {};
  for (const k of Object.keys(map).sort()) out[k] = map[k];
  return JSON.stringify(out);
}

function parseStringMap(text: string | undefined): Record<string, string> | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (!isObject(v)) return undefined;
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
    return out;
  } catch {
    return undefined;
  }
}

/** AS number from annotation text: decimal or asdot `high.low`; undefined when invalid. */
export function parseAsNumber(text: string): number | undefined {
  let m = /^(\d+)$/.exec(text);
  if (m) {
    const n = Number(m[1]);
    return n <= 0xffffffff ? n : undefined;
  }
  m = /^(\d+)\.(\d+)$/.exec(text);
  if (m && Number(m[1]) <= 0xffff && Number(m[2]) <= 0xffff) return Number(m[1]) * 65536 + Number(m[2]);
  return undefined;
}

/** Options of the Node conversion. */
export interface NodeConversionOptions {
  /** host-local IPAM: the IPIP address is the pod CIDR base + 1. */
  usePodCIDR?: boolean;
}

/** The Calico Node view of a Kubernetes Node. */
export function kubeNodeToCalico(node: KubeObject, options: NodeConversionOptions = {}): V3Object {
  const meta = (isObject(node.metadata) ? node.metadata : {}) as KubeObject;
  const k8sAnnotations = (isObject(meta.annotations) ? meta.annotations : {}) as Record<string, string>;
  const k8sLabels = isObject(meta.labels) ? (meta.labels as Record<string, string>) : undefined;
  const ann = (key: string, ok?: (v: string) => boolean): string | undefined => {
    const v = k8sAnnotations[key];
    if (typeof v !== 'string' || v === '') return undefined;
    return ok && !ok(v) ? undefined : v;
  };
  const name = String(meta.name ?? '');
  const calicoLabels = parseStringMap(k8sAnnotations[NodeAnnotation.Labels]);
  const calicoAnnotations = parseStringMap(k8sAnnotations[NodeAnnotation.Annotations]);
  const labels = k8sLabels || calicoLabels ? { ...(calicoLabels ?? {}), ...(k8sLabels ?? {}) } : undefined;
  const annotations = { ...(calicoAnnotations ?? {}), [NodeAnnotation.KubeLabels]: sortedJson(k8sLabels) };

  const metadata: ObjectMeta = { name };
  if (str(meta.uid)) metadata.uid = str(meta.uid);
  if (str(meta.resourceVersion)) metadata.resourceVersion = str(meta.resourceVersion);
  metadata.creationTimestamp = str(meta.creationTimestamp) ?? null;
  if (labels) metadata.labels = labels;
  metadata.annotations = annotations;

  const bgp: KubeObject = {};
  const asText = ann(NodeAnnotation.ASNumber);
  const asn = asText === undefined ? undefined : parseAsNumber(asText);
  if (asn !== undefined) bgp.asNumber = asn;
  const v4 = ann(NodeAnnotation.IPv4Address, cidrOrIp(4));
  const v6 = ann(NodeAnnotation.IPv6Address, cidrOrIp(6));
  if (v4) bgp.ipv4Address = v4;
  if (v6) bgp.ipv6Address = v6;
  const spec = (isObject(node.spec) ? node.spec : {}) as KubeObject;
  const wireguard: KubeObject = {};
  if (options.usePodCIDR && typeof spec.podCIDR === 'string' && spec.podCIDR !== '') {
    const base = spec.podCIDR.split('/')[0];
    if (isIPv4(base)) {
      const parts = base.split('.').map(Number);
      parts[3] = (parts[3] + 1) & 255;
      bgp.ipv4IPIPTunnelAddr = parts.join('.');
      if (k8sAnnotations[NodeAnnotation.WireguardPublicKey]) wireguard.interfaceIPv4Address = bgp.ipv4IPIPTunnelAddr;
    }
  } else {
    const ipip = ann(NodeAnnotation.IPv4IPIPTunnelAddr, cidrOrIp(4));
    if (ipip) bgp.ipv4IPIPTunnelAddr = ipip;
    const wg4 = ann(NodeAnnotation.IPv4WireguardInterfaceAddr, cidrOrIp(4));
    const wg6 = ann(NodeAnnotation.IPv6WireguardInterfaceAddr, cidrOrIp(6));
    if (wg4) wireguard.interfaceIPv4Address = wg4;
    if (wg6) wireguard.interfaceIPv6Address = wg6;
  }
  const rr = ann(NodeAnnotation.RouteReflectorClusterID, cidrOrIp(4));
  if (rr) bgp.routeReflectorClusterID = rr;

  const calicoSpec: KubeObject = {};
  if (Object.keys(bgp).length > 0) calicoSpec.bgp = bgp;
  const vx4 = ann(NodeAnnotation.IPv4VXLANTunnelAddr, cidrOrIp(4));
  const mac = ann(NodeAnnotation.VXLANTunnelMACAddr, isMac);
  const vx6 = ann(NodeAnnotation.IPv6VXLANTunnelAddr, cidrOrIp(6));
  const mac6 = ann(NodeAnnotation.VXLANTunnelMACAddrV6, isMac);
  if (vx4) calicoSpec.ipv4VXLANTunnelAddr = vx4;
  if (mac) calicoSpec.vxlanTunnelMACAddr = mac;
  if (vx6) calicoSpec.ipv6VXLANTunnelAddr = vx6;
  if (mac6) calicoSpec.vxlanTunnelMACAddrV6 = mac6;
  calicoSpec.orchRefs = [{ nodeName: name, orchestrator: 'k8s' }];
  if (Object.keys(wireguard).length > 0) calicoSpec.wireguard = wireguard;
  const addresses: KubeObject[] = [];
  if (v4) addresses.push({ address: v4, type: 'CalicoNodeIP' });
  if (v6) addresses.push({ address: v6, type: 'CalicoNodeIP' });
  const status = (isObject(node.status) ? node.status : {}) as KubeObject;
  for (const a of Array.isArray(status.addresses) ? status.addresses : []) {
    if (!isObject(a) || typeof a.address !== 'string') continue;
    if (a.type === 'InternalIP' || a.type === 'ExternalIP') addresses.push({ address: a.address, type: a.type });
  }
  if (addresses.length > 0) calicoSpec.addresses = addresses;
  const ifaceText = k8sAnnotations[NodeAnnotation.Interfaces];
  if (ifaceText !== undefined) {
    try {
      const parsed = JSON.parse(ifaceText) as unknown;
      if (Array.isArray(parsed)) {
        calicoSpec.interfaces = parsed
          .filter(isObject)
          .map((i) => ({ name: String(i.name ?? ''), addresses: (Array.isArray(i.addresses) ? i.addresses : []).filter((x): x is string => typeof x === 'string' && (isIPv4(x) || isIPv6(x))) }));
      }
    } catch {
      // Invalid annotation values are ignored, as Calico does.
    }
  }

  const calicoStatus: KubeObject = {};
  const wgKey = ann(NodeAnnotation.WireguardPublicKey);
  const wgKey6 = ann(NodeAnnotation.WireguardPublicKeyV6);
  if (wgKey) calicoStatus.wireguardPublicKey = wgKey;
  if (wgKey6) calicoStatus.wireguardPublicKeyV6 = wgKey6;
  if (Array.isArray(spec.podCIDRs) && spec.podCIDRs.length > 0) calicoStatus.podCIDRs = spec.podCIDRs.filter((c) => typeof c === 'string');
  return { kind: 'Node', apiVersion: API_VERSION, metadata, spec: calicoSpec, status: calicoStatus };
}

/**
 * Writes a Calico Node into a copy of the Kubernetes Node (labels/annotations as JSON
 * annotations, one annotation per field), as Calico's node update does. The Kubernetes labels
 * are never touched.
 */
export function mergeCalicoNodeIntoKubeNode(calico: V3Object, kubeNode: KubeObject): KubeObject {
  const node = JSON.parse(JSON.stringify(kubeNode)) as KubeObject;
  const meta = (isObject(node.metadata) ? node.metadata : (node.metadata = {})) as KubeObject;
  const annotations = (isObject(meta.annotations) ? meta.annotations : (meta.annotations = {})) as Record<string, string>;
  let labels = { ...(calico.metadata.labels ?? {}) };
  let calicoAnnotations = { ...(calico.metadata.annotations ?? {}) };
  const kubeLabelsText = calicoAnnotations[NodeAnnotation.KubeLabels];
  if (kubeLabelsText !== undefined) {
    const inherited = parseStringMap(kubeLabelsText) ?? {};
    for (const k of Object.keys(inherited)) delete labels[k];
    delete calicoAnnotations[NodeAnnotation.KubeLabels];
  }
  const setOrDelete = (key: string, value: unknown) => {
    if (typeof value === 'string' && value !== '') annotations[key] = value;
    else delete annotations[key];
  };
  setOrDelete(NodeAnnotation.Labels, Object.keys(labels).length > 0 ? sortedJson(labels) : undefined);
  setOrDelete(NodeAnnotation.Annotations, Object.keys(calicoAnnotations).length > 0 ? sortedJson(calicoAnnotations) : undefined);
  labels = {};
  calicoAnnotations = {};
  const spec = (calico.spec ?? {}) as KubeObject;
  const bgp = isObject(spec.bgp) ? spec.bgp : undefined;
  setOrDelete(NodeAnnotation.IPv4VXLANTunnelAddr, spec.ipv4VXLANTunnelAddr);
  setOrDelete(NodeAnnotation.VXLANTunnelMACAddr, spec.vxlanTunnelMACAddr);
  setOrDelete(NodeAnnotation.IPv6VXLANTunnelAddr, spec.ipv6VXLANTunnelAddr);
  setOrDelete(NodeAnnotation.VXLANTunnelMACAddrV6, spec.vxlanTunnelMACAddrV6);
  setOrDelete(NodeAnnotation.IPv4Address, bgp?.ipv4Address);
  setOrDelete(NodeAnnotation.IPv4IPIPTunnelAddr, bgp?.ipv4IPIPTunnelAddr);
  setOrDelete(NodeAnnotation.IPv6Address, bgp?.ipv6Address);
  setOrDelete(NodeAnnotation.ASNumber, bgp?.asNumber === undefined || bgp.asNumber === null ? undefined : String(bgp.asNumber));
  setOrDelete(NodeAnnotation.RouteReflectorClusterID, bgp?.routeReflectorClusterID);
  const wg = isObject(spec.wireguard) ? spec.wireguard : undefined;
  setOrDelete(NodeAnnotation.IPv4WireguardInterfaceAddr, wg?.interfaceIPv4Address);
  setOrDelete(NodeAnnotation.IPv6WireguardInterfaceAddr, wg?.interfaceIPv6Address);
  const status = (isObject(calico.status) ? calico.status : {}) as KubeObject;
  setOrDelete(NodeAnnotation.WireguardPublicKey, status.wireguardPublicKey);
  setOrDelete(NodeAnnotation.WireguardPublicKeyV6, status.wireguardPublicKeyV6);
  setOrDelete(NodeAnnotation.Interfaces, Array.isArray(spec.interfaces) ? JSON.stringify(spec.interfaces) : undefined);
  return node;
}

// ---------------------------------------------------------------------------------------------
// WorkloadEndpoints

/** Escapes one segment of a workload endpoint name (every `-` doubled). */
function escapeSegment(s: string): string {
  return s.replace(/-/g, '--');
}

/** The WorkloadEndpoint name of a Kubernetes pod: `<node>-k8s-<pod>-eth0`, dashes doubled inside segments. */
export function podWorkloadEndpointName(node: string, pod: string): string {
  return [node, 'k8s', pod, 'eth0'].map(escapeSegment).join('-');
}

/** Splits a WorkloadEndpoint name into its segments (`--` is an escaped dash). Undefined when malformed. */
export function parseWorkloadEndpointName(name: string): string[] | undefined {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < name.length; i++) {
    if (name[i] === '-') {
      if (name[i + 1] === '-') {
        current += '-';
        i++;
      } else {
        parts.push(current);
        current = '';
      }
    } else current += name[i];
  }
  parts.push(current);
  return parts.some((p) => p === '') ? undefined : parts;
}

/** The pod name inside a k8s WorkloadEndpoint name, or undefined when the name is not of that form. */
export function podNameFromWorkloadEndpointName(name: string): string | undefined {
  const parts = parseWorkloadEndpointName(name);
  if (!parts || parts.length !== 4 || parts[1] !== 'k8s') return undefined;
  return parts[2];
}

/** Host-side interface name of a pod: `cali` + first 11 hex digits of SHA-1(`<ns>.<pod>`). */
export function vethNameForPod(namespace: string, pod: string, prefix = 'cali'): string {
  return prefix + createHash('sha1').update(`${namespace}.${pod}`).digest('hex').slice(0, 15 - prefix.length);
}

export const PodAnnotation = {
  ContainerID: 'cni.projectcalico.org/containerID',
  PodIP: 'cni.projectcalico.org/podIP',
  PodIPs: 'cni.projectcalico.org/podIPs',
  FloatingIPs: 'cni.projectcalico.org/floatingIPs',
  AllowedSourcePrefixes: 'cni.projectcalico.org/allowedSourcePrefixes',
  AwsPodIPs: 'vpc.amazonaws.com/pod-ips',
} as const;

/** True when the pod is backed by a WorkloadEndpoint: scheduled and not host-networked. */
export function podHasWorkloadEndpoint(pod: KubeObject): boolean {
  const spec = isObject(pod.spec) ? pod.spec : {};
  return typeof spec.nodeName === 'string' && spec.nodeName !== '' && spec.hostNetwork !== true;
}

function toCidr(ip: string): string | undefined {
  const bare = ip.trim();
  if (bare.includes('/')) {
    const [a, l] = bare.split('/');
    if (isIPv4(a) && /^\d+$/.test(l)) return bare;
    if (isIPv6(a) && /^\d+$/.test(l)) return bare;
    return undefined;
  }
  if (isIPv4(bare)) return `${bare}/32`;
  if (isIPv6(bare)) return `${bare}/128`;
  return undefined;
}

function podIPs(pod: KubeObject): string[] {
  const status = isObject(pod.status) ? pod.status : {};
  const annotations = (isObject((pod.metadata as KubeObject)?.annotations) ? (pod.metadata as KubeObject).annotations : {}) as Record<string, string>;
  const lists: string[][] = [];
  if (Array.isArray(status.podIPs)) lists.push(status.podIPs.filter(isObject).map((p) => String(p.ip ?? '')));
  if (typeof status.podIP === 'string') lists.push([status.podIP]);
  if (annotations[PodAnnotation.PodIPs]) lists.push(annotations[PodAnnotation.PodIPs].split(','));
  if (annotations[PodAnnotation.PodIP]) lists.push([annotations[PodAnnotation.PodIP]]);
  if (annotations[PodAnnotation.AwsPodIPs]) lists.push(annotations[PodAnnotation.AwsPodIPs].split(','));
  for (const list of lists) {
    const cidrs = list.map((x) => x.trim()).filter((x) => x !== '').map(toCidr).filter((x): x is string => x !== undefined);
    if (cidrs.length > 0) return cidrs;
  }
  return [];
}

function podFinished(pod: KubeObject): boolean {
  const status = isObject(pod.status) ? pod.status : {};
  if (status.phase === 'Succeeded' || status.phase === 'Failed') return true;
  const meta = isObject(pod.metadata) ? pod.metadata : {};
  const annotations = (isObject(meta.annotations) ? meta.annotations : {}) as Record<string, string>;
  return meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null && annotations[PodAnnotation.PodIP] === '';
}

/** The WorkloadEndpoint view of a pod (call only when {@link podHasWorkloadEndpoint}). */
export function podToWorkloadEndpoint(pod: KubeObject): V3Object {
  const meta = (isObject(pod.metadata) ? pod.metadata : {}) as KubeObject;
  const spec = (isObject(pod.spec) ? pod.spec : {}) as KubeObject;
  const annotations = (isObject(meta.annotations) ? meta.annotations : {}) as Record<string, string>;
  const namespace = String(meta.namespace ?? '');
  const podName = String(meta.name ?? '');
  const node = String(spec.nodeName ?? '');
  const sa = typeof spec.serviceAccountName === 'string' ? spec.serviceAccountName : '';
  const profiles = [`kns.${namespace}`];
  if (sa) profiles.push(`ksa.${namespace}.${sa}`);
  const labels: Record<string, string> = { ...((isObject(meta.labels) ? meta.labels : {}) as Record<string, string>) };
  labels['projectcalico.org/namespace'] = namespace;
  labels['projectcalico.org/orchestrator'] = 'k8s';
  if (sa && sa.length < 63) labels['projectcalico.org/serviceaccount'] = sa;
  const ipNetworks = podFinished(pod) ? [] : podIPs(pod);
  const ports: KubeObject[] = [];
  for (const list of [spec.containers, spec.initContainers]) {
    for (const c of Array.isArray(list) ? list : []) {
      if (!isObject(c) || !Array.isArray(c.ports)) continue;
      for (const p of c.ports) {
        if (!isObject(p)) continue;
        const hostPort = typeof p.hostPort === 'number' ? p.hostPort : 0;
        if (!p.name && !hostPort) continue;
        ports.push({ name: String(p.name ?? ''), protocol: String(p.protocol ?? 'TCP'), port: Number(p.containerPort ?? 0), hostPort, hostIP: String(p.hostIP ?? '') });
      }
    }
  }
  const metadata: ObjectMeta = { name: podWorkloadEndpointName(node, podName) };
  if (typeof meta.generateName === 'string' && meta.generateName) metadata.generateName = meta.generateName;
  metadata.namespace = namespace;
  if (typeof meta.uid === 'string') metadata.uid = meta.uid;
  if (typeof meta.resourceVersion === 'string') metadata.resourceVersion = meta.resourceVersion;
  metadata.creationTimestamp = typeof meta.creationTimestamp === 'string' ? meta.creationTimestamp : null;
  metadata.labels = labels;
  if (annotations['k8s.v1.cni.cncf.io/network-status'] !== undefined) metadata.annotations = { 'k8s.v1.cni.cncf.io/network-status': annotations['k8s.v1.cni.cncf.io/network-status'] };
  const wepSpec: KubeObject = { orchestrator: 'k8s', node, pod: podName };
  if (annotations[PodAnnotation.ContainerID]) wepSpec.containerID = annotations[PodAnnotation.ContainerID];
  wepSpec.endpoint = 'eth0';
  if (sa) wepSpec.serviceAccountName = sa;
  if (ipNetworks.length > 0) wepSpec.ipNetworks = ipNetworks;
  if (annotations[PodAnnotation.FloatingIPs] && ipNetworks.length > 0) {
    try {
      const floating = JSON.parse(annotations[PodAnnotation.FloatingIPs]) as unknown;
      if (Array.isArray(floating)) {
        const v4 = ipNetworks.find((c) => !c.includes(':'))?.split('/')[0];
        const v6 = ipNetworks.find((c) => c.includes(':'))?.split('/')[0];
        const nats = floating
          .filter((x): x is string => typeof x === 'string')
          .map((ext) => (ext.includes(':') ? (v6 ? { internalIP: v6, externalIP: ext } : undefined) : v4 ? { internalIP: v4, externalIP: ext } : undefined))
          .filter((x) => x !== undefined);
        if (nats.length > 0) wepSpec.ipNATs = nats;
      }
    } catch {
      // Calico fails the conversion here; a malformed annotation is left out instead.
    }
  }
  wepSpec.profiles = profiles;
  wepSpec.interfaceName = vethNameForPod(namespace, podName);
  if (ports.length > 0) wepSpec.ports = ports;
  if (annotations[PodAnnotation.AllowedSourcePrefixes]) {
    try {
      const prefixes = JSON.parse(annotations[PodAnnotation.AllowedSourcePrefixes]) as unknown;
      if (Array.isArray(prefixes)) wepSpec.allowSpoofedSourcePrefixes = prefixes.filter((x) => typeof x === 'string');
    } catch {
      // ignored
    }
  }
  return { kind: 'WorkloadEndpoint', apiVersion: API_VERSION, metadata, spec: wepSpec };
}

// ---------------------------------------------------------------------------------------------
// Profiles

export const DEFAULT_ALLOW_PROFILE = 'projectcalico-default-allow';

/** The synthetic `projectcalico-default-allow` profile (revision "1"). */
export function defaultAllowProfile(): V3Object {
  return {
    kind: 'Profile',
    apiVersion: API_VERSION,
    metadata: { name: DEFAULT_ALLOW_PROFILE, resourceVersion: '1', creationTimestamp: null },
    spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] },
  };
}

function profileMeta(name: string, source: KubeObject, resourceVersion: string): ObjectMeta {
  const meta = (isObject(source.metadata) ? source.metadata : {}) as KubeObject;
  const out: ObjectMeta = { name };
  if (typeof meta.uid === 'string' && meta.uid) out.uid = convertUid(meta.uid);
  out.resourceVersion = resourceVersion;
  out.creationTimestamp = typeof meta.creationTimestamp === 'string' ? meta.creationTimestamp : null;
  return out;
}

/** The `kns.<namespace>` profile of a Namespace. */
export function namespaceToProfile(ns: KubeObject): V3Object {
  const meta = (isObject(ns.metadata) ? ns.metadata : {}) as KubeObject;
  const name = String(meta.name ?? '');
  const labelsToApply: Record<string, string> = {};
  for (const [k, v] of Object.entries((isObject(meta.labels) ? meta.labels : {}) as Record<string, string>)) labelsToApply[`pcns.${k}`] = v;
  labelsToApply['pcns.projectcalico.org/name'] = name;
  return {
    kind: 'Profile',
    apiVersion: API_VERSION,
    metadata: profileMeta(`kns.${name}`, ns, `${String(meta.resourceVersion ?? '')}/`),
    spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }], labelsToApply },
  };
}

/** The `ksa.<namespace>.<name>` profile of a ServiceAccount. */
export function serviceAccountToProfile(sa: KubeObject): V3Object {
  const meta = (isObject(sa.metadata) ? sa.metadata : {}) as KubeObject;
  const name = String(meta.name ?? '');
  const labelsToApply: Record<string, string> = {};
  for (const [k, v] of Object.entries((isObject(meta.labels) ? meta.labels : {}) as Record<string, string>)) labelsToApply[`pcsa.${k}`] = v;
  labelsToApply['pcsa.projectcalico.org/name'] = name;
  return {
    kind: 'Profile',
    apiVersion: API_VERSION,
    metadata: profileMeta(`ksa.${String(meta.namespace ?? '')}.${name}`, sa, `/${String(meta.resourceVersion ?? '')}`),
    spec: { labelsToApply },
  };
}
