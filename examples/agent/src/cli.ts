/**
 * Command line of `calico-agent`:
 *
 * ```
 * calico-agent run    --node NAME [--config FILE] [--netns NAME] [--ip CIDR] [--backend bird|vxlan|none]
 *                     [--bird-dir DIR] [--bird-socket PATH] [--dialect calico|bird2]
 *                     [--metrics-address HOST:PORT|none] [--calico-version v3.N] [--no-iptables]
 *                     [--resync-interval SECONDS] [--secrets-dir DIR] [--log-level debug|info|warn|error]
 *                     [--cni-socket PATH]
 * calico-agent routes --node NAME [--config FILE] [--netns NAME] [--backend ...] [--calico-version v3.N] [--parent-device DEV]
 * calico-agent bird   --node NAME --out DIR --onetime [--dialect calico|bird2] [--config FILE] [--secrets-dir DIR]
 * ```
 */
import { ValidationError } from '@libcalico-ts/api';
import { LOG_LEVELS, type LogLevel } from './log.js';
import type { NetworkingBackend } from './agent.js';

/** The usage text printed by `--help` and with argument errors. */
export const USAGE = `Usage:
  calico-agent run    --node NAME [options]   watch the datastore and program this node
  calico-agent routes --node NAME [options]   print the computed route table (ip route form); program nothing
  calico-agent bird   --node NAME --out DIR --onetime [--dialect calico|bird2] [--secrets-dir DIR]
                                              write the BIRD files once and exit (confd -onetime)

Datastore (as calicoctl): DATASTORE_TYPE=etcdv3|kubernetes, ETCD_ENDPOINTS, ETCD_*_FILE, KUBECONFIG,
  or --config FILE (a CalicoAPIConfig). The node name defaults to $NODENAME.

Options:
  --config FILE              CalicoAPIConfig file instead of the environment
  --netns NAME               program network namespace NAME (/run/netns/NAME) instead of the agent's own
  --ip CIDR                  register the node: create/update its Node with spec.bgp.ipv4Address=CIDR
  --backend bird|vxlan|none  networking backend (default bird: BIRD programs unencapsulated routes)
  --bird-dir DIR             where run writes the BIRD files (default: none written)
  --bird-socket PATH         BIRD control socket reloaded with 'birdc configure' after changes
  --dialect calico|bird2     BIRD syntax: calico (BIRD 1.x fork, default) or bird2 (stock BIRD 2)
  --metrics-address H:P      /metrics and /healthz (default 127.0.0.1:9091; 'none' disables)
  --calico-version v3.N      Calico release whose route layout to reproduce (default: routes package default)
  --parent-device DEV        device carrying the node address (default: detected)
  --no-iptables              do not program NAT-outgoing rules
  --resync-interval SECONDS  full re-check period (default 90; 0 disables)
  --secrets-dir DIR          BGP passwords from files DIR/<secret-name>/<key> (a Secret volume mount);
                             default with DATASTORE_TYPE=kubernetes: the Secrets in $NAMESPACE
                             (default kube-system) through the Kubernetes API
  --cni-socket PATH          also serve the CNI plugins on this unix socket (thick-plugin mode of
                             examples/cni; the agent must run in the host namespace: no --netns)
  --log-level LEVEL          debug, info (default), warn, error
  --out DIR, --onetime       see 'bird'
  -h, --help                 this text
`;

export type Command = 'run' | 'routes' | 'bird';

/** Parsed command line. */
export interface CliOptions {
  command: Command;
  node: string;
  config?: string;
  netns?: string;
  ip?: string;
  backend: NetworkingBackend;
  birdDir?: string;
  birdSocket?: string;
  dialect: 'calico' | 'bird2';
  metricsAddress: string | null;
  calicoVersion?: string;
  parentDevice?: string;
  iptables: boolean;
  resyncIntervalMs: number;
  logLevel: LogLevel;
  out?: string;
  onetime: boolean;
  /** `--secrets-dir`: BGP password Secrets as files `DIR/<name>/<key>`. */
  secretsDir?: string;
  /** `--cni-socket`: serve the CNI plugins on this unix socket (`run` only). */
  cniSocket?: string;
}

const VALUE_FLAGS = new Set([
  '--node', '--config', '--netns', '--ip', '--backend', '--bird-dir', '--bird-socket', '--dialect',
  '--metrics-address', '--calico-version', '--parent-device', '--resync-interval', '--log-level', '--out',
  '--secrets-dir', '--cni-socket',
]);

/** Thrown for `--help`: print usage, exit 0. */
export class HelpRequested extends Error {}

/**
 * Parses `argv` (without node and script). Flags take `--flag value` or `--flag=value`.
 * @throws ValidationError naming each bad or missing argument; HelpRequested for -h/--help.
 */
