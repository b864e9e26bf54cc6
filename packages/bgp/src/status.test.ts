import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { DatastoreUnavailableError, ParseError } from '@libcalico-ts/api';
import {
  birdPeersFromProtocols,
  formatBirdPeerTable,
  formatNodeStatus,
  parseBirdProtocols,
  parseBirdReply,
  queryBird,
  readBirdPeers,
} from './status.js';
import type { BirdConnection } from './status.js';

// Calico's BIRD 1.x (calico-node), as calicoctl reads it.
const BIRD1 = [
  '2002-name     proto    table    state  since       info',
  '1002-kernel1  Kernel   master   up     04:01:16    ',
  ' device1  Device   master   up     04:01:16    ',
  ' direct1  Direct   master   up     04:01:16    ',
  ' Mesh_192_168_3_144 BGP      master   up     04:01:17    Established   ',
  ' Mesh_192_168_3_145 BGP      master   up     12:12:55    Established   ',
  ' Mesh_192_168_3_146 BGP      master   up     04:01:17    Established   ',
  ' Global_10_0_0_9_port_150 BGP      master   start  04:01:17    Active        Socket: Connection refused',
  ' static1  Static   master   up     04:01:16    ',
  '0000 ',
  '',
].join('\n');

// Stock BIRD 2.0 (capitalised headings, `---` table, ms times, dates for old changes).
const BIRD2 = [
  '2002-Name       Proto      Table      State  Since         Info',
  '1002-device1    Device     ---        up     2026-03-01 10:00:00  ',
  ' direct1    Direct     ---        up     10:00:00.123  ',
  ' Node_fd5f__3 BGP        ---        up     10:00:02.456  Established   ',
  ' Local_Workload_fd00__1 BGP        ---        start  10:00:02.456  Idle   ',
  '0000 ',
  '',
].join('\n');

describe('BIRD reply parsing', () => {
  it('splits codes and continuation lines, and spots the final line', () => {
    const r = parseBirdReply('0001 BIRD 2.0.12 ready.\n');
    assert.deepEqual(r, { lines: [{ code: '0001', text: 'BIRD 2.0.12 ready.' }], complete: true });
    const partial = parseBirdReply('2002-Name Proto\n1002-a b\n');
    assert.equal(partial.complete, false);
    assert.throws(() => parseBirdReply('garbage\n'), (e: unknown) => ParseError.isInstance(e));
  });

  it('reads BIRD 1.x show protocols', () => {
    const rows = parseBirdProtocols(BIRD1);
    assert.equal(rows.length, 8);
    assert.deepEqual(rows[6], {
      name: 'Global_10_0_0_9_port_150',
      proto: 'BGP',
      table: 'master',
      state: 'start',
      since: '04:01:17',
      info: 'Active Socket: Connection refused',
    });
  });

  it('reads BIRD 2 show protocols, keeping two-word dates together', () => {
    const rows = parseBirdProtocols(BIRD2);
    assert.deepEqual(rows[0], { name: 'device1', proto: 'Device', table: '---', state: 'up', since: '2026-03-01 10:00:00', info: '' });
    assert.equal(rows[2]!.info, 'Established');
  });

  it('rejects unknown headings and BIRD errors', () => {
    assert.throws(() => parseBirdProtocols('2002-foo bar\n0000 \n'), /unknown BIRD table output format/);
    assert.throws(() => parseBirdProtocols('9001 syntax error\n'), (e: unknown) => ParseError.isInstance(e));
  });
});

