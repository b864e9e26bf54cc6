import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalIP, cidrContains, formatNetwork, parseCIDR, parseCIDROrIP, parseIP, splitHostPort } from './ip.js';

describe('addresses like Go net', () => {
  it('prints canonical forms', () => {
    const cases: [string, string | undefined][] = [
      ['10.0.0.1', '10.0.0.1'],
      ['2001:DB8::1', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['fd00:0:0:1::', 'fd00:0:0:1::'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['::ffff:10.1.2.3', '10.1.2.3'],
      ['::1.2.3.4', '::102:304'],
      ['010.0.0.1', undefined],
      ['256.0.0.1', undefined],
      ['1.2.3', undefined],
      ['fe80::1%eth0', undefined],
      ['1::2::3', undefined],
      ['', undefined],
    ];
    for (const [input, want] of cases) assert.equal(canonicalIP(input), want, input);
  });
  it('parses CIDRs and masks networks', () => {
    const c = parseCIDR('10.192.0.3/16')!;
    assert.equal(formatNetwork(c), '10.192.0.0/16');
    assert.equal(formatNetwork(parseCIDR('fd5f::3/96')!), 'fd5f::/96');
    assert.equal(parseCIDR('10.0.0.0/33'), undefined);
    assert.equal(parseCIDR('10.0.0.0'), undefined);
    assert.ok(cidrContains(parseCIDR('80.15.0.0/24')!, parseIP('80.15.0.1')!));
    assert.ok(!cidrContains(parseCIDR('80.15.0.0/24')!, parseIP('80.15.1.1')!));
    assert.ok(!cidrContains(parseCIDR('::/0')!, parseIP('1.2.3.4')!));
    assert.deepEqual(parseCIDROrIP('10.0.0.5')?.network, '10.0.0.5/32');
  });
  it('splits host:port like net.SplitHostPort', () => {
    assert.deepEqual(splitHostPort('10.0.0.1:179'), { host: '10.0.0.1', port: 179 });
    assert.deepEqual(splitHostPort('[ac13::57]:50'), { host: 'ac13::57', port: 50 });
    assert.deepEqual(splitHostPort('ac13::57'), { host: 'ac13::57', port: 0 });
    assert.deepEqual(splitHostPort('10.0.0.1'), { host: '10.0.0.1', port: 0 });
    assert.deepEqual(splitHostPort('10.0.0.1:99999'), { host: '10.0.0.1:99999', port: 0 });
    assert.deepEqual(splitHostPort('[::1]'), { host: '[::1]', port: 0 });
  });
});
