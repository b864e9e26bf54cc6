import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import fc from 'fast-check';
import { CalicoError, ParseError } from '@libcalico-ts/api';
import { IPAddress, InvalidAddressError, OutOfRangeError, formatIPBytes, formatIPv4, formatIPv6, ipVersionOf, isIP, parseIP } from './index.js';

const valid: Array<[input: string, version: 4 | 6, canonical: string, value: bigint]> = [
  ['0.0.0.0', 4, '0.0.0.0', 0n],
  ['10.0.0.1', 4, '10.0.0.1', 0x0a000001n],
  ['255.255.255.255', 4, '255.255.255.255', 0xffffffffn],
  ['192.168.84.128', 4, '192.168.84.128', 0xc0a85480n],
  ['::', 6, '::', 0n],
  ['::1', 6, '::1', 1n],
  ['1::', 6, '1::', 1n << 112n],
  ['0:0:0:0:0:0:0:0', 6, '::', 0n],
  ['fd00:10:244:0:0:0:0:0', 6, 'fd00:10:244::', 0xfd000010024400000000000000000000n],
  ['FD00:0010:0244::', 6, 'fd00:10:244::', 0xfd000010024400000000000000000000n],
  ['2001:db8:0:0:1:0:0:1', 6, '2001:db8::1:0:0:1', 0x20010db8000000000001000000000001n],
  ['2001:db8:0:1:1:1:1:1', 6, '2001:db8:0:1:1:1:1:1', 0x20010db8000000010001000100010001n],
  ['2001:0:0:1:0:0:0:1', 6, '2001:0:0:1::1', 0x20010000000000010000000000000001n],
  ['1:0:0:2:0:0:3:4', 6, '1::2:0:0:3:4', 0x00010000000000020000000000030004n],
  ['1:2:3:4:5:6:7::', 6, '1:2:3:4:5:6:7:0', 0x00010002000300040005000600070000n],
  ['::2:3:4:5:6:7:8', 6, '0:2:3:4:5:6:7:8', 0x00000002000300040005000600070008n],
  ['fe80::1:2', 6, 'fe80::1:2', 0xfe800000000000000000000000010002n],
  ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 6, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', (1n << 128n) - 1n],
  // Embedded IPv4 tails; IPv4-compatible addresses print in hex like Go does.
  ['::1.2.3.4', 6, '::102:304', 0x01020304n],
  ['1:2:3:4:5:6:1.2.3.4', 6, '1:2:3:4:5:6:102:304', 0x00010002000300040005000601020304n],
  // IPv4-mapped addresses print in IPv4 form, like Go's net.IP.String().
  ['::ffff:1.2.3.4', 6, '1.2.3.4', 0xffff01020304n],
  ['::ffff:a00:1', 6, '10.0.0.1', 0xffff0a000001n],
  ['::fffe:a00:1', 6, '::fffe:a00:1', 0xfffe0a000001n],
];

test('parseIP: valid addresses, canonical text and values', () => {
  for (const [input, version, canonical, value] of valid) {
    const ip = parseIP(input);
    assert.equal(ip.version, version, input);
    assert.equal(ip.value, value, input);
    assert.equal(ip.toString(), canonical, input);
    assert.equal(JSON.stringify(ip), JSON.stringify(canonical), input);
    assert.equal(isIP(input), true, input);
    assert.equal(ipVersionOf(input), version, input);
  }
});

const invalid: Array<[input: string, reasonPart: RegExp]> = [
  ['', /empty/],
  ['1.2.3', /too short/],
  ['1.2.3.4.5', /too long/],
  ['300.1.1.1', />255/],
  ['256.0.0.0', />255/],
  ['01.2.3.4', /leading zero/],
  ['1.2.3.04', /leading zero/],
  ['1.2.3.1234', /more than 3 digits/],
  ['1..2.3', /at least one digit/],
  ['1.2.3.', /at least one digit/],
  [' 1.2.3.4', /unexpected character/],
  ['1.2.3.4 ', /unexpected character/],
  ['1.2.3.a', /unexpected character/],
  ['-1.2.3.4', /unexpected character/],
  ['garbage', /unexpected character/],
  [':', /leading single colon/],
  [':1::', /leading single colon/],
  [':::', /unexpected colon/],
  ['1:::2', /unexpected colon/],
  ['1::2::3', /multiple/],
  ['1::2:', /trailing colon/],
  ['1:2:3:4:5:6:7', /too short/],
  ['1:2:3:4:5:6:7:8:9', /too many fields/],
  ['1:2:3:4:5:6:7:8::', /too many fields|at least one field/],
  ['::1:2:3:4:5:6:7:8', /too many fields|at least one field/],
  ['12345::', /at most 4 hex digits/],
  ['g::', /unexpected character/],
  ['fe80::1%eth0', /zones/],
  ['1:2:3:4:5:1.2.3.4', /final 2 fields/],
  ['1:2:3:4:5:6:7:1.2.3.4', /final 2 fields|too many/],
  ['::1.2.3', /embedded IPv4: .*too short/],
  ['::256.1.1.1', /embedded IPv4/],
  ['::1.2.3.4:5', /embedded IPv4/],
];

