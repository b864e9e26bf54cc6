/**
 * Named network namespaces, compatible with `ip netns`: a namespace `NAME` is a bind mount of a
 * namespace file at `/run/netns/NAME`. Creation and deletion are delegated to `ip netns add/delete`
 * (through a {@link CommandRunner}) because binding a namespace to a file needs unshare(2) and
 * mount(2), which Node cannot call without a native addon.
 */
import { existsSync, readdirSync } from 'node:fs';
import { ResourceExistsError, ResourceNotFoundError } from '@libcalico-ts/api';
import { defaultCommandRunner, runChecked, type CommandRunner } from './command.js';
import { invalid } from './validate.js';

/** Directory of named namespaces (as `ip netns`). */
export const NETNS_RUN_DIR = '/run/netns';

/** Checks a namespace name (`ip netns` rules: non-empty, no `/`, not `.`/`..`, at most 255 bytes). */
export function validateNetnsName(name: unknown, field = 'netns'): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 255 || name.includes('/') || name === '.' || name === '..' || name.includes('\0')) {
    invalid(field, name, 'namespace name must be 1-255 characters without "/" (and not "." or "..")');
  }
  return name;
}

/**
 * Path of a namespace: a name becomes `/run/netns/NAME`; an absolute path (e.g. `/proc/1234/ns/net`
 * or a CNI_NETNS value) is returned unchanged.
 * @throws ValidationError for relative paths and invalid names.
 */
export function netnsPath(nameOrPath: string, field = 'netns'): string {
  if (typeof nameOrPath === 'string' && nameOrPath.includes('/')) {
    if (!nameOrPath.startsWith('/') || nameOrPath.includes('\0')) invalid(field, nameOrPath, 'namespace path must be absolute');
    return nameOrPath;
  }
  return `${NETNS_RUN_DIR}/${validateNetnsName(nameOrPath, field)}`;
}

/** Whether the namespace (name or path) exists. */
export function netnsExists(nameOrPath: string): boolean {
  return existsSync(netnsPath(nameOrPath));
}

/** Names of the namespaces under /run/netns (sorted). */
export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_RUN_DIR).sort();
  } catch {
    return [];
  }
}

/**
 * Creates `/run/netns/NAME` (like `ip netns add`; `lo` stays down, as with `ip`).
 * @throws ValidationError bad name; ResourceExistsError when it exists; CommandError on failure.
 */
export async function createNetns(name: string, options: { runner?: CommandRunner } = {}): Promise<string> {
  validateNetnsName(name);
  if (netnsExists(name)) throw new ResourceExistsError(`netns ${name}`);
  await runChecked(options.runner ?? defaultCommandRunner, ['ip', 'netns', 'add', name]);
  return netnsPath(name);
}

/**
 * Deletes `/run/netns/NAME` (like `ip netns delete`). The namespace itself disappears when no
 * process or interface holds it any more (veth pairs inside are destroyed with it).
 * @returns false when it did not exist and `ignoreMissing` is set.
 * @throws ResourceNotFoundError when missing (without `ignoreMissing`); CommandError on failure.
 */
export async function deleteNetns(name: string, options: { runner?: CommandRunner; ignoreMissing?: boolean } = {}): Promise<boolean> {
  validateNetnsName(name);
  if (!netnsExists(name)) {
    if (options.ignoreMissing) return false;
    throw new ResourceNotFoundError(`netns ${name}`);
  }
  await runChecked(options.runner ?? defaultCommandRunner, ['ip', 'netns', 'delete', name]);
  return true;
}

/** Throws ResourceNotFoundError unless the namespace exists; returns its path. */
export function requireNetns(nameOrPath: string, field = 'netns'): string {
  const path = netnsPath(nameOrPath, field);
  if (!existsSync(path)) throw new ResourceNotFoundError(`netns ${nameOrPath}`, { message: `network namespace does not exist: ${nameOrPath}` });
  return path;
}
