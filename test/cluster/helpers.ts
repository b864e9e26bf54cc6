/** Shared helpers of the cluster suites. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ETCD_FABRIC_URL, REPO_ROOT, type Cluster } from '../../examples/cluster/src/cluster.js';

/** Runs a one-shot `calico-agent` command (from source) inside a host namespace. */
export function runAgentCommand(cluster: Cluster, host: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'ip',
      ['netns', 'exec', cluster.host(host).netns, process.execPath, '--import', 'tsx', '--conditions=source', join(REPO_ROOT, 'examples/agent/src/main.ts'), ...args],
      { cwd: REPO_ROOT, env: { ...process.env, DATASTORE_TYPE: 'etcdv3', ETCD_ENDPOINTS: ETCD_FABRIC_URL }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
