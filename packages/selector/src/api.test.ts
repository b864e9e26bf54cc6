import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  Selector,
  SelectorParseError,
  TokenKind,
  compareByteOrder,
  isPossibleToSatisfy,
  isValidLabelKey,
  isValidSelector,
  matchAllSelector,
  matchNothingSelector,
  normaliseSelector,
  parseSelector,
  printSelector,
  selectorFromAst,
  tokenize,
  tryParseSelector,
  validateSelector,
} from './index.js';
import { base64UrlNoPad, sha224 } from './sha224.js';

const K = TokenKind;
function kinds(text: string): Array<[number, string]> {
  return tokenize(text).map((t) => [t.kind, t.value]);
}

test('tokenizer: upstream token tables', () => {
  const cases: Array<[string, Array<[number, string]>]> = [
    ['a=="b"', [[K.Label, 'a'], [K.Eq, ''], [K.String, 'b'], [K.EOF, '']]],
    ['a!="b"', [[K.Label, 'a'], [K.Ne, ''], [K.String, 'b'], [K.EOF, '']]],
    ['(a=="b")', [[K.LParen, ''], [K.Label, 'a'], [K.Eq, ''], [K.String, 'b'], [K.RParen, ''], [K.EOF, '']]],
    ['contains contains "contains"', [[K.Label, 'contains'], [K.Contains, ''], [K.String, 'contains'], [K.EOF, '']]],
    ["contains contains 'contains'", [[K.Label, 'contains'], [K.Contains, ''], [K.String, 'contains'], [K.EOF, '']]],
    ['label contains"value"', [[K.Label, 'label'], [K.Contains, ''], [K.String, 'value'], [K.EOF, '']]],
    ['label startswith "value"', [[K.Label, 'label'], [K.StartsWith, ''], [K.String, 'value'], [K.EOF, '']]],
    ['label endswith "value"', [[K.Label, 'label'], [K.EndsWith, ''], [K.String, 'value'], [K.EOF, '']]],
    ['startswith starts with "value"', [[K.Label, 'startswith'], [K.StartsWith, ''], [K.String, 'value'], [K.EOF, '']]],
    ['endswith ends with "value"', [[K.Label, 'endswith'], [K.EndsWith, ''], [K.String, 'value'], [K.EOF, '']]],
    ['label starts  with "value"', [[K.Label, 'label'], [K.StartsWith, ''], [K.String, 'value'], [K.EOF, '']]],
    ['label ends \t with "value"', [[K.Label, 'label'], [K.EndsWith, ''], [K.String, 'value'], [K.EOF, '']]],
    ['has(calico/k8s_NS-.1/role)', [[K.Has, 'calico/k8s_NS-.1/role'], [K.EOF, '']]],
    ['calico/k8s_ns == "kube-system" && k8s-app == "kube-dns"', [
      [K.Label, 'calico/k8s_ns'], [K.Eq, ''], [K.String, 'kube-system'], [K.And, ''],
      [K.Label, 'k8s-app'], [K.Eq, ''], [K.String, 'kube-dns'], [K.EOF, ''],
    ]],
    ['a not in "bar" && !has(foo) || b in c', [
      [K.Label, 'a'], [K.NotIn, ''], [K.String, 'bar'], [K.And, ''], [K.Not, ''], [K.Has, 'foo'],
      [K.Or, ''], [K.Label, 'b'], [K.In, ''], [K.Label, 'c'], [K.EOF, ''],
    ]],
    ['a  not  in  "bar"  &&  ! has( foo )  ||  b  in  c ', [
      [K.Label, 'a'], [K.NotIn, ''], [K.String, 'bar'], [K.And, ''], [K.Not, ''], [K.Has, 'foo'],
      [K.Or, ''], [K.Label, 'b'], [K.In, ''], [K.Label, 'c'], [K.EOF, ''],
    ]],
    ['a notin"bar"&&!has(foo)||b in"c"', [
      [K.Label, 'a'], [K.NotIn, ''], [K.String, 'bar'], [K.And, ''], [K.Not, ''], [K.Has, 'foo'],
      [K.Or, ''], [K.Label, 'b'], [K.In, ''], [K.String, 'c'], [K.EOF, ''],
    ]],
    ['a not in {}', [[K.Label, 'a'], [K.NotIn, ''], [K.LBrace, ''], [K.RBrace, ''], [K.EOF, '']]],
    ['a not in {"a","B"}', [[K.Label, 'a'], [K.NotIn, ''], [K.LBrace, ''], [K.String, 'a'], [K.Comma, ''], [K.String, 'B'], [K.RBrace, ''], [K.EOF, '']]],
    ['global( )', [[K.Global, ''], [K.EOF, '']]],
    ['all( )', [[K.All, ''], [K.EOF, '']]],
    ['a in{"x"}', [[K.Label, 'a'], [K.In, ''], [K.LBrace, ''], [K.String, 'x'], [K.RBrace, ''], [K.EOF, '']]],
    ['has == "x"', [[K.Label, 'has'], [K.Eq, ''], [K.String, 'x'], [K.EOF, '']]],
    ["a == 'x \"y\" z'", [[K.Label, 'a'], [K.Eq, ''], [K.String, 'x "y" z'], [K.EOF, '']]],
  ];
  for (const [text, expected] of cases) assert.deepEqual(kinds(text), expected, text);
  assert.deepEqual(tokenize('a == "b"').map((t) => t.position), [0, 2, 5, 8]);
});

