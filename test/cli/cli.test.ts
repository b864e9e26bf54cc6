/**
 * The example calicoctl against every datastore: the in-memory snapshot mode, real etcd
 * (test/helpers/etcd.ts) and the Kubernetes API test server. Expected texts are written from
 * the reference (ipam.md §9) and the seeds' observed calicoctl output, not from the program.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@libcalico-ts/example-cli';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { calicoctl } from './helpers.js';

const POOL = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv4-ippool
spec:
  cidr: 10.244.0.0/16
  ipipMode: Always
  natOutgoing: true
  blockSize: 26
  nodeSelector: all()
`;

const POOL_WIDE = [
  'NAME                  CIDR            NAT    IPIPMODE   VXLANMODE   DISABLED   DISABLEBGPEXPORT   SELECTOR',
  'default-ipv4-ippool   10.244.0.0/16   true   Always     Never       false      false              all()',
  '',
  '',
].join('\n');

function pool(name: string, cidr: string, extra = ''): string {
  return `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: ${name}\nspec:\n  cidr: ${cidr}\n${extra}`;
}

interface Backend {
  name: string;
  env: () => Record<string, string>;
  /** Kinds Calico derives from Kubernetes objects cannot be created through calicoctl on KDD. */
  nativeNodes: boolean;
  setup?: () => Promise<void>;
  teardown?: () => Promise<void>;
  /** Makes a node exist (KDD: a Kubernetes Node). */
  addNode?: (name: string) => Promise<void>;
}

