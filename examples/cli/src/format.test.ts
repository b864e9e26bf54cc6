import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatBoxTable, formatCountWithPercent, formatGoF0, formatGoG5, formatTabTable } from './format.js';
import { formatIpamShow, formatIpamShowIP } from './ipam-format.js';

describe('Go number formats', () => {
  it('%.5g: plain below 1e5, exponent form from there, trailing zeros removed', () => {
    const cases: Array<[bigint | number, string]> = [
      [0, '0'], [1, '1'], [64, '64'], [65536, '65536'], [99999, '99999'],
      [100000, '1e+05'], [123456, '1.2346e+05'], [1048576, '1.0486e+06'],
      [2n ** 63n, '9.2234e+18'], [2n ** 64n, '1.8447e+19'], [10n ** 21n, '1e+21'],
    ];
    for (const [n, text] of cases) assert.equal(formatGoG5(n), text, String(n));
  });
  it('%.5g rounds exact ties to even (Go strconv), not up', () => {
    assert.equal(formatGoG5(100005), '1e+05');
    assert.equal(formatGoG5(100015), '1.0002e+05');
    assert.equal(formatGoG5(100025), '1.0002e+05');
    assert.equal(formatGoG5(100026), '1.0003e+05');
    assert.equal(formatGoG5(999995), '1e+06');
  });
  it('%.f rounds ties to even', () => {
    assert.equal(formatGoF0(37.5), '38');
    assert.equal(formatGoF0(62.5), '62');
    assert.equal(formatGoF0(12.5), '12');
    assert.equal(formatGoF0(0.5), '0');
    assert.equal(formatGoF0(1.5), '2');
    assert.equal(formatGoF0(6.25), '6');
    assert.equal(formatGoF0(93.75), '94');
    assert.equal(formatGoF0(Number.NaN), 'NaN');
  });
  it('count with percent as the ipam tables print it (reference examples)', () => {
    assert.equal(formatCountWithPercent(3n, 8n), '3 (38%)');
    assert.equal(formatCountWithPercent(5n, 8n), '5 (62%)');
    assert.equal(formatCountWithPercent(1n, 8n), '1 (12%)');
    assert.equal(formatCountWithPercent(65531n, 65536n), '65531 (100%)');
    assert.equal(formatCountWithPercent(5n, 64n), '5 (8%)');
  });
  it('rejects what is not a count', () => {
    assert.throws(() => formatGoG5(-1), RangeError);
    assert.throws(() => formatGoG5(1.5), RangeError);
  });
});

describe('tables', () => {
  it('ipam show matches the reference example byte for byte', () => {
    const expected = [
      '+----------+-------------+-----------+------------+--------------+------------+',
      '| GROUPING | CIDR        | IPS TOTAL | IPS IN USE | IPS RESERVED | IPS FREE   |',
      '+----------+-------------+-----------+------------+--------------+------------+',
      '| IP Pool  | 10.0.0.0/24 |       256 |     1 (0%) |       0 (0%) | 255 (100%) |',
      '| Block    | 10.0.0.0/26 |        64 |     1 (2%) |       0 (0%) |   63 (98%) |',
      '+----------+-------------+-----------+------------+--------------+------------+',
      '',
    ].join('\n');
    const usage = [
      { name: 'p', cidr: '10.0.0.0/24', capacity: 256n, inUse: 1n, reserved: 0n, available: 255n, blocks: [{ cidr: '10.0.0.0/26', capacity: 64n, inUse: 1n, reserved: 0n, available: 63n }] },
      { name: 'orphaned allocation blocks', cidr: '0.0.0.0/0', capacity: 0n, inUse: 0n, reserved: 0n, available: 0n, blocks: [] },
    ];
    assert.equal(formatIpamShow(usage, true), expected);
    assert.equal(formatIpamShow(usage, false).split('\n').length, 6, 'no block rows without --show-blocks');
  });
  it('orphan blocks come without a pool row', () => {
    const usage = [{ name: 'orphaned allocation blocks', cidr: '0.0.0.0/0', capacity: 0n, inUse: 0n, reserved: 0n, available: 0n, blocks: [{ cidr: '192.168.9.0/26', capacity: 64n, inUse: 2n, reserved: 0n, available: 62n }] }];
    assert.match(formatIpamShow(usage, true), /\| Block    \| 192\.168\.9\.0\/26 \|        64 \|     2 \(3%\) \|/);
    assert.doesNotMatch(formatIpamShow(usage, true), /IP Pool/);
  });
  it('tab table reproduces the seed `calicoctl get node -o wide`', () => {
    const rows = [
      ['NAME', 'ASN', 'IPV4', 'IPV6'],
      ['master-c3.myk8s.example.com', '(64512)', '192.168.3.110/24', ''],
      ['worker1-c3.myk8s.example.com', '(64512)', '192.168.3.111/24', ''],
    ];
    assert.equal(formatTabTable(rows), [
      'NAME                           ASN       IPV4               IPV6',
      'master-c3.myk8s.example.com    (64512)   192.168.3.110/24',
      'worker1-c3.myk8s.example.com   (64512)   192.168.3.111/24',
      '',
    ].join('\n'));
  });
  it('tab columns are at least 5 wide', () => {
    assert.equal(formatTabTable([['A', 'B'], ['x', 'y']]), 'A    B\nx    y\n');
  });
  it('box table pads data right when asked, header always left', () => {
    assert.equal(formatBoxTable(['K', 'VALUE'], [['a', '1']], ['left', 'right']), '+---+-------+\n| K | VALUE |\n+---+-------+\n| a |     1 |\n+---+-------+\n');
  });
  it('ipam show --ip texts', () => {
    assert.equal(formatIpamShowIP('10.0.0.9', null), '10.0.0.9 is not assigned\n');
    assert.equal(
      formatIpamShowIP('10.0.0.1', { handleId: 'h1', attrs: { pod: 'web', namespace: 'default' }, alternateOwnerAttrs: {} }),
      'IP 10.0.0.1 is in use\nHandle ID: h1\nActive Owner Attributes:\n  namespace: default\n  pod: web\n',
    );
    assert.equal(
      formatIpamShowIP('10.0.0.2', { handleId: null, attrs: {}, alternateOwnerAttrs: { pod: 'old' } }),
      'IP 10.0.0.2 is in use\nHandle ID: <none>\nNo Active Owner attributes defined\nAlternate Owner Attributes:\n  pod: old\n',
    );
  });
});
