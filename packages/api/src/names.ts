/**
 * WorkloadEndpoint naming (reference datastore.md §4.8): segments joined by `-`, with every `-`
 * inside a segment doubled.
 */
import { ValidationError } from './errors.js';
import type { WorkloadEndpointSpec } from './resources.js';

function escapeSegment(segment: string): string {
  return segment.replace(/-/g, '--');
}

/** The identifiers a WorkloadEndpoint name is built from. */
export type WorkloadEndpointIdentifiers = Pick<
  WorkloadEndpointSpec,
  'node' | 'orchestrator' | 'workload' | 'pod' | 'containerID' | 'endpoint'
>;

/**
 * Computes the mandatory WorkloadEndpoint name: `<node>-k8s-<pod>-<endpoint>` for `k8s`,
 * `<node>-cni-<containerID>-<endpoint>` for `cni`, `<node>-libnetwork-libnetwork-<endpoint>`
 * for `libnetwork`, else `<node>-<orchestrator>-<workload>-<endpoint>`; dashes inside each
 * segment are doubled.
 *
 * @throws ValidationError naming the missing identifier fields, or a segment that starts or ends with `-`.
 *
 * @example
 * ```ts
 * workloadEndpointName({ node: 'node-1', orchestrator: 'k8s', pod: 'nginx-6799fc88d8-x2vqk', endpoint: 'eth0' });
 * // 'node--1-k8s-nginx--6799fc88d8--x2vqk-eth0'
 * ```
 */
export function workloadEndpointName(ids: WorkloadEndpointIdentifiers): string {
  const { node, orchestrator, endpoint } = ids;
  let workload: string | undefined;
  let workloadField: string;
  switch (orchestrator) {
    case 'k8s':
      workload = ids.pod;
      workloadField = 'pod';
      break;
    case 'cni':
      workload = ids.containerID;
      workloadField = 'containerID';
      break;
    case 'libnetwork':
      workload = 'libnetwork';
      workloadField = 'workload';
      break;
    default:
      workload = ids.workload;
      workloadField = 'workload';
  }
  const segments: Array<[string, unknown]> = [
    ['node', node],
    ['orchestrator', orchestrator],
    [workloadField, workload],
    ['endpoint', endpoint],
  ];
  const problems = segments.flatMap(([field, value]) => {
    if (typeof value !== 'string' || value === '') {
      return [{ name: `spec.${field}`, value, reason: `${field} is required to compute the WorkloadEndpoint name` }];
    }
    if (value.startsWith('-') || value.endsWith('-')) {
      return [{ name: `spec.${field}`, value, reason: 'a name segment may not start or end with "-"' }];
    }
    return [];
  });
  if (problems.length > 0) throw new ValidationError(problems);
  return segments.map(([, value]) => escapeSegment(value as string)).join('-');
}

/**
 * Splits a WorkloadEndpoint name into its un-escaped segments (a `--` is an escaped dash, a
 * single `-` a separator). Returns undefined when the name has fewer than 4 segments.
 *
 * @example
 * ```ts
 * parseWorkloadEndpointName('node--1-k8s-nginx--6799fc88d8--x2vqk-eth0');
 * // { node: 'node-1', orchestrator: 'k8s', workload: 'nginx-6799fc88d8-x2vqk', endpoint: 'eth0' }
 * ```
 */
export function parseWorkloadEndpointName(
  name: string,
): { node: string; orchestrator: string; workload: string; endpoint: string } | undefined {
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    if (ch === '-') {
      if (name[i + 1] === '-') {
        current += '-';
        i++;
      } else {
        segments.push(current);
        current = '';
      }
    } else current += ch;
  }
  segments.push(current);
  if (segments.length !== 4 || segments.some((s) => s === '')) return undefined;
  const [node, orchestrator, workload, endpoint] = segments as [string, string, string, string];
  return { node, orchestrator, workload, endpoint };
}

/**
 * The name prefix of every WorkloadEndpoint on `node` (`<escaped node>-`). Prefix matches are
 * ambiguous (node `a` vs `a-b`): re-check `spec.node` on the results.
 */
export function workloadEndpointNamePrefix(node: string): string {
  return `${escapeSegment(node)}-`;
}
