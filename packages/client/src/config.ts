/**
 * calicoctl's datastore configuration (libcalico-go `lib/apiconfig`): the `CalicoAPIConfig`
 * file and the environment variables, with the same field names, precedence and defaults.
 * Pure parsing only: reading files and building datastores is in `backends.ts`.
 */
import { ParseError, ValidationError, type FieldError, type ObjectMeta } from '@libcalico-ts/api';
import { LineCounter, parseDocument } from 'yaml';

/** The datastore types calicoctl knows. */
export const DatastoreType = { EtcdV3: 'etcdv3', Kubernetes: 'kubernetes' } as const;
export type DatastoreType = (typeof DatastoreType)[keyof typeof DatastoreType];

/**
 * The spec of a `CalicoAPIConfig` (JSON names as in calicoctl's config file). Every field is
 * optional. When `datastoreType` is empty it is `etcdv3` if `etcdEndpoints` is set, else
 * `kubernetes` (calicoctl's rule).
 */
export interface CalicoAPIConfigSpec {
  datastoreType?: DatastoreType;
  /** Comma-separated etcd client URLs (`http://10.0.0.1:2379,http://10.0.0.2:2379`). Env `ETCD_ENDPOINTS`. */
  etcdEndpoints?: string;
  /** A DNS domain whose `_etcd-client-ssl._tcp` / `_etcd-client._tcp` SRV records list the endpoints. Env `ETCD_DISCOVERY_SRV`. */
  etcdDiscoverySrv?: string;
  /** etcd user (not supported by `@libcalico-ts/datastore-etcd`: rejected). Env `ETCD_USERNAME`. */
  etcdUsername?: string;
  /** etcd password (rejected, see `etcdUsername`). Env `ETCD_PASSWORD`. */
  etcdPassword?: string;
  /** PEM client key file. Env `ETCD_KEY_FILE`. */
  etcdKeyFile?: string;
  /** PEM client certificate file. Env `ETCD_CERT_FILE`. */
  etcdCertFile?: string;
  /** PEM CA certificate file. Env `ETCD_CA_CERT_FILE`. */
  etcdCACertFile?: string;
  /** Inline PEM client key (file only, no env variable). */
  etcdKey?: string;
  /** Inline PEM client certificate (file only). */
  etcdCert?: string;
  /** Inline PEM CA certificate (file only). */
  etcdCACert?: string;
  /** kubeconfig path. Env `KUBECONFIG` (with several paths, the first existing file is used). */
  kubeconfig?: string;
  /** API server URL; overrides the kubeconfig's server, or is used without a kubeconfig. Env `K8S_API_ENDPOINT`. */
  k8sAPIEndpoint?: string;
  /** Client key file. Env `K8S_KEY_FILE`. */
  k8sKeyFile?: string;
  /** Client certificate file. Env `K8S_CERT_FILE`. */
  k8sCertFile?: string;
  /** CA file of the API server. Env `K8S_CA_FILE`. */
  k8sCAFile?: string;
  /** Bearer token. Env `K8S_API_TOKEN`. */
  k8sAPIToken?: string;
  /** Skip verification of the API server certificate. Env `K8S_INSECURE_SKIP_TLS_VERIFY`. */
  k8sInsecureSkipTLSVerify?: boolean;
  /** Accepted for compatibility; no effect here. Env `K8S_DISABLE_NODE_POLL`. */
  k8sDisableNodePoll?: boolean;
  /** host-local IPAM mode (Node IPIP address from the pod CIDR). Env `USE_POD_CIDR`. */
  usePodCIDR?: boolean;
  /** Inline kubeconfig text; wins over `kubeconfig` (file only). */
  kubeconfigInline?: string;
  /** Accepted for compatibility; no effect here. Env `K8S_CLIENT_QPS`. */
  k8sClientQPS?: number;
  /** Accepted for compatibility; no effect here. Env `K8S_CLIENT_BURST`. */
  k8sClientBurst?: number;
  /** kubeconfig context to use instead of its `current-context`. Env `K8S_CURRENT_CONTEXT`. */
  k8sCurrentContext?: string;
  /** `crd.projectcalico.org/v1` or `projectcalico.org/v3`; empty = discovery. Env `CALICO_API_GROUP`. */
  calicoAPIGroup?: string;
}

