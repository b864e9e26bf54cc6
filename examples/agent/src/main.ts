/**
 * `calico-agent` entry point: parses the command line, builds the client from the environment
 * (or `--config`), and runs one of `run`, `routes`, `bird`.
 */
import { CalicoError, ValidationError } from '@libcalico-ts/api';
import { renderBirdConfig } from '@libcalico-ts/bgp';
import { calicoAPIConfigFromEnv, createClientFromConfig, loadCalicoAPIConfigFile, type CalicoAPIConfig, type Client } from '@libcalico-ts/client';
import { NetlinkClient, openNetns, type NetlinkOps } from '@libcalico-ts/dataplane';
import type { SyncUpdate } from '@libcalico-ts/datastore';
import { computeRoutes, formatIpRoute, type RouteOptions } from '@libcalico-ts/routes';
import { Agent } from './agent.js';
import { writeBirdFiles } from './bird-files.js';
import { AGENT_LISTS, ClusterCache } from './cache.js';
import { HelpRequested, USAGE, parseArgs, type CliOptions } from './cli.js';
import { createLogger, type Logger } from './log.js';
import { parseListenAddress } from './metrics.js';
import { DirectorySecretSource, PasswordResolver, type SecretSource } from './secrets.js';
import { startAgentCniServer, type AgentCniServer } from './cni-server.js';

/** The datastore configuration: `--config FILE`, else the environment (as calicoctl). */
async function loadConfig(options: CliOptions): Promise<CalicoAPIConfig> {
  return options.config ? loadCalicoAPIConfigFile(options.config) : calicoAPIConfigFromEnv();
}

async function makeClient(options: CliOptions, config?: CalicoAPIConfig): Promise<Client> {
  return createClientFromConfig(config ?? (await loadConfig(options)));
}

/**
 * The BGP password source: `--secrets-dir` when given, else the Kubernetes API in Kubernetes
 * datastore mode (through the datastore's kubeconfig), else none.
 * @throws ValidationError when `--secrets-dir` is not a directory.
 */
export async function makeSecretSource(options: Pick<CliOptions, 'secretsDir'>, config: CalicoAPIConfig, log: Logger): Promise<SecretSource | undefined> {
  if (options.secretsDir !== undefined) {
    const { stat } = await import('node:fs/promises');
    const info = await stat(options.secretsDir).catch(() => undefined);
    if (!info?.isDirectory()) throw new ValidationError([{ name: '--secrets-dir', value: options.secretsDir, reason: 'not a directory' }]);
    log.info('BGP passwords from a secrets directory', { dir: options.secretsDir });
    return new DirectorySecretSource(options.secretsDir, { logger: log });
  }
  if (config.spec.datastoreType === 'kubernetes') {
    const { createKubernetesSecretSource } = await import('./secrets-kubernetes.js');
    const source = await createKubernetesSecretSource(config.spec, log);
    log.info('BGP passwords from Kubernetes Secrets', { source: source.description });
    return source;
  }
  return undefined;
}

async function openOps(options: CliOptions): Promise<NetlinkOps> {
  return options.netns ? openNetns(options.netns) : new NetlinkClient();
}

/** Lists every agent list once into a cache (for the one-shot commands). */
export async function loadCache(client: Client, nodeName: string): Promise<ClusterCache> {
  const cache = new ClusterCache(nodeName);
  for (const [listIndex, list] of AGENT_LISTS.entries()) {
    const result = await client.datastore.listKV(list);
    const updates: SyncUpdate[] = result.items.map((pair) => ({ type: 'added', key: pair.key, current: pair, listIndex }));
    cache.apply(updates);
  }
  return cache;
}

function routeOptionsOf(options: CliOptions): RouteOptions {
  return {
    birdEnabled: options.backend === 'bird',
    ...(options.calicoVersion ? { calicoVersion: options.calicoVersion } : {}),
    ...(options.parentDevice ? { parentDevice: options.parentDevice } : {}),
  };
}

/** `routes`: prints the computed table, warnings to stderr. Programs nothing. */
async function routesCommand(options: CliOptions, log: Logger): Promise<number> {
  const client = await makeClient(options);
  try {
    const cache = await loadCache(client, options.node);
    const routeOptions = routeOptionsOf(options);
    if (!routeOptions.parentDevice) {
      // Detect the device carrying the node address when this process can see it (read-only).
      const address = cache.localNode?.spec.bgp?.ipv4Address?.split('/')[0];
      if (address) {
        let ops: NetlinkOps | undefined;
        try {
          ops = await openOps(options);
          const hit = (await ops.listAddresses({ family: 4 })).find((a) => a.address === address);
          if (hit?.link) routeOptions.parentDevice = hit.link;
        } catch (error) {
          log.debug('parent device detection skipped', { error });
        } finally {
          await ops?.close().catch(() => undefined);
        }
      }
    }
    const table = computeRoutes(options.node, cache.snapshot(), routeOptions);
    for (const warning of table.warnings) log.warn(warning.message, { code: warning.code });
    process.stdout.write(table.routes.map((route) => `${formatIpRoute(route)}\n`).join(''));
    return 0;
  } finally {
    await client.close();
  }
}

