/**
 * `calicoctl node status`: is a Calico agent running on this host, and what do the BIRD
 * daemons say about their BGP peers (through `@libcalico-ts/bgp/status`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DEFAULT_BIRD_SOCKETS, birdFamilyStatus, formatNodeStatus } from '@libcalico-ts/bgp/status';
import { parseArgs, flag } from '../args.js';
import { CommandError, type CliIO } from '../io.js';

/** The argument vectors of the processes visible under `procRoot` (default `/proc`). */
export function processCommandLines(procRoot = '/proc'): string[][] {
  const out: string[][] = [];
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const raw = readFileSync(join(procRoot, entry, 'cmdline'), 'utf8');
      const argv = raw.split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
      if (argv.length > 0) out.push(argv);
    } catch {
      // The process ended meanwhile, or is not readable.
    }
  }
  return out;
}

/** calicoctl's process match: the first arguments equal `prefix` (the program compared by its base name). */
function running(processes: readonly string[][], ...prefixes: string[][]): boolean {
  return processes.some((argv) => prefixes.some((prefix) => prefix.every((p, i) => (i === 0 ? basename(argv[0] ?? '') === p : argv[i] === p))));
}

/**
 * Runs `node status`. Felix is "running" when a process is `calico-felix`, `calico-node -felix`,
 * or our agent `calico-agent run`. Extensions: `--bird-socket` / `--bird6-socket` choose the
 * control sockets; `CALICOCTL_PROC_ROOT` replaces `/proc` (for tests).
 */
export async function nodeCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'status') throw new CommandError(`Invalid option: 'calicoctl node ${argv.join(' ')}'. Use flag '--help' to read about a specific subcommand.`);
  const parsed = parseArgs(rest, [{ name: 'allow-version-mismatch', type: 'boolean' }, { name: 'bird-socket' }, { name: 'bird6-socket' }]);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new CommandError('This command must be run as root.');
  const processes = processCommandLines(io.env.CALICOCTL_PROC_ROOT || '/proc');
  if (!running(processes, ['calico-felix'], ['calico-node', '-felix'], ['calico-agent', 'run'])) {
    throw new CommandError('Calico process is not running.');
  }
  const bird4 = running(processes, ['bird']);
  const bird6 = running(processes, ['bird6']);
  if (!bird4 && !bird6) {
    io.stdout('Calico process is running.\n\nThe BGP backend process (BIRD) is not running.\n\n');
    return 0;
  }
  const socket4 = flag(parsed, 'bird-socket');
  const socket6 = flag(parsed, 'bird6-socket');
  const ipv4 = bird4 ? await birdFamilyStatus(4, socket4 ? [socket4] : DEFAULT_BIRD_SOCKETS[4]) : ({ notRunning: true } as const);
  const ipv6 = bird6 ? await birdFamilyStatus(6, socket6 ? [socket6] : DEFAULT_BIRD_SOCKETS[6]) : ({ notRunning: true } as const);
  const text = formatNodeStatus({ ipv4, ipv6 });
  io.stdout(text);
  return 'error' in ipv4 || 'error' in ipv6 ? 1 : 0;
}
