// Proves the Go math/rand + big.Int.Rand + FNV-1 port bit-identical against vectors produced at
// test time by the Go standard library (test/helpers/go-rand/main.go, built with Debian `go`).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { GoRandSource, fnv1Hash32, goBigRand } from '@libcalico-ts/ipam';
import { GO_RAND_COOKED_HEX } from '../../packages/ipam/src/gorand-cooked.js';
import { buildGoRand, type GoRand } from '../helpers/go-rand/build.js';

let goRand: GoRand;
before(() => {
  goRand = buildGoRand();
});

test('the embedded seeding table equals the one in the installed Go standard library', () => {
  const values = goRand(['cooked']).trim().split('\n');
  assert.equal(values.length, 607);
  const hex = values.map((v) => BigInt.asUintN(64, BigInt(v)).toString(16).padStart(16, '0')).join('');
  assert.equal(hex, GO_RAND_COOKED_HEX);
});

test('Int63 streams match Go for many seeds (including 0, negatives and > 2^31)', () => {
  const seeds = [1n, 0n, -1n, 7n, 89482311n, 2147483647n, 2147483648n, 4294967295n, -9223372036854775807n, 1714557600000000000n];
  for (const seed of seeds) {
    const expected = goRand(['int63', String(seed), '700']).trim().split('\n').map(BigInt);
    const source = new GoRandSource(seed);
    const got = expected.map(() => source.int63());
    assert.deepEqual(got, expected, `seed ${seed}`);
  }
});

test('per-host block start indexes and big.Int.Rand draws match Go for 2,000 hostnames and pool sizes', () => {
  const sizes = ['1', '2', '3', '4', '16', '64', '1000', '1024', '65536', '262144', '4294967296', '18446744073709551616', '1208925819614629174706176'];
  const lines: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const host = i % 3 === 0 ? `node-${i}` : i % 3 === 1 ? `ip-10-0-${i % 256}-${i}.ec2.internal` : `hôst-ü-${i}`;
    lines.push(`${host} ${sizes[i % sizes.length]} 3`);
  }
  const vectors = goRand(['vectors'], lines.join('\n') + '\n')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { host: string; fnv1: number; numBlocks: string; draws: string[]; int63: string[] });
  assert.equal(vectors.length, 2000);
  for (const v of vectors) {
    assert.equal(fnv1Hash32(v.host), v.fnv1, v.host);
    const source = new GoRandSource(v.fnv1);
    const draws = v.draws.map(() => goBigRand(source, BigInt(v.numBlocks)).toString());
    assert.deepEqual(draws, v.draws, `${v.host} N=${v.numBlocks}`);
    const s2 = new GoRandSource(v.fnv1);
    assert.deepEqual(v.int63.map(() => s2.int63().toString()), v.int63);
  }
});