function describeCli(backend: Backend): void {
  describe(`calicoctl on ${backend.name}`, { concurrency: false }, () => {
    let dir: string;
    const env = () => backend.env();
    const file = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const run = (...args: string[]) => calicoctl(args, env());
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'cli-test-'));
      await backend.setup?.();
    });
    after(async () => {
      await backend.teardown?.();
      rmSync(dir, { recursive: true, force: true });
    });

    it('creates a pool from a file and prints calicoctl counts', async () => {
      const r = await run('create', '-f', file('pool.yaml', POOL));
      assert.equal(r.stdout, "Successfully created 1 'IPPool' resource(s)\n", r.stderr);
      assert.equal(r.code, 0);
    });

    it('get ippool -o wide prints the seed columns', async () => {
      const r = await run('get', 'ippool', '-o', 'wide');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, POOL_WIDE);
      const ps = await run('get', 'pools');
      assert.equal(ps.stdout, 'NAME                  CIDR            SELECTOR\ndefault-ipv4-ippool   10.244.0.0/16   all()\n\n');
    });

    it('create of an existing resource fails with exit 1', async () => {
      const r = await run('create', '-f', join(dir, 'pool.yaml'));
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^Failed to create 'IPPool' resource: \[resource already exists: IPPool\(default-ipv4-ippool\)/);
    });

    it('a bad file writes nothing: unknown field, invalid CIDR next to a valid pool, YAML syntax', async () => {
      const unknown = await run('create', '-f', file('bad1.yaml', pool('p-unknown', '10.10.0.0/16', '  ipipModee: Always\n')));
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /^Failed to execute command: .*ipipModee/);
      const mixed = await run('apply', '-f', file('bad2.yaml', `${pool('p-ok', '10.11.0.0/16')}---\n${pool('p-bad', '10.12.0.0/33')}`));
      assert.equal(mixed.code, 1);
      assert.match(mixed.stderr, /^Failed to execute command: /);
      const syntax = await run('create', '-f', file('bad3.yaml', 'kind: IPPool\n  metadata: [\n'));
      assert.equal(syntax.code, 1);
      assert.match(syntax.stderr, /^Failed to execute command: /);
      const missing = await run('create', '-f', join(dir, 'does-not-exist.yaml'));
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^Failed to execute command: .*no such file/);
      const list = await run('get', 'ippool', '-o', 'json');
      assert.deepEqual(JSON.parse(list.stdout).items.map((p: { metadata: { name: string } }) => p.metadata.name), ['default-ipv4-ippool']);
    });

    it('bad flags and unknown kinds give calicoctl errors', async () => {
      const flagError = await run('get', 'ippool', '--bogus');
      assert.equal(flagError.code, 1);
      assert.equal(flagError.stdout, "Invalid option: 'calicoctl get ippool --bogus'. Use flag '--help' to read about a specific subcommand.\n");
      const kind = await run('get', 'foo');
      assert.equal(kind.code, 1);
      assert.equal(kind.stderr, "Failed to get resources: resource type 'foo' is not supported\n");
      const output = await run('get', 'ippool', '-o', 'xml');
      assert.equal(output.code, 1);
      assert.equal(output.stderr, "unrecognized output format 'xml'\n");
    });

    it('partial success reports the count and the error', async () => {
      const r = await run('create', '-f', file('three.yaml', `${pool('p-a', '10.20.0.0/16')}---\n${pool('p-b', '10.21.0.0/16')}---\n${POOL}`));
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "Partial success: created the first 2 out of 3 'IPPool' resources:\n");
      assert.match(r.stderr, /^Hit error: \[resource already exists: IPPool\(default-ipv4-ippool\)/);
      const del = await run('delete', '-f', join(dir, 'three.yaml'));
      assert.equal(del.code, 0, del.stderr);
      assert.equal(del.stdout, "Successfully deleted 3 'IPPool' resource(s)\n");
      const recreate = await run('create', '-f', join(dir, 'pool.yaml'));
      assert.equal(recreate.code, 0, recreate.stderr);
    });

    it('delete of a missing resource by kind and name', async () => {
      const r = await run('delete', 'ippool', 'nope');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Failed to delete 'IPPool' resource: resource does not exist: IPPool\(nope\)/);
    });

    it('apply and replace change the pool', async () => {
      const applied = await run('apply', '-f', file('vx.yaml', pool('default-ipv4-ippool', '10.244.0.0/16', '  ipipMode: Never\n  vxlanMode: CrossSubnet\n  natOutgoing: true\n  blockSize: 26\n  nodeSelector: all()\n')));
      assert.equal(applied.stdout, "Successfully applied 1 'IPPool' resource(s)\n", applied.stderr);
      const wide = await run('get', 'ippool', 'default-ipv4-ippool', '-o', 'wide');
      assert.match(wide.stdout, /default-ipv4-ippool {3}10\.244\.0\.0\/16 {3}true {3}Never {6}CrossSubnet {3}false/);
      const replaced = await run('replace', '-f', join(dir, 'pool.yaml'));
      assert.equal(replaced.stdout, "Successfully replaced 1 'IPPool' resource(s)\n", replaced.stderr);
      assert.equal((await run('get', 'ippool', '-o', 'wide')).stdout, POOL_WIDE);
      const missing = await run('replace', '-f', file('missing.yaml', pool('not-there', '10.30.0.0/16')));
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^Failed to replace 'IPPool' resource: resource does not exist/);
    });

    if (backend.nativeNodes) {
      it('get node -o wide and get workloadendpoints print the seed layouts', async () => {
        const nodes = ['master-c3', 'worker1-c3'].map((n, i) => `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: ${n}.myk8s.example.com\nspec:\n  bgp:\n    ipv4Address: 192.168.3.${110 + i}/24\n`).join('---\n');
        const created = await run('create', '-f', file('nodes.yaml', nodes));
        assert.equal(created.stdout, "Successfully created 2 'Node' resource(s)\n", created.stderr);
        const wide = await run('get', 'node', '-o', 'wide');
        assert.equal(wide.stdout, [
          'NAME                           ASN       IPV4               IPV6',
          'master-c3.myk8s.example.com    (64512)   192.168.3.110/24',
          'worker1-c3.myk8s.example.com   (64512)   192.168.3.111/24',
          '',
          '',
        ].join('\n'));
        const wep = `apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: worker1--c3.myk8s.example.com-k8s-client--6d96c457bc--bd2p9-eth0
  namespace: default
spec:
  orchestrator: k8s
  node: worker1-c3.myk8s.example.com
  pod: client-6d96c457bc-bd2p9
  endpoint: eth0
  interfaceName: cali3745790aa7e
  ipNetworks:
  - 10.244.56.65/32
`;
        const w = await run('create', '-f', file('wep.yaml', wep));
        assert.equal(w.stdout, "Successfully created 1 'WorkloadEndpoint' resource(s)\n", w.stderr);
        const weps = await run('get', 'workloadendpoints');
        assert.equal(weps.stdout, [
          'WORKLOAD                  NODE                           NETWORKS          INTERFACE',
          'client-6d96c457bc-bd2p9   worker1-c3.myk8s.example.com   10.244.56.65/32   cali3745790aa7e',
          '',
          '',
        ].join('\n'));
        const all = await run('get', 'wep', '-A');
        assert.match(all.stdout, /^NAMESPACE   WORKLOAD {18}NODE/);
        const none = await run('get', 'wep', '-n', 'other');
        assert.equal(none.stdout, 'NAMESPACE   WORKLOAD   NODE   NETWORKS   INTERFACE\n\n');
        const del = await run('delete', '-f', join(dir, 'wep.yaml'));
        assert.equal(del.stdout, "Successfully deleted 1 'WorkloadEndpoint' resource(s)\n", del.stderr);
      });
    }

    it('ipam show, show --ip, configure, release and check on allocations made through the client', async () => {
      if (backend.addNode) await backend.addNode('node-a');
      const connection = await connect({ env: env() });
      let block: string;
      try {
        if (!backend.addNode) {
          await connection.client.nodes.create({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'node-a' }, spec: {} } as never);
        }
        const { ipv4 } = await connection.client.ipam.autoAssign({ num4: 5, handleId: 'h-test', hostname: 'node-a', intendedUse: 'Workload', attrs: { node: 'node-a', pod: 'p1', namespace: 'default' } });
        assert.equal(ipv4!.ips.length, 5);
        block = (await connection.client.datastore.listKV({ type: 'block' })).items[0]!.key.cidr;
      } finally {
        await connection.finish();
      }
      const show = await run('ipam', 'show', '--show-blocks');
      assert.equal(show.code, 0, show.stderr);
      const cidrWidth = Math.max(13, block.length);
      const rule = `+----------+-${'-'.repeat(cidrWidth)}-+-----------+------------+--------------+--------------+`;
      assert.equal(show.stdout, [
        rule,
        `| GROUPING | ${'CIDR'.padEnd(cidrWidth)} | IPS TOTAL | IPS IN USE | IPS RESERVED | IPS FREE     |`,
        rule,
        `| IP Pool  | ${'10.244.0.0/16'.padEnd(cidrWidth)} |     65536 |     5 (0%) |       0 (0%) | 65531 (100%) |`,
        `| Block    | ${block.padEnd(cidrWidth)} |        64 |     5 (8%) |       0 (0%) |     59 (92%) |`,
        rule,
        '',
      ].join('\n'));
      const first = block.replace(/\.\d+\/26$/, (m) => `.${Number(m.slice(1, -3))}`);
      const ip = await run('ipam', 'show', '--ip', first);
      assert.equal(ip.stdout, `IP ${first} is in use\nHandle ID: h-test\nActive Owner Attributes:\n  namespace: default\n  node: node-a\n  pod: p1\n`);
      const free = await run('ipam', 'show', '--ip=10.244.255.254');
      assert.equal(free.stdout, '10.244.255.254 is not assigned\n');
      const bad = await run('ipam', 'show', '--ip', 'bogus');
      assert.equal(bad.code, 1);
      assert.equal(bad.stdout, 'Error executing command: invalid IP address specified: bogus\n');

      const badValue = await run('ipam', 'configure', '--strictaffinity=maybe');
      assert.equal(badValue.code, 1);
      assert.equal(badValue.stderr, 'invalid value. Use true or false to set strictaffinity\n');
      const none = await run('ipam', 'configure');
      assert.equal(none.stderr, 'at least one configuration option must be specified\n');
      const strict = await run('ipam', 'configure', '--strictaffinity=true', '--max-blocks-per-host', '3');
      assert.equal(strict.stdout, 'Successfully set StrictAffinity to: true\nSuccessfully set MaxBlocksPerHost to: 3\n', strict.stderr);
      const cfg = await run('ipam', 'show', '--show-configuration');
      assert.match(cfg.stdout, /\| StrictAffinity +\| true +\|/);
      assert.match(cfg.stdout, /\| MaxBlocksPerHost +\| 3 +\|/);

      const released = await run('ipam', 'release', '--ip', first);
      assert.equal(released.stdout, `Successfully released IP address ${first}\n`, released.stderr);
      const again = await run('ipam', 'release', '--ip', first);
      assert.equal(again.code, 1);
      assert.equal(again.stderr, `IP address ${first} is not assigned\n`);

      const reportPath = join(dir, 'report.json');
      const check = await run('ipam', 'check', '--show-problem-ips', '-o', reportPath);
      assert.equal(check.code, 0, check.stderr);
      assert.match(check.stdout, /^Checking IPAM for inconsistencies\.\.\.\n\nLoading all IPAM blocks\.\.\.\nFound 1 IPAM blocks\.\n/);
      assert.match(check.stdout, /Found 4 IPs that are allocated in IPAM but not actually in use\.\n/);
      assert.match(check.stdout, /Check complete; found 4 problems\.\n$/);
      const report = JSON.parse(readFileSync(reportPath, 'utf8'));
      assert.equal(Object.keys(report.allocations).length, 4);
      assert.equal(typeof report.clusterGUID, 'string');
      const refuse = await run('ipam', 'release', '--from-report', reportPath);
      assert.equal(refuse.code, 1);
      assert.equal(refuse.stderr, 'data store is not locked. Either lock the data store, or re-run with --force\n');
      const forced = await run('ipam', 'release', '--from-report', reportPath, '--force');
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(forced.stdout, /Releasing 4 old IPs\.\.\.\nReleased 4 IPs successfully\n/);
      assert.match(forced.stdout, /You may now unlock the data store\.\n$/);
      const after = await run('ipam', 'show');
      assert.match(after.stdout, /\| IP Pool  \| 10\.244\.0\.0\/16 \|     65536 \|     0 \(0%\) \|/);
    });

    it('version prints the client version', async () => {
      const r = await run('version');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Client Version: {4}v0\.1\.0\nGit commit: {8}\S+\nCluster Version: {3}\S+\nCluster Type: {6}\S+\n$/);
    });
  });
}

