/**
 * The client suite: one body, run on every backend by client.test.ts. Every rejected write is
 * followed by a comparison of the datastore with its state before the call.
 */
import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import {
  CalicoError,
  OperationNotSupportedError,
  ResourceExistsError,
  ResourceNotFoundError,
  UpdateConflictError,
  ValidationError,
  type BGPPeer,
  type GlobalNetworkPolicy,
  type IPPool,
  type NetworkPolicy,
  type ResourceKind,
  type WorkloadEndpoint,
} from '@libcalico-ts/api';
import { keyId } from '@libcalico-ts/datastore';
import { createClient, type Client } from '@libcalico-ts/client';
import type { Backend, TestDatastore } from './backends.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const WHOLE_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

export function pool(name: string, cidr: string, spec: Partial<IPPool['spec']> = {}): IPPool {
  return { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name }, spec: { cidr, ...spec } };
}

function gnp(name: string, spec: Partial<GlobalNetworkPolicy['spec']> = {}): GlobalNetworkPolicy {
  return { kind: 'GlobalNetworkPolicy', apiVersion: 'projectcalico.org/v3', metadata: { name }, spec: { selector: 'all()', ...spec } };
}

const SNAPSHOT_KINDS: ResourceKind[] = [
  'IPPool',
  'Tier',
  'ClusterInformation',
  'GlobalNetworkPolicy',
  'NetworkPolicy',
  'BGPPeer',
  'BGPFilter',
  'HostEndpoint',
  'FelixConfiguration',
  'BGPConfiguration',
  'Node',
  'WorkloadEndpoint',
  'KubeControllersConfiguration',
  'IPAMConfiguration',
];

/** Every stored key with its revision (resources of the kinds above, blocks, affinities, handles). */
export async function snapshot(client: Client): Promise<string[]> {
  const out: string[] = [];
  for (const kind of SNAPSHOT_KINDS) {
    for (const item of (await client.datastore.listKV({ type: 'resource', kind })).items) out.push(`${keyId(item.key)}@${item.revision}`);
  }
  for (const type of ['block', 'blockAffinity', 'handle'] as const) {
    for (const item of (await client.datastore.listKV({ type })).items) out.push(`${keyId(item.key)}@${item.revision}`);
  }
  return out.sort();
}

/** Asserts `promise` rejects with an error of `type` (checked with isInstance), naming `field` when given. */
export async function rejects(
  promise: Promise<unknown>,
  type: { isInstance(error: unknown): boolean; name: string },
  field?: string,
  message?: string | RegExp,
): Promise<CalicoError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught !== undefined, `expected a ${type.name}, but the call succeeded`);
  assert.ok(type.isInstance(caught), `expected a ${type.name}, got ${String((caught as Error)?.stack ?? caught)}`);
  if (field !== undefined) {
    const fields = (caught as ValidationError).fields ?? [];
    assert.ok(
      fields.some((f) => f.name === field && (message === undefined || (typeof message === 'string' ? f.reason === message : message.test(f.reason)))),
      `expected field ${field}${message ? ` (${String(message)})` : ''} in ${JSON.stringify(fields)}`,
    );
  } else if (message !== undefined) {
    assert.match((caught as Error).message, typeof message === 'string' ? new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : message);
  }
  return caught as CalicoError;
}

/** `rejects`, then checks that nothing in the datastore changed. */
async function rejectsUnchanged(
  client: Client,
  run: () => Promise<unknown>,
  type: { isInstance(error: unknown): boolean; name: string },
  field?: string,
  message?: string | RegExp,
): Promise<CalicoError> {
  const before = await snapshot(client);
  const error = await rejects(run(), type, field, message);
  assert.deepEqual(await snapshot(client), before, 'the datastore changed after a rejected write');
  return error;
}

