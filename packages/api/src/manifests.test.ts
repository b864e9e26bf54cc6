import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ParseError, ValidationError } from './errors.js';
import { dumpManifests, loadManifests } from './manifests.js';
import { newResource } from './new-resource.js';

const POOL_AND_PEER_LIST = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv4-ippool
spec:
  cidr: 192.168.0.0/16
  ipipMode: Always
  vxlanMode: Never
  natOutgoing: true
  blockSize: 26
  nodeSelector: all()
---
apiVersion: projectcalico.org/v3
kind: BGPPeerList
metadata: {}
items:
- apiVersion: projectcalico.org/v3
  kind: BGPPeer
  metadata:
    name: rack1-tor
  spec:
    nodeSelector: rack == 'rack-1'
    peerIP: 10.0.0.1
    asNumber: 64513
`;

function expectValidation(fn: () => unknown, field: string, reason: RegExp): ValidationError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(ValidationError.isInstance(caught), `expected a ValidationError, got ${String(caught)}`);
  const error = caught as ValidationError;
  assert.ok(
    error.fields.some((f) => f.name === field && reason.test(f.reason)),
    `expected ${field} ~ ${reason}, got ${JSON.stringify(error.fields)}`,
  );
  return error;
}

function expectParse(fn: () => unknown, line: number): ParseError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(ParseError.isInstance(caught), `expected a ParseError, got ${String(caught)}`);
  const error = caught as ParseError;
  assert.equal(error.line, line, error.message);
  assert.ok(typeof error.column === 'number' && typeof error.position === 'number');
  assert.match(error.message, new RegExp(`line ${line}, column \\d+`));
  return error;
}

describe('loadManifests', () => {
  it('reads multi-document YAML with typed lists (reference §8 example)', () => {
    const resources = loadManifests(POOL_AND_PEER_LIST);
    assert.deepEqual(
      resources.map((r) => `${r.kind}/${r.metadata.name}`),
      ['IPPool/default-ipv4-ippool', 'BGPPeer/rack1-tor'],
    );
    const peer = resources[1]!;
    assert.equal(peer.kind, 'BGPPeer');
    if (peer.kind === 'BGPPeer') assert.deepEqual(peer.spec, { nodeSelector: "rack == 'rack-1'", peerIP: '10.0.0.1', asNumber: 64513 });
  });

  it('reads JSON objects, arrays and the generic List kind', () => {
    const one = loadManifests('{"apiVersion":"projectcalico.org/v3","kind":"IPPool","metadata":{"name":"p"},"spec":{"cidr":"10.0.0.0/16"}}');
    assert.equal(one.length, 1);
    const array = loadManifests(
      JSON.stringify([newResource('Tier', 'a', { order: 1 }), newResource('NetworkSet', 's', { nets: ['10.0.0.0/8'] }, 'ns1')]),
    );
    assert.deepEqual(array.map((r) => r.metadata.namespace), [undefined, 'ns1']);
    const list = loadManifests(`apiVersion: projectcalico.org/v3\nkind: List\nitems:\n- {apiVersion: projectcalico.org/v3, kind: Tier, metadata: {name: t}, spec: {}}\n`);
    assert.equal(list[0]?.kind, 'Tier');
  });

  it('lets typed-list items omit kind and apiVersion, and rejects foreign items', () => {
    const items = loadManifests(`kind: TierList\napiVersion: projectcalico.org/v3\nitems:\n- metadata: {name: a}\n  spec: {}\n`);
    assert.equal(items[0]?.kind, 'Tier');
    expectValidation(
      () => loadManifests(`kind: TierList\napiVersion: projectcalico.org/v3\nitems:\n- {kind: IPPool, apiVersion: projectcalico.org/v3, metadata: {name: a}, spec: {cidr: 10.0.0.0/8}}\n`),
      'documents[0].items[0].kind',
      /only contain Tier items/,
    );
  });

  it('reads unquoted booleans and numbers in string fields as their text (confd fixture rule 4)', () => {
    const [node] = loadManifests(`kind: Node\napiVersion: projectcalico.org/v3\nmetadata:\n  name: n\n  labels:\n    routeReflector: true\n    rack: 12\n    zone: 1.10\n  annotations: {a: yes}\nspec:\n  bgp: {ipv4Address: 10.0.0.1/24, asNumber: 1.10}\n`);
    assert.deepEqual(node!.metadata.labels, { routeReflector: 'true', rack: '12', zone: '1.10' });
    assert.deepEqual(node!.metadata.annotations, { a: 'yes' });
    if (node!.kind === 'Node') assert.equal(node!.spec.bgp?.asNumber, '1.10' as never); // asdot, normalised by applyDefaults
  });

  it('accepts YAML 1.1 booleans in boolean fields as Calico does', () => {
    const [pool] = loadManifests(`kind: IPPool\napiVersion: projectcalico.org/v3\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/16, natOutgoing: yes, disabled: off}\n`);
    if (pool!.kind === 'IPPool') {
      assert.equal(pool!.spec.natOutgoing, true);
      assert.equal(pool!.spec.disabled, false);
    }
  });

  it('gives namespaced kinds the default namespace', () => {
    const text = `kind: NetworkPolicy\napiVersion: projectcalico.org/v3\nmetadata: {name: np}\nspec: {}\n`;
    assert.equal(loadManifests(text)[0]?.metadata.namespace, 'default');
    assert.equal(loadManifests(text, { defaultNamespace: 'prod' })[0]?.metadata.namespace, 'prod');
  });

  it('skips empty documents and comments', () => {
    assert.deepEqual(loadManifests('# nothing here\n---\n---\n'), []);
    assert.deepEqual(loadManifests(''), []);
  });

  it('names unknown kinds and fields with the document index and path', () => {
    const text = `${POOL_AND_PEER_LIST}---\napiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: q}\nspec: {cidr: 10.1.0.0/16, ipipModee: Always}\n---\napiVersion: projectcalico.org/v3\nkind: IPPol\nmetadata: {name: x}\n`;
    const error = expectValidation(() => loadManifests(text), 'documents[2].spec.ipipModee', /unknown field "ipipModee"/);
    assert.ok(error.fields.some((f) => f.name === 'documents[3].kind' && /unknown resource kind "IPPol"/.test(f.reason)));
    assert.match(error.message, /documents\[2\]\.spec\.ipipModee/);
    expectValidation(
      () => loadManifests(`apiVersion: projectcalico.org/v3\nkind: BGPPeerList\nitems:\n- kind: BGPPeer\n  apiVersion: projectcalico.org/v3\n  metadata: {name: a, colour: red}\n  spec: {}\n`),
      'documents[0].items[0].metadata.colour',
      /unknown field/,
    );
    expectValidation(() => loadManifests(`apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: a}\nspec: {}\nextra: 1\n`), 'documents[0].extra', /unknown field/);
  });

  it('requires apiVersion projectcalico.org/v3 and a kind', () => {
    expectValidation(() => loadManifests(`apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/8}\n`), 'documents[0].apiVersion', /projectcalico\.org\/v3/);
    expectValidation(() => loadManifests(`apiVersion: projectcalico.org/v3\nmetadata: {name: p}\n`), 'documents[0].kind', /required/);
    expectValidation(() => loadManifests(`- 1\n- 2\n`), 'documents[0][0]', /expected a resource/);
  });

  it('reports wrongly typed values', () => {
    expectValidation(
      () => loadManifests(`apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/8, blockSize: big}\n`),
      'documents[0].spec.blockSize',
      /must be an integer/,
    );
    expectValidation(() => loadManifests('{"apiVersion":"projectcalico.org/v3","kind":"Node","metadata":{"name":"n","labels":{"a":true}},"spec":{}}'), 'documents[0].metadata.labels.a', /must be a string/);
  });

  it('validates on request', () => {
    const text = `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/33}\n`;
    assert.equal(loadManifests(text).length, 1);
    expectValidation(() => loadManifests(text, { validate: true }), 'documents[0].spec.cidr', /out of range/);
  });

  it('turns malformed YAML into a ParseError with line and column', () => {
    expectParse(() => loadManifests('kind: IPPool\nmetadata:\n  name: [a, b\nspec: {}\n'), 4);
    expectParse(() => loadManifests('kind: IPPool\nkind: Node\n'), 2); // duplicate key
    const bad = expectParse(() => loadManifests('apiVersion: projectcalico.org/v3\nkind: IPPool\n  metadata: x\n'), 2); // the value of kind turns into a nested mapping
    assert.doesNotMatch(bad.message, /\n/);
  });

  it('turns malformed JSON into a ParseError with line and column', () => {
    expectParse(() => loadManifests('{\n  "kind": "IPPool",\n}'), 3);
    expectParse(() => loadManifests('{"kind": "IPPool", "spec": {"cidr": tru}}'), 1);
    expectParse(() => loadManifests('[\n{"a": 1}\n'), 3);
    const error = expectParse(() => loadManifests('{"a" 1}'), 1);
    assert.equal(error.column, 6);
  });

  it('rejects non-string input with a ParseError', () => {
    assert.throws(() => loadManifests(undefined as never), (e: unknown) => ParseError.isInstance(e));
  });
});

describe('dumpManifests', () => {
  const pools = [
    newResource('IPPool', 'a', { cidr: '10.0.0.0/16', ipipMode: 'Always' }),
    newResource('IPPool', 'b', { cidr: 'fd00::/64' }),
  ];

  it('writes one kind as a typed list with sorted keys, and loads back equal', () => {
    const yaml = dumpManifests(pools, 'yaml', { resourceVersion: '42' });
    assert.match(yaml, /^apiVersion: projectcalico\.org\/v3\nitems:\n/);
    assert.match(yaml, /kind: IPPoolList\nmetadata:\n  resourceVersion: "42"\n$/);
    assert.deepEqual(loadManifests(yaml), pools);
  });

  it('writes mixed kinds as documents / a JSON array and round-trips', () => {
    const mixed = [pools[0]!, newResource('Node', 'n', { bgp: { ipv4Address: '10.0.0.1/24' } }), newResource('NetworkSet', 's', { nets: ['1.2.3.4'] }, 'ns')];
    const yaml = dumpManifests(mixed, 'yaml');
    assert.equal(yaml.split('---\n').length, 3);
    assert.deepEqual(loadManifests(yaml), mixed);
    const json = dumpManifests(mixed, 'json');
    assert.ok(Array.isArray(JSON.parse(json)));
    assert.deepEqual(loadManifests(json), mixed);
  });

  it('quotes label values that YAML would read as other types', () => {
    const node = { ...newResource('Node', 'n', {}), metadata: { name: 'n', labels: { routeReflector: 'true', rack: '12' } } };
    const yaml = dumpManifests([node], 'yaml');
    assert.match(yaml, /routeReflector: "true"/);
    assert.deepEqual(loadManifests(yaml), [node]);
  });

  it('writes a single resource as itself, or a list when asked', () => {
    assert.equal(JSON.parse(dumpManifests([pools[0]!], 'json')).kind, 'IPPool');
    assert.equal(JSON.parse(dumpManifests([pools[0]!], 'json', { list: 'always' })).kind, 'IPPoolList');
    assert.throws(() => dumpManifests([pools[0]!, newResource('Tier', 't', {})], 'json', { list: 'always' }), (e: unknown) => ValidationError.isInstance(e));
  });
});

describe('loadManifests: YAML aliases', () => {
  it('expands ordinary aliases', () => {
    const text = [
      'kind: IPPoolList',
      'apiVersion: projectcalico.org/v3',
      'items:',
      '- metadata: {name: p1, labels: &common {team: net}}',
      '  spec: {cidr: 10.1.0.0/16}',
      '- metadata: {name: p2, labels: *common}',
      '  spec: {cidr: 10.2.0.0/16}',
    ].join('\n');
    const [first, second] = loadManifests(text);
    assert.deepEqual(first!.metadata.labels, { team: 'net' });
    assert.deepEqual(second!.metadata.labels, { team: 'net' });
  });

  it('refuses an alias bomb quickly with a ParseError', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i <= 8; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(',')}]`);
    }
    const text = `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: bomb\n  annotations:\n${levels.map((l) => `    ${l}`).join('\n')}\nspec:\n  cidr: 10.0.0.0/16\n`;
    const started = Date.now();
    assert.throws(() => loadManifests(text), (error: unknown) => ParseError.isInstance(error) && /excessive aliasing/.test((error as Error).message));
    assert.ok(Date.now() - started < 2_000, 'rejected without expanding the aliases');
  });
});