// ---------------------------------------------------------------------------------------------

let snapshotDir: string;
describeCli({
  name: 'the memory snapshot',
  nativeNodes: true,
  setup: async () => {
    snapshotDir = mkdtempSync(join(tmpdir(), 'cli-mem-'));
  },
  teardown: async () => rmSync(snapshotDir, { recursive: true, force: true }),
  env: () => ({ DATASTORE_TYPE: 'memory', CALICO_MEMORY_SNAPSHOT: join(snapshotDir, 'snapshot.json') }),
});

let etcd: EtcdServer;
describeCli({
  name: 'etcd',
  nativeNodes: true,
  setup: async () => {
    etcd = await startEtcd();
  },
  teardown: async () => etcd?.stop(),
  env: () => ({ DATASTORE_TYPE: 'etcdv3', ETCD_ENDPOINTS: etcd.endpoints.join(',') }),
});

let kube: KubeApiServer;
describeCli({
  name: 'kubernetes (test API server)',
  nativeNodes: false,
  setup: async () => {
    kube = await startKubeApiServer();
  },
  teardown: async () => kube?.stop(),
  env: () => ({ DATASTORE_TYPE: 'kubernetes', KUBECONFIG: kube.kubeconfigPath }),
  addNode: async (name) => {
    kube.putRaw({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name } }, spec: {}, status: {} });
  },
});

describe('calicoctl --config (CalicoAPIConfig file)', () => {
  it('reads the datastore from the file; a bad file is a client error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-cfg-'));
    try {
      const bad = join(dir, 'bad.cfg');
      writeFileSync(bad, 'apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n  datastoreType: zookeeper\n');
      const r = await calicoctl(['get', 'ippool', '--config', bad], {});
      assert.equal(r.code, 1);
      assert.match(r.stdout, /^Failed to create Calico API client: .*datastoreType/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
