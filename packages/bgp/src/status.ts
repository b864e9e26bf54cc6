/**
 * BIRD status: the control-socket line protocol and the peer table `calicoctl node status`
 * prints. Everything here is pure: the socket itself is injected ({@link BirdConnection}); the
 * Node.js Unix-socket implementation lives in the `@libcalico-ts/bgp/status` entry.
 */
import { DatastoreUnavailableError, ParseError } from '@libcalico-ts/api';

/** One line of `show protocols`. */
export interface BirdProtocol {
  name: string;
  proto: string;
  table: string;
  state: string;
  since: string;
  /** The info column (for BGP: the session state, then any extra words). */
  info: string;
}

/** One row of the `calicoctl node status` peer table. */
export interface BirdPeerStatus {
  /** Address rebuilt from the protocol name (`Mesh_10_0_0_2` -> `10.0.0.2`), as calicoctl does. */
  peerAddress: string;
  /** `node-to-node mesh`, `global` or `node specific`. */
  peerType: BirdPeerType;
  /** BIRD protocol state: `up`, `start`, `down`... */
  state: string;
  /** Time of the last state change, as BIRD prints it. */
  since: string;
  /** BGP state (`Established`, `Active`, `Connect`...) plus any extra info BIRD gives. */
  info: string;
  /** The BIRD protocol name. */
  protocolName: string;
}

/** Peer types `calicoctl node status` displays. */
export const BirdPeerType = {
  Mesh: 'node-to-node mesh',
  Global: 'global',
  NodeSpecific: 'node specific',
} as const;
export type BirdPeerType = (typeof BirdPeerType)[keyof typeof BirdPeerType];

/** One reply line of the BIRD control protocol. */
export interface BirdReplyLine {
  /** Four-digit code (`0000` end, `0001` ready, `1002` protocol row, `2002` headings, `8xxx`/`9xxx` errors). */
  code: string;
  /** Text after the code. */
  text: string;
}

/**
 * Parses the raw text BIRD sends for one command into lines. Continuation lines (starting with a
 * space) get the code of the line before. Stops after the final line (`NNNN ` with a space).
 */
