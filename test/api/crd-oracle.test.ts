// The projectcalico.org/v3 CRD schemas as a test oracle: every resource the api suites use must,
// after applyDefaults, satisfy the OpenAPI v3 schema of its CRD (checked with ajv, independently
// of the package's own validator). CEL rules (x-kubernetes-validations) cannot be evaluated by
// ajv; they are covered by the validator's own tests. A second block checks that where the
// schema rejects a bad resource, validateResource rejects it too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv, { type ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { isCIDR } from '@libcalico-ts/net';
import { KINDS, applyDefaults, collectValidationErrors, loadManifests, type Resource } from '@libcalico-ts/api';
import { SAMPLES } from './samples.js';

const root = process.env.LIBCALICO_TS_ROOT ?? fileURLToPath(new URL('../..', import.meta.url));
const shared = join(root, '..', 'shared', 'fixtures');
const crdDir = join(shared, 'crds', 'projectcalico.org_v3');

/** Drops the Kubernetes-only keywords ajv does not know; keeps everything JSON Schema means. */
function stripKubernetesKeywords(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(stripKubernetesKeywords);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key.startsWith('x-kubernetes-')) continue;
    // `properties` and `additionalProperties` hold field names / schemas: recurse into values only.
    out[key] = stripKubernetesKeywords(value);
  }
  const s = schema as Record<string, unknown>;
  // int-or-string fields carry `anyOf: [integer, string]` upstream; make sure of it when only the marker is there.
  if (s['x-kubernetes-int-or-string'] === true && !('anyOf' in s)) out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  // Structural schemas forbid unknown fields unless x-kubernetes-preserve-unknown-fields is set.
  if (s.type === 'object' && s.properties && s['x-kubernetes-preserve-unknown-fields'] !== true && !('additionalProperties' in s)) {
    out.additionalProperties = false;
  }
  return out;
}

function loadValidators(): Map<string, ValidateFunction> {
  // Go (RE2) patterns: `(?i)` becomes the `i` flag; no `u` flag, since RE2 accepts `[0-9-_]`.
  const goRegExp = Object.assign(
    (pattern: string) => {
      const insensitive = pattern.includes('(?i)');
      return new RegExp(pattern.replace('(?i)', ''), insensitive ? 'i' : '');
    },
    { code: 'new RegExp' },
  );
  const ajv = new Ajv({ strict: false, allErrors: true, code: { regExp: goRegExp } });
  ajv.addFormat('cidr', (text: string) => isCIDR(text));
  ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  ajv.addFormat('int32', true);
  ajv.addFormat('int64', true);
  const validators = new Map<string, ValidateFunction>();
  for (const file of readdirSync(crdDir)) {
    if (!file.endsWith('.yaml')) continue;
    const crd = parseYaml(readFileSync(join(crdDir, file), 'utf8'));
    const version = crd.spec.versions.find((v: { storage: boolean }) => v.storage);
    const schema = stripKubernetesKeywords(version.schema.openAPIV3Schema) as Record<string, unknown>;
    // metadata is validated by the API server itself, not by the CRD schema.
    const properties = { ...(schema.properties as Record<string, unknown>), metadata: { type: 'object' } };
    validators.set(crd.spec.names.kind, ajv.compile({ ...schema, properties }));
  }
  return validators;
}

const validators = loadValidators();

function crdKindOf(resource: Resource): string | undefined {
  const kdd = KINDS[resource.kind].kdd;
  return 'crd' in kdd ? resource.kind : undefined;
}

function confdResources(): Resource[] {
  const out: Resource[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name === 'input.yaml') out.push(...loadManifests(readFileSync(path, 'utf8')));
    }
  };
  walk(join(shared, 'confd'));
  return out;
}

