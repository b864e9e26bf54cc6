/**
 * The public selector object and the entry points that build it.
 */

import type { SelectorNode } from './ast.js';
import { printSelector, toStringSet } from './ast.js';
import { type MapMatcher, type RecordMatcher, compileMap, compileRecord } from './compile.js';
import { SelectorParseError } from './errors.js';
import { parseToAst } from './parser.js';
import { type LabelRestriction, finishRestrictions, labelRestrictionsOf } from './restrictions.js';
import { base64UrlNoPad, sha224 } from './sha224.js';
import { MAX_LABEL_LENGTH, isIdentifierChar } from './tokenizer.js';

/**
 * A label set to match: a plain record (`metadata.labels`) or a `Map`. A key is present when it
 * has a string value; for records, only own string-valued properties count (inherited members
 * such as `constructor` never do). `null`/`undefined` is the empty label set.
 */
export type Labels = Readonly<Record<string, string>> | ReadonlyMap<string, string> | null | undefined;

const EMPTY_LABELS: Readonly<Record<string, string>> = Object.freeze(Object.create(null) as Record<string, string>);

function collectLabels(node: SelectorNode, out: Set<string>): void {
  switch (node.kind) {
    case 'all':
    case 'global':
      return;
    case 'not':
      collectLabels(node.operand, out);
      return;
    case 'and':
    case 'or':
      for (const operand of node.operands) collectLabels(operand, out);
      return;
    default:
      out.add(node.label);
  }
}

function deepFreeze(node: SelectorNode): void {
  if (Object.isFrozen(node)) return;
  if (node.kind === 'not') deepFreeze(node.operand);
  else if (node.kind === 'and' || node.kind === 'or') {
    for (const operand of node.operands) deepFreeze(operand);
    Object.freeze(node.operands);
  } else if (node.kind === 'in' || node.kind === 'notIn') Object.freeze(node.values);
  Object.freeze(node);
}

function containsGlobal(node: SelectorNode): boolean {
  switch (node.kind) {
    case 'global':
      return true;
    case 'not':
      return containsGlobal(node.operand);
    case 'and':
    case 'or':
      return node.operands.some(containsGlobal);
    default:
      return false;
  }
}

/**
 * A parsed, compiled Calico selector. Immutable. Build one with {@link parseSelector} or
 * {@link selectorFromAst}.
 *
 * @example
 * ```ts
 * const selector = parseSelector("has(a) && b == 'x' && c in {'2', '1'}");
 * selector.matches({ a: '', b: 'x', c: '1' });  // true
 * selector.toString();                           // '(has(a) && b == "x" && c in {"1", "2"})'
 * selector.labels;                               // ['a', 'b', 'c']
 * ```
 */
export class Selector {
  /** The text this selector was parsed from (the canonical form for {@link selectorFromAst}). */
  readonly source: string;
  /**
   * True when the selector matches `labels`. Compiled to closures at construction, so this does
   * no tree walk. It needs no `this`, so it can be passed around: `labelSets.filter(selector.matches)`.
   */
  readonly matches: (labels: Labels) => boolean;
  #canonical: string | undefined;
  readonly #ast: SelectorNode;
  #astFrozen = false;
  #uniqueId: string | undefined;
  #labels: readonly string[] | undefined;
  #restrictions: ReadonlyMap<string, LabelRestriction> | undefined;

  /** @internal Use {@link parseSelector} or {@link selectorFromAst}. */
  constructor(ast: SelectorNode, source: string) {
    this.#ast = ast;
    this.source = source;
    const onRecord: RecordMatcher = compileRecord(ast);
    let onMap: MapMatcher | undefined;
    this.matches = (labels: Labels): boolean => {
      if (labels == null) return onRecord(EMPTY_LABELS);
      if (labels instanceof Map) return (onMap ??= compileMap(ast))(labels);
      return onRecord(labels as Readonly<Record<string, string>>);
    };
  }

