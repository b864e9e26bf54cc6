/**
 * Core v1 Secrets in front of the Kubernetes API test server, which does not serve them
 * (test/helpers/kube-apiserver.ts has no `secrets` type, and its `putRaw` only stores served types).
 *
 * A plain-HTTP front on 127.0.0.1: `GET /api/v1/namespaces/<ns>/secrets/<name>` is answered here
 * with the apiserver's shapes (a `Secret` with base64 `data`, 404 `NotFound` / 401 `Unauthorized`
 * Status bodies, the same bearer token as the server behind); every other request is passed
 * through to the test server unchanged (watch streams included). The front's kubeconfig is the
 * server's, pointed at the front. Remove this once the test server serves Secrets.
 */
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import type { KubeApiServer } from '../helpers/kube-apiserver.js';

export interface SecretFront {
  readonly url: string;
  readonly kubeconfigPath: string;
  /** Secret paths requested (`ns/name`), in order. */
  readonly secretRequests: string[];
  /** Creates or replaces a Secret (`data` as plain strings; stored base64 as the API does). */
  putSecret(namespace: string, name: string, data: Record<string, string>): void;
  deleteSecret(namespace: string, name: string): void;
  stop(): Promise<void>;
}

const SECRET_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/secrets\/([^/?]+)$/;

function statusBody(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

/** Starts the front for `upstream` (which must be started with `tls: false`). Always `stop()` it. */
export async function startSecretFront(upstream: KubeApiServer): Promise<SecretFront> {
  const target = new URL(upstream.url);
  if (target.protocol !== 'http:') throw new Error('startSecretFront needs a test server started with tls: false');
  const secrets = new Map<string, { data: Record<string, string>; resourceVersion: number; uid: string }>();
  const secretRequests: string[] = [];
  const sockets = new Set<Socket>();
  let rv = 1;

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const match = SECRET_PATH.exec(path);
    if (match) {
      const [, namespace, name] = match.map((s) => decodeURIComponent(s ?? '')) as [string, string, string];
      secretRequests.push(`${namespace}/${name}`);
      res.setHeader('Content-Type', 'application/json');
      if (upstream.token !== null && req.headers.authorization !== `Bearer ${upstream.token}`) {
        res.writeHead(401).end(statusBody(401, 'Unauthorized', 'Unauthorized'));
        return;
      }
      if (req.method !== 'GET') {
        res.writeHead(405).end(statusBody(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
        return;
      }
      const stored = secrets.get(`${namespace}/${name}`);
      if (!stored) {
        res.writeHead(404).end(statusBody(404, 'NotFound', `secrets "${name}" not found`));
        return;
      }
      const data = Object.fromEntries(Object.entries(stored.data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
      res.writeHead(200).end(
        JSON.stringify({ kind: 'Secret', apiVersion: 'v1', metadata: { name, namespace, uid: stored.uid, resourceVersion: String(stored.resourceVersion) }, data, type: 'Opaque' }),
      );
      return;
    }
    const forward = http.request(
      { hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    res.on('close', () => forward.destroy());
    req.pipe(forward);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfigPath = join(tmpdir(), `secret-front-${process.pid}-${(server.address() as AddressInfo).port}.kubeconfig`);
  writeFileSync(kubeconfigPath, upstream.kubeconfigText.replace(upstream.url, url), { mode: 0o600 });

  return {
    url,
    kubeconfigPath,
    secretRequests,
    putSecret(namespace, name, data) {
      rv++;
      secrets.set(`${namespace}/${name}`, { data: { ...data }, resourceVersion: rv, uid: `uid-${namespace}-${name}` });
    },
    deleteSecret(namespace, name) {
      secrets.delete(`${namespace}/${name}`);
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const { rmSync } = await import('node:fs');
      rmSync(kubeconfigPath, { force: true });
    },
  };
}
