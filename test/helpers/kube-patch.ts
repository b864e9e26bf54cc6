/**
 * Patch formats and selectors for the Kubernetes API test server.
 * - JSON merge patch (RFC 7386): complete.
 * - Strategic merge patch: merge-patch semantics plus merge-by-key for the lists of the built-in
 *   objects the server stores (containers by `name`, ports by `containerPort`, conditions and node
 *   addresses by `type`, ...) and the `$patch: replace|delete` directives. Not done:
 *   `$setElementOrder`, `$deleteFromPrimitiveList`, `$retainKeys`.
 * - JSON patch (RFC 6902): add, remove, replace, test, move, copy.
 * - Label selectors (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`) and field selectors (`=`,
 *   `==`, `!=` on dotted paths).
 */
import { cloneJson, jsonEqual, type Json } from './kube-json.js';

type JsonObject = { [key: string]: Json };
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v) && v.constructor === Object;

/** RFC 7386. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return cloneJson(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

/** Merge keys of the lists of built-in objects (field name -> merge key). */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
  conditions: 'type',
  addresses: 'type',
  taints: 'key',
  ownerReferences: 'uid',
  podIPs: 'ip',
  containerStatuses: 'name',
  initContainerStatuses: 'name',
  imagePullSecrets: 'name',
  secrets: 'name',
};

/** Strategic merge patch (subset, see the file header). */
export function strategicMergePatch(target: Json, patch: Json, field = ''): Json {
  if (!isObject(patch)) {
    if (Array.isArray(patch) && Array.isArray(target) && MERGE_KEYS[field]) return mergeList(target, patch, MERGE_KEYS[field]);
    return cloneJson(patch);
  }
  if (patch.$patch === 'replace') {
    const copy = cloneJson(patch);
    delete copy.$patch;
    return copy;
  }
  if (patch.$patch === 'delete') return null;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) delete out[k];
    else out[k] = strategicMergePatch(out[k] ?? null, v, k);
  }
  return out;
}

function mergeList(target: Json[], patch: Json[], key: string): Json[] {
  const out = target.map(cloneJson);
  for (const item of patch) {
    if (!isObject(item) || !(key in item)) {
      out.push(cloneJson(item));
      continue;
    }
    const index = out.findIndex((t) => isObject(t) && jsonEqual(t[key], item[key]));
    if (item.$patch === 'delete') {
      if (index >= 0) out.splice(index, 1);
    } else if (index >= 0) out[index] = strategicMergePatch(out[index], item);
    else out.push(strategicMergePatch(null, item));
  }
  return out;
}

