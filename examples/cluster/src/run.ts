/**
 * `npm run demo:cluster` (as root): builds a three-node Calico cluster in network namespaces —
 * real etcd, one calico-agent and one BIRD 2 per node, pods wired by the CNI plugin — prints its
 * state (routes per host, BIRD peers, pod-to-pod pings) and tears everything down.
 *
 * Pool: VXLAN CrossSubnet (node1 and node2 share 192.168.10.0/24 and route to each other
 * directly; node3 sits on 192.168.20.0/24 behind a router and is reached through VXLAN). BIRD
 * runs a full mesh across both subnets.
 */
import type { IPPool } from '@libcalico-ts/api';
import { formatBirdPeerTable } from '@libcalico-ts/bgp';
import { readBirdPeersFromSocket } from '@libcalico-ts/bgp/status';
import { Cluster, clusterUnavailableReason, waitUntil, type Pod } from './cluster.js';

const say = (text = '') => process.stdout.write(`${text}\n`);

async function main(): Promise<number> {
  const reason = clusterUnavailableReason();
  if (reason) {
    process.stderr.write(`demo:cluster cannot run here: ${reason}\n`);
    return 1;
  }
  const verbose = process.argv.includes('--verbose');
  say('Building the cluster: fabric namespace (bridges, router, etcd), three hosts...');
  const cluster = await Cluster.create({
    id: `demo${process.pid % 10000}`,
    hosts: [
      { name: 'node1', subnet: 'a' },
      { name: 'node2', subnet: 'a' },
      { name: 'node3', subnet: 'b' },
    ],
    ...(verbose ? { onOutput: (source: string, line: string) => process.stderr.write(`[${source}] ${line}\n`) } : {}),
  });
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write('\ninterrupted: tearing the cluster down...\n');
    void cluster.destroy().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const client = await cluster.client();
    await client.bgpConfigurations.create({ apiVersion: 'projectcalico.org/v3', kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { asNumber: 64512 } } as never);
    await client.ipPools.create({
      apiVersion: 'projectcalico.org/v3',
      kind: 'IPPool',
      metadata: { name: 'default-ipv4-ippool' },
      spec: { cidr: '10.244.0.0/16', vxlanMode: 'CrossSubnet', ipipMode: 'Never', natOutgoing: true, blockSize: 26 },
    } as IPPool);
    say('Starting calico-agent on each host (inside its namespace, etcd over the fabric)...');
    for (const host of cluster.hosts) cluster.startAgent(host.name, { backend: 'bird' });
    for (const host of cluster.hosts) {
      await waitUntil(async () => (await client.nodes.get(host.name).catch(() => undefined))?.spec.ipv4VXLANTunnelAddr, 60_000, `${host.name} tunnel address`);
    }
    say('Starting BIRD 2 on each host on the files its agent wrote...');
    for (const host of cluster.hosts) await cluster.startBird(host.name);
    say('Creating one pod per host...');
    const pods: Pod[] = [];
    for (const [i, host] of cluster.hosts.entries()) pods.push(await cluster.addPod(host.name, `demo-pod-${i + 1}`, client));
    for (const pod of pods) say(`  ${pod.name} on ${pod.host}: ${pod.ip} (${pod.hostInterface}, wired by ${pod.via === 'cni-plugin' ? 'the CNI plugin' : 'the SDK'})`);
    for (const host of cluster.hosts) {
      await waitUntil(
        async () => {
          const table = await cluster.routes(host.name);
          return pods.filter((p) => p.host !== host.name).every((p) => table.includes(`${p.ip.split('.').slice(0, 3).join('.')}.`));
        },
        30_000,
        `${host.name} routes`,
      );
    }
    await waitUntil(async () => (await cluster.birdc('node1', 'show', 'protocols')).split('Established').length - 1 >= 2, 60_000, 'BGP sessions');

    for (const host of cluster.hosts) {
      say(`\n== ${host.name} (${host.cidr}) routes ==`);
      say((await cluster.routes(host.name)).trimEnd());
      say(`-- BIRD peers of ${host.name} --`);
      say(formatBirdPeerTable(await readBirdPeersFromSocket(host.birdSocket, 4)).trimEnd());
    }
    say('\n== pod-to-pod pings ==');
    let failures = 0;
    for (const from of pods) {
      for (const to of pods) {
        if (from === to) continue;
        const ok = await cluster.ping(from, to.ip, 5);
        if (!ok) failures++;
        say(`  ${from.name} (${from.host}) -> ${to.name} (${to.host}) ${to.ip}: ${ok ? 'ok' : 'FAILED'}`);
      }
    }
    say(failures === 0 ? '\nAll pods reach each other.' : `\n${failures} ping(s) failed.`);
    return failures === 0 ? 0 : 1;
  } finally {
    say('Tearing down (agents, BIRD, etcd, namespaces)...');
    await cluster.destroy();
    say('Done: nothing left behind.');
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`demo:cluster failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
