/**
 * Compiles a selector tree to closures once, at parse time, so matching does no tree walk.
 *
 * "Present" means the map has a string value for the key: for records that is
 * `typeof labels[key] === 'string'` (so inherited `Object.prototype` members such as
 * `constructor` never count as labels), for maps `map.get(key) !== undefined`.
 */

import type { SelectorNode } from './ast.js';

/** A compiled matcher over a plain label record. */
export type RecordMatcher = (labels: Readonly<Record<string, string>>) => boolean;
/** A compiled matcher over a label map. */
export type MapMatcher = (labels: ReadonlyMap<string, string>) => boolean;

const alwaysTrue = (): boolean => true;
const alwaysFalse = (): boolean => false;

/** Sets up to this size are matched by comparisons rather than a `Set`. */
const SMALL_SET = 4;

function inSetTest(values: readonly string[]): (v: string) => boolean {
  if (values.length <= SMALL_SET) {
    const [a, b, c, d] = values;
    switch (values.length) {
      case 1:
        return (v) => v === a;
      case 2:
        return (v) => v === a || v === b;
      case 3:
        return (v) => v === a || v === b || v === c;
      default:
        return (v) => v === a || v === b || v === c || v === d;
    }
  }
  const set = new Set(values);
  return (v) => set.has(v);
}

/** Compiles `node` to a matcher over plain records. */
export function compileRecord(node: SelectorNode): RecordMatcher {
  switch (node.kind) {
    case 'all':
    case 'global':
      return alwaysTrue;
    case 'has': {
      const k = node.label;
      return (l) => typeof l[k] === 'string';
    }
    case 'eq': {
      const k = node.label;
      const v = node.value;
      return (l) => l[k] === v;
    }
    case 'ne': {
      const k = node.label;
      const v = node.value;
      return (l) => l[k] !== v;
    }
    case 'contains': {
      const k = node.label;
      const v = node.value;
      return (l) => {
        const x = l[k];
        return typeof x === 'string' && x.includes(v);
      };
    }
    case 'startsWith': {
      const k = node.label;
      const v = node.value;
      return (l) => {
        const x = l[k];
        return typeof x === 'string' && x.startsWith(v);
      };
    }
    case 'endsWith': {
      const k = node.label;
      const v = node.value;
      return (l) => {
        const x = l[k];
        return typeof x === 'string' && x.endsWith(v);
      };
    }
    case 'in': {
      if (node.values.length === 0) return alwaysFalse;
      const k = node.label;
      const test = inSetTest(node.values);
      return (l) => {
        const x = l[k];
        return typeof x === 'string' && test(x);
      };
    }
    case 'notIn': {
      if (node.values.length === 0) return alwaysTrue;
      const k = node.label;
      const test = inSetTest(node.values);
      return (l) => {
        const x = l[k];
        return typeof x !== 'string' || !test(x);
      };
    }
    case 'not': {
      const operand = node.operand;
      if (operand.kind === 'has') {
        const k = operand.label;
        return (l) => typeof l[k] !== 'string';
      }
      const inner = compileRecord(operand);
      return (l) => !inner(l);
    }
    case 'and': {
      const fs = node.operands.map(compileRecord);
      if (fs.length === 2) {
        const [a, b] = fs as [RecordMatcher, RecordMatcher];
        return (l) => a(l) && b(l);
      }
      if (fs.length === 3) {
        const [a, b, c] = fs as [RecordMatcher, RecordMatcher, RecordMatcher];
        return (l) => a(l) && b(l) && c(l);
      }
      return (l) => {
        for (let i = 0; i < fs.length; i++) if (!fs[i]!(l)) return false;
        return true;
      };
    }
    case 'or': {
      const fs = node.operands.map(compileRecord);
      if (fs.length === 2) {
        const [a, b] = fs as [RecordMatcher, RecordMatcher];
        return (l) => a(l) || b(l);
      }
      if (fs.length === 3) {
        const [a, b, c] = fs as [RecordMatcher, RecordMatcher, RecordMatcher];
        return (l) => a(l) || b(l) || c(l);
      }
      return (l) => {
        for (let i = 0; i < fs.length; i++) if (fs[i]!(l)) return true;
        return false;
      };
    }
  }
}

/** Compiles `node` to a matcher over `Map`s. */
export function compileMap(node: SelectorNode): MapMatcher {
  switch (node.kind) {
    case 'all':
    case 'global':
      return alwaysTrue;
    case 'has': {
      const k = node.label;
      return (m) => m.get(k) !== undefined;
    }
    case 'eq': {
      const k = node.label;
      const v = node.value;
      return (m) => m.get(k) === v;
    }
    case 'ne': {
      const k = node.label;
      const v = node.value;
      return (m) => m.get(k) !== v;
    }
    case 'contains':
    case 'startsWith':
    case 'endsWith': {
      const k = node.label;
      const v = node.value;
      const kind = node.kind;
      return (m) => {
        const x = m.get(k);
        if (typeof x !== 'string') return false;
        return kind === 'contains' ? x.includes(v) : kind === 'startsWith' ? x.startsWith(v) : x.endsWith(v);
      };
    }
    case 'in':
    case 'notIn': {
      const k = node.label;
      const test = node.values.length === 0 ? alwaysFalse : inSetTest(node.values);
      const wanted = node.kind === 'in';
      return (m) => {
        const x = m.get(k);
        return typeof x === 'string' ? test(x) === wanted : !wanted;
      };
    }
    case 'not': {
      const inner = compileMap(node.operand);
      return (m) => !inner(m);
    }
    case 'and': {
      const fs = node.operands.map(compileMap);
      return (m) => {
        for (let i = 0; i < fs.length; i++) if (!fs[i]!(m)) return false;
        return true;
      };
    }
    case 'or': {
      const fs = node.operands.map(compileMap);
      return (m) => {
        for (let i = 0; i < fs.length; i++) if (fs[i]!(m)) return true;
        return false;
      };
    }
  }
}
