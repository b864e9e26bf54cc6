/**
 * The selector syntax tree and its canonical printer.
 *
 * Nodes are plain objects (deep-frozen once reached through `Selector.ast`), discriminated by `kind`. The tree is exactly upstream's:
 * `&&`/`||` chains are flat n-ary nodes, a run of `!` is collapsed by parity, parentheses leave
 * no node of their own, and set literals are sorted (by UTF-8 byte order) and de-duplicated.
 */

/** `all()`: matches every label set. */
export interface AllNode {
  readonly kind: 'all';
}
/** `global()`: matches every label set; callers give it a meaning for namespace selectors. */
export interface GlobalNode {
  readonly kind: 'global';
}
/** `has(label)`. */
export interface HasNode {
  readonly kind: 'has';
  readonly label: string;
}
/** `label == "v"`, `!=`, `contains`, `starts with`, `ends with`. */
export interface LabelValueNode {
  readonly kind: 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith';
  readonly label: string;
  readonly value: string;
}
/** `label in {...}` / `label not in {...}`; `values` sorted by byte order, no duplicates. */
export interface LabelSetNode {
  readonly kind: 'in' | 'notIn';
  readonly label: string;
  readonly values: readonly string[];
}
/** `!operand`. */
export interface NotNode {
  readonly kind: 'not';
  readonly operand: SelectorNode;
}
/** `a && b && ...` (two or more operands). */
export interface AndNode {
  readonly kind: 'and';
  readonly operands: readonly SelectorNode[];
}
/** `a || b || ...` (two or more operands). */
export interface OrNode {
  readonly kind: 'or';
  readonly operands: readonly SelectorNode[];
}

/** Any node of a selector tree. */
export type SelectorNode = AllNode | GlobalNode | HasNode | LabelValueNode | LabelSetNode | NotNode | AndNode | OrNode;

/** The kinds of {@link SelectorNode}. */
export type SelectorNodeKind = SelectorNode['kind'];

/**
 * Compares two strings by the byte order of their UTF-8 encodings (which is code point order),
 * as Go compares strings. Differs from `<` on UTF-16 only for characters outside the BMP.
 */
export function compareByteOrder(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // Move surrogates (code points >= 0x10000) above the rest of the BMP.
    if (ca >= 0xd800) ca = ca >= 0xe000 ? ca - 0x800 : ca + 0x2000;
    if (cb >= 0xd800) cb = cb >= 0xe000 ? cb - 0x800 : cb + 0x2000;
    return ca < cb ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** Sorts by byte order and removes duplicates (returns a new array). */
export function toStringSet(values: readonly string[]): readonly string[] {
  const sorted = [...values].sort(compareByteOrder);
  const out: string[] = [];
  for (const v of sorted) if (out.length === 0 || out[out.length - 1] !== v) out.push(v);
  return out;
}

function quoted(value: string): string {
  return value.includes('"') ? `'${value}'` : `"${value}"`;
}

const OPERATOR_TEXT = {
  eq: ' == ',
  ne: ' != ',
  contains: ' contains ',
  startsWith: ' starts with ',
  endsWith: ' ends with ',
} as const;

/**
 * Prints a tree in upstream's canonical form (`Selector.String()` in libcalico-go): one space
 * around operators, values in `"` unless they contain `"`, sets sorted as stored, `!` glued to
 * its operand, and parentheses around every `&&` / `||` node and nowhere else.
 *
 * @example
 * ```ts
 * printSelector(parseSelector("a == 'x' && !(b in {'z','y'})").ast);
 * // '(a == "x" && !b in {"y", "z"})'
 * ```
 */
export function printSelector(node: SelectorNode): string {
  switch (node.kind) {
    case 'all':
      return 'all()';
    case 'global':
      return 'global()';
    case 'has':
      return `has(${node.label})`;
    case 'eq':
    case 'ne':
    case 'contains':
    case 'startsWith':
    case 'endsWith':
      return node.label + OPERATOR_TEXT[node.kind] + quoted(node.value);
    case 'in':
    case 'notIn':
      return `${node.label} ${node.kind === 'in' ? 'in' : 'not in'} {${node.values.map(quoted).join(', ')}}`;
    case 'not':
      return `!${printSelector(node.operand)}`;
    case 'and':
      return `(${node.operands.map(printSelector).join(' && ')})`;
    case 'or':
      return `(${node.operands.map(printSelector).join(' || ')})`;
  }
}
