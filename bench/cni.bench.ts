/**
 * CNI benchmark: one ADD + DEL cycle through libcni (the Go test driver) on a real etcd, for our
 * `calico` (+ in-process calico-ipam) and for the reference Go `ptp` + `host-local` plugins, in
 * the same run and the same namespaces. Also reports where our time goes (from the plugin's
 * debug timings). Needs root, Go and the Debian CNI packages; touches only its own namespaces.
 *
 * Environment: libcni executes plugins with the runtime's own environment, and a container
 * runtime (containerd, CRI-O under systemd) has little more than a system PATH. The driver is
 * therefore run with `runtimeEnv()` from test/cni/harness.ts (PATH only, including node's
 * directory) for the headline rows. A developer shell or CI sandbox often exports more, notably
 * NODE_EXTRA_CA_CERTS, which Node 20 parses at every process start (~40 ms with the Debian bundle):
 * one extra row repeats our cycle with this process's inherited environment so both are visible.
 *
 * etcd: the headline rows run etcd INSIDE the test host namespace (CniHost.startEtcdInside), so
 * the plugins reach it on loopback as on a node with a local etcd; the benchmark process seeds it
 * through a relay. One extra row repeats our cycle against an etcd outside the namespace behind
 * the two-process relay the CNI test suites use (each connection and round trip then crosses two
 * Node relay processes, which on a small VM costs more than a real network would).
 *
 * Floor row: what a plugin that starts one Node process per invocation cannot go below, whatever
 * it does inside: the Go cycle with its own four process starts replaced by two Node starts.
 *
 * Thick-plugin row: the same cycle with `calico-cni-server` running in the host namespace and
 * CALICO_CNI_SERVER_SOCKET added to the runtime environment, so the launchers hand each
 * invocation to dist/calico-shim (a small Go program) and the warm server. The standalone figure
 * stays the headline; this row is reported separately.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEtcdDatastore } from '@libcalico-ts/datastore-etcd';
import { startEtcd } from '../test/helpers/etcd.js';
import { buildDriver, buildPlugins, cniUnavailableReason, CNI_DIR, CniHost, nodenameFile, REFERENCE_PLUGINS, runtimeEnv, seedCluster } from '../test/cni/harness.js';
import { targetRow, type Bench, type BenchRow } from './lib.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const bench: Bench = async (context) => {
  const reason = cniUnavailableReason();
  if (reason) {
    context.log(`cni: skipped (${reason})`);
    return [];
  }
  buildPlugins();
  buildDriver();
  // Outside etcd (behind the relay) first: the inside one then picks a port the relay does not use.
  const etcd = await startEtcd();
  const relayed = createEtcdDatastore({ endpoints: etcd.endpoints });
  const host = await CniHost.create();
  const relayPort = Number(new URL(etcd.endpoints[0]!).port);
  const inside = await host.startEtcdInside(relayPort === 2379 || relayPort === 2380 ? 2479 : 2379).catch(async (error: unknown) => {
    await host.close();
    await relayed.close();
    await etcd.stop();
    throw error;
  });
  const ds = createEtcdDatastore({ endpoints: [inside.outsideEndpoint] });
  const dataDir = mkdtempSync(join(tmpdir(), 'lcts-bench-hostlocal-'));
  let server: ChildProcess | undefined;
  try {
    await seedCluster(ds, { node: 'bench-node', pools: [{ name: 'default-ipv4-ippool', cidr: '10.244.0.0/16' }] });
    await seedCluster(relayed, { node: 'bench-node', pools: [{ name: 'default-ipv4-ippool', cidr: '10.244.0.0/16' }] });
    await host.relay(relayPort);
    const nodeFile = nodenameFile('bench-node');
    const ours = (logLevel: string, endpoint = inside.endpoint) => ({
      cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'calico', datastore_type: 'etcdv3', etcd_endpoints: endpoint,
      nodename_file: nodeFile, mtu: 1450, log_level: logLevel, ipam: { type: 'calico-ipam' },
    });
    const reference = { cniVersion: '1.0.0', name: 'bench-ptp', type: 'ptp', ipMasq: false, mtu: 1450, ipam: { type: 'host-local', subnet: '10.98.0.0/16', dataDir } };
    const pod = await host.pod();
    const args = (i: number) => `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-${i}`;
    const runtime = runtimeEnv();
    const cycle = (conf: object, id: string, i: number, baseEnv: Record<string, string> | NodeJS.ProcessEnv = runtime): number => {
      const t = performance.now();
      const add = host.run('add', conf, { netns: pod, containerId: id, args: args(i), baseEnv: baseEnv as Record<string, string> });
      if (add.code !== 0) throw new Error(`ADD failed: ${add.stdout} ${add.stderr}`);
      const del = host.run('del', conf, { netns: pod, containerId: id, args: args(i), baseEnv: baseEnv as Record<string, string> });
      if (del.code !== 0) throw new Error(`DEL failed: ${del.stdout}`);
      return performance.now() - t;
    };
    const iterations = context.quick ? 5 : 20;
    const oursMs: number[] = [];
    const refMs: number[] = [];
    const inheritedMs: number[] = [];
    const relayMs: number[] = [];
    const viaRelay = ours('error', etcd.endpoints.join(','));
    // Warm-up (page cache, first etcd writes), then alternate to share the machine's noise.
    cycle(ours('error'), 'warm-ours', 0);
    cycle(reference, 'warm-ref', 0);
    cycle(ours('error'), 'warm-inherited', 0, process.env);
    cycle(viaRelay, 'warm-relay', 0);
    for (let i = 1; i <= iterations; i++) {
      oursMs.push(cycle(ours('error'), `ours-${i}`, i));
      refMs.push(cycle(reference, `ref-${i}`, i));
      inheritedMs.push(cycle(ours('error'), `inherited-${i}`, i, process.env));
      relayMs.push(cycle(viaRelay, `relay-${i}`, i));
    }
    const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
    context.log(`cni: ours ${list(oursMs)} ms; ptp ${list(refMs)} ms; ours (inherited env) ${list(inheritedMs)} ms; ours (etcd via relay) ${list(relayMs)} ms`);
    const o = median(oursMs);
    const r = median(refMs);
    const rows: BenchRow[] = [
      { name: 'CNI ADD+DEL cycle via libcni, calico on etcd (median)', value: o, unit: 'ms' },
      { name: 'CNI ADD+DEL cycle via libcni, Go ptp + host-local (median)', value: r, unit: 'ms' },
      targetRow('CNI cycle ratio calico / (ptp + host-local)', o / r, 'x', '<=', 1.5, { baseline: r, ratio: o / r }),
      { name: 'CNI cycle, calico, inherited environment (this shell, median)', value: median(inheritedMs), unit: 'ms', baseline: r, ratio: median(inheritedMs) / r },
      { name: 'CNI cycle, calico, etcd outside the namespace via relay (median)', value: median(relayMs), unit: 'ms', baseline: r, ratio: median(relayMs) / r },
    ];
    // Thick-plugin mode: the CNI server in the host namespace, the shim in front of it.
    if (existsSync(join(CNI_DIR, 'dist', 'calico-shim'))) {
      const socket = join(dataDir, 'cni-server.sock');
      server = spawn('ip', ['netns', 'exec', host.name, process.execPath, join(CNI_DIR, 'dist', 'calico-cni-server.mjs'), '--socket', socket], { stdio: ['ignore', 'pipe', 'inherit'], env: runtime });
      await new Promise<void>((resolve, reject) => {
        server!.stdout!.once('data', () => resolve());
        server!.once('exit', (code) => reject(new Error(`calico-cni-server exited with ${code}`)));
      });
      const thickEnv = { ...runtime, CALICO_CNI_SERVER_SOCKET: socket };
      const thickMs: number[] = [];
      const refMs2: number[] = [];
      cycle(ours('error'), 'warm-thick', 0, thickEnv);
      for (let i = 1; i <= iterations; i++) {
        thickMs.push(cycle(ours('error'), `thick-${i}`, i, thickEnv));
        refMs2.push(cycle(reference, `ref2-${i}`, i));
      }
      context.log(`cni: thick ${list(thickMs)} ms; ptp ${list(refMs2)} ms`);
      const t = median(thickMs);
      const r2 = median(refMs2);
      rows.push({ name: 'CNI cycle, calico thick mode (shim + calico-cni-server, median)', value: t, unit: 'ms', baseline: r2, ratio: t / r2 });
      const thickSteps = new Map<string, number[]>();
      for (let i = 0; i < (context.quick ? 2 : 5); i++) {
        for (const command of ['add', 'del']) {
          const out = host.run(command, ours('debug'), { netns: pod, containerId: `thick-steps-${i}`, args: args(2000 + i), baseEnv: thickEnv });
          const total = /\] calico: total in process: ([0-9.]+) ms/.exec(out.stderr);
          if (total) thickSteps.set(command, [...(thickSteps.get(command) ?? []), Number(total[1])]);
        }
      }
      for (const [command, values] of thickSteps) rows.push({ name: `calico thick ${command.toUpperCase()} in the server (median)`, value: median(values), unit: 'ms' });
      server.kill('SIGTERM');
      server = undefined;
    } else {
      context.log('cni: no dist/calico-shim (no Go toolchain at build time): thick-plugin row skipped');
    }
    // Where the time goes: one ADD and one DEL with debug timings.
    const steps = new Map<string, number[]>();
    for (let i = 0; i < (context.quick ? 2 : 5); i++) {
      for (const command of ['add', 'del']) {
        const out = host.run(command, ours('debug'), { netns: pod, containerId: `steps-${i}`, args: args(1000 + i), baseEnv: runtime });
        for (const m of out.stderr.matchAll(/\] calico: ([^:]+): ([0-9.]+) ms/g)) {
          const key = `${command.toUpperCase()} ${m[1]}`;
          steps.set(key, [...(steps.get(key) ?? []), Number(m[2])]);
        }
      }
    }
    for (const [step, values] of steps) rows.push({ name: `calico ${step} (median)`, value: median(values), unit: 'ms' });
    // Node's own floor: an empty script, for reference, in both environments.
    const startMs = (command: string, argv: string[], env: Record<string, string> | NodeJS.ProcessEnv): number => {
      const times: number[] = [];
      for (let i = 0; i < 7; i++) {
        const t = performance.now();
        spawnSync(command, argv, { env, stdio: 'ignore' });
        times.push(performance.now() - t);
      }
      return median(times);
    };
    let nodeStart = 0;
    for (const [label, env] of [['runtime', runtime], ['inherited', process.env]] as const) {
      const value = startMs(process.execPath, ['-e', '0'], env);
      if (label === 'runtime') nodeStart = value;
      rows.push({ name: `node -e 0 (process start floor, ${label} env, median)`, value, unit: 'ms' });
    }
    // The floor of any plugin that runs one Node process per invocation (ADD, DEL): Go's cycle
    // minus the four Go process starts in it (ptp and host-local, for ADD and for DEL; each
    // measured as a CNI VERSION call), plus two Node starts. It assumes the rest (netlink, IPAM,
    // the kernel's veth work) costs exactly what it costs the Go plugins.
    const versionEnv = { ...runtime, CNI_COMMAND: 'VERSION' };
    const goStarts = 2 * startMs(join(REFERENCE_PLUGINS, 'ptp'), [], versionEnv) + 2 * startMs(join(REFERENCE_PLUGINS, 'host-local'), [], versionEnv);
    const floor = r - goStarts + 2 * nodeStart;
    rows.push({ name: 'Go plugin starts in the ptp + host-local cycle (4 CNI VERSION calls)', value: goStarts, unit: 'ms' });
    rows.push({ name: 'floor of a one-Node-process-per-invocation plugin (ptp cycle - Go starts + 2 node starts)', value: floor, unit: 'ms', baseline: r, ratio: floor / r });
    context.log(`cni: floor for one Node process per invocation ${floor.toFixed(1)} ms = ${(floor / r).toFixed(2)}x the ptp cycle`);
    return rows;
  } finally {
    server?.kill('SIGKILL');
    await ds.close();
    await inside.stop();
    await host.close();
    await relayed.close();
    await etcd.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
};

export default bench;
