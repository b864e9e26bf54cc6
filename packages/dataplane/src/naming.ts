/**
 * Calico's naming rules for host-side interfaces and VTEP MACs (reference cni.md §4.5,
 * routes-and-dataplane.md §5.1, §9.1).
 */
import { createHash } from 'node:crypto';
import { invalid, formatMac, MAX_INTERFACE_NAME_LENGTH } from './validate.js';

/** Default host-side interface prefix. */
export const DEFAULT_INTERFACE_PREFIX = 'cali';

/**
 * The interface prefix Calico uses given `FELIX_INTERFACEPREFIX` (first comma-separated entry;
 * `cali` when unset or empty).
 */
export function interfacePrefixFromEnv(value: string | undefined = process.env.FELIX_INTERFACEPREFIX): string {
  const first = (value ?? '').split(',')[0]!.trim();
  return first === '' ? DEFAULT_INTERFACE_PREFIX : first;
}

function checkLength(name: string, field: string, value: unknown): string {
  if (name.length > MAX_INTERFACE_NAME_LENGTH) {
    invalid(field, value, `resulting interface name ${name} is longer than ${MAX_INTERFACE_NAME_LENGTH} characters`);
  }
  return name;
}

/**
 * Host-side veth name of a Kubernetes pod: prefix + the first 11 lower-case hex characters of
 * SHA-1(`<namespace>.<pod>`). `default`/`nginx` → `calic440f455693`.
 * @throws ValidationError for empty namespace/pod or a prefix that makes the name exceed 15 characters.
 */
export function workloadInterfaceName(namespace: string, pod: string, options: { prefix?: string } = {}): string {
  if (typeof namespace !== 'string' || namespace === '') invalid('namespace', namespace, 'must be a non-empty string');
  if (typeof pod !== 'string' || pod === '') invalid('pod', pod, 'must be a non-empty string');
  const prefix = options.prefix ?? DEFAULT_INTERFACE_PREFIX;
  const hash = createHash('sha1').update(`${namespace}.${pod}`).digest('hex').slice(0, 11);
  return checkLength(`${prefix}${hash}`, 'prefix', prefix);
}

/**
 * Host-side veth name for other orchestrators: `cali` + the first 11 characters of the container ID.
 * @throws ValidationError for an empty ID or an over-long result.
 */
export function containerInterfaceName(containerId: string, options: { prefix?: string } = {}): string {
  if (typeof containerId !== 'string' || containerId === '') invalid('containerId', containerId, 'must be a non-empty string');
  const prefix = options.prefix ?? DEFAULT_INTERFACE_PREFIX;
  return checkLength(`${prefix}${containerId.slice(0, 11)}`, 'prefix', prefix);
}

/**
 * A node's derived VXLAN VTEP MAC: `66` followed by the first 5 bytes of SHA-1 of the node name
 * (`<node>-v6` for IPv6). `node-a` → `66:07:02:c1:cc:60`.
 */
export function vtepMac(nodeName: string, options: { ipv6?: boolean } = {}): string {
  if (typeof nodeName !== 'string' || nodeName === '') invalid('nodeName', nodeName, 'must be a non-empty string');
  const digest = createHash('sha1').update(options.ipv6 ? `${nodeName}-v6` : nodeName).digest();
  return formatMac(Buffer.concat([Buffer.from([0x66]), digest.subarray(0, 5)]));
}

/** Calico's device names. */
export const CalicoDevice = {
  /** IPv4 VXLAN device. */
  vxlan: 'vxlan.calico',
  /** IPv6 VXLAN device. */
  vxlanV6: 'vxlan-v6.calico',
  /** The kernel's fallback IPIP device. */
  ipip: 'tunl0',
} as const;
