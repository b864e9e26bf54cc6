/**
 * A Kubernetes API test server: the project's only fake, used by every suite that needs a
 * Kubernetes API (the Kubernetes datastore, the CLI, the CNI plugin in KDD mode).
 *
 * What it does: a real HTTP(S) server on 127.0.0.1 and a free port, HTTPS with a self-signed
 * certificate made by `openssl` (or plain HTTP with an `insecure-skip-tls-verify` kubeconfig), bearer
 * token authentication (401 Status otherwise), and kube-apiserver semantics for:
 * - discovery: `/api`, `/api/v1`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>`, `/version`, `/healthz`;
 * - the Calico CRDs read from the fixture CRD YAMLs (`crd.projectcalico.org/v1`, optionally the
 *   `projectcalico.org/v3` ones), with their scope, `status` subresource and structural schema
 *   (defaulting, pruning of unknown fields, OpenAPI validation -> 422 Invalid; see kube-schema.ts);
 * - built-in `nodes` (+`/status`), `pods` (+`/status`), `namespaces` (+`/status`), `serviceaccounts`, `secrets`,
 *   `services` (+`/status`) and `discovery.k8s.io/v1` `endpointslices`;
 * - create (generateName, uid, creationTimestamp, generation, namespace must exist -> 404), get,
 *   update (resourceVersion CAS -> 409 Conflict; uid mismatch -> 409; no-op updates do not bump
 *   the resourceVersion; status subresources keep spec / main resource keeps status; generation
 *   bumps on spec changes), JSON merge patch, strategic merge patch (built-in kinds only; 415 for
 *   CRs, as the real server), JSON patch, delete with `preconditions` (uid / resourceVersion ->
 *   409), finalizers (delete sets deletionTimestamp; the object goes when the last finalizer is
 *   removed);
 * - list with `labelSelector`, `fieldSelector` (`metadata.name`, `metadata.namespace`, plus
 *   `spec.nodeName`/`status.phase` on pods), `limit`/`continue` (410 Expired for a compacted
 *   continue token), list resourceVersion;
 * - watch (`?watch=1`): from a resourceVersion (replayed from the event log) or from "now" with
 *   synthetic ADDED events, selector transitions as ADDED/DELETED, `allowWatchBookmarks` ->
 *   periodic BOOKMARK events, `timeoutSeconds`, and an ERROR event with a 410 Expired Status for a
 *   compacted resourceVersion;
 * - one global, monotonically increasing resourceVersion; `compact()` makes older ones 410;
 * - `Status` error bodies shaped exactly as the apiserver's (NotFound, AlreadyExists, Conflict,
 *   Invalid, BadRequest, Expired, UnsupportedMediaType, MethodNotAllowed, InternalError,
 *   ServiceUnavailable, Unauthorized);
 * - fault injection: fail the next N (matching) requests with 500/503/..., end or break all open
 *   watch streams, send an ERROR event; raw object reads/writes that bypass validation; a log of
 *   every request (method, path, query, content type, body).
 * Integers beyond 2^53 are kept exact (as the Go server does); custom resources are encoded with
 * sorted keys like the real server's unstructured encoder, built-in objects in insertion order.
 *
 * What it does NOT do: no etcd and no persistence; no RBAC/authorization or admission webhooks
 * (the NamespaceLifecycle check is the only admission); no CEL validation rules, `format` checks or
 * CRD conversion webhooks; no server-side apply (`application/apply-patch+yaml` -> 415), no
 * `managedFields`, no `fieldValidation=Strict`; no protobuf, table or partial-object-metadata
 * output; lists are always served from the latest state (`resourceVersionMatch=Exact` of an old
 * version and consistent paginated snapshots are not reproduced: a continue token lists the
 * current state after the last key); watches ignore `sendInitialEvents` and accept a future
 * resourceVersion instead of waiting; graceful deletion (pods) and namespace termination are
 * immediate; no deletecollection, no `/scale`, `/log`, `/exec` or other subresources; no garbage
 * collection of dependents (ownerReferences are stored, not acted on); only the built-in kinds
 * listed above exist; the CRD types themselves cannot be created through the API.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { cloneJson, jsonEqual, parseLossless, stringifyLossless, JsonSyntaxError, type Json } from './kube-json.js';
import { applyDefaults, prune, validate, type Schema, type SchemaCause } from './kube-schema.js';
import { jsonPatch, mergePatch, parseFieldSelector, parseLabelSelector, PatchError, SelectorError, strategicMergePatch } from './kube-patch.js';

type JsonObject = { [key: string]: Json };

/** A resource type the server serves. */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  status: boolean;
  /** True for custom resources (sorted-key encoding, schema, generation, kind/apiVersion in list items). */
  custom: boolean;
  schema?: Schema;
  shortNames?: string[];
  /** Extra field selector paths accepted on list/watch. */
  fieldSelectors?: string[];
}

export interface KubeApiServerOptions {
  /** HTTPS with a self-signed certificate (default), or plain HTTP with `insecure-skip-tls-verify`. */
  tls?: boolean;
  /** Bearer token required on every request (default: random). `null` disables authentication. */
  token?: string | null;
  /** Directory of `crd.projectcalico.org_*.yaml` (default `$KUBE_CRD_DIR` or ../shared/fixtures/crds beside the repository). */
  crdDirectory?: string;
  /** Which Calico groups to serve. Default `['crd.projectcalico.org']`. */
  calicoGroups?: Array<'crd.projectcalico.org' | 'projectcalico.org'>;
  /** Interval of BOOKMARK events on watches that allow them (default 60 s, like the apiserver). */
  bookmarkIntervalMs?: number;
  /**
   * Apply the CRD schema defaults on writes (default true, as the apiserver does). Turn off only
   * for suites that compare stored specs with their input byte for byte.
   */
  crdDefaulting?: boolean;
  /** Reject creation of namespaced objects in namespaces that do not exist (default true). */
  namespaceLifecycle?: boolean;
  /** Namespaces that exist from the start (default `default`, `kube-system`, `kube-public`, `kube-node-lease`). */
  namespaces?: string[];
}

/** One served request, for wire assertions. */
export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  body: string;
  status?: number;
}

