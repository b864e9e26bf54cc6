// Every example of the selector reference (reference/selectors.md) as table tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CalicoError, ParseError } from '@libcalico-ts/api';
import { SelectorParseError, parseSelector } from './index.js';

type L = Record<string, string>;

// §4 canonicalisation examples (upstream canonicalisationTests and the Visitor table).
const canonical: Array<[input: string, expected: string]> = [
  ['', 'all()'],
  [' all() ', 'all()'],
  [' (all() )', 'all()'],
  ['! (has( b)||! has(a ))', '!(has(b) || !has(a))'],
  ['! (a == "b"&&! c != "d")', '!(a == "b" && !c != "d")'],
  [`a == "'"`, `a == "'"`],
  [`a == '"'`, `a == '"'`],
  [`a contains '"'`, `a contains '"'`],
  [`a startswith '"'`, `a starts with '"'`],
  [`a endswith "'"`, `a ends with "'"`],
  [`a!='"'`, `a != '"'`],
  ['a in {"d", "a", "b"}', 'a in {"a", "b", "d"}'],
  ['a in {"z", "z", "x", "y", "x", "a"}', 'a in {"a", "x", "y", "z"}'],
  ["k == 'v'", 'k == "v"'],
  ["k != 'v'", 'k != "v"'],
  ["k contains 'v'", 'k contains "v"'],
  ["k starts with 'v'", 'k starts with "v"'],
  ["k ends with 'v'", 'k ends with "v"'],
  ["k == 'v' && x == 'y'", '(k == "v" && x == "y")'],
  ["k == 'v' || has(x)", '(k == "v" || has(x))'],
  ["!(k == 'v')", '!k == "v"'],
  ["k in {'v'}", 'k in {"v"}'],
  ["k not in {'v'}", 'k not in {"v"}'],
  ["!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))", '!(!((k == "v" && has(t)) || all()) && a in {"b", "c"})'],
  // Other printing rules stated in §4.
  [' global()', 'global()'],
  ['a in {}', 'a in {}'],
  ['a not in {"a",}', 'a not in {"a"}'],
  ['(a == "x" && b == "y") && c == "z"', '((a == "x" && b == "y") && c == "z")'],
  ['a == "x" && b == "y" && c == "z"', '(a == "x" && b == "y" && c == "z")'],
  ['a == "x" || b == "y" && c == "z"', '(a == "x" || (b == "y" && c == "z"))'],
  ['!(!has(a))', '!!has(a)'],
  ['!!has(a)', 'has(a)'],
  ['!!!has(a)', '!has(a)'],
  ['! ! ! has(a)', '!has(a)'],
  ['!a == "b"', '!a == "b"'],
  ['!(x == "1") && y == "2"', '(!x == "1" && y == "2")'],
  ['a in {"\'", \'"\', "c"}', 'a in {\'"\', "\'", "c"}'],
];

test('canonical form of every reference example', () => {
  for (const [input, expected] of canonical) {
    const selector = parseSelector(input);
    assert.equal(selector.toString(), expected, JSON.stringify(input));
    assert.equal(JSON.stringify(selector), JSON.stringify(expected));
    assert.equal(selector.source, input);
  }
});

test('canonical forms are round-trip stable (except the documented double negation)', () => {
  for (const [input, expected] of canonical) {
    if (input === '!(!has(a))') {
      assert.equal(parseSelector(expected).toString(), 'has(a)');
      continue;
    }
    assert.equal(parseSelector(expected).toString(), expected, JSON.stringify(input));
  }
});

