// Property tests: random selectors built together with their intended meaning (straight from the
// semantics table of reference/selectors.md §3), so the parser's precedence and the compiled
// matcher are checked against an independent oracle, and canonical printing is checked to be
// stable and meaning-preserving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type SelectorNode, isPossibleToSatisfy, parseSelector } from './index.js';

type Labels = Record<string, string>;
interface Expr {
  text: string;
  /** 0: an || chain, 1: an && chain, 2: unary or primary. */
  prec: 0 | 1 | 2;
  matches: (labels: Labels) => boolean;
}

const KEYS = ['a', 'b', 'k8s-app', 'calico/k8s_ns', 'x.y_z', 'contains', 'in', 'has', 'all'];
const VALUES = ['', 'x', 'y', 'xy', 'yx', 'a b', "'", '"', "it's", 'say "hi"', 'ü', '😀'];
const ws = fc.constantFrom('', ' ', '\t', '  ');
const ws1 = fc.constantFrom(' ', '\t', '  ');
const key = fc.constantFrom(...KEYS);
const value = fc.constantFrom(...VALUES);

function quote(v: string, preferSingle: boolean): string {
  if (v.includes('"')) return `'${v}'`;
  if (v.includes("'")) return `"${v}"`;
  return preferSingle ? `'${v}'` : `"${v}"`;
}

function get(labels: Labels, k: string): string | undefined {
  return Object.hasOwn(labels, k) ? labels[k] : undefined;
}

const leaf: fc.Arbitrary<Expr> = fc.oneof(
  fc.tuple(ws, key, ws).map(([w1, k, w2]): Expr => ({ text: `has(${w1}${k}${w2})`, prec: 2, matches: (l) => get(l, k) !== undefined })),
  fc.tuple(ws).map(([w]): Expr => ({ text: `all(${w})`, prec: 2, matches: () => true })),
  fc.tuple(ws).map(([w]): Expr => ({ text: `global(${w})`, prec: 2, matches: () => true })),
  fc
    .tuple(key, fc.constantFrom('==', '!='), ws, ws, value, fc.boolean())
    .map(([k, op, w1, w2, v, single]): Expr => ({
      text: `${k}${w1}${op}${w2}${quote(v, single)}`,
      prec: 2,
      matches: op === '==' ? (l) => get(l, k) === v : (l) => get(l, k) !== v,
    })),
  fc
    .tuple(key, fc.constantFrom('contains', 'starts with', 'startswith', 'starts  with', 'ends with', 'endswith'), ws1, ws, value, fc.boolean())
    .map(([k, op, w1, w2, v, single]): Expr => {
      const test =
        op === 'contains'
          ? (x: string) => x.includes(v)
          : op.startsWith('starts')
            ? (x: string) => x.startsWith(v)
            : (x: string) => x.endsWith(v);
      return {
        text: `${k}${w1}${op}${w2}${quote(v, single)}`,
        prec: 2,
        matches: (l) => {
          const x = get(l, k);
          return x !== undefined && test(x);
        },
      };
    }),
  fc
    .tuple(key, fc.constantFrom('in', 'not in', 'notin', 'not\tin'), ws1, ws, fc.array(value, { maxLength: 6 }), fc.boolean(), fc.boolean())
    .map(([k, op, w1, w2, values, single, trailingComma]): Expr => {
      const set = new Set(values);
      const body = values.map((v) => quote(v, single)).join(`,${single ? ' ' : ''}`);
      const text = `${k}${w1}${op}${w2}{${body}${trailingComma && values.length > 0 ? ',' : ''}}`;
      return op === 'in'
        ? { text, prec: 2, matches: (l) => { const x = get(l, k); return x !== undefined && set.has(x); } }
        : { text, prec: 2, matches: (l) => { const x = get(l, k); return x === undefined || !set.has(x); } };
    }),
);

function wrap(e: Expr, minPrec: number, extraParens: boolean, w: string): string {
  return e.prec >= minPrec && !extraParens ? e.text : `(${w}${e.text}${w})`;
}