export function parseArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): CliOptions {
  const fields: { name: string; value: unknown; reason: string }[] = [];
  const values = new Map<string, string>();
  const switches = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') throw new HelpRequested(USAGE);
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(0, eq) : arg;
      if (VALUE_FLAGS.has(name)) {
        const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
        if (value === undefined) fields.push({ name, value: undefined, reason: 'needs a value' });
        else values.set(name, value);
      } else if (name === '--onetime' || name === '--no-iptables') {
        switches.add(name);
      } else {
        fields.push({ name: arg, value: arg, reason: 'unknown option' });
      }
    } else positional.push(arg);
  }
  const command = positional[0];
  if (command !== 'run' && command !== 'routes' && command !== 'bird') {
    fields.push({ name: 'command', value: command, reason: 'must be one of run, routes, bird' });
  }
  if (positional.length > 1) fields.push({ name: 'arguments', value: positional.slice(1), reason: 'unexpected extra arguments' });
  const node = values.get('--node') ?? env.NODENAME ?? '';
  if (!node) fields.push({ name: '--node', value: undefined, reason: 'required (or set NODENAME)' });
  else if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(node) || node.length > 253) fields.push({ name: '--node', value: node, reason: 'must be a DNS subdomain name' });
  const backend = values.get('--backend') ?? env.CALICO_NETWORKING_BACKEND ?? 'bird';
  if (!['bird', 'vxlan', 'none'].includes(backend)) fields.push({ name: '--backend', value: backend, reason: 'must be bird, vxlan or none' });
  const dialect = values.get('--dialect') ?? 'calico';
  if (dialect !== 'calico' && dialect !== 'bird2') fields.push({ name: '--dialect', value: dialect, reason: 'must be calico or bird2' });
  const logLevel = values.get('--log-level') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) fields.push({ name: '--log-level', value: logLevel, reason: `must be one of ${LOG_LEVELS.join(', ')}` });
  const resyncText = values.get('--resync-interval') ?? '90';
  const resync = Number(resyncText);
  if (!(Number.isFinite(resync) && resync >= 0)) fields.push({ name: '--resync-interval', value: resyncText, reason: 'must be a number of seconds >= 0' });
  const metrics = values.get('--metrics-address') ?? '127.0.0.1:9091';
  const ip = values.get('--ip');
  if (ip !== undefined && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(ip)) fields.push({ name: '--ip', value: ip, reason: 'must be an IPv4 address with prefix, e.g. 192.168.10.1/24' });
  const version = values.get('--calico-version');
  if (version !== undefined && !/^v?3\.\d+$/.test(version)) fields.push({ name: '--calico-version', value: version, reason: 'must be v3.N' });
  const netns = values.get('--netns');
  if (netns !== undefined && (netns === '' || netns.includes('/') && !netns.startsWith('/'))) fields.push({ name: '--netns', value: netns, reason: 'must be a namespace name or an absolute path' });
  const secretsDir = values.get('--secrets-dir');
  if (secretsDir !== undefined && secretsDir === '') fields.push({ name: '--secrets-dir', value: secretsDir, reason: 'must be a directory path' });
  if (secretsDir !== undefined && command === 'routes') fields.push({ name: '--secrets-dir', value: secretsDir, reason: 'only run and bird use BGP passwords' });
  const cniSocket = values.get('--cni-socket');
  if (cniSocket !== undefined && !cniSocket.startsWith('/')) fields.push({ name: '--cni-socket', value: cniSocket, reason: 'must be an absolute path' });
  if (cniSocket !== undefined && command !== 'run') fields.push({ name: '--cni-socket', value: cniSocket, reason: 'only run serves the CNI plugins' });
  if (cniSocket !== undefined && netns !== undefined) fields.push({ name: '--cni-socket', value: cniSocket, reason: 'the CNI server wires pods in the agent\'s own namespace: not with --netns' });
  if (command === 'bird') {
    if (!values.has('--out')) fields.push({ name: '--out', value: undefined, reason: 'required by bird' });
    if (!switches.has('--onetime')) fields.push({ name: '--onetime', value: undefined, reason: 'bird only runs once (use run to keep the files current)' });
  }
  if (fields.length > 0) throw new ValidationError(fields);
  const out: CliOptions = {
    command: command as Command,
    node,
    backend: backend as NetworkingBackend,
    dialect: dialect as 'calico' | 'bird2',
    metricsAddress: metrics === 'none' || metrics === '' ? null : metrics,
    iptables: !switches.has('--no-iptables'),
    resyncIntervalMs: resync * 1000,
    logLevel: logLevel as LogLevel,
    onetime: switches.has('--onetime'),
  };
  const optional = { config: '--config', netns: '--netns', ip: '--ip', birdDir: '--bird-dir', birdSocket: '--bird-socket', calicoVersion: '--calico-version', parentDevice: '--parent-device', out: '--out', secretsDir: '--secrets-dir', cniSocket: '--cni-socket' } as const;
  for (const [field, flag] of Object.entries(optional)) {
    const value = values.get(flag);
    if (value !== undefined) (out as unknown as Record<string, string>)[field] = value;
  }
  return out;
}
