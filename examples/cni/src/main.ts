/**
 * The protocol driver shared by both binaries: reads the environment and stdin, dispatches the
 * command, prints the result or the CNI error JSON, and sets the exit status (0 / 1).
 */
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { CniCode, CniError, errorJson, parseStdin, printResult, readEnv, versionInfo, type BaseNetConf, type CniEnv } from './cni.js';
import { openBackend } from './backend.js';
import { calicoFailure, ipamAdd, ipamDel, ipamGc, type IpamOwner } from './ipam.js';
import { Logger } from './log.js';
import { gatewayRequestCount } from '@libcalico-ts/datastore-etcd/gateway';
import { parseNetConf, resolveNodename } from './netconf.js';
import { cmdAdd, cmdCheck, cmdDel, cmdGc, cmdStatus, identifiers } from './plugin.js';

/** Which binary is running. */
export type PluginName = 'calico' | 'calico-ipam';

/**
 * Reads all of stdin. A synchronous read of fd 0 first: creating `process.stdin` costs a few ms of
 * stream set-up in a short-lived process. Falls back to the stream when fd 0 is non-blocking.
 */
function readStdin(): Promise<string> {
  try {
    return Promise.resolve(readFileSync(0, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

/** calico-ipam's own commands (§8.2, §11). */
async function ipamCommand(base: BaseNetConf, env: CniEnv, log: Logger): Promise<string> {
  const conf = parseNetConf(base);
  log.setLevel(conf.logLevel, conf.logFilePath);
  const nodename = resolveNodename(conf, osHostname);
  if (env.command === 'CHECK') return '';
  const backend = await openBackend(conf, env.vars);
  try {
    if (env.command === 'STATUS') {
      await backend.datastore.listKV({ type: 'resource', kind: 'IPPool' }).catch((error: unknown) => {
        throw new CniError(CniCode.PluginNotAvailable, `plugin not available: ${(error as Error).message}`);
      });
      return '';
    }
    if (env.command === 'GC') {
      await ipamGc(backend.datastore, conf, nodename, new Set((conf.validAttachments ?? []).map((a) => a.containerID)));
      return '';
    }
    const ids = identifiers(env, nodename);
    const owner: IpamOwner = { nodename, containerId: env.containerId };
    if (ids.pod !== undefined) {
      owner.pod = ids.pod;
      owner.namespace = ids.namespace;
    }
    if (env.command === 'DEL') {
      await ipamDel(backend.datastore, conf, owner);
      return '';
    }
    const result = await ipamAdd(backend.datastore, conf, owner, env.args.IP ? { ip: env.args.IP } : {});
    return printResult(result, conf.cniVersion);
  } finally {
    await backend.datastore.close();
  }
}

async function dispatch(plugin: PluginName, vars: NodeJS.ProcessEnv, stdin: () => Promise<string>, log: Logger, state: { version: string }): Promise<{ out: string; version: string }> {
  const env = readEnv(vars);
  if (env.command === 'VERSION') return { out: versionInfo(), version: '' };
  const t = performance.now();
  const base = parseStdin(await stdin(), env.command);
  log.timing('stdin read', t);
  const version = base.cniVersion;
  state.version = version;
  if (plugin === 'calico-ipam') return { out: await ipamCommand(base, env, log), version };
  switch (env.command) {
    case 'ADD':
      return { out: printResult(await cmdAdd(base, env, log), version), version };
    case 'DEL':
      await cmdDel(base, env, log);
      return { out: '', version };
    case 'CHECK':
      await cmdCheck(base, env, log);
      return { out: '', version };
    case 'GC':
      await cmdGc(base, env, log);
      return { out: '', version };
    default:
      await cmdStatus(base, log, vars);
      return { out: '', version };
  }
}

/** Options of {@link run}. */
export interface RunOptions {
  /** How the process started, for the debug timing line (default: the plain bundle). */
  start?: 'bundle' | 'snapshot';
}

/** Outcome of one invocation: what goes to stdout and the exit status. */
export interface Invocation {
  stdout: string;
  exitCode: 0 | 1;
}

/**
 * Runs one CNI invocation of `plugin` with an explicit environment and stdin, without touching
 * this process's streams or exit status; log lines go to `log`. Used by {@link run} and by the
 * CNI server (./server.ts), which runs many invocations in one process.
 */
export async function execute(plugin: PluginName, vars: NodeJS.ProcessEnv, stdin: () => Promise<string>, log: Logger, startup?: string): Promise<Invocation> {
  const state = { version: '' };
  const begin = performance.now();
  try {
    const outcome = await dispatch(plugin, vars, stdin, log, state);
    if (startup) log.debug(startup);
    log.timing('total in process', startup ? 0 : begin);
    log.debug(`etcd gateway requests: ${gatewayRequestCount()}`);
    return { stdout: outcome.out, exitCode: 0 };
  } catch (error) {
    const cni = error instanceof CniError ? error : calicoFailure('', error);
    if (!(error instanceof CniError)) log.error(`${plugin} failed: ${(error as Error)?.stack ?? String(error)}`);
    else log.error(`${plugin} failed: ${cni.message}`);
    return { stdout: errorJson(cni, state.version || '1.1.0'), exitCode: 1 };
  }
}

/** Runs one CNI invocation of `plugin` in this process (environment, stdin, stdout) and sets the exit status. */
export async function run(plugin: PluginName, options: RunOptions = {}): Promise<void> {
  // Milliseconds since the process started: Node's start-up plus loading this bundle.
  const loaded = performance.now();
  const log = new Logger(plugin);
  const startup = `startup (node + ${options.start === 'snapshot' ? 'snapshot restore' : 'bundle load'}): ${loaded.toFixed(1)} ms`;
  const outcome = await execute(plugin, process.env, readStdin, log, startup);
  process.stdout.write(outcome.stdout);
  process.exitCode = outcome.exitCode;
}
