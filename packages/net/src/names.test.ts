import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CalicoError, ParseError } from '@libcalico-ts/api';
import {
  InvalidCIDRError,
  InvalidMACError,
  cidrToKeyName,
  cidrToObjectName,
  formatMAC,
  isMAC,
  keyNameToCIDR,
  objectNameToCIDR,
  parseCIDR,
  parseMAC,
} from './index.js';

const names: Array<[cidr: string, keyName: string, objectName: string]> = [
  ['10.0.0.0/26', '10.0.0.0-26', '10-0-0-0-26'],
  ['10.0.0.64/26', '10.0.0.64-26', '10-0-0-64-26'],
  ['192.168.84.128/26', '192.168.84.128-26', '192-168-84-128-26'],
  ['fd00:10:244::/122', 'fd00:10:244::-122', 'fd00-10-244---122'],
  ['fd80:24e2:f998:72d6::/122', 'fd80:24e2:f998:72d6::-122', 'fd80-24e2-f998-72d6---122'],
  ['::/0', '::-0', '---0'],
  ['1:2:3:4:5:6:7:8/128', '1:2:3:4:5:6:7:8-128', '1-2-3-4-5-6-7-8-128'],
  ['2001:db8::1:0:0:1/128', '2001:db8::1:0:0:1-128', '2001-db8--1-0-0-1-128'],
  ['0.0.0.0/0', '0.0.0.0-0', '0-0-0-0-0'],
];

test('CIDR name forms both ways', () => {
  for (const [cidr, keyName, objectName] of names) {
    assert.equal(cidrToKeyName(cidr), keyName);
    assert.equal(cidrToKeyName(parseCIDR(cidr)), keyName);
    assert.equal(keyNameToCIDR(keyName).toString(), cidr);
    assert.equal(cidrToObjectName(cidr), objectName);
    assert.equal(cidrToObjectName(parseCIDR(cidr)), objectName);
    assert.equal(objectNameToCIDR(objectName).toString(), cidr);
  }
});

test('name forms canonicalise their input first', () => {
  assert.equal(cidrToKeyName('10.0.0.77/26'), '10.0.0.64-26');
  assert.equal(cidrToKeyName('FD00:10:244:0:0::/122'), 'fd00:10:244::-122');
  assert.equal(cidrToObjectName('FD00:10:244:0:0::/122'), 'fd00-10-244---122');
  // Go prints IPv4-mapped networks in IPv4 form, so their names are IPv4 names.
  assert.equal(cidrToObjectName('::ffff:10.0.0.0/122'), '10-0-0-0-26');
  assert.equal(keyNameToCIDR('10.0.0.1-24').toString(), '10.0.0.0/24', 'host bits masked like net.ParseCIDR');
});

test('name form errors', () => {
  for (const bad of ['', '10.0.0.0', '10.0.0.0-33', 'garbage-1', '10.0.0.0/26']) {
    assert.throws(
      () => keyNameToCIDR(bad),
      (e: unknown) => InvalidCIDRError.isInstance(e) && (e as InvalidCIDRError).input === bad && ParseError.isInstance(e),
      bad,
    );
  }
  for (const bad of ['', '10-0-0-64', '10-0-0-65-26', '010-0-0-0-26', 'fd00-10-244-0-0-0-0-0-122', 'FD00-10-244---122', 'x-1', '10.0.0.0-26', '300-0-0-0-8']) {
    assert.throws(
      () => objectNameToCIDR(bad),
      (e: unknown) => InvalidCIDRError.isInstance(e) && (e as InvalidCIDRError).input === bad,
      bad,
    );
  }
  assert.throws(() => cidrToObjectName('10.0.0.0/99'), InvalidCIDRError);
  assert.throws(() => cidrToKeyName('nope'), InvalidCIDRError);
});

test('MAC addresses', () => {
  const cases: Array<[input: string, formatted: string]> = [
    ['00:00:5e:00:53:01', '00:00:5e:00:53:01'],
    ['00-00-5E-00-53-01', '00:00:5e:00:53:01'],
    ['0000.5e00.5301', '00:00:5e:00:53:01'],
    ['EE:EE:EE:EE:EE:EE', 'ee:ee:ee:ee:ee:ee'],
    ['02:00:5e:10:00:00:00:01', '02:00:5e:10:00:00:00:01'],
    ['0200.5e10.0000.0001', '02:00:5e:10:00:00:00:01'],
    ['00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01', '00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01'],
  ];
  for (const [input, formatted] of cases) {
    assert.equal(formatMAC(parseMAC(input)), formatted, input);
    assert.equal(formatMAC(input), formatted, input);
    assert.equal(isMAC(input), true);
  }
  assert.deepEqual([...parseMAC('00:00:5e:00:53:01')], [0, 0, 0x5e, 0, 0x53, 1]);
  for (const bad of ['', '00:00:5e:00:53', '00:00:5e:00:53:01:02', '00:00:5e:00:53:0g', '00:00:5e-00:53:01', '0:0:5e:0:53:1:0', '0000.5e00.530g', '0000:5e00:5301', 'ee:ee:ee:ee:ee:ee ']) {
    assert.equal(isMAC(bad), false, bad);
    assert.throws(
      () => parseMAC(bad),
      (e: unknown) => InvalidMACError.isInstance(e) && CalicoError.isInstance(e) && (e as InvalidMACError).input === bad,
      bad,
    );
  }
  assert.throws(() => formatMAC([1, 2, 3]), InvalidMACError);
  assert.throws(() => formatMAC([1, 2, 3, 4, 5, 256]), InvalidMACError);
});