/** A calicoctl configuration file (`/etc/calico/calicoctl.cfg`). */
export interface CalicoAPIConfig {
  apiVersion: 'projectcalico.org/v3';
  kind: 'CalicoAPIConfig';
  metadata?: ObjectMeta;
  spec: CalicoAPIConfigSpec;
}

/** An environment: `process.env` or any map of variables. */
export type Environment = Readonly<Record<string, string | undefined>>;

type FieldType = 'string' | 'boolean' | 'number' | 'integer';

/** Spec fields: JSON name, type, and environment variable (absent = file only). */
const SPEC_FIELDS: ReadonlyArray<readonly [keyof CalicoAPIConfigSpec, FieldType, string | undefined]> = [
  ['datastoreType', 'string', 'DATASTORE_TYPE'],
  ['etcdEndpoints', 'string', 'ETCD_ENDPOINTS'],
  ['etcdDiscoverySrv', 'string', 'ETCD_DISCOVERY_SRV'],
  ['etcdUsername', 'string', 'ETCD_USERNAME'],
  ['etcdPassword', 'string', 'ETCD_PASSWORD'],
  ['etcdKeyFile', 'string', 'ETCD_KEY_FILE'],
  ['etcdCertFile', 'string', 'ETCD_CERT_FILE'],
  ['etcdCACertFile', 'string', 'ETCD_CA_CERT_FILE'],
  ['etcdKey', 'string', undefined],
  ['etcdCert', 'string', undefined],
  ['etcdCACert', 'string', undefined],
  ['kubeconfig', 'string', 'KUBECONFIG'],
  ['k8sAPIEndpoint', 'string', 'K8S_API_ENDPOINT'],
  ['k8sKeyFile', 'string', 'K8S_KEY_FILE'],
  ['k8sCertFile', 'string', 'K8S_CERT_FILE'],
  ['k8sCAFile', 'string', 'K8S_CA_FILE'],
  ['k8sAPIToken', 'string', 'K8S_API_TOKEN'],
  ['k8sInsecureSkipTLSVerify', 'boolean', 'K8S_INSECURE_SKIP_TLS_VERIFY'],
  ['k8sDisableNodePoll', 'boolean', 'K8S_DISABLE_NODE_POLL'],
  ['usePodCIDR', 'boolean', 'USE_POD_CIDR'],
  ['kubeconfigInline', 'string', undefined],
  ['k8sClientQPS', 'number', 'K8S_CLIENT_QPS'],
  ['k8sClientBurst', 'integer', 'K8S_CLIENT_BURST'],
  ['k8sCurrentContext', 'string', 'K8S_CURRENT_CONTEXT'],
  ['calicoAPIGroup', 'string', 'CALICO_API_GROUP'],
];

const API_GROUPS = ['crd.projectcalico.org/v1', 'projectcalico.org/v3'];

/** Go's `strconv.ParseBool`. */
function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

function checkValues(spec: CalicoAPIConfigSpec, fields: FieldError[], path: (field: string) => string): void {
  if (spec.datastoreType !== undefined && (spec.datastoreType as string) !== '' && !Object.values(DatastoreType).includes(spec.datastoreType)) {
    fields.push({ name: path('datastoreType'), value: spec.datastoreType, reason: 'must be "etcdv3" or "kubernetes"' });
  }
  if (spec.calicoAPIGroup !== undefined && spec.calicoAPIGroup !== '' && !API_GROUPS.includes(spec.calicoAPIGroup)) {
    fields.push({ name: path('calicoAPIGroup'), value: spec.calicoAPIGroup, reason: `must be one of ${API_GROUPS.join(', ')}` });
  }
}

