import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError, describeIdentifier } from '@libcalico-ts/api';
import { parseCidr } from './cidr.js';
import type { Key } from './contract.js';
import { describeKey, keyId, keyIdentifier, keyMatchesList, keyProblems, normalizeKey, validateKey, validateList } from './keys.js';
import { cloneData, decodeBigintJson, encodeBigintJson } from './values.js';

describe('keyId / describeKey', () => {
  const cases: [Key, string, string][] = [
    [{ type: 'resource', kind: 'IPPool', name: 'default-pool' }, 'resource/IPPool/default-pool', 'IPPool(default-pool)'],
    [{ type: 'resource', kind: 'NetworkPolicy', namespace: 'prod', name: 'allow' }, 'resource/NetworkPolicy/prod/allow', 'NetworkPolicy(prod/allow)'],
    [{ type: 'block', cidr: '10.0.0.0/26' }, 'block/10.0.0.0/26', 'block 10.0.0.0/26'],
    [{ type: 'blockAffinity', host: 'node-1', cidr: '10.0.0.0/26' }, 'blockAffinity/host/10.0.0.0/26/node-1', 'affinity host:node-1 10.0.0.0/26'],
    [{ type: 'blockAffinity', host: 'lb', cidr: 'fd00::/122', affinityType: 'virtual' }, 'blockAffinity/virtual/fd00::/122/lb', 'affinity virtual:lb fd00::/122'],
    [{ type: 'handle', handleId: 'k8s-pod-network.ABC' }, 'handle/k8s-pod-network.ABC', 'handle k8s-pod-network.ABC'],
    [{ type: 'ipamConfig' }, 'ipamConfig', 'IPAM config'],
  ];
  for (const [key, id, description] of cases) {
    it(`${description}`, () => {
      assert.equal(keyId(key), id);
      assert.equal(describeKey(key), description);
      assert.equal(describeIdentifier(keyIdentifier(key)), description);
      assert.deepEqual(keyProblems(key), []);
    });
  }

  it('an affinity without type is the same item as one of type host', () => {
    const a: Key = { type: 'blockAffinity', host: 'n', cidr: '10.0.0.0/26' };
    const b: Key = { type: 'blockAffinity', host: 'n', cidr: '10.0.0.0/26', affinityType: 'host' };
    assert.equal(keyId(a), keyId(b));
    assert.deepEqual(normalizeKey(a), b);
  });

  it('names with slashes cannot collide with namespaces', () => {
    assert.notEqual(
      keyId({ type: 'resource', kind: 'NetworkPolicy', namespace: 'a', name: 'b/c' }),
      keyId({ type: 'resource', kind: 'NetworkSet', namespace: 'a', name: 'b/c' }),
    );
    assert.ok(keyProblems({ type: 'resource', kind: 'NetworkPolicy', namespace: 'a/b', name: 'c' }).length > 0);
  });
});

describe('validateKey', () => {
  const bad: [string, unknown, string][] = [
    ['not an object', 'block', 'key'],
    ['unknown type', { type: 'nope' }, 'key.type'],
    ['unknown kind', { type: 'resource', kind: 'Pod', name: 'x' }, 'key.kind'],
    ['namespaced without namespace', { type: 'resource', kind: 'WorkloadEndpoint', name: 'x' }, 'key.namespace'],
    ['namespaced with empty namespace', { type: 'resource', kind: 'NetworkSet', namespace: '', name: 'x' }, 'key.namespace'],
    ['cluster-scoped with namespace', { type: 'resource', kind: 'Node', namespace: 'default', name: 'x' }, 'key.namespace'],
    ['empty name', { type: 'resource', kind: 'Node', name: '' }, 'key.name'],
    ['block CIDR garbage', { type: 'block', cidr: 'ten/26' }, 'key.cidr'],
    ['block host bits', { type: 'block', cidr: '10.0.0.64/25' }, 'key.cidr'],
    ['block non-canonical IPv6', { type: 'block', cidr: 'FD00:0:0::/122' }, 'key.cidr'],
    ['affinity without host', { type: 'blockAffinity', cidr: '10.0.0.0/26' }, 'key.host'],
    ['affinity bad type', { type: 'blockAffinity', host: 'h', cidr: '10.0.0.0/26', affinityType: 'Host' }, 'key.affinityType'],
    ['handle without id', { type: 'handle' }, 'key.handleId'],
  ];
  for (const [what, key, field] of bad) {
    it(`rejects ${what} (field ${field})`, () => {
      assert.throws(
        () => validateKey(key as Key),
        (error: unknown) => ValidationError.isInstance(error) && (error as ValidationError).fields.some((f) => f.name === field),
      );
    });
  }

  it('names the canonical form of a non-canonical block CIDR', () => {
    const [problem] = keyProblems({ type: 'block', cidr: 'fd00:10:244:0:0:0:0:0/122' });
    assert.match(problem!.reason, /fd00:10:244::\/122/);
  });

  it('validateList rejects malformed lists and accepts good ones', () => {
    validateList({ type: 'resource', kind: 'WorkloadEndpoint', namespace: 'ns', name: 'x' });
    validateList({ type: 'blockAffinity', host: 'n', ipVersion: 6, affinityType: 'virtual' });
    assert.throws(() => validateList({ type: 'resource', kind: 'IPPool', namespace: 'x' } as never), ValidationError);
    assert.throws(() => validateList({ type: 'block', ipVersion: 5 } as never), ValidationError);
    assert.throws(() => validateList({ type: 'blockAffinity', host: '' }), ValidationError);
    assert.throws(() => validateList({ type: 'other' } as never), ValidationError);
  });
});

