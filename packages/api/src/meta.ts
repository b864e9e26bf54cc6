/**
 * Kubernetes-style object envelope shared by every projectcalico.org/v3 resource.
 */
import type { ApiVersion } from './kinds.js';

/** An owner reference (Kubernetes ObjectMeta.ownerReferences). */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/**
 * Kubernetes ObjectMeta, JSON field names as on the wire.
 * `creationTimestamp` is RFC 3339 with whole seconds (`2026-03-01T10:00:00Z`), or null when unset.
 */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string | null;
  deletionTimestamp?: string | null;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
}

/** The common shape of a v3 resource: `{kind, apiVersion, metadata, spec, status?}`. */
export interface V3Object<Kind extends string = string, Spec = unknown, Status = unknown> {
  kind: Kind;
  apiVersion: ApiVersion;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}
