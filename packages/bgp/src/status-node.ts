/**
 * `@libcalico-ts/bgp/status`: BIRD status over a Unix control socket, for Node.js.
 * (The package root stays free of Node built-ins; this entry adds `node:net`.)
 */
import { connect } from 'node:net';
import { queryBird, readBirdPeers } from './status.js';
import type { BirdConnection, BirdFamilyStatus, BirdPeerStatus, QueryBirdOptions } from './status.js';

export * from './status.js';

/** Default socket paths calico-node uses, then those of a stock BIRD install. */
export const DEFAULT_BIRD_SOCKETS = {
  4: ['/var/run/calico/bird.ctl', '/var/run/bird/bird.ctl'],
  6: ['/var/run/calico/bird6.ctl', '/var/run/bird/bird6.ctl'],
} as const;

/** Opens a BIRD control socket (a Unix socket path). */
export function connectBirdSocket(path: string): BirdConnection {
  return connect(path);
}

/** Runs one BIRD command on the socket at `path` and returns the raw reply. */
export function queryBirdSocket(path: string, command: string, options?: QueryBirdOptions): Promise<string> {
  return queryBird(connectBirdSocket(path), command, options);
}

/**
 * The peers of the BIRD daemon listening on `path` (`show protocols`), as calicoctl shows them.
 * @throws DatastoreUnavailableError when the socket cannot be reached or BIRD does not answer.
 */
export function readBirdPeersFromSocket(path: string, family: 4 | 6, options?: QueryBirdOptions): Promise<BirdPeerStatus[]> {
  return readBirdPeers(connectBirdSocket(path), family, options);
}

/**
 * Status of one family for {@link formatNodeStatus}: tries each socket path in turn (like
 * calicoctl: `/var/run/calico/birdN.ctl`, then `/var/run/bird/birdN.ctl`) and reports the error
 * of the last one if none answers.
 */
export async function birdFamilyStatus(
  family: 4 | 6,
  paths: readonly string[] = DEFAULT_BIRD_SOCKETS[family],
  options?: QueryBirdOptions,
): Promise<BirdFamilyStatus> {
  let last = 'no socket path given';
  for (const path of paths) {
    try {
      return { peers: await readBirdPeersFromSocket(path, family, options) };
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
  }
  return { error: last };
}
