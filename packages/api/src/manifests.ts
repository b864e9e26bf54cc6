/**
 * calicoctl resource files: load (YAML or JSON, several documents, arrays, typed lists) and dump.
 * Reference datastore.md §8.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseAllDocuments,
  stringify as yamlStringify,
  type Document,
  type Node as YamlNode,
} from 'yaml';
import { ParseError, ValidationError, type FieldError } from './errors.js';
import { API_VERSION, KINDS, isResourceKind } from './kinds.js';
import { lineAndColumn, locateJSONError } from './internal/json-locate.js';
import { METADATA_SHAPE, checkShape, shapesOf, type Shape } from './internal/shapes.js';
import type { Resource } from './resources.js';
import { collectValidationErrors } from './validate.js';

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Options of {@link loadManifests}. */
export interface LoadManifestsOptions {
  /**
   * Namespace given to namespaced resources (NetworkPolicy, NetworkSet, WorkloadEndpoint)
   * that have none, as calicoctl's `--namespace` does. Default `"default"`.
   */
  defaultNamespace?: string;
  /**
   * Also run {@link collectValidationErrors} on every resource and report its problems
   * (default false: only the file's structure is checked, as calicoctl's parser does).
   */
  validate?: boolean;
}

const ENVELOPE_FIELDS = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);
const LIST_FIELDS = new Set(['apiVersion', 'kind', 'metadata', 'items']);
const LIST_METADATA_SHAPE: Shape = {
  t: 'o',
  props: {
    resourceVersion: { t: 's' },
    continue: { t: 's' },
    selfLink: { t: 's' },
    remainingItemCount: { t: 'i' },
  },
};

const GO_YAML_TRUE = /^(y|Y|yes|Yes|YES|on|On|ON)$/;
const GO_YAML_FALSE = /^(n|N|no|No|NO|off|Off|OFF)$/;

/**
 * Converts a YAML node to plain data guided by the expected field shape, so that values read
 * as Calico's Go decoder reads them: a plain scalar in a string field keeps its source text
 * (`routeReflector: true` in labels is the string "true", `value: 100:200` stays a string),
 * YAML 1.1 booleans (`yes`/`no`/`on`/`off`) count in boolean fields.
 */
function fromYaml(node: unknown, shape: Shape | undefined, doc: Document.Parsed): unknown {
  if (isAlias(node)) {
    // Each alias expands its anchor again: nested aliases grow exponentially (a "billion laughs"
    // document). Real manifests use few aliases, so a document gets a fixed expansion budget.
    if (--aliasBudget < 0) throw new Error(`document contains excessive aliasing (more than ${MAX_ALIAS_EXPANSIONS} alias expansions)`);
    return fromYaml(node.resolve(doc), shape, doc);
  }
  if (isScalar(node)) {
    const value = node.value;
    const plain = node.type === 'PLAIN';
    const source = typeof node.source === 'string' ? node.source : undefined;
    if (!shape || value === null) return value;
    if (shape.t === 's' && plain && typeof value !== 'string' && source !== undefined) return source;
    if (shape.t === 'A' && plain && typeof value === 'number' && !Number.isInteger(value) && source !== undefined) return source;
    if (shape.t === 'b' && plain && typeof value === 'string') {
      if (GO_YAML_TRUE.test(value)) return true;
      if (GO_YAML_FALSE.test(value)) return false;
    }
    if (typeof value === 'bigint') return Number(value);
    return value;
  }
  if (isMap(node)) {
    const out: Obj = {};
    for (const pair of node.items) {
      const keyNode = pair.key;
      let key: string;
      if (isScalar(keyNode)) {
        key = typeof keyNode.source === 'string' && keyNode.type === 'PLAIN' ? keyNode.source : String(keyNode.value);
      } else key = String(keyNode);
      let child: Shape | undefined;
      if (shape?.t === 'o') child = shape.props?.[key];
      else if (shape?.t === 'm') child = shape.items;
      out[key] = fromYaml(pair.value, child, doc);
    }
    return out;
  }
  if (isSeq(node)) {
    const itemShape = shape?.t === 'l' ? shape.items : undefined;
    return node.items.map((item) => fromYaml(item, itemShape, doc));
  }
  return node === undefined ? null : (node as YamlNode | null);
}

