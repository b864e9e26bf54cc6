/**
 * BGP password Secrets read from the Kubernetes API (Kubernetes datastore mode), through the same
 * kubeconfig the datastore uses. `@kubernetes/client-node` is imported only here and only when
 * this source is created, so etcd-mode agents never load it.
 *
 * Each Secret is fetched with one `GET /api/v1/namespaces/<ns>/secrets/<name>` (RBAC: `get` on
 * that Secret is enough; no list/watch of all Secrets is needed) and the keys the agent uses are
 * cached. Upstream confd watches each Secret by name instead; the agent re-reads them on its
 * refresh period (`PasswordResolver.refresh`), which gives the same result a little later.
 */
import http from 'node:http';
import https from 'node:https';
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { DatastoreError, ValidationError } from '@libcalico-ts/api';
import type { CalicoAPIConfigSpec } from '@libcalico-ts/client';
import type { Logger } from './log.js';
import { invalidRefReason, refId, type SecretRef, type SecretSource, type SecretState } from './secrets.js';

/** The answer of one Secret GET: status code and body text. */
export interface SecretResponse {
  status: number;
  body: string;
}

/** Performs `GET path` against the API server (injectable for tests). */
export type SecretFetcher = (path: string) => Promise<SecretResponse>;

/** Options of {@link KubernetesSecretSource}. */
export interface KubernetesSecretSourceOptions {
  /** Performs the GETs. */
  fetch: SecretFetcher;
  /** For logs: the API server URL. */
  server: string;
  logger?: Logger;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A short, value-free description of an error response (the Status `reason` and `message`). */
function statusText(response: SecretResponse): string {
  try {
    const status = JSON.parse(response.body) as unknown;
    if (isObj(status) && status['kind'] === 'Status') {
      const reason = typeof status['reason'] === 'string' ? status['reason'] : '';
      const message = typeof status['message'] === 'string' ? status['message'].slice(0, 300) : '';
      return `HTTP ${response.status}${reason ? ` ${reason}` : ''}${message ? `: ${message}` : ''}`;
    }
  } catch {
    // not a Status: say nothing about the body
  }
  return `HTTP ${response.status}`;
}

/**
 * Secret values from the Kubernetes API. A 404 makes the Secret `missing` (no password); any other
 * failure (403, 5xx, unreachable server, a body that is not a Secret) is `unreadable` and keeps
 * the value read before. A key absent from the Secret's `data` is `missing`. Values are the
 * base64-decoded `data` entries as UTF-8. Messages never contain a value or a response body.
 */
export class KubernetesSecretSource implements SecretSource {
  readonly description: string;
  private readonly cache = new Map<string, SecretState & { at: number }>();

  constructor(private readonly options: KubernetesSecretSourceOptions) {
    this.description = `kubernetes ${options.server}`;
  }

  get(ref: SecretRef): SecretState | undefined {
    const entry = this.cache.get(refId(ref));
    return entry && { ...(entry.value !== undefined ? { value: entry.value } : {}), ...(entry.problem ? { problem: entry.problem } : {}) };
  }

  async refresh(refs: readonly SecretRef[], options: { maxAgeMs?: number } = {}): Promise<boolean> {
    const maxAge = options.maxAgeMs ?? 0;
    const now = Date.now();
    // One GET per Secret, however many of its keys are used.
    const bySecret = new Map<string, SecretRef[]>();
    for (const ref of refs) {
      const entry = this.cache.get(refId(ref));
      if (entry && maxAge > 0 && now - entry.at < maxAge) continue;
      const id = `${ref.namespace}/${ref.name}`;
      bySecret.set(id, [...(bySecret.get(id) ?? []), ref]);
    }
    let changed = false;
    for (const group of bySecret.values()) {
      const states = await this.read(group);
      for (const [i, ref] of group.entries()) {
        const id = refId(ref);
        const previous = this.cache.get(id);
        const next = states[i]!;
        if (next.value !== previous?.value) changed = true;
        this.cache.set(id, { ...next, at: now });
      }
    }
    return changed;
  }