/** `bird --onetime`: renders and writes the six files, then exits. */
async function birdCommand(options: CliOptions, log: Logger): Promise<number> {
  const config = await loadConfig(options);
  const client = await makeClient(options, config);
  let secrets: SecretSource | undefined;
  try {
    secrets = await makeSecretSource(options, config, log);
    const passwords = new PasswordResolver({ source: secrets, logger: log, ...(process.env.NAMESPACE ? { namespace: process.env.NAMESPACE } : {}) });
    const cache = await loadCache(client, options.node);
    const warnings = new Map<string, { message: string; code: string }>();
    const files = await passwords.render((lookup) =>
      renderBirdConfig({
        nodeName: options.node,
        resources: cache.bgpResources(),
        blockAffinities: cache.localAffinities(),
        dialect: options.dialect,
        secrets: lookup,
        environment: { NAMESPACE: passwords.namespace },
        // (rendering may run twice when secrets had to be read: report each warning once)
        onWarning: (warning) => warnings.set(`${warning.code} ${warning.message}`, warning),
      }),
    );
    for (const warning of warnings.values()) log.warn(warning.message, { code: warning.code });
    const result = await writeBirdFiles(options.out!, files);
    log.info('BIRD files written', { dir: options.out, changed: result.changed, unchanged: result.unchanged });
    return 0;
  } finally {
    await secrets?.close();
    await client.close();
  }
}

/** `run`: the agent until SIGTERM/SIGINT. */
async function runCommand(options: CliOptions, log: Logger): Promise<number> {
  const metricsAddress = options.metricsAddress ? parseListenAddress(options.metricsAddress) : undefined;
  const config = await loadConfig(options);
  const client = await makeClient(options, config);
  let secrets: SecretSource | undefined;
  try {
    secrets = await makeSecretSource(options, config, log);
  } catch (error) {
    await client.close().catch(() => undefined);
    throw error;
  }
  const ops = await openOps(options);
  const agent = new Agent({
    nodeName: options.node,
    client,
    ops,
    ...(options.netns ? { netns: options.netns } : {}),
    logger: log,
    backend: options.backend,
    ...(options.birdDir ? { birdDir: options.birdDir } : {}),
    ...(options.birdSocket ? { birdSocket: options.birdSocket } : {}),
    dialect: options.dialect,
    ...(metricsAddress ? { metricsAddress } : {}),
    routeOptions: routeOptionsOf(options),
    iptables: options.iptables,
    resyncIntervalMs: options.resyncIntervalMs,
    ...(options.ip ? { nodeAddress: options.ip } : {}),
    ...(secrets ? { secrets } : {}),
    ...(process.env.NAMESPACE ? { namespace: process.env.NAMESPACE } : {}),
  });
  let stopping: Promise<void> | undefined;
  let cniServer: AgentCniServer | undefined;
  const shutdown = (signal: string) => {
    if (stopping) return;
    log.info('stopping (routes and devices are left in place)', { signal });
    stopping = (async () => {
      await cniServer?.close().catch((error: unknown) => log.warn('closing the CNI server failed', { error }));
      await agent.stop();
      await secrets?.close().catch(() => undefined);
      await client.close().catch((error) => log.warn('closing the datastore failed', { error }));
      await ops.close().catch(() => undefined);
    })();
  };
  const done = new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        shutdown(signal);
        void stopping!.then(resolve);
      });
    }
  });
  try {
    await agent.start();
    if (options.cniSocket) cniServer = await startAgentCniServer(options.cniSocket, log);
  } catch (error) {
    shutdown('start failure');
    await stopping;
    throw error;
  }
  log.info('agent started', { node: options.node, netns: options.netns ?? '(own)', backend: options.backend });
  await done;
  return 0;
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let options: CliOptions;
  try {
    options = parseArgs(argv);
  } catch (error) {
    if (error instanceof HelpRequested) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (ValidationError.isInstance(error)) {
      for (const field of (error as ValidationError).fields) process.stderr.write(`calico-agent: ${field.name}: ${field.reason}\n`);
      process.stderr.write(`\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  const log = createLogger(options.logLevel);
  try {
    if (options.command === 'routes') return await routesCommand(options, log);
    if (options.command === 'bird') return await birdCommand(options, log);
    return await runCommand(options, log);
  } catch (error) {
    if (ValidationError.isInstance(error)) {
      for (const field of (error as ValidationError).fields) log.error(`${field.name}: ${field.reason}`, { value: field.value });
    } else {
      log.error(error instanceof Error ? error.message : String(error), { kind: CalicoError.isInstance(error) ? (error as Error).name : 'Error' });
    }
    return 1;
  }
}

const isEntry = process.argv[1] !== undefined && /(?:main\.(?:ts|js)|calico-agent)$/.test(process.argv[1]);
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`calico-agent: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
