/**
 * The workload of the SIGKILL-at-every-write-point suite, shared by the test process and the
 * child it kills (test/helpers/reliability-child.ts).
 */
import type { WritePoint } from '@libcalico-ts/ipam';

export interface ChildConfig {
  endpoints: string[];
  /** Commit block + handle in one etcd transaction (true) or as two CAS writes (false). */
  atomic: boolean;
  /** Where to die; absent = run to the end and report the points reached. */
  kill?: { point: WritePoint; nth: number; when: 'before' | 'after' };
  /** Prefix of pod names (unique per run). */
  run: string;
}

/** One step of the workload, as logged. */
export type Step =
  | { kind: 'config' }
  | { kind: 'add'; pod: string; host: string }
  | { kind: 'del'; pod: string; host: string }
  | { kind: 'releaseHost'; host: string };

/** The workload, in order. Hosts a, b, c must exist; the pool must use /29 blocks. */
export function workload(run: string): Step[] {
  const steps: Step[] = [{ kind: 'config' }];
  // Host a: ten pods (two blocks), then two deletions.
  for (let i = 0; i < 10; i++) steps.push({ kind: 'add', pod: `${run}-a${i}`, host: 'a' });
  steps.push({ kind: 'del', pod: `${run}-a0`, host: 'a' }, { kind: 'del', pod: `${run}-a1`, host: 'a' });
  // Host b: one pod, deleted, then the node's affinities released (empty block deleted).
  steps.push({ kind: 'add', pod: `${run}-b0`, host: 'b' }, { kind: 'del', pod: `${run}-b0`, host: 'b' }, { kind: 'releaseHost', host: 'b' });
  // Host c: one live pod, then its affinity released (non-empty block left un-owned).
  steps.push({ kind: 'add', pod: `${run}-c0`, host: 'c' }, { kind: 'releaseHost', host: 'c' });
  return steps;
}

/** The IPAM handle of a pod, as the CNI plugin names it. */
export function handleOf(pod: string): string {
  return `k8s-pod-network.${pod}`;
}

