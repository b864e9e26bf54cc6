/**
 * Fuzz targets: what is fuzzed, with which generator, and what must hold. Run by
 * test/helpers/reliability-fuzz-worker.ts (in a worker thread, with a per-case hang detector).
 * Every target must return normally or throw a typed error (`CalicoError.isInstance`); anything
 * else fails the run with the input.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { ParseError, ValidationError, dumpManifests, loadManifests, type CalicoError } from '@libcalico-ts/api';
import { parseSelector } from '@libcalico-ts/selector';

export interface FuzzTarget {
  arbitrary: fc.Arbitrary<unknown>;
  /** Throws a CalicoError for bad input; any other throw is a failure. */
  run(input: unknown): void | Promise<void>;
  /** Further checks on a typed error (e.g. its class). */
  checkError?(error: CalicoError, input: unknown): void;
}

// ---------------------------------------------------------------------------------------------
// Selector parser

const SELECTOR_TOKENS = [
  'a', 'b', 'app', 'k8s.io/app', 'projectcalico.org/namespace', 'x-y_z.0', 'a/b/c', '-bad', '_', '9',
  '==', '!=', ' in ', ' not in ', ' contains ', ' starts with ', ' ends with ', 'has(', ')', '(', '{', '}', ',',
  '&&', '||', '!', 'all()', 'global()', '"v"', "'v'", '""', '"\\"', '"unterminated', "'", '"', ' ', '\t', '\n',
  'has', 'in', 'not', 'all', 'global', '\u00e9', '\u{1F600}', '\u0000', '\\', '=', '&', '|', '!=!', '{"a","b"}',
];

const selectorText: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.array(fc.constantFrom(...SELECTOR_TOKENS), { maxLength: 40 }).map((parts) => parts.join('')) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 120 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('(', ')', '!', ' ', 'a', '&', '|', '"'), maxLength: 400 }) },
  // Deep nesting: parsers that recurse per parenthesis or per '!' must not overflow the stack
  // with an untyped RangeError.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('(', '!', '!(', 'has(a) && (', 'a == "b" || ('), fc.boolean())
      .map(([n, open, close]) => open.repeat(n) + 'has(x)' + (close ? ')'.repeat(open.includes('(') ? n : 0) : '')),
  },
  // Long flat expressions.
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5_000 }).map((n) => Array.from({ length: n }, (_, i) => `l${i} == "v${i}"`).join(' && ')) },
);

const selector: FuzzTarget = {
  arbitrary: selectorText,
  run(input) {
    const text = input as string;
    const parsed = parseSelector(text);
    // What parses prints canonically, and the canonical form parses to a selector with the same
    // meaning. Upstream's printer is not a fixed point for a NOT of a parenthesised NOT
    // (`!(!has(a))` prints `!!has(a)`, which parses as `has(a)`; reference selectors.md), so the
    // printed form must settle after one more round instead of at once.
    const canonical = parsed.toString();
    const again = parseSelector(canonical);
    const settled = again.toString();
    assert.equal(parseSelector(settled).toString(), settled, `canonical form settles for ${JSON.stringify(text)}`);
    if (settled !== canonical) assert.match(canonical, /!!/, `only double negations may reprint differently: ${JSON.stringify(text)}`);
    // Matching never throws, whatever the labels, and the reprinted forms agree with the original.
    const labelSets: Record<string, string>[] = [{ a: 'v', app: '', 'k8s.io/app': 'x' }, {}, { x: '1', b: 'x', has: 'a' }];
    for (const labels of labelSets) {
      const expected = parsed.matches(labels);
      assert.equal(again.matches(labels), expected, `reprint of ${JSON.stringify(text)} matches the same labels`);
    }
  },
  checkError(error) {
    assert.ok(ParseError.isInstance(error), `a selector error is a ParseError, got ${error.name}`);
  },
};

// ---------------------------------------------------------------------------------------------
// Manifest loader

const KINDS = [
  'IPPool', 'Node', 'BGPPeer', 'BGPConfiguration', 'FelixConfiguration', 'GlobalNetworkPolicy', 'NetworkPolicy',
  'GlobalNetworkSet', 'NetworkSet', 'HostEndpoint', 'WorkloadEndpoint', 'Profile', 'Tier', 'IPReservation',
  'KubeControllersConfiguration', 'ClusterInformation', 'IPPoolList', 'NodeList', 'List', 'Nope', '',
];
const API_VERSIONS = ['projectcalico.org/v3', 'crd.projectcalico.org/v1', 'v1', 'projectcalico.org/v2', '', 'x/y/z'];

