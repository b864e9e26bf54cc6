/**
 * Browser entry of test/browser/pure-packages.test.ts: bundled with esbuild into one script and
 * run in headless Chromium. Uses every pure package (net, selector, api, memory datastore, ipam,
 * routes): allocates tunnel and pod addresses through IPAM and computes node-a's route table.
 * Writes `{ok, ...}` or `{ok: false, error}` as JSON into <pre id="result">.
 */
import { parseCIDR } from '@libcalico-ts/net';
import { parseSelector } from '@libcalico-ts/selector';
import { applyDefaults, type IPPool, type Node } from '@libcalico-ts/api';
import { createMemoryDatastore } from '@libcalico-ts/datastore';
import { createIPAM } from '@libcalico-ts/ipam';
import { computeRoutes, ensureTunnelAddresses, formatIpRoute, formatNeighbor, vtepMAC } from '@libcalico-ts/routes';

async function main(): Promise<Record<string, unknown>> {
  const datastore = createMemoryDatastore();
  const pool = applyDefaults({
    kind: 'IPPool',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'default-ipv4-ippool' },
    spec: { cidr: '10.244.0.0/16', vxlanMode: 'Always' },
  } as IPPool) as IPPool;
  await datastore.createKV({ type: 'resource', kind: 'IPPool', name: 'default-ipv4-ippool' }, pool);
  const ipam = createIPAM(datastore, { maxRetryJitterMs: 0 });
  const nodes: Node[] = [];
  for (const [name, ip] of [
    ['node-a', '192.168.3.125/24'],
    ['node-b', '192.168.3.126/24'],
  ] as const) {
    const node: Node = { kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name, labels: { zone: name } }, spec: { bgp: { ipv4Address: ip } }, status: {} };
    await datastore.createKV({ type: 'resource', kind: 'Node', name }, node);
    const { node: updated } = await ensureTunnelAddresses(ipam, node, [pool], { selectsNode: (s, labels) => parseSelector(s).matches(labels) });
    nodes.push(updated);
  }
  const pod = await ipam.autoAssign({ num4: 1, handleId: 'k8s-pod-network.pod1', attrs: { node: 'node-a' }, hostname: 'node-a', intendedUse: 'Workload' });
  const podIP = pod.ipv4!.ips[0]!;
  const blocks = (await datastore.listKV({ type: 'block' })).items.map((kv) => kv.value);
  const table = computeRoutes('node-a', {
    pools: [pool],
    nodes,
    blocks,
    workloadEndpoints: [
      {
        kind: 'WorkloadEndpoint',
        apiVersion: 'projectcalico.org/v3',
        metadata: { name: 'node--a-k8s-pod1-eth0', namespace: 'default' },
        spec: { node: 'node-a', interfaceName: 'cali573926084b2', ipNetworks: [`${podIP.split('/')[0]}/32`] },
      },
    ],
  });
  return {
    ok: true,
    userAgent: navigator.userAgent,
    podIP,
    podBlock: parseCIDR(podIP).masked().toString(),
    tunnels: nodes.map((n) => [n.metadata.name, n.spec?.ipv4VXLANTunnelAddr]),
    routes: table.routes.map(formatIpRoute),
    neighbors: table.neighbors.map(formatNeighbor),
    macB: vtepMAC('node-b'),
  };
}

main().then(
  (result) => {
    document.getElementById('result')!.textContent = JSON.stringify(result);
  },
  (error: unknown) => {
    document.getElementById('result')!.textContent = JSON.stringify({ ok: false, error: String((error as Error)?.stack ?? error) });
  },
);
