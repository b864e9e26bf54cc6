import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { hashToIPv4, parseASNumber, parseDurationSeconds, roundHalfAwayFromZero, sha256, toHexUpper, truncateAndHashName } from './util.js';

describe('sha256', () => {
  it('matches node:crypto on assorted inputs (empty, unicode, block boundaries)', () => {
    for (const text of ['', 'abc', 'kube-master', 'é漢字🙂', 'x'.repeat(55), 'y'.repeat(56), 'z'.repeat(64), 'w'.repeat(1000)]) {
      assert.equal(toHexUpper(sha256(text)), createHash('sha256').update(text, 'utf8').digest('hex').toUpperCase(), text.slice(0, 10));
    }
  });
});

describe('hashToIPv4', () => {
  it('takes the first 4 digest bytes and keeps the first octet <= 223', () => {
    for (const name of ['kube-master', 'node-1', 'a', 'b', 'c', 'some-very-long-node-name.example.com']) {
      const d = createHash('sha256').update(name).digest();
      const first = d[0]! > 223 ? d[0]! - 32 : d[0]!;
      assert.equal(hashToIPv4(name), `${first}.${d[1]}.${d[2]}.${d[3]}`);
      assert.ok(Number(hashToIPv4(name).split('.')[0]) <= 223);
    }
  });
});

describe('truncateAndHashName', () => {
  it('keeps short names and shortens long ones to exactly the limit', () => {
    assert.equal(truncateAndHashName('short', 45), 'short');
    assert.equal(truncateAndHashName('x'.repeat(45), 45), 'x'.repeat(45));
    const long = 'n'.repeat(46);
    const out = truncateAndHashName(long, 45);
    assert.equal(out.length, 45);
    assert.equal(out, `${'n'.repeat(28)}_${createHash('sha256').update(long).digest('hex').toUpperCase().slice(0, 16)}`);
  });
});

describe('parseDurationSeconds', () => {
  it('parses Go durations', () => {
    assert.equal(parseDurationSeconds('90s'), 90);
    assert.equal(parseDurationSeconds('2m30s'), 150);
    assert.equal(parseDurationSeconds('1h'), 3600);
    assert.equal(parseDurationSeconds('1.5s'), 1.5);
    assert.equal(parseDurationSeconds('500ms'), 0.5);
    assert.equal(parseDurationSeconds('0'), 0);
    assert.equal(parseDurationSeconds(2e9), 2);
  });
  it('rejects garbage', () => {
    for (const bad of ['', '10', 'abc', '1x', 's', '1.s5', null, {}]) assert.equal(parseDurationSeconds(bad), undefined, String(bad));
  });
  it('rounds half away from zero like Go math.Round', () => {
    assert.equal(roundHalfAwayFromZero(2.5), 3);
    assert.equal(roundHalfAwayFromZero(-2.5), -3);
    assert.equal(roundHalfAwayFromZero(2.4), 2);
  });
});

describe('parseASNumber', () => {
  it('accepts numbers, decimal strings and asdot', () => {
    assert.equal(parseASNumber(64512), 64512);
    assert.equal(parseASNumber('64512'), 64512);
    assert.equal(parseASNumber('1.10'), 65546);
    assert.equal(parseASNumber(4294967295), 4294967295);
    assert.equal(parseASNumber(0), 0);
  });
  it('rejects out of range and malformed values', () => {
    for (const bad of [-1, 4294967296, 1.5, '65536.0', '1.65536', 'AS1', '', null, undefined, '4294967296']) {
      assert.equal(parseASNumber(bad), undefined, String(bad));
    }
  });
});
