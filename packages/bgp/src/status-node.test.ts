import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { birdFamilyStatus, formatNodeStatus, queryBirdSocket, readBirdPeersFromSocket } from './status-node.js';

const dir = mkdtempSync(join(tmpdir(), 'lcts-birdsock-'));
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A Unix socket that answers like BIRD's control socket. */
async function fakeBird(name: string, rows: string[]): Promise<string> {
  const path = join(dir, name);
  const server = createServer((sock) => {
    sock.write('0001 BIRD 2.0.12 ready.\n');
    sock.on('data', (d) => {
      if (d.toString() === 'show protocols\n') {
        sock.write(['2002-Name       Proto      Table      State  Since         Info', ...rows, '0000 ', ''].join('\n'));
      } else sock.write('9001 syntax error\n');
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return path;
}

describe('@libcalico-ts/bgp/status over a Unix socket', () => {
  it('reads peers from a BIRD-like control socket', async () => {
    const path = await fakeBird('bird.ctl', ['1002-Mesh_10_0_0_2 BGP        ---        up     10:00:02.456  Established   ']);
    const peers = await readBirdPeersFromSocket(path, 4);
    assert.deepEqual(peers.map((p) => [p.peerAddress, p.peerType, p.info]), [['10.0.0.2', 'node-to-node mesh', 'Established']]);
    assert.match(await queryBirdSocket(path, 'bogus'), /^9001 syntax error/);
  });

  it('falls back through socket paths like calicoctl, and reports the last error', async () => {
    const path = await fakeBird('bird6.ctl', []);
    const ok = await birdFamilyStatus(6, [join(dir, 'missing.ctl'), path]);
    assert.deepEqual(ok, { peers: [] });
    const bad = await birdFamilyStatus(4, [join(dir, 'missing.ctl')]);
    assert.ok('error' in bad && /ENOENT/.test(bad.error));
    assert.match(formatNodeStatus({ ipv4: bad, ipv6: ok }), /No IPv6 peers found\./);
  });
});