function envelopeShape(kind: unknown): Shape | undefined {
  if (typeof kind !== 'string') return undefined;
  if (isResourceKind(kind)) {
    const shapes = shapesOf(kind);
    return {
      t: 'o',
      props: {
        apiVersion: { t: 's' },
        kind: { t: 's' },
        metadata: METADATA_SHAPE,
        spec: shapes.spec,
        ...(shapes.status ? { status: shapes.status } : {}),
      },
    };
  }
  const itemKind = kind.endsWith('List') ? kind.slice(0, -4) : undefined;
  if (kind === 'List' || (itemKind && isResourceKind(itemKind))) {
    return {
      t: 'o',
      props: {
        apiVersion: { t: 's' },
        kind: { t: 's' },
        metadata: LIST_METADATA_SHAPE,
        items: { t: 'l', items: itemKind ? envelopeShape(itemKind) ?? { t: '*' } : { t: '*' } },
      },
    };
  }
  return undefined;
}

/** Shape of a YAML mapping that is a resource or a list, from its `kind`. */
function documentShape(node: unknown): Shape | undefined {
  if (!isMap(node)) return undefined;
  const kindPair = node.items.find((pair) => isScalar(pair.key) && pair.key.value === 'kind');
  const kindValue = kindPair && isScalar(kindPair.value) ? kindPair.value.value : undefined;
  return envelopeShape(kindValue);
}

/** Alias expansions allowed per YAML document. */
const MAX_ALIAS_EXPANSIONS = 1_000;
let aliasBudget = MAX_ALIAS_EXPANSIONS;

function yamlDocumentToData(doc: Document.Parsed): unknown {
  aliasBudget = MAX_ALIAS_EXPANSIONS;
  const contents = doc.contents;
  if (isSeq(contents)) {
    return contents.items.map((item) => {
      const resolved = isAlias(item) ? item.resolve(doc) : item;
      if (isAlias(item) && --aliasBudget < 0) throw new Error(`document contains excessive aliasing (more than ${MAX_ALIAS_EXPANSIONS} alias expansions)`);
      return fromYaml(resolved, documentShape(resolved), doc);
    });
  }
  return fromYaml(contents, documentShape(contents), doc);
}

class Loader {
  readonly problems: FieldError[] = [];
  readonly resources: Resource[] = [];
  constructor(private readonly options: LoadManifestsOptions) {}

  add(name: string, value: unknown, reason: string): void {
    this.problems.push({ name, value, reason });
  }

  /** One document's data: a resource, a typed list, `List`, or an array of those. */
  document(data: unknown, path: string): void {
    if (data === null || data === undefined) return; // empty document
    if (Array.isArray(data)) {
      data.forEach((item, index) => this.entry(item, `${path}[${index}]`, undefined));
      return;
    }
    this.entry(data, path, undefined);
  }

