/**
 * Loads confd golden cases (the layout of ../shared/fixtures/confd beside the repository) and reproduces what the
 * upstream harness adds implicitly: rendering for kube-master, its six block affinities, the
 * Kubernetes labels of KDD Nodes, Services without status, and step2 upserts.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { BlockAffinityInput, KubernetesObject, RenderBirdConfigOptions } from '@libcalico-ts/bgp';

export const FIXTURES_DIR =
  process.env.CONFD_FIXTURES_DIR ?? fileURLToPath(new URL('../../../shared/fixtures/confd', import.meta.url));

export const HARNESS_NODE = 'kube-master';

/** The affinities upstream's harness creates for kube-master before every one-shot case. */
export const HARNESS_AFFINITIES: BlockAffinityInput[] = [
  { node: HARNESS_NODE, cidr: '10.0.0.0/30', state: '' },
  { node: HARNESS_NODE, cidr: '10.1.0.0/24', state: '' },
  { node: HARNESS_NODE, cidr: '10.2.0.1/32', state: '' },
  { node: HARNESS_NODE, cidr: '192.168.221.192/26', state: '' },
  { node: HARNESS_NODE, cidr: '192.168.221.64/26', state: 'confirmed' },
  { node: HARNESS_NODE, cidr: '192.168.221.0/26', state: 'pending' },
];

export type Doc = { kind: string; apiVersion?: string; metadata?: { name?: string; namespace?: string; labels?: Record<string, unknown> }; [k: string]: unknown };

/** Parses a multi-document YAML file (empty documents dropped). */
export function readDocs(path: string): Doc[] {
  const text = readFileSync(path, 'utf8');
  // Like sigs.k8s.io/yaml (go-yaml v2): YAML 1.1 booleans (`yes`), but no base-60 numbers (`5663:12` stays a string).
  return parseAllDocuments(text, { version: '1.1', customTags: (tags) => tags.filter((t) => !(typeof t === 'object' && t.format === 'TIME')) })
    .map((d) => d.toJS() as unknown)
    .filter((d): d is Doc => typeof d === 'object' && d !== null && typeof (d as Doc).kind === 'string');
}

/** Label values as the API stores them: strings (YAML `true` becomes `"true"`). */
function stringLabels(doc: Doc): Doc {
  const labels = doc.metadata?.labels;
  if (!labels) return doc;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) out[k] = String(v);
  return { ...doc, metadata: { ...doc.metadata, labels: out } };
}

export interface GoldenCase {
  /** e.g. `mesh/ipip-always` or `mesh/static-routes/step2`. */
  name: string;
  /** Documents applied in order (step2 documents upsert over the base ones). */
  steps: { calico: Doc[]; kubernetes: Doc[] }[];
  expectedDir: string;
  kddOnly: boolean;
}

function isCaseDir(dir: string): boolean {
  return existsSync(join(dir, 'input.yaml')) && existsSync(join(dir, 'expected'));
}

/** Every case (and step2 sub-case) below `root`. */
export function listCases(root = FIXTURES_DIR): GoldenCase[] {
  const out: GoldenCase[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry);
      if (!statSync(path).isDirectory() || entry === 'expected' || entry === 'step2') continue;
      if (isCaseDir(path)) {
        const base = {
          calico: readDocs(join(path, 'input.yaml')),
          kubernetes: existsSync(join(path, 'kubectl-input.yaml')) ? readDocs(join(path, 'kubectl-input.yaml')) : [],
        };
        const name = relative(root, path);
        const kddOnly = base.kubernetes.length > 0;
        out.push({ name, steps: [base], expectedDir: join(path, 'expected'), kddOnly });
        const step2 = join(path, 'step2');
        if (isCaseDir(step2)) {
          out.push({
            name: `${name}/step2`,
            steps: [base, { calico: readDocs(join(step2, 'input.yaml')), kubernetes: [] }],
            expectedDir: join(step2, 'expected'),
            kddOnly,
          });
        }
      }
      walk(path);
    }
  };
  walk(root);
  return out;
}

function key(d: Doc): string {
  return `${d.kind}/${d.metadata?.namespace ?? ''}/${d.metadata?.name ?? ''}`;
}

/**
 * Builds renderer options for a case as one datastore would hold it.
 * `kdd`: Nodes get the Kubernetes labels, Services lose `status` (never persisted by the harness).
 */
export function optionsFor(c: GoldenCase, mode: 'etcd' | 'kdd'): RenderBirdConfigOptions {
  const calico = new Map<string, Doc>();
  const kube = new Map<string, Doc>();
  for (const step of c.steps) {
    for (const d of step.calico) calico.set(key(d), stringLabels(d));
    for (const d of step.kubernetes) kube.set(key(d), d);
  }
  const resources = [...calico.values()].map((d) => {
    if (mode !== 'kdd' || d.kind !== 'Node') return d;
    const name = d.metadata?.name ?? '';
    return {
      ...d,
      metadata: {
        ...d.metadata,
        labels: {
          'kubernetes.io/arch': 'amd64',
          'kubernetes.io/os': 'linux',
          'kubernetes.io/hostname': name,
          ...(d.metadata?.labels ?? {}),
        },
      },
    };
  });
  const kubernetesObjects: KubernetesObject[] =
    mode === 'kdd'
      ? [...kube.values()].map((d) => {
          if (d.kind !== 'Service') return d as KubernetesObject;
          const { status: _status, ...rest } = d;
          return rest as KubernetesObject;
        })
      : [];
  return {
    nodeName: HARNESS_NODE,
    resources: resources as RenderBirdConfigOptions['resources'],
    blockAffinities: HARNESS_AFFINITIES,
    kubernetesObjects,
  };
}
