// Fuzzing the `calico` and `calico-ipam` CNI plugin binaries (examples/cni, not a library: its
// parsing entry points are not exported, so the real executables are run) with fuzzed CNI
// environment, NetConf (stdin) and CNI_ARGS. Whatever the input, a plugin must answer with CNI
// JSON on stdout (a result, or an error object with a numeric `code` and a string `msg`), exit 0
// or 1, never print a stack trace, and finish within the per-case timeout.
//
// Namespace-free and harmless by construction: every generated NetConf is pinned to a datastore
// endpoint that refuses connections (127.0.0.1:1), no kubeconfig, no log file, no lock file, no
// readiness gates; CNI_NETNS points to a missing path and CNI_PATH to an empty directory, so
// nothing can reach the kernel, the network beyond loopback, or other plugins.
//
// Size: CI-sized by default (inside `npm test`): 40 cases per plugin.
// LIBCALICO_RELIABILITY_FULL=1: 1,200 cases per plugin. LIBCALICO_FUZZ_SEED replays a seed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { sized } from '../helpers/reliability.js';
import { buildPlugins } from '../cni/harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CNI = join(ROOT, 'examples', 'cni');
const RUNS = sized(40, 1_200);
const CASE_TIMEOUT_MS = 20_000;
const seed = process.env.LIBCALICO_FUZZ_SEED ? Number(process.env.LIBCALICO_FUZZ_SEED) : undefined;

let scratch: string;
before(() => {
  // The bundles the launchers run (examples/cni/dist) are built from the current sources.
  buildPlugins();
  scratch = mkdtempSync(join(tmpdir(), 'lcts-cni-fuzz-'));
});
after(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

interface Case {
  env: Record<string, string>;
  stdin: string;
}

const json = fc.jsonValue({ maxDepth: 3 });
const netconf = fc.record(
  {
    cniVersion: fc.oneof(fc.constantFrom('0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0', '2.0.0', '', '1.0'), json),
    name: fc.oneof(fc.constantFrom('k8s-pod-network', 'net', 'bad name', '', '../x'), json),
    type: fc.oneof(fc.constantFrom('calico', 'calico-ipam', 'host-local'), json),
    datastore_type: fc.oneof(fc.constantFrom('etcdv3', 'kubernetes', 'nope'), json),
    nodename: fc.oneof(fc.constantFrom('node-a', '', 'UPPER', 'a'.repeat(300)), json),
    mtu: fc.oneof(fc.integer({ min: -10, max: 100_000 }), json),
    log_level: fc.constantFrom('debug', 'info', 'error', 'bogus'),
    ipam: fc.oneof(
      fc.record(
        {
          type: fc.oneof(fc.constantFrom('calico-ipam', 'host-local', 'sh', '../../bin/sh'), json),
          assign_ipv4: fc.oneof(fc.constantFrom('true', 'false', 'maybe'), json),
          assign_ipv6: fc.oneof(fc.constantFrom('true', 'false'), json),
          ipv4_pools: fc.oneof(fc.array(fc.constantFrom('10.0.0.0/8', 'default-ipv4-ippool', 'x/99', ''), { maxLength: 3 }), json),
          subnet: fc.oneof(fc.constantFrom('usePodCidr', '10.0.0.0/24', 'x'), json),
          routes: fc.oneof(fc.array(fc.record({ dst: fc.oneof(fc.constantFrom('0.0.0.0/0', 'x', '::/0'), json) }), { maxLength: 2 }), json),
        },
        { requiredKeys: [] },
      ),
      json,
    ),
    kubernetes: fc.oneof(fc.record({ k8s_api_root: fc.constantFrom('http://127.0.0.1:1', 'not a url') }, { requiredKeys: [] }), json),
    policy: fc.oneof(fc.record({ type: fc.constantFrom('k8s', 'none', '') }, { requiredKeys: [] }), json),
    feature_control: fc.oneof(fc.record({ ip_addrs_no_ipam: fc.oneof(fc.boolean(), json), floating_ips: fc.oneof(fc.boolean(), json) }, { requiredKeys: [] }), json),
    container_settings: fc.oneof(fc.record({ allow_ip_forwarding: fc.oneof(fc.boolean(), json) }, { requiredKeys: [] }), json),
    prevResult: json,
    runtimeConfig: json,
    args: json,
  },
  { requiredKeys: [] },
);

/** Forces the fields that could reach outside the test onto harmless values. */
function pinned(conf: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...conf, etcd_endpoints: 'http://127.0.0.1:1', nodename_file: join(scratch, 'no-such-nodename') };
  for (const k of ['log_file_path', 'ipam_lock_file', 'readiness_gates', 'etcd_key_file', 'etcd_cert_file', 'etcd_ca_cert_file', 'kubeconfig']) delete out[k];
  if (out.kubernetes && typeof out.kubernetes === 'object' && !Array.isArray(out.kubernetes)) {
    const k = { ...(out.kubernetes as Record<string, unknown>) };
    delete k.kubeconfig;
    out.kubernetes = k;
  } else if (out.kubernetes !== undefined) {
    delete out.kubernetes;
  }
  return out;
}