describe('CRD schema oracle', () => {
  it('has a schema for every CRD-backed kind', () => {
    for (const kind of Object.keys(KINDS) as (keyof typeof KINDS)[]) {
      if ('crd' in KINDS[kind].kdd) assert.ok(validators.has(kind), `no v3 CRD for ${kind}`);
    }
  });

  const all = [...SAMPLES, ...confdResources()];
  it(`accepts every sample and confd resource after applyDefaults (${all.length} resources)`, () => {
    let checked = 0;
    for (const resource of all) {
      const defaulted = applyDefaults(resource);
      assert.deepEqual(collectValidationErrors(defaulted), [], `${resource.kind}/${resource.metadata.name} fails validateResource`);
      const kind = crdKindOf(resource);
      if (!kind) continue;
      const validate = validators.get(kind)!;
      const ok = validate(defaulted);
      assert.ok(ok, `${kind}/${resource.metadata.name}: ${JSON.stringify(validate.errors)}`);
      checked++;
    }
    assert.ok(checked >= 40, `only ${checked} CRD-backed resources checked`);
  });

  it('covers every CRD-backed kind with at least one sample', () => {
    const covered = new Set(SAMPLES.map((r) => r.kind));
    for (const kind of Object.keys(KINDS) as (keyof typeof KINDS)[]) assert.ok(covered.has(kind), `no sample of ${kind}`);
  });

  // Bad resources the schema itself rejects: our validator must reject them too (same field).
  const bad: Array<[string, Resource, string]> = [
    ['blockSize above the schema maximum', { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'p' }, spec: { cidr: '10.0.0.0/16', blockSize: 129 } }, 'spec.blockSize'],
    ['unknown ipipMode', { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'p' }, spec: { cidr: '10.0.0.0/16', ipipMode: 'Sometimes' as never } }, 'spec.ipipMode'],
    ['unknown spec field', { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'p' }, spec: { cidr: '10.0.0.0/16', ipip: true } as never }, 'spec.ipip'],
    ['CIDR that does not parse', { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'p' }, spec: { cidr: '300.1.1.1/8' } }, 'spec.cidr'],
    ['listenPort 0', { kind: 'BGPConfiguration', apiVersion: 'projectcalico.org/v3', metadata: { name: 'default' }, spec: { listenPort: 0 } }, 'spec.listenPort'],
    ['bad log severity', { kind: 'BGPConfiguration', apiVersion: 'projectcalico.org/v3', metadata: { name: 'default' }, spec: { logSeverityScreen: 'Loud' } }, 'spec.logSeverityScreen'],
    ['peerIP too long', { kind: 'BGPPeer', apiVersion: 'projectcalico.org/v3', metadata: { name: 'p' }, spec: { peerIP: '1'.repeat(65) } }, 'spec.peerIP'],
    ['maxBlocksPerHost above range', { kind: 'IPAMConfiguration', apiVersion: 'projectcalico.org/v3', metadata: { name: 'default' }, spec: { strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: 1_000_001 } }, 'spec.maxBlocksPerHost'],
    ['BGPFilter rule without action', { kind: 'BGPFilter', apiVersion: 'projectcalico.org/v3', metadata: { name: 'f' }, spec: { exportV4: [{ cidr: '10.0.0.0/8', matchOperator: 'In' } as never] } }, 'spec.exportV4[0].action'],
    ['HostEndpoint port 0', { kind: 'HostEndpoint', apiVersion: 'projectcalico.org/v3', metadata: { name: 'h' }, spec: { node: 'n', interfaceName: 'eth0', ports: [{ name: 'x', protocol: 'TCP', port: 0 }] } }, 'spec.ports[0].port'],
    ['policy with three types', { kind: 'GlobalNetworkPolicy', apiVersion: 'projectcalico.org/v3', metadata: { name: 'g' }, spec: { types: ['Ingress', 'Egress', 'Ingress'] } }, 'spec.types'],
  ];
  for (const [title, resource, field] of bad) {
    it(`schema and validator both reject: ${title}`, () => {
      const defaulted = applyDefaults(resource);
      const validate = validators.get(resource.kind)!;
      assert.equal(validate(defaulted), false, 'the CRD schema should reject this resource');
      const names = collectValidationErrors(defaulted).map((e) => e.name);
      assert.ok(names.includes(field), `expected an error on ${field}, got ${JSON.stringify(names)}`);
    });
  }
});
