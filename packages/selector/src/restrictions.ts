/**
 * Label restrictions: necessary conditions on individual labels that every matching label set
 * satisfies (upstream `Selector.LabelRestrictions()`). Useful for indexing: a selector with
 * `a` restricted to `{"x", "y"}` only needs to be checked against label sets whose `a` is `x`
 * or `y`.
 */

import type { SelectorNode } from './ast.js';
import { compareByteOrder, toStringSet } from './ast.js';

/** What every label set matching a selector has in common for one label key. */
export interface LabelRestriction {
  /** The label must be present. */
  readonly mustBePresent: boolean;
  /** The label must be absent. */
  readonly mustBeAbsent: boolean;
  /**
   * When set, the label's value must be one of these (sorted by byte order). An empty array
   * means no value can satisfy the selector.
   */
  readonly mustHaveOneOf?: readonly string[];
}

type Restrictions = Map<string, LabelRestriction>;

function intersect(a: readonly string[], b: readonly string[]): readonly string[] {
  const set = new Set(b);
  return a.filter((v) => set.has(v));
}

function union(a: readonly string[], b: readonly string[]): readonly string[] {
  return toStringSet([...a, ...b]);
}

/** Computes the restrictions of a tree (see {@link LabelRestriction}). */
export function labelRestrictionsOf(node: SelectorNode): Restrictions {
  switch (node.kind) {
    case 'eq':
      return new Map([[node.label, { mustBePresent: true, mustBeAbsent: false, mustHaveOneOf: [node.value] }]]);
    case 'in':
      return new Map([[node.label, { mustBePresent: true, mustBeAbsent: false, mustHaveOneOf: [...node.values] }]]);
    case 'has':
    case 'contains':
    case 'startsWith':
    case 'endsWith':
      return new Map([[node.label, { mustBePresent: true, mustBeAbsent: false }]]);
    case 'not':
      if (node.operand.kind === 'has') return new Map([[node.operand.label, { mustBePresent: false, mustBeAbsent: true }]]);
      return new Map();
    case 'and': {
      const out: Restrictions = new Map();
      for (const operand of node.operands) {
        for (const [label, r] of labelRestrictionsOf(operand)) {
          const base = out.get(label);
          if (base === undefined) {
            out.set(label, r);
            continue;
          }
          const values =
            base.mustHaveOneOf === undefined
              ? r.mustHaveOneOf
              : r.mustHaveOneOf === undefined
                ? base.mustHaveOneOf
                : intersect(base.mustHaveOneOf, r.mustHaveOneOf);
          out.set(label, {
            mustBePresent: base.mustBePresent || r.mustBePresent,
            mustBeAbsent: base.mustBeAbsent || r.mustBeAbsent,
            ...(values === undefined ? {} : { mustHaveOneOf: values }),
          });
        }
      }
      return out;
    }
    case 'or': {
      const [first, ...rest] = node.operands.map(labelRestrictionsOf);
      const out: Restrictions = first ?? new Map();
      for (const other of rest) {
        for (const [label, r] of out) {
          const o = other.get(label);
          const mustBePresent = r.mustBePresent && o?.mustBePresent === true;
          const mustBeAbsent = r.mustBeAbsent && o?.mustBeAbsent === true;
          if (!mustBePresent && !mustBeAbsent) {
            out.delete(label);
            continue;
          }
          const values =
            mustBePresent && r.mustHaveOneOf !== undefined && o?.mustHaveOneOf !== undefined
              ? union(r.mustHaveOneOf, o.mustHaveOneOf)
              : undefined;
          out.set(label, { mustBePresent, mustBeAbsent, ...(values === undefined ? {} : { mustHaveOneOf: values }) });
        }
      }
      return out;
    }
    default:
      // all(), global(), !=, not in: no restriction.
      return new Map();
  }
}

/** Normalises value lists (sorted, unique) and freezes the result. */
export function finishRestrictions(restrictions: Restrictions): ReadonlyMap<string, LabelRestriction> {
  const out = new Map<string, LabelRestriction>();
  for (const label of [...restrictions.keys()].sort(compareByteOrder)) {
    const r = restrictions.get(label)!;
    out.set(
      label,
      Object.freeze(
        r.mustHaveOneOf === undefined
          ? { mustBePresent: r.mustBePresent, mustBeAbsent: r.mustBeAbsent }
          : { mustBePresent: r.mustBePresent, mustBeAbsent: r.mustBeAbsent, mustHaveOneOf: Object.freeze(toStringSet(r.mustHaveOneOf)) },
      ),
    );
  }
  return out;
}

/** False when the restriction can never be met (present and absent, or an empty value list). */
export function isPossibleToSatisfy(restriction: LabelRestriction): boolean {
  if (restriction.mustBePresent && restriction.mustBeAbsent) return false;
  return restriction.mustHaveOneOf === undefined || restriction.mustHaveOneOf.length > 0;
}
