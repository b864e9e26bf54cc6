/**
 * v3 objects <-> Calico custom resources (reference §7.2, §7.3).
 *
 * In `crd.projectcalico.org/v1` mode the CR spec/status are the v3 ones, the Calico metadata is
 * kept as JSON in the `projectcalico.org/metadata` annotation, only `projectcalico.org/` and
 * `operator.tigera.io/` labels/annotations are copied onto the CR, and UIDs are bit-reversed.
 * In `projectcalico.org/v3` mode objects are stored as they are.
 */
import { API_VERSION, ParseError, type ObjectMeta, type OwnerReference, type V3Object } from '@libcalico-ts/api';
import { convertUid } from '../uid.js';

/** Which Calico CRD group the datastore talks to. */
export const CalicoApiGroup = { V1: 'crd.projectcalico.org/v1', V3: 'projectcalico.org/v3' } as const;
export type CalicoApiGroup = (typeof CalicoApiGroup)[keyof typeof CalicoApiGroup];

/** The annotation holding the v3 metadata of a v1 CR. */
export const METADATA_ANNOTATION = 'projectcalico.org/metadata';

const POLICY_KINDS = new Set(['NetworkPolicy', 'GlobalNetworkPolicy', 'StagedNetworkPolicy', 'StagedGlobalNetworkPolicy']);

/** Labels and annotations Calico keeps on the CR itself. */
export function isCalicoOwnedKey(key: string): boolean {
  return key.includes('projectcalico.org/') || key.includes('operator.tigera.io/');
}

/** A CR as JSON. */
export interface CustomResource {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta & Record<string, unknown>;
  spec?: unknown;
  status?: unknown;
  [key: string]: unknown;
}

function convertOwnerRefs(refs: OwnerReference[] | undefined, from: string[], to: string): OwnerReference[] | undefined {
  if (!refs) return undefined;
  return refs.map((ref) => (from.includes(ref.apiVersion) ? { ...ref, apiVersion: to, uid: convertUid(ref.uid) } : { ...ref }));
}

/** ObjectMeta as Go's encoder writes it: struct field order, empty fields left out, creationTimestamp always present. */
export function goObjectMeta(meta: ObjectMeta & Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => {
    if (v === undefined || v === '' || v === 0) return;
    if (typeof v === 'object' && v !== null && Object.keys(v).length === 0) return;
    out[k] = v;
  };
  put('name', meta.name);
  put('generateName', meta.generateName);
  put('namespace', meta.namespace);
  put('uid', meta.uid);
  put('resourceVersion', meta.resourceVersion);
  put('generation', meta.generation);
  out.creationTimestamp = meta.creationTimestamp ?? null;
  put('deletionTimestamp', meta.deletionTimestamp ?? undefined);
  put('deletionGracePeriodSeconds', meta.deletionGracePeriodSeconds);
  put('labels', meta.labels && sortKeys(meta.labels));
  put('annotations', meta.annotations && sortKeys(meta.annotations));
  put('ownerReferences', meta.ownerReferences);
  put('finalizers', meta.finalizers);
  return out;
}

function sortKeys(map: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(map).sort()) out[k] = map[k];
  return out;
}

/**
 * Builds the CR for a v3 object. `crKind` is the CR kind (`IPAMConfig` for IPAMConfiguration in
 * v1). The CR has `resourceVersion` only when the v3 object has one (updates).
 */
