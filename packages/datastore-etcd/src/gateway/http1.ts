/**
 * A minimal HTTP/1.1 client for the gateway datastore's calls (./datastore.ts): `POST` with a JSON
 * body over kept-alive `node:net` / `node:tls` sockets, responses framed by `Content-Length` or
 * chunked transfer coding. Internal to this package.
 *
 * Why not `node:http`: the gateway datastore serves short-lived processes (CNI plugins, CLIs,
 * hooks), and the first `http.request` of a process costs ~8 ms on top of the round trip (lazy
 * loading of the HTTP parser and client internals), ~10x the loopback round trip itself. This
 * client needs only the socket modules.
 *
 * Scope: exactly what the etcd JSON gateway needs. No redirects, no proxies, no compression,
 * no pipelining (one request at a time per socket; concurrent requests open more sockets).
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import type tls from 'node:tls';

/** TLS material for `https:` endpoints. */
export interface Http1TlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** One response. */
export interface Http1Response {
  status: number;
  body: string;
}

/** A transport failure (connect, reset, timeout, malformed response): the request may not have been served. */
export class Http1ConnectionError extends Error {
  /** True when nothing of a response had arrived (safe to retry on another socket). */
  readonly beforeResponse: boolean;
  constructor(message: string, beforeResponse: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'Http1ConnectionError';
    this.beforeResponse = beforeResponse;
  }
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEADER = 64 * 1024;

/** Incremental response parser. `feed` returns the response once complete. */
class ResponseParser {
  private buffer: Buffer = Buffer.alloc(0);
  private status = 0;
  private headerDone = false;
  private length = -1;
  private chunked = false;
  private chunks: Buffer[] = [];
  /** Whether the server asked to close the connection after this response. */
  close = false;
  /** Whether any byte arrived. */
  started = false;

  feed(data: Buffer): Http1Response | undefined {
    this.started = true;
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    if (!this.headerDone) {
      const end = this.buffer.indexOf(HEADER_END);
      if (end < 0) {
        if (this.buffer.length > MAX_HEADER) throw new Error('response header too large');
        return undefined;
      }
      const lines = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
      const statusLine = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
      if (!statusLine) throw new Error(`malformed status line ${JSON.stringify(lines[0])}`);
      this.status = Number(statusLine[1]);
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === 'content-length') {
          if (!/^\d+$/.test(value)) throw new Error(`bad content-length ${JSON.stringify(value)}`);
          this.length = Number(value);
        } else if (name === 'transfer-encoding') this.chunked = value.toLowerCase().split(',').map((s) => s.trim()).includes('chunked');
        else if (name === 'connection') this.close = value.toLowerCase().includes('close');
      }
      if (!line0IsHttp11(lines[0]!)) this.close = true;
      this.headerDone = true;
      this.buffer = this.buffer.subarray(end + 4);
      if (!this.chunked && this.length < 0) {
        // Body delimited by the end of the connection: only for bodiless statuses here.
        if (this.status === 204 || this.status === 304) this.length = 0;
        else throw new Error('response has neither content-length nor chunked coding');
      }
    }
    if (!this.chunked) {
      if (this.buffer.length < this.length) return undefined;
      return { status: this.status, body: this.buffer.subarray(0, this.length).toString('utf8') };
    }
    for (;;) {
      const lineEnd = this.buffer.indexOf(CRLF);
      if (lineEnd < 0) return undefined;
      const size = Number.parseInt(this.buffer.subarray(0, lineEnd).toString('latin1').split(';')[0]!.trim(), 16);
      if (!Number.isFinite(size) || size < 0) throw new Error('malformed chunk size');
      if (size === 0) {
        // Last chunk: skip any trailers up to the empty line.
        const trailerEnd = this.buffer.indexOf(CRLF, lineEnd + 2);
        if (trailerEnd < 0) return undefined;
        if (trailerEnd !== lineEnd + 2 && this.buffer.indexOf(HEADER_END, lineEnd) < 0) return undefined;
        return { status: this.status, body: Buffer.concat(this.chunks).toString('utf8') };
      }
      if (this.buffer.length < lineEnd + 2 + size + 2) return undefined;
      this.chunks.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      this.buffer = this.buffer.subarray(lineEnd + 2 + size + 2);
    }
  }
}

function line0IsHttp11(line: string): boolean {
  return line.startsWith('HTTP/1.1');
}

