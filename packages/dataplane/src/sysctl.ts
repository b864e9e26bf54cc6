/**
 * Sysctls under /proc/sys. Network sysctls are per network namespace: the files show the namespace
 * of the process that opens them, so {@link readSysctl}/{@link writeSysctl} act on the namespace of
 * this process. For another namespace use the same methods on a {@link NetnsSession}.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { ResourceNotFoundError } from '@libcalico-ts/api';
import { invalid, validateInterfaceName } from './validate.js';

/**
 * Turns a sysctl key into its /proc/sys path. Accepts `net.ipv4.ip_forward`, the slash form
 * `net/ipv4/conf/vxlan.calico/forwarding` (needed when a segment contains a dot, as sysctl(8)
 * does), or an array of segments.
 * @throws ValidationError for empty, `.`/`..` or NUL-containing segments.
 */
export function sysctlPath(key: string | readonly string[]): string {
  const segments = typeof key === 'string' ? (key.includes('/') ? key.split('/') : key.split('.')) : [...key];
  if (segments.length === 0 || segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\0') || s.includes('/'))) {
    invalid('key', key, 'sysctl key must be non-empty segments without "/", "." or ".." segments');
  }
  return `/proc/sys/${segments.join('/')}`;
}

/**
 * Segments of a per-interface sysctl: `interfaceSysctl(4, 'conf', 'cali1', 'proxy_arp')` →
 * `net/ipv4/conf/cali1/proxy_arp`. `table` is `conf` or `neigh`.
 */
export function interfaceSysctl(family: 4 | 6, table: 'conf' | 'neigh', link: string, name: string): string[] {
  validateInterfaceName(link, 'link');
  return ['net', family === 4 ? 'ipv4' : 'ipv6', table, link, name];
}

/**
 * Reads a sysctl (trimmed). ResourceNotFoundError when it does not exist (e.g. the interface is
 * gone, or IPv6 is disabled).
 */
export async function readSysctl(key: string | readonly string[]): Promise<string> {
  const path = sysctlPath(key);
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ResourceNotFoundError(`sysctl ${path}`, { cause: error });
    throw error;
  }
}

/**
 * Writes a sysctl. ResourceNotFoundError when the key does not exist; other errors (EINVAL for a
 * refused value, EACCES when not root) are rethrown as is.
 */
export async function writeSysctl(key: string | readonly string[], value: string | number): Promise<void> {
  const path = sysctlPath(key);
  const text = String(value);
  if (text.includes('\n') || text.length === 0) invalid('value', value, 'sysctl value must be a non-empty single line');
  try {
    await writeFile(path, text);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ResourceNotFoundError(`sysctl ${path}`, { cause: error });
    throw error;
  }
}

/** The host-side per-interface sysctls Calico sets on a workload veth (reference §9.3, CNI §5.4). */
export function workloadHostSysctls(link: string, families: { ipv4: boolean; ipv6: boolean }): { key: string[]; value: string; optional: boolean }[] {
  const out: { key: string[]; value: string; optional: boolean }[] = [];
  if (families.ipv4) {
    out.push({ key: interfaceSysctl(4, 'conf', link, 'route_localnet'), value: '1', optional: false });
    out.push({ key: interfaceSysctl(4, 'neigh', link, 'proxy_delay'), value: '0', optional: true });
    out.push({ key: interfaceSysctl(4, 'conf', link, 'proxy_arp'), value: '1', optional: false });
    out.push({ key: interfaceSysctl(4, 'conf', link, 'forwarding'), value: '1', optional: false });
  }
  if (families.ipv6) {
    out.push({ key: interfaceSysctl(6, 'conf', link, 'accept_dad'), value: '0', optional: false });
    out.push({ key: interfaceSysctl(6, 'conf', link, 'disable_ipv6'), value: '0', optional: false });
    out.push({ key: interfaceSysctl(6, 'conf', link, 'proxy_ndp'), value: '1', optional: false });
    out.push({ key: interfaceSysctl(6, 'conf', link, 'forwarding'), value: '1', optional: false });
  }
  // Calico always tries accept_ra=0 and ignores a failure (no IPv6 in the kernel).
  out.push({ key: interfaceSysctl(6, 'conf', link, 'accept_ra'), value: '0', optional: true });
  return out;
}

/** The global sysctls Felix sets on a node (reference §8.4). */
export function felixGlobalSysctls(options: { ipv6?: boolean } = {}): { key: string; value: string }[] {
  const out = [{ key: 'net.ipv4.ip_forward', value: '1' }];
  if (options.ipv6) out.push({ key: 'net.ipv6.conf.all.forwarding', value: '1' });
  out.push({ key: 'net.netfilter.nf_conntrack_acct', value: '1' });
  return out;
}