const stdinText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: netconf.map((c) => JSON.stringify(pinned(c))) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'null', '[]', '"x"', '{', '{"name":"x"}', '{"cniVersion":1}', '{"name":"n","cniVersion":"1.0.0"}') },
);

const argsText = fc.oneof(
  fc.constantFrom('', 'IgnoreUnknown=1', 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=x', 'IP=10.0.0.5', 'IP=x', '=', ';;', 'a=b=c'),
  fc.string({ maxLength: 60 }).filter((s) => !s.includes('\u0000')),
);

const fuzzCase: fc.Arbitrary<Case> = fc
  .record({
    // Mostly valid environments, so that most cases reach the NetConf parsing behind them.
    command: fc.oneof({ weight: 9, arbitrary: fc.constantFrom('ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION') }, { weight: 1, arbitrary: fc.constantFrom('', 'add', 'RM') }),
    containerId: fc.oneof({ weight: 9, arbitrary: fc.constantFrom('abc123', 'f00dfeed0123') }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom('', '-bad', 'x'.repeat(200)), fc.string({ maxLength: 20 })) }),
    ifName: fc.oneof({ weight: 9, arbitrary: fc.constant('eth0') }, { weight: 1, arbitrary: fc.constantFrom('', 'a-very-long-interface-name', 'bad/name', '..') }),
    args: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('', 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=x') }, { weight: 1, arbitrary: argsText }),
    stdin: stdinText,
  })
  .map((c) => ({
    stdin: c.stdin,
    env: {
      CNI_COMMAND: c.command,
      CNI_CONTAINERID: c.containerId.replace(/\u0000/g, ''),
      CNI_NETNS: '/nonexistent/netns/path',
      CNI_IFNAME: c.ifName,
      CNI_PATH: scratch,
      CNI_ARGS: c.args,
    },
  }));

function runPlugin(plugin: string, c: Case): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: scratch, ...c.env };
    // The launcher itself (a #!/bin/sh script choosing the snapshot or the bundle), as a runtime execs it.
    const child = spawn(join(CNI, 'bin', plugin), [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), CASE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(c.stdin);
  });
}

for (const plugin of ['calico', 'calico-ipam']) {
  test(`${plugin}: fuzzed environment, NetConf and CNI_ARGS give CNI JSON, never a crash, a stack or a hang`, async (t) => {
    const codes: Record<string, number> = {};
    let slowest = 0;
    const property = fc.asyncProperty(fuzzCase, async (c) => {
      const out = await runPlugin(plugin, c);
      slowest = Math.max(slowest, out.ms);
      const where = `env=${JSON.stringify(c.env)} stdin=${JSON.stringify(c.stdin).slice(0, 600)}`;
      assert.equal(out.signal, null, `killed (hang > ${CASE_TIMEOUT_MS} ms): ${where}`);
      assert.ok(out.code === 0 || out.code === 1, `exit code ${out.code}: ${where}\n${out.stderr.slice(-800)}`);
      assert.doesNotMatch(out.stderr, /\n\s+at .+:\d+:\d+\)?/, `a stack trace on stderr: ${where}\n${out.stderr.slice(-1500)}`);
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(out.stdout) as Record<string, unknown>;
      } catch {
        assert.fail(`stdout is not JSON (${JSON.stringify(out.stdout.slice(0, 300))}): ${where}`);
      }
      if (out.code === 1) {
        assert.equal(typeof body.code, 'number', `error JSON has a numeric code: ${out.stdout.slice(0, 300)}`);
        assert.equal(typeof body.msg, 'string', `error JSON has a msg: ${out.stdout.slice(0, 300)}`);
        codes[String(body.code)] = (codes[String(body.code)] ?? 0) + 1;
      } else {
        codes.ok = (codes.ok ?? 0) + 1;
      }
    });
    const details = await fc.check(property, { numRuns: RUNS, ...(seed !== undefined ? { seed } : {}), endOnFailure: true });
    t.diagnostic(`seed ${details.seed}: ${details.numRuns} cases; answers by code ${JSON.stringify(codes)}; slowest ${slowest} ms`);
    if (details.failed) {
      assert.fail(`seed ${details.seed}, counterexample ${JSON.stringify(details.counterexample).slice(0, 2000)}\n${(details.errorInstance as Error)?.message}`);
    }
    assert.ok(Object.keys(codes).length >= 2, 'the inputs reach several different answers');
  });
}