  /** Reads one Secret for the keys of `refs` (all of the same namespace and name). */
  private async read(refs: readonly SecretRef[]): Promise<SecretState[]> {
    const first = refs[0]!;
    const previous = (ref: SecretRef) => this.cache.get(refId(ref))?.value;
    const failAll = (kind: 'missing' | 'unreadable', reason: string): SecretState[] =>
      refs.map((ref) => {
        const value = kind === 'unreadable' ? previous(ref) : undefined;
        return value !== undefined ? { value, problem: { kind, reason } } : { problem: { kind, reason } };
      });
    const invalid = refs.map((ref) => invalidRefReason(ref));
    if (invalid.every((r) => r !== undefined)) return refs.map((_, i) => ({ problem: { kind: 'invalid', reason: invalid[i]! } }));
    const path = `/api/v1/namespaces/${encodeURIComponent(first.namespace)}/secrets/${encodeURIComponent(first.name)}`;
    this.options.logger?.debug('reading BGP password secret', { source: 'kubernetes', namespace: first.namespace, secret: first.name });
    let response: SecretResponse;
    try {
      response = await this.options.fetch(path);
    } catch (error) {
      return failAll('unreadable', `cannot reach the API server: ${(error as Error).message}`);
    }
    if (response.status === 404) return failAll('missing', `Secret ${first.namespace}/${first.name} not found`);
    if (response.status !== 200) return failAll('unreadable', `cannot read Secret ${first.namespace}/${first.name}: ${statusText(response)}`);
    let secret: unknown;
    try {
      secret = JSON.parse(response.body);
    } catch {
      // (JSON.parse's message quotes the text: never let it out)
      return failAll('unreadable', `the API server's answer for Secret ${first.namespace}/${first.name} is not JSON`);
    }
    if (!isObj(secret) || secret['kind'] !== 'Secret') {
      return failAll('unreadable', `the API server's answer for Secret ${first.namespace}/${first.name} is not a Secret`);
    }
    const data = isObj(secret['data']) ? secret['data'] : {};
    return refs.map((ref, i) => {
      if (invalid[i]) return { problem: { kind: 'invalid', reason: invalid[i]! } };
      const encoded = data[ref.key];
      if (encoded === undefined || encoded === null) return { problem: { kind: 'missing', reason: `Secret ${ref.namespace}/${ref.name} has no key ${ref.key}` } };
      if (typeof encoded !== 'string' || encoded.length % 4 !== 0 || !BASE64.test(encoded)) {
        return { problem: { kind: 'unreadable', reason: `key ${ref.key} of Secret ${ref.namespace}/${ref.name} is not base64` } };
      }
      return { value: Buffer.from(encoded, 'base64').toString('utf8') };
    });
  }

  async close(): Promise<void> {
    this.cache.clear();
  }
}

/**
 * The kubeconfig a calicoctl configuration describes, resolved as the client does for the
 * Kubernetes datastore: `kubeconfigInline`, else `kubeconfig` (with several paths, the first
 * existing file), else client-node's default (`$KUBECONFIG`, `~/.kube/config`, in-cluster); then
 * `k8sCurrentContext`, `k8sAPIEndpoint`, `k8sCAFile`, `k8sInsecureSkipTLSVerify`, `k8sAPIToken`,
 * `k8sCertFile` and `k8sKeyFile` override the current context's cluster and user.
 * @throws ValidationError for a kubeconfig path that does not exist or an unknown context;
 *   DatastoreError when the kubeconfig cannot be parsed.
 */
export async function kubeConfigFromSpec(spec: CalicoAPIConfigSpec): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    if (spec.kubeconfigInline) kc.loadFromString(spec.kubeconfigInline);
    else if (spec.kubeconfig) {
      const path = spec.kubeconfig.split(delimiter).find((p) => p !== '' && existsSync(p));
      if (!path) throw new ValidationError([{ name: 'kubeconfig', value: spec.kubeconfig, reason: 'no such kubeconfig file' }]);
      kc.loadFromFile(path);
    } else kc.loadFromDefault();
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new DatastoreError(`cannot load the kubeconfig: ${(error as Error).message}`, { cause: error });
  }
  if (spec.k8sCurrentContext) {
    if (!kc.getContextObject(spec.k8sCurrentContext)) {
      throw new ValidationError([{ name: 'k8sCurrentContext', value: spec.k8sCurrentContext, reason: 'the kubeconfig has no such context' }]);
    }
    kc.setCurrentContext(spec.k8sCurrentContext);
  }
  const overrides = spec.k8sAPIEndpoint || spec.k8sCAFile || spec.k8sInsecureSkipTLSVerify || spec.k8sAPIToken || spec.k8sCertFile || spec.k8sKeyFile;
  if (!overrides) return kc;
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  const server = spec.k8sAPIEndpoint || cluster?.server;
  if (!server) throw new ValidationError([{ name: 'k8sAPIEndpoint', value: spec.k8sAPIEndpoint, reason: 'no API server: set k8sAPIEndpoint or a kubeconfig' }]);
  const skip = spec.k8sInsecureSkipTLSVerify === true || (!spec.k8sCAFile && cluster?.skipTLSVerify === true);
  const out = new KubeConfig();
  out.loadFromClusterAndUser(
    {
      name: cluster?.name ?? 'calico',
      server,
      skipTLSVerify: skip,
      ...(skip ? {} : spec.k8sCAFile ? { caFile: spec.k8sCAFile } : { ...(cluster?.caData ? { caData: cluster.caData } : {}), ...(cluster?.caFile ? { caFile: cluster.caFile } : {}) }),
      ...(cluster?.tlsServerName ? { tlsServerName: cluster.tlsServerName } : {}),
      ...(cluster?.proxyUrl ? { proxyUrl: cluster.proxyUrl } : {}),
    },
    {
      ...(user ?? {}),
      name: user?.name ?? 'calico',
      ...(spec.k8sAPIToken ? { token: spec.k8sAPIToken } : {}),
      ...(spec.k8sCertFile ? { certFile: spec.k8sCertFile, certData: undefined } : {}),
      ...(spec.k8sKeyFile ? { keyFile: spec.k8sKeyFile, keyData: undefined } : {}),
    },
  );
  return out;
}