test('keyword-named keys and function-named keys', () => {
  assert.equal(parseSelector('contains contains "contains"').matches({ contains: 'xcontainsx' }), true);
  assert.equal(parseSelector('startswith starts with "value"').toString(), 'startswith starts with "value"');
  assert.equal(parseSelector('has == "x"').matches({ has: 'x' }), true);
  assert.equal(parseSelector('all != "x"').matches({}), true);
  assert.equal(parseSelector('in in {"in"}').matches({ in: 'in' }), true);
  assert.equal(parseSelector('not not in {"x"}').matches({ not: 'y' }), true);
  assert.equal(parseSelector('global == "x"').toString(), 'global == "x"');
  assert.equal(parseSelector('a in {"x"}').toString(), 'a in {"x"}');
  assert.equal(parseSelector('a.b/c_d-e == "1"').labels[0], 'a.b/c_d-e');
  assert.equal(parseSelector('0 == "1"').matches({ 0: '1' }), true);
  const longest = 'k'.repeat(512);
  assert.equal(parseSelector(`has(${longest})`).matches({ [longest]: '' }), true);
});

test('labels that collide with Object.prototype members are only present when set', () => {
  for (const k of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
    assert.equal(parseSelector(`has(${k})`).matches({}), false, k);
    assert.equal(parseSelector(`!has(${k})`).matches({}), true, k);
    assert.equal(parseSelector(`${k} != "x"`).matches({}), true, k);
    assert.equal(parseSelector(`${k} not in {"x"}`).matches({}), true, k);
    assert.equal(parseSelector(`${k} contains ""`).matches({}), false, k);
    assert.equal(parseSelector(`${k} in {"x", "y", "z", "w", "v"}`).matches({}), false, k);
  }
  const labels = JSON.parse('{"__proto__": "x", "constructor": "y"}') as Record<string, string>;
  assert.equal(parseSelector('__proto__ == "x" && constructor == "y"').matches(labels), true);
  const bare = Object.create(null) as Record<string, string>;
  bare.a = 'b';
  assert.equal(parseSelector('a == "b"').matches(bare), true);
});

test('matches: null/undefined labels are empty; Maps; big sets; usable unbound', () => {
  const selector = parseSelector('!has(a) && b != "x"');
  assert.equal(selector.matches(undefined), true);
  assert.equal(selector.matches(null), true);
  assert.equal(parseSelector('has(a)').matches(undefined), false);
  const big = parseSelector('a in {"1","2","3","4","5","6","7"} && b not in {"1","2","3","4","5"}');
  assert.equal(big.matches({ a: '7', b: '6' }), true);
  assert.equal(big.matches({ a: '8', b: '6' }), false);
  assert.equal(big.matches({ a: '7', b: '5' }), false);
  assert.equal(big.matches(new Map([['a', '7']])), true);
  assert.equal(big.matches(new Map([['a', '7'], ['b', '1']])), false);
  const many = parseSelector('has(a) || has(b) || has(c) || has(d) || has(e)');
  assert.equal(many.matches({ e: '' }), true);
  assert.equal(many.matches({ f: '' }), false);
  const allOf = parseSelector('has(a) && has(b) && has(c) && has(d)');
  assert.equal(allOf.matches({ a: '', b: '', c: '', d: '' }), true);
  assert.equal(allOf.matches({ a: '', b: '', c: '' }), false);
  const sets: Array<Record<string, string>> = [{ a: 'x' }, { a: 'y' }, {}];
  assert.deepEqual(sets.filter(parseSelector('a == "x"').matches), [{ a: 'x' }]);
  const startsEnds = parseSelector('a starts with "ab" && a ends with "yz" && a contains "m"');
  assert.equal(startsEnds.matches(new Map([['a', 'abmyz']])), true);
  assert.equal(startsEnds.matches(new Map([['a', 'abyz']])), false);
});