  /** The syntax tree. Deep-frozen (on first access), so it always describes what `matches` does. */
  get ast(): SelectorNode {
    if (!this.#astFrozen) {
      deepFreeze(this.#ast);
      this.#astFrozen = true;
    }
    return this.#ast;
  }

  /** Upstream's canonical form (libcalico-go `Selector.String()`), e.g. `(a == "x" && has(b))`. */
  toString(): string {
    return (this.#canonical ??= printSelector(this.#ast));
  }

  /** JSON form: the canonical string. */
  toJSON(): string {
    return this.toString();
  }

  /**
   * Upstream's `UniqueID()`: `"s:" + base64url_nopad(SHA-224("s:" + canonical))`. Equal for
   * selectors with the same canonical form.
   */
  uniqueId(): string {
    if (this.#uniqueId === undefined) {
      this.#uniqueId = `s:${base64UrlNoPad(sha224(new TextEncoder().encode(`s:${this.toString()}`)))}`;
    }
    return this.#uniqueId;
  }

  /** The label keys the selector refers to, sorted by byte order, without duplicates. */
  get labels(): readonly string[] {
    if (this.#labels === undefined) {
      const set = new Set<string>();
      collectLabels(this.#ast, set);
      this.#labels = toStringSet([...set]);
    }
    return this.#labels;
  }

  /**
   * True when the selector contains `global()` anywhere. Calico allows `global()` only in an
   * EntityRule `namespaceSelector`, where it means "non-namespaced resources"; validators use this.
   */
  get usesGlobal(): boolean {
    return containsGlobal(this.#ast);
  }

  /**
   * Necessary conditions on individual labels that every matching label set meets (upstream
   * `LabelRestrictions()`), keyed by label, in byte order. Labels without a restriction are
   * absent from the map. Use `isPossibleToSatisfy` to spot selectors that can never match.
   * @example
   * ```ts
   * parseSelector('a in {"x", "y"} && a != "x" && !has(b)').labelRestrictions();
   * // Map { 'a' => { mustBePresent: true, mustBeAbsent: false, mustHaveOneOf: ['x', 'y'] },
   * //       'b' => { mustBePresent: false, mustBeAbsent: true } }
   * ```
   */
  labelRestrictions(): ReadonlyMap<string, LabelRestriction> {
    return (this.#restrictions ??= finishRestrictions(labelRestrictionsOf(this.#ast)));
  }

  /** True when the selector is exactly `all()` (also the empty selector). */
  get isAll(): boolean {
    return this.#ast.kind === 'all';
  }

  /** True when both selectors have the same canonical form. */
  equals(other: Selector): boolean {
    return this.toString() === other.toString();
  }
}

/**
 * Parses Calico selector text into a compiled {@link Selector}. Empty or whitespace-only text is
 * `all()`. The parser does not trim: a newline outside a string literal is an error (use
 * {@link normaliseSelector} to trim first).
 *
 * @throws {SelectorParseError} with `position` (zero-based offset) and `input`.
 * @example
 * ```ts
 * parseSelector('calico/k8s_ns == "default" && !has(skip)').matches({ 'calico/k8s_ns': 'default' }); // true
 * parseSelector('a = "b"'); // throws SelectorParseError, position 2
 * ```
 */
export function parseSelector(text: string): Selector {
  if (typeof text !== 'string') throw new SelectorParseError(String(text), 0, 'selector must be a string');
  return new Selector(parseToAst(text), text);
}

/** Like {@link parseSelector} but returns `undefined` instead of throwing. */
export function tryParseSelector(text: string): Selector | undefined {
  try {
    return parseSelector(text);
  } catch (error) {
    if (SelectorParseError.isInstance(error)) return undefined;
    throw error;
  }
}

/**
 * Checks selector syntax.
 * @throws {SelectorParseError} when `text` is not a valid selector.
 */
export function validateSelector(text: string): void {
  if (typeof text !== 'string') throw new SelectorParseError(String(text), 0, 'selector must be a string');
  parseToAst(text);
}

/** True when `text` is a valid selector. Never throws. */
export function isValidSelector(text: string): boolean {
  return tryParseSelector(text) !== undefined;
}

/**
 * Upstream's `Normalise`: trims surrounding whitespace, then returns the canonical form; text
 * that does not parse is returned trimmed but otherwise unchanged.
 * @example
 * ```ts
 * normaliseSelector("  a=='b'  "); // 'a == "b"'
 * normaliseSelector('');           // 'all()'
 * ```
 */
export function normaliseSelector(text: string): string {
  const trimmed = text.trim();
  return tryParseSelector(trimmed)?.toString() ?? trimmed;
}

/** True when `key` is a valid label key for selectors: 1-512 characters of `[A-Za-z0-9_./-]`. */
export function isValidLabelKey(key: string): boolean {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_LABEL_LENGTH) return false;
  for (let i = 0; i < key.length; i++) if (!isIdentifierChar(key.charCodeAt(i))) return false;
  return true;
}

function checkNode(node: SelectorNode, path: string, fail: (path: string, reason: string) => never, depth: number): SelectorNode {
  if (depth > 500) fail(path, 'tree nested deeper than 500');
  if (typeof node !== 'object' || node === null) return fail(path, 'not a node');
  const checkLabel = (label: unknown): string => {
    if (typeof label !== 'string' || !isValidLabelKey(label)) fail(`${path}.label`, `invalid label key ${JSON.stringify(label)}`);
    return label as string;
  };
  const checkValue = (value: unknown, where: string): string => {
    if (typeof value !== 'string') fail(where, 'value must be a string');
    if ((value as string).includes('"') && (value as string).includes("'")) {
      fail(where, 'a value containing both \' and " cannot be written in selector syntax');
    }
    return value as string;
  };
  switch (node.kind) {
    case 'all':
    case 'global':
      return Object.freeze({ kind: node.kind });
    case 'has':
      return Object.freeze({ kind: 'has', label: checkLabel(node.label) });
    case 'eq':
    case 'ne':
    case 'contains':
    case 'startsWith':
    case 'endsWith':
      return Object.freeze({ kind: node.kind, label: checkLabel(node.label), value: checkValue(node.value, `${path}.value`) });
    case 'in':
    case 'notIn': {
      if (!Array.isArray(node.values)) fail(`${path}.values`, 'values must be an array');
      const values = node.values.map((v, i) => checkValue(v, `${path}.values[${i}]`));
      return Object.freeze({ kind: node.kind, label: checkLabel(node.label), values: toStringSet(values) });
    }
    case 'not':
      return Object.freeze({ kind: 'not', operand: checkNode(node.operand, `${path}.operand`, fail, depth + 1) });
    case 'and':
    case 'or': {
      if (!Array.isArray(node.operands) || node.operands.length < 2) fail(`${path}.operands`, 'needs at least two operands');
      const operands = node.operands.map((o, i) => checkNode(o, `${path}.operands[${i}]`, fail, depth + 1));
      return Object.freeze({ kind: node.kind, operands: Object.freeze(operands) });
    }
    default:
      return fail(`${path}.kind`, `unknown node kind ${JSON.stringify((node as { kind?: unknown }).kind)}`);
  }
}

/**
 * Builds a {@link Selector} from a tree (for tools that construct selectors programmatically).
 * The tree is validated and copied (sets are sorted and de-duplicated).
 * @throws {SelectorParseError} (with `position` 0 and `input` naming the path in the tree) for
 *   invalid label keys, values holding both quote characters, `and`/`or` with fewer than two
 *   operands, or unknown node kinds.
 * @example
 * ```ts
 * selectorFromAst({ kind: 'and', operands: [{ kind: 'has', label: 'a' }, { kind: 'eq', label: 'b', value: 'x' }] })
 *   .toString(); // '(has(a) && b == "x")'
 * ```
 */
export function selectorFromAst(ast: SelectorNode): Selector {
  const fail = (path: string, reason: string): never => {
    throw new SelectorParseError(path, 0, reason);
  };
  const checked = checkNode(ast, 'ast', fail, 0);
  return new Selector(checked, printSelector(checked));
}

/** The selector `all()`: matches everything. */
export const matchAllSelector: Selector = parseSelector('all()');
/** The selector `!all()`: matches nothing. */
export const matchNothingSelector: Selector = parseSelector('!all()');