export function parseBirdReply(raw: string): { lines: BirdReplyLine[]; complete: boolean } {
  const lines: BirdReplyLine[] = [];
  let code = '';
  for (const line of raw.split('\n')) {
    if (line === '') continue;
    if (line.startsWith(' ') || line.startsWith('+')) {
      lines.push({ code, text: line.slice(1) });
      continue;
    }
    const m = /^(\d{4})([ -])(.*)$/.exec(line);
    if (!m) throw new ParseError(`unexpected line from BIRD: ${JSON.stringify(line)}`);
    code = m[1]!;
    lines.push({ code, text: m[3]! });
    if (m[2] === ' ') return { lines, complete: true };
  }
  return { lines, complete: false };
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIME = /^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/**
 * Parses the reply to `show protocols` (BIRD 1.x or 2.x) into rows.
 * @throws ParseError when the headings are not `name proto table state since info`, or BIRD
 *   answered with an error code.
 */
export function parseBirdProtocols(raw: string): BirdProtocol[] {
  const { lines } = parseBirdReply(raw);
  const out: BirdProtocol[] = [];
  for (const { code, text } of lines) {
    if (code === '0000' || code === '0001') continue;
    if (code === '2002') {
      const headings = text.trim().split(/\s+/).map((h) => h.toLowerCase());
      if (headings.join(' ') !== 'name proto table state since info') {
        throw new ParseError(`unknown BIRD table output format: ${JSON.stringify(text)}`);
      }
      continue;
    }
    if (code === '1002') {
      const cols = text.trim().split(/\s+/);
      if (cols.length < 5) continue;
      const [name, proto, table, state] = cols as [string, string, string, string];
      let rest = cols.slice(4);
      let since = rest[0] ?? '';
      if (DATE.test(since) && rest[1] !== undefined && TIME.test(rest[1])) {
        since = `${since} ${rest[1]}`;
        rest = rest.slice(2);
      } else {
        rest = rest.slice(1);
      }
      out.push({ name, proto, table, state, since, info: rest.join(' ') });
      continue;
    }
    if (/^[89]/.test(code)) throw new ParseError(`BIRD error ${code}: ${text}`);
  }
  return out;
}

const PEER_NAME = /^(Global|Node|Mesh)_(.+)$/;
const PEER_TYPES: Record<string, BirdPeerType> = { Global: 'global', Mesh: 'node-to-node mesh', Node: 'node specific' };

/**
 * The BGP peers among `protocols`, as calicoctl shows them: only BGP protocols named
 * `Mesh_…`, `Global_…` or `Node_…`; the address is the rest of the name with `_` turned into
 * `.` (IPv4) or `:` (IPv6). Like calicoctl, a `_port_N` suffix is not interpreted.
 */
export function birdPeersFromProtocols(protocols: readonly BirdProtocol[], family: 4 | 6): BirdPeerStatus[] {
  const out: BirdPeerStatus[] = [];
  for (const p of protocols) {
    if (p.proto !== 'BGP') continue;
    const m = PEER_NAME.exec(p.name);
    if (!m) continue;
    out.push({
      peerAddress: m[2]!.replace(/_/g, family === 4 ? '.' : ':'),
      peerType: PEER_TYPES[m[1]!]!,
      state: p.state,
      since: p.since,
      info: p.info,
      protocolName: p.name,
    });
  }
  return out;
}

function center(text: string, width: number): string {
  const pad = width - text.length;
  const left = Math.floor(pad / 2);
  return ' '.repeat(left) + text + ' '.repeat(pad - left);
}

/** Renders the peer table exactly as `calicoctl node status` does (ends with a newline). */
export function formatBirdPeerTable(peers: readonly BirdPeerStatus[]): string {
  const header = ['PEER ADDRESS', 'PEER TYPE', 'STATE', 'SINCE', 'INFO'];
  const rows = peers.map((p) => [p.peerAddress, p.peerType, p.state, p.since, p.info]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const lines = [rule, `| ${header.map((h, i) => center(h, widths[i]!)).join(' | ')} |`, rule];
  for (const r of rows) lines.push(`| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`);
  lines.push(rule);
  return lines.join('\n') + '\n';
}

/** What one BIRD daemon reported, for {@link formatNodeStatus}. */
export type BirdFamilyStatus =
  | { peers: readonly BirdPeerStatus[] }
  /** BIRD for that family is not running. */
  | { notRunning: true }
  /** The socket could not be queried; `message` is shown. */
  | { error: string };

/**
 * The text `calicoctl node status` prints after its process check:
 * `Calico process is running.`, then an `IPvN BGP status` section per family (a table, or
 * `No IPvN peers found.`), and a final empty line.
 */
export function formatNodeStatus(status: { ipv4: BirdFamilyStatus; ipv6: BirdFamilyStatus }): string {
  let out = 'Calico process is running.\n';
  for (const [family, s] of [
    ['4', status.ipv4],
    ['6', status.ipv6],
  ] as const) {
    if ('notRunning' in s) {
      out += `\nINFO: BIRDv${family} process: 'bird${family === '6' ? '6' : ''}' is not running.\n`;
      continue;
    }
    out += `\nIPv${family} BGP status\n`;
    if ('error' in s) out += `Error querying BIRD: unable to connect to BIRDv${family} socket: ${s.error}`;
    else if (s.peers.length === 0) out += `No IPv${family} peers found.\n`;
    else out += formatBirdPeerTable(s.peers);
  }
  return out + '\n';
}

/**
 * A connected byte stream to a BIRD control socket (a `net.Socket` satisfies it). Injected so this
 * module needs no Node built-ins.
 */
export interface BirdConnection {
  write(data: string): unknown;
  on(event: 'data', listener: (chunk: Uint8Array | string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  end(): unknown;
}

/** Options of {@link queryBird}. */
export interface QueryBirdOptions {
  /** Milliseconds to wait for each reply; default 2000 (calicoctl's timeout). */
  timeoutMs?: number;
}

/**
 * Sends `command` on a fresh BIRD control connection and returns the raw reply text (from the
 * first line after BIRD's `0001` greeting up to and including the final line). Closes the
 * connection in all cases.
 *
 * @throws DatastoreUnavailableError when the connection fails, closes early or times out.
 */
export function queryBird(connection: BirdConnection, command: string, options: QueryBirdOptions = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const decoder = new TextDecoder();
  return new Promise<string>((resolve, reject) => {
    let buffer = '';
    let greeted = false;
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (error: Error | undefined, value?: string) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      try {
        connection.end();
      } catch {
        // already closed
      }
      if (error) reject(error);
      else resolve(value!);
    };
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => finish(new DatastoreUnavailableError(`BIRD did not answer within ${timeoutMs} ms`)), timeoutMs);
    };
    connection.on('error', (error) => finish(new DatastoreUnavailableError(`BIRD control socket error: ${error.message}`, { cause: error })));
    connection.on('close', () => finish(new DatastoreUnavailableError('BIRD closed the control connection before replying')));
    connection.on('data', (chunk) => {
      buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
      arm();
      for (;;) {
        const end = buffer.lastIndexOf('\n');
        if (end < 0) return;
        let parsed;
        try {
          parsed = parseBirdReply(buffer.slice(0, end + 1));
        } catch (error) {
          finish(error as Error);
          return;
        }
        if (!parsed.complete) return;
        // Length of the complete reply in the buffer.
        const lines = buffer.split('\n');
        let consumed = 0;
        for (const line of lines) {
          consumed += line.length + 1;
          if (/^\d{4} /.test(line)) break;
        }
        const reply = buffer.slice(0, consumed);
        buffer = buffer.slice(consumed);
        if (!greeted) {
          greeted = true;
          if (!reply.startsWith('0001')) {
            finish(new DatastoreUnavailableError(`unexpected BIRD greeting: ${JSON.stringify(reply.trim())}`));
            return;
          }
          connection.write(`${command}\n`);
          continue;
        }
        finish(undefined, reply);
        return;
      }
    });
    arm();
  });
}

/**
 * Reads the BGP peers of one BIRD daemon (`show protocols`) as calicoctl shows them.
 *
 * @example
 * ```ts
 * import { connect } from 'node:net';
 * const peers = await readBirdPeers(connect('/var/run/calico/bird.ctl'), 4);
 * ```
 */
export async function readBirdPeers(connection: BirdConnection, family: 4 | 6, options?: QueryBirdOptions): Promise<BirdPeerStatus[]> {
  return birdPeersFromProtocols(parseBirdProtocols(await queryBird(connection, 'show protocols', options)), family);
}