/**
 * Applies calicoctl's defaulting to a spec (a copy is returned): an empty `datastoreType` becomes
 * `etcdv3` when `etcdEndpoints` (or `etcdDiscoverySrv`) is set, else `kubernetes`. Empty strings
 * are removed.
 */
export function applyConfigDefaults(spec: CalicoAPIConfigSpec): CalicoAPIConfigSpec {
  const out: CalicoAPIConfigSpec = {};
  for (const [key, value] of Object.entries(spec)) {
    if (value !== undefined && value !== '') (out as Record<string, unknown>)[key] = value;
  }
  if (!out.datastoreType) out.datastoreType = out.etcdEndpoints || out.etcdDiscoverySrv ? 'etcdv3' : 'kubernetes';
  return out;
}

/**
 * Reads the datastore configuration from environment variables, as calicoctl does: for each
 * field the variable `CALICO_<NAME>` wins over `<NAME>` (e.g. `CALICO_DATASTORE_TYPE`, then
 * `DATASTORE_TYPE`). Also honours the CNI plugin's legacy `ETCD_AUTHORITY` (+ `ETCD_SCHEME`,
 * default `http`) when `ETCD_ENDPOINTS` is empty. Defaults are applied ({@link applyConfigDefaults}).
 *
 * @throws ValidationError naming the variable for an unknown datastore type or API group, or a
 *   malformed boolean / number.
 *
 * @example
 * ```ts
 * calicoAPIConfigFromEnv({ ETCD_ENDPOINTS: 'http://127.0.0.1:2379' }).spec;
 * // { etcdEndpoints: 'http://127.0.0.1:2379', datastoreType: 'etcdv3' }
 * ```
 */
export function calicoAPIConfigFromEnv(env: Environment = defaultEnvironment()): CalicoAPIConfig {
  const spec: Record<string, unknown> = {};
  const fields: FieldError[] = [];
  const names = new Map<string, string>();
  for (const [key, type, variable] of SPEC_FIELDS) {
    if (!variable) continue;
    const prefixed = `CALICO_${variable}`;
    const name = env[prefixed] !== undefined ? prefixed : variable;
    const raw = env[name];
    names.set(key, name);
    if (raw === undefined || raw === '') continue;
    switch (type) {
      case 'string':
        spec[key] = raw;
        break;
      case 'boolean': {
        const value = parseGoBool(raw.trim());
        if (value === undefined) fields.push({ name, value: raw, reason: 'must be a boolean (true/false/1/0)' });
        else spec[key] = value;
        break;
      }
      case 'number':
      case 'integer': {
        const value = Number(raw.trim());
        if (raw.trim() === '' || !Number.isFinite(value) || (type === 'integer' && !Number.isInteger(value))) {
          fields.push({ name, value: raw, reason: `must be ${type === 'integer' ? 'an integer' : 'a number'}` });
        } else spec[key] = value;
        break;
      }
    }
  }
  if (!spec.etcdEndpoints && env.ETCD_AUTHORITY) {
    spec.etcdEndpoints = `${env.ETCD_SCHEME || 'http'}://${env.ETCD_AUTHORITY}`;
  }
  checkValues(spec as CalicoAPIConfigSpec, fields, (field) => names.get(field) ?? field);
  if (fields.length > 0) throw new ValidationError(fields, { identifier: 'datastore configuration from the environment' });
  return { apiVersion: 'projectcalico.org/v3', kind: 'CalicoAPIConfig', spec: applyConfigDefaults(spec as CalicoAPIConfigSpec) };
}