test('parseIP: invalid input throws InvalidAddressError naming the input and the reason', () => {
  for (const [input, reasonPart] of invalid) {
    assert.equal(isIP(input), false, input);
    assert.equal(ipVersionOf(input), undefined, input);
    assert.throws(
      () => parseIP(input),
      (error: unknown) => {
        assert.ok(error instanceof InvalidAddressError, input);
        assert.ok(InvalidAddressError.isInstance(error));
        assert.ok(CalicoError.isInstance(error), 'CalicoError marker');
        assert.ok(ParseError.isInstance(error), 'ParseError marker');
        assert.equal(error.input, input);
        assert.equal(error.identifier, input);
        assert.equal(error.isRetryable, false);
        assert.equal(error.name, 'InvalidAddressError');
        assert.match(error.reason, reasonPart, `${input}: ${error.reason}`);
        assert.ok(error.message.includes(JSON.stringify(input)), error.message);
        return true;
      },
    );
  }
  assert.throws(() => parseIP(42 as unknown as string), InvalidAddressError);
});

test('error markers are non-enumerable and other classes do not match', () => {
  const error = new InvalidAddressError('x', 'bad');
  assert.deepEqual(Object.getOwnPropertySymbols(error).filter((s) => Object.getOwnPropertyDescriptor(error, s)!.enumerable), []);
  assert.equal((error as unknown as Record<symbol, unknown>)[Symbol.for('@libcalico-ts/error')], true);
  assert.equal(OutOfRangeError.isInstance(error), false);
  const range = new OutOfRangeError('x', 'bad');
  assert.equal(CalicoError.isInstance(range), true);
  assert.equal(ParseError.isInstance(range), false);
  assert.equal(InvalidAddressError.isInstance(new Error('x')), false);
  assert.equal(InvalidAddressError.isInstance(null), false);
});

test('ipVersionOf accepts CIDR text', () => {
  assert.equal(ipVersionOf('10.0.0.0/8'), 4);
  assert.equal(ipVersionOf('fd00::/64'), 6);
  assert.equal(ipVersionOf('10.0.0.0/33'), undefined);
  assert.equal(ipVersionOf('fd00::/'), undefined);
});

test('IPAddress: equals, compare, add, bytes, mapping', () => {
  const a = parseIP('10.0.0.1');
  const b = parseIP('10.0.0.2');
  const v6 = parseIP('::1');
  assert.equal(a.equals(parseIP('10.0.0.1')), true);
  assert.equal(a.equals(b), false);
  assert.equal(a.equals(parseIP('::a00:1')), false, 'different versions are never equal');
  assert.equal(a.compare(b), -1);
  assert.equal(b.compare(a), 1);
  assert.equal(a.compare(a), 0);
  assert.equal(a.compare(v6), -1, 'IPv4 sorts before IPv6');
  assert.equal(v6.compare(a), 1);
  assert.equal(a.add(1).toString(), '10.0.0.2');
  assert.equal(a.add(-2n).toString(), '9.255.255.255');
  assert.throws(() => parseIP('255.255.255.255').add(1), OutOfRangeError);
  assert.throws(() => parseIP('::').add(-1), OutOfRangeError);
  assert.deepEqual([...a.toBytes()], [10, 0, 0, 1]);
  assert.equal(IPAddress.fromBytes([10, 0, 0, 1]).toString(), '10.0.0.1');
  assert.equal(IPAddress.fromBytes(parseIP('fd00::5').toBytes()).toString(), 'fd00::5');
  assert.throws(() => IPAddress.fromBytes([1, 2, 3]), OutOfRangeError);
  assert.throws(() => new IPAddress(4, 1n << 32n), OutOfRangeError);
  assert.throws(() => new IPAddress(6, -1n), OutOfRangeError);
  assert.throws(() => new IPAddress(5 as 4, 1n), OutOfRangeError);
  const mapped = parseIP('::ffff:10.0.0.1');
  assert.equal(mapped.isIPv4Mapped(), true);
  assert.equal(mapped.toIPv4().equals(a), true);
  assert.equal(a.toIPv4Mapped().equals(mapped), true);
  assert.equal(a.toIPv4(), a);
  assert.throws(() => v6.toIPv4(), OutOfRangeError);
  assert.equal(IPAddress.fromBigInt(5n, 4).toString(), '0.0.0.5');
  assert.equal(a.bits, 32);
  assert.equal(v6.bits, 128);
});

// Oracles: the WHATWG URL parser prints IPv6 hosts in RFC 5952 form (it differs from Go only for
// IPv4-mapped addresses, which are excluded here); node:net validates.
const v6Value = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).filter((v) => v >> 32n !== 0xffffn);
const sparseV6Value = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .map((groups) => groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n))
  .filter((v) => v >> 32n !== 0xffffn);

function uncompressed(value: bigint, upper: boolean, padded: boolean): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) {
    let g = Number((value >> BigInt(i * 16)) & 0xffffn).toString(16);
    if (padded) g = g.padStart(4, '0');
    groups.push(upper ? g.toUpperCase() : g);
  }
  return groups.join(':');
}

