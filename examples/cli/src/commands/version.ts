/** `calicoctl version [--client]`. */
import { ResourceNotFoundError } from '@libcalico-ts/api';
import { flag, flagSet, parseArgs } from '../args.js';
import { connect } from '../connect.js';
import { CommandError, type CliIO } from '../io.js';
import { CLI_GIT_COMMIT, CLI_VERSION } from '../version.js';
import { messageOf } from './resources.js';

export async function versionCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(argv, [{ name: 'config', short: 'c' }, { name: 'client', type: 'boolean' }, { name: 'allow-version-mismatch', type: 'boolean' }, { name: 'poll' }]);
  io.stdout(`Client Version:    ${CLI_VERSION}\nGit commit:        ${CLI_GIT_COMMIT}\n`);
  if (flagSet(parsed, 'client')) return 0;
  let connection;
  try {
    connection = await connect({ configPath: flag(parsed, 'config'), env: io.env });
  } catch {
    io.stdout('Unable to detect installed Calico version\n');
    return 0;
  }
  try {
    const ci = await connection.client.clusterInformations.get('default');
    const spec = (ci.spec ?? {}) as { calicoVersion?: string; clusterType?: string };
    io.stdout(`Cluster Version:   ${spec.calicoVersion || 'unknown'}\nCluster Type:      ${spec.clusterType || 'unknown'}\n`);
    return 0;
  } catch (error) {
    if (ResourceNotFoundError.isInstance(error) || error instanceof Error) {
      throw new CommandError(`Unable to retrieve Cluster Version or Type: ${messageOf(error)}`);
    }
    throw error;
  } finally {
    await connection.finish();
  }
}
