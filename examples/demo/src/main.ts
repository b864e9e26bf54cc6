/**
 * `npm run demo` — the README's main job, on the in-memory datastore (no root, no daemons):
 *
 * 1. a four-node cluster like the one in the seeds (pool 10.244.0.0/16, blocks of /26, IPIP
 *    Always, nodes 192.168.3.141/.144/.145/.146 in AS 64512), tunnel addresses and pods
 *    allocated through `client.ipam` with Calico handle ids, WorkloadEndpoints through the client;
 * 2. `calicoctl get` / `ipam show --show-blocks` output (the example CLI's formatters), a worker's
 *    route table in `ip route` form (@libcalico-ts/routes), a BIRD config excerpt (@libcalico-ts/bgp);
 * 3. a node deleted (`client.nodes.delete`) and its block shown released;
 * 4. the pool switched to VXLAN CrossSubnet and the new routes shown.
 *
 * Run: `npm run demo` (or `node --import tsx --conditions=source examples/demo/src/main.ts`).
 */
import { createHash } from 'node:crypto';
import { workloadEndpointName, type IPPool, type Node, type Resource, type WorkloadEndpoint } from '@libcalico-ts/api';
import { renderBirdConfig } from '@libcalico-ts/bgp';
import { createClient, type Client } from '@libcalico-ts/client';
import { createMemoryDatastore } from '@libcalico-ts/datastore';
import { cliKind, formatIpamShow, formatTabTable, tableRows } from '@libcalico-ts/example-cli';
import { computeRoutes, ensureTunnelAddresses, formatIpRoute, snapshotFromClient } from '@libcalico-ts/routes';

/** The cluster of the seeds (calicoctl node status / ipam show of master1-k8s). */
export const NODES = [
  { name: 'master1-k8s.myk8s.example.com', ip: '192.168.3.141' },
  { name: 'worker1-k8s.myk8s.example.com', ip: '192.168.3.144' },
  { name: 'worker2-k8s.myk8s.example.com', ip: '192.168.3.145' },
  { name: 'worker3-k8s.myk8s.example.com', ip: '192.168.3.146' },
] as const;
export const POOL_NAME = 'default-ipv4-ippool';
export const POOL_CIDR = '10.244.0.0/16';
/** The worker whose routes and BIRD configuration are shown. */
export const SHOWN_NODE = 'worker2-k8s.myk8s.example.com';
/** The node deleted in step 3. */
export const DELETED_NODE = 'worker3-k8s.myk8s.example.com';
/** Host interface of the nodes (as in the seeds). */
const HOST_DEVICE = 'ens192';

const hex = (algorithm: 'sha1' | 'sha256', text: string) => createHash(algorithm).update(text).digest('hex');

/** Deterministic pod names in the style of the seeds (`client-6d96c457bc-bd2p9`). */
function podNames(node: string): string[] {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const suffix = (seed: string) => {
    const digest = hex('sha1', seed);
    let s = '';
    for (let i = 0; i < 5; i++) s += alphabet[parseInt(digest.slice(i * 2, i * 2 + 2), 16) % alphabet.length];
    return s;
  };
  return [`client-6d96c457bc-${suffix(`${node}/a`)}`, `client-6d96c457bc-${suffix(`${node}/b`)}`, `nginx-deployment-66b6c48dd5-${suffix(`${node}/c`)}`];
}

type Print = (text: string) => void;

function heading(print: Print, title: string): void {
  print(`\n${'='.repeat(78)}\n== ${title}\n${'='.repeat(78)}\n`);
}

async function getTable(client: Client, kind: 'IPPool' | 'Node' | 'WorkloadEndpoint', wide: boolean): Promise<string> {
  const k = cliKind(kind)!;
  const items = (await client.resources(kind).list()).items as Resource[];
  return formatTabTable(tableRows(k, items, { wide, printNamespace: false, context: { defaultASNumber: () => '64512' } }));
}

async function routesOf(client: Client, node: string): Promise<string> {
  const snapshot = await snapshotFromClient(client);
  const table = computeRoutes(node, snapshot, { parentDevice: HOST_DEVICE });
  const lines = table.routes.map((r) => formatIpRoute(r));
  for (const w of table.warnings) lines.push(`# warning (${w.code}): ${w.message}`);
  return lines.join('\n') + '\n';
}

/** The `router id`, mesh peers and pool export filter of a node's rendered bird.cfg / bird_ipam.cfg. */
async function birdExcerpt(client: Client, node: string): Promise<string> {
  const resources: Resource[] = [
    ...((await client.nodes.list()).items as Resource[]),
    ...((await client.bgpConfigurations.list()).items as Resource[]),
    ...((await client.ipPools.list()).items as Resource[]),
  ];
  const affinities = (await client.datastore.listKV({ type: 'blockAffinity' })).items.map((kv) => ({ node: kv.key.host, cidr: kv.key.cidr, state: kv.value.state }));
  const files = renderBirdConfig({ nodeName: node, resources, blockAffinities: affinities, dialect: 'calico' });
  const bird = files['bird.cfg'].split('\n');
  const out: string[] = ['# bird.cfg (excerpt)'];
  let inMesh = false;
  for (const line of bird) {
    if (/^router id/.test(line)) out.push(line);
    if (/^protocol bgp Mesh_/.test(line)) inMesh = true;
    if (inMesh) out.push(line);
    if (inMesh && /^}/.test(line)) {
      inMesh = false;
      out.push('');
    }
  }
  out.push('# bird_ipam.cfg (excerpt)');
  const ipam = files['bird_ipam.cfg'].split('\n');
  const start = ipam.findIndex((l) => /^(function|filter) calico_export_to_bgp_peers/.test(l));
  if (start >= 0) {
    const end = ipam.findIndex((l, i) => i > start && /^}/.test(l));
    out.push(...ipam.slice(start, end + 1));
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n') + '\n';
}

