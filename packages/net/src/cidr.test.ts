import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CalicoError, ParseError } from '@libcalico-ts/api';
import fc from 'fast-check';
import { CIDR, IPAddress, InvalidAddressError, InvalidCIDRError, OutOfRangeError, isCIDR, maskBytes, parseCIDR, parseIP } from './index.js';

const valid: Array<[input: string, canonical: string, version: 4 | 6, prefix: number, size: bigint, hostBits: boolean, last: string]> = [
  ['10.0.0.0/26', '10.0.0.0/26', 4, 26, 64n, false, '10.0.0.63'],
  ['10.0.0.77/26', '10.0.0.64/26', 4, 26, 64n, true, '10.0.0.127'],
  ['0.0.0.0/0', '0.0.0.0/0', 4, 0, 1n << 32n, false, '255.255.255.255'],
  ['1.2.3.4/0', '0.0.0.0/0', 4, 0, 1n << 32n, true, '255.255.255.255'],
  ['192.168.84.128/32', '192.168.84.128/32', 4, 32, 1n, false, '192.168.84.128'],
  ['10.0.0.0/08', '10.0.0.0/8', 4, 8, 1n << 24n, false, '10.255.255.255'],
  ['fd00:10:244::/122', 'fd00:10:244::/122', 6, 122, 64n, false, 'fd00:10:244::3f'],
  ['FD00:0010:0244:0000::/122', 'fd00:10:244::/122', 6, 122, 64n, false, 'fd00:10:244::3f'],
  ['fd00:10:244::1:2/64', 'fd00:10:244::/64', 6, 64, 1n << 64n, true, 'fd00:10:244:0:ffff:ffff:ffff:ffff'],
  ['::/0', '::/0', 6, 0, 1n << 128n, false, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ['fd80:24e2:f998:72d6::/122', 'fd80:24e2:f998:72d6::/122', 6, 122, 64n, false, 'fd80:24e2:f998:72d6::3f'],
  ['2001:db8::1/128', '2001:db8::1/128', 6, 128, 1n, false, '2001:db8::1'],
  // Go prints IPv4-mapped networks of prefix >= 96 in IPv4 form with the prefix reduced by 96.
  ['::ffff:10.0.0.0/120', '10.0.0.0/24', 6, 120, 256n, false, '10.0.0.255'],
  ['::ffff:0.0.0.0/96', '0.0.0.0/0', 6, 96, 1n << 32n, false, '255.255.255.255'],
  ['::ffff:10.0.0.0/80', '::/80', 6, 80, 1n << 48n, true, '255.255.255.255'], // ::ffff:ffff:ffff is IPv4-mapped,
];

test('parseCIDR: valid input, canonical form and derived fields', () => {
  for (const [input, canonical, version, prefix, size, hostBits, last] of valid) {
    const cidr = parseCIDR(input);
    assert.equal(cidr.toString(), canonical, input);
    assert.equal(JSON.stringify({ c: cidr }), JSON.stringify({ c: canonical }));
    assert.equal(cidr.version, version, input);
    assert.equal(cidr.prefixLength, prefix, input);
    assert.equal(cidr.size, size, input);
    assert.equal(cidr.hasHostBits, hostBits, input);
    assert.equal(cidr.address.equals(parseIP(input.split('/')[0]!)), true, input);
    assert.equal(cidr.first().equals(cidr.network), true);
    assert.equal(cidr.last().toString(), last, input);
    assert.equal(cidr.last().value - cidr.first().value + 1n, size, input);
    assert.equal(isCIDR(input), true);
    if (hostBits) {
      assert.equal(isCIDR(input, { strict: true }), false);
      assert.throws(() => parseCIDR(input, { strict: true }), /host bits are set/);
      assert.throws(() => parseCIDR(input, { allowHostBits: false }), InvalidCIDRError);
    } else {
      assert.equal(parseCIDR(input, { strict: true }).toString(), canonical);
    }
  }
});

test('parseCIDR: bare addresses only with allowBareIP', () => {
  assert.throws(() => parseCIDR('10.0.0.1'), /missing "\/<prefix length>"/);
  const v4 = parseCIDR('10.0.0.1', { allowBareIP: true });
  assert.equal(v4.toString(), '10.0.0.1/32');
  assert.equal(v4.size, 1n);
  const v6 = parseCIDR('fd00::1', { allowBareIP: true });
  assert.equal(v6.toString(), 'fd00::1/128');
  assert.throws(() => parseCIDR('nope', { allowBareIP: true }), InvalidCIDRError);
});

const invalid: Array<[input: string, reason: RegExp]> = [
  ['10.0.0.0/33', /prefix length 33 is out of range for IPv4 \(0-32\)/],
  ['300.1.1.1/8', /address "300.1.1.1": IPv4 field has value >255/],
  ['1.2.3/24', /address "1.2.3": IPv4 address too short/],
  ['::/129', /prefix length 129 is out of range for IPv6 \(0-128\)/],
  ['', /empty string/],
  ['garbage', /unexpected character/],
  ['/24', /missing address/],
  ['10.0.0.0/', /missing prefix length/],
  ['10.0.0.0/-1', /not a decimal number/],
  ['10.0.0.0/+8', /not a decimal number/],
  ['10.0.0.0/8/8', /not a decimal number/],
  ['10.0.0.0/ 8', /not a decimal number/],
  ['10.0.0.0/99999999999', /too large/],
  ['fd00::1%eth0/64', /zones/],
  ['10.0.0.0', /missing/],
];

test('parseCIDR: invalid input throws InvalidCIDRError naming the input and the reason', () => {
  for (const [input, reason] of invalid) {
    assert.equal(isCIDR(input), false, input);
    assert.throws(
      () => parseCIDR(input),
      (error: unknown) => {
        assert.ok(error instanceof InvalidCIDRError, input);
        assert.ok(CalicoError.isInstance(error));
        assert.ok(ParseError.isInstance(error));
        assert.equal(InvalidCIDRError.isInstance(error), true);
        assert.equal(InvalidAddressError.isInstance(error), false);
        assert.equal(error.input, input);
        assert.equal(error.identifier, input);
        assert.match(error.reason, reason, `${input}: ${error.reason}`);
        assert.match(error.message, /^invalid CIDR "/);
        return true;
      },
    );
  }
  assert.throws(() => parseCIDR(undefined as unknown as string), InvalidCIDRError);
});

test('CIDR.contains: addresses and CIDRs, both versions', () => {
  const cases: Array<[cidr: string, other: string, expected: boolean]> = [
    ['10.0.0.0/26', '10.0.0.0', true],
    ['10.0.0.0/26', '10.0.0.63', true],
    ['10.0.0.0/26', '10.0.0.64', false],
    ['10.0.0.0/26', '9.255.255.255', false],
    ['10.0.0.0/8', '10.1.0.0/16', true],
    ['10.0.0.0/8', '10.0.0.0/8', true],
    ['10.0.0.0/8', '10.0.0.0/7', false],
    ['10.0.0.0/8', '11.0.0.0/16', false],
    ['0.0.0.0/0', '255.255.255.255', true],
    ['fd00:10:244::/122', 'fd00:10:244::3f', true],
    ['fd00:10:244::/122', 'fd00:10:244::40', false],
    ['fd00::/8', 'fd00:10:244::/122', true],
    ['::/0', '10.0.0.1', false],
    ['0.0.0.0/0', '::1', false],
    ['0.0.0.0/0', '::/0', false],
  ];
  for (const [cidr, other, expected] of cases) {
    assert.equal(parseCIDR(cidr).contains(other), expected, `${cidr} contains ${other}`);
    const parsed = other.includes('/') ? parseCIDR(other) : parseIP(other);
    assert.equal(parseCIDR(cidr).contains(parsed), expected, `${cidr} contains parsed ${other}`);
  }
  assert.throws(() => parseCIDR('10.0.0.0/8').contains('10.0.0.256'), InvalidAddressError);
  assert.throws(() => parseCIDR('10.0.0.0/8').contains('10.0.0.0/40'), InvalidCIDRError);
});

test('CIDR.overlaps is symmetric and version-aware', () => {
  const cases: Array<[a: string, b: string, expected: boolean]> = [
    ['10.0.0.0/8', '10.1.0.0/16', true],
    ['10.0.0.0/24', '10.0.1.0/24', false],
    ['10.0.0.0/23', '10.0.1.0/24', true],
    ['10.0.0.0/26', '10.0.0.64/26', false],
    ['10.0.0.0/26', '10.0.0.63/32', true],
    ['0.0.0.0/0', '192.168.0.0/16', true],
    ['fd00::/64', 'fd00::/65', true],
    ['fd00::/64', 'fd00:0:0:1::/64', false],
    ['::/0', '0.0.0.0/0', false],
  ];
  for (const [a, b, expected] of cases) {
    assert.equal(parseCIDR(a).overlaps(parseCIDR(b)), expected, `${a} overlaps ${b}`);
    assert.equal(parseCIDR(b).overlaps(a), expected, `${b} overlaps ${a}`);
  }
});

test('CIDR: equals, compare, netmask, masked, constructor checks', () => {
  assert.equal(parseCIDR('10.0.0.1/24').equals(parseCIDR('10.0.0.0/24')), true);
  assert.equal(parseCIDR('10.0.0.0/24').equals(parseCIDR('10.0.0.0/25')), false);
  assert.equal(parseCIDR('10.0.0.0/24').compare(parseCIDR('10.0.0.0/25')), -1);
  assert.equal(parseCIDR('10.0.1.0/24').compare(parseCIDR('10.0.0.0/16')), 1);
  assert.equal(parseCIDR('10.0.0.0/24').compare(parseCIDR('::/0')), -1);
  assert.equal(parseCIDR('10.0.0.0/24').compare(parseCIDR('10.0.0.0/24')), 0);
  assert.equal(parseCIDR('10.0.0.0/26').netmask().toString(), '255.255.255.192');
  assert.equal(parseCIDR('fd00::/64').netmask().toString(), 'ffff:ffff:ffff:ffff::');
  const withHost = parseCIDR('10.0.0.9/24');
  assert.equal(withHost.masked().hasHostBits, false);
  assert.equal(withHost.masked().address.toString(), '10.0.0.0');
  const clean = parseCIDR('10.0.0.0/24');
  assert.equal(clean.masked(), clean);
  assert.equal(new CIDR(parseIP('10.1.2.3'), 16).toString(), '10.1.0.0/16');
  assert.throws(() => new CIDR(parseIP('10.1.2.3'), 33), OutOfRangeError);
  assert.throws(() => new CIDR(parseIP('10.1.2.3'), 1.5), OutOfRangeError);
  assert.equal(new CIDR(parseIP('::1'), 128).bits, 128);
});

test('maskBytes: clears host bits of 4- and 16-byte addresses, into a new or given array', () => {
  assert.deepEqual(maskBytes(Uint8Array.of(10, 1, 2, 3), 16), Uint8Array.of(10, 1, 0, 0));
  assert.deepEqual(maskBytes([10, 1, 255, 3], 20), Uint8Array.of(10, 1, 240, 0));
  assert.deepEqual(maskBytes([10, 1, 2, 3], 0), Uint8Array.of(0, 0, 0, 0));
  assert.deepEqual(maskBytes([10, 1, 2, 3], 32), Uint8Array.of(10, 1, 2, 3));
  const v6 = parseIP('fd00:10:244:1:2:3:4:5').toBytes();
  assert.deepEqual(maskBytes(v6, 60), parseIP('fd00:10:244::').toBytes());
  // The input is not modified unless it is also the output; a Buffer output stays a Buffer.
  const input = Uint8Array.of(192, 168, 7, 9);
  const out = maskBytes(input, 24, Buffer.alloc(4));
  assert.ok(Buffer.isBuffer(out));
  assert.deepEqual([...out], [192, 168, 7, 0]);
  assert.deepEqual([...input], [192, 168, 7, 9]);
  assert.equal(maskBytes(input, 8, input), input);
  assert.deepEqual([...input], [192, 0, 0, 0]);
  for (const [bytes, prefix] of [[[1, 2, 3], 8], [new Uint8Array(16), 129], [[1, 2, 3, 4], 33], [[1, 2, 3, 4], -1], [[1, 2, 3, 4], 1.5]] as const) {
    assert.throws(() => maskBytes(bytes, prefix), OutOfRangeError);
  }
  assert.throws(() => maskBytes(new Uint8Array(16), 64, new Uint8Array(4)), OutOfRangeError);
});

test('property: maskBytes agrees with CIDR masking of the same address', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })), fc.nat(128), (bytes, n) => {
      const prefix = n % (bytes.length * 8 + 1);
      const cidr = new CIDR(IPAddress.fromBytes(bytes), prefix);
      assert.deepEqual(maskBytes(bytes, prefix), cidr.network.toBytes());
    }),
  );
});
