import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '@libcalico-ts/api';
import { HelpRequested, parseArgs } from './cli.js';

const fieldsOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    assert.ok(ValidationError.isInstance(error), String(error));
    return (error as ValidationError).fields.map((f) => f.name);
  }
  assert.fail('expected a ValidationError');
};

describe('parseArgs', () => {
  it('parses run with defaults', () => {
    const o = parseArgs(['run', '--node', 'node-1'], {});
    assert.equal(o.command, 'run');
    assert.equal(o.node, 'node-1');
    assert.equal(o.backend, 'bird');
    assert.equal(o.dialect, 'calico');
    assert.equal(o.metricsAddress, '127.0.0.1:9091');
    assert.equal(o.iptables, true);
    assert.equal(o.resyncIntervalMs, 90_000);
  });

  it('accepts --flag=value, NODENAME and every option', () => {
    const o = parseArgs(['run', '--netns=h1', '--ip', '192.168.10.1/24', '--backend', 'vxlan', '--metrics-address', 'none', '--no-iptables', '--calico-version', 'v3.32', '--resync-interval', '0'], { NODENAME: 'n1' });
    assert.deepEqual([o.node, o.netns, o.ip, o.backend, o.metricsAddress, o.iptables, o.calicoVersion, o.resyncIntervalMs], ['n1', 'h1', '192.168.10.1/24', 'vxlan', null, false, 'v3.32', 0]);
  });

  it('bird needs --out and --onetime', () => {
    assert.deepEqual(fieldsOf(() => parseArgs(['bird', '--node', 'a'], {})), ['--out', '--onetime']);
    const o = parseArgs(['bird', '--node', 'a', '--out', '/tmp/x', '--onetime', '--dialect', 'bird2'], {});
    assert.equal(o.dialect, 'bird2');
  });

  it('--secrets-dir for run and bird; refused for routes and when empty', () => {
    assert.equal(parseArgs(['run', '--node', 'a', '--secrets-dir', '/etc/bgp-secrets'], {}).secretsDir, '/etc/bgp-secrets');
    assert.equal(parseArgs(['bird', '--node', 'a', '--out', '/tmp/x', '--onetime', '--secrets-dir=/s'], {}).secretsDir, '/s');
    assert.equal(parseArgs(['run', '--node', 'a'], {}).secretsDir, undefined);
    assert.deepEqual(fieldsOf(() => parseArgs(['routes', '--node', 'a', '--secrets-dir', '/s'], {})), ['--secrets-dir']);
    assert.deepEqual(fieldsOf(() => parseArgs(['run', '--node', 'a', '--secrets-dir='], {})), ['--secrets-dir']);
  });

  it('names every bad argument at once', () => {
    assert.deepEqual(
      fieldsOf(() => parseArgs(['fly', '--node', 'Bad_Name', '--backend', 'ospf', '--dialect', 'quagga', '--ip', '10.0.0.1', '--bogus'], {})),
      ['--bogus', 'command', '--node', '--backend', '--dialect', '--ip'],
    );
    assert.deepEqual(fieldsOf(() => parseArgs(['run'], {})), ['--node']);
    assert.deepEqual(fieldsOf(() => parseArgs(['routes', '--node'], {})), ['--node', '--node']);
  });

  it('--help throws HelpRequested', () => {
    assert.throws(() => parseArgs(['--help'], {}), HelpRequested);
  });
});
