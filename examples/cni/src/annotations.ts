/**
 * Pod and namespace annotations the plugin honours under `policy.type: k8s` (reference cni.md §6).
 */
import { isIP } from 'node:net';
import { CniCode, CniError } from './cni.js';
import type { IpamAddOptions } from './ipam.js';
import type { CalicoNetConf } from './netconf.js';

export const Annotation = {
  ipv4Pools: 'cni.projectcalico.org/ipv4pools',
  ipv6Pools: 'cni.projectcalico.org/ipv6pools',
  ipFamilies: 'cni.projectcalico.org/ipFamilies',
  ipAddrs: 'cni.projectcalico.org/ipAddrs',
  ipAddrsNoIpam: 'cni.projectcalico.org/ipAddrsNoIpam',
  floatingIPs: 'cni.projectcalico.org/floatingIPs',
} as const;

/** Where the addresses come from (§6.2). */
export type AddressRequest = { kind: 'ipam' } | { kind: 'ipAddrs'; addresses: string[] } | { kind: 'noIpam'; addresses: string[] };

function fail(message: string): never {
  throw new CniError(CniCode.Calico, message);
}

function stringList(text: string, name: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    fail(`failed to parse ${name} annotation "${text}": ${(error as Error).message}`);
  }
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) fail(`failed to parse ${name} annotation "${text}": must be a JSON list of strings`);
  return value as string[];
}

/** Parses an `ipAddrs`-style value: non-empty, valid IPs, at most one per family. */
export function parseIpList(text: string, name: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    fail(`failed to parse IPs ${text} for annotation "${name}": ${(error as Error).message}`);
  }
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) fail(`failed to parse IPs ${text} for annotation "${name}": must be a JSON list of strings`);
  const list = value as string[];
  if (list.length === 0) fail(`annotation "${name}" specified but empty`);
  let v4 = 0;
  let v6 = 0;
  for (const ip of list) {
    const family = isIP(ip);
    if (family === 0) fail(`invalid IP format: ${ip}`);
    if (family === 4 && ++v4 > 1) fail(`cannot have more than one IPv4 address for "${name}" annotation`);
    if (family === 6 && ++v6 > 1) fail(`cannot have more than one IPv6 address for "${name}" annotation`);
  }
  return list;
}

/**
 * Reads the annotations: pool / family selection (pod value beats namespace value, key by key;
 * only for calico-ipam) and the address source. Validates everything before any allocation.
 * @throws CniError 999 with Calico's messages.
 */
export function podAnnotations(
  pod: Record<string, string>,
  namespace: Record<string, string>,
  conf: CalicoNetConf,
): { request: AddressRequest; ipam: IpamAddOptions } {
  const ipam: IpamAddOptions = {};
  const pick = (key: string) => (pod[key] ? pod[key] : namespace[key] ? namespace[key] : undefined);
  if (conf.ipam.type === 'calico-ipam') {
    const v4 = pick(Annotation.ipv4Pools);
    if (v4 !== undefined) ipam.ipv4Pools = stringList(v4, Annotation.ipv4Pools);
    const v6 = pick(Annotation.ipv6Pools);
    if (v6 !== undefined) ipam.ipv6Pools = stringList(v6, Annotation.ipv6Pools);
    const families = pick(Annotation.ipFamilies);
    if (families !== undefined) {
      const list = stringList(families, Annotation.ipFamilies);
      for (const f of list) if (f !== 'IPv4' && f !== 'IPv6') fail(`error parsing ipFamilies: unknown family "${f}"`);
      ipam.assignIpv4 = list.includes('IPv4') ? 'true' : 'false';
      ipam.assignIpv6 = list.includes('IPv6') ? 'true' : 'false';
    }
  }
  if (pod[Annotation.floatingIPs] && !conf.featureControl.floatingIps) fail('requested feature is not enabled: floating_ips');
  const addrs = pod[Annotation.ipAddrs];
  const noIpam = pod[Annotation.ipAddrsNoIpam];
  if (addrs !== undefined && noIpam !== undefined) fail("can't have both annotations: 'ipAddrs' and 'ipAddrsNoIpam' in use at the same time");
  if (addrs !== undefined) {
    if (conf.ipam.type !== 'calico-ipam') fail(`ipAddrs is not compatible with configured IPAM: ${conf.ipam.type}`);
    return { request: { kind: 'ipAddrs', addresses: parseIpList(addrs, Annotation.ipAddrs) }, ipam };
  }
  if (noIpam !== undefined) {
    if (conf.ipam.type !== 'calico-ipam') fail(`ipAddrsNoIpam is not compatible with configured IPAM: ${conf.ipam.type}`);
    if (!conf.featureControl.ipAddrsNoIpam) fail('requested feature is not enabled: ip_addrs_no_ipam');
    return { request: { kind: 'noIpam', addresses: parseIpList(noIpam, Annotation.ipAddrsNoIpam) }, ipam };
  }
  return { request: { kind: 'ipam' }, ipam };
}