test('UniqueID test vectors', () => {
  assert.equal(parseSelector('all()').uniqueId(), 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug');
  assert.equal(parseSelector('').uniqueId(), 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug');
  assert.equal(parseSelector('!(has(b) || !has(a))').uniqueId(), 's:Iss0uCleLYv1GSv_pNm7hAO58kE9jAx1NKyG3Q');
  assert.equal(parseSelector('! (has( b)||! has(a ))').uniqueId(), 's:Iss0uCleLYv1GSv_pNm7hAO58kE9jAx1NKyG3Q');
  assert.equal(parseSelector('!(a == "b" && !c != "d")').uniqueId(), 's:lh3haoY1ikTRkd4UZu0nWSaIBknYLPJLX16d-w');
});

// §5 match examples: rows 1-48 from upstream selectorTests, then the derived rows.
const q = '"';
const sq = "'";
const matchRows: Array<[selector: string, labels: L, expected: boolean]> = [
  ['a == "b"', { a: 'b' }, true],
  ['a == "b"', { a: 'b', c: 'd' }, true],
  ['a == "b"', {}, false],
  ['a == "b"', { a: 'c' }, false],
  ['a == "b"', { c: 'd' }, false],
  ['a == "b" && c == "d"', { a: 'b', c: 'd' }, true],
  ['a == "b" && c == "d"', { a: 'b', c: 'e' }, false],
  ['a == "b" && c == "d"', { a: 'b' }, false],
  ['a == "b" || c == "d"', { c: 'd' }, true],
  ['a == "b" || c == "d"', { a: 'e', c: 'e' }, false],
  [`a in {"'", '"', "c"}`, { a: 'c' }, true],
  [`a in {"'", '"', "c"}`, { a: q }, true],
  [`a in {"'", '"', "c"}`, {}, false],
  [`a not in {"'", '"', "c"}`, {}, true],
  [`a not in {"'", '"', "c"}`, { a: 'e' }, true],
  [`a not in {"'", '"', "c"}`, { a: sq }, false],
  ['a != "b"', { a: 'a' }, true],
  ['a != "a"', {}, true],
  ['a != "a"', { a: 'a' }, false],
  ['a contains "a"', { a: 'bab' }, true],
  ['a contains "a"', { b: 'aaa' }, false],
  ['a starts with "a"', { a: 'abb' }, true],
  ['a starts with "a"', { a: 'baa' }, false],
  ['a ends with "a"', { a: 'bba' }, true],
  ['a ends with "a"', { a: 'aab' }, false],
  ['!a in {"a"}', { a: 'b' }, true],
  ['a in {"a", "b"}', { a: 'b' }, true],
  ['a in {"a", "b"}', { a: 'c' }, false],
  ['a not in {"d", "e"}', { a: 'a' }, true],
  ['a not in {"a"}', { a: 'a' }, false],
  ['has(a)', { a: 'b' }, true],
  ['has(b)', { a: 'b' }, false],
  ['!has(a)', { b: 'b' }, true],
  ['!has(a)', { a: 'b' }, false],
  ['', {}, true],
  ['', { a: 'b' }, true],
  [' ', {}, true],
  [' all()', { a: 'b' }, true],
  [' global()', { a: 'b' }, true],
  ['!!has(b)', { a: 'b' }, false],
  ['!! ! has(a)', { a: 'b' }, false],
  ["a == 'a1' && b != 'b1'", { a: 'a1', b: 'b1' }, false],
  ["!a == 'a1' && b == 'b1'", { a: 'a1', b: 'b1' }, false],
  ['has(a) && !has(b)', { a: 'a' }, true],
  ['!(!has(a) || has(b))', { a: 'a' }, true],
  ["a != 'a1' || b == 'b1'", { a: 'a1', b: 'b1' }, true],
  ["a != 'a1' || b != 'b1'", { a: 'a1', b: 'b1' }, false],
  ["! a == 'a1' || ! b == 'b1'", { a: 'a1', b: 'b1' }, false],
  // Derived rows.
  ['a in {}', { a: 'x' }, false],
  ['a not in {}', {}, true],
  ['a contains ""', { a: '' }, true],
  ['a == ""', {}, false],
  ['a == "x" || b == "y" && c == "z"', { a: 'x' }, true],
  ['(a == "x" || b == "y") && c == "z"', { a: 'x' }, false],
  // Consequences listed in §3.
  ['!k == "x"', {}, true],
  ['k != "x"', {}, true],
  ['!k in {"x"}', {}, true],
  ['a == ""', { a: '' }, true],
  ['has(a)', { a: '' }, true],
  ['a contains ""', {}, false],
  ['a starts with ""', { a: 'q' }, true],
  ['a ends with ""', {}, false],
  ['a == "B"', { a: 'b' }, false],
  ['a in {"10"}', { a: '10.0' }, false],
];

test('match results of every reference row, on the parsed and on the re-parsed canonical form', () => {
  for (const [text, labels, expected] of matchRows) {
    const selector = parseSelector(text);
    const reparsed = parseSelector(selector.toString());
    const name = `${JSON.stringify(text)} on ${JSON.stringify(labels)}`;
    assert.equal(selector.matches(labels), expected, name);
    assert.equal(reparsed.matches(labels), expected, `${name} (canonical ${reparsed.toString()})`);
    assert.equal(selector.matches(new Map(Object.entries(labels))), expected, `${name} as a Map`);
  }
});

// §6 invalid inputs, each with the offset where the problem is reported.
const label513 = 'a'.repeat(513);
const invalid: Array<[input: string, position: number, reason: RegExp]> = [
  ['b == b', 5, /expected a string literal after "=="/],
  ['b contains b', 11, /expected a string literal after "contains"/],
  // Upstream's tokenizer rejects these already: a two-word operator must be followed by a word
  // boundary after any whitespace, and a label is not one.
  ['b starts with b', 2, /expected an operator after label "b"/],
  ['b ends with b', 2, /expected an operator after label "b"/],
  ['b not in c', 2, /expected an operator after label "b"/],
  ['b in c', 5, /expected a set literal "\{...\}" after "in", found label "c"/],
  ["'b1' == b", 0, /unexpected string "b1"/],
  ['b', 1, /unexpected end of input, expected an operator after label "b"/],
  ['a ', 2, /unexpected end of input, expected an operator/],
  ['a b', 2, /expected an operator after label "a"/],
  ['!', 1, /unexpected end of input, expected an expression/],
  ['foo == "bar" &', 13, /expected "&&"/],
  ['foo == "bar" |', 13, /expected "\|\|"/],
  ['a == "b" & has(foo)', 9, /expected "&&"/],
  ['a == "b" | has(foo)', 9, /expected "\|\|"/],
  ['foo != ||', 7, /expected a string literal after "!=", found "\|\|"/],
  ['foo in {"", ||', 12, /expected a string or "}" in set literal, found "\|\|"/],
  ['foo in ""', 7, /expected a set literal/],
  ['"FOO', 0, /unterminated string/],
  [`"FOO'`, 0, /unterminated string/],
  ["'FOO", 0, /unterminated string/],
  ['label == "value', 9, /unterminated string/],
  ["label == 'value", 9, /unterminated string/],
  ['(', 1, /unexpected end of input, expected an expression/],
  ['(a == "foo"', 11, /expected "\)" to close the "\(" at offset 0, found end of input/],
  [')', 0, /unexpected "\)"/],
  ['()', 1, /unexpected "\)"/],
  ['%', 0, /unexpected character "%"/],
  ['a == "b" && %', 12, /unexpected character "%"/],
  ['a == "b" || %', 12, /unexpected character "%"/],
  ['has(foo) &&', 11, /unexpected end of input/],
  ['label = "value"', 6, /expected "=="/],
  ['all(', 4, /expected "\)" to close "all\("/],
  ['global(', 7, /expected "\)" to close "global\("/],
  ['has()', 4, /unexpected character "\)", expected a label/],
  ['has(foo', 7, /expected "\)" to close "has\("/],
  ['has( foo ', 9, /expected "\)" to close "has\("/],
  ['label starts foo "value"', 6, /expected an operator after label "label"/],
  ['label inf "value"', 6, /expected an operator/],
  ['label ends foo "value"', 6, /expected an operator/],
  ['label ends withs "value"', 6, /expected an operator/],
  ['label squiggles "value"', 6, /expected an operator/],
  [label513, 0, /label too long \(513 characters, the maximum is 512\)/],
  [`${label513} == "x"`, 0, /label too long/],
  [`has(${label513})`, 4, /label too long/],
  ['a not in "bar" && !has(foo) || b in c', 9, /expected a set literal/],
  ['a notin"bar"&&!has(foo)||b in"c"', 7, /expected a set literal/],
  // Further cases from the grammar notes.
  ['a == "b" )', 9, /unexpected "\)" after the end of the expression/],
  ['a in {,}', 6, /expected a string or "}" in set literal, found ","/],
  ['a in {"a" "b"}', 10, /expected "," or "}" in set literal, found string "b"/],
  ['a in {"a",,}', 10, /expected a string or "}"/],
  ['a in {"a"', 9, /expected "," or "}" in set literal, found end of input/],
  ['has (a)', 4, /expected an operator after label "has", found "\("/],
  ['all ()', 4, /expected an operator after label "all"/],
  ['a == "b"\n', 8, /unexpected character newline/],
  ['\na == "b"', 0, /unexpected character newline/],
  ['a == "b" &&\r\nc == "d"', 11, /carriage return/],
  ['a & & b', 2, /expected "&&"/],
  ['a =! "b"', 2, /expected "=="/],
  ['a == "b" b == "c"', 9, /unexpected label "b" after the end/],
  ['a in ("x")', 5, /expected a set literal "\{...\}" after "in", found "\("/],
  ['a ==', 4, /expected a string literal after "==", found end of input/],
  ['ä == "x"', 0, /unexpected character "ä"/],
  ['a == "x" && ', 12, /unexpected end of input/],
  ['!= "x"', 0, /unexpected "!="/],
  ['{"x"}', 0, /unexpected "\{"/],
];

test('invalid inputs throw SelectorParseError with the right position', () => {
  for (const [input, position, reason] of invalid) {
    assert.throws(
      () => parseSelector(input),
      (error: unknown) => {
        assert.ok(error instanceof SelectorParseError, `${JSON.stringify(input)}: ${String(error)}`);
        assert.ok(SelectorParseError.isInstance(error));
        assert.ok(CalicoError.isInstance(error), 'CalicoError marker');
        assert.ok(ParseError.isInstance(error), 'ParseError marker');
        assert.equal(error.input, input);
        assert.equal(error.identifier, input);
        assert.equal(error.name, 'SelectorParseError');
        assert.equal(error.position, position, `${JSON.stringify(input)}: ${error.reason}`);
        assert.match(error.reason, reason, `${JSON.stringify(input)}: ${error.reason}`);
        assert.ok(error.message.includes(`at offset ${position}`));
        return true;
      },
      JSON.stringify(input),
    );
  }
});