export function describeClientSuite(backend: Backend): void {
  describe(`client on ${backend.name}`, () => {
    let td: TestDatastore;
    let client: Client;
    const isKube = backend.name === 'kubernetes';

    beforeEach(async () => {
      td = await backend.create();
      client = createClient({ datastore: td.datastore, poolDeletionDelayMs: 0, closeDatastore: false });
    });
    afterEach(async () => {
      await client.close();
      await td.close();
    });
    after(() => backend.shutdown());

    describe('generic verbs', () => {
      it('create fills uid (UUID v4) and creationTimestamp (whole seconds), and get/list return the stored resource', async () => {
        const before = Date.now();
        const input = pool('p1', '10.1.0.0/16');
        const created = await client.ipPools.create(input);
        assert.deepEqual(input, pool('p1', '10.1.0.0/16'), 'the input is not modified');
        assert.match(created.metadata.uid!, UUID_V4);
        assert.match(created.metadata.creationTimestamp!, WHOLE_SECONDS);
        assert.ok(Math.abs(Date.parse(created.metadata.creationTimestamp!) - before) < 60_000);
        assert.ok(created.metadata.resourceVersion);
        assert.deepEqual(created.spec, {
          cidr: '10.1.0.0/16',
          vxlanMode: 'Never',
          ipipMode: 'Never',
          blockSize: 26,
          nodeSelector: 'all()',
          allowedUses: ['Workload', 'Tunnel'],
          assignmentMode: 'Automatic',
        });
        const got = await client.ipPools.get('p1');
        assert.equal(got.metadata.resourceVersion, created.metadata.resourceVersion);
        assert.equal(got.metadata.uid, created.metadata.uid);
        assert.deepEqual(got.spec, created.spec);
        const listed = await client.ipPools.list();
        assert.deepEqual(listed.items.map((p) => p.metadata.name), ['p1']);
        assert.ok(listed.resourceVersion);
      });

      it('create keeps a given uid and creationTimestamp', async () => {
        const input = pool('p1', '10.1.0.0/16');
        input.metadata.uid = 'bc57590a-4185-4b99-b163-a5728e97e0fc';
        input.metadata.creationTimestamp = '2026-03-01T10:00:00Z';
        const created = await client.ipPools.create(input);
        assert.equal(created.metadata.creationTimestamp, '2026-03-01T10:00:00Z');
        if (!isKube) assert.equal(created.metadata.uid, 'bc57590a-4185-4b99-b163-a5728e97e0fc');
      });

      it('create refuses a resourceVersion, a missing name and a taken name, writing nothing', async () => {
        const withVersion = pool('p1', '10.1.0.0/16');
        withVersion.metadata.resourceVersion = '12';
        await rejectsUnchanged(client, () => client.ipPools.create(withVersion), ValidationError, 'metadata.resourceVersion');
        await rejectsUnchanged(client, () => client.ipPools.create(pool('', '10.1.0.0/16')), ValidationError, 'metadata.name');
        await client.ipPools.create(pool('p1', '10.1.0.0/16'));
        await rejectsUnchanged(client, () => client.ipPools.create(pool('p1', '10.1.0.0/16')), ResourceExistsError);
      });

      it('update needs resourceVersion, uid and creationTimestamp; a stale revision is a conflict', async () => {
        const created = await client.ipPools.create(pool('p1', '10.1.0.0/16'));
        const error = (await rejectsUnchanged(
          client,
          () => client.ipPools.update(pool('p1', '10.1.0.0/16', { natOutgoing: true })),
          ValidationError,
          'metadata.resourceVersion',
        )) as ValidationError;
        assert.deepEqual(error.fields.map((f) => f.name).sort(), ['metadata.creationTimestamp', 'metadata.resourceVersion', 'metadata.uid']);
        assert.deepEqual(error.identifier, { kind: 'IPPool', name: 'p1' });

        const updated = await client.ipPools.update({ ...created, spec: { ...created.spec, natOutgoing: true } });
        assert.equal(updated.spec.natOutgoing, true);
        assert.notEqual(updated.metadata.resourceVersion, created.metadata.resourceVersion);
        assert.equal(updated.metadata.uid, created.metadata.uid);
        await rejectsUnchanged(client, () => client.ipPools.update({ ...created, spec: { ...created.spec, disabled: true } }), UpdateConflictError);
        await rejects(client.ipPools.update({ ...updated, metadata: { ...updated.metadata, name: 'missing' } }), ResourceNotFoundError);
      });

      it('apply creates, then updates (keeping uid and creationTimestamp), and honours a given resourceVersion', async () => {
        const first = await client.ipPools.apply(pool('p1', '10.1.0.0/16'));
        const second = await client.ipPools.apply(pool('p1', '10.1.0.0/16', { natOutgoing: true }));
        assert.equal(second.spec.natOutgoing, true);
        assert.equal(second.metadata.uid, first.metadata.uid);
        assert.equal(second.metadata.creationTimestamp, first.metadata.creationTimestamp);
        const stale = pool('p1', '10.1.0.0/16', { disabled: true });
        stale.metadata.resourceVersion = first.metadata.resourceVersion;
        await rejectsUnchanged(client, () => client.ipPools.apply(stale), UpdateConflictError);
        const concurrent = await Promise.all(Array.from({ length: 4 }, (_, i) => client.ipPools.apply(pool('p1', '10.1.0.0/16', { natOutgoing: i % 2 === 0 }))));
        assert.equal(concurrent.length, 4);
      });

      it('delete returns the deleted resource; a stale resourceVersion is a conflict; a missing one is not found', async () => {
        const created = await client.hostEndpoints.create({
          kind: 'HostEndpoint',
          apiVersion: 'projectcalico.org/v3',
          metadata: { name: 'h1' },
          spec: { node: 'n1', interfaceName: 'eth0' },
        });
        await client.hostEndpoints.update({ ...created, spec: { ...created.spec, expectedIPs: ['10.0.0.1'] } });
        await rejectsUnchanged(client, () => client.hostEndpoints.delete('h1', { resourceVersion: created.metadata.resourceVersion }), UpdateConflictError);
        const deleted = await client.hostEndpoints.delete('h1');
        assert.equal(deleted.metadata.name, 'h1');
        assert.deepEqual(deleted.spec.expectedIPs, ['10.0.0.1']);
        await rejects(client.hostEndpoints.get('h1'), ResourceNotFoundError);
        await rejects(client.hostEndpoints.delete('h1'), ResourceNotFoundError);
      });

      it('namespaced kinds need a namespace; cluster-scoped kinds refuse one', async () => {
        await rejects(client.networkPolicies.get('x'), ValidationError, 'metadata.namespace');
        await rejects(client.ipPools.get('x', { namespace: 'default' }), ValidationError, 'metadata.namespace');
        await rejects(client.ipPools.list({ namespace: 'default' }), ValidationError, 'namespace');
      });

      it('list filters by exact name, name prefix and label selector; a bad selector is a ValidationError', async () => {
        for (const [name, labels] of [
          ['web-a', { app: 'web', tier: 'front' }],
          ['web-b', { app: 'web' }],
          ['db-a', { app: 'db' }],
        ] as const) {
          await client.globalNetworkSets.create({ kind: 'GlobalNetworkSet', apiVersion: 'projectcalico.org/v3', metadata: { name, labels }, spec: { nets: ['10.0.0.0/8'] } });
        }
        const names = async (options: Parameters<Client['globalNetworkSets']['list']>[0]) => (await client.globalNetworkSets.list(options)).items.map((i) => i.metadata.name);
        assert.deepEqual(await names({}), ['db-a', 'web-a', 'web-b']);
        assert.deepEqual(await names({ name: 'web-a' }), ['web-a']);
        assert.deepEqual(await names({ name: 'web' }), []);
        assert.deepEqual(await names({ name: 'web', prefix: true }), ['web-a', 'web-b']);
        assert.deepEqual(await names({ labelSelector: 'app == "web" && has(tier)' }), ['web-a']);
        assert.deepEqual(await names({ labelSelector: 'app in {"db", "web"}', name: 'db', prefix: true }), ['db-a']);
        await rejects(client.globalNetworkSets.list({ labelSelector: 'app ==' }), ValidationError, 'labelSelector');
      });

      it('watch delivers typed events and stops', async () => {
        const listed = await client.ipPools.list();
        const controller = new AbortController();
        const watch = client.ipPools.watch({ resourceVersion: listed.resourceVersion, signal: controller.signal });
        const seen: string[] = [];
        const done = (async () => {
          for await (const event of watch) {
            const resource = event.current ?? event.previous;
            seen.push(`${event.type}:${resource?.metadata.name}:${resource?.spec.disabled === true}`);
            if (seen.length === 4) controller.abort();
          }
        })();
        const created = await client.ipPools.create(pool('w1', '10.2.0.0/16'));
        await client.ipPools.update({ ...created, spec: { ...created.spec, natOutgoing: true } });
        await client.ipPools.delete('w1');
        await done;
        // IPPool deletion disables the pool first: an extra modification before the deletion.
        assert.deepEqual(seen, ['added:w1:false', 'modified:w1:false', 'modified:w1:true', 'deleted:w1:true']);
      });

      it('a label-selector watch reports entering as added and leaving as deleted', async () => {
        const set = (labels: Record<string, string>) => ({ kind: 'GlobalNetworkSet' as const, apiVersion: 'projectcalico.org/v3' as const, metadata: { name: 's1', labels }, spec: { nets: ['10.0.0.0/8'] } });
        const start = await client.globalNetworkSets.list();
        const watch = client.globalNetworkSets.watch({ resourceVersion: start.resourceVersion, labelSelector: 'app == "web"' });
        const seen: string[] = [];
        const done = (async () => {
          for await (const event of watch) {
            seen.push(`${event.type}:${(event.current ?? event.previous)?.metadata.labels?.app}`);
            if (seen.length === 2) watch.stop();
          }
        })();
        const a = await client.globalNetworkSets.create(set({ app: 'db' }));
        const b = await client.globalNetworkSets.update({ ...a, metadata: { ...a.metadata, labels: { app: 'web' } } });
        await client.globalNetworkSets.update({ ...b, metadata: { ...b.metadata, labels: { app: 'db' } } });
        await done;
        assert.deepEqual(seen, ['added:web', 'deleted:web']);
      });

      it('resources(kind) returns the typed accessor; dryRun writes nothing', async () => {
        assert.equal(client.resources('IPPool'), client.ipPools);
        assert.throws(() => client.resources('Nope' as ResourceKind), ValidationError);
        const before = await snapshot(client);
        const dry = await client.ipPools.create(pool('dry', '10.9.0.0/16'), { dryRun: true });
        assert.equal(dry.spec.blockSize, 26);
        assert.deepEqual(await snapshot(client), before);
      });
    });

    describe('IPPool rules', () => {
      it('refuses an overlapping CIDR with upstream\'s message', async () => {
        await client.ipPools.create(pool('a', '10.0.0.0/16'));
        const error = await rejectsUnchanged(
          client,
          () => client.ipPools.create(pool('b', '10.0.128.0/17')),
          ValidationError,
          'spec.cidr',
          'IPPool(b) CIDR overlaps with IPPool(a) CIDR 10.0.0.0/16',
        );
        assert.deepEqual(error.identifier, { kind: 'IPPool', name: 'b' });
        await rejectsUnchanged(client, () => client.ipPools.create(pool('c', '10.0.0.0/8')), ValidationError, 'spec.cidr', 'IPPool(c) CIDR overlaps with IPPool(a) CIDR 10.0.0.0/16');
        await client.ipPools.create(pool('d', '10.1.0.0/16'));
      });

      it('refuses invalid and unmasked CIDRs, bad selectors and bad block sizes, writing nothing', async () => {
        await rejectsUnchanged(client, () => client.ipPools.create(pool('a', '10.0.0.0/33')), ValidationError, 'spec.cidr');
        await rejectsUnchanged(client, () => client.ipPools.create(pool('a', 'not-a-cidr')), ValidationError, 'spec.cidr');
        await rejectsUnchanged(client, () => client.ipPools.create(pool('a', '10.0.0.1/16')), ValidationError, 'spec.cidr', /strictly masked/);
        await rejectsUnchanged(client, () => client.ipPools.create(pool('a', '10.0.0.0/16', { nodeSelector: 'a ==' })), ValidationError, 'spec.nodeSelector');
        await rejectsUnchanged(client, () => client.ipPools.create(pool('a', '10.0.0.0/16', { blockSize: 19 })), ValidationError, 'spec.blockSize');
        await rejectsUnchanged(client, () => client.ipPools.create(pool('a', 'fd00::/64', { ipipMode: 'Always' })), ValidationError, 'spec.ipipMode');
      });

      it('keeps cidr and blockSize immutable on update', async () => {
        const created = await client.ipPools.create(pool('a', '10.0.0.0/16'));
        await rejectsUnchanged(client, () => client.ipPools.update({ ...created, spec: { ...created.spec, cidr: '10.5.0.0/16' } }), ValidationError, 'spec.cidr');
        await rejectsUnchanged(client, () => client.ipPools.update({ ...created, spec: { ...created.spec, blockSize: 28 } }), ValidationError, 'spec.blockSize');
        const lb = await client.ipPools.create(pool('lb', '10.7.0.0/16', { allowedUses: ['LoadBalancer'] }));
        await rejectsUnchanged(client, () => client.ipPools.update({ ...lb, spec: { ...lb.spec, allowedUses: ['Workload'] } }), ValidationError, 'spec.allowedUses');
      });

      it('delete disables the pool, waits, releases its affinities and deletes it; blocks of another size then block a new pool', async () => {
        await td.addNode('node-1');
        await client.ipPools.create(pool('a', '10.20.0.0/16'));
        const assigned = await client.ipam.autoAssign({ num4: 1, handleId: 'h-1', hostname: 'node-1', intendedUse: 'Workload', attrs: { node: 'node-1' } });
        assert.equal(assigned.ipv4?.ips.length, 1);
        assert.equal((await client.datastore.listKV({ type: 'blockAffinity', host: 'node-1' })).items.length, 1);

        const waits: number[] = [];
        const slow = createClient({ datastore: td.datastore, closeDatastore: false, sleep: async (ms) => void waits.push(ms) });
        const deleted = await slow.ipPools.delete('a');
        assert.deepEqual(waits, [500]);
        assert.equal(deleted.spec.disabled, true);
        await rejects(client.ipPools.get('a'), ResourceNotFoundError);
        assert.equal((await client.datastore.listKV({ type: 'blockAffinity', host: 'node-1' })).items.length, 0);
        const blocks = (await client.datastore.listKV({ type: 'block' })).items;
        assert.equal(blocks.length, 1, 'the block holding an address survives');
        assert.equal(blocks[0]!.value.affinity, null);

        await rejectsUnchanged(
          client,
          () => client.ipPools.create(pool('b', '10.20.0.0/16', { blockSize: 28 })),
          ValidationError,
          'spec.blockSize',
          /conflicts with existing allocations/,
        );
        await client.ipPools.create(pool('b', '10.20.0.0/16', { blockSize: 26 }));
      });

      it('delete with a stale resourceVersion changes nothing', async () => {
        const created = await client.ipPools.create(pool('a', '10.20.0.0/16'));
        await client.ipPools.update({ ...created, spec: { ...created.spec, natOutgoing: true } });
        await rejectsUnchanged(client, () => client.ipPools.delete('a', { resourceVersion: created.metadata.resourceVersion }), UpdateConflictError);
      });
    });

    describe('singletons and other kinds', () => {
      it('accepts only `default` for ClusterInformation, IPAMConfiguration and KubeControllersConfiguration', async () => {
        await rejectsUnchanged(
          client,
          () => client.clusterInformations.create({ kind: 'ClusterInformation', apiVersion: 'projectcalico.org/v3', metadata: { name: 'other' }, spec: {} }),
          ValidationError,
          'metadata.name',
        );
        await rejectsUnchanged(
          client,
          () =>
            client.ipamConfigurations.create({
              kind: 'IPAMConfiguration',
              apiVersion: 'projectcalico.org/v3',
              metadata: { name: 'x' },
              spec: { strictAffinity: false, autoAllocateBlocks: true },
            }),
          ValidationError,
          'metadata.name',
        );
        await rejectsUnchanged(
          client,
          () => client.kubeControllersConfigurations.create({ kind: 'KubeControllersConfiguration', apiVersion: 'projectcalico.org/v3', metadata: { name: 'x' }, spec: { controllers: {} } }),
          ValidationError,
          'metadata.name',
        );
        const kcc = await client.kubeControllersConfigurations.create({
          kind: 'KubeControllersConfiguration',
          apiVersion: 'projectcalico.org/v3',
          metadata: { name: 'default' },
          spec: { controllers: { node: {} } },
        });
        assert.equal(kcc.spec.prometheusMetricsPort, 9094);
        assert.equal(kcc.spec.controllers.node?.leakGracePeriod, '15m0s');
      });

      it('FelixConfiguration gets the client-written defaults', async () => {
        const felix = await client.felixConfigurations.create({ kind: 'FelixConfiguration', apiVersion: 'projectcalico.org/v3', metadata: { name: 'default' }, spec: {} });
        assert.equal(felix.spec.floatingIPs, 'Disabled');
        assert.equal(felix.spec.bpfConnectTimeLoadBalancing, 'TCP');
        assert.equal(felix.spec.bpfHostNetworkedNATWithoutCTLB, 'Enabled');
      });

      it('BGPPeer filters must exist', async () => {
        const peer: BGPPeer = {
          kind: 'BGPPeer',
          apiVersion: 'projectcalico.org/v3',
          metadata: { name: 'rack1-tor' },
          spec: { peerIP: '10.0.0.1', asNumber: 64513, filters: ['f1', 'f2'] },
        };
        const error = (await rejectsUnchanged(client, () => client.bgpPeers.create(peer), ValidationError, 'spec.filters')) as ValidationError;
        assert.deepEqual(error.fields[0]!.value, ['f1', 'f2']);
        await client.bgpFilters.create({ kind: 'BGPFilter', apiVersion: 'projectcalico.org/v3', metadata: { name: 'f1' }, spec: {} });
        await client.bgpFilters.create({ kind: 'BGPFilter', apiVersion: 'projectcalico.org/v3', metadata: { name: 'f2' }, spec: {} });
        const created = await client.bgpPeers.create(peer);
        assert.deepEqual(created.spec.filters, ['f1', 'f2']);
        await rejectsUnchanged(
          client,
          () => client.bgpPeers.create({ ...peer, metadata: { name: 'bad' }, spec: { peerIP: '10.0.0.300', asNumber: 1 } }),
          ValidationError,
          'spec.peerIP',
        );
      });

      it('BGPConfiguration default-only fields are refused on node.<name>', async () => {
        await rejectsUnchanged(
          client,
          () => client.bgpConfigurations.create({ kind: 'BGPConfiguration', apiVersion: 'projectcalico.org/v3', metadata: { name: 'node.n1' }, spec: { asNumber: 65000 } }),
          ValidationError,
          'spec.asNumber',
        );
      });

      it('the default-allow profile cannot be created, updated or deleted', async () => {
        const profile = { kind: 'Profile' as const, apiVersion: 'projectcalico.org/v3' as const, metadata: { name: 'projectcalico-default-allow' }, spec: {} };
        await rejectsUnchanged(client, () => client.profiles.create(profile), ResourceExistsError);
        await rejectsUnchanged(client, () => client.profiles.delete('projectcalico-default-allow'), OperationNotSupportedError);
        const listed = await client.profiles.list({ name: 'projectcalico-default-allow' });
        assert.equal(listed.items.length, 1, 'the synthetic profile is listed');
        assert.deepEqual((await client.profiles.get('projectcalico-default-allow')).spec.ingress, [{ action: 'Allow' }]);
        assert.deepEqual((await client.profiles.list({ labelSelector: 'has(x)' })).items, []);
      });
    });

    describe('policies and tiers', () => {
      it('needs the tier, defaults types and the tier label', async () => {
        await rejectsUnchanged(client, () => client.globalNetworkPolicies.create(gnp('allow-dns')), ValidationError, 'spec.tier', /does not exist/);
        await client.ensureInitialized();
        const created = await client.globalNetworkPolicies.create(gnp('allow-dns', { egress: [{ action: 'Allow', protocol: 'udp', destination: { ports: [53] } }] }));
        assert.deepEqual(created.spec.types, ['Egress']);
        assert.equal(created.spec.tier, 'default');
        assert.equal(created.metadata.labels?.['projectcalico.org/tier'], 'default');
        assert.equal(created.spec.egress?.[0]?.protocol, 'UDP');
        assert.equal((await client.globalNetworkPolicies.get('allow-dns')).metadata.name, 'allow-dns');

        const np: NetworkPolicy = {
          kind: 'NetworkPolicy',
          apiVersion: 'projectcalico.org/v3',
          metadata: { name: 'web', namespace: 'default' },
          spec: { tier: 'kube-admin', selector: 'app == "web"', ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] },
        };
        const createdNp = await client.networkPolicies.create(np);
        assert.deepEqual(createdNp.spec.types, ['Ingress', 'Egress']);
        assert.equal(createdNp.metadata.labels?.['projectcalico.org/tier'], 'kube-admin');
        assert.deepEqual((await client.networkPolicies.list({ namespace: 'default' })).items.map((p) => p.metadata.name), ['web']);
        await rejectsUnchanged(client, () => client.networkPolicies.create({ ...np, metadata: { name: 'bad', namespace: 'default' }, spec: { selector: 'app = "x"' } }), ValidationError, 'spec.selector');
        await rejectsUnchanged(client, () => client.networkPolicies.create({ ...np, metadata: { name: 'web2', namespace: 'default' }, spec: { tier: 'nope' } }), ValidationError, 'spec.tier');
      });

      it('protected and non-empty tiers cannot be deleted', async () => {
        await client.ensureInitialized();
        await rejectsUnchanged(client, () => client.tiers.delete('default'), OperationNotSupportedError);
        await client.tiers.create({ kind: 'Tier', apiVersion: 'projectcalico.org/v3', metadata: { name: 'security' }, spec: { order: 100 } });
        await client.globalNetworkPolicies.create(gnp('deny-all', { tier: 'security' }));
        await rejectsUnchanged(client, () => client.tiers.delete('security'), OperationNotSupportedError, undefined, /non-empty tier/);
        await client.globalNetworkPolicies.delete('deny-all');
        await client.tiers.delete('security');
      });

      it('ensureInitialized creates ClusterInformation and the three tiers, idempotently and concurrently', async () => {
        await Promise.all([client.ensureInitialized({ calicoVersion: 'v3.32.0' }), client.ensureInitialized({ calicoVersion: 'v3.32.0' })]);
        await client.ensureInitialized({ clusterType: 'k8s,bgp' });
        const info = await client.clusterInformations.get('default');
        assert.match(info.spec.clusterGUID!, /^[0-9a-f]{32}$/);
        assert.equal(info.spec.datastoreReady, true);
        assert.equal(info.spec.calicoVersion, 'v3.32.0');
        assert.deepEqual(info.spec.clusterType!.split(',').sort(), (isKube ? ['bgp', 'k8s', 'kdd'] : ['bgp', 'k8s']).sort());
        const tiers = Object.fromEntries((await client.tiers.list()).items.map((t) => [t.metadata.name, [t.spec.order, t.spec.defaultAction]]));
        assert.deepEqual(tiers, { default: [1_000_000, 'Deny'], 'kube-admin': [1_000, 'Pass'], 'kube-baseline': [10_000_000, 'Pass'] });
        const again = await client.clusterInformations.get('default');
        await client.ensureInitialized();
        assert.equal((await client.clusterInformations.get('default')).metadata.resourceVersion, again.metadata.resourceVersion, 'no-op when complete');
      });
    });

    describe('WorkloadEndpoint', () => {
      const wep = (name: string, labels: Record<string, string> = {}): WorkloadEndpoint => ({
        kind: 'WorkloadEndpoint',
        apiVersion: 'projectcalico.org/v3',
        metadata: { name, namespace: 'default', labels },
        spec: {
          orchestrator: 'k8s',
          node: 'node-1',
          pod: 'nginx-6799fc88d8-x2vqk',
          endpoint: 'eth0',
          containerID: 'abc123',
          interfaceName: 'caliec0a6415ef1',
          ipNetworks: ['10.30.0.5/32'],
          profiles: ['kns.default'],
        },
      });

      it('computes the name, refuses a mismatching one and forces the Calico labels', async () => {
        await td.addNode('node-1');
        await td.addPod?.('default', 'nginx-6799fc88d8-x2vqk', 'node-1');
        await rejectsUnchanged(client, () => client.workloadEndpoints.create(wep('wrong-name')), ValidationError, 'metadata.name');
        const created = await client.workloadEndpoints.create(wep('', { 'projectcalico.org/namespace': 'spoofed', app: 'web' }));
        assert.equal(created.metadata.name, 'node--1-k8s-nginx--6799fc88d8--x2vqk-eth0');
        assert.equal(created.metadata.labels?.['projectcalico.org/namespace'], 'default');
        assert.equal(created.metadata.labels?.['projectcalico.org/orchestrator'], 'k8s');
        assert.deepEqual(created.spec.ipNetworks, ['10.30.0.5/32']);
        const got = await client.workloadEndpoints.get(created.metadata.name!, { namespace: 'default' });
        assert.deepEqual(got.spec.ipNetworks, ['10.30.0.5/32']);
      });
    });

    describe('Node', () => {
      if (isKube) {
        it('create and delete are refused before anything is written (Kubernetes owns Nodes)', async () => {
          await td.addNode('node-1');
          await rejectsUnchanged(client, () => client.nodes.delete('node-1'), OperationNotSupportedError);
          await rejectsUnchanged(
            client,
            () => client.nodes.create({ kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name: 'node-2' }, spec: {} }),
            OperationNotSupportedError,
          );
          assert.equal((await client.nodes.get('node-1')).spec.bgp?.ipv4Address, '10.10.0.1/24');
        });
        return;
      }

      it('create validates first, then initialises the datastore', async () => {
        await rejectsUnchanged(
          client,
          () => client.nodes.create({ kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name: 'n1' }, spec: { bgp: { ipv4Address: '10.0.0.300/24' } } }),
          ValidationError,
          'spec.bgp.ipv4Address',
        );
        const node = await client.nodes.create({ kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name: 'n1' }, spec: { bgp: { ipv4Address: '10.0.0.11/24' } } });
        assert.deepEqual(node.status, {});
        assert.equal((await client.clusterInformations.list()).items.length, 1);
        assert.equal((await client.tiers.list()).items.length, 3);
      });

      it('delete releases the node\'s addresses and affinities and removes its endpoints, peers and configs', async () => {
        await client.ipPools.create(pool('p', '10.40.0.0/16'));
        await client.nodes.create({ kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name: 'node-1' }, spec: { bgp: { ipv4Address: '10.0.0.11/24' } } });
        await client.nodes.create({ kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name: 'node-2' }, spec: { bgp: { ipv4Address: '10.0.0.12/24' } } });
        const tunnel = await client.ipam.autoAssign({ num4: 1, handleId: 'ipip-tunnel-addr-node-1', hostname: 'node-1', intendedUse: 'Tunnel', attrs: { node: 'node-1', type: 'ipipTunnelAddress' } });
        const tunnelIP = tunnel.ipv4!.ips[0]!.split('/')[0]!;
        const node = await client.nodes.get('node-1');
        await client.nodes.update({ ...node, spec: { ...node.spec, bgp: { ...node.spec.bgp, ipv4IPIPTunnelAddr: tunnelIP } } });
        const podIP = (await client.ipam.autoAssign({ num4: 1, handleId: 'k8s-pod-network.c1', hostname: 'node-1', intendedUse: 'Workload', attrs: { node: 'node-1' } })).ipv4!.ips[0]!.split('/')[0]!;
        const otherIP = (await client.ipam.autoAssign({ num4: 1, handleId: 'k8s-pod-network.c2', hostname: 'node-2', intendedUse: 'Workload', attrs: { node: 'node-2' } })).ipv4!.ips[0]!.split('/')[0]!;
        const wepOn = (node: string, pod: string, ip: string): WorkloadEndpoint => ({
          kind: 'WorkloadEndpoint',
          apiVersion: 'projectcalico.org/v3',
          metadata: { namespace: 'default' },
          spec: { orchestrator: 'k8s', node, pod, endpoint: 'eth0', interfaceName: `cali${pod}`, ipNetworks: [`${ip}/32`] },
        });
        await client.workloadEndpoints.create(wepOn('node-1', 'pod-a', podIP));
        await client.workloadEndpoints.create(wepOn('node-2', 'pod-b', otherIP));
        await client.bgpPeers.create({ kind: 'BGPPeer', apiVersion: 'projectcalico.org/v3', metadata: { name: 'peer-1' }, spec: { node: 'node-1', peerIP: '10.0.0.1', asNumber: 64513 } });
        await client.bgpPeers.create({ kind: 'BGPPeer', apiVersion: 'projectcalico.org/v3', metadata: { name: 'peer-all' }, spec: { peerIP: '10.0.0.2', asNumber: 64513 } });
        await client.felixConfigurations.create({ kind: 'FelixConfiguration', apiVersion: 'projectcalico.org/v3', metadata: { name: 'node.node-1' }, spec: {} });
        await client.bgpConfigurations.create({ kind: 'BGPConfiguration', apiVersion: 'projectcalico.org/v3', metadata: { name: 'node.node-1' }, spec: {} });
        await client.hostEndpoints.create({ kind: 'HostEndpoint', apiVersion: 'projectcalico.org/v3', metadata: { name: 'node-1-eth0' }, spec: { node: 'node-1', interfaceName: 'eth0' } });
        await client.hostEndpoints.create({ kind: 'HostEndpoint', apiVersion: 'projectcalico.org/v3', metadata: { name: 'node-2-eth0' }, spec: { node: 'node-2', interfaceName: 'eth0' } });

        const deleted = await client.nodes.delete('node-1');
        assert.equal(deleted.metadata.name, 'node-1');
        assert.deepEqual([...client.nodes.lastCleanup!.releasedAddresses].sort(), [podIP, tunnelIP].sort());
        await rejects(client.nodes.get('node-1'), ResourceNotFoundError);
        assert.deepEqual((await client.workloadEndpoints.list()).items.map((w) => w.spec.node), ['node-2']);
        assert.deepEqual((await client.bgpPeers.list()).items.map((p) => p.metadata.name), ['peer-all']);
        assert.deepEqual((await client.hostEndpoints.list()).items.map((h) => h.metadata.name), ['node-2-eth0']);
        await rejects(client.felixConfigurations.get('node.node-1'), ResourceNotFoundError);
        await rejects(client.bgpConfigurations.get('node.node-1'), ResourceNotFoundError);
        assert.deepEqual(await client.ipam.ipsByHandle('k8s-pod-network.c1').catch(() => []), []);
        assert.deepEqual(await client.ipam.ipsByHandle('ipip-tunnel-addr-node-1').catch(() => []), []);
        assert.equal((await client.ipam.ipsByHandle('k8s-pod-network.c2')).length, 1, "node-2's address is kept");
        assert.equal((await client.datastore.listKV({ type: 'blockAffinity', host: 'node-1' })).items.length, 0);
        assert.equal((await client.datastore.listKV({ type: 'blockAffinity', host: 'node-2' })).items.length, 1);
        await rejects(client.nodes.delete('node-1'), ResourceNotFoundError);
      });
    });
  });
}
