import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Http1Client, Http1ConnectionError } from './http1.js';

/** A raw TCP server answering each request with `respond(requestText, connectionIndex)`. */
function rawServer(respond: (request: string, connection: number) => string | string[] | null): Promise<{ url: URL; connections: () => number; close: () => Promise<void> }> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const index = count++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffer = '';
    socket.on('data', (d) => {
      buffer += d.toString('latin1');
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(buffer.slice(0, end))?.[1] ?? 0);
      if (buffer.length < end + 4 + length) return;
      const request = buffer.slice(0, end + 4 + length);
      buffer = buffer.slice(end + 4 + length);
      const reply = respond(request, index);
      if (reply === null) {
        socket.destroy();
        return;
      }
      // Pieces are written separately so the parser sees split frames.
      for (const piece of Array.isArray(reply) ? reply : [reply]) socket.write(piece);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        url: new URL(`http://127.0.0.1:${port}`),
        connections: () => count,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

const ok = (body: string, extra = '') => `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

describe('Http1Client', () => {
  let server: Awaited<ReturnType<typeof rawServer>>;
  let mode = 'length';
  before(async () => {
    server = await rawServer((request) => {
      const body = Buffer.from(request.slice(request.indexOf('\r\n\r\n') + 4), 'latin1').toString('utf8');
      const echo = JSON.stringify({ path: request.split(' ')[1], body: JSON.parse(body) as unknown, host: /host: (\S+)/i.exec(request)?.[1] });
      if (mode === 'chunked') {
        const half = Math.floor(echo.length / 2);
        const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
        return ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', chunk(echo.slice(0, half)), chunk(echo.slice(half)), '0\r\n\r\n'];
      }
      if (mode === 'split') return [ok(echo).slice(0, 20), ok(echo).slice(20, 60), ok(echo).slice(60)];
      if (mode === 'close') return ok(echo, 'Connection: close\r\n');
      if (mode === 'error') return 'HTTP/1.1 404 Not Found\r\nContent-Length: 25\r\n\r\n{"error":"x","code":5}   ';
      if (mode === 'garbage') return 'NOT HTTP\r\n\r\n';
      if (mode === 'drop') return null;
      return ok(echo);
    });
  });
  after(() => server.close());

  it('posts JSON and reads a content-length response, reusing one connection', async () => {
    mode = 'length';
    const client = new Http1Client(server.url);
    const before = server.connections();
    for (let i = 0; i < 3; i++) {
      const r = await client.post('/v3/kv/range', JSON.stringify({ key: `k${i}`, text: 'é' }));
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body), { path: '/v3/kv/range', body: { key: `k${i}`, text: 'é' }, host: `127.0.0.1:${server.url.port}` });
    }
    assert.equal(server.connections() - before, 1);
    client.close();
  });

  it('reads chunked and split responses', async () => {
    const client = new Http1Client(server.url);
    for (const m of ['chunked', 'split']) {
      mode = m;
      const r = await client.post('/p', JSON.stringify({ m }));
      assert.deepEqual((JSON.parse(r.body) as { body: unknown }).body, { m });
    }
    client.close();
  });

  it('opens more connections for concurrent requests', async () => {
    mode = 'length';
    const client = new Http1Client(server.url);
    const before = server.connections();
    const rs = await Promise.all([1, 2, 3].map((i) => client.post('/c', JSON.stringify({ i }))));
    assert.deepEqual(rs.map((r) => (JSON.parse(r.body) as { body: { i: number } }).body.i), [1, 2, 3]);
    assert.equal(server.connections() - before, 3);
    client.close();
  });

  it('honours Connection: close, and retries once when a kept-alive socket was closed by the server', async () => {
    mode = 'close';
    const client = new Http1Client(server.url);
    const before = server.connections();
    await client.post('/a', '{}');
    await client.post('/b', '{}');
    assert.equal(server.connections() - before, 2);
    client.close();
    // Reused socket dropped by the server before answering: one retry on a new socket, then the error.
    mode = 'length';
    const c2 = new Http1Client(server.url);
    await c2.post('/warm', '{}');
    mode = 'drop';
    await assert.rejects(c2.post('/x', '{}'), (e: unknown) => e instanceof Http1ConnectionError && e.beforeResponse);
    c2.close();
  });

  it('returns error statuses to the caller and rejects malformed responses', async () => {
    const client = new Http1Client(server.url);
    mode = 'error';
    const r = await client.post('/e', '{}');
    assert.equal(r.status, 404);
    assert.deepEqual(JSON.parse(r.body), { error: 'x', code: 5 });
    mode = 'garbage';
    await assert.rejects(client.post('/g', '{}'), /malformed HTTP response/);
    client.close();
    await assert.rejects(client.post('/closed', '{}'), /client is closed/);
  });

  it('fails with a connection error when nothing listens, and times out on a silent server', async () => {
    const dead = await rawServer(() => 'x');
    const url = dead.url;
    await dead.close();
    await assert.rejects(new Http1Client(url).post('/', '{}'), (e: unknown) => e instanceof Http1ConnectionError && /ECONNREFUSED/.test((e as Error).message));
    const silent = net.createServer((socket) => socket.resume());
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const client = new Http1Client(new URL(`http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`), {}, 150);
    await assert.rejects(client.post('/', '{}'), /no answer within 150 ms/);
    client.close();
    await new Promise<void>((r) => silent.close(() => r()));
  });
});
