import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ParseError, ValidationError } from '@libcalico-ts/api';
import { encodeGoJson, goString, parseJsonLossless } from './json.js';

test('integers outside the safe range come back as exact bigints; others as numbers', () => {
  const value = parseJsonLossless('{"a":1772359200000000002,"b":18446744073709551615,"c":-9007199254740993,"d":9007199254740991,"e":1.5,"f":1e3,"g":12345678901234567890.5}') as Record<string, unknown>;
  assert.equal(value.a, 1772359200000000002n);
  assert.equal(value.b, 18446744073709551615n);
  assert.equal(value.c, -9007199254740993n);
  assert.equal(value.d, 9007199254740991);
  assert.equal(value.e, 1.5);
  assert.equal(value.f, 1000);
  assert.equal(typeof value.g, 'number');
});

test('parses like JSON.parse for ordinary documents', () => {
  const docs = ['{"a":[1,2,{"b":null}],"c":"x\\ny\\u00e9\\"","d":true,"e":false}', ' [ ] ', '"\\ud83d\\ude00"', '-0.5e-3', '{}', '{"__proto__":{"x":1}}'];
  for (const doc of docs) assert.deepEqual(parseJsonLossless(doc), JSON.parse(doc), doc);
  const proto = parseJsonLossless('{"__proto__":{"x":1}}') as Record<string, unknown>;
  assert.ok(Object.prototype.hasOwnProperty.call(proto, '__proto__'));
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
});

test('property: agrees with JSON.parse on JSON without unsafe integers', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
      const text = JSON.stringify(value);
      fc.pre(!/\d{16,}/.test(text));
      assert.deepEqual(parseJsonLossless(text), JSON.parse(text));
    }),
    { numRuns: 300 },
  );
});

test('property: any uint64 survives a write and a read exactly', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (n) => {
      const text = encodeGoJson({ n });
      const back = (parseJsonLossless(text) as { n: bigint | number }).n;
      assert.equal(BigInt(back), n);
    }),
    { numRuns: 300 },
  );
});

test('malformed JSON fails with ParseError and its position', () => {
  const bad: [string, number][] = [
    ['{"a":', 5],
    ['{"a" 1}', 5],
    ['[1,]', 3],
    ['01', 0],
    ['{"a":1} x', 8],
    ['"abc', 0],
    ['tru', 0],
    ['', 0],
    ['{"a":"\u0001"}', 6],
    ['1.', 2],
  ];
  for (const [text, position] of bad) {
    assert.throws(
      () => parseJsonLossless(text),
      (e: unknown) => ParseError.isInstance(e) && (e as ParseError).position === position,
      JSON.stringify(text),
    );
  }
  assert.throws(() => parseJsonLossless('['.repeat(2000) + ']'.repeat(2000)), (e: unknown) => ParseError.isInstance(e));
});

test('strings are escaped as Go does (HTML-safe)', () => {
  assert.equal(goString('a && b <c> \u2028'), '"a \\u0026\\u0026 b \\u003cc\\u003e \\u2028"');
  assert.equal(goString('tab\t"q"'), '"tab\\t\\"q\\""');
});

test('encodeGoJson keeps key order, sorts maps on request, writes bigints as digits and rejects what JSON cannot hold', () => {
  assert.equal(encodeGoJson({ b: 1, a: [1n << 70n, null, undefined], c: undefined }), '{"b":1,"a":[1180591620717411303424,null,null]}');
  assert.equal(encodeGoJson({ m: { z: 1, a: 2 }, s: { z: 1, a: 2 } }, 'v', (path) => path === 'v.m'), '{"m":{"a":2,"z":1},"s":{"z":1,"a":2}}');
  assert.equal(encodeGoJson({ x: 1e21, y: 1e-7, z: -0 }), '{"x":1e+21,"y":1e-7,"z":0}');
  for (const bad of [{ x: Number.NaN }, { x: Infinity }, { f: () => 1 }, { s: Symbol('x') }]) {
    assert.throws(() => encodeGoJson(bad), (e: unknown) => ValidationError.isInstance(e), String(Object.keys(bad)));
  }
});