describe('keyMatchesList', () => {
  it('filters by kind, namespace, name, IP version, host and affinity type', () => {
    const wep: Key = { type: 'resource', kind: 'WorkloadEndpoint', namespace: 'a', name: 'w' };
    assert.ok(keyMatchesList(wep, { type: 'resource', kind: 'WorkloadEndpoint' }));
    assert.ok(keyMatchesList(wep, { type: 'resource', kind: 'WorkloadEndpoint', namespace: 'a', name: 'w' }));
    assert.ok(!keyMatchesList(wep, { type: 'resource', kind: 'WorkloadEndpoint', namespace: 'b' }));
    assert.ok(!keyMatchesList(wep, { type: 'resource', kind: 'NetworkSet' }));
    assert.ok(!keyMatchesList(wep, { type: 'block' }));
    const b6: Key = { type: 'block', cidr: 'fd00::/122' };
    assert.ok(keyMatchesList(b6, { type: 'block', ipVersion: 6 }));
    assert.ok(!keyMatchesList(b6, { type: 'block', ipVersion: 4 }));
    const aff: Key = { type: 'blockAffinity', host: 'n1', cidr: '10.0.0.0/26' };
    assert.ok(keyMatchesList(aff, { type: 'blockAffinity', host: 'n1', ipVersion: 4, affinityType: 'host' }));
    assert.ok(!keyMatchesList(aff, { type: 'blockAffinity', affinityType: 'virtual' }));
    assert.ok(!keyMatchesList(aff, { type: 'blockAffinity', host: 'n2' }));
  });
});

describe('parseCidr', () => {
  const good: [string, string, 4 | 6, boolean][] = [
    ['10.0.0.0/26', '10.0.0.0/26', 4, true],
    ['10.0.0.5/24', '10.0.0.0/24', 4, false],
    ['0.0.0.0/0', '0.0.0.0/0', 4, true],
    ['255.255.255.255/32', '255.255.255.255/32', 4, true],
    ['FD00:10:244::/122', 'fd00:10:244::/122', 6, true],
    ['fd00:0010:0244:0000:0000:0000:0000:0000/122', 'fd00:10:244::/122', 6, true],
    ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128', 6, true],
    ['2001:db8:0:1:1:1:1:1/128', '2001:db8:0:1:1:1:1:1/128', 6, true],
    ['::/0', '::/0', 6, true],
    // Go prints a v4-mapped network with the IPv4 form and a 32-bit prefix.
    ['::ffff:10.0.0.0/120', '10.0.0.0/24', 6, true],
    // Go's ParseCIDR reads the prefix length with leading zeros allowed.
    ['1.2.3.4/08', '1.0.0.0/8', 4, false],
    ['fd00::1/64', 'fd00::/64', 6, false],
  ];
  for (const [text, canonical, version, masked] of good) {
    it(`reads ${text}`, () => {
      const parsed = parseCidr(text);
      assert.ok(parsed.ok, JSON.stringify(parsed));
      assert.equal(parsed.canonical, canonical);
      assert.equal(parsed.version, version);
      assert.equal(parsed.masked, masked);
    });
  }
  for (const text of ['10.0.0.0', '10.0.0.0/33', '10.0.0/8', '010.0.0.0/8', '10.0.0.256/32', 'fd00::/129', 'fd00:::/64', '1:2:3:4:5:6:7:8:9/64', 'g::/64', '::1::/64', '', '/24']) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.equal(parseCidr(text).ok, false));
  }
  it('formats zero runs per RFC 5952 (first longest run wins)', () => {
    assert.equal(parseCidr('1:0:0:2:0:0:3:4/128').ok && (parseCidr('1:0:0:2:0:0:3:4/128') as { canonical: string }).canonical, '1::2:0:0:3:4/128');
    assert.equal((parseCidr('1:0:0:2:0:0:0:4/128') as { canonical: string }).canonical, '1:0:0:2::4/128');
    assert.equal((parseCidr('0:0:0:0:0:0:0:1/128') as { canonical: string }).canonical, '::1/128');
  });
});

describe('cloneData and the bigint JSON codec', () => {
  it('deep-copies plain data, keeps bigints, drops undefined properties', () => {
    const input = { a: [1, { b: 2n ** 64n - 1n }, undefined], c: undefined, d: null, e: 'x' };
    const copy = cloneData(input);
    assert.deepEqual(copy, { a: [1, { b: 2n ** 64n - 1n }, null], d: null, e: 'x' });
    assert.notEqual(copy.a, input.a);
  });

  it('rejects what is not plain data, naming the path', () => {
    for (const bad of [{ when: new Date() }, { f: () => 1 }, { n: Number.NaN }, { m: new Map() }]) {
      assert.throws(() => cloneData(bad), ValidationError);
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => cloneData(cyclic), (error: unknown) => (error as ValidationError).fields[0]!.name === 'value.self');
  });

  it('round-trips bigints exactly through JSON, even ones that look like other values', () => {
    const value = { seq: 9_223_372_036_854_775_813n, map: { '0': 1n, '1': 18_446_744_073_709_551_615n }, text: '123', list: [5n, 'x'] };
    const { data, bigints } = encodeBigintJson(value);
    const back = decodeBigintJson(JSON.parse(JSON.stringify(data)), bigints);
    assert.deepEqual(back, value);
    assert.throws(() => decodeBigintJson({ a: 'x' }, [['a']]), /not a decimal string/);
  });
});
