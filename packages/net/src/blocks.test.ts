import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CIDR,
  IPAddress,
  InvalidAddressError,
  OutOfRangeError,
  addressAt,
  blockAt,
  blockContaining,
  blockCount,
  ordinalOf,
  parseCIDR,
  parseIP,
  splitIntoBlocks,
} from './index.js';

test('ordinalOf / addressAt: table', () => {
  const cases: Array<[block: string, ip: string, ordinal: number]> = [
    ['10.0.0.64/26', '10.0.0.64', 0],
    ['10.0.0.64/26', '10.0.0.70', 6],
    ['10.0.0.64/26', '10.0.0.127', 63],
    ['192.168.84.128/26', '192.168.84.191', 63],
    ['fd00:10:244::/122', 'fd00:10:244::', 0],
    ['fd00:10:244::/122', 'fd00:10:244::3f', 63],
    ['fd80:24e2:f998:72d6::/122', 'fd80:24e2:f998:72d6::a', 10],
    ['10.0.0.0/8', '10.255.255.255', 16777215],
  ];
  for (const [block, ip, ordinal] of cases) {
    assert.equal(ordinalOf(parseCIDR(block), parseIP(ip)), ordinal, `${ip} in ${block}`);
    assert.equal(ordinalOf(block, ip), ordinal);
    assert.equal(addressAt(parseCIDR(block), ordinal).toString(), ip);
    assert.equal(addressAt(block, BigInt(ordinal)).toString(), ip);
  }
});

test('IPv4-mapped addresses inside an IPv6 block print in IPv4 form, like Go', () => {
  const block = parseCIDR('::/80');
  const ip = addressAt(block, 0xffff0a000001n);
  assert.equal(ip.toString(), '10.0.0.1');
  assert.equal(ordinalOf(block, ip), 0xffff0a000001);
  assert.throws(() => ordinalOf(block, ip.toString()), OutOfRangeError);
  assert.equal(ordinalOf(block, '::ffff:10.0.0.1'), 0xffff0a000001);
});

test('ordinalOf / addressAt: errors', () => {
  const block = parseCIDR('10.0.0.64/26');
  assert.throws(() => ordinalOf(block, '10.0.0.128'), (e: unknown) => OutOfRangeError.isInstance(e) && /not in block 10.0.0.64\/26/.test((e as Error).message));
  assert.throws(() => ordinalOf(block, '10.0.0.63'), OutOfRangeError);
  assert.throws(() => ordinalOf(block, '::ffff:10.0.0.65'), OutOfRangeError, 'other version');
  assert.throws(() => ordinalOf(block, 'bad'), InvalidAddressError);
  assert.throws(() => ordinalOf(parseCIDR('::/0'), '::ffff:ffff:ffff:ffff'), OutOfRangeError, 'ordinal beyond 2^53');
  assert.throws(() => addressAt(block, 64), OutOfRangeError);
  assert.throws(() => addressAt(block, -1), OutOfRangeError);
  assert.throws(() => addressAt(block, 1.5), OutOfRangeError);
  assert.throws(() => addressAt(block, Number.NaN), OutOfRangeError);
  assert.throws(() => addressAt(block, 64n), OutOfRangeError);
});

test('property: ordinals round-trip in random blocks', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.record({ version: fc.constant(4 as const), value: fc.bigInt({ min: 0n, max: 0xffffffffn }), prefix: fc.integer({ min: 11, max: 32 }) }),
        fc.record({ version: fc.constant(6 as const), value: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), prefix: fc.integer({ min: 75, max: 128 }) }),
      ),
      fc.bigInt({ min: 0n, max: (1n << 53n) - 1n }),
      ({ version, value, prefix }, seed) => {
        const block = new CIDR(new IPAddress(version, value), prefix).masked();
        const ordinal = Number(seed % block.size);
        const ip = addressAt(block, ordinal);
        assert.equal(block.contains(ip), true);
        assert.equal(ordinalOf(block, ip), ordinal);
        // IPv4-mapped addresses print in IPv4 form (as Go does), so their text re-parses as IPv4.
        if (!ip.isIPv4Mapped()) assert.equal(ordinalOf(block, ip.toString()), ordinal);
        assert.equal(blockContaining(ip, prefix).equals(block), true);
      },
    ),
    { numRuns: 1000 },
  );
});