test('Selector properties: labels, usesGlobal, isAll, equals, ast, constants', () => {
  const selector = parseSelector('b == "x" || (has(a) && !c in {"1"}) || b != "y"');
  assert.deepEqual(selector.labels, ['a', 'b', 'c']);
  assert.equal(selector.usesGlobal, false);
  assert.equal(parseSelector('!global()').usesGlobal, true);
  assert.equal(parseSelector('has(a) && global()').usesGlobal, true);
  assert.equal(parseSelector('').isAll, true);
  assert.equal(parseSelector('(all())').isAll, true);
  assert.equal(parseSelector('!all()').isAll, false);
  assert.equal(parseSelector("a=='x'").equals(parseSelector('a == "x"')), true);
  assert.equal(parseSelector('a == "x"').equals(parseSelector('a == "y"')), false);
  assert.deepEqual(parseSelector('!(a == "x" && has(b))').ast, {
    kind: 'not',
    operand: { kind: 'and', operands: [{ kind: 'eq', label: 'a', value: 'x' }, { kind: 'has', label: 'b' }] },
  });
  assert.deepEqual(parseSelector('a not in {"z", "y", "z"}').ast, { kind: 'notIn', label: 'a', values: ['y', 'z'] });
  assert.equal(Object.isFrozen(selector.ast), true);
  assert.equal(matchAllSelector.matches({}), true);
  assert.equal(matchAllSelector.toString(), 'all()');
  assert.equal(matchNothingSelector.matches({ a: 'b' }), false);
  assert.equal(matchNothingSelector.toString(), '!all()');
  assert.ok(selector instanceof Selector);
});

test('normalise, validate, tryParse, isValid', () => {
  assert.equal(normaliseSelector("  a=='b'  "), 'a == "b"');
  assert.equal(normaliseSelector('\n has(a)\n'), 'has(a)');
  assert.equal(normaliseSelector(''), 'all()');
  assert.equal(normaliseSelector('  a = b '), 'a = b');
  assert.equal(tryParseSelector('a = b'), undefined);
  assert.equal(tryParseSelector('has(a)')?.toString(), 'has(a)');
  assert.equal(isValidSelector('has(a)'), true);
  assert.equal(isValidSelector('has(a'), false);
  assert.doesNotThrow(() => validateSelector('a in {}'));
  assert.throws(() => validateSelector('a in'), SelectorParseError);
  assert.throws(() => parseSelector(undefined as unknown as string), SelectorParseError);
  assert.throws(() => validateSelector(7 as unknown as string), SelectorParseError);
});

test('deep nesting is rejected cleanly rather than overflowing the stack', () => {
  assert.equal(parseSelector(`${'('.repeat(400)}has(a)${')'.repeat(400)}`).toString(), 'has(a)');
  assert.throws(
    () => parseSelector(`${'('.repeat(100000)}has(a)${')'.repeat(100000)}`),
    (e: unknown) => SelectorParseError.isInstance(e) && /nested deeper/.test((e as Error).message),
  );
  // Long flat chains are fine.
  const chain = Array.from({ length: 5000 }, (_, i) => `l${i} == "v"`).join(' && ');
  const selector = parseSelector(chain);
  assert.equal(selector.labels.length, 5000);
  assert.equal(selector.matches({ l0: 'v' }), false);
});

test('isValidLabelKey', () => {
  assert.equal(isValidLabelKey('calico/k8s_ns'), true);
  assert.equal(isValidLabelKey('projectcalico.org/name'), true);
  assert.equal(isValidLabelKey('k'.repeat(512)), true);
  assert.equal(isValidLabelKey('k'.repeat(513)), false);
  assert.equal(isValidLabelKey(''), false);
  assert.equal(isValidLabelKey('a b'), false);
  assert.equal(isValidLabelKey('a:b'), false);
});