/** Builds the cluster and prints every step. Returns the client (for tests). */
export async function runDemo(print: Print = (t) => process.stdout.write(t)): Promise<Client> {
  const client = createClient({ datastore: createMemoryDatastore(), poolDeletionDelayMs: 0 });
  await client.ensureInitialized({ calicoVersion: 'v3.30.0', clusterType: 'k8s,bgp' });

  print('libcalico-ts demo: a four-node Calico cluster on the in-memory datastore\n');
  await client.bgpConfigurations.create({
    apiVersion: 'projectcalico.org/v3',
    kind: 'BGPConfiguration',
    metadata: { name: 'default' },
    spec: { asNumber: 64512, nodeToNodeMeshEnabled: true, logSeverityScreen: 'Info' },
  });
  await client.ipPools.create({
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: POOL_NAME },
    spec: { cidr: POOL_CIDR, blockSize: 26, ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true, nodeSelector: 'all()' },
  });
  for (const n of NODES) {
    await client.nodes.create({
      apiVersion: 'projectcalico.org/v3',
      kind: 'Node',
      metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name } },
      spec: { bgp: { ipv4Address: `${n.ip}/24` }, interfaces: [{ name: HOST_DEVICE, addresses: [`${n.ip}/24`] }] } as Node['spec'],
    });
  }
  await refreshTunnelAddresses(client);

  for (const n of NODES) {
    for (const pod of podNames(n.name)) {
      const containerID = hex('sha256', `${n.name}/${pod}`);
      const handleId = `k8s-pod-network.${containerID}`;
      const { ipv4 } = await client.ipam.autoAssign({
        num4: 1,
        handleId,
        hostname: n.name,
        intendedUse: 'Workload',
        attrs: { node: n.name, namespace: 'default', pod, timestamp: '2026-01-01 00:00:00 +0000 UTC' },
      });
      const ip = ipv4!.ips[0]!.split('/')[0]!;
      const wep: WorkloadEndpoint = {
        apiVersion: 'projectcalico.org/v3',
        kind: 'WorkloadEndpoint',
        metadata: {
          name: workloadEndpointName({ node: n.name, orchestrator: 'k8s', pod, endpoint: 'eth0' }),
          namespace: 'default',
          labels: { 'projectcalico.org/namespace': 'default', 'projectcalico.org/orchestrator': 'k8s' },
        },
        spec: {
          orchestrator: 'k8s',
          node: n.name,
          pod,
          endpoint: 'eth0',
          containerID,
          ipNetworks: [`${ip}/32`],
          interfaceName: `cali${hex('sha1', `default.${pod}`).slice(0, 11)}`,
          profiles: ['kns.default'],
        },
      } as WorkloadEndpoint;
      await client.workloadEndpoints.create(wep);
    }
  }

  heading(print, '1. calicoctl get ippool -o wide');
  print(await getTable(client, 'IPPool', true));
  heading(print, '2. calicoctl get node -o wide');
  print(await getTable(client, 'Node', true));
  heading(print, '3. calicoctl get workloadendpoints');
  print(await getTable(client, 'WorkloadEndpoint', false));
  heading(print, '4. calicoctl ipam show --show-blocks');
  print(formatIpamShow(await client.ipam.getUtilization(), true));
  heading(print, `5. ip route on ${SHOWN_NODE} (IPIP Always)`);
  print(await routesOf(client, SHOWN_NODE));
  heading(print, `6. BIRD configuration of ${SHOWN_NODE} (confd, calico dialect)`);
  print(await birdExcerpt(client, SHOWN_NODE));

  heading(print, `7. calicoctl delete node ${DELETED_NODE}, then ipam show --show-blocks`);
  await client.nodes.delete(DELETED_NODE);
  print(`Successfully deleted 1 'Node' resource(s)\n`);
  print(formatIpamShow(await client.ipam.getUtilization(), true));

  heading(print, `8. Pool switched to VXLAN CrossSubnet; ip route on ${SHOWN_NODE}`);
  const pool = (await client.ipPools.get(POOL_NAME)) as IPPool;
  await client.ipPools.update({ ...pool, spec: { ...pool.spec, ipipMode: 'Never', vxlanMode: 'CrossSubnet' } });
  await refreshTunnelAddresses(client);
  print(await getTable(client, 'IPPool', true));
  print('\n');
  print(await routesOf(client, SHOWN_NODE));
  print('\nDone.\n');
  return client;
}

/** What calico-node does at start-up and on pool changes: make the nodes' tunnel addresses match the pools. */
async function refreshTunnelAddresses(client: Client): Promise<void> {
  const pools = (await client.ipPools.list()).items as IPPool[];
  for (const node of (await client.nodes.list()).items as Node[]) {
    const { node: updated } = await ensureTunnelAddresses(client.ipam, node, pools);
    if (JSON.stringify(updated.spec) !== JSON.stringify(node.spec)) await client.nodes.update(updated);
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  const client = await runDemo();
  await client.close();
}