describe('calicoctl node status table', () => {
  it('keeps only Mesh/Global/Node BGP protocols and rebuilds addresses like calicoctl', () => {
    const v4 = birdPeersFromProtocols(parseBirdProtocols(BIRD1), 4);
    assert.deepEqual(
      v4.map((p) => [p.peerAddress, p.peerType, p.state, p.info]),
      [
        ['192.168.3.144', 'node-to-node mesh', 'up', 'Established'],
        ['192.168.3.145', 'node-to-node mesh', 'up', 'Established'],
        ['192.168.3.146', 'node-to-node mesh', 'up', 'Established'],
        ['10.0.0.9.port.150', 'global', 'start', 'Active Socket: Connection refused'],
      ],
    );
    const v6 = birdPeersFromProtocols(parseBirdProtocols(BIRD2), 6);
    assert.deepEqual(v6.map((p) => [p.peerAddress, p.peerType]), [['fd5f::3', 'node specific']]);
  });

  it('prints exactly the table of the seed document', () => {
    const peers = birdPeersFromProtocols(parseBirdProtocols(BIRD1), 4).slice(0, 3);
    const expected = [
      'Calico process is running.',
      '',
      'IPv4 BGP status',
      '+---------------+-------------------+-------+----------+-------------+',
      '| PEER ADDRESS  |     PEER TYPE     | STATE |  SINCE   |    INFO     |',
      '+---------------+-------------------+-------+----------+-------------+',
      '| 192.168.3.144 | node-to-node mesh | up    | 04:01:17 | Established |',
      '| 192.168.3.145 | node-to-node mesh | up    | 12:12:55 | Established |',
      '| 192.168.3.146 | node-to-node mesh | up    | 04:01:17 | Established |',
      '+---------------+-------------------+-------+----------+-------------+',
      '',
      'IPv6 BGP status',
      'No IPv6 peers found.',
      '', // calicoctl ends with an empty line
      '',
    ].join('\n');
    assert.equal(formatNodeStatus({ ipv4: { peers }, ipv6: { peers: [] } }), expected);
  });

  it('sizes columns to the widest cell (second seed)', () => {
    const table = formatBirdPeerTable([
      { peerAddress: '10.80.84.49', peerType: 'node-to-node mesh', state: 'up', since: '07:12:52', info: 'Established', protocolName: 'Mesh_10_80_84_49' },
    ]);
    assert.equal(
      table,
      [
        '+--------------+-------------------+-------+----------+-------------+',
        '| PEER ADDRESS |     PEER TYPE     | STATE |  SINCE   |    INFO     |',
        '+--------------+-------------------+-------+----------+-------------+',
        '| 10.80.84.49  | node-to-node mesh | up    | 07:12:52 | Established |',
        '+--------------+-------------------+-------+----------+-------------+',
        '',
      ].join('\n'),
    );
  });

  it('reports a BIRD that is not running or cannot be reached', () => {
    const text = formatNodeStatus({ ipv4: { error: 'connect ENOENT' }, ipv6: { notRunning: true } });
    assert.match(text, /IPv4 BGP status\nError querying BIRD: unable to connect to BIRDv4 socket: connect ENOENT/);
    assert.match(text, /INFO: BIRDv6 process: 'bird6' is not running\./);
  });
});

/** A scripted BIRD control connection. */
class FakeBird extends EventEmitter implements BirdConnection {
  written: string[] = [];
  ended = false;
  constructor(private readonly replies: (command: string) => string[], greeting = '0001 BIRD 2.0.12 ready.\n') {
    super();
    setImmediate(() => this.emit('data', new TextEncoder().encode(greeting)));
  }
  write(data: string) {
    this.written.push(data);
    const chunks = this.replies(data);
    chunks.forEach((c, i) => setTimeout(() => this.emit('data', c), i));
    return true;
  }
  end() {
    this.ended = true;
  }
}

describe('queryBird over an injected connection', () => {
  it('waits for the greeting, sends the command and assembles a reply split across chunks', async () => {
    const half = Math.floor(BIRD1.length / 2);
    const conn = new FakeBird(() => [BIRD1.slice(0, half), BIRD1.slice(half)]);
    const peers = await readBirdPeers(conn, 4);
    assert.deepEqual(conn.written, ['show protocols\n']);
    assert.equal(peers.length, 4);
    assert.ok(conn.ended);
  });

  it('times out with DatastoreUnavailableError when BIRD stays silent', async () => {
    const conn = new FakeBird(() => []);
    await assert.rejects(queryBird(conn, 'show protocols', { timeoutMs: 50 }), (e: unknown) => DatastoreUnavailableError.isInstance(e));
    assert.ok(conn.ended);
  });

  it('fails on socket errors and early close', async () => {
    const conn = new FakeBird(() => []);
    setTimeout(() => conn.emit('error', new Error('ECONNREFUSED')), 5);
    await assert.rejects(queryBird(conn, 'show protocols'), /ECONNREFUSED/);
    const closing = new FakeBird(() => []);
    setTimeout(() => closing.emit('close'), 5);
    await assert.rejects(queryBird(closing, 'show protocols'), /closed the control connection/);
  });

  it('rejects a peer that does not greet like BIRD', async () => {
    const conn = new FakeBird(() => [], '8000 go away\n');
    await assert.rejects(queryBird(conn, 'show protocols'), /unexpected BIRD greeting/);
  });
});
