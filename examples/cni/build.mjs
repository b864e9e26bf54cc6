// Bundles each plugin into ONE file (dist/calico.mjs, dist/calico-ipam.mjs) from the packages'
// sources. The etcd gRPC and Kubernetes backends are imported dynamically and emitted as their
// own files (dist/backend-*.mjs), loaded only when the NetConf selects them.
import { build } from 'esbuild';
import { renameSync, rmSync } from 'node:fs';
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

// Dynamic imports of a backend become imports of its file; static imports stay bundled
// (the gateway datastore uses only the etcd codec, which is small and has no gRPC).
const lazyBackends = {
  name: 'lazy-backends',
  setup(b) {
    b.onResolve({ filter: /^(@libcalico-ts\/datastore-etcd|@libcalico-ts\/datastore-kubernetes|@kubernetes\/client-node)$/ }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined;
      const file = args.path === '@libcalico-ts/datastore-etcd' ? 'backend-etcd-grpc' : args.path === '@kubernetes/client-node' ? 'backend-kube-client' : 'backend-kubernetes';
      return { path: `./${file}.mjs`, external: true };
    });
  },
};

for (const plugin of ['calico', 'calico-ipam']) {
  await build({ ...common, entryPoints: [join(here, 'src', `${plugin}.ts`)], outfile: join(dist, `${plugin}.mjs`), plugins: [lazyBackends], metafile: false });
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
