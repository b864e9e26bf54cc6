import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GoRandSource, fnv1Hash32, goBigRand, hostStartIndex } from './gorand.js';

test('Go math/rand: seed 1 gives the documented first Int63 values', () => {
  const source = new GoRandSource(1);
  assert.equal(source.int63(), 5577006791947779410n);
  assert.equal(source.int63(), 8674665223082153551n);
  assert.equal(source.int63(), 6129484611666145821n);
});

test('Go math/rand: seed 0 and seed 2^31-1 both use the replacement seed 89482311', () => {
  const a = new GoRandSource(0);
  const b = new GoRandSource(2147483647);
  const c = new GoRandSource(89482311);
  const x = c.int63();
  assert.equal(a.int63(), x);
  assert.equal(b.int63(), x);
});

test('FNV-1 (not FNV-1a) of hostnames', () => {
  assert.equal(fnv1Hash32('host-a'), 1258779341);
  assert.equal(fnv1Hash32('host-b'), 1258779342);
  assert.equal(fnv1Hash32('test-host'), 1779102516);
  assert.equal(fnv1Hash32('host1'), 3838320184);
  assert.equal(fnv1Hash32('host2'), 3838320187);
  assert.equal(fnv1Hash32('node-1'), 568266919);
  assert.equal(fnv1Hash32(''), 2166136261);
});

const TABLE: [string, number[]][] = [
  // hostname, start index for N = 2, 4, 16, 64, 1024 (reference §4.1)
  ['host-a', [0, 0, 15, 20, 216]],
  ['host-b', [0, 2, 14, 14, 782]],
  ['test-host', [0, 2, 12, 12, 1012]],
  ['host1', [0, 3, 6, 30, 476]],
  ['host2', [1, 1, 5, 5, 733]],
  ['node-1', [0, 2, 15, 48, 338]],
];

for (const [host, expected] of TABLE) {
  test(`per-host start index of ${host}`, () => {
    const got = [2n, 4n, 16n, 64n, 1024n].map((n) => Number(hostStartIndex(host, n)));
    assert.deepEqual(got, expected);
  });
}

test('big.Int.Rand draws stay in range for multi-word limits and n = 1', () => {
  const source = new GoRandSource(42);
  const n = (1n << 70n) + 12345n;
  for (let i = 0; i < 50; i++) {
    const v = goBigRand(source, n);
    assert.ok(v >= 0n && v < n);
  }
  assert.equal(goBigRand(source, 1n), 0n);
  assert.equal(goBigRand(source, 0n), 0n);
});
