/**
 * Runs child.mjs in a fresh `node` process with the resolution recorder, for the lazy-loading
 * test (which modules were loaded) and the benchmark (how long it took).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));

export interface ChildResult {
  ok: boolean;
  datastoreType?: string;
  name?: string;
  message?: string;
  /** ms since process start. */
  startedAt?: number;
  imported?: number;
  created?: number;
  listed?: number;
  /** Every module URL resolved in the child. */
  modules: string[];
  /** Wall time of the whole child process (ms). */
  wallMs: number;
}

export interface ChildOptions {
  /** Datastore variables (ETCD_ENDPOINTS / KUBECONFIG / DATASTORE_TYPE...). */
  env: Record<string, string>;
  /** Load the packages from their TypeScript sources through tsx (default) or from dist. */
  source?: boolean;
  /** Packages that must look uninstalled. */
  hide?: string[];
  timeoutMs?: number;
}

/** Environment without datastore settings inherited from the caller. */
function cleanEnvironment(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^(CALICO_)?(DATASTORE_TYPE|ETCD_|KUBECONFIG|K8S_)/.test(key)) continue;
    out[key] = value;
  }
  return out;
}

export async function runChild(options: ChildOptions): Promise<ChildResult> {
  const dir = mkdtempSync(join(tmpdir(), 'client-lazy-'));
  const recordFile = join(dir, 'modules.txt');
  const args = [...(options.source === false ? [] : ['--import', 'tsx', '--conditions=source']), '--import', join(here, 'register.mjs'), join(here, 'child.mjs')];
  const started = performance.now();
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, args, {
        cwd: root,
        env: { ...cleanEnvironment(), ...options.env, HOME: '/nonexistent', LIBCALICO_RECORD_FILE: recordFile, LIBCALICO_HIDE_PACKAGES: (options.hide ?? []).join(',') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code !== 0) reject(new Error(`child exited with ${code}: ${err}${out}`));
        else resolve(out);
      });
    });
    const wallMs = performance.now() - started;
    const line = stdout.trim().split('\n').pop() ?? '{}';
    const modules = readFileSync(recordFile, 'utf8').split('\n').filter(Boolean);
    return { ...(JSON.parse(line) as Omit<ChildResult, 'modules' | 'wallMs'>), modules, wallMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Module groups worth telling apart in the record. */
export const MODULE_MARKERS = {
  etcdBackend: /\/packages\/datastore-etcd\/|\/node_modules\/@libcalico-ts\/datastore-etcd\//,
  etcd3: /\/node_modules\/(etcd3|@grpc\/grpc-js)\//,
  kubernetesBackend: /\/packages\/datastore-kubernetes\/|\/node_modules\/@libcalico-ts\/datastore-kubernetes\//,
  kubernetesClient: /\/node_modules\/@kubernetes\/client-node\//,
} as const;

export function loaded(result: ChildResult, marker: RegExp): boolean {
  return result.modules.some((url) => marker.test(url));
}
