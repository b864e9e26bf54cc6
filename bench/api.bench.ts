// api: cost of defaulting + validating resources and of loading/dumping calicoctl files.
// No targets are set by the design for these; the rows are informational (ops/s).
import { applyDefaults, collectValidationErrors, dumpManifests, loadManifests, newResource, type Resource } from '@libcalico-ts/api';
import { measureSync, type Bench, type BenchRow } from './lib.js';

const pool = newResource('IPPool', 'default-ipv4-ippool', { cidr: '192.168.0.0/16', ipipMode: 'Always', natOutgoing: true });
const peer = newResource('BGPPeer', 'rack1-tor', { nodeSelector: "rack == 'rack-1'", peerIP: '10.0.0.1:179', asNumber: 64513 });
const policy = newResource(
  'GlobalNetworkPolicy',
  'allow-web',
  {
    selector: "app == 'web' && has(tier)",
    ingress: [{ action: 'Allow', protocol: 'TCP', source: { nets: ['10.0.0.0/8'], selector: "role in {'lb', 'proxy'}" }, destination: { ports: [80, 443] } }],
  },
);

function fileOf(count: number): string {
  const resources: Resource[] = [];
  for (let i = 0; i < count; i++) {
    resources.push(newResource('IPPool', `pool-${i}`, { cidr: `10.${i % 256}.${Math.floor(i / 256)}.0/24`, blockSize: 26 }));
    resources.push(newResource('Node', `node-${i}`, { bgp: { ipv4Address: `172.16.${i % 256}.${1 + (i % 200)}/16` } }));
  }
  return dumpManifests(resources, 'yaml', { list: 'never' });
}

const bench: Bench = async ({ quick, log }) => {
  const minMs = quick ? 150 : 600;
  const rows: BenchRow[] = [];
  for (const [name, resource] of [
    ['IPPool', pool],
    ['BGPPeer', peer],
    ['GlobalNetworkPolicy', policy],
  ] as const) {
    log(`api: applyDefaults + validate ${name}`);
    const { opsPerSec } = measureSync(
      () => {
        if (collectValidationErrors(applyDefaults(resource)).length !== 0) throw new Error(`${name} should be valid`);
      },
      { minMs },
    );
    rows.push({ name: `api: applyDefaults+validate ${name}`, value: Math.round(opsPerSec), unit: 'ops/s' });
  }
  const text = fileOf(quick ? 100 : 500);
  const count = quick ? 200 : 1000;
  log(`api: loadManifests (${count} resources)`);
  const load = measureSync(() => {
    if (loadManifests(text).length !== count) throw new Error('wrong count');
  }, { minMs });
  rows.push({ name: 'api: loadManifests YAML', value: Math.round(load.opsPerSec * count), unit: 'resources/s' });
  const resources = loadManifests(text);
  const dump = measureSync(() => void dumpManifests(resources, 'yaml'), { minMs });
  rows.push({ name: 'api: dumpManifests YAML', value: Math.round(dump.opsPerSec * count), unit: 'resources/s' });
  return rows;
};

export default bench;