  entry(data: unknown, path: string, inheritedKind: string | undefined): void {
    if (!isObj(data)) {
      this.add(path, data, 'expected a resource (a mapping with apiVersion, kind, metadata and spec)');
      return;
    }
    const kind = data.kind ?? inheritedKind;
    const apiVersion = data.apiVersion ?? (inheritedKind ? API_VERSION : undefined);
    if (typeof kind !== 'string' || kind === '') {
      this.add(`${path}.kind`, data.kind, 'kind is required');
      return;
    }
    if (apiVersion !== API_VERSION) {
      this.add(`${path}.apiVersion`, data.apiVersion, `apiVersion must be "${API_VERSION}"`);
    }
    const itemKind = kind.endsWith('List') ? kind.slice(0, -4) : undefined;
    if (kind === 'List' || (itemKind !== undefined && isResourceKind(itemKind))) {
      for (const key of Object.keys(data)) {
        if (!LIST_FIELDS.has(key)) this.add(`${path}.${key}`, data[key], `unknown field "${key}"`);
      }
      checkShape(data.metadata, LIST_METADATA_SHAPE, `${path}.metadata`, this.problems);
      if (!Array.isArray(data.items)) {
        if (data.items !== undefined && data.items !== null) this.add(`${path}.items`, data.items, 'items must be a list');
        return;
      }
      data.items.forEach((item, index) => {
        const at = `${path}.items[${index}]`;
        if (itemKind && isObj(item) && item.kind !== undefined && item.kind !== itemKind) {
          this.add(`${at}.kind`, item.kind, `a ${kind} may only contain ${itemKind} items`);
          return;
        }
        this.entry(item, at, itemKind);
      });
      return;
    }
    if (!isResourceKind(kind)) {
      this.add(`${path}.kind`, kind, `unknown resource kind "${kind}"`);
      return;
    }
    for (const key of Object.keys(data)) {
      if (!ENVELOPE_FIELDS.has(key)) this.add(`${path}.${key}`, data[key], `unknown field "${key}"`);
    }
    const before = this.problems.length;
    const shapes = shapesOf(kind);
    const structural = { required: false } as const;
    checkStructure(data.metadata, METADATA_SHAPE, `${path}.metadata`, this.problems, structural);
    if (data.metadata !== undefined && data.metadata !== null && !isObj(data.metadata)) return;
    checkStructure(data.spec, shapes.spec, `${path}.spec`, this.problems, structural);
    if (data.status !== undefined && data.status !== null) {
      if (shapes.status) checkStructure(data.status, shapes.status, `${path}.status`, this.problems, structural);
      else this.add(`${path}.status`, data.status, `${kind} has no status`);
    }
    if (this.problems.length > before) return;
    const metadata: Obj = isObj(data.metadata) ? { ...data.metadata } : {};
    if (KINDS[kind].namespaced && (metadata.namespace === undefined || metadata.namespace === null || metadata.namespace === '')) {
      metadata.namespace = this.options.defaultNamespace ?? 'default';
    }
    const resource: Obj = { kind, apiVersion: API_VERSION, metadata, spec: isObj(data.spec) ? data.spec : {} };
    if (data.status !== undefined && data.status !== null) resource.status = data.status;
    if (this.options.validate) {
      for (const problem of collectValidationErrors(resource)) {
        this.add(`${path}.${problem.name}`, problem.value, problem.reason);
      }
    }
    this.resources.push(resource as unknown as Resource);
  }
}

/** Structure-only shape check: unknown fields and JSON types, not the value constraints. */
function checkStructure(value: unknown, shape: Shape, path: string, out: FieldError[], options: { required: boolean }): void {
  checkShape(value, shape, path, out, { ...options, constraints: false });
}

function looksLikeJSON(text: string): boolean {
  const first = text.trimStart()[0];
  return first === '{' || first === '[';
}

function parseJSON(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const located = locateJSONError(text);
    const position = located?.position ?? 0;
    const { line, column } = lineAndColumn(text, position);
    throw new ParseError(`invalid JSON at line ${line}, column ${column}: ${located?.reason ?? (error as Error).message}`, {
      position,
      line,
      column,
      cause: error,
    });
  }
}

/**
 * Parses a calicoctl resource file into resources.
 *
 * Accepted: YAML or JSON; several YAML documents separated by `---`; a top-level list of
 * resources; typed lists (`kind: IPPoolList`, `items: [...]`, items may omit `kind` and
 * `apiVersion`) and the Kubernetes-style generic `kind: List`. Empty documents are skipped.
 * Every resource must have `apiVersion: projectcalico.org/v3` and a known `kind`. Parsing is
 * strict like calicoctl's: unknown fields and wrongly typed values are errors. Values are read
 * as Calico reads them: an unquoted `true` or `1.10` in a string field (labels, annotations,
 * selectors) is that text. AS numbers may be numbers, decimal strings or asdot strings; they are
 * returned as given (see {@link applyDefaults} to normalise them). Namespaced kinds without a
 * namespace get `options.defaultNamespace` (`"default"`). Defaults are not applied.
 *
 * @throws ParseError when the text is not well-formed YAML/JSON (with `line`, `column` and
 *   `position` of the first problem).
 * @throws ValidationError listing every unknown kind, unknown field, wrong type or missing
 *   `apiVersion`/`kind`, each named by its path, e.g. `documents[1].spec.ipipModee` or
 *   `documents[0].items[2].kind` (document index from 0); with `options.validate` also every
 *   validation problem of every resource.
 *
 * @example
 * ```ts
 * const [pool] = loadManifests('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/16}\n');
 * ```
 */