const { expr } = fc.letrec<{ expr: Expr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.tuple(tie('expr'), fc.integer({ min: 1, max: 3 }), ws, fc.boolean()).map(([e, bangs, w, extra]): Expr => {
      const text = '!'.repeat(bangs).split('').join(w) + w + wrap(e, 2, extra, w);
      return { text, prec: 2, matches: bangs % 2 === 1 ? (l) => !e.matches(l) : e.matches };
    }),
    fc.tuple(fc.array(tie('expr'), { minLength: 2, maxLength: 4 }), ws, fc.boolean()).map(([es, w, extra]): Expr => ({
      text: es.map((e) => wrap(e, 1, extra, w)).join(`${w}&&${w}`),
      prec: 1,
      matches: (l) => es.every((e) => e.matches(l)),
    })),
    fc.tuple(fc.array(tie('expr'), { minLength: 2, maxLength: 4 }), ws, fc.boolean()).map(([es, w, extra]): Expr => ({
      text: es.map((e) => wrap(e, 0, extra, w)).join(`${w}||${w}`),
      prec: 0,
      matches: (l) => es.some((e) => e.matches(l)),
    })),
  ),
}));

const labelsArb = fc.dictionary(key, value, { maxKeys: 6 });

function hasDoubleNot(node: SelectorNode): boolean {
  switch (node.kind) {
    case 'not':
      return node.operand.kind === 'not' || hasDoubleNot(node.operand);
    case 'and':
    case 'or':
      return node.operands.some(hasDoubleNot);
    default:
      return false;
  }
}

test('property: parsing gives the intended meaning; canonical form re-parses to the same canonical form and meaning', () => {
  fc.assert(
    fc.property(expr, fc.array(labelsArb, { minLength: 1, maxLength: 8 }), (e, labelSets) => {
      const selector = parseSelector(e.text);
      const canonical = selector.toString();
      const reparsed = parseSelector(canonical);
      if (!hasDoubleNot(selector.ast)) assert.equal(reparsed.toString(), canonical);
      // Printing is always idempotent after one round (the double-negation case collapses once).
      assert.equal(parseSelector(reparsed.toString()).toString(), reparsed.toString());
      for (const labels of labelSets) {
        const expected = e.matches(labels);
        assert.equal(selector.matches(labels), expected, `${e.text} on ${JSON.stringify(labels)}`);
        assert.equal(reparsed.matches(labels), expected, `${canonical} on ${JSON.stringify(labels)}`);
        assert.equal(selector.matches(new Map(Object.entries(labels))), expected);
      }
      assert.equal(reparsed.uniqueId() === selector.uniqueId(), reparsed.toString() === canonical);
    }),
    { numRuns: 1500 },
  );
});

test('property: arbitrary text either parses or throws SelectorParseError with a position inside the input', () => {
  const alphabet = fc.constantFrom(...'ab()!&|=" \'{},\t%-/.'.split(''), 'has(', 'all(', ' in ', ' contains ', ' not in ', '==', '&&', '||');
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 14 }).map((parts) => parts.join('')), (text) => {
      try {
        const selector = parseSelector(text);
        assert.equal(parseSelector(selector.toString()).matches({ a: 'x' }), selector.matches({ a: 'x' }));
      } catch (error) {
        const e = error as { name?: string; position?: number; input?: string };
        assert.equal(e.name, 'SelectorParseError', String(error));
        assert.equal(e.input, text);
        assert.ok(Number.isInteger(e.position) && e.position! >= 0 && e.position! <= text.length, `${text}: ${e.position}`);
      }
    }),
    { numRuns: 5000 },
  );
});

test('property: label restrictions are necessary conditions of a match', () => {
  fc.assert(
    fc.property(expr, fc.array(labelsArb, { minLength: 1, maxLength: 10 }), (e, labelSets) => {
      const selector = parseSelector(e.text);
      const restrictions = selector.labelRestrictions();
      for (const labels of labelSets) {
        if (!selector.matches(labels)) continue;
        for (const [label, r] of restrictions) {
          assert.ok(isPossibleToSatisfy(r), `${e.text}: ${label} unsatisfiable but ${JSON.stringify(labels)} matches`);
          const value = get(labels, label);
          if (r.mustBePresent) assert.notEqual(value, undefined, `${e.text}: ${label} must be present`);
          if (r.mustBeAbsent) assert.equal(value, undefined, `${e.text}: ${label} must be absent`);
          if (r.mustHaveOneOf !== undefined) assert.ok(r.mustHaveOneOf.includes(value!), `${e.text}: ${label}=${value}`);
        }
      }
    }),
    { numRuns: 1500 },
  );
});