/**
 * A {@link SecretFetcher} over a kubeconfig: TLS and credentials from `KubeConfig.applyToHTTPSOptions`
 * (CA, client certificates, tokens, exec plugins), keep-alive, a 10 s inactivity timeout, bodies up
 * to 4 MiB. Like the Kubernetes datastore it refuses a plain `http://` server unless the
 * kubeconfig sets `insecure-skip-tls-verify` (the bearer token would travel in clear).
 * @throws DatastoreError (from the fetcher) for a kubeconfig without a current cluster.
 */
export function kubeConfigFetcher(kc: KubeConfig, options: { timeoutMs?: number } = {}): { fetch: SecretFetcher; server: string; close(): void } {
  const cluster = kc.getCurrentCluster();
  const server = cluster?.server ?? '';
  const timeout = options.timeoutMs ?? 10_000;
  let agent: http.Agent | undefined;
  const fetch: SecretFetcher = async (path) => {
    if (!cluster || !server) throw new DatastoreError('the kubeconfig has no current cluster');
    const base = new URL(server);
    const secure = base.protocol === 'https:';
    if (!secure && !cluster.skipTLSVerify) throw new DatastoreError(`refusing plain HTTP to ${server}: set insecure-skip-tls-verify for an http:// server`);
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = { Accept: 'application/json' };
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
    if (opts.auth) headers['Authorization'] = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    if (!agent) {
      if (cluster.proxyUrl && opts.agent) agent = opts.agent as http.Agent;
      else if (secure) {
        const tls: https.AgentOptions = { keepAlive: true, maxSockets: 4 };
        for (const k of ['ca', 'cert', 'key', 'pfx', 'passphrase', 'servername', 'rejectUnauthorized'] as const) {
          if (opts[k] !== undefined) (tls as Record<string, unknown>)[k] = opts[k];
        }
        agent = new https.Agent(tls);
      } else agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    }
    const prefix = base.pathname.replace(/\/$/, '');
    return new Promise<SecretResponse>((resolve, reject) => {
      const request = (secure ? https : http).request(
        { protocol: base.protocol, hostname: base.hostname.replace(/^\[|\]$/g, ''), port: base.port || (secure ? 443 : 80), method: 'GET', path: `${prefix}${path}`, headers, agent, timeout },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > 4 * 1024 * 1024) {
              request.destroy(new Error('the answer is larger than 4 MiB'));
              return;
            }
            chunks.push(chunk);
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no answer from ${server} within ${timeout} ms`)));
      request.on('error', reject);
      request.end();
    });
  };
  return { fetch, server, close: () => agent?.destroy() };
}

/**
 * A {@link KubernetesSecretSource} for the kubeconfig of a Kubernetes-datastore configuration.
 * Loads `@kubernetes/client-node` on first use.
 * @throws as {@link kubeConfigFromSpec}.
 */
export async function createKubernetesSecretSource(spec: CalicoAPIConfigSpec, logger?: Logger): Promise<SecretSource> {
  const kc = await kubeConfigFromSpec(spec);
  const { fetch, server, close } = kubeConfigFetcher(kc);
  const source = new KubernetesSecretSource({ fetch, server, ...(logger ? { logger } : {}) });
  const closeCache = source.close.bind(source);
  return Object.assign(source, {
    close: async () => {
      close();
      await closeCache();
    },
  });
}
