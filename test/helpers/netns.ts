/**
 * Throwaway network namespaces for kernel tests. Every namespace gets a unique name
 * (`lcts-<pid>-<n>`) and is deleted in a finally, so no test touches the host's own links, routes,
 * sysctls or iptables.
 */
import { execFileSync } from 'node:child_process';
import { createNetns, deleteNetns, openNetns, type NetnsSession } from '@libcalico-ts/dataplane';

let counter = 0;

/** A fresh namespace name unique to this process. */
export function uniqueNetnsName(tag = ''): string {
  counter++;
  return `lcts-${process.pid}-${counter}${tag ? `-${tag}` : ''}`;
}

/** Why kernel tests cannot run here, or null when they can (root + `ip netns` + nsenter). */
export function netnsUnavailableReason(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (network namespaces)';
  for (const bin of ['ip', 'nsenter']) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    } catch {
      return `${bin} is not installed`;
    }
  }
  return null;
}

/** Creates `count` namespaces, runs `fn` with their names and deletes them all afterwards. */
export async function withNetns<T>(count: number, fn: (...names: string[]) => Promise<T>): Promise<T> {
  const names: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const name = uniqueNetnsName();
      await createNetns(name);
      names.push(name);
    }
    return await fn(...names);
  } finally {
    for (const name of names) await deleteNetns(name, { ignoreMissing: true });
  }
}

/** One namespace with an open session (lo up); both cleaned up afterwards. */
export async function withNetnsSession<T>(fn: (session: NetnsSession, name: string) => Promise<T>): Promise<T> {
  return withNetns(1, async (name) => {
    const session = await openNetns(name);
    try {
      await session.setLinkUp('lo');
      return await fn(session, name);
    } finally {
      await session.close();
    }
  });
}

/** Runs a command inside a namespace (`ip netns exec`), returning stdout. Throws on failure. */
export function nsExec(name: string, command: string[]): string {
  return execFileSync('ip', ['netns', 'exec', name, ...command], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Whether `ping -c1 -W1 target` from inside `name` succeeds. */
export function canPing(name: string, target: string): boolean {
  try {
    nsExec(name, ['ping', '-c1', '-W1', target]);
    return true;
  } catch {
    return false;
  }
}