export interface FaultOptions {
  /** HTTP status to answer (default 500). 500 -> InternalError, 503 -> ServiceUnavailable, 429 -> TooManyRequests, others -> a matching Status. */
  code?: number;
  /** Only requests with this method. */
  method?: string;
  /** Only requests whose path contains this. */
  pathIncludes?: string;
  /** Only watch requests (true) or only non-watch requests (false). */
  watch?: boolean;
  message?: string;
}

export interface KubeApiServer {
  /** `https://127.0.0.1:<port>` (or http). */
  readonly url: string;
  /** A kubeconfig file pointing at the server (CA data or skip-verify, bearer token). */
  readonly kubeconfigPath: string;
  readonly kubeconfigText: string;
  readonly token: string | null;
  /** Every request served, in order. */
  readonly requests: RequestRecord[];
  /** The resource types served. */
  readonly types: ResourceType[];
  /** Shuts the server down, ends watches and removes the temporary files. */
  stop(): Promise<void>;
  /** The current (latest) resourceVersion. */
  resourceVersion(): string;
  /**
   * Compacts the history at `revision` (default: the current resourceVersion), like etcd: a
   * watch or continue token from an older resourceVersion gets 410 Expired; watching from
   * `revision` itself still works.
   */
  compact(revision?: string): void;
  /** Fails the next `count` matching requests with an error Status. */
  failNext(count: number, options?: FaultOptions): void;
  /** Ends every open watch stream: cleanly (default) or by destroying the connection. */
  closeWatches(options?: { abrupt?: boolean }): void;
  /** Sends an ERROR event with this Status (default 410 Expired) on every open watch, then ends it. */
  sendWatchError(status?: JsonObject): void;
  /** Sends a BOOKMARK now on every watch that allowed bookmarks. */
  bookmark(): void;
  /** Number of open watch streams. */
  openWatches(): number;
  /** The stored object at an API path (`/apis/crd.projectcalico.org/v1/ippools/x`), exactly as GET would encode it; undefined when absent. */
  getRaw(path: string): string | undefined;
  /** The stored object at an API path as parsed JSON (big integers as BigIntLiteral). */
  getObject(path: string): JsonObject | undefined;
  /**
   * Stores an object verbatim (JSON text or object), bypassing validation, defaulting and
   * admission; only `metadata.resourceVersion` is set (to a new global version). Emits the watch
   * event. The type comes from `apiVersion`/`kind`. Returns the stored object's resourceVersion.
   */
  putRaw(object: string | object): string;
  /** Removes an object by API path without any checks (emits DELETED). Returns false when absent. */
  deleteRaw(path: string): boolean;
  /** Clears the request log. */
  clearRequests(): void;
}

// ---------------------------------------------------------------------------------------------
// Built-in types