test('selectorFromAst validates and canonicalises', () => {
  const selector = selectorFromAst({
    kind: 'or',
    operands: [
      { kind: 'in', label: 'a', values: ['z', 'x', 'z'] },
      { kind: 'not', operand: { kind: 'startsWith', label: 'b', value: 'q"' } },
    ],
  });
  assert.equal(selector.toString(), `(a in {"x", "z"} || !b starts with 'q"')`);
  assert.equal(selector.source, selector.toString());
  assert.equal(selector.matches({ a: 'x' }), true);
  assert.equal(selector.matches({ b: 'q"r' }), false);
  assert.equal(selector.matches({}), true);
  const bad: unknown[] = [
    { kind: 'has', label: 'a b' },
    { kind: 'eq', label: 'a', value: `'"` },
    { kind: 'and', operands: [{ kind: 'all' }] },
    { kind: 'nope' },
    { kind: 'in', label: 'a', values: 'x' },
    { kind: 'ne', label: 'a', value: 1 },
  ];
  for (const ast of bad) {
    assert.throws(() => selectorFromAst(ast as never), SelectorParseError, JSON.stringify(ast));
  }
});

test('printSelector and byte-order set sorting', () => {
  assert.equal(printSelector({ kind: 'has', label: 'a' }), 'has(a)');
  // UTF-8 byte order puts U+FF5E before U+1F600 even though UTF-16 code units order them the other way.
  assert.equal(compareByteOrder('\uff5e', '😀'), -1);
  assert.equal(compareByteOrder('😀', '\uff5e'), 1);
  assert.equal(compareByteOrder('a', 'ab'), -1);
  assert.equal(compareByteOrder('B', 'a'), -1);
  assert.equal(compareByteOrder('x', 'x'), 0);
  assert.equal(parseSelector('a in {"😀", "\uff5e", "b", "B"}').toString(), 'a in {"B", "b", "\uff5e", "😀"}');
});

test('sha224 and base64url building blocks', () => {
  const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  const enc = new TextEncoder();
  assert.equal(hex(sha224(enc.encode(''))), 'd14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f');
  assert.equal(hex(sha224(enc.encode('abc'))), '23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7');
  assert.equal(
    hex(sha224(enc.encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))),
    '75388b16512776cc5dba5da1fd890150b0c6455cb4f58b1952522525',
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      assert.equal(hex(sha224(bytes)), createHash('sha224').update(bytes).digest('hex'));
    }),
    { numRuns: 300 },
  );
  assert.equal(base64UrlNoPad(new Uint8Array([0xfb, 0xff])), '-_8');
  assert.equal(base64UrlNoPad(new Uint8Array([0x66])), 'Zg');
  assert.equal(base64UrlNoPad(new Uint8Array([0x66, 0x6f, 0x6f])), 'Zm9v');
});

test('labelRestrictions: table', () => {
  const r = (text: string) => Object.fromEntries(parseSelector(text).labelRestrictions());
  assert.deepEqual(r('all()'), {});
  assert.deepEqual(r('a != "x" && b not in {"y"}'), {});
  assert.deepEqual(r('a == "x"'), { a: { mustBePresent: true, mustBeAbsent: false, mustHaveOneOf: ['x'] } });
  assert.deepEqual(r('has(a) && b contains "q"'), {
    a: { mustBePresent: true, mustBeAbsent: false },
    b: { mustBePresent: true, mustBeAbsent: false },
  });
  assert.deepEqual(r('a in {"z", "x", "y"} && a in {"y", "z", "w"}'), { a: { mustBePresent: true, mustBeAbsent: false, mustHaveOneOf: ['y', 'z'] } });
  assert.deepEqual(r('a == "x" && a == "y"'), { a: { mustBePresent: true, mustBeAbsent: false, mustHaveOneOf: [] } });
  assert.equal(isPossibleToSatisfy(parseSelector('a == "x" && a == "y"').labelRestrictions().get('a')!), false);
  assert.deepEqual(r('!has(b)'), { b: { mustBePresent: false, mustBeAbsent: true } });
  assert.equal(isPossibleToSatisfy(parseSelector('has(b) && !has(b)').labelRestrictions().get('b')!), false);
  assert.deepEqual(r('!a == "x"'), {});
  assert.deepEqual(r('a == "x" || a == "y"'), { a: { mustBePresent: true, mustBeAbsent: false, mustHaveOneOf: ['x', 'y'] } });
  assert.deepEqual(r('a == "x" || has(a)'), { a: { mustBePresent: true, mustBeAbsent: false } });
  assert.deepEqual(r('a == "x" || b == "y"'), {});
  assert.deepEqual(r('!has(a) || !has(a) && has(b)'), { a: { mustBePresent: false, mustBeAbsent: true } });
  assert.deepEqual([...parseSelector('has(z) && has(a) && has(m)').labelRestrictions().keys()], ['a', 'm', 'z']);
});
