/**
 * The command dispatcher of the example `calicoctl`: parses the global options, runs one
 * command and turns its failure into calicoctl's message and exit code (1).
 */
import { CalicoError } from '@libcalico-ts/api';
import { UsageError } from './args.js';
import { ipamCommand } from './commands/ipam.js';
import { nodeCommand } from './commands/node.js';
import { getCommand, messageOf, resourceCommand } from './commands/resources.js';
import { versionCommand } from './commands/version.js';
import { CommandError, processIO, type CliIO } from './io.js';

/** The top-level usage text. */
export const USAGE = `Usage:
  calicoctl [options] <command> [<args>...]

    create       Create a resource by file, directory or stdin.
    replace      Replace a resource by file, directory or stdin.
    apply        Apply a resource by file, directory or stdin.  This creates a resource
                 if it does not exist, and replaces a resource if it does exists.
    delete       Delete a resource identified by file, directory, stdin or resource type and
                 name.
    get          Get a resource identified by file, directory, stdin or resource type and
                 name.
    ipam         IP address management (show, check, release, configure; pin, unpin, owner).
    node         Calico node management (status).
    version      Display the version of this binary.

Options:
  -h --help                    Show this screen.
  -l --log-level=<level>       Accepted for compatibility (panic, fatal, error, warn, info, debug).

Datastore: --config FILE (CalicoAPIConfig; default /etc/calico/calicoctl.cfg when present), else
DATASTORE_TYPE (etcdv3 | kubernetes | memory), ETCD_ENDPOINTS, ETCD_{KEY,CERT,CA_CERT}_FILE,
KUBECONFIG. DATASTORE_TYPE=memory with CALICO_MEMORY_SNAPSHOT=FILE is this SDK's in-memory mode.
`;

const LOG_LEVELS = new Set(['panic', 'fatal', 'error', 'warn', 'warning', 'info', 'debug', 'trace']);

/**
 * Runs one calicoctl command line (without the program name) and returns the exit code.
 * Output goes to `io` (default: the process's streams).
 *
 * @example
 * ```ts
 * const io = memoryIO({ DATASTORE_TYPE: 'memory', CALICO_MEMORY_SNAPSHOT: '/tmp/snap.json' });
 * const code = await runCli(['get', 'ippool', '-o', 'wide'], io);
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const args = [...argv];
  // Global options before the command.
  while (args.length > 0 && args[0]!.startsWith('-')) {
    const a = args.shift()!;
    if (a === '-h' || a === '--help') {
      io.stdout(USAGE);
      return 0;
    }
    let level: string | undefined;
    if (a === '-l' || a === '--log-level') level = args.shift();
    else if (a.startsWith('--log-level=')) level = a.slice('--log-level='.length);
    else if (a.startsWith('-l') && a.length > 2) level = a.slice(2);
    else if (a === '--allow-version-mismatch') continue;
    else if (a.startsWith('--context')) {
      if (a === '--context') args.shift();
      continue;
    } else {
      io.stdout(`Invalid option: '${argv.join(' ')}'. Use flag '--help' to read about a specific subcommand.\n`);
      return 1;
    }
    if (level === undefined || !LOG_LEVELS.has(level)) {
      io.stdout(`Unknown log level: ${level ?? ''}, expected one of: \npanic, fatal, error, warn, info, debug.\n`);
      return 1;
    }
  }
  const [command, ...rest] = args;
  if (command === undefined) {
    io.stdout(USAGE);
    return 1;
  }
  try {
    if (rest.includes('-h') || rest.includes('--help')) {
      io.stdout(USAGE);
      return 0;
    }
    switch (command) {
      case 'create':
      case 'apply':
      case 'replace':
      case 'delete':
        return await resourceCommand(command, rest, io);
      case 'get':
        return await getCommand(rest, io);
      case 'ipam':
        return await ipamCommand(rest, io);
      case 'node':
        return await nodeCommand(rest, io);
      case 'version':
        return await versionCommand(rest, io);
      default:
        io.stderr(`Unknown command: ${JSON.stringify(command)}\n${USAGE}`);
        return 1;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stdout(`Invalid option: 'calicoctl ${argv.join(' ')}'. Use flag '--help' to read about a specific subcommand.\n`);
      io.stderr(`${error.message}\n`);
      return 1;
    }
    if (error instanceof CommandError) {
      (error.toStdout ? io.stdout : io.stderr)(`${error.message}\n`);
      return 1;
    }
    if (CalicoError.isInstance(error)) {
      io.stderr(`${messageOf(error)}\n`);
      return 1;
    }
    io.stderr(`Unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}