const BUILTIN_TYPES: ResourceType[] = [
  { group: '', version: 'v1', plural: 'namespaces', singular: 'namespace', kind: 'Namespace', listKind: 'NamespaceList', namespaced: false, status: true, custom: false, shortNames: ['ns'], fieldSelectors: ['status.phase'] },
  { group: '', version: 'v1', plural: 'nodes', singular: 'node', kind: 'Node', listKind: 'NodeList', namespaced: false, status: true, custom: false, shortNames: ['no'], fieldSelectors: ['spec.unschedulable'] },
  { group: '', version: 'v1', plural: 'pods', singular: 'pod', kind: 'Pod', listKind: 'PodList', namespaced: true, status: true, custom: false, shortNames: ['po'], fieldSelectors: ['spec.nodeName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP'] },
  { group: '', version: 'v1', plural: 'secrets', singular: 'secret', kind: 'Secret', listKind: 'SecretList', namespaced: true, status: false, custom: false, fieldSelectors: ['type'] },
  { group: '', version: 'v1', plural: 'serviceaccounts', singular: 'serviceaccount', kind: 'ServiceAccount', listKind: 'ServiceAccountList', namespaced: true, status: false, custom: false, shortNames: ['sa'] },
  { group: '', version: 'v1', plural: 'services', singular: 'service', kind: 'Service', listKind: 'ServiceList', namespaced: true, status: true, custom: false, shortNames: ['svc'] },
  { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', singular: 'endpointslice', kind: 'EndpointSlice', listKind: 'EndpointSliceList', namespaced: true, status: false, custom: false },
];

const DEFAULT_CRD_DIR = process.env.KUBE_CRD_DIR ?? fileURLToPath(new URL('../../../shared/fixtures/crds', import.meta.url));

/** Reads the CRD YAMLs of a directory into resource types. */
export function loadCrdTypes(directory: string): ResourceType[] {
  const out: ResourceType[] = [];
  for (const file of readdirSync(directory).sort()) {
    if (!file.endsWith('.yaml') && !file.endsWith('.yml')) continue;
    const crd = parseYaml(readFileSync(join(directory, file), 'utf8')) as {
      kind?: string;
      spec: { group: string; names: { kind: string; listKind?: string; plural: string; singular?: string; shortNames?: string[] }; scope: string; versions: { name: string; served: boolean; storage: boolean; schema?: { openAPIV3Schema: Schema }; subresources?: { status?: object } }[] };
    };
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    const version = crd.spec.versions.find((v) => v.storage) ?? crd.spec.versions[0];
    out.push({
      group: crd.spec.group,
      version: version.name,
      plural: crd.spec.names.plural,
      singular: crd.spec.names.singular ?? crd.spec.names.kind.toLowerCase(),
      kind: crd.spec.names.kind,
      listKind: crd.spec.names.listKind ?? `${crd.spec.names.kind}List`,
      namespaced: crd.spec.scope === 'Namespaced',
      status: version.subresources?.status !== undefined,
      custom: true,
      schema: version.schema?.openAPIV3Schema,
      shortNames: crd.spec.names.shortNames,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Status bodies

class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: JsonObject,
  ) {
    super(message);
  }
  toStatus(): JsonObject {
    const status: JsonObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason };
    if (this.details) status.details = this.details;
    status.code = this.code;
    return status;
  }
}

function qualified(rt: ResourceType): string {
  return rt.group ? `${rt.plural}.${rt.group}` : rt.plural;
}

function details(rt: ResourceType, name: string): JsonObject {
  const d: JsonObject = { name };
  if (rt.group) d.group = rt.group;
  d.kind = rt.plural;
  return d;
}

const notFound = (rt: ResourceType, name: string) => new ApiError(404, 'NotFound', `${qualified(rt)} "${name}" not found`, details(rt, name));
const alreadyExists = (rt: ResourceType, name: string) =>
  new ApiError(409, 'AlreadyExists', `${qualified(rt)} "${name}" already exists`, details(rt, name));
const conflict = (rt: ResourceType, name: string, why: string) =>
  new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(rt)} "${name}": ${why}`, details(rt, name));
const MODIFIED_MESSAGE = 'the object has been modified; please apply your changes to the latest version and try again';
const badRequest = (message: string) => new ApiError(400, 'BadRequest', message);
const expired = (message: string) => new ApiError(410, 'Expired', message);

function invalid(rt: ResourceType, name: string, causes: SchemaCause[]): ApiError {
  const kindGroup = rt.group ? `${rt.kind}.${rt.group}` : rt.kind;
  const summary = causes.map((c) => `${c.field}: ${c.message}`);
  const message = `${kindGroup} "${name}" is invalid: ${summary.length === 1 ? summary[0] : `[${summary.join(', ')}]`}`;
  const d: JsonObject = { name };
  if (rt.group) d.group = rt.group;
  d.kind = rt.kind;
  d.causes = causes.map((c) => ({ reason: c.reason, message: c.message, field: c.field }));
  return new ApiError(422, 'Invalid', message, d);
}

function faultError(code: number, message?: string): ApiError {
  switch (code) {
    case 500:
      return new ApiError(500, 'InternalError', `Internal error occurred: ${message ?? 'injected fault'}`, { causes: [{ message: message ?? 'injected fault' }] });
    case 503:
      return new ApiError(503, 'ServiceUnavailable', message ?? 'the server is currently unable to handle the request');
    case 429:
      return new ApiError(429, 'TooManyRequests', message ?? 'the server has received too many requests and has asked us to try again later', { retryAfterSeconds: 1 });
    case 504:
      return new ApiError(504, 'Timeout', message ?? 'the server was unable to return a response in the time allotted, but may still be processing the request');
    default:
      return new ApiError(code, 'Unknown', message ?? `injected fault ${code}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Validation helpers

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

function validateMeta(rt: ResourceType, meta: JsonObject): SchemaCause[] {
  const causes: SchemaCause[] = [];
  const name = String(meta.name ?? '');
  const nameRule = rt.plural === 'namespaces' || rt.plural === 'serviceaccounts' ? DNS1123_LABEL : DNS1123_SUBDOMAIN;
  if (name.length > (nameRule === DNS1123_LABEL ? 63 : 253) || !nameRule.test(name)) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'metadata.name',
      message:
        nameRule === DNS1123_LABEL
          ? `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`
          : `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    });
  }
  const labels = meta.labels;
  if (labels !== undefined && labels !== null) {
    if (typeof labels !== 'object' || Array.isArray(labels)) causes.push({ reason: 'FieldValueInvalid', field: 'metadata.labels', message: 'Invalid value: must be a map of strings' });
    else
      for (const [k, v] of Object.entries(labels)) {
        const [prefix, nm] = k.includes('/') ? [k.slice(0, k.indexOf('/')), k.slice(k.indexOf('/') + 1)] : ['', k];
        if ((prefix && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) || nm.length > 63 || !QUALIFIED_NAME.test(nm)) {
          causes.push({ reason: 'FieldValueInvalid', field: 'metadata.labels', message: `Invalid value: "${k}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character` });
        }
        if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) {
          causes.push({ reason: 'FieldValueInvalid', field: 'metadata.labels', message: `Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character` });
        }
      }
  }
  const annotations = meta.annotations;
  if (annotations !== undefined && annotations !== null) {
    if (typeof annotations !== 'object' || Array.isArray(annotations)) causes.push({ reason: 'FieldValueInvalid', field: 'metadata.annotations', message: 'Invalid value: must be a map of strings' });
    else {
      let size = 0;
      for (const [k, v] of Object.entries(annotations)) {
        if (typeof v !== 'string') causes.push({ reason: 'FieldValueInvalid', field: `metadata.annotations`, message: `Invalid value: annotation ${k} must be a string` });
        else size += k.length + v.length;
      }
      if (size > 256 * 1024) causes.push({ reason: 'FieldValueTooLong', field: 'metadata.annotations', message: 'Too long: must have at most 262144 bytes' });
    }
  }
  return causes;
}

// ---------------------------------------------------------------------------------------------
// The server

interface StoredEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rt: ResourceType;
  object: JsonObject;
  old?: JsonObject;
}

interface WatchStream {
  rt: ResourceType;
  namespace?: string;
  labels?: (l: Record<string, string> | undefined) => boolean;
  fields?: (o: JsonObject) => boolean;
  res: ServerResponse;
  bookmarks: boolean;
  timers: NodeJS.Timeout[];
  closed: boolean;
}

const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