export class PatchError extends Error {
  constructor(
    message: string,
    readonly code = 422,
  ) {
    super(message);
  }
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(`invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer.slice(1).split('/').map(unescapePointer);
}

function resolveParent(doc: Json, path: string[]): { parent: Json; last: string } {
  let node = doc;
  for (const seg of path.slice(0, -1)) {
    if (Array.isArray(node)) node = node[Number(seg)];
    else if (isObject(node)) node = node[seg];
    else node = undefined as unknown as Json;
    if (node === undefined) throw new PatchError(`path /${path.join('/')} does not exist`);
  }
  return { parent: node, last: path[path.length - 1] };
}

function getAt(doc: Json, path: string[]): Json {
  let node: Json | undefined = doc;
  for (const seg of path) {
    if (Array.isArray(node)) node = node[Number(seg)];
    else if (isObject(node)) node = node[seg];
    else node = undefined;
    if (node === undefined) throw new PatchError(`path /${path.join('/')} does not exist`);
  }
  return node;
}

/** RFC 6902 on a copy of `target`. */
export function jsonPatch(target: Json, operations: Json): Json {
  if (!Array.isArray(operations)) throw new PatchError('a JSON patch must be an array of operations', 400);
  let doc = cloneJson(target);
  const add = (path: string[], value: Json) => {
    if (path.length === 0) {
      doc = value;
      return;
    }
    const { parent, last } = resolveParent(doc, path);
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new PatchError(`index ${last} out of range`);
      parent.splice(index, 0, value);
    } else if (isObject(parent)) parent[last] = value;
    else throw new PatchError(`cannot add at /${path.join('/')}`);
  };
  const remove = (path: string[]): Json => {
    const { parent, last } = resolveParent(doc, path);
    if (Array.isArray(parent)) {
      const index = Number(last);
      if (!(index >= 0 && index < parent.length)) throw new PatchError(`index ${last} out of range`);
      return parent.splice(index, 1)[0];
    }
    if (isObject(parent) && last in parent) {
      const v = parent[last];
      delete parent[last];
      return v;
    }
    throw new PatchError(`path /${path.join('/')} does not exist`);
  };
  for (const op of operations) {
    if (!isObject(op) || typeof op.op !== 'string' || typeof op.path !== 'string') throw new PatchError('invalid JSON patch operation', 400);
    const path = parsePointer(op.path);
    switch (op.op) {
      case 'add':
        add(path, cloneJson(op.value ?? null));
        break;
      case 'remove':
        remove(path);
        break;
      case 'replace':
        remove(path);
        add(path, cloneJson(op.value ?? null));
        break;
      case 'test':
        if (!jsonEqual(getAt(doc, path), op.value ?? null)) throw new PatchError(`test operation failed at ${op.path}`);
        break;
      case 'move': {
        const v = remove(parsePointer(String(op.from)));
        add(path, v);
        break;
      }
      case 'copy':
        add(path, cloneJson(getAt(doc, parsePointer(String(op.from)))));
        break;
      default:
        throw new PatchError(`unknown JSON patch operation ${op.op}`, 400);
    }
  }
  return doc;
}

// ---------------------------------------------------------------------------------------------
// Selectors

type Requirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!exists' };

export class SelectorError extends Error {}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** Parses a Kubernetes label selector into a predicate over a label map. */
export function parseLabelSelector(text: string): (labels: Record<string, string> | undefined) => boolean {
  const requirements: Requirement[] = [];
  // Split on commas that are not inside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of text) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  if (current.trim() !== '' || parts.length > 0) parts.push(current);
  for (const raw of parts) {
    const part = raw.trim();
    if (part === '') throw new SelectorError(`found '', expected: identifier`);
    let m: RegExpExecArray | null;
    if ((m = /^(\S+?)\s*(==|!=|=)\s*(\S*)$/.exec(part))) {
      checkKey(m[1]);
      requirements.push({ key: m[1], op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]] });
    } else if ((m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part))) {
      checkKey(m[1]);
      requirements.push({ key: m[1], op: m[2] as 'in' | 'notin', values: m[3].split(',').map((v) => v.trim()) });
    } else if ((m = /^!\s*(\S+)$/.exec(part))) {
      checkKey(m[1]);
      requirements.push({ key: m[1], op: '!exists' });
    } else if ((m = /^(\S+)$/.exec(part))) {
      checkKey(m[1]);
      requirements.push({ key: m[1], op: 'exists' });
    } else throw new SelectorError(`unable to parse requirement: ${part}`);
  }
  return (labels) =>
    requirements.every((r) => {
      const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, r.key);
      switch (r.op) {
        case 'exists':
          return has;
        case '!exists':
          return !has;
        case 'in':
          return has && r.values.includes(labels![r.key]);
        case 'notin':
          return !has || !r.values.includes(labels![r.key]);
      }
    });
}

function checkKey(key: string): void {
  if (!LABEL_KEY.test(key)) throw new SelectorError(`invalid label key "${key}"`);
}

/** Parses a field selector (`metadata.name=x,spec.nodeName!=y`) into a predicate over an object. */
export function parseFieldSelector(text: string, supported: (field: string) => boolean): (obj: JsonObject) => boolean {
  const terms = text
    .split(',')
    .filter((t) => t.trim() !== '')
    .map((t) => {
      const m = /^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$/.exec(t);
      if (!m) throw new SelectorError(`invalid selector: '${text}'; can't understand '${t}'`);
      if (!supported(m[1])) throw new SelectorError(`field label not supported: ${m[1]}`);
      return { path: m[1].split('.'), negate: m[2] === '!=', value: m[3] };
    });
  return (obj) =>
    terms.every((t) => {
      let v: Json | undefined = obj;
      for (const seg of t.path) v = isObject(v) ? v[seg] : undefined;
      const s = v === undefined || v === null ? '' : String(v);
      return t.negate ? s !== t.value : s === t.value;
    });
}
