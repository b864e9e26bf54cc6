/**
 * Bundles the pure packages (net, selector, api, memory datastore, ipam, routes) with esbuild for
 * the browser into one script and runs an allocation plus a route computation in headless
 * Chromium (`/usr/bin/chromium`, no network, file:// page, result read back with --dump-dom).
 * Proves no Node built-in leaked into those packages: not a single `node:*` (or bare built-in)
 * import, static or dynamic, may be reachable from them.
 *
 * Needs Chromium; if it is missing the test fails, unless LIBCALICO_SKIP_BROWSER=1 is set on purpose.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const root = fileURLToPath(new URL('../..', import.meta.url));
const skip = process.env.LIBCALICO_SKIP_BROWSER === '1';

/** Node built-in imports found while bundling: `{specifier, importer, kind}`. */
type BuiltinUse = { specifier: string; importer: string; kind: string };

async function bundle(): Promise<{ code: string; builtins: BuiltinUse[] }> {
  const builtins: BuiltinUse[] = [];
  const result = await esbuild.build({
    entryPoints: [join(root, 'test/browser/entry.browser.ts')],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'iife',
    target: 'chrome110',
    conditions: ['source'],
    logLevel: 'silent',
    plugins: [
      {
        name: 'node-builtin-guard',
        setup(build) {
          build.onResolve({ filter: /^node:|^(fs|os|path|crypto|child_process|net|tls|http|https|stream|util|events|buffer|process)$/ }, (args) => {
            builtins.push({ specifier: args.path, importer: relative(root, args.importer), kind: args.kind });
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  return { code: result.outputFiles[0]!.text, builtins };
}

function runChromium(page: string, userDataDir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
        '--allow-file-access-from-files',
        `--user-data-dir=${userDataDir}`,
        '--virtual-time-budget=20000',
        '--dump-dom',
        `file://${page}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0 && out === '') reject(new Error(`chromium exited ${code}: ${err.slice(-2000)}`));
      else resolve(out);
    });
  });
}

function decodeEntities(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

describe('pure packages in headless Chromium', { skip: skip ? 'LIBCALICO_SKIP_BROWSER=1' : false }, () => {
  it('bundles without Node built-ins and allocates + computes routes in the browser', async () => {
    assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (install Debian chromium or set LIBCALICO_SKIP_BROWSER=1 on purpose)`);
    const { code, builtins } = await bundle();
    // No Node built-in at all is reachable from the pure packages.
    assert.deepEqual(
      builtins.map((b) => `${b.specifier} <- ${b.importer} (${b.kind})`),
      [],
    );
    assert.ok(!/\brequire\(["']/.test(code), 'no CommonJS require() left in the bundle');
    const dir = mkdtempSync(join(tmpdir(), 'libcalico-browser-'));
    try {
      writeFileSync(join(dir, 'bundle.js'), code);
      writeFileSync(join(dir, 'index.html'), '<!doctype html><html><body><pre id="result">pending</pre><script src="bundle.js"></script></body></html>');
      const dom = await runChromium(join(dir, 'index.html'), join(dir, 'profile'));
      const match = /<pre id="result">([\s\S]*?)<\/pre>/.exec(dom);
      assert.ok(match, `no result element in the dumped DOM: ${dom.slice(0, 500)}`);
      const text = decodeEntities(match[1]!);
      assert.notEqual(text, 'pending', 'the script did not finish');
      const result = JSON.parse(text) as { ok: boolean; error?: string; userAgent: string; podIP: string; podBlock: string; tunnels: [string, string][]; routes: string[]; neighbors: string[]; macB: string };
      assert.equal(result.ok, true, result.error);
      assert.match(result.userAgent, /HeadlessChrome|Chrome/);
      const tunnel = new Map(result.tunnels);
      const tunnelA = tunnel.get('node-a')!;
      const tunnelB = tunnel.get('node-b')!;
      assert.match(tunnelA, /^10\.244\.\d+\.\d+$/);
      // The pod got ordinal 1 of node-a's block (the tunnel address took ordinal 0).
      assert.equal(result.podBlock, `${tunnelA}/26`);
      assert.equal(result.podIP, `${tunnelA.replace(/\d+$/, (n) => String(Number(n) + 1))}/26`);
      assert.deepEqual([...result.routes].sort(), [
        `${result.podIP.split('/')[0]} dev cali573926084b2 scope link`,
        `${tunnelB}/26 via ${tunnelB} dev vxlan.calico onlink`,
        `blackhole ${tunnelA}/26 proto 80`,
      ].sort());
      assert.deepEqual(result.neighbors, [`${tunnelB} dev vxlan.calico lladdr 66:89:3a:22:7a:ac PERMANENT`]);
      assert.equal(result.macB, '66:89:3a:22:7a:ac');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
