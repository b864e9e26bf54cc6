/**
 * HTTP transport to the Kubernetes API server.
 *
 * Configuration and authentication come from `@kubernetes/client-node`'s `KubeConfig` (cluster
 * CA, client certificates, tokens, exec/auth-provider plugins, skip-TLS-verify, proxies). Requests
 * are sent on a keep-alive agent and the response text is returned unparsed, so the datastore can
 * read IPAM sequence numbers losslessly (the generated client would `JSON.parse` them) and stream
 * watches line by line.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { DatastoreError } from '@libcalico-ts/api';
import { translateError } from './errors.js';

/** A raw response: status code and body text. */
export interface RawResponse {
  status: number;
  text: string;
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  /** Serialised JSON body. */
  body?: string;
  contentType?: string;
  signal?: AbortSignal;
  /** Overrides the transport's request timeout. */
  timeoutMs?: number;
}

export interface TransportOptions {
  /** Socket inactivity timeout of ordinary requests (default 30 s). Also bounds connecting. */
  requestTimeoutMs: number;
  /** Inactivity timeout of watch streams (default 150 s; servers send bookmarks every ~60 s). */
  watchIdleTimeoutMs: number;
}

const HEADER_CACHE_MS = 30_000;

function buildQuery(query: Record<string, string | undefined> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
  const s = params.toString();
  return s ? `?${s}` : '';
}

export class KubeTransport {
  readonly server: string;
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly isHttps: boolean;
  private headers: { value: Record<string, string>; at: number } | undefined;
  private closed = false;
  private readonly inflight = new Set<http.ClientRequest>();

  private constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly options: TransportOptions,
    tls: https.AgentOptions,
    proxyAgent: http.Agent | undefined,
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new DatastoreError('the kubeconfig has no current cluster');
    this.server = cluster.server;
    this.base = new URL(cluster.server);
    this.isHttps = this.base.protocol === 'https:';
    if (proxyAgent) this.agent = proxyAgent;
    else if (this.isHttps) this.agent = new https.Agent({ ...tls, keepAlive: true, maxSockets: 64 });
    else this.agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  }

  /** Builds a transport for the kubeconfig's current context. */
  static async create(kubeConfig: KubeConfig, options: TransportOptions): Promise<KubeTransport> {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new DatastoreError('the kubeconfig has no current cluster (check current-context)');
    if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
      throw new DatastoreError(`refusing plain HTTP to ${cluster.server}: set insecure-skip-tls-verify for an http:// server`);
    }
    const opts: https.RequestOptions = {};
    try {
      await kubeConfig.applyToHTTPSOptions(opts);
    } catch (error) {
      throw translateError(error, undefined, cluster.server);
    }
    const tls: https.AgentOptions = {};
    for (const k of ['ca', 'cert', 'key', 'pfx', 'passphrase', 'servername', 'rejectUnauthorized'] as const) {
      if (opts[k] !== undefined) (tls as Record<string, unknown>)[k] = opts[k];
    }
    const proxyAgent = cluster.proxyUrl ? (opts.agent as http.Agent) : undefined;
    return new KubeTransport(kubeConfig, options, tls, proxyAgent);
  }

  private async authHeaders(refresh = false): Promise<Record<string, string>> {
    if (!refresh && this.headers && Date.now() - this.headers.at < HEADER_CACHE_MS) return this.headers.value;
    const opts: https.RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const value: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) value[k] = Array.isArray(v) ? v.join(', ') : String(v);
    if (opts.auth) value.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    this.headers = { value, at: Date.now() };
    return value;
  }

  private url(path: string, query?: Record<string, string | undefined>): string {
    const prefix = this.base.pathname.replace(/\/$/, '');
    return `${prefix}${path}${buildQuery(query)}`;
  }

  private open(method: string, path: string, options: RequestOptions, headers: Record<string, string>, timeoutMs: number): Promise<http.IncomingMessage> {
    if (this.closed) return Promise.reject(new DatastoreError('the Kubernetes datastore is closed'));
    return new Promise((resolve, reject) => {
      const requestHeaders: Record<string, string> = { ...headers, Accept: 'application/json' };
      if (options.body !== undefined) {
        requestHeaders['Content-Type'] = options.contentType ?? 'application/json';
        requestHeaders['Content-Length'] = String(Buffer.byteLength(options.body));
      }
      const mod = this.isHttps ? https : http;
      const req = mod.request(
        {
          protocol: this.base.protocol,
          hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
          port: this.base.port || (this.isHttps ? 443 : 80),
          method,
          path: this.url(path, options.query),
          headers: requestHeaders,
          agent: this.agent,
          timeout: timeoutMs,
          signal: options.signal,
        },
        (res) => {
          this.inflight.delete(req);
          resolve(res);
        },
      );
      this.inflight.add(req);
      req.on('timeout', () => {
        const error = Object.assign(new Error(`no response from ${this.server} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
        req.destroy(error);
      });
      req.on('error', (error) => {
        this.inflight.delete(req);
        reject(error);
      });
      if (options.body !== undefined) req.end(options.body);
      else req.end();
    });
  }

  /**
   * Sends a request and reads the whole response. Network failures reject with translated
   * CalicoErrors; HTTP error statuses are returned (the caller knows which key they concern).
   */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<RawResponse> {
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs;
    try {
      let res = await this.open(method, path, options, await this.authHeaders(), timeoutMs);
      if (res.statusCode === 401) {
        // Credentials may have rotated (exec plugins, token files): refresh once.
        res.resume();
        res = await this.open(method, path, options, await this.authHeaders(true), timeoutMs);
      }
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      return { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') };
    } catch (error) {
      if (this.closed) throw new DatastoreError('the Kubernetes datastore is closed', { cause: error });
      throw translateError(error, undefined, this.server);
    }
  }

  /** Opens a streaming GET (a watch). The caller reads and destroys the response. */
  async stream(path: string, options: RequestOptions = {}): Promise<http.IncomingMessage> {
    try {
      return await this.open('GET', path, options, await this.authHeaders(), options.timeoutMs ?? this.options.watchIdleTimeoutMs);
    } catch (error) {
      if (this.closed) throw new DatastoreError('the Kubernetes datastore is closed', { cause: error });
      throw translateError(error, undefined, this.server);
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Aborts in-flight requests and releases the connections. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const req of this.inflight) req.destroy();
    this.inflight.clear();
    this.agent.destroy();
  }
}