function nowSeconds(): string {
  return new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function meta(obj: JsonObject): JsonObject {
  if (typeof obj.metadata !== 'object' || obj.metadata === null || Array.isArray(obj.metadata)) obj.metadata = {};
  return obj.metadata as JsonObject;
}

/** Starts a Kubernetes API test server. Always `stop()` it (in a finally / after hook). */
export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const tls = options.tls ?? true;
  const token = options.token === undefined ? randomBytes(16).toString('hex') : options.token;
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 60_000;
  const namespaceLifecycle = options.namespaceLifecycle ?? true;
  const crdDefaulting = options.crdDefaulting ?? true;
  const crdDirectory = options.crdDirectory ?? DEFAULT_CRD_DIR;
  const groups = options.calicoGroups ?? ['crd.projectcalico.org'];

  const types: ResourceType[] = [...BUILTIN_TYPES];
  if (groups.includes('crd.projectcalico.org')) types.push(...loadCrdTypes(crdDirectory).filter((t) => t.group === 'crd.projectcalico.org'));
  if (groups.includes('projectcalico.org')) types.push(...loadCrdTypes(join(crdDirectory, 'projectcalico.org_v3')).filter((t) => t.group === 'projectcalico.org'));
  const typeByPath = new Map<string, ResourceType>();
  for (const t of types) typeByPath.set(`${t.group}/${t.version}/${t.plural}`, t);
  const typeByKind = new Map<string, ResourceType>();
  for (const t of types) typeByKind.set(`${t.group ? `${t.group}/${t.version}` : t.version}|${t.kind}`, t);

  const dir = mkdtempSync(join(tmpdir(), 'kube-apiserver-'));
  let ca: string | undefined;
  let key: string | undefined;
  if (tls) {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'pipe' },
    );
    ca = readFileSync(join(dir, 'cert.pem'), 'utf8');
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
  }

  // ---- state
  let rv = 1000;
  let compactedBelow = 0;
  const store = new Map<ResourceType, Map<string, JsonObject>>();
  for (const t of types) store.set(t, new Map());
  const events: StoredEvent[] = [];
  const watches = new Set<WatchStream>();
  const requests: RequestRecord[] = [];
  const faults: { remaining: number; options: FaultOptions }[] = [];
  const sockets = new Set<Socket>();

  const objectKey = (ns: string | undefined, name: string) => (ns ? `${ns}/${name}` : name);

  function encode(rt: ResourceType, obj: JsonObject): string {
    return stringifyLossless(obj, rt.custom);
  }

  function withTypeMeta(rt: ResourceType, obj: JsonObject): JsonObject {
    const { kind: _k, apiVersion: _a, ...rest } = obj;
    return { kind: rt.kind, apiVersion: rt.group ? `${rt.group}/${rt.version}` : rt.version, ...rest };
  }

  function record(type: StoredEvent['type'], rt: ResourceType, object: JsonObject, old?: JsonObject): void {
    const event: StoredEvent = { rv, type, rt, object: cloneJson(object), old: old && cloneJson(old) };
    events.push(event);
    for (const w of watches) deliver(w, event);
  }

  function matches(w: WatchStream, obj: JsonObject | undefined): boolean {
    if (!obj) return false;
    const m = meta(obj);
    if (w.namespace && m.namespace !== w.namespace) return false;
    if (w.labels && !w.labels(m.labels as Record<string, string> | undefined)) return false;
    if (w.fields && !w.fields(obj)) return false;
    return true;
  }

  function send(w: WatchStream, type: string, object: JsonObject): void {
    if (w.closed) return;
    w.res.write(`{"type":"${type}","object":${type === 'ERROR' ? JSON.stringify(object) : encode(w.rt, object)}}\n`);
  }

  function deliver(w: WatchStream, e: StoredEvent): void {
    if (w.rt !== e.rt || w.closed) return;
    const now = matches(w, e.object);
    const before = e.type === 'MODIFIED' ? matches(w, e.old) : e.type === 'DELETED';
    if (e.type === 'DELETED') {
      if (now) send(w, 'DELETED', e.object);
    } else if (now && !before) send(w, 'ADDED', e.object);
    else if (now && before) send(w, 'MODIFIED', e.object);
    else if (!now && before) send(w, 'DELETED', e.object);
  }

  function endWatch(w: WatchStream, abrupt = false): void {
    if (w.closed) return;
    w.closed = true;
    for (const t of w.timers) clearTimeout(t);
    watches.delete(w);
    if (abrupt) w.res.socket?.destroy();
    else w.res.end();
  }

  // ---- object operations (all synchronous: one request is applied atomically)

  function checkNamespace(rt: ResourceType, ns: string | undefined): void {
    if (!rt.namespaced || !namespaceLifecycle || !ns) return;
    const nsType = types.find((t) => t.plural === 'namespaces')!;
    if (!store.get(nsType)!.has(ns)) throw notFound(nsType, ns);
  }

  function prepareCustom(rt: ResourceType, obj: JsonObject): void {
    if (!rt.custom || !rt.schema) return;
    const { metadata: _m, apiVersion: _a, kind: _k, ...body } = obj;
    const bodySchema: Schema = { ...rt.schema, properties: { ...rt.schema.properties } };
    delete bodySchema.properties!.metadata;
    delete bodySchema.properties!.apiVersion;
    delete bodySchema.properties!.kind;
    if (crdDefaulting) applyDefaults(bodySchema, body);
    prune(bodySchema, body);
    for (const k of Object.keys(obj)) if (k !== 'metadata' && k !== 'apiVersion' && k !== 'kind') delete obj[k];
    Object.assign(obj, body);
  }

  function validateObject(rt: ResourceType, obj: JsonObject, isCreate: boolean): void {
    const name = String(meta(obj).name ?? '');
    // Names are immutable: their format is checked on create only, as the apiserver does.
    const causes = validateMeta(rt, meta(obj)).filter((c) => isCreate || c.field !== 'metadata.name');
    if (rt.custom && rt.schema) {
      const { metadata: _m, ...body } = obj;
      const bodySchema: Schema = { ...rt.schema, properties: { ...rt.schema.properties } };
      delete bodySchema.properties!.metadata;
      if (bodySchema.required) bodySchema.required = bodySchema.required.filter((r) => r !== 'metadata');
      for (const cause of validate(bodySchema, body as Json, '')) causes.push({ ...cause, field: cause.field.replace(/^\./, ''), message: cause.message.replace(/ \.(\w)/g, ' $1') });
    }
    if (causes.length > 0) throw invalid(rt, name, causes);
  }

  function checkTypeMeta(rt: ResourceType, obj: JsonObject): void {
    const expected = rt.group ? `${rt.group}/${rt.version}` : rt.version;
    if (obj.apiVersion !== undefined && obj.apiVersion !== expected) {
      throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${expected})`);
    }
    if (obj.kind !== undefined && obj.kind !== rt.kind) throw badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${rt.kind})`);
  }

  function create(rt: ResourceType, ns: string | undefined, body: Json): JsonObject {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the body of the request must be an object');
    const obj = withTypeMeta(rt, cloneJson(body as JsonObject));
    checkTypeMeta(rt, body as JsonObject);
    const m = meta(obj);
    if (rt.namespaced) {
      if (m.namespace !== undefined && m.namespace !== '' && m.namespace !== ns) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      m.namespace = ns ?? null;
    } else delete m.namespace;
    if (!m.name && typeof m.generateName === 'string' && m.generateName) {
      let suffix = '';
      for (let i = 0; i < 5; i++) suffix += ALPHANUMS[randomBytes(1)[0] % ALPHANUMS.length];
      m.name = `${m.generateName}${suffix}`;
    }
    if (!m.name) throw invalid(rt, '', [{ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
    if (m.resourceVersion !== undefined && m.resourceVersion !== '') throw badRequest('resourceVersion should not be set on objects to be created');
    checkNamespace(rt, ns);
    const name = String(m.name);
    if (store.get(rt)!.has(objectKey(ns, name))) throw alreadyExists(rt, name);
    m.uid = randomUUID();
    m.creationTimestamp = nowSeconds();
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    delete m.selfLink;
    delete m.managedFields;
    if (rt.custom) {
      m.generation = 1;
      if (rt.status) delete obj.status;
    }
    if (rt.plural === 'namespaces') {
      m.labels = { ...((m.labels as JsonObject) ?? {}), 'kubernetes.io/metadata.name': name };
      obj.spec = { finalizers: ['kubernetes'] };
      obj.status = { phase: 'Active' };
    }
    if (rt.plural === 'pods' && (typeof obj.status !== 'object' || obj.status === null)) obj.status = { phase: 'Pending' };
    prepareCustom(rt, obj);
    validateObject(rt, obj, true);
    rv++;
    m.resourceVersion = String(rv);
    store.get(rt)!.set(objectKey(ns, name), obj);
    record('ADDED', rt, obj);
    return obj;
  }

  function get(rt: ResourceType, ns: string | undefined, name: string): JsonObject {
    const obj = store.get(rt)!.get(objectKey(ns, name));
    if (!obj) throw notFound(rt, name);
    return obj;
  }

  /** Applies a new version of an object (update, status update or patch result). */
  function update(rt: ResourceType, ns: string | undefined, name: string, body: Json, subresource: string | undefined, fromPatch = false): JsonObject {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the body of the request must be an object');
    checkTypeMeta(rt, body as JsonObject);
    const old = get(rt, ns, name);
    const incoming = withTypeMeta(rt, cloneJson(body as JsonObject));
    const m = meta(incoming);
    if (m.name !== undefined && m.name !== name) {
      throw badRequest(`the name of the object (${String(m.name)}) does not match the name on the URL (${name})`);
    }
    if (rt.namespaced && m.namespace !== undefined && m.namespace !== '' && m.namespace !== ns) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const oldMeta = meta(old);
    if (m.resourceVersion !== undefined && m.resourceVersion !== '' && m.resourceVersion !== oldMeta.resourceVersion) {
      throw conflict(rt, name, MODIFIED_MESSAGE);
    }
    if (m.uid !== undefined && m.uid !== '' && m.uid !== oldMeta.uid) {
      throw conflict(rt, name, `Precondition failed: UID in precondition: ${String(m.uid)}, UID in object meta: ${String(oldMeta.uid)}`);
    }
    let next: JsonObject;
    if (subresource === 'status') {
      if (rt.custom) {
        next = cloneJson(old);
        if (incoming.status !== undefined) next.status = incoming.status;
        else delete next.status;
      } else {
        next = incoming;
        if (old.spec !== undefined) next.spec = cloneJson(old.spec);
        else delete next.spec;
      }
    } else {
      next = incoming;
      if (rt.status) {
        if (old.status !== undefined) next.status = cloneJson(old.status);
        else delete next.status;
      }
    }
    const nm = meta(next);
    nm.name = name;
    if (rt.namespaced) nm.namespace = ns ?? null;
    else delete nm.namespace;
    nm.uid = oldMeta.uid;
    nm.creationTimestamp = oldMeta.creationTimestamp;
    if (oldMeta.deletionTimestamp !== undefined) {
      nm.deletionTimestamp = oldMeta.deletionTimestamp;
      nm.deletionGracePeriodSeconds = oldMeta.deletionGracePeriodSeconds ?? 0;
    } else {
      delete nm.deletionTimestamp;
      delete nm.deletionGracePeriodSeconds;
    }
    delete nm.selfLink;
    delete nm.managedFields;
    if (rt.custom) {
      nm.generation = oldMeta.generation ?? 1;
      prepareCustom(rt, next);
    }
    nm.resourceVersion = oldMeta.resourceVersion;
    validateObject(rt, next, false);
    if (jsonEqual(next, old)) return old; // no-op: no new resourceVersion, no event
    if (rt.custom) {
      const strip = (o: JsonObject) => {
        const { metadata: _m, status: _s, ...rest } = o;
        if (!rt.status && _s !== undefined) (rest as JsonObject).status = _s;
        return rest;
      };
      if (!jsonEqual(strip(next), strip(old))) nm.generation = Number(oldMeta.generation ?? 1) + 1;
    }
    void fromPatch;
    rv++;
    nm.resourceVersion = String(rv);
    const finalizers = nm.finalizers;
    if (nm.deletionTimestamp !== undefined && (!Array.isArray(finalizers) || finalizers.length === 0)) {
      store.get(rt)!.delete(objectKey(ns, name));
      record('DELETED', rt, next, old);
      return next;
    }
    store.get(rt)!.set(objectKey(ns, name), next);
    record('MODIFIED', rt, next, old);
    return next;
  }

  function patch(rt: ResourceType, ns: string | undefined, name: string, contentType: string, text: string, subresource: string | undefined): JsonObject {
    const old = get(rt, ns, name);
    let body: Json;
    try {
      body = parseLossless(text);
    } catch (error) {
      throw badRequest(`error decoding patch: ${(error as Error).message}`);
    }
    let next: Json;
    try {
      if (contentType === 'application/merge-patch+json') next = mergePatch(old, body);
      else if (contentType === 'application/json-patch+json') next = jsonPatch(old, body);
      else if (contentType === 'application/strategic-merge-patch+json' && !rt.custom) next = strategicMergePatch(old, body);
      else
        throw new ApiError(
          415,
          'UnsupportedMediaType',
          `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml${rt.custom ? '' : ', application/strategic-merge-patch+json'}`,
        );
    } catch (error) {
      if (error instanceof PatchError) {
        throw error.code === 400 ? badRequest(error.message) : new ApiError(422, 'Invalid', error.message);
      }
      throw error;
    }
    // A patch carrying resourceVersion/uid is a precondition; otherwise it applies to the current version.
    const nm = meta(next as JsonObject);
    const patchMeta = (typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as JsonObject).metadata : undefined) as JsonObject | undefined;
    if (contentType !== 'application/json-patch+json' && !(patchMeta && 'resourceVersion' in patchMeta)) nm.resourceVersion = meta(old).resourceVersion;
    return update(rt, ns, name, next as JsonObject, subresource, true);
  }

  function remove(rt: ResourceType, ns: string | undefined, name: string, body: Json): JsonObject {
    const old = get(rt, ns, name);
    const oldMeta = meta(old);
    const pre = typeof body === 'object' && body !== null && !Array.isArray(body) ? ((body as JsonObject).preconditions as JsonObject | undefined) : undefined;
    if (pre && typeof pre === 'object') {
      if (pre.uid !== undefined && pre.uid !== null && pre.uid !== oldMeta.uid) {
        throw conflict(rt, name, `Precondition failed: UID in precondition: ${String(pre.uid)}, UID in object meta: ${String(oldMeta.uid)}`);
      }
      if (pre.resourceVersion !== undefined && pre.resourceVersion !== null && pre.resourceVersion !== oldMeta.resourceVersion) {
        throw conflict(rt, name, `Precondition failed: ResourceVersion in precondition: ${String(pre.resourceVersion)}, ResourceVersion in meta: ${String(oldMeta.resourceVersion)}`);
      }
    }
    const finalizers = oldMeta.finalizers;
    if (Array.isArray(finalizers) && finalizers.length > 0) {
      if (oldMeta.deletionTimestamp !== undefined) return old;
      const next = cloneJson(old);
      const nm = meta(next);
      nm.deletionTimestamp = nowSeconds();
      nm.deletionGracePeriodSeconds = 0;
      rv++;
      nm.resourceVersion = String(rv);
      store.get(rt)!.set(objectKey(ns, name), next);
      record('MODIFIED', rt, next, old);
      return next;
    }
    store.get(rt)!.delete(objectKey(ns, name));
    rv++;
    const gone = cloneJson(old);
    meta(gone).resourceVersion = String(rv);
    record('DELETED', rt, gone, old);
    return gone;
  }

  function listItems(rt: ResourceType, ns: string | undefined, query: URLSearchParams): JsonObject[] {
    let labels: ((l: Record<string, string> | undefined) => boolean) | undefined;
    let fields: ((o: JsonObject) => boolean) | undefined;
    try {
      if (query.get('labelSelector')) labels = parseLabelSelector(query.get('labelSelector')!);
      if (query.get('fieldSelector')) {
        const allowed = new Set(['metadata.name', 'metadata.namespace', ...(rt.fieldSelectors ?? [])]);
        fields = parseFieldSelector(query.get('fieldSelector')!, (f) => allowed.has(f));
      }
    } catch (error) {
      if (error instanceof SelectorError) throw badRequest(error.message);
      throw error;
    }
    const out: JsonObject[] = [];
    const keys = [...store.get(rt)!.keys()].sort();
    for (const k of keys) {
      const obj = store.get(rt)!.get(k)!;
      const m = meta(obj);
      if (ns && m.namespace !== ns) continue;
      if (labels && !labels(m.labels as Record<string, string> | undefined)) continue;
      if (fields && !fields(obj)) continue;
      out.push(obj);
    }
    return out;
  }

  function list(rt: ResourceType, ns: string | undefined, query: URLSearchParams): string {
    let items = listItems(rt, ns, query);
    const listMeta: JsonObject = {};
    const cont = query.get('continue');
    let listRv = rv;
    if (cont) {
      let token: { rv: number; start: string };
      try {
        token = JSON.parse(Buffer.from(cont, 'base64url').toString('utf8')) as { rv: number; start: string };
      } catch {
        throw badRequest('continue key is not valid: illegal base64 data');
      }
      if (token.rv < compactedBelow) {
        throw expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.');
      }
      listRv = token.rv;
      items = items.filter((o) => objectKey(meta(o).namespace as string | undefined, String(meta(o).name)) > token.start);
    }
    const limit = Number(query.get('limit') ?? 0);
    if (limit > 0 && items.length > limit) {
      const last = items[limit - 1];
      listMeta.continue = Buffer.from(JSON.stringify({ rv: listRv, start: objectKey(meta(last).namespace as string | undefined, String(meta(last).name)) })).toString('base64url');
      listMeta.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    const head = `{"apiVersion":${JSON.stringify(rt.group ? `${rt.group}/${rt.version}` : rt.version)},"items":[`;
    const encoded = items.map((o) => {
      if (rt.custom) return encode(rt, o);
      const { kind: _k, apiVersion: _a, ...rest } = o;
      return encode(rt, rest);
    });
    listMeta.resourceVersion = String(listRv);
    const metaOrdered: JsonObject = { resourceVersion: listMeta.resourceVersion };
    if (listMeta.continue) metaOrdered.continue = listMeta.continue;
    if (listMeta.remainingItemCount !== undefined) metaOrdered.remainingItemCount = listMeta.remainingItemCount;
    if (rt.custom) return `${head}${encoded.join(',')}],"kind":${JSON.stringify(rt.listKind)},"metadata":${stringifyLossless(metaOrdered, true)}}`;
    return `{"kind":${JSON.stringify(rt.listKind)},"apiVersion":${JSON.stringify(rt.group ? `${rt.group}/${rt.version}` : rt.version)},"metadata":${stringifyLossless(metaOrdered)},"items":[${encoded.join(',')}]}`;
  }

  function startWatch(rt: ResourceType, ns: string | undefined, query: URLSearchParams, res: ServerResponse): void {
    let labels: WatchStream['labels'];
    let fields: WatchStream['fields'];
    try {
      if (query.get('labelSelector')) labels = parseLabelSelector(query.get('labelSelector')!);
      if (query.get('fieldSelector')) {
        const allowed = new Set(['metadata.name', 'metadata.namespace', ...(rt.fieldSelectors ?? [])]);
        fields = parseFieldSelector(query.get('fieldSelector')!, (f) => allowed.has(f));
      }
    } catch (error) {
      if (error instanceof SelectorError) throw badRequest(error.message);
      throw error;
    }
    const fromText = query.get('resourceVersion') ?? '';
    if (fromText !== '' && !/^\d+$/.test(fromText)) throw badRequest(`invalid resource version: ${fromText}`);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const w: WatchStream = { rt, namespace: ns, labels, fields, res, bookmarks: ['true', '1'].includes(query.get('allowWatchBookmarks') ?? ''), timers: [], closed: false };
    watches.add(w);
    res.on('close', () => endWatch(w));
    if (fromText === '' || fromText === '0') {
      for (const obj of listItems(rt, ns, query)) send(w, 'ADDED', obj);
    } else {
      const from = Number(fromText);
      if (from < compactedBelow) {
        send(w, 'ERROR', expired(`too old resource version: ${from} (${compactedBelow})`).toStatus());
        endWatch(w);
        return;
      }
      for (const e of events) if (e.rv > from) deliver(w, e);
    }
    const timeout = Number(query.get('timeoutSeconds') ?? 0);
    if (timeout > 0) w.timers.push(setTimeout(() => endWatch(w), timeout * 1000));
    if (w.bookmarks) {
      const tick = () => {
        if (w.closed) return;
        sendBookmark(w);
        w.timers.push(setTimeout(tick, bookmarkIntervalMs));
      };
      w.timers.push(setTimeout(tick, bookmarkIntervalMs));
    }
  }

  function sendBookmark(w: WatchStream): void {
    const metadata: JsonObject = { resourceVersion: String(rv) };
    if (!w.rt.custom) metadata.creationTimestamp = null;
    send(w, 'BOOKMARK', { kind: w.rt.kind, apiVersion: w.rt.group ? `${w.rt.group}/${w.rt.version}` : w.rt.version, metadata });
  }

  // ---- discovery

  function resourceList(group: string, version: string): JsonObject | undefined {
    const ts = types.filter((t) => t.group === group && t.version === version);
    if (ts.length === 0) return undefined;
    const resources: Json[] = [];
    for (const t of ts) {
      const r: JsonObject = {
        name: t.plural,
        singularName: t.singular,
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'],
      };
      if (t.shortNames?.length) r.shortNames = t.shortNames;
      resources.push(r);
      if (t.status) resources.push({ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] });
    }
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
  }

  function apiGroup(group: string): JsonObject | undefined {
    const versions = [...new Set(types.filter((t) => t.group === group).map((t) => t.version))];
    if (versions.length === 0) return undefined;
    const v = versions.map((x) => ({ groupVersion: `${group}/${x}`, version: x }));
    return { name: group, versions: v, preferredVersion: v[0] };
  }

  // ---- HTTP

  function sendJson(res: ServerResponse, code: number, text: string, rec?: RequestRecord): void {
    if (rec) rec.status = code;
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  function sendError(res: ServerResponse, error: ApiError, rec?: RequestRecord): void {
    sendJson(res, error.code, JSON.stringify(error.toStatus()), rec);
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  function parseBody(text: string): Json {
    if (text.trim() === '') return null;
    try {
      return parseLossless(text);
    } catch (error) {
      if (error instanceof JsonSyntaxError) throw badRequest(`the object provided is unrecognized (must be of type JSON): ${error.message}`);
      throw error;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    const contentType = req.headers['content-type']?.split(';')[0].trim();
    const rec: RequestRecord = { method, path: url.pathname, query: Object.fromEntries(url.searchParams), contentType, body };
    requests.push(rec);
    try {
      if (token !== null && req.headers.authorization !== `Bearer ${token}`) {
        throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      }
      const isWatch = ['1', 'true'].includes(url.searchParams.get('watch') ?? '') || url.pathname.includes('/watch/');
      const fault = faults.find(
        (f) =>
          f.remaining > 0 &&
          (!f.options.method || f.options.method === method) &&
          (!f.options.pathIncludes || url.pathname.includes(f.options.pathIncludes)) &&
          (f.options.watch === undefined || f.options.watch === isWatch),
      );
      if (fault) {
        fault.remaining--;
        throw faultError(fault.options.code ?? 500, fault.options.message);
      }
      route(method, url, contentType, body, res, rec);
    } catch (error) {
      if (error instanceof ApiError) sendError(res, error, rec);
      else sendError(res, faultError(500, (error as Error).message), rec);
    }
  }

  function route(method: string, url: URL, contentType: string | undefined, bodyText: string, res: ServerResponse, rec: RequestRecord): void {
    const segs = url.pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
    const q = url.searchParams;
    if (method === 'GET' && (url.pathname === '/healthz' || url.pathname === '/readyz' || url.pathname === '/livez')) {
      rec.status = 200;
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (method === 'GET' && url.pathname === '/version') {
      sendJson(res, 200, JSON.stringify({ major: '1', minor: '33', gitVersion: 'v1.33.0-libcalico-ts-test', platform: 'linux/amd64' }), rec);
      return;
    }
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api') {
      if (segs.length === 1 && method === 'GET') {
        sendJson(res, 200, JSON.stringify({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: new URL(serverUrl).host }] }), rec);
        return;
      }
      group = '';
      version = segs[1];
      rest = segs.slice(2);
    } else if (segs[0] === 'apis') {
      if (segs.length === 1 && method === 'GET') {
        const names = [...new Set(types.filter((t) => t.group).map((t) => t.group))];
        sendJson(res, 200, JSON.stringify({ kind: 'APIGroupList', apiVersion: 'v1', groups: names.map(apiGroup) }), rec);
        return;
      }
      if (segs.length === 2 && method === 'GET') {
        const g = apiGroup(segs[1]);
        if (!g) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
        sendJson(res, 200, JSON.stringify({ kind: 'APIGroup', apiVersion: 'v1', ...g }), rec);
        return;
      }
      group = segs[1];
      version = segs[2];
      rest = segs.slice(3);
    } else throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (rest.length === 0) {
      const rl = method === 'GET' ? resourceList(group, version) : undefined;
      if (!rl) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      sendJson(res, 200, JSON.stringify(rl), rec);
      return;
    }
    let watchPath = false;
    if (rest[0] === 'watch') {
      watchPath = true;
      rest = rest.slice(1);
    }
    let ns: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3 && !(rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize'))) {
      ns = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, subresource, ...extra] = rest;
    const rt = typeByPath.get(`${group}/${version}/${plural}`);
    if (!rt || extra.length > 0 || (rt.namespaced === false && ns !== undefined)) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    if (subresource !== undefined && !(subresource === 'status' && rt.status)) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const isWatch = watchPath || ['1', 'true'].includes(q.get('watch') ?? '');
    if (name === undefined) {
      if (method === 'GET' && isWatch) {
        startWatch(rt, ns, q, res);
        rec.status = 200;
        return;
      }
      if (method === 'GET') {
        sendJson(res, 200, list(rt, ns, q), rec);
        return;
      }
      if (method === 'POST') {
        if (rt.namespaced && !ns) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
        const created = create(rt, ns, parseBody(bodyText));
        sendJson(res, 201, encode(rt, created), rec);
        return;
      }
      throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    }
    switch (method) {
      case 'GET':
        if (isWatch) {
          const params = new URLSearchParams(q);
          params.set('fieldSelector', `metadata.name=${name}`);
          startWatch(rt, ns, params, res);
          rec.status = 200;
          return;
        }
        sendJson(res, 200, encode(rt, get(rt, ns, name)), rec);
        return;
      case 'PUT':
        sendJson(res, 200, encode(rt, update(rt, ns, name, parseBody(bodyText), subresource)), rec);
        return;
      case 'PATCH':
        sendJson(res, 200, encode(rt, patch(rt, ns, name, contentType ?? '', bodyText, subresource)), rec);
        return;
      case 'DELETE':
        if (subresource) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        sendJson(res, 200, encode(rt, remove(rt, ns, name, parseBody(bodyText))), rec);
        return;
      default:
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, faultError(500, (error as Error).message));
      else res.destroy();
    });
  };
  const server: Server = tls ? createHttpsServer({ cert: ca, key }, listener) : createHttpServer(listener);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const serverUrl = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;

  // Initial namespaces.
  for (const ns of options.namespaces ?? ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    create(types.find((t) => t.plural === 'namespaces')!, undefined, { metadata: { name: ns } });
  }

  const clusterLines = tls
    ? [`    server: ${serverUrl}`, `    certificate-authority-data: ${Buffer.from(ca!).toString('base64')}`]
    : [`    server: ${serverUrl}`, `    insecure-skip-tls-verify: true`];
  const kubeconfigText = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: test',
    '  cluster:',
    ...clusterLines,
    'contexts:',
    '- name: test',
    '  context:',
    '    cluster: test',
    '    user: test',
    'current-context: test',
    'users:',
    '- name: test',
    token !== null ? `  user:\n    token: ${token}` : '  user: {}',
    '',
  ].join('\n');
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfigText);

  function resolvePath(path: string): { rt: ResourceType; ns?: string; name: string } {
    const segs = path.split('/').filter((s) => s !== '');
    let group: string, version: string, rest: string[];
    if (segs[0] === 'api') [group, version, rest] = ['', segs[1], segs.slice(2)];
    else [group, version, rest] = [segs[1], segs[2], segs.slice(3)];
    let ns: string | undefined;
    if (rest[0] === 'namespaces' && rest.length === 4) {
      ns = rest[1];
      rest = rest.slice(2);
    }
    const rt = typeByPath.get(`${group}/${version}/${rest[0]}`);
    if (!rt || rest.length !== 2) throw new Error(`not an object path: ${path}`);
    return { rt, ns, name: rest[1] };
  }

  let stopped = false;
  return {
    url: serverUrl,
    kubeconfigPath,
    kubeconfigText,
    token,
    requests,
    types,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const w of [...watches]) endWatch(w, true);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      rmSync(dir, { recursive: true, force: true });
    },
    resourceVersion: () => String(rv),
    compact(revision?: string) {
      compactedBelow = revision === undefined ? rv : Number(revision);
      while (events.length > 0 && events[0].rv <= compactedBelow) events.shift();
    },
    failNext(count, fo = {}) {
      faults.push({ remaining: count, options: fo });
    },
    closeWatches(o = {}) {
      for (const w of [...watches]) endWatch(w, o.abrupt ?? false);
    },
    sendWatchError(status) {
      const s = status ?? expired(`too old resource version: ${rv - 1} (${rv})`).toStatus();
      for (const w of [...watches]) {
        send(w, 'ERROR', s);
        endWatch(w);
      }
    },
    bookmark() {
      for (const w of watches) if (w.bookmarks) sendBookmark(w);
    },
    openWatches: () => watches.size,
    getRaw(path) {
      const { rt, ns, name } = resolvePath(path);
      const obj = store.get(rt)!.get(objectKey(ns, name));
      return obj && encode(rt, obj);
    },
    getObject(path) {
      const { rt, ns, name } = resolvePath(path);
      const obj = store.get(rt)!.get(objectKey(ns, name));
      return obj && cloneJson(obj);
    },
    putRaw(object) {
      const obj = (typeof object === 'string' ? parseLossless(object) : parseLossless(JSON.stringify(object))) as JsonObject;
      const rt = typeByKind.get(`${String(obj.apiVersion)}|${String(obj.kind)}`);
      if (!rt) throw new Error(`no served type for ${String(obj.apiVersion)} ${String(obj.kind)}`);
      const m = meta(obj);
      const k = objectKey(rt.namespaced ? String(m.namespace) : undefined, String(m.name));
      const old = store.get(rt)!.get(k);
      rv++;
      m.resourceVersion = String(rv);
      store.get(rt)!.set(k, obj);
      record(old ? 'MODIFIED' : 'ADDED', rt, obj, old);
      return String(rv);
    },
    deleteRaw(path) {
      const { rt, ns, name } = resolvePath(path);
      const old = store.get(rt)!.get(objectKey(ns, name));
      if (!old) return false;
      store.get(rt)!.delete(objectKey(ns, name));
      rv++;
      const gone = cloneJson(old);
      meta(gone).resourceVersion = String(rv);
      record('DELETED', rt, gone, old);
      return true;
    },
    clearRequests() {
      requests.length = 0;
    },
  };
}
