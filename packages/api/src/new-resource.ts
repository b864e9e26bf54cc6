import { ValidationError } from './errors.js';
import { API_VERSION, KINDS, isResourceKind, type ResourceKind } from './kinds.js';
import type { ObjectMeta } from './meta.js';
import type { ResourceOfKind, SpecOfKind } from './resources.js';

/**
 * Builds a v3 resource envelope: `{kind, apiVersion: 'projectcalico.org/v3', metadata: {name[, namespace]}, spec}`.
 *
 * Nothing is defaulted or validated here (see {@link applyDefaults} and {@link validateResource}).
 * `namespace` is only stored for namespaced kinds (NetworkPolicy, NetworkSet, WorkloadEndpoint).
 *
 * @throws ValidationError: an unknown `kind` (possible from untyped callers) throws a `ValidationError`
 *   naming `kind`; a namespace given for a cluster-scoped kind throws a `ValidationError` naming
 *   `metadata.namespace`.
 *
 * @example
 * ```ts
 * const pool = newResource('IPPool', 'default-ipv4-ippool', { cidr: '192.168.0.0/16', ipipMode: 'Always' });
 * ```
 */
export function newResource<K extends ResourceKind>(
  kind: K,
  name: string,
  spec: SpecOfKind<K>,
  namespace?: string,
): ResourceOfKind<K> {
  if (!isResourceKind(kind)) {
    throw new ValidationError([{ name: 'kind', value: kind, reason: `unknown resource kind ${JSON.stringify(kind)}` }]);
  }
  const metadata: ObjectMeta = { name };
  if (namespace !== undefined && namespace !== '') {
    if (!KINDS[kind].namespaced) {
      throw new ValidationError(
        [{ name: 'metadata.namespace', value: namespace, reason: `${kind} is cluster-scoped and takes no namespace` }],
        { identifier: { kind, name } },
      );
    }
    metadata.namespace = namespace;
  }
  return { kind, apiVersion: API_VERSION, metadata, spec } as unknown as ResourceOfKind<K>;
}