/** Keep-alive HTTP/1.1 client for one origin. */
export class Http1Client {
  private readonly idle: net.Socket[] = [];
  private readonly open = new Set<net.Socket>();
  private readonly secure: boolean;
  private readonly host: string;
  private readonly port: number;
  private closed = false;
  private tlsModule: typeof tls | undefined;

  /**
   * @param origin `http://host:port` or `https://host:port` (a path part is the caller's business).
   * @param tlsOptions CA / client certificate for `https:`.
   * @param timeoutMs deadline of one request, connect included.
   */
  constructor(
    origin: URL,
    private readonly tlsOptions: Http1TlsOptions = {},
    private readonly timeoutMs = 10_000,
  ) {
    this.secure = origin.protocol === 'https:';
    this.host = origin.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = origin.port ? Number(origin.port) : this.secure ? 443 : 80;
  }

  private async connect(): Promise<net.Socket> {
    if (!this.secure) return net.connect({ host: this.host, port: this.port, noDelay: true });
    // Loaded on first use, with require(): a process restored from the plugins' V8 startup
    // snapshot has no dynamic import() (and most invocations never need TLS).
    this.tlsModule ??= createRequire(process.execPath)('node:tls') as typeof tls;
    const servername = net.isIP(this.host) === 0 ? this.host : undefined;
    return this.tlsModule.connect({ host: this.host, port: this.port, ...(servername ? { servername } : {}), ...this.tlsOptions });
  }

  /**
   * POSTs `body` (JSON text) to `path`. Resolves with any HTTP status; rejects with
   * {@link Http1ConnectionError} on transport failures and timeouts. A request that fails on a
   * reused idle socket before any response byte (the server closed it meanwhile) is retried once
   * on a new connection.
   */
  async post(path: string, body: string): Promise<Http1Response> {
    if (this.closed) throw new Http1ConnectionError('client is closed', true);
    const reused = this.idle.pop();
    try {
      return await this.exchange(reused ?? (await this.newSocket()), path, body);
    } catch (error) {
      if (reused && error instanceof Http1ConnectionError && error.beforeResponse && !this.closed) return this.exchange(await this.newSocket(), path, body);
      throw error;
    }
  }

  private async newSocket(): Promise<net.Socket> {
    const socket = await this.connect();
    this.open.add(socket);
    socket.once('close', () => {
      this.open.delete(socket);
      const i = this.idle.indexOf(socket);
      if (i >= 0) this.idle.splice(i, 1);
    });
    // An idle socket's late error must not crash the process.
    socket.on('error', () => undefined);
    return socket;
  }

  private exchange(socket: net.Socket, path: string, body: string): Promise<Http1Response> {
    const payload = Buffer.from(body, 'utf8');
    const head = `POST ${path} HTTP/1.1\r\nHost: ${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\n\r\n`;
    return new Promise<Http1Response>((resolve, reject) => {
      const parser = new ResponseParser();
      let settled = false;
      const finish = (error: Error | undefined, response?: Http1Response) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('close', onClose);
        if (error) {
          socket.destroy();
          reject(error);
          return;
        }
        if (parser.close || this.closed) socket.destroy();
        else this.idle.push(socket);
        resolve(response!);
      };
      const onData = (data: Buffer) => {
        let response: Http1Response | undefined;
        try {
          response = parser.feed(data);
        } catch (error) {
          finish(new Http1ConnectionError(`malformed HTTP response: ${(error as Error).message}`, false));
          return;
        }
        if (response) finish(undefined, response);
      };
      const onError = (error: Error) => finish(new Http1ConnectionError(error.message, !parser.started, { cause: error }));
      const onClose = () => finish(new Http1ConnectionError('connection closed before the response was complete', !parser.started));
      const timer = setTimeout(() => finish(new Http1ConnectionError(`no answer within ${this.timeoutMs} ms`, false)), this.timeoutMs);
      socket.on('data', onData);
      socket.on('error', onError);
      socket.on('close', onClose);
      if (socket.destroyed) {
        onClose();
        return;
      }
      socket.write(Buffer.concat([Buffer.from(head, 'latin1'), payload]));
    });
  }

  /** Closes every socket; later calls fail. */
  close(): void {
    this.closed = true;
    for (const socket of this.open) socket.destroy();
    this.open.clear();
    this.idle.length = 0;
  }
}

/**
 * Parses one complete response text, without a socket: lets a process compile the parser ahead
 * of its first request (see `warmUpEtcdGateway` in ./datastore.ts).
 */
export function parseHttpResponse(text: string): Http1Response | undefined {
  return new ResponseParser().feed(Buffer.from(text, 'utf8'));
}
