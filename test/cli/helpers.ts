/**
 * Runs the example calicoctl as a child process (from source through tsx, so no build is
 * needed), and prepares datastores for it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../examples/cli/src/main.ts', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Environment variables that must not leak from the test runner into the CLI. */
const DATASTORE_VARS = /^(CALICO_)?(DATASTORE_TYPE|ETCD_.*|KUBECONFIG|K8S_.*|MEMORY_SNAPSHOT|CALICO_API_GROUP)$/;

/** Runs `calicoctl <args>` with `env` (added to a clean copy of the process environment). */
export function calicoctl(args: readonly string[], env: Record<string, string>, stdin = ''): Promise<CliResult> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !DATASTORE_VARS.test(k)) base[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', MAIN, ...args], {
      cwd: ROOT,
      env: { ...base, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