export function v3ToCustomResource(object: V3Object, crKind: string, group: CalicoApiGroup): CustomResource {
  const meta = object.metadata ?? {};
  if (group === CalicoApiGroup.V3) {
    const out: CustomResource = { apiVersion: group, kind: crKind, metadata: { ...meta } };
    if (object.spec !== undefined) out.spec = object.spec;
    if (object.status !== undefined) out.status = object.status;
    return out;
  }
  const stored: ObjectMeta & Record<string, unknown> = { ...meta };
  delete stored.namespace;
  delete stored.resourceVersion;
  delete stored.uid;
  if (!POLICY_KINDS.has(object.kind)) delete stored.name;
  const refs = convertOwnerRefs(meta.ownerReferences, [API_VERSION], CalicoApiGroup.V1);
  if (refs) stored.ownerReferences = refs;
  const annotations: Record<string, string> = { [METADATA_ANNOTATION]: JSON.stringify(goObjectMeta(stored)) };
  for (const [k, v] of Object.entries(meta.annotations ?? {})) if (isCalicoOwnedKey(k)) annotations[k] = v;
  const crMeta: ObjectMeta & Record<string, unknown> = { name: meta.name };
  if (meta.namespace) crMeta.namespace = meta.namespace;
  if (meta.resourceVersion) crMeta.resourceVersion = meta.resourceVersion;
  if (meta.uid) crMeta.uid = convertUid(meta.uid);
  const labels = Object.entries(meta.labels ?? {}).filter(([k]) => isCalicoOwnedKey(k));
  if (labels.length > 0) crMeta.labels = Object.fromEntries(labels);
  crMeta.annotations = annotations;
  const out: CustomResource = { apiVersion: group, kind: crKind, metadata: crMeta };
  if (object.spec !== undefined) out.spec = object.spec;
  if (object.status !== undefined) out.status = object.status;
  return out;
}

function stripDefaultTierPrefix(name: string, spec: unknown): string {
  const tier = (spec as { tier?: unknown } | undefined)?.tier;
  if ((tier === undefined || tier === '' || tier === 'default') && name.startsWith('default.')) return name.slice('default.'.length);
  return name;
}

/**
 * Reads a CR as the v3 object `kind`. Fails with `ParseError` when the metadata annotation is
 * not valid JSON.
 */
export function customResourceToV3(cr: CustomResource, kind: string, group: CalicoApiGroup): V3Object {
  const crMeta = (cr.metadata ?? {}) as ObjectMeta & Record<string, unknown>;
  let meta: ObjectMeta & Record<string, unknown>;
  if (group === CalicoApiGroup.V3) {
    meta = { ...crMeta };
    delete meta.managedFields;
    delete meta.selfLink;
  } else {
    const annotation = crMeta.annotations?.[METADATA_ANNOTATION];
    if (annotation === undefined) {
      meta = { ...crMeta };
      delete meta.managedFields;
      delete meta.selfLink;
      if (typeof meta.uid === 'string' && meta.uid) meta.uid = convertUid(meta.uid);
    } else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(annotation);
      } catch (error) {
        throw new ParseError(`annotation ${METADATA_ANNOTATION} of ${kind} ${String(crMeta.name)} is not valid JSON`, { cause: error });
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new ParseError(`annotation ${METADATA_ANNOTATION} of ${kind} ${String(crMeta.name)} is not a JSON object`);
      }
      const stored = parsed as ObjectMeta & Record<string, unknown>;
      const labels: Record<string, string> = { ...(crMeta.labels ?? {}), ...(stored.labels ?? {}) };
      const annotations: Record<string, string> = { ...(crMeta.annotations ?? {}) };
      delete annotations[METADATA_ANNOTATION];
      Object.assign(annotations, stored.annotations ?? {});
      meta = { ...stored };
      meta.name = stored.name || (POLICY_KINDS.has(kind) ? stripDefaultTierPrefix(String(crMeta.name), cr.spec) : crMeta.name);
      if (crMeta.namespace) meta.namespace = crMeta.namespace;
      else delete meta.namespace;
      meta.resourceVersion = crMeta.resourceVersion;
      if (typeof crMeta.uid === 'string' && crMeta.uid) meta.uid = convertUid(crMeta.uid);
      if (Object.keys(labels).length > 0) meta.labels = labels;
      else delete meta.labels;
      if (Object.keys(annotations).length > 0) meta.annotations = annotations;
      else delete meta.annotations;
      if (!meta.creationTimestamp) meta.creationTimestamp = crMeta.creationTimestamp ?? null;
      const refs = convertOwnerRefs(stored.ownerReferences, [CalicoApiGroup.V1, API_VERSION], API_VERSION);
      if (refs) meta.ownerReferences = refs;
    }
  }
  const out: V3Object = { kind, apiVersion: API_VERSION, metadata: meta, spec: cr.spec ?? {} };
  if (cr.status !== undefined) out.status = cr.status;
  return out;
}