test('splitIntoBlocks / blockCount: v4 counts and order', () => {
  const pool = parseCIDR('10.0.0.0/24');
  const blocks = [...splitIntoBlocks(pool, 26)].map(String);
  assert.deepEqual(blocks, ['10.0.0.0/26', '10.0.0.64/26', '10.0.0.128/26', '10.0.0.192/26']);
  assert.equal(blockCount(pool, 26), 4n);
  assert.equal(blockCount('10.0.0.0/16', 26), 1024n);
  assert.equal([...splitIntoBlocks('10.0.0.0/16', 26)].length, 1024);
  assert.equal([...splitIntoBlocks(pool, 24)].map(String).join(), '10.0.0.0/24');
  assert.equal([...splitIntoBlocks(pool, 32)].length, 256);
  const big = [...splitIntoBlocks('10.0.0.0/16', 26)];
  assert.equal(big.at(-1)!.toString(), '10.0.255.192/26');
  for (let i = 1; i < big.length; i++) assert.equal(big[i]!.network.value - big[i - 1]!.network.value, 64n);
  // A pool given with host bits splits from its network address.
  assert.equal([...splitIntoBlocks('10.0.0.77/24', 26)][0]!.toString(), '10.0.0.0/26');
  // The iterable can be iterated twice.
  const it = splitIntoBlocks(pool, 25);
  assert.equal([...it].length, 2);
  assert.equal([...it].length, 2);
});

test('splitIntoBlocks / blockCount / blockAt: v6 pools are lazy and exact', () => {
  const pool = parseCIDR('fd00:10:244::/48');
  assert.equal(blockCount(pool, 122), 1n << 74n);
  const iterator = splitIntoBlocks(pool, 122)[Symbol.iterator]();
  const first3 = [iterator.next().value, iterator.next().value, iterator.next().value].map(String);
  assert.deepEqual(first3, ['fd00:10:244::/122', 'fd00:10:244::40/122', 'fd00:10:244::80/122']);
  assert.equal(blockAt(pool, 122, (1n << 74n) - 1n).toString(), 'fd00:10:244:ffff:ffff:ffff:ffff:ffc0/122');
  assert.equal(blockAt(pool, 122, 2n).toString(), 'fd00:10:244::80/122');
  assert.equal(blockCount('fd00::/112', 122), 1024n);
  assert.equal([...splitIntoBlocks('fd00::/116', 122)].length, 64);
  assert.throws(() => blockAt(pool, 122, 1n << 74n), OutOfRangeError);
});

test('blockAt agrees with splitIntoBlocks', () => {
  const pool = parseCIDR('192.168.0.0/20');
  let index = 0n;
  for (const block of splitIntoBlocks(pool, 26)) {
    assert.equal(blockAt(pool, 26, index).toString(), block.toString());
    index++;
  }
  assert.equal(index, blockCount(pool, 26));
  assert.equal(blockAt(pool, 26, 3).toString(), '192.168.0.192/26');
});

test('block size errors', () => {
  assert.throws(() => blockCount('10.0.0.0/24', 23), (e: unknown) => OutOfRangeError.isInstance(e) && /from 24/.test((e as Error).message));
  assert.throws(() => blockCount('10.0.0.0/24', 33), OutOfRangeError);
  assert.throws(() => splitIntoBlocks('10.0.0.0/24', 20), OutOfRangeError);
  assert.throws(() => splitIntoBlocks('fd00::/64', 129), OutOfRangeError);
  assert.throws(() => blockAt('10.0.0.0/24', 26.5, 0n), OutOfRangeError);
  assert.throws(() => blockAt('10.0.0.0/24', 26, -1n), OutOfRangeError);
  assert.throws(() => blockAt('10.0.0.0/24', 26, 4), OutOfRangeError);
  assert.throws(() => blockAt('10.0.0.0/24', 26, 0.5), OutOfRangeError);
  assert.throws(() => blockContaining('10.0.0.1', 33), OutOfRangeError);
  assert.throws(() => blockContaining('10.0.0.1', -1), OutOfRangeError);
});

test('blockContaining: table', () => {
  assert.equal(blockContaining('10.0.0.77', 26).toString(), '10.0.0.64/26');
  assert.equal(blockContaining(parseIP('10.0.0.77'), 32).toString(), '10.0.0.77/32');
  assert.equal(blockContaining('10.0.0.77', 0).toString(), '0.0.0.0/0');
  assert.equal(blockContaining('fd00:10:244::1:7f', 122).toString(), 'fd00:10:244::1:40/122');
  assert.equal(blockContaining('fd00:10:244::1:7f', 122).hasHostBits, false);
});