export function loadManifests(text: string, options: LoadManifestsOptions = {}): Resource[] {
  if (typeof text !== 'string') {
    throw new ParseError(`manifest text must be a string, got ${text === null ? 'null' : typeof text}`);
  }
  const loader = new Loader(options);
  if (looksLikeJSON(text)) {
    loader.document(parseJSON(text), 'documents[0]');
  } else {
    let docs: Document.Parsed[];
    try {
      docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: false }) as Document.Parsed[];
    } catch (error) {
      throw new ParseError(`invalid YAML: ${(error as Error).message}`, { cause: error });
    }
    if (!Array.isArray(docs)) docs = [docs];
    for (const doc of docs) {
      const first = doc.errors[0];
      if (first) {
        const position = first.pos[0];
        const { line, column } = lineAndColumn(text, position);
        const message = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        throw new ParseError(`invalid YAML at line ${line}, column ${column}: ${message}`, { position, line, column, cause: first });
      }
    }
    docs.forEach((doc, index) => {
      let data: unknown;
      try {
        data = yamlDocumentToData(doc);
      } catch (error) {
        throw new ParseError(`invalid YAML in document ${index}: ${(error as Error).message}`, { cause: error });
      }
      loader.document(data, `documents[${index}]`);
    });
  }
  if (loader.problems.length > 0) {
    throw new ValidationError(loader.problems, {
      message: `invalid manifest: ${loader.problems.map((p) => `${p.name}: ${p.reason}`).join('; ')}`,
    });
  }
  return loader.resources;
}

/** Options of {@link dumpManifests}. */
export interface DumpManifestsOptions {
  /**
   * How several resources are written: `'auto'` (default) writes one resource as itself,
   * several resources of one kind as a typed list (`<Kind>List`, as `calicoctl get` prints
   * them) and mixed kinds as YAML documents separated by `---` (JSON: an array);
   * `'always'` uses a typed list even for one resource (all must share a kind);
   * `'never'` writes documents / an array.
   */
  list?: 'auto' | 'always' | 'never';
  /** `metadata.resourceVersion` of a typed list (the datastore list revision). */
  resourceVersion?: string;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isObj(value)) {
    const out: Obj = {};
    for (const key of Object.keys(value).sort()) if (value[key] !== undefined) out[key] = sortKeys(value[key]);
    return out;
  }
  return value;
}

/**
 * Writes resources as a calicoctl file. YAML output has keys sorted alphabetically (as
 * calicoctl prints it); JSON output keeps the objects' key order, indented by 2 spaces. The
 * result loads back with {@link loadManifests} to equal data.
 *
 * @throws ValidationError when `options.list` is `'always'` and the kinds differ, or a
 *   resource has no string `kind`.
 *
 * @example
 * ```ts
 * dumpManifests([poolA, poolB], 'yaml'); // "apiVersion: projectcalico.org/v3\nitems:\n- ...\nkind: IPPoolList\n..."
 * ```
 */
export function dumpManifests(resources: readonly Resource[], format: 'yaml' | 'json' = 'yaml', options: DumpManifestsOptions = {}): string {
  const mode = options.list ?? 'auto';
  const kinds = new Set<string>();
  resources.forEach((resource, index) => {
    if (!isObj(resource) || typeof resource.kind !== 'string') {
      throw new ValidationError([{ name: `resources[${index}].kind`, value: (resource as unknown as Obj | null)?.kind, reason: 'a resource needs a kind' }]);
    }
    kinds.add(resource.kind);
  });
  if (mode === 'always' && kinds.size > 1) {
    throw new ValidationError([{ name: 'resources', value: [...kinds], reason: 'a typed list needs resources of a single kind' }]);
  }
  let payload: unknown;
  let documents: unknown[] | undefined;
  const useList = mode === 'always' || (mode === 'auto' && resources.length > 1 && kinds.size === 1);
  if (useList) {
    const kind = resources[0]?.kind ?? 'List';
    payload = {
      apiVersion: API_VERSION,
      kind: resources.length > 0 ? `${kind}List` : 'List',
      metadata: options.resourceVersion !== undefined ? { resourceVersion: options.resourceVersion } : {},
      items: resources,
    };
  } else if (resources.length === 1) {
    payload = resources[0];
  } else {
    documents = [...resources];
  }
  if (format === 'json') {
    return `${JSON.stringify(documents ?? payload, null, 2)}\n`;
  }
  const toYaml = (value: unknown): string => yamlStringify(sortKeys(value), { lineWidth: 0, aliasDuplicateObjects: false, indentSeq: false });
  if (documents) return documents.length === 0 ? '' : documents.map(toYaml).join('---\n');
  return toYaml(payload);
}
