/**
 * Where the CLI's datastore comes from, as calicoctl decides it: a `CalicoAPIConfig` file
 * (`--config`, default `/etc/calico/calicoctl.cfg` when it exists), else the environment
 * (`DATASTORE_TYPE`, `ETCD_ENDPOINTS`, `ETCD_*_FILE`, `KUBECONFIG`, each also as `CALICO_<NAME>`).
 *
 * Our extension: `DATASTORE_TYPE=memory` runs on the in-memory datastore, loaded from the
 * snapshot file named by `CALICO_MEMORY_SNAPSHOT` (absent file = empty datastore) and saved back
 * to it after a command that changed something.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { DatastoreError } from '@libcalico-ts/api';
import {
  calicoAPIConfigFromEnv,
  createClient,
  createDatastoreFromConfig,
  parseCalicoAPIConfig,
  type CalicoAPIConfig,
  type Client,
} from '@libcalico-ts/client';
import { createMemoryDatastore, type MemoryDatastore } from '@libcalico-ts/datastore';

/** calicoctl's default configuration file. */
export const DEFAULT_CONFIG_PATH = '/etc/calico/calicoctl.cfg';

/** A connected client and what to do when the command ends. */
export interface Connection {
  readonly client: Client;
  /** `memory`, `etcdv3` or `kubernetes`. */
  readonly datastoreType: string;
  /** Saves the memory snapshot if the command changed the datastore (no-op otherwise). */
  finish(): Promise<void>;
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** `--config` value; undefined = the default path when it exists. */
  configPath?: string;
  env?: Readonly<Record<string, string | undefined>>;
}

function envValue(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const prefixed = env[`CALICO_${name}`];
  return prefixed !== undefined && prefixed !== '' ? prefixed : env[name];
}

/** The configuration in effect (file or environment); `null` spec type means memory mode. */
export function loadConfig(options: ConnectOptions = {}): CalicoAPIConfig | { memory: true; snapshotPath?: string } {
  const env = options.env ?? process.env;
  const path = options.configPath ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
  if (path !== undefined) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new DatastoreError(`cannot read the configuration file ${path}: ${(error as Error).message}`, { cause: error });
    }
    return parseCalicoAPIConfig(text, path);
  }
  if ((envValue(env, 'DATASTORE_TYPE') ?? '').toLowerCase() === 'memory') {
    const snapshotPath = envValue(env, 'MEMORY_SNAPSHOT');
    return { memory: true, ...(snapshotPath ? { snapshotPath } : {}) };
  }
  return calicoAPIConfigFromEnv(env);
}

/**
 * Connects as calicoctl would. The memory snapshot is read here and written by `finish()` only
 * when its content changed, through a temporary file and a rename (never half-written).
 *
 * @throws ParseError / ValidationError for a bad configuration or snapshot; DatastoreError when
 *   the configuration file cannot be read.
 */
export async function connect(options: ConnectOptions = {}): Promise<Connection> {
  const config = loadConfig(options);
  if ('memory' in config) {
    const path = config.snapshotPath;
    const initial = path && existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    const datastore: MemoryDatastore = createMemoryDatastore(initial !== undefined && initial.trim() !== '' ? { snapshot: initial } : {});
    const before = datastore.snapshot();
    const client = createClient({ datastore, poolDeletionDelayMs: 0 });
    return {
      client,
      datastoreType: 'memory',
      async finish() {
        const after = datastore.snapshot();
        if (path && after !== before) {
          const tmp = `${path}.tmp-${process.pid}`;
          writeFileSync(tmp, after);
          renameSync(tmp, path);
        }
        await client.close();
      },
    };
  }
  const { datastore, cleanup } = await createDatastoreFromConfig(config, { env: options.env ?? process.env });
  const client = createClient({ datastore });
  return {
    client,
    datastoreType: config.spec.datastoreType ?? 'kubernetes',
    async finish() {
      try {
        await client.close();
      } finally {
        await cleanup();
      }
    },
  };
}