/**
 * Parses a calicoctl configuration file (YAML or JSON):
 *
 * ```yaml
 * apiVersion: projectcalico.org/v3
 * kind: CalicoAPIConfig
 * metadata: {}
 * spec:
 *   datastoreType: etcdv3
 *   etcdEndpoints: https://10.0.0.1:2379
 *   etcdCACertFile: /etc/calico/ca.pem
 * ```
 *
 * Parsing is strict, like calicoctl's: unknown fields and wrongly typed values are errors.
 * Defaults are applied ({@link applyConfigDefaults}).
 *
 * @param source Named in error messages (a file path).
 * @throws ParseError for text that is not one YAML/JSON document (with line and column);
 *   ValidationError (field paths such as `spec.etcdEndpoints`) for a wrong `apiVersion`/`kind`,
 *   unknown or mistyped fields, an unknown datastore type.
 */
export function parseCalicoAPIConfig(text: string, source = 'CalicoAPIConfig'): CalicoAPIConfig {
  if (typeof text !== 'string') throw new ValidationError([{ name: '', value: text, reason: 'the configuration must be text' }], { identifier: source });
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const pos = lineCounter.linePos(first.pos[0]);
    throw new ParseError(`syntax error in ${source}: ${first.message.split('\n')[0]}`, {
      identifier: source,
      position: first.pos[0],
      ...(pos ? { line: pos.line, column: pos.col } : {}),
      cause: first,
    });
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  const fields: FieldError[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError([{ name: '', value, reason: 'the configuration must be a CalicoAPIConfig object' }], { identifier: source });
  }
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!['apiVersion', 'kind', 'metadata', 'spec'].includes(key)) fields.push({ name: key, value: obj[key], reason: `unknown field "${key}"` });
  }
  if (obj.apiVersion !== 'projectcalico.org/v3') {
    fields.push({ name: 'apiVersion', value: obj.apiVersion, reason: `invalid config file: unknown APIVersion '${String(obj.apiVersion ?? '')}' (expected projectcalico.org/v3)` });
  }
  if (obj.kind !== 'CalicoAPIConfig') {
    fields.push({ name: 'kind', value: obj.kind, reason: `invalid config file: expected kind 'CalicoAPIConfig', got '${String(obj.kind ?? '')}'` });
  }
  if (obj.metadata !== undefined && obj.metadata !== null && (typeof obj.metadata !== 'object' || Array.isArray(obj.metadata))) {
    fields.push({ name: 'metadata', value: obj.metadata, reason: 'metadata must be an object' });
  }
  const spec: Record<string, unknown> = {};
  const rawSpec = obj.spec ?? {};
  if (typeof rawSpec !== 'object' || Array.isArray(rawSpec)) {
    fields.push({ name: 'spec', value: rawSpec, reason: 'spec must be an object' });
  } else {
    const known = new Map(SPEC_FIELDS.map(([key, type]) => [key as string, type]));
    for (const [key, item] of Object.entries(rawSpec as Record<string, unknown>)) {
      const type = known.get(key);
      if (!type) {
        fields.push({ name: `spec.${key}`, value: item, reason: `unknown field "${key}"` });
        continue;
      }
      if (item === null || item === undefined) continue;
      const ok =
        type === 'string'
          ? typeof item === 'string'
          : type === 'boolean'
            ? typeof item === 'boolean'
            : typeof item === 'number' && Number.isFinite(item) && (type === 'number' || Number.isInteger(item));
      if (!ok) fields.push({ name: `spec.${key}`, value: item, reason: `must be ${type === 'integer' ? 'an integer' : `a ${type}`}` });
      else spec[key] = item;
    }
  }
  checkValues(spec as CalicoAPIConfigSpec, fields, (field) => `spec.${field}`);
  if (fields.length > 0) throw new ValidationError(fields, { identifier: source });
  const out: CalicoAPIConfig = { apiVersion: 'projectcalico.org/v3', kind: 'CalicoAPIConfig', spec: applyConfigDefaults(spec as CalicoAPIConfigSpec) };
  if (obj.metadata && typeof obj.metadata === 'object') out.metadata = obj.metadata as ObjectMeta;
  return out;
}

/** `process.env` where there is one, else an empty environment (browsers). */
export function defaultEnvironment(): Environment {
  return (globalThis as { process?: { env?: Environment } }).process?.env ?? {};
}
