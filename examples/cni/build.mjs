// Bundles each plugin into ONE file (dist/calico.mjs, dist/calico-ipam.mjs) from the packages'
// sources. The etcd gRPC and Kubernetes backends are imported dynamically and emitted as their
// own files (dist/backend-*.mjs), loaded only when the NetConf selects them.
//
// Then a V8 startup snapshot of both plugins (dist/calico.blob, from src/snapshot.ts bundled to
// dist/calico-snapshot.cjs), which the launchers in bin/ use while the node binary that built it
// is unchanged: dist/calico.blob.stamp lists that binary (and a libnode it maps, if any), each
// with a reference file carrying its exact modification time (`touch -r`). A blob only works with
// the exact node that built it; when it cannot be built, the launchers run the bundles.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const finalDist = join(here, 'dist');
// Build into a private directory and swap it in at the end, so that plugins being executed
// meanwhile (tests run suites in parallel) never see a half-written or missing bundle.
const dist = join(here, `.dist-building-${process.pid}`);
rmSync(dist, { recursive: true, force: true });

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  conditions: ['source'],
  minify: true,
  // Error classes are recognised across bundles by their class name (CalicoError.isInstance).
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS dependencies bundled into ESM need a require().
  banner: { js: "import { createRequire as __lctsRequire } from 'node:module'; const require = __lctsRequire(import.meta.url);" },
};

// The backends, each a self-contained file.
const backends = {
  '@libcalico-ts/datastore-etcd#grpc': ['backend-etcd-grpc', '@libcalico-ts/datastore-etcd'],
  '@libcalico-ts/datastore-kubernetes': ['backend-kubernetes', '@libcalico-ts/datastore-kubernetes'],
  '@kubernetes/client-node': ['backend-kube-client', '@kubernetes/client-node'],
};
for (const [name, entry] of Object.values(backends)) {
  // etcd3 reads its .proto files from its own directory at run time: it stays an external package.
  await build({ ...common, external: ['etcd3'], stdin: { contents: `export * from '${entry}';`, resolveDir: here, loader: 'js' }, outfile: join(dist, `${name}.mjs`) });
}

// The backend modules the plugins import dynamically, and the file each one is built into.
const BACKEND_IMPORT = /^(@libcalico-ts\/datastore-etcd|@libcalico-ts\/datastore-kubernetes|@kubernetes\/client-node)$/;
const backendFile = (path) =>
  path === '@libcalico-ts/datastore-etcd' ? 'backend-etcd-grpc' : path === '@kubernetes/client-node' ? 'backend-kube-client' : 'backend-kubernetes';

// Dynamic imports of a backend become imports of its file; static imports stay bundled
// (the etcd codec and the JSON-gateway datastore, @libcalico-ts/datastore-etcd/gateway, are
// small and load no gRPC).
const lazyBackends = {
  name: 'lazy-backends',
  setup(b) {
    b.onResolve({ filter: BACKEND_IMPORT }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined;
      const file = backendFile(args.path);
      return { path: `./${file}.mjs`, external: true };
    });
  },
};

for (const plugin of ['calico', 'calico-ipam', 'calico-cni-server']) {
  await build({ ...common, entryPoints: [join(here, 'src', `${plugin}.ts`)], outfile: join(dist, `${plugin}.mjs`), plugins: [lazyBackends], metafile: false });
}
// The server as a library (package export "./server"), e.g. for `calico-agent run --cni-socket`.
await build({ ...common, entryPoints: [join(here, 'src', 'server.ts')], outfile: join(dist, 'server.mjs'), plugins: [lazyBackends], metafile: false });
// The snapshot: one CommonJS file for both plugins; backend imports become require()s of the
// backend files at run time (src/snapshot-backends.ts).
const snapshotBackends = {
  name: 'snapshot-backends',
  setup(b) {
    b.onResolve({ filter: BACKEND_IMPORT }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined;
      const file = backendFile(args.path);
      return { path: file, namespace: 'snapshot-backend' };
    });
    b.onLoad({ filter: /.*/, namespace: 'snapshot-backend' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(join(here, 'src', 'snapshot-backends.ts'))}).loadBackendFile(${JSON.stringify(`${args.path}.mjs`)});`,
      loader: 'js',
      resolveDir: here,
    }));
  },
};
const snapshotEntry = join(dist, 'calico-snapshot.cjs');
await build({
  ...common,
  format: 'cjs',
  banner: {},
  entryPoints: [join(here, 'src', 'snapshot.ts')],
  outfile: snapshotEntry,
  plugins: [snapshotBackends],
  // The namespace worker (not used by the plugins) locates its file through import.meta.url.
  logOverride: { 'empty-import-meta': 'silent' },
});
buildSnapshot();
buildShim();

// The thick-plugin shim (shim/main.go), when a Go toolchain is at hand; without it the launchers
// never use the CNI server.
function buildShim() {
  const goCache = join(tmpdir(), 'lcts-cni-go-cache');
  const made = spawnSync('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', join(dist, 'calico-shim'), '.'], {
    cwd: join(here, 'shim'),
    env: { ...process.env, GO111MODULE: 'off', GOFLAGS: '', CGO_ENABLED: '0', GOCACHE: process.env.GOCACHE || goCache, GOPATH: process.env.GOPATH || join(goCache, 'path') },
    encoding: 'utf8',
  });
  if (made.error || made.status !== 0) console.warn(`cni build: no calico-shim (thick-plugin mode unavailable): ${made.error?.message ?? made.stderr.trim()}`);
}

function buildSnapshot() {
  const blob = join(dist, 'calico.blob');
  const made = spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', snapshotEntry], {
    cwd: dist,
    env: { ...process.env, NODE_OPTIONS: '' },
    encoding: 'utf8',
  });
  if (made.status !== 0) {
    rmSync(blob, { force: true });
    console.warn(`cni build: no startup snapshot (the launchers will run the bundles): ${made.stderr.trim().split('\n').slice(-3).join(' ')}`);
    return;
  }
  for (const line of made.stderr.split('\n')) if (line.includes('warm-up failed')) console.warn(line);
  // The node binary and any libnode it maps: the blob is valid while none of them changed.
  const files = [process.execPath];
  try {
    for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
      const path = line.slice(line.indexOf('/'));
      if (line.includes('/') && /\/libnode\.so/.test(path) && !files.includes(path)) files.push(path);
    }
  } catch {
    // not Linux: only the binary
  }
  const lines = [`# V8 startup snapshot built by node ${process.version}; used only while these files keep the modification time of their reference file`];
  files.forEach((file, i) => {
    const ref = `calico.blob.ref${i}`;
    writeFileSync(join(dist, ref), '');
    const touched = spawnSync('touch', ['-r', file, join(dist, ref)]);
    if (touched.status !== 0) throw new Error(`touch -r ${file} failed`);
    lines.push(`${ref} ${file}`);
  });
  writeFileSync(join(dist, 'calico.blob.stamp'), `${lines.join('\n')}\n`);
}

const previous = join(here, `.dist-previous-${process.pid}`);
try {
  renameSync(finalDist, previous);
} catch (error) {
  if (error.code !== 'ENOENT') throw error;
}
renameSync(dist, finalDist);
rmSync(previous, { recursive: true, force: true });
console.log('built', finalDist);