const jsonValue = fc.jsonValue({ maxDepth: 4 });
const envelope = fc.record(
  {
    apiVersion: fc.oneof(fc.constantFrom(...API_VERSIONS), jsonValue),
    kind: fc.oneof(fc.constantFrom(...KINDS), jsonValue),
    metadata: fc.oneof(
      fc.record({ name: fc.oneof(fc.string({ maxLength: 70 }), jsonValue), namespace: fc.oneof(fc.string({ maxLength: 20 }), jsonValue) }, { requiredKeys: [] }),
      jsonValue,
    ),
    spec: fc.oneof(
      fc.record(
        {
          cidr: fc.oneof(fc.constantFrom('10.0.0.0/16', 'fd00::/64', '10.0.0.1/33', '::/0', 'x'), jsonValue),
          selector: fc.oneof(selectorText, jsonValue),
          blockSize: fc.oneof(fc.integer({ min: -5, max: 200 }), jsonValue),
          ingress: fc.array(fc.record({ action: fc.constantFrom('Allow', 'Deny', 'Log', 'Pass', 'x'), source: jsonValue }, { requiredKeys: [] }), { maxLength: 3 }),
          ports: fc.array(fc.oneof(fc.integer({ min: -1, max: 70_000 }), fc.string({ maxLength: 12 })), { maxLength: 3 }),
          asNumber: fc.oneof(fc.integer(), fc.string({ maxLength: 12 })),
        },
        { requiredKeys: [] },
      ),
      jsonValue,
    ),
    items: fc.array(jsonValue, { maxLength: 3 }),
  },
  { requiredKeys: [] },
);

const manifestText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.array(envelope, { minLength: 1, maxLength: 4 }).map((docs) => docs.map((d) => toYaml(d)).join('---\n')) },
  { weight: 2, arbitrary: fc.array(envelope, { minLength: 1, maxLength: 3 }).map((docs) => (docs.length === 1 ? JSON.stringify(docs[0]) : JSON.stringify({ kind: 'List', apiVersion: 'v1', items: docs }))) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.constantFrom('apiVersion: projectcalico.org/v3\n', 'kind: IPPool\n', 'metadata:\n', '  name: x\n', 'spec:\n', '  cidr: 10.0.0.0/8\n', '---\n', '- a\n', '&a [*a]\n', '*a\n', '{', '}', '[', ']', ': ', '"', "'", '!!binary', '!!python/object', '%YAML 1.1\n', '? ', '\t', '# c\n', 'null\n', '~\n'), { maxLength: 30 })
      .map((parts) => parts.join('')),
  },
  // Alias expansion ("billion laughs") must be refused, not expanded.
  {
    weight: 1,
    arbitrary: fc.integer({ min: 2, max: 12 }).map((levels) => {
      let text = 'a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]\n';
      for (let i = 1; i < levels; i++) text += `a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(',')}]\n`;
      return `kind: IPPool\napiVersion: projectcalico.org/v3\nmetadata:\n  name: p\nspec:\n  ${text.replace(/\n(?=.)/g, '\n  ')}`;
    }),
  },
  // Deep nesting.
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3_000 }).map((n) => `{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{"name":"p"},"spec":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`) },
);

const manifests: FuzzTarget = {
  arbitrary: manifestText,
  run(input) {
    const text = input as string;
    const loaded = loadManifests(text);
    assert.ok(Array.isArray(loaded));
    const validated = loadManifests(text, { validate: true });
    assert.equal(validated.length, loaded.length);
    // What loads can be dumped and loaded again to the same resources.
    if (loaded.length > 0) {
      const dumped = dumpManifests(loaded, 'yaml');
      assert.deepEqual(loadManifests(dumped), loaded, 'dump then load gives back the resources');
    }
  },
  checkError(error) {
    assert.ok(ParseError.isInstance(error) || ValidationError.isInstance(error), `a manifest error is a ParseError or ValidationError, got ${error.name}`);
  },
};

/** Harness self-tests: must be reported as an untyped crash and as a hang. */
const selfTestCrash: FuzzTarget = {
  arbitrary: fc.integer(),
  run(input) {
    if ((input as number) % 3 === 0) (undefined as unknown as { x: number }).x;
  },
};
const selfTestHang: FuzzTarget = {
  arbitrary: fc.integer(),
  run() {
    for (;;) {
      // a synchronous hang
    }
  },
};

export const targets: Record<string, FuzzTarget> = { selector, manifests, selfTestCrash, selfTestHang };