test('property: IPv6 canonical text matches RFC 5952 (URL oracle) and round-trips', () => {
  fc.assert(
    fc.property(fc.oneof(v6Value, sparseV6Value), fc.boolean(), fc.boolean(), (value, upper, padded) => {
      const ip = new IPAddress(6, value);
      const text = ip.toString();
      assert.equal(text, new URL(`http://[${text}]/`).hostname.slice(1, -1));
      assert.equal(text, new URL(`http://[${uncompressed(value, false, false)}]/`).hostname.slice(1, -1));
      assert.ok(isIPv6(text));
      assert.equal(parseIP(text).value, value);
      assert.equal(parseIP(uncompressed(value, upper, padded)).value, value);
    }),
    { numRuns: 2000 },
  );
});

test('property: IPv4 text round-trips and agrees with node:net', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
      const ip = new IPAddress(4, BigInt(n));
      const text = ip.toString();
      assert.ok(isIPv4(text));
      assert.equal(parseIP(text).value, BigInt(n));
      assert.equal(parseIP(`::ffff:${text}`).toString(), text);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9.]{1,16}$/), (text) => {
      assert.equal(isIP(text), isIPv4(text), text);
    }),
    { numRuns: 3000 },
  );
});

test('property: ip-num agrees on the integer value of our canonical text', async () => {
  const { IPv4, IPv6 } = await import('ip-num');
  fc.assert(
    fc.property(fc.oneof(v6Value, sparseV6Value), (value) => {
      const text = new IPAddress(6, value).toString();
      assert.equal(IPv6.fromString(text).getValue(), value);
      assert.equal(parseIP(IPv6.fromBigInt(value).toString()).value, value);
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
      assert.equal(IPv4.fromString(new IPAddress(4, BigInt(n)).toString()).getValue(), BigInt(n));
    }),
    { numRuns: 1000 },
  );
});

test('formatIPv4 / formatIPv6 / formatIPBytes: canonical text from values and bytes', () => {
  assert.equal(formatIPv4(0), '0.0.0.0');
  assert.equal(formatIPv4(0x0a000001), '10.0.0.1');
  assert.equal(formatIPv4(0xffffffff), '255.255.255.255');
  assert.equal(formatIPv6(0n), '::');
  assert.equal(formatIPv6(0xfd000010024400000000000000000001n), 'fd00:10:244::1');
  assert.equal(formatIPv6(0x00010000000000020000000000030004n), '1::2:0:0:3:4');
  // IPv4-mapped: dotted by default (Go), IPv6 form on request; near-mapped values stay IPv6.
  assert.equal(formatIPv6(0xffff0a000001n), '10.0.0.1');
  assert.equal(formatIPv6(0xffff0a000001n, { mapped: 'ipv6' }), '::ffff:a00:1');
  assert.equal(formatIPv6(0xffff00000000n, { mapped: 'ipv6' }), '::ffff:0:0');
  assert.equal(formatIPv6(0xfffe0a000001n), '::fffe:a00:1');
  assert.equal(formatIPv6(0x1_0000_ffff_0a000001n), '::1:0:ffff:a00:1');
  assert.equal(formatIPBytes([10, 0, 0, 1]), '10.0.0.1');
  assert.equal(formatIPBytes(Buffer.from([192, 168, 0, 255])), '192.168.0.255');
  const mapped = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4);
  assert.equal(formatIPBytes(mapped), '1.2.3.4');
  assert.equal(formatIPBytes(mapped, { mapped: 'ipv6' }), '::ffff:102:304');
  assert.equal(formatIPBytes(parseIP('2001:db8:0:0:1:0:0:1').toBytes()), '2001:db8::1:0:0:1');
  for (const length of [0, 3, 5, 15, 17]) assert.throws(() => formatIPBytes(new Uint8Array(length)), OutOfRangeError);
});

test('property: formatIPBytes, formatIPv6 and IPAddress.toString agree on every value', () => {
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
  const v6 = fc.oneof(
    fc.array(group, { minLength: 8, maxLength: 8 }).map((groups) => groups.reduce((v, g) => (v << 16n) | BigInt(g), 0n)),
    fc.bigInt({ min: 0n, max: 0xffffffffn }).map((v4) => (0xffffn << 32n) | v4),
  );
  fc.assert(
    fc.property(v6, fc.boolean(), (value, keep) => {
      const ip = new IPAddress(6, value);
      const options = keep ? { mapped: 'ipv6' as const } : undefined;
      const text = formatIPv6(value, options);
      assert.equal(formatIPBytes(ip.toBytes(), options), text);
      if (!keep || !ip.isIPv4Mapped()) assert.equal(text, ip.toString());
      // The text parses back to the same value (a mapped address printed as IPv4 gives the IPv4 value).
      const back = parseIP(text);
      assert.equal(back.version === 4 ? back.toIPv4Mapped().value : back.value, value);
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (value) => {
      const ip = new IPAddress(4, BigInt(value));
      assert.equal(formatIPv4(value), ip.toString());
      assert.equal(formatIPBytes(ip.toBytes()), ip.toString());
      assert.equal(isIPv4(formatIPv4(value)), true);
    }),
  );
});
