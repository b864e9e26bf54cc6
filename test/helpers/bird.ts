/**
 * Test helpers for real BIRD 2 daemons (Debian `bird2`): config parsing with `bird -p`,
 * throwaway network namespaces joined by a veth pair, and daemons started inside them with their
 * own control socket and pid file. Everything created here is removed by the matching cleanup
 * call; nothing touches the host's own links, routes or sysctls.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const BIRD_BIN = process.env.BIRD_BIN ?? '/usr/sbin/bird';
export const BIRDC_BIN = process.env.BIRDC_BIN ?? '/usr/sbin/birdc';

/** Fails loudly (unless `LIBCALICO_TS_SKIP_BIRD` is set) when BIRD is not installed. */
export function birdAvailable(): boolean {
  if (existsSync(BIRD_BIN)) return true;
  if (process.env.LIBCALICO_TS_SKIP_BIRD) return false;
  throw new Error(`BIRD not found at ${BIRD_BIN}: install Debian bird2 (or set LIBCALICO_TS_SKIP_BIRD=1 to skip)`);
}

/** Writes `files` to a fresh temp dir and returns its path. */
export function writeConfigDir(files: Record<string, string>, prefix = 'lcts-bird-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Runs `bird -p -c <file>`; resolves with '' when the config parses, else BIRD's message. */
export async function birdParse(configFile: string): Promise<string> {
  try {
    await run(BIRD_BIN, ['-p', '-c', configFile]);
    return '';
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    return (e.stderr ?? '').trim() || e.message;
  }
}

/** Two network namespaces joined by a veth pair, with an address on each end. */
export interface NetnsPair {
  names: [string, string];
  links: [string, string];
  addresses: [string, string];
  /** Deletes both namespaces (the veth goes with them). Safe to call twice. */
  destroy(): Promise<void>;
}

async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run('ip', args);
  return stdout;
}

/**
 * Creates two namespaces `<prefix>-a` / `<prefix>-b`, a veth between them, and brings up
 * `cidrA` / `cidrB` (e.g. `10.99.0.1/24`, `10.99.0.2/24`) and loopback in each.
 */
export async function createNetnsPair(prefix: string, cidrA: string, cidrB: string): Promise<NetnsPair> {
  const names: [string, string] = [`${prefix}-a`, `${prefix}-b`];
  const links: [string, string] = ['veth-a', 'veth-b'];
  let destroyed = false;
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    for (const n of names) await ip('netns', 'del', n).catch(() => undefined);
  };
  try {
    for (const n of names) await ip('netns', 'add', n);
    await ip('-n', names[0], 'link', 'add', links[0], 'type', 'veth', 'peer', 'name', links[1], 'netns', names[1]);
    const cidrs = [cidrA, cidrB];
    for (let i = 0; i < 2; i++) {
      await ip('-n', names[i]!, 'link', 'set', 'lo', 'up');
      await ip('-n', names[i]!, 'addr', 'add', cidrs[i]!, 'dev', links[i]!);
      await ip('-n', names[i]!, 'link', 'set', links[i]!, 'up');
    }
  } catch (error) {
    await destroy();
    throw error;
  }
  return { names, links, addresses: [cidrA.split('/')[0]!, cidrB.split('/')[0]!], destroy };
}

/** A BIRD daemon started by {@link startBird}. */
export interface BirdDaemon {
  socket: string;
  pidFile: string;
  configDir: string;
  process: ChildProcess;
  /** Output BIRD wrote so far (stderr + stdout). */
  output(): string;
  /** Kills the daemon (SIGTERM, then SIGKILL) and removes its temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts `bird -f` on `<configDir>/<mainFile>` inside network namespace `netns`, with its own
 * control socket and pid file in `configDir`, and waits until the socket answers.
 */
export async function startBird(options: { netns: string; configDir: string; mainFile?: string; timeoutMs?: number }): Promise<BirdDaemon> {
  const socket = join(options.configDir, 'bird.ctl');
  const pidFile = join(options.configDir, 'bird.pid');
  const child = spawn(
    'ip',
    ['netns', 'exec', options.netns, BIRD_BIN, '-f', '-c', join(options.configDir, options.mainFile ?? 'bird.cfg'), '-s', socket, '-P', pidFile],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => child.on('exit', () => ((exited = true), resolve())));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exitPromise;
      clearTimeout(timer);
    }
    rmSync(options.configDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (options.timeoutMs ?? 5000);
  while (!existsSync(socket)) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`BIRD did not start in ${options.netns}: ${out.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { socket, pidFile, configDir: options.configDir, process: child, output: () => out, stop };
}

/** Runs `birdc -s <socket> <command...>` and returns its output. */
export async function birdc(socket: string, ...command: string[]): Promise<string> {
  const { stdout } = await run(BIRDC_BIN, ['-s', socket, ...command]);
  return stdout;
}

/** Polls `check` every 200 ms until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(check: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
